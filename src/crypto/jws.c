/*
 * jws.c - the JOSE pieces ACME needs (RFC 7515, 7517, 7518, 7638, 8037):
 * base64url, public JWKs (EC P-256/P-384/P-521, RSA, Ed25519) as EVP_PKEYs,
 * their thumbprint, and signature and MAC checks by algorithm. The JSON of
 * a JWS is the acme room's (src/acme/jws_req.c): OpenSSL stays here.
 *
 * Not a JOSE library (libjose, cjose): ACME needs only the verifying half
 * of a few algorithms, and the server must refuse everything else ("none",
 * HMAC on a public key, algorithm/key mismatches), which is simplest to
 * get right when the list of what is accepted is this file.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "crypto.h"

static const char b64url_chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

char *
b64url_encode(const unsigned char *p, size_t n)
{
	char	*out, *o;
	size_t	 i;
	uint32_t v;

	if ((out = malloc(n / 3 * 4 + 5)) == NULL)
		return NULL;
	o = out;
	for (i = 0; i + 2 < n; i += 3) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		*o++ = b64url_chars[v >> 18 & 63];
		*o++ = b64url_chars[v >> 12 & 63];
		*o++ = b64url_chars[v >> 6 & 63];
		*o++ = b64url_chars[v & 63];
	}
	if (n - i == 1) {
		v = (uint32_t)p[i] << 16;
		*o++ = b64url_chars[v >> 18 & 63];
		*o++ = b64url_chars[v >> 12 & 63];
	} else if (n - i == 2) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
		*o++ = b64url_chars[v >> 18 & 63];
		*o++ = b64url_chars[v >> 12 & 63];
		*o++ = b64url_chars[v >> 6 & 63];
	}
	*o = '\0';
	return out;
}

static int
b64url_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

/*
 * Strict: the URL alphabet, no padding, no whitespace, and the unused
 * bits of the last character zero (one encoding per value, RFC 7515 2).
 * Returns 0 with *out (malloc'd, NUL after the bytes), or -1.
 */
