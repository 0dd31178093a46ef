/*
 * fuzz_jws.c - libFuzzer target: the body of an ACME POST, a flattened
 * JWS, through the code acme_jws_read runs on it before the database
 * (src/acme/jws_req.c: acme_jws_split, acme_jwk_from_json) and the JOSE
 * pieces of src/crypto/jws.c: jws_alg_parse, b64url_decode, jwk_load,
 * jwk_thumbprint, jwk_alg_fits, jwk_spki, jws_verify, jws_mac_verify.
 * The key of a "kid" is the fixture account's (the database's, in the
 * server); an inner JWS in the payload (keyChange, externalAccountBinding)
 * and an "oldKey" or a JWK as payload go the same way. A body that is a
 * JWK itself is loaded too (as an account's stored key is), so that the
 * fuzzer reaches jwk_load without going through base64.
 *
 * What must hold (else abort), beyond no crash, leak or undefined
 * behaviour:
 * - base64url: what decodes encodes back to the very text (one encoding
 *   per value), here and with OpenSSL's base64 encoder, and text refused
 *   is not base64url; any bytes encode and decode back;
 * - a refusal is a 400 (a 500 only for out of memory) with a type and a
 *   detail, and leaves no key behind;
 * - a split JWS gives the signing input "protected.payload" exactly, and
 *   the header and payload the strings decode to;
 * - a JWK that loads is the key OpenSSL holds: its thumbprint input is
 *   the RFC 7638 JSON made here from OpenSSL's view of the key (so one key
 *   has one thumbprint), the thumbprint is 43 base64url characters of its
 *   SHA-256, its SPKI loads in OpenSSL as the same key, exactly one
 *   algorithm (not a MAC) fits it, and it loads again from its own JSON;
 * - jws_verify returns 1, 0 or -1, 0 for an algorithm that does not fit,
 *   the same on P-256 and P-384 through ec_verify_raw as through EVP; a
 *   signature that verifies stops verifying when the input or the
 *   signature changes by a bit or the input by a byte; a signature made
 *   here over a fixed input verifies only over that input.
 */
#include "acme/acme_int.h"
#include "fuzz.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

/* The fixture account's key: what a "kid" names (seeds are signed by it). */
static const char account_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgJogebRCHiFFiFbOh\n"
    "ii/nAbFXNHQ9QDWvglMv7iq5b/ehRANCAARVivK07QL8bc5ndCq5vWpAhPBPAlk1\n"
    "vh9Z2kK3WeevobjBHL0SqUTey4A/mLjo+iRg5R2XpCYb5ptMDikxIWlR\n"
    "-----END PRIVATE KEY-----\n";
/* The HMAC key of an externalAccountBinding (seeds are MACed with it). */
static const unsigned char eab_key[] = "fuzz-jws eab key, 32 bytes long";
/* Signed at start with the account key. */
static const char fixed_input[] =
    "eyJhbGciOiJFUzI1NiJ9.eyJmaXh0dXJlIjoiZnV6el9qd3MifQ";

static struct jwk	 account;
static unsigned char	 fixed_sig[64];
static int		 trace;	/* $FUZZ_JWS_TRACE: print the verdicts */

/* Base64url the way OpenSSL's base64 makes it, for the comparisons. */
static char *
ossl_b64url(const unsigned char *p, size_t n)
{
	char	*s;
	size_t	 i, o = 0;
	int	 len;

	if ((s = malloc(n / 3 * 4 + 5)) == NULL)
		abort();
	if ((len = EVP_EncodeBlock((unsigned char *)s, p, (int)n)) < 0)
		abort();
	for (i = 0; i < (size_t)len && s[i] != '='; i++)
		s[o++] = s[i] == '+' ? '-' : s[i] == '/' ? '_' : s[i];
	s[o] = '\0';
	return s;
}

static int
b64url_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/*
 * The base64url properties on text s (n bytes): decoded, it encodes back
 * to s, both here and as OpenSSL does; refused, it is not base64url (a
 * character outside the alphabet, a length of 4k + 1, or bits set past
 * the last byte).
 */
