/*
 * Unit tests for src/crypto/csr.c: csr_parse on requests made by the
 * openssl command line for every key type certmint issues for (PEM, "NEW
 * CERTIFICATE REQUEST" PEM and DER), with SANs and extensions; keys it does
 * not issue for; and broken input: bad signatures, every truncation, byte
 * flips, garbage, trailing data. Each answer is checked against what
 * openssl itself reads from the same request.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>

#include "crypto/crypto.h"
#include "crypto/der.h"
#include "fixture.h"

/* After crypto.h: x509v3.h defines CRL_REASON_* as macros. */
#include <openssl/x509v3.h>

static unsigned char *
read_file(const char *name, const char *ext, size_t *len)
{
	char	 path[512];

	snprintf(path, sizeof(path), "%s/%s%s", fx_dir, name, ext);
	return fx_read(path, len);
}

/*
 * Make fx_dir/NAME.csr (PEM) and fx_dir/NAME.der with openssl req; newkey
 * is the -newkey argument, extra more options. Returns the DER, malloc'd.
 */
static unsigned char *
make_csr(const char *name, const char *newkey, const char *extra, size_t *len)
{
	unsigned char	*der;

	assert_int_equal(fx_run("openssl req -new -newkey %s -nodes "
	    "-keyout %s/%s.key -out %s/%s.csr %s 2>/dev/null && "
	    "openssl req -in %s/%s.csr -outform DER -out %s/%s.der",
	    newkey, fx_dir, name, fx_dir, name, extra, fx_dir, name, fx_dir,
	    name), 0);
	der = read_file(name, ".der", len);
	assert_non_null(der);
	return der;
}

/*
 * The SubjectPublicKeyInfo openssl extracts from the request, as DER.
 */
static unsigned char *
openssl_spki(const char *name, size_t *len)
{
	char	 path[512];

	assert_int_equal(fx_run("openssl req -in %s/%s.csr -pubkey -noout | "
	    "openssl pkey -pubin -outform DER -out %s/%s.spki",
	    fx_dir, name, fx_dir, name), 0);
	snprintf(path, sizeof(path), "%s/%s.spki", fx_dir, name);
	return fx_read(path, len);
}

struct keycase {
	const char	*newkey;
	enum key_type	 type;
	int		 bits;
};

static const struct keycase keycases[] = {
	{ "ec -pkeyopt ec_paramgen_curve:P-256", KEY_EC_P256, 256 },
	{ "ec -pkeyopt ec_paramgen_curve:P-384", KEY_EC_P384, 384 },
	{ "rsa:2048", KEY_RSA_2048, 2048 },
	{ "rsa:3072", KEY_RSA_3072, 3072 },
	{ "ed25519", KEY_ED25519, 256 },
};

/* Every supported key type, as PEM and as DER: same answer as openssl. */
static void
test_key_types(void **state)
{
	struct csr	 c;
	unsigned char	*der, *pem, *spki;
	size_t		 dlen, plen, slen, i;
	char		 err[256], name[32];

	(void)state;
	for (i = 0; i < sizeof(keycases) / sizeof(keycases[0]); i++) {
		snprintf(name, sizeof(name), "k%zu", i);
		der = make_csr(name, keycases[i].newkey,
		    "-subj '/CN=host.example.com/O=Example Ltd/C=DE'", &dlen);
		pem = read_file(name, ".csr", &plen);
		spki = openssl_spki(name, &slen);
		assert_non_null(pem);
		assert_non_null(spki);

		memset(&c, 0, sizeof(c));
		err[0] = '\0';
		assert_int_equal(csr_parse(pem, plen, &c, err, sizeof(err)), 0);
		assert_int_equal(c.key_type, keycases[i].type);
		assert_int_equal(c.key_bits, keycases[i].bits);
		assert_string_equal(c.subject_dn,
		    "C=DE,O=Example Ltd,CN=host.example.com");
		assert_int_equal(c.spki_len, slen);
		assert_memory_equal(c.spki, spki, slen);
		assert_int_equal(c.der_len, dlen);
		assert_memory_equal(c.der, der, dlen);
		assert_int_equal(c.nsans, 0);
		csr_free(&c);

		memset(&c, 0, sizeof(c));
		assert_int_equal(csr_parse(der, dlen, &c, err, sizeof(err)), 0);
		assert_int_equal(c.key_type, keycases[i].type);
		assert_int_equal(c.spki_len, slen);
		assert_memory_equal(c.spki, spki, slen);
		csr_free(&c);
		free(der);
		free(pem);
		free(spki);
	}
}

/* SANs of every type and other extensions come out of extensionRequest. */
static void
test_sans_and_extensions(void **state)
{
	struct csr	 c;
	unsigned char	*der;
	size_t		 len, i;
	char		 err[256];
	int		 seen_ku = 0, seen_san = 0;

	(void)state;
	der = make_csr("san", "ec -pkeyopt ec_paramgen_curve:P-256",
	    "-subj /CN=san.example.com "
	    "-addext 'subjectAltName=DNS:san.example.com,DNS:www.example.com,"
	    "IP:192.0.2.7,IP:2001:db8::1,email:ops@example.com,"
	    "URI:https://example.com/x' "
	    "-addext 'keyUsage=critical,digitalSignature'", &len);
	memset(&c, 0, sizeof(c));
	assert_int_equal(csr_parse(der, len, &c, err, sizeof(err)), 0);
	assert_int_equal(c.nsans, 6);
	assert_int_equal(c.sans[0].type, SAN_DNS);
	assert_string_equal(c.sans[0].value, "san.example.com");
	assert_int_equal(c.sans[1].type, SAN_DNS);
	assert_string_equal(c.sans[1].value, "www.example.com");
	assert_int_equal(c.sans[2].type, SAN_IP);
	assert_string_equal(c.sans[2].value, "192.0.2.7");
	assert_int_equal(c.sans[3].type, SAN_IP);
	assert_string_equal(c.sans[3].value, "2001:db8::1");
	assert_int_equal(c.sans[4].type, SAN_EMAIL);
	assert_string_equal(c.sans[4].value, "ops@example.com");
	assert_int_equal(c.sans[5].type, SAN_URI);
	assert_string_equal(c.sans[5].value, "https://example.com/x");
	for (i = 0; i < c.nexts; i++) {
		if (strcmp(c.exts[i].oid, "2.5.29.15") == 0) {
			seen_ku = 1;
			assert_true(c.exts[i].critical);
		}
		if (strcmp(c.exts[i].oid, "2.5.29.17") == 0)
			seen_san = 1;
	}
	assert_true(seen_ku);
	assert_true(seen_san);
	csr_free(&c);
	free(der);
}

/* "NEW CERTIFICATE REQUEST" (certreq.exe's label) and an empty subject. */
static void
test_new_label_and_empty_subject(void **state)
{
	struct csr	 c;
	unsigned char	*der;
	char		*pem, err[256];
	size_t		 len;

	(void)state;
	der = make_csr("empty", "ec -pkeyopt ec_paramgen_curve:P-256",
	    "-subj / -addext subjectAltName=DNS:only.example.com", &len);
	pem = pem_encode("NEW CERTIFICATE REQUEST", der, len);
	assert_non_null(pem);
	memset(&c, 0, sizeof(c));
	assert_int_equal(csr_parse((unsigned char *)pem, strlen(pem), &c, err,
	    sizeof(err)), 0);
	assert_string_equal(c.subject_dn, "");
	assert_int_equal(c.nsans, 1);
	assert_string_equal(c.sans[0].value, "only.example.com");
	csr_free(&c);
	free(pem);
	free(der);
}

