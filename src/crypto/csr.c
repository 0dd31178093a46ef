/*
 * csr.c - PKCS#10 requests (RFC 2986), read with the DER reader rather
 * than d2i_X509_REQ, which is slow in OpenSSL 3.0. OpenSSL only checks the
 * signature over the exact CertificationRequestInfo bytes: for P-256 and
 * P-384 keys with the curve arithmetic alone (ecdsa.c), for other keys
 * through an EVP_PKEY. Everything here reads untrusted input:
 * every element is bounds-checked by der.c and every string is checked
 * before it is kept. Its subjectAltName names are read in san.c.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "crypto.h"
#include "der.h"
#include "csr_int.h"

#define OID_EXT_REQUEST		"1.2.840.113549.1.9.14"
#define OID_MS_EXT_REQUEST	"1.3.6.1.4.1.311.2.1.14"
#define OID_SAN			"2.5.29.17"
#define OID_RSA			"1.2.840.113549.1.1.1"
#define OID_RSA_PSS		"1.2.840.113549.1.1.10"
#define OID_EC			"1.2.840.10045.2.1"
#define OID_P256		"1.2.840.10045.3.1.7"
#define OID_P384		"1.3.132.0.34"
#define OID_ED25519		"1.3.101.112"

#define OID_CHALLENGE		"1.2.840.113549.1.9.7"
#define OID_UNSTRUCTURED	"1.2.840.113549.1.9.2"

/*
 * Caps on what one request may carry, so that a hostile request costs
 * no more than an ordinary one (each is checked as it is read).
 */
#define MAX_EXTENSIONS		64
#define MAX_EXTENSION_BYTES	16384	/* all requested extension values */
#define MAX_ATTRIBUTES		32
#define MAX_RSA_EXP_BITS	256	/* CA/Browser Forum BR 6.1.6 */

/*
 * Request attributes: the extension requests, and those enrollment
 * clients add (certreq, Windows autoenrollment) whose values the CA
 * ignores. Any other attribute is refused, not silently dropped.
 */
static const char *const known_attributes[] = {
	OID_EXT_REQUEST, OID_MS_EXT_REQUEST, OID_CHALLENGE, OID_UNSTRUCTURED,
	"1.3.6.1.4.1.311.13.2.1",	/* enrollment name-value pair */
	"1.3.6.1.4.1.311.13.2.2",	/* enrollment CSP provider */
	"1.3.6.1.4.1.311.13.2.3",	/* OS version */
	"1.3.6.1.4.1.311.21.20",	/* request client info */
};

/* Signature algorithms accepted on requests. */
static const struct {
	const char	*oid;
	int		 pkey;		/* EVP_PKEY_* the key must be */
	int		 null_params;	/* parameters absent or NULL (RSA) */
	const EVP_MD	*(*md)(void);	/* NULL: no digest (Ed25519) */
	enum ec_md	 ecmd;		/* for ec_verify (ECDSA only) */
} sigalgs[] = {
	{ "1.2.840.10045.4.3.2", EVP_PKEY_EC, 0, EVP_sha256, EC_MD_SHA256 },
	{ "1.2.840.10045.4.3.3", EVP_PKEY_EC, 0, EVP_sha384, EC_MD_SHA384 },
	{ "1.2.840.10045.4.3.4", EVP_PKEY_EC, 0, EVP_sha512, EC_MD_SHA512 },
	{ "1.2.840.113549.1.1.11", EVP_PKEY_RSA, 1, EVP_sha256, EC_MD__MAX },
	{ "1.2.840.113549.1.1.12", EVP_PKEY_RSA, 1, EVP_sha384, EC_MD__MAX },
	{ "1.2.840.113549.1.1.13", EVP_PKEY_RSA, 1, EVP_sha512, EC_MD__MAX },
	{ "1.3.101.112", EVP_PKEY_ED25519, 0, NULL, EC_MD__MAX },
};