static void
b64_check(const char *s, size_t n)
{
	unsigned char	*d;
	char		*e, *oe;
	size_t		 dl, i;
	int		 alphabet = 1, tail;

	if (b64url_decode(s, n, &d, &dl) == 0) {
		if (d[dl] != '\0')
			fuzz_fail("b64url_decode: no NUL after the bytes");
		if ((e = b64url_encode(d, dl)) == NULL)
			abort();
		oe = ossl_b64url(d, dl);
		if (strlen(e) != n || memcmp(e, s, n) != 0)
			fuzz_fail("b64url_encode(b64url_decode(s)) is not s");
		if (strcmp(e, oe) != 0)
			fuzz_fail("b64url_encode differs from OpenSSL's");
		free(e);
		free(oe);
		free(d);
		return;
	}
	if (d != NULL || dl != 0)
		fuzz_fail("b64url_decode refused but left output");
	for (i = 0; i < n; i++)
		alphabet &= b64url_char((unsigned char)s[i]);
	if (!alphabet || n % 4 == 1)
		return;
	/* The last character's bits that fall past the last byte. */
	tail = 0;
	if (n % 4 == 2)
		tail = 0x0f;
	else if (n % 4 == 3)
		tail = 0x03;
	for (i = 0; i < 64; i++)
		if ("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		    "0123456789-_"[i] == s[n - 1])
			break;
	if (tail == 0 || ((int)i & tail) == 0)
		fuzz_fail("b64url_decode refused base64url text");
}

/* b64_check on a JSON string member, when there is one. */
static void
b64_member(json_t *o, const char *name)
{
	json_t	*v = json_object_get(o, name);

	if (json_is_string(v))
		b64_check(json_string_value(v), json_string_length(v));
}

/* A refusal: a client error with a type and a detail. */
static void
problem_check(const struct acme_problem *p)
{
	if (p->status != 400 && !(p->status == 500 &&
	    strcmp(p->type, "serverInternal") == 0))
		fuzz_fail("a refusal that is not a 400");
	if (p->type[0] == '\0' || p->detail[0] == '\0')
		fuzz_fail("a refusal without a type or a detail");
}

/* A BIGNUM parameter of pk as base64url of n bytes (0: minimal). */
static char *
bn_b64url(const EVP_PKEY *pk, const char *param, int n)
{
	BIGNUM		*b = NULL;
	unsigned char	 buf[1024];
	char		*s;
	int		 len;

	if (!EVP_PKEY_get_bn_param(pk, param, &b))
		fuzz_fail("OpenSSL has no such parameter of the key");
	if (n == 0)
		n = BN_num_bytes(b);
	if (n <= 0 || n > (int)sizeof(buf) ||
	    (len = BN_bn2binpad(b, buf, n)) != n)
		fuzz_fail("a key parameter out of range");
	s = ossl_b64url(buf, (size_t)len);
	BN_free(b);
	return s;
}

static const struct {
	const char	*group, *crv;
	int		 len;
	enum jwk_kind	 kind;
} curves[] = {
	{ "prime256v1", "P-256", 32, JWK_EC_P256 },
	{ "secp384r1", "P-384", 48, JWK_EC_P384 },
	{ "secp521r1", "P-521", 66, JWK_EC_P521 },
};

/* The curves[] entry of an EC key. */
static size_t
ossl_curve(const EVP_PKEY *pk)
{
	char	 group[64];
	size_t	 i;

	if (!EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME,
	    group, sizeof(group), NULL))
		fuzz_fail("an EC key without a group");
	for (i = 0; i < nitems(curves); i++)
		if (strcmp(group, curves[i].group) == 0)
			return i;
	fuzz_fail("an EC key on another curve");
}

/*
 * The RFC 7638 thumbprint input of pk, made from what OpenSSL reads of the
 * key: members in order, no white space, coordinates of the curve's full
 * length, n and e without leading zeros. malloc'd.
 */
