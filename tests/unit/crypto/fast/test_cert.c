/*
 * Unit tests for src/crypto/cert.c: certificates built by cert_build for
 * every CA key type, subject key type and profile must verify with
 * `openssl verify`, carry the extensions the profile names (read back by
 * OpenSSL), agree with the cert_info cert_build fills and with
 * cert_info_parse; serials are positive and 20 octets; bad templates and
 * bad input are refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include <openssl/x509.h>

#include "crypto/crypto.h"
#include "fixture.h"

/* A template with a fresh serial, valid from now for a year. */
static void
template_init(struct cert_template *t, const unsigned char *subject,
    size_t subject_len, const unsigned char *spki, size_t spki_len,
    enum profile p)
{
	assert_int_equal(fx_template(t, subject, subject_len, spki, spki_len,
	    p), 0);
}

/* Seconds since the epoch of an ASN1_TIME. */
static int64_t
asn1_epoch(const ASN1_TIME *a)
{
	struct tm	 tm;

	assert_int_equal(ASN1_TIME_to_tm(a, &tm), 1);
	return (int64_t)timegm(&tm);
}

/*
 * Compare what cert_build reported with cert_info_parse of the result and
 * with OpenSSL's reading of it.
 */
static void
check_info(const unsigned char *der, size_t len, const struct cert_info *bi,
    const struct cert_template *t)
{
	struct cert_info pi;
	const unsigned char *p = der;
	X509		*x;
	BIGNUM		*bn;
	char		*hex, err[256];
	size_t		 i;

	memset(&pi, 0, sizeof(pi));
	assert_int_equal(cert_info_parse(der, len, &pi, err, sizeof(err)), 0);
	assert_string_equal(bi->serial, pi.serial);
	assert_int_equal(bi->not_before, pi.not_before);
	assert_int_equal(bi->not_after, pi.not_after);
	assert_int_equal(bi->not_before, t->not_before);
	assert_int_equal(bi->not_after, t->not_after);
	assert_string_equal(bi->subject_dn, pi.subject_dn);
	assert_int_equal(bi->subject_len, pi.subject_len);
	assert_memory_equal(bi->subject, pi.subject, pi.subject_len);
	assert_int_equal(bi->issuer_len, pi.issuer_len);
	assert_memory_equal(bi->issuer, pi.issuer, pi.issuer_len);
	assert_string_equal(bi->pk_alg_oid, pi.pk_alg_oid);
	assert_int_equal(bi->pk_bits, pi.pk_bits);
	assert_int_equal(bi->pubkey_len, pi.pubkey_len);
	assert_memory_equal(bi->pubkey, pi.pubkey, pi.pubkey_len);
	assert_int_equal(bi->pk_params_len, pi.pk_params_len);
	assert_string_equal(bi->hash, pi.hash);
	assert_string_equal(bi->ski, pi.ski);
	assert_int_equal(bi->nexts, pi.nexts);
	for (i = 0; i < pi.nexts; i++) {
		assert_string_equal(bi->exts[i].oid, pi.exts[i].oid);
		assert_int_equal(bi->exts[i].critical, pi.exts[i].critical);
		assert_int_equal(bi->exts[i].len, pi.exts[i].len);
		assert_memory_equal(bi->exts[i].value, pi.exts[i].value,
		    pi.exts[i].len);
	}

	x = d2i_X509(NULL, &p, (long)len);
	assert_non_null(x);
	assert_ptr_equal(p, der + len);
	assert_int_equal(X509_get_version(x), 2);
	bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	assert_non_null(bn);
	assert_int_equal(BN_is_negative(bn), 0);
	assert_int_equal(BN_num_bytes(bn), SERIAL_LEN);
	hex = BN_bn2hex(bn);
	fx_hexnorm(hex);
	assert_string_equal(hex, pi.serial);
	OPENSSL_free(hex);
	BN_free(bn);
	assert_int_equal(asn1_epoch(X509_get0_notBefore(x)), t->not_before);
	assert_int_equal(asn1_epoch(X509_get0_notAfter(x)), t->not_after);
	X509_free(x);
	cert_info_free(&pi);
}

