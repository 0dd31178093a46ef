/*
 * Unit tests for the CA's key material and helpers: key.c (generate,
 * write with mode 0600 and never over an existing key, load, self-signed
 * root, subordinate CSR, installing the parent's answer), signer.c
 * (signer_load from a config, and what it refuses), pem.c and reason.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include <openssl/x509.h>

#include "crypto/crypto.h"
#include "fixture.h"

static char *
path_of(const char *name)
{
	static char	 p[4][512];
	static int	 i;

	i = (i + 1) % 4;
	snprintf(p[i], sizeof(p[i]), "%s/%s", fx_dir, name);
	return p[i];
}

/*
 * Every key type: generated, written 0600, never overwritten, loaded back
 * as the same key and type.
 */
static void
test_key_roundtrip(void **state)
{
	static const enum key_type types[] = { KEY_EC_P256, KEY_EC_P384,
	    KEY_RSA_2048, KEY_ED25519 };
	EVP_PKEY	*k, *l, *other;
	struct stat	 st;
	char		 err[256], name[32];
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		snprintf(name, sizeof(name), "k%zu.pem", i);
		assert_int_equal(key_generate(types[i], &k, err, sizeof(err)),
		    0);
		assert_int_equal(key_type_of(k), types[i]);
		assert_int_equal(key_write(path_of(name), k, err, sizeof(err)),
		    0);
		assert_int_equal(stat(path_of(name), &st), 0);
		assert_int_equal(st.st_mode & 0777, 0600);
		assert_int_equal(key_load(path_of(name), &l, err, sizeof(err)),
		    0);
		assert_int_equal(EVP_PKEY_eq(k, l), 1);
		assert_int_equal(key_type_of(l), types[i]);
		EVP_PKEY_free(l);

		/* A second key is not written over the first. */
		assert_int_equal(key_generate(types[i], &other, err,
		    sizeof(err)), 0);
		err[0] = '\0';
		assert_int_equal(key_write(path_of(name), other, err,
		    sizeof(err)), -1);
		assert_non_null(strstr(err, "not overwriting"));
		assert_int_equal(key_load(path_of(name), &l, err, sizeof(err)),
		    0);
		assert_int_equal(EVP_PKEY_eq(k, l), 1);
		EVP_PKEY_free(l);
		EVP_PKEY_free(other);
		EVP_PKEY_free(k);
	}
	assert_int_equal(key_generate(KEY__MAX, &k, err, sizeof(err)), -1);
}

/* Missing, garbage and unsupported key files are refused with a message. */
static void
test_key_load_bad(void **state)
{
	EVP_PKEY	*k;
	char		 err[256];

	(void)state;
	err[0] = '\0';
	assert_int_equal(key_load(path_of("missing.pem"), &k, err,
	    sizeof(err)), -1);
	assert_null(k);
	assert_non_null(strstr(err, "missing.pem"));
	assert_int_equal(fx_write(path_of("junk.pem"), "junk\n", 5), 0);
	err[0] = '\0';
	assert_int_equal(key_load(path_of("junk.pem"), &k, err, sizeof(err)),
	    -1);
	assert_true(err[0] != '\0');
	assert_int_equal(fx_run("openssl genpkey -algorithm EC -pkeyopt "
	    "ec_paramgen_curve:secp256k1 -out %s 2>/dev/null",
	    path_of("k1.pem")), 0);
	err[0] = '\0';
	assert_int_equal(key_load(path_of("k1.pem"), &k, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "unsupported"));
}

/*
 * A self-signed root for each key type verifies against itself and is a
 * CA; bad subjects are refused.
 */
