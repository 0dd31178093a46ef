/*
 * Unit tests for jws.c: strict base64url, JWKs of each kind (and what
 * jwk_load refuses), RFC 7638 thumbprints, and JWS signature and MAC
 * checks (ES256, RS256, EdDSA, HS256) against vectors made with
 * pyca/cryptography; a signature checks only with its own algorithm.
 * ES256 and ES384 give the same verdicts, edge signatures included, on
 * the direct path (ec_verify_raw) as through OpenSSL's EVP.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

#include "crypto/crypto.h"

#define MSG	"eyJhbGciOiJFUzI1NiJ9.eyJoZWxsbyI6MX0"

#define EC_X	"PchuZuH1X46P4t09maM3ECRVl2POr3PU05z31yZygeM"
#define EC_Y	"FhFazcQEZYx2h6ZBDI2jVS1gstQgr_11W1vgaeq44rY"
#define EC_TP	"MMskuWt_46ZNekQLJYrz0LKVPiZFKRczuXPdFxtJ2SQ"
#define EC_SIG	"FmoxARaIeNLdceXR67NI9Iwaq7DdBnohnnsc6eBHVvgx5TrWaas-9vzGi1DgFNgFwvyOIEN53HzDq88LeZiPqg"

#define RSA_N	"4iXCHdra79MXtcUhYCK5NGht5QbI47pWiaJvJUAk1v7g9uNdQA6Vi1kgNl9Dv2tgUS3oXRWyv7-lPSM44y7P0LIezH-OHreeeEIXWf9oQA16XRV2zH2hWRQgA4hPea-QI-H0KUB1A1fRj9iFiyZeFmM0l3kdVL-JgXZ_RiU8ZpUSvvgwYoY6bo4iWfR9hKzlttAXbeiPKG2JEH42u45gfYVqHWY-kaq2blRLkcw8pKVjKgWZDFacGAIHqrN5_oqIrPeJuKz0Gmf1zbmZ0_WRZ8ZpdVSwxMjvlGP9E9mtZs3dBhvHFFTfdwcfZ7EoDFh9ghytfhnHiNpp39JINI3fJw"
#define RSA_TP	"yimIa5BixIhKK-lidYm2Mj3iuJs_FvTuGAU_dUSPS_8"
#define RSA_SIG	"BtFUWdb7U_WfXsfvloqfMX2U8sFlRarliqVvcs3c_YalffcsQfdk75DffcvTg-cBuix96XNtbncTYfMD3EYhRD3asIJbotLSqaA58uW9WNja6GrbJM9jOmPcuMN-UL0pNjCU_cyemQJMztV3zye8oL1EF_wCGYjUcarofH1x1G3bSlKMZ0zp634qhVwAP-VxWLKXP_DFDyRnKEso6IesErkfZEpGDfhZlCgGjxzD0DIHmI46b24p29n82mxCHfvctf9EOWEJsTH8AsoKYB_-1cNrRBTHDBpN1fWWB9a0Fnf3A9eYItjIA6zRKj6COPenQbXDxH7V00NN9GV6xnKX8g"

#define ED_X	"ODPW7F2nKS3XSrUwVZbWoEA5ROsicw6H25DmcVompg4"
#define ED_TP	"Ub497hxFdKj9UV5oyx4LGCnRCbaiH2LWJ-OiFakRVhA"
#define ED_SIG	"Pu0NoU3QGtItsWbARXDfL2OYhIYOv4TUdeM6_5vBsMMi_UJaLtaZk3qonuY1BEaX1Is77CfS8A-NeVfIgaDWDQ"

#define HS_SIG	"DNKxkSgQfp9m7wWRO4M2CjZ4N44jMhCU-i4BSbnarCI"

static unsigned char *
dec(const char *s, size_t *n)
{
	unsigned char	*p;

	assert_int_equal(b64url_decode(s, strlen(s), &p, n), 0);
	return p;
}

/* Does sig verify over MSG with k and alg? */
static int
verifies(const struct jwk *k, enum jws_alg alg, const char *sig)
{
	unsigned char	*s;
	size_t		 n;
	int		 rc;

	s = dec(sig, &n);
	rc = jws_verify(k, alg, MSG, strlen(MSG), s, n);
	/* One bit off never verifies. */
	s[n / 2] ^= 1;
	if (rc == 1)
		assert_int_equal(jws_verify(k, alg, MSG, strlen(MSG), s, n), 0);
	free(s);
	return rc;
}