/*
 * Keys certmint does not issue for still parse, with key_type KEY__MAX and
 * a description the policy can put in its message.
 */
static void
test_unsupported_keys(void **state)
{
	struct csr	 c;
	unsigned char	*der;
	size_t		 len;
	char		 err[256];

	(void)state;
	der = make_csr("rsa1024", "rsa:1024", "-subj /CN=weak", &len);
	memset(&c, 0, sizeof(c));
	assert_int_equal(csr_parse(der, len, &c, err, sizeof(err)), 0);
	assert_int_equal(c.key_type, KEY__MAX);
	assert_int_equal(c.key_bits, 1024);
	assert_string_equal(c.key_desc, "rsa-1024");
	csr_free(&c);
	free(der);

	der = make_csr("k1", "ec -pkeyopt ec_paramgen_curve:secp256k1",
	    "-subj /CN=k1", &len);
	memset(&c, 0, sizeof(c));
	assert_int_equal(csr_parse(der, len, &c, err, sizeof(err)), 0);
	assert_int_equal(c.key_type, KEY__MAX);
	assert_string_equal(c.key_desc, "ec-secp256k1");
	csr_free(&c);
	free(der);
}

/*
 * Change the last byte of the signature: the request no longer verifies,
 * and the message says so.
 */
static void
test_bad_signature(void **state)
{
	struct csr	 c;
	unsigned char	*der;
	size_t		 len;
	char		 err[256];

	(void)state;
	der = make_csr("sig", "ec -pkeyopt ec_paramgen_curve:P-256",
	    "-subj /CN=sig", &len);
	der[len - 2] ^= 0x01;
	memset(&c, 0, sizeof(c));
	err[0] = '\0';
	assert_int_equal(csr_parse(der, len, &c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "signature"));
	free(der);

	/* A change in the signed part: the subject. */
	der = make_csr("sig2", "rsa:2048", "-subj /CN=sigA", &len);
	{
		unsigned char	*p = memmem(der, len, "sigA", 4);

		assert_non_null(p);
		p[3] = 'B';
	}
	err[0] = '\0';
	assert_int_equal(csr_parse(der, len, &c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "signature"));
	free(der);
}

/*
 * Every truncation and every single-byte change of a valid request is
 * refused with a message; none crashes (the sanitizers watch) or leaks.
 */
static void
test_truncations_and_flips(void **state)
{
	struct csr	 c;
	unsigned char	*der;
	size_t		 len, i;
	char		 err[256];

	(void)state;
	der = make_csr("fuzz", "ec -pkeyopt ec_paramgen_curve:P-256",
	    "-subj /CN=fuzz.example.com "
	    "-addext subjectAltName=DNS:fuzz.example.com", &len);
	for (i = 0; i < len; i++) {
		memset(&c, 0, sizeof(c));
		err[0] = '\0';
		assert_int_equal(csr_parse(der, i, &c, err, sizeof(err)), -1);
		assert_true(err[0] != '\0');
	}
	for (i = 0; i < len; i++) {
		unsigned char	 save = der[i];

		der[i] ^= 0x5a;
		memset(&c, 0, sizeof(c));
		err[0] = '\0';
		if (csr_parse(der, len, &c, err, sizeof(err)) == 0) {
			/*
			 * Only the signature's DER padding may change without
			 * breaking it; nothing may parse to different content.
			 */
			fail_msg("byte %zu changed and the request still "
			    "parsed", i);
		}
		assert_true(err[0] != '\0');
		der[i] = save;
	}
	free(der);
}

/* Not a request at all; trailing bytes; a certificate instead. */
static void
test_garbage(void **state)
{
	static const unsigned char seq[] = { 0x30, 0x03, 0x02, 0x01, 0x00 };
	static const char	 badpem[] = "-----BEGIN CERTIFICATE REQUEST-----\n"
	    "!!!notbase64!!!\n-----END CERTIFICATE REQUEST-----\n";
	struct csr	 c;
	unsigned char	*der, *big;
	size_t		 len;
	char		 err[256];
	struct signer	 s;
	char		 path[512];

	(void)state;
	memset(&c, 0, sizeof(c));
	assert_int_equal(csr_parse((const unsigned char *)"hello", 5, &c, err,
	    sizeof(err)), -1);
	assert_int_equal(csr_parse((const unsigned char *)"", 0, &c, err,
	    sizeof(err)), -1);
	assert_int_equal(csr_parse(seq, sizeof(seq), &c, err, sizeof(err)), -1);
	assert_int_equal(csr_parse((const unsigned char *)badpem,
	    sizeof(badpem) - 1, &c, err, sizeof(err)), -1);

	der = make_csr("trail", "ec -pkeyopt ec_paramgen_curve:P-256",
	    "-subj /CN=trail", &len);
	big = malloc(len + 1);
	assert_non_null(big);
	memcpy(big, der, len);
	big[len] = 0;
	err[0] = '\0';
	assert_int_equal(csr_parse(big, len + 1, &c, err, sizeof(err)), -1);
	assert_true(err[0] != '\0');
	free(big);
	free(der);

	/* A CA certificate is not a request. */
	snprintf(path, sizeof(path), "%s/notreq.pem", fx_dir);
	assert_int_equal(fx_ca(&s, KEY_EC_P256, "Not A Request", path, 0), 0);
	err[0] = '\0';
	assert_int_equal(csr_parse(s.cert_der, s.cert_der_len, &c, err,
	    sizeof(err)), -1);
	assert_true(err[0] != '\0');
	fx_signer_free(&s);
}

/* Sign msg with key and md name; the DER signature, malloc'd. */
static unsigned char *
sign(EVP_PKEY *k, const char *md, const unsigned char *msg, size_t msglen,
    size_t *siglen)
{
	EVP_MD_CTX	*ctx = EVP_MD_CTX_new();
	unsigned char	*sig;

	assert_non_null(ctx);
	assert_int_equal(EVP_DigestSignInit_ex(ctx, NULL, md, NULL, NULL, k,
	    NULL), 1);
	assert_int_equal(EVP_DigestSign(ctx, NULL, siglen, msg, msglen), 1);
	sig = malloc(*siglen);
	assert_non_null(sig);
	assert_int_equal(EVP_DigestSign(ctx, sig, siglen, msg, msglen), 1);
	EVP_MD_CTX_free(ctx);
	return sig;
}

/* What OpenSSL's own EVP verification says: 1 or 0. */
static int
evp_verify(EVP_PKEY *k, const char *md, const unsigned char *msg,
    size_t msglen, const unsigned char *sig, size_t siglen)
{
	EVP_MD_CTX	*ctx = EVP_MD_CTX_new();
	int		 rc;

	assert_non_null(ctx);
	assert_int_equal(EVP_DigestVerifyInit_ex(ctx, NULL, md, NULL, NULL, k,
	    NULL), 1);
	rc = EVP_DigestVerify(ctx, sig, siglen, msg, msglen) == 1;
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	return rc;
}