/*
 * A fuzzing build (scripts/fuzz.sh) takes requests whose signature does
 * not verify as if it did, so that mutated requests reach the rest of the
 * parser and the differential checks; every other check stays. Returns
 * the rc for a signature that does not verify.
 */
static int
fuzz_accept_signature(void)
{
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
	ERR_clear_error();
	return 0;
#else
	return -1;
#endif
}

/*
 * Write a message for the requester into err.
 */
void
csr_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list	 ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/*
 * A malloc'd copy of n bytes, NUL-terminated. NULL when out of memory.
 */
unsigned char *
csr_memdup(const unsigned char *p, size_t n)
{
	unsigned char	*q;

	if ((q = malloc(n + 1)) == NULL)
		return NULL;
	if (n)
		memcpy(q, p, n);
	q[n] = '\0';
	return q;
}


static int
ext_oid_cmp(const void *a, const void *b)
{
	const struct x509_ext *const *x = a, *const *y = b;

	return strcmp((*x)->oid, (*y)->oid);
}

/*
 * Refuse an extension requested twice: sorted pointers, so that thousands
 * of extensions cost n log n, not n squared. Returns 0, or -1 with err.
 */
static int
ext_duplicates(const struct csr *c, char *err, size_t errlen)
{
	const struct x509_ext **v;
	size_t		 i;
	int		 rc = 0;

	if (c->nexts < 2)
		return 0;
	if ((v = calloc(c->nexts, sizeof(*v))) == NULL) {
		csr_err(err, errlen, "out of memory");
		return -1;
	}
	for (i = 0; i < c->nexts; i++)
		v[i] = &c->exts[i];
	qsort(v, c->nexts, sizeof(*v), ext_oid_cmp);
	for (i = 1; i < c->nexts && rc == 0; i++)
		if (strcmp(v[i]->oid, v[i - 1]->oid) == 0) {
			csr_err(err, errlen, NOT_PKCS10 "extension %s "
			    "requested twice", v[i]->oid);
			rc = -1;
		}
	free(v);
	return rc;
}

/*
 * Read an Extensions SEQUENCE from an extensionRequest attribute into
 * c->exts, refusing repeated extensions, and the SANs into c->sans.
 * Returns 0, or -1 with err.
 */
static int
parse_extensions(struct csr *c, const struct der_tlv *exts, char *err,
    size_t errlen)
{
	struct der_tlv	 id, crit, val;
	struct der	 d, e;
	struct x509_ext	*v, *x;
	size_t		 cap = 0, total = 0;
	int		 present, critical;
	char		*oid = NULL;

	der_init(&d, exts->val, exts->len);
	while (!der_at_end(&d)) {
		critical = 0;
		if (der_enter(&d, DER_SEQUENCE, &e) == -1 ||
		    der_expect(&e, DER_OID, &id) == -1 ||
		    der_optional(&e, DER_BOOLEAN, &crit, &present) == -1 ||
		    (present && der_get_bool(&crit, &critical) == -1) ||
		    der_expect(&e, DER_OCTETSTRING, &val) == -1 ||
		    !der_at_end(&e))
			goto bad;
		if (c->nexts == MAX_EXTENSIONS) {
			csr_err(err, errlen, "more than %d extensions requested",
			    MAX_EXTENSIONS);
			goto fail;
		}
		if ((total += val.len) > MAX_EXTENSION_BYTES) {
			csr_err(err, errlen, "the requested extensions hold more "
			    "than %d octets", MAX_EXTENSION_BYTES);
			goto fail;
		}
		if ((oid = der_oid_text(id.val, id.len)) == NULL)
			goto bad;
		if (c->nexts == cap) {
			cap = cap ? cap * 2 : 8;
			if ((v = reallocarray(c->exts, cap,
			    sizeof(*v))) == NULL)
				goto nomem;
			c->exts = v;
		}
		v = c->exts;
		x = &v[c->nexts];
		memset(x, 0, sizeof(*x));
		x->oid = oid;
		oid = NULL;
		x->critical = critical;
		c->nexts++;
		if ((x->value = csr_memdup(val.val, val.len)) == NULL)
			goto nomem;
		x->len = val.len;
		if (strcmp(x->oid, OID_SAN) == 0 &&
		    csr_parse_sans(c, val.val, val.len, err, errlen) == -1)
			goto fail;
	}
	return ext_duplicates(c, err, errlen);
bad:
	csr_err(err, errlen, NOT_PKCS10 "bad extensionRequest attribute");
	goto fail;
nomem:
	csr_err(err, errlen, "out of memory");
fail:
	free(oid);
	return -1;
}