int
b64url_decode(const char *s, size_t n, unsigned char **out, size_t *outlen)
{
	unsigned char	*o;
	size_t		 i, k = 0;
	uint32_t	 acc = 0;
	int		 v, bits = 0;

	*out = NULL;
	*outlen = 0;
	if (n % 4 == 1 || (o = malloc(n / 4 * 3 + 3)) == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		if ((v = b64url_value((unsigned char)s[i])) == -1) {
			free(o);
			return -1;
		}
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			o[k++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	if (acc != 0) {
		free(o);
		return -1;
	}
	o[k] = '\0';
	*out = o;
	*outlen = k;
	return 0;
}

enum jws_alg
jws_alg_parse(const char *s)
{
	static const char *const names[JWS_ALG__MAX] = {
		[JWS_RS256] = "RS256", [JWS_ES256] = "ES256",
		[JWS_ES384] = "ES384", [JWS_ES512] = "ES512",
		[JWS_EDDSA] = "EdDSA", [JWS_HS256] = "HS256",
		[JWS_HS384] = "HS384", [JWS_HS512] = "HS512",
	};
	int	 i;

	for (i = 0; s != NULL && i < JWS_ALG__MAX; i++)
		if (names[i] != NULL && strcmp(s, names[i]) == 0)
			return (enum jws_alg)i;
	return JWS_ALG__MAX;
}

static const char *
alg_digest(enum jws_alg alg)
{
	switch (alg) {
	case JWS_RS256:
	case JWS_ES256:
	case JWS_HS256:
		return "SHA256";
	case JWS_ES384:
	case JWS_HS384:
		return "SHA384";
	case JWS_ES512:
	case JWS_HS512:
		return "SHA512";
	default:
		return NULL;	/* EdDSA: pure */
	}
}

/* Decode a b64url member that must be there; 0 or -1 with err. */
static int
member(const char *name, const char *v, unsigned char **out, size_t *len,
    char *err, size_t errlen)
{
	if (v == NULL || b64url_decode(v, strlen(v), out, len) == -1 ||
	    *len == 0) {
		snprintf(err, errlen, "jwk: \"%s\" missing or not base64url",
		    name);
		return -1;
	}
	return 0;
}

static int
jwk_ec(struct jwk *k, const char *crv, const char *x, const char *y,
    char *err, size_t errlen)
{
	static const struct {
		const char *crv, *group;
		size_t	 len;
		enum jwk_kind kind;
	} curves[] = {
		{ "P-256", "prime256v1", 32, JWK_EC_P256 },
		{ "P-384", "secp384r1", 48, JWK_EC_P384 },
		{ "P-521", "secp521r1", 66, JWK_EC_P521 },
	};
	unsigned char	*bx = NULL, *by = NULL, *pt = NULL;
	size_t		 lx, ly, i;
	OSSL_PARAM_BLD	*bld = NULL;
	OSSL_PARAM	*params = NULL;
	EVP_PKEY_CTX	*ctx = NULL;
	int		 rc = -1;

	for (i = 0; i < nitems(curves); i++)
		if (crv != NULL && strcmp(crv, curves[i].crv) == 0)
			break;
	if (i == nitems(curves)) {
		snprintf(err, errlen, "jwk: curve \"%s\" not supported (P-256, "
		    "P-384, P-521)", crv != NULL ? crv : "");
		return -1;
	}
	if (member("x", x, &bx, &lx, err, errlen) == -1 ||
	    member("y", y, &by, &ly, err, errlen) == -1)
		goto out;
	/* RFC 7518 6.2.1.2: the full coordinate length, leading zeros kept. */
	if (lx != curves[i].len || ly != curves[i].len) {
		snprintf(err, errlen, "jwk: %s coordinates must be %zu bytes",
		    curves[i].crv, curves[i].len);
		goto out;
	}
	if ((pt = malloc(1 + 2 * lx)) == NULL)
		goto out;
	pt[0] = 4;
	memcpy(pt + 1, bx, lx);
	memcpy(pt + 1 + lx, by, ly);
	if ((bld = OSSL_PARAM_BLD_new()) == NULL ||
	    !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
	    curves[i].group, 0) ||
	    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pt,
	    1 + 2 * lx) ||
	    (params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
	    (ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, &k->pkey, EVP_PKEY_PUBLIC_KEY,
	    params) <= 0) {
		snprintf(err, errlen, "jwk: not a point on %s", curves[i].crv);
		goto out;
	}
	/*
	 * fromdata does not check the point: the quick public key check
	 * does (on the curve; the prime-order curves have no small
	 * subgroup, so the full check's scalar multiplication adds nothing).
	 */
	EVP_PKEY_CTX_free(ctx);
	if ((ctx = EVP_PKEY_CTX_new(k->pkey, NULL)) == NULL ||
	    EVP_PKEY_public_check_quick(ctx) != 1) {
		snprintf(err, errlen, "jwk: not a point on %s", curves[i].crv);
		goto out;
	}
	k->kind = curves[i].kind;
	if (k->kind != JWK_EC_P521) {
		memcpy(k->ec_point, pt, 1 + 2 * lx);
		k->ec_pointlen = 1 + 2 * lx;
	}
	if (asprintf(&k->canon, "{\"crv\":\"%s\",\"kty\":\"EC\",\"x\":\"%s\","
	    "\"y\":\"%s\"}", curves[i].crv, x, y) == -1)
		k->canon = NULL;
	else
		rc = 0;
out:
	free(bx);
	free(by);
	free(pt);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	EVP_PKEY_CTX_free(ctx);
	return rc;
}

static int
jwk_rsa(struct jwk *k, const char *n, const char *e, char *err, size_t errlen)
{
	unsigned char	*bn_ = NULL, *be = NULL;
	size_t		 ln, le;
	BIGNUM		*N = NULL, *E = NULL;
	OSSL_PARAM_BLD	*bld = NULL;
	OSSL_PARAM	*params = NULL;
	EVP_PKEY_CTX	*ctx = NULL;
	const char	*why;
	int		 rc = -1, bits;

	if (member("n", n, &bn_, &ln, err, errlen) == -1 ||
	    member("e", e, &be, &le, err, errlen) == -1)
		goto out;
	/* No leading zero octets (RFC 7518 6.3.1): one encoding per key. */
	if (bn_[0] == 0 || be[0] == 0 || le > 8) {
		snprintf(err, errlen, "jwk: RSA n or e badly encoded");
		goto out;
	}
	bits = (int)ln * 8;
	if (bits < 2048 || bits > 8192) {
		snprintf(err, errlen, "jwk: RSA keys of 2048 to 8192 bits "
		    "only");
		goto out;
	}
	/* e = 1 "verifies" any signature; why = the modulus's flaw. */
	if (!(be[le - 1] & 1) || (le == 1 && be[0] < 3)) {
		snprintf(err, errlen, "jwk: the RSA exponent must be odd and "
		    "at least 3");
		goto out;
	}
	if ((why = rsa_modulus_weak(bn_, ln)) != NULL) {
		snprintf(err, errlen, "jwk: %s", why);
		goto out;
	}
	if ((N = BN_bin2bn(bn_, (int)ln, NULL)) == NULL ||
	    (E = BN_bin2bn(be, (int)le, NULL)) == NULL ||
	    (bld = OSSL_PARAM_BLD_new()) == NULL ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, N) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, E) ||
	    (params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
	    (ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, &k->pkey, EVP_PKEY_PUBLIC_KEY,
	    params) <= 0) {
		snprintf(err, errlen, "jwk: not an RSA public key");
		goto out;
	}
	k->kind = JWK_RSA;
	if (asprintf(&k->canon, "{\"e\":\"%s\",\"kty\":\"RSA\",\"n\":\"%s\"}",
	    e, n) == -1)
		k->canon = NULL;
	else
		rc = 0;
out:
	free(bn_);
	free(be);
	BN_free(N);
	BN_free(E);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	EVP_PKEY_CTX_free(ctx);
	return rc;
}