static void
test_selfsign(void **state)
{
	static const struct {
		enum key_type	 type;
		const char	*hash;
		const char	*sigalg;
	} cases[] = {
		{ KEY_EC_P256, "sha256", "ecdsa-with-SHA256" },
		{ KEY_EC_P384, "sha384", "ecdsa-with-SHA384" },
		{ KEY_RSA_2048, "sha512", "sha512WithRSAEncryption" },
		{ KEY_ED25519, "sha256", "ED25519" },
	};
	EVP_PKEY	*k;
	unsigned char	*der;
	size_t		 len, i;
	char		 err[256], *text;
	struct cert_info ci;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(key_generate(cases[i].type, &k, err,
		    sizeof(err)), 0);
		assert_int_equal(ca_selfsign(k, "CN=Root CA,O=Example,C=NL",
		    3650, cases[i].hash, &der, &len, err, sizeof(err)), 0);
		assert_int_equal(fx_write_pem(path_of("root.pem"),
		    "CERTIFICATE", der, len), 0);
		assert_int_equal(fx_run("openssl verify -x509_strict -CAfile %s"
		    " %s >/dev/null 2>&1", path_of("root.pem"),
		    path_of("root.pem")), 0);
		text = fx_capture("openssl x509 -noout -text -in %s",
		    path_of("root.pem"));
		assert_non_null(text);
		assert_non_null(strstr(text, "CA:TRUE"));
		assert_non_null(strstr(text, "Certificate Sign, CRL Sign"));
		assert_non_null(strstr(text, cases[i].sigalg));
		free(text);
		memset(&ci, 0, sizeof(ci));
		assert_int_equal(cert_info_parse(der, len, &ci, err,
		    sizeof(err)), 0);
		/* As given: RFC 4514 order, in and out (C= first in the DER). */
		assert_string_equal(ci.subject_dn, "CN=Root CA,O=Example,C=NL");
		assert_true(ci.not_after - ci.not_before >= 3650L * 86400);
		cert_info_free(&ci);
		free(der);
		EVP_PKEY_free(k);
	}
	assert_int_equal(key_generate(KEY_EC_P256, &k, err, sizeof(err)), 0);
	err[0] = '\0';
	assert_int_equal(ca_selfsign(k, "NoEquals", 10, "sha256", &der, &len,
	    err, sizeof(err)), -1);
	assert_true(err[0] != '\0');
	assert_int_equal(ca_selfsign(k, "XYZ=unknown", 10, "sha256", &der,
	    &len, err, sizeof(err)), -1);
	EVP_PKEY_free(k);
}

/*
 * Subordinate CA: the CSR parses and asks for CA:TRUE; the parent's answer
 * installs with its chain; a certificate for another key, an end-entity
 * certificate and a missing chain are refused.
 */
static void
test_subordinate(void **state)
{
	EVP_PKEY	*k, *other;
	unsigned char	*der, *ans, *chain, *cert;
	size_t		 len, alen, clen, certlen, i;
	char		 err[256], *chain_pem;
	struct csr	 c;
	int		 ca_ext = 0;

	(void)state;
	/* The parent: an openssl root. */
	assert_int_equal(fx_run("cd %s && openssl req -x509 -newkey ec "
	    "-pkeyopt ec_paramgen_curve:P-256 -nodes -keyout parent.key "
	    "-out parent.pem -subj '/CN=Parent Root' -days 30 "
	    "-addext basicConstraints=critical,CA:TRUE "
	    "-addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null",
	    fx_dir), 0);
	assert_int_equal(key_generate(KEY_EC_P256, &k, err, sizeof(err)), 0);
	assert_int_equal(ca_make_csr(k, "CN=Issuing CA", "sha256", &der, &len,
	    err, sizeof(err)), 0);
	memset(&c, 0, sizeof(c));
	assert_int_equal(csr_parse(der, len, &c, err, sizeof(err)), 0);
	assert_string_equal(c.subject_dn, "CN=Issuing CA");
	for (i = 0; i < c.nexts; i++)
		if (strcmp(c.exts[i].oid, "2.5.29.19") == 0)
			ca_ext = 1;
	assert_true(ca_ext);
	csr_free(&c);
	assert_int_equal(fx_write_pem(path_of("sub.csr"),
	    "CERTIFICATE REQUEST", der, len), 0);
	free(der);

	/* The parent signs it as a CA. */
	{
		static const char ext[] =
		    "basicConstraints=critical,CA:TRUE,pathlen:0\n"
		    "keyUsage=critical,keyCertSign,cRLSign\n";

		assert_int_equal(fx_write(path_of("ext.cnf"), ext,
		    sizeof(ext) - 1), 0);
	}
	assert_int_equal(fx_run("cd %s && openssl x509 -req -in sub.csr "
	    "-CA parent.pem -CAkey parent.key -CAcreateserial -days 10 "
	    "-extfile ext.cnf -out sub.pem 2>/dev/null", fx_dir), 0);
	ans = fx_read(path_of("sub.pem"), &alen);
	chain = fx_read(path_of("parent.pem"), &clen);
	assert_non_null(ans);
	assert_non_null(chain);
	assert_int_equal(ca_check_install(k, ans, alen, chain, clen, &cert,
	    &certlen, &chain_pem, err, sizeof(err)), 0);
	assert_non_null(strstr(chain_pem, "BEGIN CERTIFICATE"));
	free(cert);
	free(chain_pem);

	/* Without the chain: the answer does not lead to a root. */
	err[0] = '\0';
	assert_int_equal(ca_check_install(k, ans, alen, NULL, 0, &cert,
	    &certlen, &chain_pem, err, sizeof(err)), -1);
	assert_true(err[0] != '\0');

	/* For another key. */
	assert_int_equal(key_generate(KEY_EC_P256, &other, err, sizeof(err)),
	    0);
	err[0] = '\0';
	assert_int_equal(ca_check_install(other, ans, alen, chain, clen, &cert,
	    &certlen, &chain_pem, err, sizeof(err)), -1);
	assert_true(err[0] != '\0');
	EVP_PKEY_free(other);
	free(ans);

	/* Signed, but not as a CA. */
	assert_int_equal(fx_run("cd %s && openssl x509 -req -in sub.csr "
	    "-CA parent.pem -CAkey parent.key -CAcreateserial -days 10 "
	    "-out ee.pem 2>/dev/null", fx_dir), 0);
	ans = fx_read(path_of("ee.pem"), &alen);
	err[0] = '\0';
	assert_int_equal(ca_check_install(k, ans, alen, chain, clen, &cert,
	    &certlen, &chain_pem, err, sizeof(err)), -1);
	assert_true(err[0] != '\0');
	free(ans);
	free(chain);
	EVP_PKEY_free(k);
}