static char *
ossl_canon(const EVP_PKEY *pk)
{
	char		*x, *y = NULL, *out = NULL;
	unsigned char	 raw[32];
	size_t		 rawlen = sizeof(raw), c;

	if (EVP_PKEY_is_a(pk, "EC")) {
		c = ossl_curve(pk);
		x = bn_b64url(pk, OSSL_PKEY_PARAM_EC_PUB_X, curves[c].len);
		y = bn_b64url(pk, OSSL_PKEY_PARAM_EC_PUB_Y, curves[c].len);
		if (asprintf(&out, "{\"crv\":\"%s\",\"kty\":\"EC\",\"x\":\"%s\","
		    "\"y\":\"%s\"}", curves[c].crv, x, y) == -1)
			abort();
	} else if (EVP_PKEY_is_a(pk, "RSA")) {
		x = bn_b64url(pk, OSSL_PKEY_PARAM_RSA_N, 0);
		y = bn_b64url(pk, OSSL_PKEY_PARAM_RSA_E, 0);
		if (asprintf(&out, "{\"e\":\"%s\",\"kty\":\"RSA\",\"n\":\"%s\"}",
		    y, x) == -1)
			abort();
	} else if (EVP_PKEY_is_a(pk, "ED25519")) {
		if (!EVP_PKEY_get_raw_public_key(pk, raw, &rawlen) ||
		    rawlen != 32)
			fuzz_fail("an Ed25519 key without its 32 bytes");
		x = ossl_b64url(raw, rawlen);
		if (asprintf(&out, "{\"crv\":\"Ed25519\",\"kty\":\"OKP\","
		    "\"x\":\"%s\"}", x) == -1)
			abort();
	} else
		fuzz_fail("a key of another type");
	free(x);
	free(y);
	return out;
}

/* The kind OpenSSL's key is. */
static enum jwk_kind
ossl_kind(const EVP_PKEY *pk)
{
	if (EVP_PKEY_is_a(pk, "EC"))
		return curves[ossl_curve(pk)].kind;
	if (EVP_PKEY_is_a(pk, "RSA"))
		return JWK_RSA;
	if (EVP_PKEY_is_a(pk, "ED25519"))
		return JWK_ED25519;
	return JWK__MAX;
}

/* What must hold of a JWK that loaded. */
static void
key_check(const struct jwk *k)
{
	char		 tp[JWK_THUMBPRINT_LEN + 1], *canon, *otp;
	unsigned char	 md[32], *spki;
	const unsigned char *p;
	size_t		 spkilen, i;
	EVP_PKEY	*pk;
	json_t		*o;
	struct jwk	 again;
	struct acme_problem prob;
	int		 a, fits = 0;

	if (k->pkey == NULL || k->canon == NULL || k->kind >= JWK__MAX)
		fuzz_fail("a JWK loaded without a key");
	if (ossl_kind(k->pkey) != k->kind)
		fuzz_fail("the JWK's kind is not its key's");
	if ((k->kind == JWK_EC_P256 && k->ec_pointlen != 65) ||
	    (k->kind == JWK_EC_P384 && k->ec_pointlen != 97) ||
	    (k->kind != JWK_EC_P256 && k->kind != JWK_EC_P384 &&
	    k->ec_pointlen != 0))
		fuzz_fail("the JWK's point is not its curve's");
	canon = ossl_canon(k->pkey);
	if (strcmp(canon, k->canon) != 0)
		fuzz_fail("the thumbprint input is not the key's (one key, "
		    "two thumbprints)");
	free(canon);

	memset(tp, 'Z', sizeof(tp));
	if (jwk_thumbprint(k, tp) == -1)
		fuzz_fail("jwk_thumbprint failed");
	if (strnlen(tp, sizeof(tp)) != JWK_THUMBPRINT_LEN)
		fuzz_fail("a thumbprint not of 43 characters");
	for (i = 0; i < JWK_THUMBPRINT_LEN; i++)
		if (!b64url_char((unsigned char)tp[i]))
			fuzz_fail("a thumbprint not in base64url");
	if (EVP_Digest(k->canon, strlen(k->canon), md, NULL, EVP_sha256(),
	    NULL) != 1)
		abort();
	otp = ossl_b64url(md, sizeof(md));
	if (strcmp(otp, tp) != 0)
		fuzz_fail("the thumbprint is not SHA-256 of its input");
	free(otp);

	if (jwk_spki(k, &spki, &spkilen) == -1)
		fuzz_fail("jwk_spki failed on a key that loaded");
	p = spki;
	if ((pk = d2i_PUBKEY(NULL, &p, (long)spkilen)) == NULL ||
	    p != spki + spkilen || EVP_PKEY_eq(pk, k->pkey) != 1)
		fuzz_fail("the SPKI is not the JWK's key");
	EVP_PKEY_free(pk);
	free(spki);

	for (a = 0; a <= JWS_ALG__MAX; a++) {
		if (!jwk_alg_fits(k, (enum jws_alg)a))
			continue;
		if (a == JWS_HS256 || a == JWS_HS384 || a == JWS_HS512 ||
		    a == JWS_ALG__MAX)
			fuzz_fail("a MAC or no algorithm fits a public key");
		fits++;
	}
	if (fits != 1)
		fuzz_fail("not exactly one algorithm fits the key");

	/* What an account stores is the canon: it must load the same. */
	if ((o = json_loads(k->canon, 0, NULL)) == NULL)
		fuzz_fail("the thumbprint input is not JSON");
	if (acme_jwk_from_json(o, &again, &prob) == -1 ||
	    strcmp(again.canon, k->canon) != 0 ||
	    EVP_PKEY_eq(again.pkey, k->pkey) != 1)
		fuzz_fail("a key does not load again from its own JSON");
	jwk_free(&again);
	json_decref(o);
}