static int
jwk_okp(struct jwk *k, const char *crv, const char *x, char *err,
    size_t errlen)
{
	unsigned char	*bx = NULL;
	size_t		 lx;
	int		 rc = -1;

	if (crv == NULL || strcmp(crv, "Ed25519") != 0) {
		snprintf(err, errlen, "jwk: OKP curve \"%s\" not supported "
		    "(Ed25519)", crv != NULL ? crv : "");
		return -1;
	}
	if (member("x", x, &bx, &lx, err, errlen) == -1)
		return -1;
	if (lx != 32 || (k->pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519,
	    NULL, bx, lx)) == NULL) {
		snprintf(err, errlen, "jwk: not an Ed25519 public key");
		goto out;
	}
	/* One of small order takes R = identity, S = 0 for any message. */
	if (ed25519_small_order(bx)) {
		snprintf(err, errlen, "jwk: an Ed25519 point of small order");
		goto out;
	}
	k->kind = JWK_ED25519;
	if (asprintf(&k->canon, "{\"crv\":\"Ed25519\",\"kty\":\"OKP\","
	    "\"x\":\"%s\"}", x) == -1)
		k->canon = NULL;
	else
		rc = 0;
out:
	free(bx);
	return rc;
}

int
jwk_load(struct jwk *k, const struct jwk_members *m, char *err, size_t errlen)
{
	int	 rc;

	memset(k, 0, sizeof(*k));
	if (m->kty == NULL)
		rc = (snprintf(err, errlen, "jwk: no \"kty\""), -1);
	else if (strcmp(m->kty, "EC") == 0)
		rc = jwk_ec(k, m->crv, m->x, m->y, err, errlen);
	else if (strcmp(m->kty, "RSA") == 0)
		rc = jwk_rsa(k, m->n, m->e, err, errlen);
	else if (strcmp(m->kty, "OKP") == 0)
		rc = jwk_okp(k, m->crv, m->x, err, errlen);
	else
		rc = (snprintf(err, errlen, "jwk: key type \"%s\" not "
		    "supported (EC, RSA, OKP)", m->kty), -1);
	if (rc == 0 && k->canon == NULL)
		rc = (snprintf(err, errlen, "out of memory"), -1);
	if (rc == -1)
		jwk_free(k);
	return rc;
}