/*
 * ec_verify, the decoder-free ECDSA check, agrees with OpenSSL's EVP
 * verification on every curve and digest, on good signatures, on
 * corrupted ones, on (r, n - s), and refuses points off the curve.
 */
static void
test_ec_verify(void **state)
{
	static const struct {
		enum key_type	 t;
		const char	*curve;
	} curves[] = { { KEY_EC_P256, "P-256" }, { KEY_EC_P384, "P-384" } };
	static const struct {
		enum ec_md	 md;
		const char	*name;
	} mds[] = { { EC_MD_SHA256, "SHA256" }, { EC_MD_SHA384, "SHA384" },
	    { EC_MD_SHA512, "SHA512" } };
	unsigned char	 msg[200], point[133], *sig, *p;
	size_t		 ci, mi, pointlen, siglen, i;
	EVP_PKEY	*k;
	ECDSA_SIG	*es;
	const BIGNUM	*r, *s;
	BIGNUM		*n, *ns;
	EC_GROUP	*g;
	int		 len, agree = 0;

	(void)state;
	for (i = 0; i < sizeof(msg); i++)
		msg[i] = (unsigned char)i;
	for (ci = 0; ci < 2; ci++) {
		k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", curves[ci].curve);
		assert_non_null(k);
		assert_int_equal(EVP_PKEY_get_octet_string_param(k,
		    OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point), &pointlen),
		    1);
		for (mi = 0; mi < 3; mi++) {
			sig = sign(k, mds[mi].name, msg, sizeof(msg), &siglen);
			assert_int_equal(ec_verify(curves[ci].t, point,
			    pointlen, mds[mi].md, msg, sizeof(msg), sig,
			    siglen), 1);
			/* Another digest, another curve: no. */
			assert_int_equal(ec_verify(curves[ci].t, point,
			    pointlen, (mds[mi].md + 1) % EC_MD__MAX, msg,
			    sizeof(msg), sig, siglen), 0);
			assert_true(ec_verify(curves[1 - ci].t, point,
			    pointlen, mds[mi].md, msg, sizeof(msg), sig,
			    siglen) <= 0);
			assert_int_equal(ec_verify(KEY_RSA_2048, point,
			    pointlen, mds[mi].md, msg, sizeof(msg), sig,
			    siglen), -1);

			/* Every single-bit change of message or signature:
			 * same answer as OpenSSL. */
			for (i = 0; i < siglen * 8; i++) {
				sig[i / 8] ^= (unsigned char)(1 << (i % 8));
				assert_int_equal(ec_verify(curves[ci].t, point,
				    pointlen, mds[mi].md, msg, sizeof(msg),
				    sig, siglen) == 1, evp_verify(k,
				    mds[mi].name, msg, sizeof(msg), sig,
				    siglen));
				sig[i / 8] ^= (unsigned char)(1 << (i % 8));
				agree++;
			}
			msg[7] ^= 1;
			assert_int_equal(ec_verify(curves[ci].t, point,
			    pointlen, mds[mi].md, msg, sizeof(msg), sig,
			    siglen), 0);
			msg[7] ^= 1;

			/* (r, n - s) is also a valid signature. */
			p = sig;
			es = d2i_ECDSA_SIG(NULL, (const unsigned char **)&p,
			    (long)siglen);
			assert_non_null(es);
			ECDSA_SIG_get0(es, &r, &s);
			g = EC_GROUP_new_by_curve_name(ci == 0 ?
			    NID_X9_62_prime256v1 : NID_secp384r1);
			n = BN_dup(EC_GROUP_get0_order(g));
			ns = BN_new();
			assert_int_equal(BN_sub(ns, n, s), 1);
			assert_int_equal(ECDSA_SIG_set0(es, BN_dup(r), ns), 1);
			free(sig);
			sig = NULL;
			len = i2d_ECDSA_SIG(es, &sig);
			assert_true(len > 0);
			assert_int_equal(ec_verify(curves[ci].t, point,
			    pointlen, mds[mi].md, msg, sizeof(msg), sig,
			    (size_t)len), evp_verify(k, mds[mi].name, msg,
			    sizeof(msg), sig, (size_t)len));
			/* (r, 2n - s): s out of range, no. */
			assert_int_equal(BN_add(ns, ns, n), 1);
			OPENSSL_free(sig);
			sig = NULL;
			len = i2d_ECDSA_SIG(es, &sig);
			assert_true(len > 0);
			assert_int_equal(ec_verify(curves[ci].t, point,
			    pointlen, mds[mi].md, msg, sizeof(msg), sig,
			    (size_t)len), 0);
			ECDSA_SIG_free(es);
			OPENSSL_free(sig);
			BN_free(n);
			EC_GROUP_free(g);
		}
		/* A point off the curve. */
		sig = sign(k, "SHA256", msg, sizeof(msg), &siglen);
		point[pointlen - 1] ^= 1;
		assert_int_equal(ec_verify(curves[ci].t, point, pointlen,
		    EC_MD_SHA256, msg, sizeof(msg), sig, siglen), -2);
		/* The point at infinity. */
		point[0] = 0;
		assert_int_equal(ec_verify(curves[ci].t, point, 1,
		    EC_MD_SHA256, msg, sizeof(msg), sig, siglen), -2);
		free(sig);
		EVP_PKEY_free(k);
	}
	assert_true(agree > 1000);
}

/*
 * Requests signed with SHA-384 and SHA-512 on P-256 and P-384, and a
 * request whose public point is off the curve.
 */
static void
test_ec_digests(void **state)
{
	static const char *const cases[] = {
		"P-256 -sha384", "P-256 -sha512", "P-384 -sha256",
		"P-384 -sha512",
	};
	struct csr	 c;
	unsigned char	*der, *q;
	size_t		 len, i;
	char		 err[256], name[16], newkey[96];

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(name, sizeof(name), "d%zu", i);
		snprintf(newkey, sizeof(newkey), "ec -pkeyopt "
		    "ec_paramgen_curve:%s", cases[i]);
		der = make_csr(name, newkey, "-subj /CN=digest", &len);
		memset(&c, 0, sizeof(c));
		if (csr_parse(der, len, &c, err, sizeof(err)) != 0)
			fail_msg("%s: %s", cases[i], err);
		csr_free(&c);
		free(der);
	}
	/* Move the point off the curve: last octet of the key. */
	der = make_csr("off", "ec -pkeyopt ec_paramgen_curve:P-256",
	    "-subj /CN=off", &len);
	q = memmem(der, len, "\x03\x42\x00\x04", 4);
	assert_non_null(q);
	q[4 + 64 - 1] ^= 1;
	memset(&c, 0, sizeof(c));
	assert_int_equal(csr_parse(der, len, &c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "bad public key"));
	free(der);
}

/*
 * The subject is re-encoded (name_canonical): what it cannot re-encode
 * faithfully is refused with the reason; the rest comes out as the CA
 * signs it, whatever string types the request used.
 */