/* acme_jwk_from_json on o, and key_check on what it loads; 0 or -1. */
static int
jwk_try(json_t *o, struct jwk *k)
{
	struct acme_problem	 p;
	size_t			 i;
	static const char *const members[] = { "x", "y", "n", "e" };

	for (i = 0; i < nitems(members); i++)
		b64_member(o, members[i]);
	memset(&p, 0, sizeof(p));
	if (acme_jwk_from_json(o, k, &p) == -1) {
		if (trace)
			fprintf(stderr, "acme_jwk_from_json: %u %s: %s\n",
			    p.status, p.type, p.detail);
		problem_check(&p);
		if (k->pkey != NULL || k->canon != NULL)
			fuzz_fail("a refused JWK left a key behind");
		return -1;
	}
	key_check(k);
	return 0;
}

/*
 * jws_verify(k, alg, in, sig) and the properties of its answer: the
 * answer.
 */
static int
verify_check(const struct jwk *k, enum jws_alg alg, const char *in,
    size_t inlen, const unsigned char *sig, size_t siglen)
{
	struct jwk	 evp;
	unsigned char	*m;
	size_t		 mlen = inlen > siglen ? inlen : siglen;
	int		 v;

	v = jws_verify(k, alg, in, inlen, sig, siglen);
	if (trace)
		fprintf(stderr, "jws_verify, key kind %d, alg %d: %d\n",
		    k->kind, alg, v);
	if (v != 1 && v != 0 && v != -1)
		fuzz_fail("jws_verify returned something else than 1, 0, -1");
	if (v != 0 && !jwk_alg_fits(k, alg))
		fuzz_fail("jws_verify took an algorithm that does not fit");
	if (k->ec_pointlen > 0) {
		evp = *k;
		evp.ec_pointlen = 0;
		if (jws_verify(&evp, alg, in, inlen, sig, siglen) != v)
			fuzz_fail("ec_verify_raw and EVP disagree");
	}
	if (v != 1)
		return v;
	/* One bit off, one byte less or more: never. */
	if ((m = malloc(mlen + 1)) == NULL)
		abort();
	memcpy(m, in, inlen);
	m[inlen] = '.';
	if (jws_verify(k, alg, m, inlen + 1, sig, siglen) != 0 ||
	    (inlen > 0 && jws_verify(k, alg, m, inlen - 1, sig, siglen) != 0))
		fuzz_fail("a signature verifies over another length");
	m[inlen / 2] ^= 0x01;
	if (jws_verify(k, alg, m, inlen, sig, siglen) != 0)
		fuzz_fail("a signature verifies over a changed input");
	memcpy(m, sig, siglen);
	m[siglen / 2] ^= 0x20;
	if (jws_verify(k, alg, in, inlen, m, siglen) != 0)
		fuzz_fail("a changed signature verifies");
	free(m);
	return v;
}

