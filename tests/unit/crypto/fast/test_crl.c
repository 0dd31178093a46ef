/*
 * Unit tests for src/crypto/crl.c: CRLs built by crl_build must verify
 * with `openssl crl -CAfile` for each CA key type; carry the CRL number,
 * dates, reason codes and invalidity dates OpenSSL reads back; list entries
 * sorted by serial; make `openssl verify -crl_check` refuse a revoked
 * certificate and pass the others; mark delta CRLs; and refuse bad
 * parameters.
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

/* An entry for serial (big-endian bytes). */
static void
entry_set(struct crl_entry *e, const unsigned char *serial, size_t len,
    int64_t when, int reason, int64_t invalidity)
{
	memset(e, 0, sizeof(*e));
	memcpy(e->serial, serial, len);
	e->serial_len = len;
	e->revoked_when = when;
	e->reason = reason;
	e->invalidity = invalidity;
}

/* How many times needle occurs in s. */
static int
count(const char *s, const char *needle)
{
	int	 n = 0;

	while ((s = strstr(s, needle)) != NULL) {
		n++;
		s++;
	}
	return n;
}

/* Write der as fx_dir/NAME (PEM X509 CRL). */
static void
write_crl(const char *name, const unsigned char *der, size_t len)
{
	char	 path[512];

	snprintf(path, sizeof(path), "%s/%s", fx_dir, name);
	assert_int_equal(fx_write_pem(path, "X509 CRL", der, len), 0);
}

/*
 * A base CRL with entries in no particular order, each reason and an
 * invalidity date, for every CA key type: it verifies, and OpenSSL reads
 * back what went in.
 */
static void
test_base_crl(void **state)
{
	static const enum key_type cas[] = { KEY_EC_P256, KEY_EC_P384,
	    KEY_RSA_2048, KEY_ED25519 };
	static const unsigned char s1[] = { 0x7f, 0x01 };
	static const unsigned char s2[] = { 0x05 };
	static const unsigned char s3[] = { 0x00, 0x80, 0x00 };	/* 32768 */
	struct crl_entry e[3];
	struct crl_params p;
	struct signer	 s;
	const unsigned char *q;
	unsigned char	*der;
	size_t		 len, ci;
	char		 path[512], *text;
	X509_CRL	*x;
	const STACK_OF(X509_REVOKED) *rev;
	struct tm	 tm;
	int64_t		 now = time_now();

	(void)state;
	entry_set(&e[0], s1, sizeof(s1), now - 3600,
	    CRL_REASON_KEY_COMPROMISE, now - 7200);
	entry_set(&e[1], s2, sizeof(s2), now - 60, CRL_REASON_UNSPECIFIED, 0);
	entry_set(&e[2], s3, sizeof(s3), now - 120,
	    CRL_REASON_CERTIFICATE_HOLD, 0);
	memset(&p, 0, sizeof(p));
	p.number = 42;
	p.base_number = -1;
	p.this_update = now;
	p.next_update = now + 86400 * 7;
	p.entries = e;
	p.nentries = 3;

	for (ci = 0; ci < sizeof(cas) / sizeof(cas[0]); ci++) {
		snprintf(path, sizeof(path), "%s/ca.pem", fx_dir);
		assert_int_equal(fx_ca(&s, cas[ci], "CRL CA", path, 0), 0);
		assert_int_equal(crl_build(&s, &p, &der, &len), 0);
		write_crl("base.crl", der, len);
		text = fx_capture("openssl crl -in %s/base.crl -CAfile "
		    "%s/ca.pem -noout -text 2>&1", fx_dir, fx_dir);
		assert_non_null(text);
		if (strstr(text, "verify OK") == NULL)
			fail_msg("CA %s: CRL does not verify:\n%s",
			    key_type_name(cas[ci]), text);
		assert_non_null(strstr(text, "X509v3 CRL Number: \n"
		    "                42"));
		assert_non_null(strstr(text, "Key Compromise"));
		assert_non_null(strstr(text, "Certificate Hold"));
		assert_non_null(strstr(text, "Invalidity Date"));
		assert_non_null(strstr(text,
		    "X509v3 Authority Key Identifier"));
		/* Unspecified is not encoded: only two reason codes. */
		assert_int_equal(count(text, "X509v3 CRL Reason Code"), 2);
		assert_int_equal(count(text, "Invalidity Date"), 1);
		assert_null(strstr(text, "Freshest CRL"));
		free(text);

		q = der;
		x = d2i_X509_CRL(NULL, &q, (long)len);
		assert_non_null(x);
		assert_ptr_equal(q, der + len);
		assert_int_equal(X509_CRL_get_version(x), 1);
		assert_int_equal(ASN1_TIME_to_tm(X509_CRL_get0_lastUpdate(x),
		    &tm), 1);
		assert_int_equal((int64_t)timegm(&tm), p.this_update);
		assert_int_equal(ASN1_TIME_to_tm(X509_CRL_get0_nextUpdate(x),
		    &tm), 1);
		assert_int_equal((int64_t)timegm(&tm), p.next_update);
		rev = X509_CRL_get_REVOKED(x);
		assert_int_equal(sk_X509_REVOKED_num(rev), 3);
		/* Sorted by serial: 5, 0x7f01, 0x8000. */
		assert_int_equal(ASN1_INTEGER_get(X509_REVOKED_get0_serialNumber(
		    sk_X509_REVOKED_value(rev, 0))), 5);
		assert_int_equal(ASN1_INTEGER_get(X509_REVOKED_get0_serialNumber(
		    sk_X509_REVOKED_value(rev, 1))), 0x7f01);
		assert_int_equal(ASN1_INTEGER_get(X509_REVOKED_get0_serialNumber(
		    sk_X509_REVOKED_value(rev, 2))), 0x8000);
		assert_int_equal(ASN1_TIME_to_tm(X509_REVOKED_get0_revocationDate(
		    sk_X509_REVOKED_value(rev, 1)), &tm), 1);
		assert_int_equal((int64_t)timegm(&tm), now - 3600);
		X509_CRL_free(x);
		free(der);
		fx_signer_free(&s);
	}
}