static void
test_subject_reencoded(void **state)
{
	static const struct {
		const char	*subj;
		const char	*why;	/* NULL: accepted */
	} cases[] = {
		{ "/CN=www.example.com/O=Zo\xc3\xab", NULL },
		{ "/CN=x/businessCategory=shop", "not one this CA signs" },
		{ "/C=us/CN=x", "country code" },
	};
	struct csr	 c;
	unsigned char	*der;
	char		 err[256], name[32], extra[256];
	size_t		 len, i;

	(void)state;
	for (i = 0; i < nitems(cases); i++) {
		snprintf(name, sizeof(name), "subj%zu", i);
		snprintf(extra, sizeof(extra), "-utf8 -subj '%s'", cases[i].subj);
		der = make_csr(name, "ec -pkeyopt ec_paramgen_curve:P-256",
		    extra, &len);
		memset(&c, 0, sizeof(c));
		err[0] = '\0';
		if (cases[i].why == NULL) {
			if (csr_parse(der, len, &c, err, sizeof(err)) != 0)
				fail_msg("%s refused: %s", cases[i].subj, err);
			assert_string_equal(c.subject_dn,
			    "O=Zo\xc3\xab,CN=www.example.com");
			/* CN fits PrintableString: re-encoded as one. */
			assert_non_null(memmem(c.subject, c.subject_len,
			    "\x13\x0fwww.example.com", 17));
		} else {
			if (csr_parse(der, len, &c, err, sizeof(err)) != -1)
				fail_msg("%s accepted", cases[i].subj);
			if (strstr(err, cases[i].why) == NULL)
				fail_msg("%s: \"%s\" lacks \"%s\"",
				    cases[i].subj, err, cases[i].why);
		}
		csr_free(&c);
		free(der);
	}
}

/* The version craft_csr writes (RFC 2986: 0). */
static int64_t craft_version;

/*
 * A request signed by k (ECDSA with SHA-256) whose SubjectPublicKeyInfo is
 * spki (NULL: k's) and whose [0] attributes hold attrs (DER, the contents).
 */
static unsigned char *
craft_csr(EVP_PKEY *k, const unsigned char *spki, size_t spkilen,
    const unsigned char *attrs, size_t attrslen, size_t *len)
{
	struct buf	 cri = { 0 }, req = { 0 };
	unsigned char	*own = NULL, *p, *sig;
	size_t		 m, m2, m3, siglen;
	int		 n;

	if (spki == NULL) {
		n = i2d_PUBKEY(k, &own);
		assert_true(n > 0);
		spki = own;
		spkilen = (size_t)n;
	}
	assert_int_equal(der_open(&cri, DER_SEQUENCE, &m), 0);
	assert_int_equal(der_put_int64(&cri, DER_INTEGER, craft_version), 0);
	assert_int_equal(der_open(&cri, DER_SEQUENCE, &m2), 0);
	assert_int_equal(der_open(&cri, DER_SET, &m3), 0);
	assert_int_equal(der_put_tlv(&cri, DER_SEQUENCE,
	    "\x06\x03\x55\x04\x03\x0c\x01x", 8), 0);
	assert_int_equal(der_close(&cri, m3), 0);
	assert_int_equal(der_close(&cri, m2), 0);
	assert_int_equal(buf_append(&cri, spki, spkilen), 0);
	assert_int_equal(der_put_tlv(&cri, DER_CTX_CONS(0), attrs, attrslen), 0);
	assert_int_equal(der_close(&cri, m), 0);
	sig = sign(k, "SHA256", cri.data, cri.len, &siglen);
	assert_int_equal(der_open(&req, DER_SEQUENCE, &m), 0);
	assert_int_equal(buf_append(&req, cri.data, cri.len), 0);
	assert_int_equal(der_put_tlv(&req, DER_SEQUENCE,
	    "\x06\x08\x2a\x86\x48\xce\x3d\x04\x03\x02", 10), 0);
	assert_int_equal(der_put_bitstring(&req, sig, siglen), 0);
	assert_int_equal(der_close(&req, m), 0);
	*len = req.len;
	p = (unsigned char *)buf_steal(&req);
	free(sig);
	free(own);
	buf_free(&cri);
	return p;
}

/* An attribute: SEQUENCE { OID, SET { value } } from DER pieces. */
static void
put_attr(struct buf *b, const char *oid, const void *value, size_t len)
{
	size_t	 m, m2;

	assert_int_equal(der_open(b, DER_SEQUENCE, &m), 0);
	assert_int_equal(der_put_oid(b, oid), 0);
	assert_int_equal(der_open(b, DER_SET, &m2), 0);
	assert_int_equal(buf_append(b, value, len), 0);
	assert_int_equal(der_close(b, m2), 0);
	assert_int_equal(der_close(b, m), 0);
}

/* An extensionRequest value holding n extensions with OIDs base.i. */
static void
put_exts(struct buf *b, const char *base, size_t n, const void *value,
    size_t vlen)
{
	char	 oid[64];
	size_t	 m, m2, i;

	assert_int_equal(der_open(b, DER_SEQUENCE, &m), 0);
	for (i = 0; i < n; i++) {
		snprintf(oid, sizeof(oid), "%s.%zu", base, i + 1);
		assert_int_equal(der_open(b, DER_SEQUENCE, &m2), 0);
		assert_int_equal(der_put_oid(b, oid), 0);
		assert_int_equal(der_put_octets(b, value, vlen), 0);
		assert_int_equal(der_close(b, m2), 0);
	}
	assert_int_equal(der_close(b, m), 0);
}

/* csr_parse of a crafted request: NULL why = accepted, else refused so. */
static void
crafted_is(EVP_PKEY *k, const struct buf *spki, const struct buf *attrs,
    const char *why)
{
	struct csr	 c;
	unsigned char	*der;
	char		 err[256] = "";
	size_t		 len;
	int		 rc;

	der = craft_csr(k, spki ? spki->data : NULL, spki ? spki->len : 0,
	    attrs->data, attrs->len, &len);
	memset(&c, 0, sizeof(c));
	rc = csr_parse(der, len, &c, err, sizeof(err));
	if (why == NULL && rc != 0)
		fail_msg("refused: %s", err);
	if (why != NULL && (rc != -1 || strstr(err, why) == NULL))
		fail_msg("\"%s\" (rc %d) lacks \"%s\"", err, rc, why);
	csr_free(&c);
	free(der);
}

/*
 * The request grammar: one extension request, known attributes with
 * sound values, bounded extension counts (checked in n log n), SAN forms
 * the certificate can carry, RSA keys with NULL parameters and a bounded
 * exponent, each refused with its reason.
 */