/* A config with the CA's files under fx_dir. */
static void
config_for(struct cm_config *cfg, const char *key, const char *cert,
    const char *chain, const char *hash, int delta)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->key_file = path_of(key);
	cfg->cert_file = path_of(cert);
	cfg->chain_file = chain != NULL ? path_of(chain) : NULL;
	cfg->hash = (char *)hash;
	cfg->cdp_url = "http://ca.example/ca.crl";
	cfg->aia_url = "http://ca.example/ca.pem";
	cfg->delta_url = "http://ca.example/delta.crl";
	cfg->delta_enabled = delta;
}

/*
 * signer_load reads the key, certificate and chain named by the config,
 * and signs certificates that verify; it refuses a certificate for another
 * key, an unknown hash and missing files.
 */
static void
test_signer_load(void **state)
{
	struct cm_config cfg;
	struct cm_profile prof[5];
	struct signer	 s;
	EVP_PKEY	*k, *other;
	unsigned char	*der;
	size_t		 len;
	char		 err[256];

	(void)state;
	assert_int_equal(key_generate(KEY_EC_P384, &k, err, sizeof(err)), 0);
	assert_int_equal(key_write(path_of("ca.key"), k, err, sizeof(err)), 0);
	assert_int_equal(ca_selfsign(k, "CN=Signer CA", 30, "sha384", &der,
	    &len, err, sizeof(err)), 0);
	assert_int_equal(fx_write(path_of("ca.der"), der, len), 0);
	assert_int_equal(fx_write(path_of("chain.pem"), "", 0), 0);

	config_for(&cfg, "ca.key", "ca.der", "chain.pem", "sha384", 1);
	assert_int_equal(signer_load(&s, &cfg, err, sizeof(err)), 0);
	assert_int_equal(s.key_type, KEY_EC_P384);
	assert_int_equal(s.cert_der_len, len);
	assert_memory_equal(s.cert_der, der, len);
	assert_non_null(strstr(s.chain_pem, "BEGIN CERTIFICATE"));
	assert_string_equal(s.cdp_url, "http://ca.example/ca.crl");
	assert_string_equal(s.delta_url, "http://ca.example/delta.crl");
	assert_int_equal(s.ski_len, 20);
	assert_int_equal(cert_check_issued_by(&s, der, len, err, sizeof(err)),
	    0);
	signer_free(&s);

	/*
	 * A base CRL names every delta URL certificates get: the CA's,
	 * then a profile's own (its %8 for this key), once each; a profile
	 * without one adds none.
	 */
	memset(prof, 0, sizeof(prof));
	prof[0].delta_url = "http://pki.example/crl/CA%8+.crl";
	prof[1].delta_url = "http://ca.example/delta.crl";
	prof[2].delta_url = "";
	prof[3].delta_url = "http://pki.example/crl/CA%8+.crl";
	config_for(&cfg, "ca.key", "ca.der", NULL, "sha384", 1);
	cfg.profile_list = prof;
	cfg.nprofiles = 5;
	assert_int_equal(signer_load(&s, &cfg, err, sizeof(err)), 0);
	assert_int_equal(s.nfreshest, 2);
	assert_string_equal(s.freshest[0], "http://ca.example/delta.crl");
	assert_string_equal(s.freshest[1], "http://pki.example/crl/CA+.crl");
	signer_free(&s);

	config_for(&cfg, "ca.key", "ca.der", NULL, "sha384", 0);
	cfg.profile_list = prof;
	cfg.nprofiles = 5;
	assert_int_equal(signer_load(&s, &cfg, err, sizeof(err)), 0);
	assert_null(s.delta_url);
	assert_int_equal(s.nfreshest, 0);
	signer_free(&s);

	err[0] = '\0';
	config_for(&cfg, "ca.key", "ca.der", NULL, "md17", 0);
	assert_int_equal(signer_load(&s, &cfg, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "md17"));

	assert_int_equal(key_generate(KEY_EC_P384, &other, err, sizeof(err)),
	    0);
	assert_int_equal(key_write(path_of("other.key"), other, err,
	    sizeof(err)), 0);
	err[0] = '\0';
	config_for(&cfg, "other.key", "ca.der", NULL, "sha384", 0);
	assert_int_equal(signer_load(&s, &cfg, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not for the key"));

	err[0] = '\0';
	config_for(&cfg, "ca.key", "nothere.pem", NULL, "sha384", 0);
	assert_int_equal(signer_load(&s, &cfg, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "nothere.pem"));

	assert_int_equal(fx_write(path_of("junk.pem"), "junk", 4), 0);
	err[0] = '\0';
	config_for(&cfg, "ca.key", "junk.pem", NULL, "sha384", 0);
	assert_int_equal(signer_load(&s, &cfg, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a certificate"));

	EVP_PKEY_free(other);
	EVP_PKEY_free(k);
	free(der);
}

/*
 * A loaded signer of each key type (its signing context prepared once and
 * copied per signature) signs many certificates that all verify.
 */
static void
test_signer_signs(void **state)
{
	static const struct {
		enum key_type	 t;
		const char	*hash;
	} cases[] = { { KEY_EC_P256, "sha256" }, { KEY_EC_P384, "sha384" },
	    { KEY_RSA_2048, "sha256" }, { KEY_ED25519, "sha256" } };
	struct cm_config cfg;
	struct cert_template t;
	struct signer	 s;
	EVP_PKEY	*k, *leaf;
	unsigned char	*der, *ca, *spki, *subject;
	size_t		 len, calen, spki_len, subject_len, i;
	char		 err[256], keyname[32], certname[32];
	int		 n;

	(void)state;
	leaf = fx_keygen(KEY_EC_P256);
	spki = fx_spki(leaf, &spki_len);
	subject = fx_name("CN=leaf", &subject_len);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(keyname, sizeof(keyname), "s%zu.key", i);
		snprintf(certname, sizeof(certname), "s%zu.pem", i);
		assert_int_equal(key_generate(cases[i].t, &k, err, sizeof(err)),
		    0);
		assert_int_equal(key_write(path_of(keyname), k, err,
		    sizeof(err)), 0);
		assert_int_equal(ca_selfsign(k, "CN=Prepared CA", 30,
		    cases[i].hash, &ca, &calen, err, sizeof(err)), 0);
		assert_int_equal(fx_write_pem(path_of(certname), "CERTIFICATE",
		    ca, calen), 0);
		config_for(&cfg, keyname, certname, NULL, cases[i].hash, 0);
		assert_int_equal(signer_load(&s, &cfg, err, sizeof(err)), 0);
		if (cases[i].t != KEY_ED25519)
			assert_non_null(s.sign_tmpl);
		for (n = 0; n < 20; n++) {
			assert_int_equal(fx_template(&t, subject, subject_len,
			    spki, spki_len, PROFILE_TLS_CLIENT), 0);
			assert_int_equal(cert_build(&s, &t, &der, &len, NULL),
			    0);
			assert_int_equal(cert_check_issued_by(&s, der, len,
			    err, sizeof(err)), 0);
			if (n == 19) {
				assert_int_equal(fx_write_pem(path_of(
				    "leaf.pem"), "CERTIFICATE", der, len), 0);
				assert_int_equal(fx_run("openssl verify "
				    "-CAfile %s %s >/dev/null 2>&1",
				    path_of(certname), path_of("leaf.pem")), 0);
			}
			free(der);
		}
		signer_free(&s);
		free(ca);
		EVP_PKEY_free(k);
	}
	OPENSSL_free(subject);
	OPENSSL_free(spki);
	EVP_PKEY_free(leaf);
}

/* pem_encode and pem_or_der agree with each other and with openssl. */
static void
test_pem(void **state)
{
	unsigned char	 der[300], *out;
	size_t		 outlen, i;
	char		*pem, *two;

	(void)state;
	for (i = 0; i < sizeof(der); i++)
		der[i] = (unsigned char)(i * 7);
	der[0] = 0x30;
	pem = pem_encode("CERTIFICATE", der, sizeof(der));
	assert_non_null(pem);
	assert_true(strncmp(pem, "-----BEGIN CERTIFICATE-----\n", 28) == 0);
	assert_non_null(strstr(pem, "-----END CERTIFICATE-----\n"));
	/* 64-column lines, as openssl writes them. */
	{
		size_t	 n = 28;

		while (pem[n] != '\0' && pem[n] != '\n')
			n++;
		assert_int_equal(n - 28, 64);
	}
	assert_int_equal(pem_or_der((unsigned char *)pem, strlen(pem),
	    "CERTIFICATE", &out, &outlen), 0);
	assert_int_equal(outlen, sizeof(der));
	assert_memory_equal(out, der, sizeof(der));
	free(out);

	/* The first block with the label wins; other labels are skipped. */
	assert_true(asprintf(&two, "junk before\n-----BEGIN X509 CRL-----\n"
	    "AAAA\n-----END X509 CRL-----\n%s", pem) > 0);
	assert_int_equal(pem_or_der((unsigned char *)two, strlen(two),
	    "CERTIFICATE", &out, &outlen), 0);
	assert_int_equal(outlen, sizeof(der));
	free(out);
	free(two);
	assert_int_equal(pem_or_der((unsigned char *)pem, strlen(pem),
	    "X509 CRL", &out, &outlen), -1);

	/* DER passes through. */
	assert_int_equal(pem_or_der(der, sizeof(der), "CERTIFICATE", &out,
	    &outlen), 0);
	assert_int_equal(outlen, sizeof(der));
	free(out);
	/* Truncated PEM. */
	assert_int_equal(pem_or_der((unsigned char *)pem, 40, "CERTIFICATE",
	    &out, &outlen), -1);
	assert_int_equal(pem_or_der((const unsigned char *)"hello", 5,
	    "CERTIFICATE", &out, &outlen), -1);
	free(pem);

	/* openssl reads what pem_encode writes. */
	assert_int_equal(fx_run("openssl req -new -newkey ec -pkeyopt "
	    "ec_paramgen_curve:P-256 -nodes -keyout %s -subj /CN=p -outform "
	    "DER -out %s 2>/dev/null", path_of("p.key"), path_of("p.der")), 0);
	out = fx_read(path_of("p.der"), &outlen);
	pem = pem_encode("CERTIFICATE REQUEST", out, outlen);
	assert_int_equal(fx_write(path_of("p.pem"), pem, strlen(pem)), 0);
	assert_int_equal(fx_run("openssl req -in %s -noout -verify "
	    ">/dev/null 2>&1", path_of("p.pem")), 0);
	free(pem);
	free(out);
}

/* RFC 5280 reason codes by name (any case) and number; 7 does not exist. */
static void
test_reasons(void **state)
{
	static const char *const names[] = { "unspecified", "keyCompromise",
	    "cACompromise", "affiliationChanged", "superseded",
	    "cessationOfOperation", "certificateHold", NULL, "removeFromCRL",
	    "privilegeWithdrawn", "aACompromise" };
	char	 num[8];
	int	 i;

	(void)state;
	for (i = 0; i <= 10; i++) {
		snprintf(num, sizeof(num), "%d", i);
		if (names[i] == NULL) {
			assert_int_equal(crl_reason_parse(num), -1);
			assert_string_equal(crl_reason_name(i), "unknown");
			continue;
		}
		assert_string_equal(crl_reason_name(i), names[i]);
		assert_int_equal(crl_reason_parse(names[i]), i);
		assert_int_equal(crl_reason_parse(num), i);
	}
	assert_int_equal(crl_reason_parse("KEYCOMPROMISE"), 1);
	assert_int_equal(crl_reason_parse("certificatehold"), 6);
	assert_int_equal(crl_reason_parse("11"), -1);
	assert_int_equal(crl_reason_parse("-1"), -1);
	assert_int_equal(crl_reason_parse("key"), -1);
	assert_int_equal(crl_reason_parse(""), -1);
	assert_int_equal(crl_reason_parse(NULL), -1);
	assert_string_equal(crl_reason_name(-3), "unknown");
	assert_string_equal(crl_reason_name(99), "unknown");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_roundtrip),
		cmocka_unit_test(test_key_load_bad),
		cmocka_unit_test(test_selfsign),
		cmocka_unit_test(test_subordinate),
		cmocka_unit_test(test_signer_load),
		cmocka_unit_test(test_signer_signs),
		cmocka_unit_test(test_pem),
		cmocka_unit_test(test_reasons),
	};

	return cmocka_run_group_tests(tests, fx_group_setup, fx_group_teardown);
}