static void	 jws_check(json_t *, int);

/* An ACME payload may hold an inner JWS or a JWK: those too. */
static void
payload_check(json_t *pl, int depth)
{
	struct jwk	 k;
	json_t		*v;

	if (!json_is_object(pl))
		return;
	/* A JWK as payload (externalAccountBinding), or keyChange's oldKey. */
	if (json_object_get(pl, "kty") != NULL && jwk_try(pl, &k) == 0)
		jwk_free(&k);
	if ((v = json_object_get(pl, "oldKey")) != NULL &&
	    jwk_try(v, &k) == 0)
		jwk_free(&k);
	if (depth > 0)
		return;
	/* keyChange's payload is a JWS; newAccount's holds one. */
	if (json_object_get(pl, "protected") != NULL)
		jws_check(pl, depth + 1);
	if ((v = json_object_get(pl, "externalAccountBinding")) != NULL)
		jws_check(v, depth + 1);
}

/* Split o as acme_jws_read does, and check each of its pieces. */
static void
jws_check(json_t *o, int depth)
{
	struct acme_problem	 p;
	json_t			*prot, *payload, *jwk, *raw;
	char			*input, *want;
	const char		*ps, *pl, *sg;
	unsigned char		*sig, *d;
	size_t			 siglen, dl;
	enum jws_alg		 alg;
	struct jwk		 k;
	int			 v;

	if (json_is_object(o)) {
		b64_member(o, "protected");
		b64_member(o, "payload");
		b64_member(o, "signature");
	}
	memset(&p, 0, sizeof(p));
	if (acme_jws_split(o, &prot, &input, &sig, &siglen, &payload, &p) ==
	    -1) {
		if (trace)
			fprintf(stderr, "acme_jws_split: %u %s: %s\n",
			    p.status, p.type, p.detail);
		problem_check(&p);
		/* Its callers free what it made before it failed. */
		json_decref(prot);
		free(input);
		free(sig);
		json_decref(payload);
		return;
	}
	ps = json_string_value(json_object_get(o, "protected"));
	pl = json_string_value(json_object_get(o, "payload"));
	sg = json_string_value(json_object_get(o, "signature"));
	if (prot == NULL || input == NULL || (sig == NULL && siglen > 0) ||
	    ps == NULL || pl == NULL || sg == NULL)
		fuzz_fail("acme_jws_split succeeded with a piece missing");
	if (asprintf(&want, "%s.%s", ps, pl) == -1)
		abort();
	if (strcmp(input, want) != 0)
		fuzz_fail("the signing input is not protected.payload");
	free(want);
	if (!json_is_object(prot))
		fuzz_fail("a protected header that is not an object");
	if (b64url_decode(ps, strlen(ps), &d, &dl) == -1 ||
	    (raw = json_loadb((char *)d, dl, 0, NULL)) == NULL ||
	    !json_equal(raw, prot))
		fuzz_fail("the header is not what \"protected\" decodes to");
	json_decref(raw);
	free(d);
	if ((*pl == '\0') != (payload == NULL))
		fuzz_fail("a payload for \"\" or none for text");
	if ((want = b64url_encode(sig, siglen)) == NULL)
		abort();
	if (strcmp(want, sg) != 0)
		fuzz_fail("the signature is not what \"signature\" decodes "
		    "to");
	free(want);

	alg = jws_alg_parse(json_string_value(json_object_get(prot, "alg")));

	/* The account's own key (jwk), or the stored one of a kid. */
	jwk = json_object_get(prot, "jwk");
	if (jwk != NULL && jwk_try(jwk, &k) == 0) {
		verify_check(&k, alg, input, strlen(input), sig, siglen);
		jwk_free(&k);
	}
	if (json_object_get(prot, "kid") != NULL)
		verify_check(&account, alg, input, strlen(input), sig, siglen);
	/* An externalAccountBinding's MAC. */
	v = jws_mac_verify(alg, eab_key, sizeof(eab_key) - 1, input,
	    strlen(input), sig, siglen);
	if (v != 1 && v != 0 && v != -1)
		fuzz_fail("jws_mac_verify returned something else");
	if (v != -1 && alg != JWS_HS256 && alg != JWS_HS384 &&
	    alg != JWS_HS512)
		fuzz_fail("jws_mac_verify took a signature algorithm");
	if (trace && v != -1)
		fprintf(stderr, "jws_mac_verify, alg %d: %d\n", alg, v);
	if (v == 1) {
		input[0] ^= 0x01;
		if (jws_mac_verify(alg, eab_key, sizeof(eab_key) - 1, input,
		    strlen(input), sig, siglen) != 0)
			fuzz_fail("a MAC verifies over a changed input");
	}
	payload_check(payload, depth);
	json_decref(prot);
	free(input);
	free(sig);
	json_decref(payload);
}