static void
test_request_grammar(void **state)
{
	static const unsigned char nul_pw[] = { 0x0c, 0x03, 'a', 0, 'b' };
	static const unsigned char san_upn[] = { 0x30, 0x0f, 0xa0, 0x0d, 0x06,
	    0x03, 0x2a, 0x03, 0x04, 0xa0, 0x06, 0x0c, 0x04, 'a', '@', 'b', 'c' };
	static const unsigned char san_dns[] = { 0x30, 0x05, 0x82, 0x03, 'a',
	    '.', 'b' };
	struct buf	 a = { 0 }, e = { 0 }, spki = { 0 };
	unsigned char	 exp[40];
	EVP_PKEY	*k = fx_keygen(KEY_EC_P256);
	size_t		 m, m2;

	(void)state;
	assert_non_null(k);
	put_exts(&e, "1.2.3", 2, "\x05\x00", 2);
	put_attr(&a, "1.2.840.113549.1.9.14", e.data, e.len);
	crafted_is(k, NULL, &a, NULL);
	put_attr(&a, "1.3.6.1.4.1.311.2.1.14", e.data, e.len);
	crafted_is(k, NULL, &a, "more than one extensionRequest");
	a.len = 0;
	put_attr(&a, "1.2.3.4", "\x0c\x01x", 3);
	crafted_is(k, NULL, &a, "not one this CA accepts");
	a.len = 0;
	put_attr(&a, "1.2.840.113549.1.9.7", nul_pw, sizeof(nul_pw));
	crafted_is(k, NULL, &a, "bad challengePassword");
	a.len = 0;
	put_attr(&a, "1.2.840.113549.1.9.7", "\x13\x02pw", 4);
	crafted_is(k, NULL, &a, NULL);

	/*
	 * The version: 0, and 1 or 2 as old certbot and Ruby's acme-client
	 * wrote; nothing else.
	 */
	for (craft_version = -1; craft_version <= 3; craft_version++)
		crafted_is(k, NULL, &a, craft_version < 0 ?
		    "version -1 (RFC 2986 defines 0)" : craft_version > 2 ?
		    "version 3 (RFC 2986 defines 0)" : NULL);
	craft_version = 0;

	/* Many extensions: refused at the cap, quickly. */
	e.len = a.len = 0;
	put_exts(&e, "1.2.3", 65, "\x05\x00", 2);
	put_attr(&a, "1.2.840.113549.1.9.14", e.data, e.len);
	crafted_is(k, NULL, &a, "more than 64 extensions");
	e.len = a.len = 0;
	put_exts(&e, "1.2.3", 20000, "\x05\x00", 2);
	put_attr(&a, "1.2.840.113549.1.9.14", e.data, e.len);
	crafted_is(k, NULL, &a, "more than 64 extensions");
	/* Extensions holding more than 16 KiB in all. */
	e.len = a.len = 0;
	{
		static unsigned char big[6000];

		assert_int_equal(der_open(&e, DER_SEQUENCE, &m), 0);
		for (m2 = 0; m2 < 3; m2++) {
			char oid[32];
			size_t mm;

			snprintf(oid, sizeof(oid), "1.2.3.%zu", m2 + 1);
			assert_int_equal(der_open(&e, DER_SEQUENCE, &mm), 0);
			assert_int_equal(der_put_oid(&e, oid), 0);
			assert_int_equal(der_put_octets(&e, big, sizeof(big)), 0);
			assert_int_equal(der_close(&e, mm), 0);
		}
		assert_int_equal(der_close(&e, m), 0);
	}
	put_attr(&a, "1.2.840.113549.1.9.14", e.data, e.len);
	crafted_is(k, NULL, &a, "more than 16384 octets");
	/* Twice the same extension, far apart. */
	e.len = a.len = 0;
	assert_int_equal(der_open(&e, DER_SEQUENCE, &m), 0);
	for (m2 = 0; m2 < 40; m2++) {
		char oid[32];
		size_t mm;

		snprintf(oid, sizeof(oid), "1.2.3.%zu", m2 == 39 ? 1 : m2 + 1);
		assert_int_equal(der_open(&e, DER_SEQUENCE, &mm), 0);
		assert_int_equal(der_put_oid(&e, oid), 0);
		assert_int_equal(der_put_octets(&e,
		    (const unsigned char *)"\x05\x00", 2), 0);
		assert_int_equal(der_close(&e, mm), 0);
	}
	assert_int_equal(der_close(&e, m), 0);
	put_attr(&a, "1.2.840.113549.1.9.14", e.data, e.len);
	crafted_is(k, NULL, &a, "requested twice");

	/* SAN forms the certificate cannot carry are refused, not dropped. */
	e.len = a.len = 0;
	assert_int_equal(der_open(&e, DER_SEQUENCE, &m), 0);
	assert_int_equal(der_open(&e, DER_SEQUENCE, &m2), 0);
	assert_int_equal(der_put_oid(&e, "2.5.29.17"), 0);
	assert_int_equal(der_put_octets(&e, san_upn, sizeof(san_upn)), 0);
	assert_int_equal(der_close(&e, m2), 0);
	assert_int_equal(der_close(&e, m), 0);
	put_attr(&a, "1.2.840.113549.1.9.14", e.data, e.len);
	crafted_is(k, NULL, &a, "subjectAltName otherName 1.2.3.4 is not "
	    "supported");
	e.len = a.len = 0;
	assert_int_equal(der_open(&e, DER_SEQUENCE, &m), 0);
	assert_int_equal(der_open(&e, DER_SEQUENCE, &m2), 0);
	assert_int_equal(der_put_oid(&e, "2.5.29.17"), 0);
	assert_int_equal(der_put_octets(&e, san_dns, sizeof(san_dns)), 0);
	assert_int_equal(der_close(&e, m2), 0);
	assert_int_equal(der_close(&e, m), 0);
	put_attr(&a, "1.2.840.113549.1.9.14", e.data, e.len);
	crafted_is(k, NULL, &a, NULL);

	/* RSA keys: NULL parameters, a bounded odd exponent (checked first). */
	a.len = 0;
	memset(exp, 0, sizeof(exp));
	exp[0] = 0x01;
	exp[sizeof(exp) - 1] = 0x01;	/* 2^312 + 1: too big */
	{
		/* No factor below 752; nweak is 3 * 3 * 17 * ... */
		static const unsigned char nmod[] = { 0x00, 0xc5, 0x11, 0x23,
		    0x45, 0x67, 0x89, 0xab, 0xcd, 0xf7 };
		static const unsigned char nweak[] = { 0x00, 0xc5, 0x11, 0x23,
		    0x45, 0x67, 0x89, 0xab, 0xcd, 0xef };
		struct {
			int		 params;	/* 0 absent, 1 NULL, 2 INTEGER */
			const unsigned char *e;
			size_t		 elen;
			const char	*why;
			int		 weak;		/* nweak, not nmod */
		} rsa[] = {
			{ 0, (const unsigned char *)"\x01\x00\x01", 3,
			    "parameters must be NULL", 0 },
			{ 2, (const unsigned char *)"\x01\x00\x01", 3,
			    "parameters must be NULL", 0 },
			{ 1, exp, sizeof(exp), "exponent", 0 },
			{ 1, (const unsigned char *)"\x01\x00\x00", 3,
			    "exponent", 0 },
			{ 1, (const unsigned char *)"\x01", 1, "exponent", 0 },
			/* BR 6.1.6: no factor below 752, before the signature. */
			{ 1, (const unsigned char *)"\x01\x00\x01", 3,
			    "weak key: the RSA modulus has a factor below 752",
			    1 },
			/* Good shape, wrong key: the signature then fails. */
			{ 1, (const unsigned char *)"\x01\x00\x01", 3,
			    "does not verify", 0 },
		};
		struct buf	 key = { 0 };
		size_t		 i, mk;

		for (i = 0; i < nitems(rsa); i++) {
			spki.len = key.len = 0;
			assert_int_equal(der_open(&key, DER_SEQUENCE, &mk), 0);
			assert_int_equal(der_put_uint_bytes(&key, DER_INTEGER,
			    (rsa[i].weak ? nweak : nmod) + 1, sizeof(nmod) - 1),
			    0);
			assert_int_equal(der_put_uint_bytes(&key, DER_INTEGER,
			    rsa[i].e, rsa[i].elen), 0);
			assert_int_equal(der_close(&key, mk), 0);
			assert_int_equal(der_open(&spki, DER_SEQUENCE, &m), 0);
			assert_int_equal(der_open(&spki, DER_SEQUENCE, &m2), 0);
			assert_int_equal(der_put_oid(&spki,
			    "1.2.840.113549.1.1.1"), 0);
			if (rsa[i].params == 1)
				assert_int_equal(der_put_null(&spki), 0);
			else if (rsa[i].params == 2)
				assert_int_equal(der_put_int64(&spki,
				    DER_INTEGER, 7), 0);
			assert_int_equal(der_close(&spki, m2), 0);
			assert_int_equal(der_put_bitstring(&spki, key.data,
			    key.len), 0);
			assert_int_equal(der_close(&spki, m), 0);
			crafted_is(k, &spki, &a, rsa[i].why);
		}
		buf_free(&key);
	}
	buf_free(&spki);
	buf_free(&a);
	buf_free(&e);
	EVP_PKEY_free(k);
}