static void
test_b64url(void **state)
{
	unsigned char	*p;
	size_t		 n;
	char		*s;

	(void)state;
	s = b64url_encode((const unsigned char *)"\xfb\xff", 2);
	assert_string_equal(s, "-_8");
	free(s);
	p = dec("-_8", &n);
	assert_int_equal(n, 2);
	assert_memory_equal(p, "\xfb\xff", 2);
	free(p);
	p = dec("", &n);
	assert_int_equal(n, 0);
	free(p);
	/* Padding, the other alphabet, and a non-zero tail are refused. */
	assert_int_equal(b64url_decode("-_8=", 4, &p, &n), -1);
	assert_int_equal(b64url_decode("+/8", 3, &p, &n), -1);
	assert_int_equal(b64url_decode("-_9", 3, &p, &n), -1);
	assert_int_equal(b64url_decode("A", 1, &p, &n), -1);
	assert_int_equal(b64url_decode("QU JD", 5, &p, &n), -1);
}

static void
test_algs(void **state)
{
	(void)state;
	assert_int_equal(jws_alg_parse("ES256"), JWS_ES256);
	assert_int_equal(jws_alg_parse("EdDSA"), JWS_EDDSA);
	assert_int_equal(jws_alg_parse("HS256"), JWS_HS256);
	assert_int_equal(jws_alg_parse("none"), JWS_ALG__MAX);
	assert_int_equal(jws_alg_parse("es256"), JWS_ALG__MAX);
	assert_int_equal(jws_alg_parse(NULL), JWS_ALG__MAX);
}

static void
test_ec(void **state)
{
	struct jwk_members m = { "EC", "P-256", EC_X, EC_Y, NULL, NULL };
	struct jwk	 k;
	char		 tp[JWK_THUMBPRINT_LEN + 1], err[160];

	(void)state;
	assert_int_equal(jwk_load(&k, &m, err, sizeof(err)), 0);
	assert_int_equal(jwk_thumbprint(&k, tp), 0);
	assert_string_equal(tp, EC_TP);
	assert_int_equal(verifies(&k, JWS_ES256, EC_SIG), 1);
	/* The right signature under another algorithm name: no. */
	assert_int_equal(verifies(&k, JWS_ES384, EC_SIG), 0);
	assert_int_equal(verifies(&k, JWS_RS256, EC_SIG), 0);
	assert_int_equal(jwk_alg_fits(&k, JWS_HS256), 0);
	jwk_free(&k);
	/* y of another point: not on the curve. */
	m.y = EC_X;
	assert_int_equal(jwk_load(&k, &m, err, sizeof(err)), -1);
	m.y = EC_Y;
	m.crv = "P-192";
	assert_int_equal(jwk_load(&k, &m, err, sizeof(err)), -1);
	/* Short coordinates (leading zeros dropped) are refused. */
	m.crv = "P-256";
	m.x = "AQAB";
	assert_int_equal(jwk_load(&k, &m, err, sizeof(err)), -1);
}

/*
 * sig (r || s) under k both ways: ec_verify_raw (what jws_verify uses for
 * P-256 and P-384) and OpenSSL's EVP path (k without its point); they
 * must agree. The verdict.
 */