/*
 * A delta CRL carries the critical Delta CRL Indicator with the base's
 * number; with delta CRLs on, a base CRL points to the freshest CRL, one
 * distribution point with every URL of it.
 */
static void
test_delta(void **state)
{
	static const unsigned char s1[] = { 0x11, 0x22 };
	struct crl_entry e;
	struct crl_params p;
	struct signer	 s;
	unsigned char	*der;
	size_t		 len;
	char		 path[512], *text, *u;

	(void)state;
	snprintf(path, sizeof(path), "%s/ca.pem", fx_dir);
	assert_int_equal(fx_ca(&s, KEY_EC_P256, "Delta CA", path, 1), 0);
	entry_set(&e, s1, sizeof(s1), time_now(), CRL_REASON_SUPERSEDED, 0);
	memset(&p, 0, sizeof(p));
	p.number = 8;
	p.base_number = 7;
	p.this_update = time_now();
	p.next_update = p.this_update + 3600;
	p.entries = &e;
	p.nentries = 1;
	assert_int_equal(crl_build(&s, &p, &der, &len), 0);
	write_crl("delta.crl", der, len);
	free(der);
	text = fx_capture("openssl crl -in %s/delta.crl -CAfile %s/ca.pem "
	    "-noout -text 2>&1", fx_dir, fx_dir);
	assert_non_null(text);
	assert_non_null(strstr(text, "verify OK"));
	assert_non_null(strstr(text, "X509v3 Delta CRL Indicator: critical\n"
	    "                7"));
	assert_non_null(strstr(text, "Superseded"));
	assert_null(strstr(text, "Freshest CRL"));
	free(text);

	p.number = 9;
	p.base_number = -1;
	p.nentries = 0;
	assert_int_equal(crl_build(&s, &p, &der, &len), 0);
	write_crl("base.crl", der, len);
	free(der);
	text = fx_capture("openssl crl -in %s/base.crl -CAfile %s/ca.pem "
	    "-noout -text 2>&1", fx_dir, fx_dir);
	assert_non_null(text);
	assert_non_null(strstr(text, "verify OK"));
	assert_non_null(strstr(text, "No Revoked Certificates"));
	assert_non_null(strstr(text, "Freshest CRL"));
	assert_non_null(strstr(text, "URI:http://ca.test/delta.crl"));
	assert_null(strstr(text, "Delta CRL Indicator"));
	free(text);

	/* A profile's own delta URL: another name of the same delta. */
	s.freshest = reallocarray(s.freshest, 2, sizeof(*s.freshest));
	assert_non_null(s.freshest);
	s.freshest[s.nfreshest++] = strdup("http://pki.test/crl/CA+.crl");
	p.number = 10;
	assert_int_equal(crl_build(&s, &p, &der, &len), 0);
	write_crl("base2.crl", der, len);
	free(der);
	text = fx_capture("openssl crl -in %s/base2.crl -CAfile %s/ca.pem "
	    "-noout -text 2>&1", fx_dir, fx_dir);
	assert_non_null(text);
	assert_non_null(strstr(text, "verify OK"));
	/* Consecutive: one fullName, not a second distribution point. */
	u = strstr(text, "URI:http://ca.test/delta.crl\n");
	assert_non_null(u);
	u += strlen("URI:http://ca.test/delta.crl\n");
	u += strspn(u, " ");
	assert_int_equal(strncmp(u, "URI:http://pki.test/crl/CA+.crl\n", 32),
	    0);
	free(text);
	fx_signer_free(&s);
}

