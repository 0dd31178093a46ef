/*
 * ecdsa.c - ECDSA verification of request signatures on P-256 and P-384
 * without building an EVP_PKEY. In OpenSSL 3.0, d2i_PUBKEY runs the
 * provider decoders (OSSL_DECODER_CTX_new_for_pkey walks every provider's
 * decoders under locks) and costs several times the verification itself.
 * Here the public point goes into the EC_KEY this thread keeps for the
 * curve, and ECDSA_do_verify checks the signature: the same code as
 * OpenSSL's provider runs in the end, including its fast inversion modulo
 * the group order (BN_mod_inverse alone cost 7 % of the daemon's CPU), but
 * without the decoders, the provider dispatch or their locks.
 *
 * EC_KEY and ECDSA_do_verify are deprecated in OpenSSL 3.0 but present in
 * every 3.x; the EC_KEY of each thread is reused, so no per-request
 * EC_KEY_new (which takes the ENGINE lock) either.
 */
#define OPENSSL_SUPPRESS_DEPRECATED

#include <pthread.h>
#include <stdlib.h>
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
static pthread_key_t	 keys_key;	/* per thread: EC_KEY *[2] */

static void
keys_free(void *p)
{
	EC_KEY	**k = p;

	EC_KEY_free(k[0]);
	EC_KEY_free(k[1]);
	free(k);
}

static void
init(void)
{
	size_t	 i;

	groups[0] = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
	groups[1] = EC_GROUP_new_by_curve_name(NID_secp384r1);
	/* Fetched once: an implicit fetch per call takes the store's lock. */
	for (i = 0; i < EC_MD__MAX; i++)
		mds[i] = EVP_MD_fetch(NULL, md_names[i], NULL);
	(void)pthread_key_create(&keys_key, keys_free);
	ERR_clear_error();
}

/*
 * This thread's EC_KEY for curve c (0: P-256, 1: P-384), made on first
 * use. NULL when out of memory.
 */
static EC_KEY *
thread_key(int c)
{
	EC_KEY	**k = pthread_getspecific(keys_key);

	if (k == NULL) {
		if ((k = calloc(2, sizeof(*k))) == NULL)
			return NULL;
		if (pthread_setspecific(keys_key, k) != 0) {
			free(k);
			return NULL;
		}
	}
	if (k[c] == NULL && (k[c] = EC_KEY_new()) != NULL &&
	    EC_KEY_set_group(k[c], groups[c]) != 1) {
		EC_KEY_free(k[c]);
		k[c] = NULL;
	}
	return k[c];
}

/*
 * Verify r, s (big-endian, at most the order's length) over msg with the
 * public point on curve c (0: P-256, 1: P-384): ec_verify's return.
 */
static int
verify_rs(int c, const unsigned char *point, size_t pointlen,
    enum ec_md mdi, const unsigned char *msg, size_t msglen,
    const unsigned char *rb, size_t rlen, const unsigned char *sb,
    size_t slen)
{
	const EC_GROUP	*g = groups[c];
	unsigned char	 h[EVP_MAX_MD_SIZE];
	unsigned int	 hlen;
	ECDSA_SIG	*es = NULL;
	BIGNUM		*r = NULL, *s = NULL;
	EC_POINT	*q = NULL;
	EC_KEY		*key;
	int		 rc = -1;

	if (EVP_Digest(msg, msglen, h, &hlen, mds[mdi], NULL) != 1)
		goto out;
	if ((key = thread_key(c)) == NULL || (q = EC_POINT_new(g)) == NULL)
		goto out;
	/* oct2point checks that the point is on the curve. */
	if (EC_POINT_oct2point(g, q, point, pointlen, NULL) != 1 ||
	    EC_POINT_is_at_infinity(g, q) || EC_KEY_set_public_key(key, q) != 1) {
		rc = -2;
		goto out;
	}
	if ((r = BN_bin2bn(rb, (int)rlen, NULL)) == NULL ||
	    (s = BN_bin2bn(sb, (int)slen, NULL)) == NULL ||
	    (es = ECDSA_SIG_new()) == NULL)
		goto out;
	(void)ECDSA_SIG_set0(es, r, s);
	r = s = NULL;
	/*
	 * ECDSA_do_verify checks 1 <= r, s < n and truncates the digest;
	 * -1 there (r or s out of range) is a "no" here.
	 */
	rc = ECDSA_do_verify(h, (int)hlen, es, key) == 1 ? 1 : 0;
out:
	if (rc != 1)
		ERR_clear_error();
	ECDSA_SIG_free(es);
	BN_free(r);
	BN_free(s);
	EC_POINT_free(q);
	return rc;
}

/* The curve index of t (0: P-256, 1: P-384), or -1. */
static int
curve_of(enum key_type t, enum ec_md mdi)
{
	int	 c;

	if (pthread_once(&once, init) != 0 || (unsigned)mdi >= EC_MD__MAX ||
	    mds[mdi] == NULL)
		return -1;
	if (t == KEY_EC_P256)
		c = 0;
	else if (t == KEY_EC_P384)
		c = 1;
	else
		return -1;
	return groups[c] != NULL ? c : -1;
}

int
ec_verify(enum key_type t, const unsigned char *point, size_t pointlen,
    enum ec_md mdi, const unsigned char *msg, size_t msglen,
    const unsigned char *sig, size_t siglen)
{
	struct der_tlv	 seq, rt, st;
	struct der	 d;
	const unsigned char *rb, *sb;
	size_t		 rlen, slen, nbytes;
	int		 c;

	if ((c = curve_of(t, mdi)) == -1)
		return -1;
	nbytes = (size_t)BN_num_bytes(EC_GROUP_get0_order(groups[c]));

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
	return verify_rs(c, point, pointlen, mdi, msg, msglen, rb, rlen, sb,
	    slen);
}

int
ec_verify_raw(enum key_type t, const unsigned char *point, size_t pointlen,
    enum ec_md mdi, const unsigned char *msg, size_t msglen,
    const unsigned char *sig, size_t siglen)
{
	size_t	 nbytes;
	int	 c;

	if ((c = curve_of(t, mdi)) == -1)
		return -1;
	nbytes = (size_t)BN_num_bytes(EC_GROUP_get0_order(groups[c]));
	/* r || s, each the order's length (RFC 7518 3.4). */
	if (siglen != 2 * nbytes)
		return 0;
	return verify_rs(c, point, pointlen, mdi, msg, msglen, sig, nbytes,
	    sig + nbytes, nbytes);
}