#define OID_UPN	"1.3.6.1.4.1.311.20.2.3"

/*
 * The request's UPN, directoryName, registeredID and email SANs come out
 * of csr_parse as values (the directoryName re-encoded: its UTF8String O
 * becomes a PrintableString), go into a certificate by cert_build, and
 * OpenSSL reads the same names from that certificate; san_upn (the exit
 * modules' UPN property) reads the UPN from the issued extension.
 */
static void
test_san_forms(void **state)
{
	static const char dn[] = "CN=Alice Example,O=Corp Ltd,C=DE";
	static const char cnf[] = "[req]\ndistinguished_name = dn\n[dn]\n"
	    "[dir_sect]\nC = DE\nO = Corp Ltd\nCN = Alice Example\n";
	struct csr	 c;
	struct signer	 s;
	struct cert_template t;
	struct cert_info bi;
	GENERAL_NAMES	*gns;
	GENERAL_NAME	*gn;
	X509		*x;
	const unsigned char *p;
	unsigned char	*der, *cert, *name = NULL;
	size_t		 len, cert_len, i;
	char		 err[256], path[512], extra[1024], txt[128], *upn = NULL;
	int		 n, found = 0;

	(void)state;
	snprintf(path, sizeof(path), "%s/dir.cnf", fx_dir);
	assert_int_equal(fx_write(path, cnf, sizeof(cnf) - 1), 0);
	snprintf(extra, sizeof(extra), "-config %s -subj /CN=alice -addext "
	    "'subjectAltName=otherName:" OID_UPN ";UTF8:alice@corp.example,"
	    "dirName:dir_sect,RID:1.2.3.4,email:alice@corp.example'", path);
	der = make_csr("forms", "ec -pkeyopt ec_paramgen_curve:P-256", extra,
	    &len);
	memset(&c, 0, sizeof(c));
	if (csr_parse(der, len, &c, err, sizeof(err)) != 0)
		fail_msg("refused: %s", err);
	assert_int_equal(c.nsans, 4);
	assert_int_equal(c.sans[0].type, SAN_UPN);
	assert_string_equal(c.sans[0].value, "alice@corp.example");
	assert_null(c.sans[0].der);
	assert_int_equal(c.sans[1].type, SAN_DIRNAME);
	assert_string_equal(c.sans[1].value, dn);
	assert_non_null(c.sans[1].der);
	/* Re-encoded: openssl's UTF8String "Corp Ltd" is printable. */
	assert_non_null(memmem(c.sans[1].der, c.sans[1].der_len,
	    "\x13\x08" "Corp Ltd", 10));
	assert_null(memmem(der, len, "\x13\x08" "Corp Ltd", 10));
	assert_int_equal(c.sans[2].type, SAN_RID);
	assert_string_equal(c.sans[2].value, "1.2.3.4");
	assert_int_equal(c.sans[3].type, SAN_EMAIL);
	assert_string_equal(c.sans[3].value, "alice@corp.example");

	snprintf(path, sizeof(path), "%s/forms-ca.pem", fx_dir);
	assert_int_equal(fx_ca(&s, KEY_EC_P256, "Forms CA", path, 0), 0);
	assert_int_equal(fx_template(&t, c.subject, c.subject_len, c.spki,
	    c.spki_len, PROFILE_TLS_CLIENT), 0);
	t.sans = c.sans;
	t.nsans = c.nsans;
	assert_int_equal(cert_build(&s, &t, &cert, &cert_len, &bi), 0);
	p = cert;
	x = d2i_X509(NULL, &p, (long)cert_len);
	assert_non_null(x);
	assert_int_equal(X509_verify(x, s.key), 1);
	gns = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	assert_non_null(gns);
	assert_int_equal(sk_GENERAL_NAME_num(gns), 4);
	gn = sk_GENERAL_NAME_value(gns, 0);
	assert_int_equal(gn->type, GEN_OTHERNAME);
	OBJ_obj2txt(txt, sizeof(txt), gn->d.otherName->type_id, 1);
	assert_string_equal(txt, OID_UPN);
	assert_int_equal(gn->d.otherName->value->type, V_ASN1_UTF8STRING);
	assert_int_equal(ASN1_STRING_length(
	    gn->d.otherName->value->value.utf8string), 18);
	assert_memory_equal(ASN1_STRING_get0_data(
	    gn->d.otherName->value->value.utf8string), "alice@corp.example",
	    18);
	gn = sk_GENERAL_NAME_value(gns, 1);
	assert_int_equal(gn->type, GEN_DIRNAME);
	n = i2d_X509_NAME(gn->d.directoryName, &name);
	assert_int_equal(n, (int)c.sans[1].der_len);
	assert_memory_equal(name, c.sans[1].der, c.sans[1].der_len);
	OPENSSL_free(name);
	gn = sk_GENERAL_NAME_value(gns, 2);
	assert_int_equal(gn->type, GEN_RID);
	OBJ_obj2txt(txt, sizeof(txt), gn->d.registeredID, 1);
	assert_string_equal(txt, "1.2.3.4");
	gn = sk_GENERAL_NAME_value(gns, 3);
	assert_int_equal(gn->type, GEN_EMAIL);
	assert_int_equal(ASN1_STRING_length(gn->d.rfc822Name), 18);
	assert_memory_equal(ASN1_STRING_get0_data(gn->d.rfc822Name),
	    "alice@corp.example", 18);
	GENERAL_NAMES_free(gns);
	X509_free(x);

	for (i = 0; i < bi.nexts; i++)
		if (strcmp(bi.exts[i].oid, "2.5.29.17") == 0) {
			found = 1;
			assert_int_equal(san_upn(bi.exts[i].value,
			    bi.exts[i].len, &upn), 0);
			assert_non_null(upn);
			assert_string_equal(upn, "alice@corp.example");
			free(upn);
		}
	assert_true(found);
	cert_info_free(&bi);
	free(cert);
	fx_signer_free(&s);
	csr_free(&c);
	free(der);
}