/* openssl verify of fx_dir/leaf.pem against fx_dir/ca.pem, with options. */
static int
verify(const char *opts)
{
	return fx_run("openssl verify %s -CAfile %s/ca.pem %s/leaf.pem "
	    ">/dev/null 2>&1", opts, fx_dir, fx_dir);
}

struct profcase {
	enum profile	 profile;
	const char	*purpose;	/* openssl verify -purpose, or "" */
	const char	*want[4];	/* must appear in openssl x509 -text */
};

static const struct profcase profcases[] = {
	{ PROFILE_TLS_SERVER, "-purpose sslserver",
	    { "TLS Web Server Authentication", "CA:FALSE",
	    "Digital Signature", NULL } },
	{ PROFILE_TLS_CLIENT, "-purpose sslclient",
	    { "TLS Web Client Authentication", "CA:FALSE",
	    "Digital Signature", NULL } },
	{ PROFILE_EMAIL, "-purpose smimesign",
	    { "E-mail Protection", "Non Repudiation", "CA:FALSE", NULL } },
	{ PROFILE_CODE_SIGNING, "",
	    { "Code Signing", "CA:FALSE", "Digital Signature", NULL } },
	{ PROFILE_SUB_CA, "",
	    { "CA:TRUE, pathlen:0", "Certificate Sign, CRL Sign", NULL } },
};

/*
 * Every CA key type signs every subject key type, for every profile; the
 * result verifies and has the profile's extensions.
 */
static void
test_matrix(void **state)
{
	static const enum key_type cas[] = { KEY_EC_P256, KEY_EC_P384,
	    KEY_RSA_2048, KEY_ED25519 };
	static const enum key_type leaves[] = { KEY_EC_P256, KEY_RSA_2048,
	    KEY_ED25519 };
	struct san	 sans[2] = {
		{ SAN_DNS, "leaf.example.com", NULL, 0 },
		{ SAN_EMAIL, "leaf@example.com", NULL, 0 },
	};
	struct signer	 s;
	struct cert_template t;
	struct cert_info bi;
	EVP_PKEY	*lk;
	unsigned char	*subject, *spki, *der;
	size_t		 subject_len, spki_len, der_len, ci, li, pi, w;
	char		 path[512], *text;

	(void)state;
	subject = fx_name("CN=leaf.example.com,O=Example", &subject_len);
	assert_non_null(subject);
	snprintf(path, sizeof(path), "%s/ca.pem", fx_dir);
	for (ci = 0; ci < sizeof(cas) / sizeof(cas[0]); ci++) {
		assert_int_equal(fx_ca(&s, cas[ci], "Matrix CA", path, 0), 0);
		for (li = 0; li < sizeof(leaves) / sizeof(leaves[0]); li++) {
			lk = fx_keygen(leaves[li]);
			assert_non_null(lk);
			spki = fx_spki(lk, &spki_len);
			assert_non_null(spki);
			for (pi = 0; pi < sizeof(profcases) /
			    sizeof(profcases[0]); pi++) {
				template_init(&t, subject, subject_len, spki,
				    spki_len, profcases[pi].profile);
				t.sans = sans;
				t.nsans = 2;
				assert_int_equal(cert_build(&s, &t, &der,
				    &der_len, &bi), 0);
				check_info(der, der_len, &bi, &t);
				snprintf(path, sizeof(path), "%s/leaf.pem",
				    fx_dir);
				assert_int_equal(fx_write_pem(path,
				    "CERTIFICATE", der, der_len), 0);
				if (verify(profcases[pi].purpose) != 0)
					fail_msg("ca %s, leaf %s, profile %s: "
					    "openssl verify failed",
					    key_type_name(cas[ci]),
					    key_type_name(leaves[li]),
					    profile_name(profcases[pi].profile));
				text = fx_capture("openssl x509 -noout -text "
				    "-in %s", path);
				assert_non_null(text);
				for (w = 0; profcases[pi].want[w] != NULL; w++)
					if (strstr(text,
					    profcases[pi].want[w]) == NULL)
						fail_msg("profile %s: no \"%s\" "
						    "in:\n%s", profile_name(
						    profcases[pi].profile),
						    profcases[pi].want[w],
						    text);
				assert_int_equal(cert_check_issued_by(&s, der,
				    der_len, NULL, 0), 0);
				free(text);
				free(der);
				cert_info_free(&bi);
			}
			OPENSSL_free(spki);
			EVP_PKEY_free(lk);
		}
		fx_signer_free(&s);
		snprintf(path, sizeof(path), "%s/ca.pem", fx_dir);
	}
	OPENSSL_free(subject);
}