/* The fixture account's key as its JWS signature (r || s) over in. */
static void
account_sign(EVP_PKEY *pk, const char *in, unsigned char out[64])
{
	EVP_MD_CTX		*ctx;
	ECDSA_SIG		*es;
	unsigned char		 der[80];
	const unsigned char	*p = der;
	size_t			 derlen = sizeof(der);

	if ((ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, pk) != 1 ||
	    EVP_DigestSign(ctx, der, &derlen, (const unsigned char *)in,
	    strlen(in)) != 1 ||
	    (es = d2i_ECDSA_SIG(NULL, &p, (long)derlen)) == NULL ||
	    BN_bn2binpad(ECDSA_SIG_get0_r(es), out, 32) != 32 ||
	    BN_bn2binpad(ECDSA_SIG_get0_s(es), out + 32, 32) != 32)
		abort();
	ECDSA_SIG_free(es);
	EVP_MD_CTX_free(ctx);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct acme_problem	 p;
	EVP_PKEY		*pk;
	BIO			*b;
	json_t			*o;
	char			*canon;

	(void)argc;
	(void)argv;
	trace = getenv("FUZZ_JWS_TRACE") != NULL;
	if ((b = BIO_new_mem_buf(account_pem, -1)) == NULL ||
	    (pk = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL)) == NULL)
		abort();
	BIO_free(b);
	/* As the server has it: the stored JWK, loaded by acme_jwk_from_json. */
	canon = ossl_canon(pk);
	if ((o = json_loads(canon, 0, NULL)) == NULL ||
	    acme_jwk_from_json(o, &account, &p) == -1)
		abort();
	key_check(&account);
	json_decref(o);
	free(canon);
	account_sign(pk, fixed_input, fixed_sig);
	EVP_PKEY_free(pk);
	if (verify_check(&account, JWS_ES256, fixed_input,
	    strlen(fixed_input), fixed_sig, sizeof(fixed_sig)) != 1)
		abort();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t	*doc;
	char	*e, m[sizeof(fixed_input)];
	size_t	 n = sizeof(fixed_input) - 1;

	/* Any bytes, as base64url text and encoded. */
	b64_check((const char *)data, size);
	if ((e = b64url_encode(data, size)) == NULL)
		abort();
	b64_check(e, strlen(e));
	free(e);

	/* The fixed input changed by the first byte at the last's place. */
	if (size > 0) {
		memcpy(m, fixed_input, sizeof(m));
		m[data[size - 1] % n] ^= data[0] != 0 ? data[0] : 0x80;
		if (jws_verify(&account, JWS_ES256, m, n, fixed_sig,
		    sizeof(fixed_sig)) != 0)
			fuzz_fail("a signature verifies over another input");
	}

	/* As acme_jws_read reads the body. */
	if ((doc = json_loadb((const char *)data, size,
	    JSON_REJECT_DUPLICATES, NULL)) == NULL)
		return 0;
	jws_check(doc, 0);
	/* A JWK as JSON (an account's stored key, a payload's): no base64. */
	payload_check(doc, 1);
	json_decref(doc);
	return 0;
}