/*
 * Check the single value of a challengePassword or unstructuredName
 * attribute: a string OpenSSL reads the same way, without control
 * characters, of at most 255 characters (PKCS#9's bound). Returns 0 or -1.
 */
static int
string_attribute_ok(const struct der_tlv *values)
{
	struct der_tlv	 v;
	size_t		 i;

	if (der_whole(values->val, values->len, values->val[0], &v) == -1)
		return -1;
	if (v.tag != DER_UTF8STRING && v.tag != DER_PRINTABLESTRING &&
	    v.tag != DER_IA5STRING)
		return -1;
	if (v.len == 0 || v.len > 255 * 4)
		return -1;
	for (i = 0; i < v.len; i++)
		if (v.val[i] < 0x20 || v.val[i] == 0x7f ||
		    (v.tag != DER_UTF8STRING && v.val[i] >= 0x80))
			return -1;
	return 0;
}

/*
 * Read the [0] attributes of the CertificationRequestInfo: each one this
 * CA knows (known_attributes), at most once, with a non-empty SET of
 * values; exactly one extension request (PKCS#9's or Microsoft's)
 * holding one Extensions value. Returns 0, or -1 with err.
 */
static int
parse_attributes(struct csr *c, const struct der_tlv *attrs, char *err,
    size_t errlen)
{
	struct der_tlv	 type, values, exts;
	struct der	 d, a, v;
	const char	*seen[MAX_ATTRIBUTES], *name;
	size_t		 nseen = 0, i, k;
	int		 nextreq = 0;

	der_init(&d, attrs->val, attrs->len);
	while (!der_at_end(&d)) {
		if (der_enter(&d, DER_SEQUENCE, &a) == -1 ||
		    der_expect(&a, DER_OID, &type) == -1 ||
		    der_expect(&a, DER_SET, &values) == -1 ||
		    !der_at_end(&a) || values.len == 0)
			goto bad;
		for (i = 0; i < nitems(known_attributes); i++)
			if (der_oid_eq(type.val, type.len, known_attributes[i]))
				break;
		if (i == nitems(known_attributes)) {
			char *oid = der_oid_text(type.val, type.len);

			csr_err(err, errlen, "request attribute %s is not one "
			    "this CA accepts", oid ? oid : "?");
			free(oid);
			return -1;
		}
		for (k = 0; k < nseen; k++)
			if (seen[k] == known_attributes[i]) {
				csr_err(err, errlen, NOT_PKCS10 "attribute %s "
				    "given twice", known_attributes[i]);
				return -1;
			}
		if (nseen == MAX_ATTRIBUTES)
			goto bad;
		/* Even ignored values are well-formed DER, as readers require. */
		der_init(&v, values.val, values.len);
		while (!der_at_end(&v))
			if (der_read(&v, &exts) == -1)
				goto bad;
		seen[nseen++] = name = known_attributes[i];
		if ((!strcmp(name, OID_CHALLENGE) ||
		    !strcmp(name, OID_UNSTRUCTURED)) &&
		    string_attribute_ok(&values) == -1) {
			csr_err(err, errlen, NOT_PKCS10 "bad %s attribute",
			    !strcmp(name, OID_CHALLENGE) ? "challengePassword" :
			    "unstructuredName");
			return -1;
		}
		if (strcmp(name, OID_EXT_REQUEST) != 0 &&
		    strcmp(name, OID_MS_EXT_REQUEST) != 0)
			continue;
		if (nextreq++) {
			csr_err(err, errlen, NOT_PKCS10 "more than one "
			    "extensionRequest attribute");
			return -1;
		}
		der_init(&v, values.val, values.len);
		if (der_expect(&v, DER_SEQUENCE, &exts) == -1 ||
		    !der_at_end(&v))
			goto bad;
		if (parse_extensions(c, &exts, err, errlen) == -1)
			return -1;
	}
	return 0;
bad:
	csr_err(err, errlen, NOT_PKCS10 "bad attributes");
	return -1;
}