/* Issue a certificate with cert_build into fx_dir/NAME.pem; its serial out. */
static void
issue(struct signer *s, const char *name, unsigned char serial[SERIAL_LEN])
{
	struct cert_template t;
	EVP_PKEY	*k = fx_keygen(KEY_EC_P256);
	unsigned char	*spki, *subject, *der;
	size_t		 spki_len, subject_len, der_len;
	char		 path[512], cn[64];

	snprintf(cn, sizeof(cn), "CN=%s", name);
	subject = fx_name(cn, &subject_len);
	spki = fx_spki(k, &spki_len);
	assert_int_equal(fx_template(&t, subject, subject_len, spki, spki_len,
	    PROFILE_TLS_CLIENT), 0);
	memcpy(serial, t.serial, SERIAL_LEN);
	assert_int_equal(cert_build(s, &t, &der, &der_len, NULL), 0);
	snprintf(path, sizeof(path), "%s/%s.pem", fx_dir, name);
	assert_int_equal(fx_write_pem(path, "CERTIFICATE", der, der_len), 0);
	free(der);
	OPENSSL_free(spki);
	OPENSSL_free(subject);
	EVP_PKEY_free(k);
}

/*
 * openssl verify -crl_check with the CRL refuses the revoked certificate
 * and accepts the other; a CRL from another key is not accepted.
 */
static void
test_crl_check(void **state)
{
	unsigned char	 revoked[SERIAL_LEN], good[SERIAL_LEN];
	struct crl_entry e;
	struct crl_params p;
	struct signer	 s, other;
	unsigned char	*der;
	size_t		 len;
	char		 path[512], *out;

	(void)state;
	snprintf(path, sizeof(path), "%s/ca.pem", fx_dir);
	assert_int_equal(fx_ca(&s, KEY_EC_P256, "Check CA", path, 0), 0);
	issue(&s, "revoked", revoked);
	issue(&s, "good", good);
	entry_set(&e, revoked, SERIAL_LEN, time_now() - 10,
	    CRL_REASON_KEY_COMPROMISE, 0);
	memset(&p, 0, sizeof(p));
	p.number = 1;
	p.base_number = -1;
	p.this_update = time_now() - 5;
	p.next_update = p.this_update + 3600;
	p.entries = &e;
	p.nentries = 1;
	assert_int_equal(crl_build(&s, &p, &der, &len), 0);
	write_crl("check.crl", der, len);
	free(der);

	out = fx_capture("openssl verify -crl_check -CAfile %s/ca.pem "
	    "-CRLfile %s/check.crl %s/revoked.pem 2>&1", fx_dir, fx_dir,
	    fx_dir);
	assert_non_null(out);
	assert_non_null(strstr(out, "certificate revoked"));
	free(out);
	assert_int_equal(fx_run("openssl verify -crl_check -CAfile %s/ca.pem "
	    "-CRLfile %s/check.crl %s/good.pem >/dev/null 2>&1",
	    fx_dir, fx_dir, fx_dir), 0);

	/* Signed by another key under the same name: unusable. */
	assert_int_equal(fx_ca(&other, KEY_EC_P256, "Check CA", NULL, 0), 0);
	assert_int_equal(crl_build(&other, &p, &der, &len), 0);
	write_crl("forged.crl", der, len);
	free(der);
	assert_true(fx_run("openssl verify -crl_check -CAfile %s/ca.pem "
	    "-CRLfile %s/forged.crl %s/good.pem >/dev/null 2>&1",
	    fx_dir, fx_dir, fx_dir) != 0);
	fx_signer_free(&other);
	fx_signer_free(&s);
}