static int
both_paths(const struct jwk *k, enum jws_alg alg, const unsigned char *sig,
    size_t n)
{
	struct jwk	 evp = *k;
	int		 raw;

	evp.ec_pointlen = 0;
	raw = jws_verify(k, alg, MSG, strlen(MSG), sig, n);
	assert_int_equal(jws_verify(&evp, alg, MSG, strlen(MSG), sig, n), raw);
	return raw;
}

/* Edge signatures: wrong lengths, r or s zero, s the group order. */
static void
edge_sigs(const struct jwk *k, enum jws_alg alg, unsigned char *sig,
    size_t n, const unsigned char *order)
{
	unsigned char	 b[2 * 48 + 1];
	size_t		 h = n / 2;

	assert_int_equal(both_paths(k, alg, sig, n), 1);
	assert_int_equal(both_paths(k, alg, sig, n - 1), 0);
	memcpy(b, sig, n);
	b[n] = 0;
	assert_int_equal(both_paths(k, alg, b, n + 1), 0);
	memset(b, 0, h);
	assert_int_equal(both_paths(k, alg, b, n), 0);		/* r = 0 */
	memcpy(b, sig, h);
	memset(b + h, 0, h);
	assert_int_equal(both_paths(k, alg, b, n), 0);		/* s = 0 */
	memcpy(b + h, order, h);
	assert_int_equal(both_paths(k, alg, b, n), 0);		/* s = n */
	memset(b, 0xff, n);
	assert_int_equal(both_paths(k, alg, b, n), 0);
	b[0] = sig[0] ^ 0x80;
	memcpy(b + 1, sig + 1, n - 1);
	assert_int_equal(both_paths(k, alg, b, n), 0);
}

static void
test_ec_raw(void **state)
{
	static const unsigned char n256[32] = {
		0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84,
		0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51 };
	struct jwk_members m = { "EC", "P-256", EC_X, EC_Y, NULL, NULL };
	struct jwk	 k;
	unsigned char	*sig, raw[96], der[120], bx[48], by[48], n384[48];
	const unsigned char *p = der;
	char		 err[160], *x, *y;
	size_t		 n, dlen = sizeof(der);
	EVP_PKEY	*key;
	EVP_MD_CTX	*md;
	ECDSA_SIG	*es;
	BIGNUM		*bn = NULL, *ord;

	(void)state;
	assert_int_equal(jwk_load(&k, &m, err, sizeof(err)), 0);
	assert_int_equal((int)k.ec_pointlen, 65);
	sig = dec(EC_SIG, &n);
	edge_sigs(&k, JWS_ES256, sig, n, n256);
	free(sig);
	jwk_free(&k);

	/* P-384: a key and an ES384 signature made here. */
	assert_non_null(key = EVP_EC_gen("P-384"));
	assert_true(EVP_PKEY_get_bn_param(key, "qx", &bn) == 1 &&
	    BN_bn2binpad(bn, bx, 48) == 48);
	BN_free(bn);
	bn = NULL;
	assert_true(EVP_PKEY_get_bn_param(key, "qy", &bn) == 1 &&
	    BN_bn2binpad(bn, by, 48) == 48);
	BN_free(bn);
	x = b64url_encode(bx, 48);
	y = b64url_encode(by, 48);
	m.crv = "P-384";
	m.x = x;
	m.y = y;
	assert_int_equal(jwk_load(&k, &m, err, sizeof(err)), 0);
	assert_int_equal((int)k.ec_pointlen, 97);
	assert_non_null(md = EVP_MD_CTX_new());
	assert_true(EVP_DigestSignInit(md, NULL, EVP_sha384(), NULL, key) ==
	    1 && EVP_DigestSign(md, der, &dlen, (const unsigned char *)MSG,
	    strlen(MSG)) == 1);
	assert_non_null(es = d2i_ECDSA_SIG(NULL, &p, (long)dlen));
	assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_r(es), raw, 48), 48);
	assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_s(es), raw + 48, 48), 48);
	assert_non_null(ord = BN_new());
	assert_true(BN_hex2bn(&ord, "ffffffffffffffffffffffffffffffffffffffff"
	    "ffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973") > 0 &&
	    BN_bn2binpad(ord, n384, 48) == 48);
	edge_sigs(&k, JWS_ES384, raw, 96, n384);
	assert_int_equal(both_paths(&k, JWS_ES256, raw, 96), 0);
	BN_free(ord);
	ECDSA_SIG_free(es);
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(key);
	jwk_free(&k);
	free(x);
	free(y);
}

