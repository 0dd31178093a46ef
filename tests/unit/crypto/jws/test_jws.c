/*
 * Unit tests for jws.c: strict base64url, JWKs of each kind (and what
 * jwk_load refuses), RFC 7638 thumbprints, and JWS signature and MAC
 * checks (ES256, RS256, EdDSA, HS256) against vectors made with
 * pyca/cryptography; a signature checks only with its own algorithm.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

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
		cmocka_unit_test(test_rsa),
		cmocka_unit_test(test_ed25519),
		cmocka_unit_test(test_mac),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