void
jwk_free(struct jwk *k)
{
	EVP_PKEY_free(k->pkey);
	free(k->canon);
	memset(k, 0, sizeof(*k));
}

int
jwk_thumbprint(const struct jwk *k, char out[JWK_THUMBPRINT_LEN + 1])
{
	unsigned char	 md[32];
	char		*s;

	if (EVP_Digest(k->canon, strlen(k->canon), md, NULL, EVP_sha256(),
	    NULL) != 1 || (s = b64url_encode(md, sizeof(md))) == NULL)
		return -1;
	memcpy(out, s, JWK_THUMBPRINT_LEN + 1);
	free(s);
	return 0;
}

int
jwk_alg_fits(const struct jwk *k, enum jws_alg alg)
{
	switch (k->kind) {
	case JWK_EC_P256:
		return alg == JWS_ES256;
	case JWK_EC_P384:
		return alg == JWS_ES384;
	case JWK_EC_P521:
		return alg == JWS_ES512;
	case JWK_RSA:
		return alg == JWS_RS256;
	case JWK_ED25519:
		return alg == JWS_EDDSA;
	default:
		return 0;
	}
}

/* JWS ECDSA signatures are r || s of the coordinate length (RFC 7518 3.4). */
static unsigned char *
ecdsa_raw_to_der(enum jwk_kind kind, const unsigned char *sig, size_t len,
    int *derlen)
{
	size_t		 half = kind == JWK_EC_P256 ? 32 :
			    kind == JWK_EC_P384 ? 48 : 66;
	ECDSA_SIG	*es = NULL;
	BIGNUM		*r = NULL, *s = NULL;
	unsigned char	*der = NULL;

	*derlen = 0;
	if (len != 2 * half)
		return NULL;
	if ((es = ECDSA_SIG_new()) == NULL ||
	    (r = BN_bin2bn(sig, (int)half, NULL)) == NULL ||
	    (s = BN_bin2bn(sig + half, (int)half, NULL)) == NULL ||
	    ECDSA_SIG_set0(es, r, s) != 1) {
		BN_free(r);
		BN_free(s);
		ECDSA_SIG_free(es);
		return NULL;
	}
	if ((*derlen = i2d_ECDSA_SIG(es, &der)) <= 0)
		der = NULL;
	ECDSA_SIG_free(es);
	return der;
}

int
jws_verify(const struct jwk *k, enum jws_alg alg, const void *in, size_t inlen,
    const unsigned char *sig, size_t siglen)
{
	EVP_MD_CTX	*ctx;
	unsigned char	*der = NULL;
	int		 derlen, rc;

	if (!jwk_alg_fits(k, alg))
		return 0;
	/*
	 * P-256 and P-384 without an EVP_PKEY_CTX: its set-up (fetches,
	 * locks) cost a fifth of the verification (ecdsa.c).
	 */
	if (k->ec_pointlen > 0) {
		/* -2 (a point off the curve) cannot pass jwk_load: a no. */
		rc = ec_verify_raw(k->kind == JWK_EC_P256 ? KEY_EC_P256 :
		    KEY_EC_P384, k->ec_point, k->ec_pointlen, alg == JWS_ES256 ?
		    EC_MD_SHA256 : EC_MD_SHA384, in, inlen, sig, siglen);
		return rc == -2 ? 0 : rc;
	}
	if (k->kind == JWK_EC_P256 || k->kind == JWK_EC_P384 ||
	    k->kind == JWK_EC_P521) {
		if ((der = ecdsa_raw_to_der(k->kind, sig, siglen, &derlen)) ==
		    NULL)
			return 0;
		sig = der;
		siglen = (size_t)derlen;
	}
	if ((ctx = EVP_MD_CTX_new()) == NULL) {
		OPENSSL_free(der);
		return -1;
	}
	rc = EVP_DigestVerifyInit_ex(ctx, NULL, alg_digest(alg), NULL, NULL,
	    k->pkey, NULL) == 1 &&
	    EVP_DigestVerify(ctx, sig, siglen, in, inlen) == 1;
	EVP_MD_CTX_free(ctx);
	OPENSSL_free(der);
	return rc;
}