/*
 * The rest of what goes in: SANs of each type, CDP, freshest CRL, AIA,
 * SKI/AKI, RSA's keyEncipherment, and an extra extension.
 */
static void
test_extensions(void **state)
{
	static const unsigned char extra_val[] = { 0x05, 0x00 };	/* NULL */
	static const unsigned char dup_ku[] = { 0x03, 0x02, 0x07, 0x80 };
	struct x509_ext	 extra[2] = {
		{ "1.3.6.1.4.1.311.20.2", 0, (unsigned char *)extra_val, 2 },
		{ "2.5.29.15", 1, (unsigned char *)dup_ku, 4 },
	};
	struct san	 sans[4] = {
		{ SAN_DNS, "a.example.com", NULL, 0 },
		{ SAN_IP, "192.0.2.9", NULL, 0 },
		{ SAN_IP, "2001:db8::7", NULL, 0 },
		{ SAN_URI, "https://a.example.com/", NULL, 0 },
	};
	struct signer	 s;
	struct cert_template t;
	struct cert_info bi;
	EVP_PKEY	*lk;
	unsigned char	*subject, *spki, *der;
	size_t		 subject_len, spki_len, der_len;
	char		 path[512], *text, *caski, *want;
	static const char *const wants[] = {
		"DNS:a.example.com", "IP Address:192.0.2.9",
		"IP Address:2001:DB8:0:0:0:0:0:7", "URI:https://a.example.com/",
		"X509v3 CRL Distribution Points",
		"URI:http://ca.test/ca.crl", "X509v3 Freshest CRL",
		"URI:http://ca.test/delta.crl",
		"CA Issuers - URI:http://ca.test/ca.crt",
		"Key Encipherment", "1.3.6.1.4.1.311.20.2",
	};
	size_t		 i;

	(void)state;
	snprintf(path, sizeof(path), "%s/ca.pem", fx_dir);
	assert_int_equal(fx_ca(&s, KEY_EC_P256, "Ext CA", path, 1), 0);
	subject = fx_name("CN=a.example.com", &subject_len);
	lk = fx_keygen(KEY_RSA_2048);
	spki = fx_spki(lk, &spki_len);
	template_init(&t, subject, subject_len, spki, spki_len,
	    PROFILE_TLS_SERVER);
	t.sans = sans;
	t.nsans = 4;
	t.extra = extra;
	t.nextra = 2;
	assert_int_equal(cert_build(&s, &t, &der, &der_len, &bi), 0);
	check_info(der, der_len, &bi, &t);
	snprintf(path, sizeof(path), "%s/leaf.pem", fx_dir);
	assert_int_equal(fx_write_pem(path, "CERTIFICATE", der, der_len), 0);
	assert_int_equal(verify("-purpose sslserver"), 0);
	text = fx_capture("openssl x509 -noout -text -in %s", path);
	assert_non_null(text);
	for (i = 0; i < sizeof(wants) / sizeof(wants[0]); i++)
		if (strstr(text, wants[i]) == NULL)
			fail_msg("no \"%s\" in:\n%s", wants[i], text);
	/* The extra keyUsage does not replace the profile's. */
	assert_null(strstr(text, "Non Repudiation"));
	/* AKI is the CA's SKI. */
	caski = fx_capture("openssl x509 -noout -ext subjectKeyIdentifier "
	    "-in %s/ca.pem | tail -1", fx_dir);
	assert_non_null(caski);
	fx_hexnorm(caski);
	want = fx_capture("openssl x509 -noout -ext authorityKeyIdentifier "
	    "-in %s | tail -1", path);
	assert_non_null(want);
	fx_hexnorm(want);
	assert_non_null(strstr(want, caski));
	free(want);
	free(caski);
	free(text);
	free(der);
	cert_info_free(&bi);
	OPENSSL_free(spki);
	EVP_PKEY_free(lk);
	OPENSSL_free(subject);
	fx_signer_free(&s);
}

/*
 * An empty subject needs SANs, which are then critical; dates after 2049
 * are GeneralizedTime and still read back.
 */