/* An RSA public exponent's bit length (e big-endian, no leading zero). */
static size_t
uint_bits(const unsigned char *e, size_t n)
{
	size_t		 bits = n * 8;
	unsigned char	 top = n ? e[0] : 0;

	if (n == 0)
		return 0;
	while (bits > 0 && !(top & 0x80)) {
		top <<= 1;
		bits--;
	}
	return bits;
}

/*
 * The SubjectPublicKeyInfo as the CA signs it, re-encoded from the parsed
 * key, never copied: RSA with NULL parameters (RFC 4055) and an odd public
 * exponent from 3 to 2^256 - 1 (checked before any arithmetic with it: a
 * huge exponent makes verifying the request slow), the named P-256/P-384
 * curves, Ed25519 without parameters. Other keys are kept as sent: no
 * policy issues for them. Returns 0, or -1 with err.
 */
static int
spki_reencode(struct csr *c, const struct der_tlv *alg,
    const struct der_tlv *params, int has_params, const struct der_tlv *pub,
    char *err, size_t errlen)
{
	struct buf	 b = { 0 }, k = { 0 };
	struct der_tlv	 rsa, n, e;
	struct der	 d;
	const unsigned char *key, *nv, *ev;
	const char	*why;
	size_t		 keylen, nlen, elen, m1, m2;
	int		 unused, bad = 0;

	if (der_get_bitstring(pub, &key, &keylen, &unused) == -1 ||
	    unused != 0) {
		csr_err(err, errlen, NOT_PKCS10 "bad public key");
		return -1;
	}
	if (der_oid_eq(alg->val, alg->len, OID_RSA)) {
		if (!has_params || params->tag != DER_NULL) {
			csr_err(err, errlen, "RSA key parameters must be NULL");
			return -1;
		}
		if (der_whole(key, keylen, DER_SEQUENCE, &rsa) == -1)
			goto badkey;
		der_init(&d, rsa.val, rsa.len);
		if (der_expect(&d, DER_INTEGER, &n) == -1 ||
		    der_expect(&d, DER_INTEGER, &e) == -1 || !der_at_end(&d) ||
		    der_get_uint_bytes(&n, &nv, &nlen) == -1 ||
		    der_get_uint_bytes(&e, &ev, &elen) == -1 || nlen == 0)
			goto badkey;
		if (elen == 0 || !(ev[elen - 1] & 1) ||
		    (elen == 1 && ev[0] < 3) ||
		    uint_bits(ev, elen) > MAX_RSA_EXP_BITS) {
			csr_err(err, errlen, "RSA public exponent must be odd, "
			    "from 3 to 2^%d - 1", MAX_RSA_EXP_BITS);
			return -1;
		}
		if ((why = rsa_modulus_weak(nv, nlen)) != NULL) {
			csr_err(err, errlen, "weak key: %s", why);
			return -1;
		}
		bad |= der_open(&k, DER_SEQUENCE, &m1);
		bad |= der_put_uint_bytes(&k, DER_INTEGER, nv, nlen);
		bad |= der_put_uint_bytes(&k, DER_INTEGER, ev, elen);
		bad |= der_close(&k, m1);
		bad |= der_open(&b, DER_SEQUENCE, &m1);
		bad |= der_open(&b, DER_SEQUENCE, &m2);
		bad |= der_put_oid(&b, OID_RSA);
		bad |= der_put_null(&b);
		bad |= der_close(&b, m2);
		if (!bad)
			bad |= der_put_bitstring(&b, k.data, k.len);
		bad |= der_close(&b, m1);
		buf_free(&k);
	} else if (der_oid_eq(alg->val, alg->len, OID_EC) && has_params &&
	    params->tag == DER_OID &&
	    (der_oid_eq(params->val, params->len, OID_P256) ||
	    der_oid_eq(params->val, params->len, OID_P384))) {
		bad |= der_open(&b, DER_SEQUENCE, &m1);
		bad |= der_open(&b, DER_SEQUENCE, &m2);
		bad |= der_put_oid(&b, OID_EC);
		bad |= der_put_tlv(&b, DER_OID, params->val, params->len);
		bad |= der_close(&b, m2);
		bad |= der_put_bitstring(&b, key, keylen);
		bad |= der_close(&b, m1);
	} else if (der_oid_eq(alg->val, alg->len, OID_ED25519)) {
		if (has_params || keylen != 32)
			goto badkey;
		if (ed25519_small_order(key)) {
			csr_err(err, errlen, "weak key: an Ed25519 point of "
			    "small order");
			return -1;
		}
		bad |= der_open(&b, DER_SEQUENCE, &m1);
		bad |= der_open(&b, DER_SEQUENCE, &m2);
		bad |= der_put_oid(&b, OID_ED25519);
		bad |= der_close(&b, m2);
		bad |= der_put_bitstring(&b, key, keylen);
		bad |= der_close(&b, m1);
	} else
		return 0;
	if (bad) {
		buf_free(&b);
		csr_err(err, errlen, "out of memory");
		return -1;
	}
	free(c->spki);
	c->spki_len = b.len;
	c->spki = (unsigned char *)buf_steal(&b);
	return 0;
badkey:
	buf_free(&b);
	csr_err(err, errlen, NOT_PKCS10 "bad public key");
	return -1;
}