/* A subjectAltName extension request holding the GeneralNames names. */
static void
put_san_attr(struct buf *a, const struct buf *names)
{
	struct buf	 e = { 0 };
	size_t		 m, m2;

	assert_int_equal(der_open(&e, DER_SEQUENCE, &m), 0);
	assert_int_equal(der_open(&e, DER_SEQUENCE, &m2), 0);
	assert_int_equal(der_put_oid(&e, "2.5.29.17"), 0);
	assert_int_equal(der_put_octets(&e, names->data, names->len), 0);
	assert_int_equal(der_close(&e, m2), 0);
	assert_int_equal(der_close(&e, m), 0);
	a->len = 0;
	put_attr(a, "1.2.840.113549.1.9.14", e.data, e.len);
	buf_free(&e);
}

/* GeneralNames with one otherName: type oid, value [0] { tag v }. */
static void
other_name(struct buf *b, const char *oid, unsigned int tag, const void *v,
    size_t n)
{
	size_t	 m, m2, m3;

	b->len = 0;
	assert_int_equal(der_open(b, DER_SEQUENCE, &m), 0);
	assert_int_equal(der_open(b, DER_CTX_CONS(0), &m2), 0);
	assert_int_equal(der_put_oid(b, oid), 0);
	assert_int_equal(der_open(b, DER_CTX_CONS(0), &m3), 0);
	assert_int_equal(der_put_tlv(b, tag, v, n), 0);
	assert_int_equal(der_close(b, m3), 0);
	assert_int_equal(der_close(b, m2), 0);
	assert_int_equal(der_close(b, m), 0);
}

/* GeneralNames from raw DER octets. */
static void
raw_names(struct buf *b, const void *p, size_t n)
{
	b->len = 0;
	assert_int_equal(buf_append(b, p, n), 0);
}

/*
 * UPN, directoryName and registeredID SANs that cannot be signed as they
 * are: refused with the reason, never dropped; broken DER inside them is
 * a bad extension. A long UPN or an unusual RID that is sound passes.
 */
static void
test_san_form_refusals(void **state)
{
	static const unsigned char empty_dir[] = { 0x30, 0x04, 0xa4, 0x02,
	    0x30, 0x00 };
	/* CN as a constructed (BER) UTF8String holding "abc". */
	static const unsigned char ber_dir[] = { 0x30, 0x16, 0xa4, 0x14, 0x30,
	    0x12, 0x31, 0x10, 0x30, 0x0e, 0x06, 0x03, 0x55, 0x04, 0x03, 0x2c,
	    0x07, 0x0c, 0x05, 'a', 'b', 'c', 'd', 'e' };
	static const unsigned char ctl_dir[] = { 0x30, 0x13, 0xa4, 0x11, 0x30,
	    0x0f, 0x31, 0x0d, 0x30, 0x0b, 0x06, 0x03, 0x55, 0x04, 0x03, 0x0c,
	    0x04, 'a', 0x01, 'b', 'c' };
	static const unsigned char two_dir[] = { 0x30, 0x06, 0xa4, 0x04, 0x30,
	    0x00, 0x30, 0x00 };
	static const unsigned char rid_long[] = { 0x30, 0x05, 0x88, 0x03,
	    0x2a, 0x80, 0x03 };	/* 1.2.3 with a leading 0x80 group */
	static const unsigned char rid_cut[] = { 0x30, 0x04, 0x88, 0x02,
	    0x2a, 0x83 };		/* last group unfinished */
	static const unsigned char rid_cons[] = { 0x30, 0x07, 0xa8, 0x05,
	    0x06, 0x03, 0x2a, 0x03, 0x04 };
	static const unsigned char rid_ok[] = { 0x30, 0x0c, 0x88, 0x0a, 0x2a,
	    0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x10, 0x02 };
	static const unsigned char x400[] = { 0x30, 0x02, 0xa3, 0x00 };
	static const unsigned char edi[] = { 0x30, 0x04, 0xa5, 0x02, 0x81,
	    0x00 };
	static const unsigned char other_int[] = { 0x30, 0x07, 0xa0, 0x05,
	    0x02, 0x01, 0x00, 0xa0, 0x00 };
	struct buf	 a = { 0 }, g = { 0 };
	EVP_PKEY	*k = fx_keygen(KEY_EC_P256);
	char		 upn[300];
	static const struct {
		unsigned int	 tag;
		const char	*value;
		const char	*why;	/* NULL: accepted */
	} upns[] = {
		{ DER_UTF8STRING, "alice@corp.example", NULL },
		{ DER_UTF8STRING, "z\xc3\xab@corp.example", NULL },
		{ DER_IA5STRING, "alice@corp.example", "is not a UTF8String" },
		{ DER_PRINTABLESTRING, "alice", "is not a UTF8String" },
		{ DER_UTF8STRING, "", "is empty" },
		{ DER_UTF8STRING, "alice", "is not local-part@domain" },
		{ DER_UTF8STRING, "@corp.example", "is not local-part@domain" },
		{ DER_UTF8STRING, "a@b@corp.example", "local-part@domain" },
		{ DER_UTF8STRING, "alice@*.corp.example", "wildcard" },
		{ DER_UTF8STRING, "alice@corp..example", "empty label" },
		{ DER_UTF8STRING, "al\x7fice@corp.example", "control" },
		{ DER_UTF8STRING, "al\xc2\x85ice@corp.example", "control" },
		{ DER_UTF8STRING, "al\xffice@corp.example", "not valid UTF-8" },
		{ DER_UTF8STRING, "al\xc0\xaeice@corp.example",
		    "not valid UTF-8" },
	};
	size_t		 i;

	(void)state;
	assert_non_null(k);
	for (i = 0; i < nitems(upns); i++) {
		other_name(&g, OID_UPN, upns[i].tag, upns[i].value,
		    strlen(upns[i].value));
		put_san_attr(&a, &g);
		crafted_is(k, NULL, &a, upns[i].why);
	}
	/* A NUL inside (strlen would stop at it). */
	other_name(&g, OID_UPN, DER_UTF8STRING, "a\0b@corp.example", 16);
	put_san_attr(&a, &g);
	crafted_is(k, NULL, &a, "subjectAltName UPN holds a control character");
	/* 256 octets pass, 257 do not. */
	memset(upn, 'a', sizeof(upn));
	memcpy(upn + 256 - 13, "@corp.example", 13);
	other_name(&g, OID_UPN, DER_UTF8STRING, upn, 256);
	put_san_attr(&a, &g);
	crafted_is(k, NULL, &a, NULL);
	memcpy(upn + 257 - 13, "@corp.example", 13);
	other_name(&g, OID_UPN, DER_UTF8STRING, upn, 257);
	put_san_attr(&a, &g);
	crafted_is(k, NULL, &a, "longer than 256 octets");
	/* Another otherName type: refused, naming its OID. */
	other_name(&g, "1.2.3", DER_UTF8STRING, "x", 1);
	put_san_attr(&a, &g);
	crafted_is(k, NULL, &a, "subjectAltName otherName 1.2.3 is not "
	    "supported");
	raw_names(&g, other_int, sizeof(other_int));
	put_san_attr(&a, &g);
	crafted_is(k, NULL, &a, "bad subjectAltName extension");

	raw_names(&g, empty_dir, sizeof(empty_dir));
	put_san_attr(&a, &g);
	crafted_is(k, NULL, &a, "subjectAltName directoryName is empty");
	raw_names(&g, ber_dir, sizeof(ber_dir));
	put_san_attr(&a, &g);
	crafted_is(k, NULL, &a, "subjectAltName directoryName attribute CN "
	    "is not a string type this CA signs");
	raw_names(&g, ctl_dir, sizeof(ctl_dir));
	put_san_attr(&a, &g);
	crafted_is(k, NULL, &a, "subjectAltName directoryName attribute CN "
	    "holds a control character");
	raw_names(&g, two_dir, sizeof(two_dir));
	put_san_attr(&a, &g);
	crafted_is(k, NULL, &a, "bad subjectAltName extension");

	raw_names(&g, rid_long, sizeof(rid_long));
	put_san_attr(&a, &g);
	crafted_is(k, NULL, &a, "bad subjectAltName extension");
	raw_names(&g, rid_cut, sizeof(rid_cut));
	put_san_attr(&a, &g);
	crafted_is(k, NULL, &a, "bad subjectAltName extension");
	raw_names(&g, rid_cons, sizeof(rid_cons));
	put_san_attr(&a, &g);
	crafted_is(k, NULL, &a, "bad subjectAltName extension");
	raw_names(&g, rid_ok, sizeof(rid_ok));
	put_san_attr(&a, &g);
	crafted_is(k, NULL, &a, NULL);

	raw_names(&g, x400, sizeof(x400));
	put_san_attr(&a, &g);
	crafted_is(k, NULL, &a, "subjectAltName x400Address names are not "
	    "supported");
	raw_names(&g, edi, sizeof(edi));
	put_san_attr(&a, &g);
	crafted_is(k, NULL, &a, "subjectAltName ediPartyName names are not "
	    "supported");
	buf_free(&a);
	buf_free(&g);
	EVP_PKEY_free(k);
}