static void
test_empty_subject_and_far_dates(void **state)
{
	struct san	 san = { SAN_DNS, "nosubject.example.com", NULL, 0 };
	struct signer	 s;
	struct cert_template t;
	struct cert_info bi;
	EVP_PKEY	*lk;
	unsigned char	*spki, *der;
	unsigned char	 empty[2] = { 0x30, 0x00 };
	size_t		 spki_len, der_len;
	char		 path[512], *text;

	(void)state;
	snprintf(path, sizeof(path), "%s/ca.pem", fx_dir);
	assert_int_equal(fx_ca(&s, KEY_EC_P256, "Empty CA", path, 0), 0);
	lk = fx_keygen(KEY_EC_P256);
	spki = fx_spki(lk, &spki_len);
	template_init(&t, empty, 2, spki, spki_len, PROFILE_TLS_CLIENT);
	/* No SAN: refused. */
	assert_int_equal(cert_build(&s, &t, &der, &der_len, NULL), -1);
	assert_null(der);
	t.sans = &san;
	t.nsans = 1;
	t.not_after = 2966000000LL;	/* 2063 */
	assert_int_equal(cert_build(&s, &t, &der, &der_len, &bi), 0);
	check_info(der, der_len, &bi, &t);
	snprintf(path, sizeof(path), "%s/leaf.pem", fx_dir);
	assert_int_equal(fx_write_pem(path, "CERTIFICATE", der, der_len), 0);
	text = fx_capture("openssl x509 -noout -text -in %s", path);
	assert_non_null(text);
	assert_non_null(strstr(text, "X509v3 Subject Alternative Name: "
	    "critical"));
	assert_non_null(strstr(text, "2063 GMT"));
	free(text);
	free(der);
	cert_info_free(&bi);
	OPENSSL_free(spki);
	EVP_PKEY_free(lk);
	fx_signer_free(&s);
}

/* Templates cert_build must refuse. */
static void
test_bad_templates(void **state)
{
	struct signer	 s;
	struct cert_template t;
	EVP_PKEY	*lk;
	unsigned char	*subject, *spki, *der;
	size_t		 subject_len, spki_len, der_len;

	(void)state;
	assert_int_equal(fx_ca(&s, KEY_EC_P256, "Bad CA", NULL, 0), 0);
	subject = fx_name("CN=bad", &subject_len);
	lk = fx_keygen(KEY_EC_P256);
	spki = fx_spki(lk, &spki_len);

	template_init(&t, subject, subject_len, spki, spki_len,
	    PROFILE_TLS_SERVER);
	t.serial[0] |= 0x80;		/* negative */
	assert_int_equal(cert_build(&s, &t, &der, &der_len, NULL), -1);
	memset(t.serial, 0, SERIAL_LEN);	/* zero */
	assert_int_equal(cert_build(&s, &t, &der, &der_len, NULL), -1);

	template_init(&t, subject, subject_len, spki, spki_len,
	    PROFILE_TLS_SERVER);
	t.not_after = t.not_before - 1;
	assert_int_equal(cert_build(&s, &t, &der, &der_len, NULL), -1);

	template_init(&t, subject, subject_len, spki, spki_len - 1,
	    PROFILE_TLS_SERVER);
	assert_int_equal(cert_build(&s, &t, &der, &der_len, NULL), -1);
	template_init(&t, subject, subject_len - 1, spki, spki_len,
	    PROFILE_TLS_SERVER);
	assert_int_equal(cert_build(&s, &t, &der, &der_len, NULL), -1);
	template_init(&t, subject, subject_len, spki, spki_len,
	    PROFILE__MAX);
	assert_int_equal(cert_build(&s, &t, &der, &der_len, NULL), -1);
	assert_null(der);

	OPENSSL_free(spki);
	EVP_PKEY_free(lk);
	OPENSSL_free(subject);
	fx_signer_free(&s);
}

/*
 * Serials: 20 octets, positive, first octet non-zero, all different; the
 * time in front never goes back, so serials sort by issuance, and the
 * time is now's; the 13 octets after it differ every time.
 */