/*
 * Decide the key type, size and description from the SubjectPublicKeyInfo
 * algorithm (alg, params) and the decoded key. Returns 0 or -1 (no
 * memory).
 */
static int
classify_key(struct csr *c, const struct der_tlv *alg,
    const struct der_tlv *params, int has_params, EVP_PKEY *pkey)
{
	char		 desc[96], group[64];
	size_t		 i, n;
	const char	*name;

	c->key_type = KEY__MAX;
	c->key_bits = EVP_PKEY_get_bits(pkey);
	desc[0] = '\0';
	if (der_oid_eq(alg->val, alg->len, OID_EC)) {
		if (has_params && params->tag == DER_OID &&
		    der_oid_eq(params->val, params->len, OID_P256))
			c->key_type = KEY_EC_P256;
		else if (has_params && params->tag == DER_OID &&
		    der_oid_eq(params->val, params->len, OID_P384))
			c->key_type = KEY_EC_P384;
		else if (has_params && params->tag == DER_OID &&
		    EVP_PKEY_get_group_name(pkey, group, sizeof(group),
		    &n) == 1)
			snprintf(desc, sizeof(desc), "ec-%s", group);
		else
			snprintf(desc, sizeof(desc), "ec-explicit");
	} else if (der_oid_eq(alg->val, alg->len, OID_RSA)) {
		if (c->key_bits == 2048)
			c->key_type = KEY_RSA_2048;
		else if (c->key_bits == 3072)
			c->key_type = KEY_RSA_3072;
		else if (c->key_bits == 4096)
			c->key_type = KEY_RSA_4096;
		else
			snprintf(desc, sizeof(desc), "rsa-%d", c->key_bits);
	} else if (der_oid_eq(alg->val, alg->len, OID_ED25519)) {
		c->key_type = KEY_ED25519;
		c->key_bits = 256;
	} else {
		name = EVP_PKEY_get0_type_name(pkey);
		if (name == NULL)
			name = "unknown";
		if (strcasecmp(name, "ED448") == 0 ||
		    strcasecmp(name, "X25519") == 0 ||
		    strcasecmp(name, "X448") == 0)
			snprintf(desc, sizeof(desc), "%s", name);
		else
			snprintf(desc, sizeof(desc), "%s-%d", name,
			    c->key_bits);
		for (i = 0; desc[i] != '\0'; i++)
			desc[i] = (char)tolower((unsigned char)desc[i]);
	}
	if (c->key_type != KEY__MAX)
		snprintf(desc, sizeof(desc), "%s", key_type_name(c->key_type));
	if ((c->key_desc = strdup(desc)) == NULL)
		return -1;
	return 0;
}

