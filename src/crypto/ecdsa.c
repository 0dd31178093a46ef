/*
 * ecdsa.c - ECDSA verification of request signatures on P-256 and P-384
 * without building an EVP_PKEY. In OpenSSL 3.0, d2i_PUBKEY runs the
 * provider decoders (OSSL_DECODER_CTX_new_for_pkey walks every provider's
 * decoders under locks) and costs several times the verification itself;
 * here the public point goes straight into an EC_POINT on a group made once,
 * and the verification is the textbook one (SEC 1 section 4.1.4) on
 * OpenSSL's curve arithmetic: EC_POINT_mul computes u1*G + u2*Q exactly as
 * OpenSSL's own ECDSA verify does. Everything here is public data, so
 * nothing needs to be constant time.
 */
#include <pthread.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>

#include "crypto.h"
#include "der.h"

static const char *const md_names[EC_MD__MAX] = {
	[EC_MD_SHA256] = "SHA2-256",
	[EC_MD_SHA384] = "SHA2-384",
	[EC_MD_SHA512] = "SHA2-512",
};

static pthread_once_t	 once = PTHREAD_ONCE_INIT;
static EC_GROUP		*groups[2];	/* P-256, P-384 */
static EVP_MD		*mds[EC_MD__MAX];

static void
init(void)
{
	size_t	 i;

	groups[0] = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
	groups[1] = EC_GROUP_new_by_curve_name(NID_secp384r1);
	/* Fetched once: an implicit fetch per call takes the store's lock. */
	for (i = 0; i < EC_MD__MAX; i++)
		mds[i] = EVP_MD_fetch(NULL, md_names[i], NULL);
	ERR_clear_error();
}

int
ec_verify(enum key_type t, const unsigned char *point, size_t pointlen,
    enum ec_md mdi, const unsigned char *msg, size_t msglen,
    const unsigned char *sig, size_t siglen)
{
	const EC_GROUP	*g;
	const BIGNUM	*n;
	struct der_tlv	 seq, rt, st;
	struct der	 d;
	const unsigned char *rb, *sb;
	unsigned char	 h[EVP_MAX_MD_SIZE];
	unsigned int	 hlen;
	size_t		 rlen, slen, nbytes;
	BN_CTX		*ctx = NULL;
	BIGNUM		*r, *s, *e, *w, *u1, *u2, *x;
	EC_POINT	*q = NULL, *p = NULL;
	int		 rc = -1;

	if (pthread_once(&once, init) != 0 || (unsigned)mdi >= EC_MD__MAX ||
	    mds[mdi] == NULL)
		return -1;
	if (t == KEY_EC_P256)
		g = groups[0];
	else if (t == KEY_EC_P384)
		g = groups[1];
	else
		return -1;
	if (g == NULL)
		return -1;
	n = EC_GROUP_get0_order(g);
	nbytes = (size_t)BN_num_bytes(n);

	/* Ecdsa-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER }, exactly. */
	if (der_whole(sig, siglen, DER_SEQUENCE, &seq) == -1)
		return 0;
	der_init(&d, seq.val, seq.len);
	if (der_expect(&d, DER_INTEGER, &rt) == -1 ||
	    der_expect(&d, DER_INTEGER, &st) == -1 || !der_at_end(&d) ||
	    der_get_uint_bytes(&rt, &rb, &rlen) == -1 ||
	    der_get_uint_bytes(&st, &sb, &slen) == -1 ||
	    rlen == 0 || slen == 0 || rlen > nbytes || slen > nbytes)
		return 0;

	if (EVP_Digest(msg, msglen, h, &hlen, mds[mdi], NULL) != 1)
		goto out;
	/* The orders of P-256 and P-384 are whole octets: truncate by octets. */
	if (hlen > nbytes)
		hlen = (unsigned int)nbytes;

	if ((ctx = BN_CTX_new()) == NULL)
		goto out;
	BN_CTX_start(ctx);
	r = BN_CTX_get(ctx);
	s = BN_CTX_get(ctx);
	e = BN_CTX_get(ctx);
	w = BN_CTX_get(ctx);
	u1 = BN_CTX_get(ctx);
	u2 = BN_CTX_get(ctx);
	if ((x = BN_CTX_get(ctx)) == NULL ||
	    BN_bin2bn(rb, (int)rlen, r) == NULL ||
	    BN_bin2bn(sb, (int)slen, s) == NULL ||
	    BN_bin2bn(h, (int)hlen, e) == NULL)
		goto out;
	rc = 0;
	/* 1 <= r, s < n */
	if (BN_is_zero(r) || BN_is_zero(s) || BN_cmp(r, n) >= 0 ||
	    BN_cmp(s, n) >= 0)
		goto out;
	rc = -1;
	if (BN_mod_inverse(w, s, n, ctx) == NULL ||
	    !BN_mod_mul(u1, e, w, n, ctx) || !BN_mod_mul(u2, r, w, n, ctx))
		goto out;
	if ((q = EC_POINT_new(g)) == NULL || (p = EC_POINT_new(g)) == NULL)
		goto out;
	/* oct2point checks that the point is on the curve. */
	rc = -2;
	if (EC_POINT_oct2point(g, q, point, pointlen, ctx) != 1 ||
	    EC_POINT_is_at_infinity(g, q))
		goto out;
	rc = -1;
	if (EC_POINT_mul(g, p, u1, q, u2, ctx) != 1)
		goto out;
	rc = 0;
	if (EC_POINT_is_at_infinity(g, p))
		goto out;
	rc = -1;
	if (EC_POINT_get_affine_coordinates(g, p, x, NULL, ctx) != 1 ||
	    !BN_nnmod(x, x, n, ctx))
		goto out;
	rc = BN_cmp(x, r) == 0 ? 1 : 0;
out:
	if (rc != 1)
		ERR_clear_error();
	EC_POINT_free(p);
	EC_POINT_free(q);
	if (ctx != NULL) {
		BN_CTX_end(ctx);
		BN_CTX_free(ctx);
	}
	return rc;
}