int
jws_mac(enum jws_alg alg, const unsigned char *key, size_t keylen,
    const void *in, size_t inlen, unsigned char out[64], size_t *outlen)
{
	unsigned int	 n = 0;
	const EVP_MD	*md;

	switch (alg) {
	case JWS_HS256:
		md = EVP_sha256();
		break;
	case JWS_HS384:
		md = EVP_sha384();
		break;
	case JWS_HS512:
		md = EVP_sha512();
		break;
	default:
		return -1;
	}
	if (HMAC(md, key, (int)keylen, in, inlen, out, &n) == NULL)
		return -1;
	*outlen = n;
	return 0;
}

struct mac_key {
	EVP_MAC_CTX	*tmpl;		/* keyed; only ever duplicated */
};

struct mac_key *
mac_key_new(enum jws_alg alg, const unsigned char *key, size_t keylen)
{
	const char	*md = alg == JWS_HS256 || alg == JWS_HS384 ||
			    alg == JWS_HS512 ? alg_digest(alg) : NULL;
	struct mac_key	*mk;
	EVP_MAC		*mac;
	OSSL_PARAM	 params[2];

	if (md == NULL || (mk = calloc(1, sizeof(*mk))) == NULL)
		return NULL;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    (char *)md, 0);
	params[1] = OSSL_PARAM_construct_end();
	if ((mac = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL ||
	    (mk->tmpl = EVP_MAC_CTX_new(mac)) == NULL ||
	    EVP_MAC_init(mk->tmpl, key, keylen, params) != 1) {
		EVP_MAC_free(mac);
		mac_key_free(mk);
		return NULL;
	}
	EVP_MAC_free(mac);	/* the context keeps its own reference */
	return mk;
}

int
mac_key_compute(const struct mac_key *mk, const void *in, size_t inlen,
    unsigned char out[64], size_t *outlen)
{
	EVP_MAC_CTX	*c;
	int		 ok;

	if ((c = EVP_MAC_CTX_dup(mk->tmpl)) == NULL)
		return -1;
	ok = EVP_MAC_update(c, in, inlen) == 1 &&
	    EVP_MAC_final(c, out, outlen, 64) == 1;
	EVP_MAC_CTX_free(c);
	return ok ? 0 : -1;
}

void
mac_key_free(struct mac_key *mk)
{
	if (mk == NULL)
		return;
	EVP_MAC_CTX_free(mk->tmpl);
	free(mk);
}

int
jws_mac_verify(enum jws_alg alg, const unsigned char *key, size_t keylen,
    const void *in, size_t inlen, const unsigned char *sig, size_t siglen)
{
	unsigned char	 mac[64];
	size_t		 n;

	if (jws_mac(alg, key, keylen, in, inlen, mac, &n) == -1)
		return -1;
	return n == siglen && CRYPTO_memcmp(mac, sig, n) == 0;
}

int
jwk_spki(const struct jwk *k, unsigned char **der, size_t *len)
{
	unsigned char	*o = NULL;
	int		 n;

	*der = NULL;
	if ((n = i2d_PUBKEY(k->pkey, &o)) <= 0)
		return -1;
	/* The caller frees with free(), not OPENSSL_free. */
	if ((*der = malloc((size_t)n)) != NULL)
		memcpy(*der, o, (size_t)n);
	OPENSSL_free(o);
	*len = (size_t)n;
	return *der != NULL ? 0 : -1;
}

int
random_fill(void *p, size_t n)
{
	return RAND_bytes(p, (int)n) == 1 ? 0 : -1;
}

int
sha256_raw(const void *p, size_t n, unsigned char out[32])
{
	return EVP_Digest(p, n, out, NULL, EVP_sha256(), NULL) == 1 ? 0 : -1;
}