/* Many entries: all there, in order, and the CRL verifies. */
static void
test_many(void **state)
{
	enum { N = 20000 };
	struct crl_entry *e = calloc(N, sizeof(*e));
	struct crl_params p;
	struct signer	 s;
	unsigned char	*der, serial[SERIAL_LEN];
	size_t		 len, i;
	char		 path[512], *out;
	const unsigned char *q;
	X509_CRL	*x;
	const STACK_OF(X509_REVOKED) *rev;

	(void)state;
	assert_non_null(e);
	for (i = 0; i < N; i++) {
		assert_int_equal(serial_generate(serial), 0);
		entry_set(&e[i], serial, SERIAL_LEN, time_now() - (int64_t)i,
		    (int)(i % 3) == 0 ? CRL_REASON_KEY_COMPROMISE :
		    CRL_REASON_UNSPECIFIED, 0);
	}
	snprintf(path, sizeof(path), "%s/ca.pem", fx_dir);
	assert_int_equal(fx_ca(&s, KEY_EC_P256, "Many CA", path, 0), 0);
	memset(&p, 0, sizeof(p));
	p.number = 1000;
	p.base_number = -1;
	p.this_update = time_now();
	p.next_update = p.this_update + 3600;
	p.entries = e;
	p.nentries = N;
	assert_int_equal(crl_build(&s, &p, &der, &len), 0);
	write_crl("many.crl", der, len);
	out = fx_capture("openssl crl -in %s/many.crl -CAfile %s/ca.pem "
	    "-noout 2>&1", fx_dir, fx_dir);
	assert_non_null(out);
	assert_non_null(strstr(out, "verify OK"));
	free(out);
	q = der;
	x = d2i_X509_CRL(NULL, &q, (long)len);
	assert_non_null(x);
	rev = X509_CRL_get_REVOKED(x);
	assert_int_equal(sk_X509_REVOKED_num(rev), N);
	for (i = 1; i < N; i++)
		assert_true(ASN1_INTEGER_cmp(X509_REVOKED_get0_serialNumber(
		    sk_X509_REVOKED_value(rev, (int)i - 1)),
		    X509_REVOKED_get0_serialNumber(
		    sk_X509_REVOKED_value(rev, (int)i))) < 0);
	X509_CRL_free(x);
	free(der);
	free(e);
	fx_signer_free(&s);
}

/* Parameters crl_build refuses. */
static void
test_bad_params(void **state)
{
	static const unsigned char s1[] = { 0x01 };
	struct crl_entry e;
	struct crl_params p;
	struct signer	 s;
	unsigned char	*der;
	size_t		 len;

	(void)state;
	assert_int_equal(fx_ca(&s, KEY_EC_P256, "Bad CA", NULL, 0), 0);
	memset(&p, 0, sizeof(p));
	p.number = 1;
	p.base_number = -1;
	p.this_update = time_now();
	p.next_update = p.this_update + 60;
	p.entries = &e;
	p.nentries = 1;

	entry_set(&e, s1, sizeof(s1), time_now(), 7, 0);
	assert_int_equal(crl_build(&s, &p, &der, &len), -1);
	assert_null(der);
	entry_set(&e, s1, sizeof(s1), time_now(), 11, 0);
	assert_int_equal(crl_build(&s, &p, &der, &len), -1);
	entry_set(&e, s1, 0, time_now(), 1, 0);
	assert_int_equal(crl_build(&s, &p, &der, &len), -1);
	entry_set(&e, s1, sizeof(s1), time_now(), 1, 0);
	p.number = -1;
	assert_int_equal(crl_build(&s, &p, &der, &len), -1);
	p.number = 1;
	p.entries = NULL;
	assert_int_equal(crl_build(&s, &p, &der, &len), -1);
	fx_signer_free(&s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_base_crl),
		cmocka_unit_test(test_delta),
		cmocka_unit_test(test_crl_check),
		cmocka_unit_test(test_many),
		cmocka_unit_test(test_bad_params),
	};

	return cmocka_run_group_tests(tests, fx_group_setup, fx_group_teardown);
}