/* SAN syntax: RFC 1034 host names, the BR's wildcard rule, email, URI. */
static void
test_san_syntax(void **state)
{
	static const struct {
		const char	*san;
		const char	*why;	/* NULL: accepted */
	} cases[] = {
		{ "DNS:www.example.com", NULL },
		{ "DNS:*.example.com", NULL },
		{ "DNS:xn--bcher-kva.example", NULL },
		{ "DNS:localhost", NULL },
		{ "DNS:foo..example", "empty label" },
		{ "DNS:*.*.example.com", "wildcard" },
		{ "DNS:www*.example.com", "wildcard" },
		{ "DNS:*.com", "fewer than two labels" },
		{ "DNS:-lead.example", "'-'" },
		{ "DNS:trail-.example", "'-'" },
		{ "DNS:under_score.example", "character other than" },
		{ "DNS:trailing.dot.", "empty label" },
		{ "DNS:1.2.3.4", "numeric label" },
		{ "email:a@example.com", NULL },
		{ "email:no-at.example.com", "local-part@domain" },
		{ "email:a@b@example.com", "local-part@domain" },
		{ "email:a@*.example.com", "wildcard" },
		{ "URI:https://example.com/x", NULL },
		{ "URI:example.com/x", "no scheme" },
	};
	struct csr	 c;
	unsigned char	*der;
	char		 err[256], name[32], extra[256];
	size_t		 len, i;
	int		 rc;

	(void)state;
	for (i = 0; i < nitems(cases); i++) {
		snprintf(name, sizeof(name), "san%zu", i);
		snprintf(extra, sizeof(extra), "-subj /CN=x -addext "
		    "'subjectAltName=%s'", cases[i].san);
		der = make_csr(name, "ec -pkeyopt ec_paramgen_curve:P-256",
		    extra, &len);
		memset(&c, 0, sizeof(c));
		err[0] = '\0';
		rc = csr_parse(der, len, &c, err, sizeof(err));
		if (cases[i].why == NULL && rc != 0)
			fail_msg("%s refused: %s", cases[i].san, err);
		if (cases[i].why != NULL && (rc != -1 ||
		    strstr(err, cases[i].why) == NULL))
			fail_msg("%s: \"%s\" lacks \"%s\"", cases[i].san, err,
			    cases[i].why);
		csr_free(&c);
		free(der);
	}
}

/* dns_name_check's xn-- labels: Punycode of a non-ASCII name, or refused. */
static void
test_punycode_labels(void **state)
{
	static const char *const good[] = {
		"xn--bcher-kva.example", "XN--BCHER-KVA.example",
		"xn--mnchen-3ya.de", "xn--80ak6aa92e.com", "xn--ls8h.la",
		"www.xn--mnchen-3ya.de", "*.xn--bcher-kva.example",
	};
	static const char *const bad[] = {
		"xn--zz-0000.certmint.test",	/* ends inside a code point */
		"xn---.example",		/* the empty name */
		"xn--abc-.example",		/* decodes to ASCII only */
		"xn--9.example",		/* incomplete */
		"xn--b_cher.example",		/* not LDH: refused before */
		"a.xn--99999999999999.example",	/* incomplete, longer */
		"a.xn--99999a.example",		/* U+48A3C1: past U+10FFFF */
		"a.xn--9999999a.example",	/* past U+10FFFF, far */
	};
	const char	*why;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if ((why = dns_name_check((const unsigned char *)good[i],
		    strlen(good[i]), 1)) != NULL)
			fail_msg("%s: %s", good[i], why);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (dns_name_check((const unsigned char *)bad[i],
		    strlen(bad[i]), 1) == NULL)
			fail_msg("%s accepted", bad[i]);
	assert_non_null(strstr(dns_name_check((const unsigned char *)bad[0],
	    strlen(bad[0]), 1), "Punycode"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_punycode_labels),
		cmocka_unit_test(test_key_types),
		cmocka_unit_test(test_sans_and_extensions),
		cmocka_unit_test(test_new_label_and_empty_subject),
		cmocka_unit_test(test_subject_reencoded),
		cmocka_unit_test(test_request_grammar),
		cmocka_unit_test(test_san_syntax),
		cmocka_unit_test(test_san_forms),
		cmocka_unit_test(test_san_form_refusals),
		cmocka_unit_test(test_unsupported_keys),
		cmocka_unit_test(test_bad_signature),
		cmocka_unit_test(test_truncations_and_flips),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_ec_verify),
		cmocka_unit_test(test_ec_digests),
	};

	return cmocka_run_group_tests(tests, fx_group_setup, fx_group_teardown);
}