static void
test_rsa(void **state)
{
	struct jwk_members m = { "RSA", NULL, NULL, NULL, RSA_N, "AQAB" };
	struct jwk	 k;
	char		 tp[JWK_THUMBPRINT_LEN + 1], err[160];

	(void)state;
	assert_int_equal(jwk_load(&k, &m, err, sizeof(err)), 0);
	assert_int_equal(jwk_thumbprint(&k, tp), 0);
	assert_string_equal(tp, RSA_TP);
	assert_int_equal(verifies(&k, JWS_RS256, RSA_SIG), 1);
	assert_int_equal(verifies(&k, JWS_ES256, RSA_SIG), 0);
	jwk_free(&k);
	/* 1024 bits: refused. */
	m.n = "4iXCHdra79MXtcUhYCK5NGht5QbI47pWiaJvJUAk1v7g9uNdQA6Vi1kgNl9Dv2"
	    "tgUS3oXRWyv7-lPSM44y7P0LIezH-OHreeeEIXWf9oQA16XRV2zH2hWRQgA4hPe"
	    "a-QI-H0KUB1A1fRj9iFiyZeFmM0l3kdVL-JgXZ_RiU8ZpU";
	assert_int_equal(jwk_load(&k, &m, err, sizeof(err)), -1);
}

static void
test_ed25519(void **state)
{
	struct jwk_members m = { "OKP", "Ed25519", ED_X, NULL, NULL, NULL };
	struct jwk	 k;
	char		 tp[JWK_THUMBPRINT_LEN + 1], err[160];

	(void)state;
	assert_int_equal(jwk_load(&k, &m, err, sizeof(err)), 0);
	assert_int_equal(jwk_thumbprint(&k, tp), 0);
	assert_string_equal(tp, ED_TP);
	assert_int_equal(verifies(&k, JWS_EDDSA, ED_SIG), 1);
	assert_int_equal(verifies(&k, JWS_ES256, ED_SIG), 0);
	jwk_free(&k);
	m.crv = "X25519";
	assert_int_equal(jwk_load(&k, &m, err, sizeof(err)), -1);
	m.kty = "oct";
	assert_int_equal(jwk_load(&k, &m, err, sizeof(err)), -1);
}

static void
test_mac(void **state)
{
	unsigned char	 key[32], *s;
	size_t		 n;

	(void)state;
	memset(key, 'k', sizeof(key));
	s = dec(HS_SIG, &n);
	assert_int_equal(jws_mac_verify(JWS_HS256, key, sizeof(key), MSG,
	    strlen(MSG), s, n), 1);
	assert_int_equal(jws_mac_verify(JWS_HS384, key, sizeof(key), MSG,
	    strlen(MSG), s, n), 0);
	key[0] = 'x';
	assert_int_equal(jws_mac_verify(JWS_HS256, key, sizeof(key), MSG,
	    strlen(MSG), s, n), 0);
	assert_int_equal(jws_mac_verify(JWS_ES256, key, sizeof(key), MSG,
	    strlen(MSG), s, n), -1);
	free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_b64url),
		cmocka_unit_test(test_algs),
		cmocka_unit_test(test_ec),
		cmocka_unit_test(test_ec_raw),
		cmocka_unit_test(test_rsa),
		cmocka_unit_test(test_ed25519),
		cmocka_unit_test(test_mac),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