static void
test_serials(void **state)
{
	enum { N = 2000 };
	unsigned char	(*v)[SERIAL_LEN] = calloc(N, SERIAL_LEN);
	uint64_t	 t0 = time_now_ms(), t1, first = 0, last = 0;
	int		 i, j;

	(void)state;
	assert_non_null(v);
	for (i = 0; i < N; i++) {
		assert_int_equal(serial_generate(v[i]), 0);
		assert_true(v[i][0] != 0);
		assert_true((v[i][0] & 0x80) == 0);
		for (j = 0; j < i; j++)
			assert_memory_not_equal(v[i] + 7, v[j] + 7,
			    SERIAL_LEN - 7);
		if (i > 0)
			assert_true(memcmp(v[i], v[i - 1], 7) >= 0);
	}
	/*
	 * The times are the clock's while they were made: compared with the
	 * same clock (time() is the coarse one, a tick behind after a second
	 * starts: comparing with it failed now and then).
	 */
	t1 = time_now_ms();
	for (j = 1; j <= 6; j++) {
		first = first << 8 | v[0][j];
		last = last << 8 | v[N - 1][j];
	}
	assert_true(first >= t0 && last <= t1);
	/* [ca] serials = random: 159 random bits, positive, 20 octets. */
	for (i = 0; i < N; i++) {
		assert_int_equal(serial_generate_random(v[i]), 0);
		assert_true(v[i][0] != 0);
		assert_true((v[i][0] & 0x80) == 0);
		for (j = 0; j < i; j++)
			assert_memory_not_equal(v[i], v[j], 7);
	}
	free(v);
}

/*
 * cert_check_issued_by knows its own certificates and refuses another
 * CA's; cert_info_parse reads PEM, and refuses garbage and every
 * truncation.
 */
static void
test_issued_by_and_parse(void **state)
{
	struct signer	 a, b;
	struct cert_template t;
	struct cert_info ci;
	EVP_PKEY	*lk;
	unsigned char	*subject, *spki, *der;
	size_t		 subject_len, spki_len, der_len, i;
	char		*pem, err[256];

	(void)state;
	assert_int_equal(fx_ca(&a, KEY_EC_P256, "Same Name", NULL, 0), 0);
	assert_int_equal(fx_ca(&b, KEY_EC_P256, "Same Name", NULL, 0), 0);
	subject = fx_name("CN=who", &subject_len);
	lk = fx_keygen(KEY_EC_P256);
	spki = fx_spki(lk, &spki_len);
	template_init(&t, subject, subject_len, spki, spki_len,
	    PROFILE_TLS_CLIENT);
	assert_int_equal(cert_build(&a, &t, &der, &der_len, NULL), 0);
	assert_int_equal(cert_check_issued_by(&a, der, der_len, err,
	    sizeof(err)), 0);
	/* Same issuer name, other key: not ours. */
	err[0] = '\0';
	assert_int_equal(cert_check_issued_by(&b, der, der_len, err,
	    sizeof(err)), -1);
	assert_true(err[0] != '\0');

	pem = pem_encode("CERTIFICATE", der, der_len);
	memset(&ci, 0, sizeof(ci));
	assert_int_equal(cert_info_parse((unsigned char *)pem, strlen(pem),
	    &ci, err, sizeof(err)), 0);
	assert_string_equal(ci.subject_dn, "CN=who");
	cert_info_free(&ci);
	free(pem);

	for (i = 0; i < der_len; i++) {
		memset(&ci, 0, sizeof(ci));
		err[0] = '\0';
		assert_int_equal(cert_info_parse(der, i, &ci, err,
		    sizeof(err)), -1);
		assert_true(err[0] != '\0');
		assert_int_equal(cert_check_issued_by(&a, der, i, NULL, 0),
		    -1);
	}
	assert_int_equal(cert_info_parse((const unsigned char *)"junk", 4,
	    &ci, err, sizeof(err)), -1);

	free(der);
	OPENSSL_free(spki);
	EVP_PKEY_free(lk);
	OPENSSL_free(subject);
	fx_signer_free(&a);
	fx_signer_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_matrix),
		cmocka_unit_test(test_extensions),
		cmocka_unit_test(test_empty_subject_and_far_dates),
		cmocka_unit_test(test_bad_templates),
		cmocka_unit_test(test_serials),
		cmocka_unit_test(test_issued_by_and_parse),
	};

	return cmocka_run_group_tests(tests, fx_group_setup, fx_group_teardown);
}