/*
 * Check the request's signature: sigalg must be one we accept and match
 * the key, and sig must verify over tbs[0..tbslen). The key is pkey or,
 * when pkey is NULL, the point of a P-256/P-384 key of type ec (verified
 * by ec_verify without an EVP_PKEY). Returns 0, or -1 with err.
 */
static int
verify_signature(EVP_PKEY *pkey, enum key_type ec, const unsigned char *point,
    size_t pointlen, const struct der_tlv *sigalg, const unsigned char *tbs,
    size_t tbslen, const struct der_tlv *sigbits, char *err, size_t errlen)
{
	struct der_tlv	 oid, params;
	struct der	 d;
	EVP_MD_CTX	*ctx = NULL;
	const unsigned char *sig;
	size_t		 siglen, i;
	char		*text = NULL;
	int		 unused, has_params, rc = -1;

	der_init(&d, sigalg->val, sigalg->len);
	if (der_expect(&d, DER_OID, &oid) == -1)
		goto bad;
	for (i = 0; i < nitems(sigalgs); i++)
		if (der_oid_eq(oid.val, oid.len, sigalgs[i].oid))
			break;
	if (i == nitems(sigalgs)) {
		if ((text = der_oid_text(oid.val, oid.len)) == NULL)
			goto bad;
		csr_err(err, errlen, "unsupported signature algorithm %s%s",
		    text, strcmp(text, OID_RSA_PSS) == 0 ? " (RSASSA-PSS)" : "");
		goto out;
	}
	/* Parameters: absent, or NULL for the RSA algorithms. */
	if (der_optional(&d, DER_NULL, &params, &has_params) == -1 ||
	    !der_at_end(&d) || (has_params && (params.len != 0 ||
	    !sigalgs[i].null_params)))
		goto bad;
	if (der_get_bitstring(sigbits, &sig, &siglen, &unused) == -1 ||
	    unused != 0)
		goto bad;
	if ((pkey != NULL ? EVP_PKEY_get_base_id(pkey) : EVP_PKEY_EC) !=
	    sigalgs[i].pkey) {
		csr_err(err, errlen, "request signature does not verify "
		    "(signature algorithm does not match the key)");
		goto out;
	}
	if (pkey == NULL) {
		switch (ec_verify(ec, point, pointlen, sigalgs[i].ecmd, tbs,
		    tbslen, sig, siglen)) {
		case 1:
			rc = 0;
			break;
		case 0:
			csr_err(err, errlen, "request signature does not verify");
			rc = fuzz_accept_signature();
			break;
		case -2:
			csr_err(err, errlen, NOT_PKCS10 "bad public key");
			break;
		default:
			csr_err(err, errlen, "cannot verify the request "
			    "signature (internal error)");
			break;
		}
		goto out;
	}
	if ((ctx = EVP_MD_CTX_new()) == NULL) {
		csr_err(err, errlen, "out of memory");
		goto out;
	}
	if (EVP_DigestVerifyInit(ctx, NULL,
	    sigalgs[i].md ? sigalgs[i].md() : NULL, NULL, pkey) != 1 ||
	    EVP_DigestVerify(ctx, sig, siglen, tbs, tbslen) != 1) {
		csr_err(err, errlen, "request signature does not verify");
		rc = fuzz_accept_signature();
		goto out;
	}
	rc = 0;
	goto out;
bad:
	csr_err(err, errlen, NOT_PKCS10 "bad signature algorithm or value");
out:
	ERR_clear_error();
	EVP_MD_CTX_free(ctx);
	free(text);
	return rc;
}

/*
 * Parse a PKCS#10 request, PEM or DER, and verify its self-signature.
 * Returns 0 with c filled (free with csr_free), or -1 with a message for
 * the requester in err and c empty.
 */
int
csr_parse(const unsigned char *in, size_t inlen, struct csr *c, char *err,
    size_t errlen)
{
	struct der_tlv	 cri, sigalg, sig, ver, subj, spki, alg, params;
	struct der_tlv	 pub, attrs;
	struct der	 d, req, info;
	EVP_PKEY	*pkey = NULL;
	const unsigned char *p;
	int64_t		 version;
	int		 has_params, has_attrs;

	memset(c, 0, sizeof(*c));
	c->key_type = KEY__MAX;
	if (in == NULL || inlen == 0) {
		csr_err(err, errlen, NOT_PKCS10 "empty");
		return -1;
	}
	if (pem_or_der(in, inlen, "CERTIFICATE REQUEST", &c->der,
	    &c->der_len) == -1 &&
	    pem_or_der(in, inlen, "NEW CERTIFICATE REQUEST", &c->der,
	    &c->der_len) == -1) {
		c->der = NULL;
		csr_err(err, errlen, NOT_PKCS10
		    "neither DER nor PEM \"CERTIFICATE REQUEST\"");
		goto fail;
	}

	der_init(&d, c->der, c->der_len);
	if (der_enter(&d, DER_SEQUENCE, &req) == -1) {
		csr_err(err, errlen, NOT_PKCS10 "bad DER");
		goto fail;
	}
	if (!der_at_end(&d)) {
		csr_err(err, errlen, NOT_PKCS10 "trailing data after it");
		goto fail;
	}
	if (der_expect(&req, DER_SEQUENCE, &cri) == -1 ||
	    der_expect(&req, DER_SEQUENCE, &sigalg) == -1 ||
	    der_expect(&req, DER_BITSTRING, &sig) == -1 ||
	    !der_at_end(&req)) {
		csr_err(err, errlen, NOT_PKCS10 "bad CertificationRequest");
		goto fail;
	}

	/* Attributes are [0] and required, but some encoders leave them out. */
	der_init(&info, cri.val, cri.len);
	if (der_expect(&info, DER_INTEGER, &ver) == -1 ||
	    der_get_int64(&ver, &version) == -1) {
		csr_err(err, errlen, NOT_PKCS10 "bad CertificationRequestInfo "
		    "(its version)");
		goto fail;
	}
	/*
	 * RFC 2986 defines version 0 only. Old certbot (before 1.29) and
	 * Ruby's acme-client 2.0.9 (Debian 12) write 2 (X.509's v3); the
	 * field changes nothing in the request, and OpenSSL and Go take any.
	 */
	if (version < 0 || version > 2) {
		csr_err(err, errlen, NOT_PKCS10 "version %lld (RFC 2986 defines "
		    "0)", (long long)version);
		goto fail;
	}
	if (der_expect(&info, DER_SEQUENCE, &subj) == -1 ||
	    der_expect(&info, DER_SEQUENCE, &spki) == -1 ||
	    der_optional(&info, DER_CTX_CONS(0), &attrs, &has_attrs) == -1 ||
	    !der_at_end(&info)) {
		csr_err(err, errlen, NOT_PKCS10 "bad CertificationRequestInfo");
		goto fail;
	}
	if (der_spki(spki.raw, spki.raw_len, &alg, &params, &has_params,
	    &pub) == -1 ||
	    (c->key_alg_oid = der_oid_text(alg.val, alg.len)) == NULL) {
		csr_err(err, errlen, NOT_PKCS10 "bad SubjectPublicKeyInfo");
		goto fail;
	}
	if ((c->spki = csr_memdup(spki.raw, spki.raw_len)) == NULL) {
		csr_err(err, errlen, "out of memory");
		goto fail;
	}
	c->spki_len = spki.raw_len;
	if (spki_reencode(c, &alg, &params, has_params, &pub, err,
	    errlen) == -1)
		goto fail;

	/*
	 * The subject is signed as certmint re-encodes it, never as sent:
	 * the CA, its policy, modules and TLS clients must all read one name.
	 * Names and attributes are read before the signature is checked: a
	 * request refused for its structure (caps included) costs no hash
	 * of its bytes and no verification.
	 */
	free(c->subject);
	c->subject = NULL;
	if (name_canonical(subj.raw, subj.raw_len, &c->subject,
	    &c->subject_len, err, errlen) == -1)
		goto fail;
	if ((c->subject_dn = name_to_text(c->subject, c->subject_len)) ==
	    NULL) {
		csr_err(err, errlen, NOT_PKCS10 "bad subject name");
		goto fail;
	}
	if (has_attrs && parse_attributes(c, &attrs, err, errlen) == -1)
		goto fail;

	/* P-256 and P-384 keys: no EVP_PKEY (see ecdsa.c). */
	if (der_oid_eq(alg.val, alg.len, OID_EC) && has_params &&
	    params.tag == DER_OID &&
	    (der_oid_eq(params.val, params.len, OID_P256) ||
	    der_oid_eq(params.val, params.len, OID_P384))) {
		const unsigned char *point;
		size_t		 pointlen;
		int		 unused;

		c->key_type = der_oid_eq(params.val, params.len, OID_P256) ?
		    KEY_EC_P256 : KEY_EC_P384;
		c->key_bits = c->key_type == KEY_EC_P256 ? 256 : 384;
		if (der_get_bitstring(&pub, &point, &pointlen, &unused) == -1 ||
		    unused != 0) {
			csr_err(err, errlen, NOT_PKCS10 "bad public key");
			goto fail;
		}
		if (verify_signature(NULL, c->key_type, point, pointlen,
		    &sigalg, cri.raw, cri.raw_len, &sig, err, errlen) == -1)
			goto fail;
		if ((c->key_desc = strdup(key_type_name(c->key_type))) ==
		    NULL) {
			csr_err(err, errlen, "out of memory");
			goto fail;
		}
		goto verified;
	}

	p = spki.raw;
	if ((pkey = d2i_PUBKEY(NULL, &p, (long)spki.raw_len)) == NULL ||
	    p != spki.raw + spki.raw_len) {
		ERR_clear_error();
		if (der_oid_eq(alg.val, alg.len, OID_RSA) ||
		    der_oid_eq(alg.val, alg.len, OID_EC) ||
		    der_oid_eq(alg.val, alg.len, OID_ED25519))
			csr_err(err, errlen, NOT_PKCS10 "bad public key");
		else
			csr_err(err, errlen, "unsupported public key algorithm "
			    "%s", c->key_alg_oid);
		goto fail;
	}
	if (verify_signature(pkey, KEY__MAX, NULL, 0, &sigalg, cri.raw,
	    cri.raw_len, &sig, err, errlen) == -1)
		goto fail;
	if (classify_key(c, &alg, &params, has_params, pkey) == -1) {
		csr_err(err, errlen, "out of memory");
		goto fail;
	}
verified:
	EVP_PKEY_free(pkey);
	return 0;
fail:
	EVP_PKEY_free(pkey);
	csr_free(c);
	return -1;
}

/*
 * Free everything csr_parse allocated and empty c. NULL-safe; may be
 * called twice.
 */
void
csr_free(struct csr *c)
{
	size_t	 i;

	if (c == NULL)
		return;
	free(c->der);
	free(c->subject);
	free(c->subject_dn);
	free(c->spki);
	free(c->key_desc);
	free(c->key_alg_oid);
	san_list_free(c->sans, c->nsans);
	for (i = 0; i < c->nexts; i++) {
		free(c->exts[i].oid);
		free(c->exts[i].value);
	}
	free(c->exts);
	memset(c, 0, sizeof(*c));
	c->key_type = KEY__MAX;
}
