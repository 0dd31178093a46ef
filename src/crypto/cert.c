/*
 * cert.c - serials and certificates. The TBSCertificate is written with the
 * DER writer straight from the template's bytes (subject and
 * SubjectPublicKeyInfo are copied verbatim): OpenSSL only signs. Nothing
 * here changes shared state, so one signer serves many threads at once.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "crypto.h"
#include "der.h"

#define OID_SKI		"2.5.29.14"
#define OID_KU		"2.5.29.15"
#define OID_SAN		"2.5.29.17"
#define OID_BC		"2.5.29.19"
#define OID_CDP		"2.5.29.31"
#define OID_AKI		"2.5.29.35"
#define OID_EKU		"2.5.29.37"
#define OID_FRESHEST	"2.5.29.46"
#define OID_AIA		"1.3.6.1.5.5.7.1.1"
#define OID_CA_ISSUERS	"1.3.6.1.5.5.7.48.2"
#define OID_POLICIES	"2.5.29.32"
#define OID_OCSP_NOCHECK "1.3.6.1.5.5.7.48.1.5"
#define OID_RSA		"1.2.840.113549.1.1.1"
#define OID_EC		"1.2.840.10045.2.1"
#define OID_ED25519	"1.3.101.112"
#define OID_ED448	"1.3.101.113"

/* keyUsage named bits (RFC 5280 4.2.1.3). */

/* Named curves and their sizes, for pk_bits. */
static const struct {
	const char	*oid;
	int		 bits;
} curves[] = {
	{ "1.2.840.10045.3.1.7", 256 },		/* P-256 */
	{ "1.3.132.0.34", 384 },		/* P-384 */
	{ "1.3.132.0.35", 521 },		/* P-521 */
	{ "1.3.132.0.10", 256 },		/* secp256k1 */
	{ "1.3.36.3.3.2.8.1.1.7", 256 },	/* brainpoolP256r1 */
	{ "1.3.36.3.3.2.8.1.1.11", 384 },	/* brainpoolP384r1 */
	{ "1.3.36.3.3.2.8.1.1.13", 512 },	/* brainpoolP512r1 */
};

/* The extension writer: the TBS buffer, a scratch value, what went in. */
struct extw {
	struct buf		*b;
	struct buf		 v;	/* the value being built */
	const char		**done;	/* OIDs written so far */
	size_t			 ndone;
	struct cert_info	*info;	/* NULL: not recording */
};

/*
 * Generate a serial (see crypto.h): 0x01, the time in milliseconds (6
 * octets, big-endian), then 13 octets (104 bits) from the CSPRNG. The
 * CA/Browser Forum asks for at least 64 unpredictable bits; the time in
 * front makes serials grow with time, so that each new certificate goes at
 * the end of the database's serial index instead of into a random page of
 * it: issuance no longer slows as the index outgrows the cache.
 * Returns 0, or -1 when the CSPRNG fails.
 */
int
serial_generate(unsigned char serial[SERIAL_LEN])
{
	return serial_generate_at(serial, time_now_ms());
}

int
serial_generate_at(unsigned char serial[SERIAL_LEN], uint64_t ms)
{
	int	 i;

	serial[0] = 0x01;
	for (i = 6; i >= 1; i--) {
		serial[i] = (unsigned char)(ms & 0xff);
		ms >>= 8;
	}
	if (RAND_bytes(serial + 7, SERIAL_LEN - 7) != 1) {
		log_err("serial_generate: RAND_bytes failed");
		ERR_clear_error();
		return -1;
	}
	return 0;
}

int
serial_generate_random(unsigned char serial[SERIAL_LEN])
{
	if (RAND_bytes(serial, SERIAL_LEN) != 1)
		goto fail;
	while ((serial[0] &= 0x7f) == 0)
		if (RAND_bytes(serial, 1) != 1)
			goto fail;
	return 0;
fail:
	log_err("serial_generate: RAND_bytes failed");
	ERR_clear_error();
	return -1;
}

/*
 * A malloc'd copy of n bytes; NULL when out of memory.
 */
static unsigned char *
memdup(const void *p, size_t n)
{
	unsigned char	*q;

	if ((q = malloc(n ? n : 1)) == NULL)
		return NULL;
	if (n)
		memcpy(q, p, n);
	return q;
}

/*
 * Append one Extension to the TBS: the value is what ew->v holds. Records
 * the OID (extras with an OID already written are skipped by the caller)
 * and, when info is wanted, a copy. Returns 0 or -1.
 */
static int
ext_put(struct extw *ew, const char *oid, int critical,
    const unsigned char *val, size_t len)
{
	struct x509_ext	*x;
	size_t		 m;

	if (der_open(ew->b, DER_SEQUENCE, &m) == -1 ||
	    der_put_oid(ew->b, oid) == -1 ||
	    (critical && der_put_bool(ew->b, 1) == -1) ||
	    der_put_octets(ew->b, val, len) == -1 ||
	    der_close(ew->b, m) == -1)
		return -1;
	ew->done[ew->ndone++] = oid;
	if (ew->info == NULL)
		return 0;
	x = reallocarray(ew->info->exts, ew->info->nexts + 1, sizeof(*x));
	if (x == NULL)
		return -1;
	ew->info->exts = x;
	x += ew->info->nexts;
	memset(x, 0, sizeof(*x));
	ew->info->nexts++;
	x->critical = critical;
	if ((x->oid = strdup(oid)) == NULL ||
	    (x->value = memdup(val, len)) == NULL)
		return -1;
	x->len = len;
	return 0;
}

/*
 * Append the extension whose value was built in ew->v and empty ew->v.
 * Returns 0 or -1.
 */
static int
ext_flush(struct extw *ew, const char *oid, int critical)
{
	int	 rc;

	rc = ext_put(ew, oid, critical, ew->v.data, ew->v.len);
	ew->v.len = 0;
	return rc;
}

/*
 * Has an extension with this OID been written? Returns 1 or 0.
 */
static int
ext_done(const struct extw *ew, const char *oid)
{
	size_t	 i;

	for (i = 0; i < ew->ndone; i++)
		if (strcmp(ew->done[i], oid) == 0)
			return 1;
	return 0;
}

/*
 * Append a GeneralName URI [6]. Returns 0 or -1.
 */
static int
put_uri(struct buf *b, const char *url)
{
	return der_put_ia5(b, DER_CTX(6), url);
}

/*
 * Append a CRLDistributionPoints value (also freshestCRL's syntax) with
 * one distribution point whose fullName is url. Returns 0 or -1.
 */
static int
put_cdp(struct buf *b, const char *url)
{
	size_t	 m1, m2, m3, m4;

	if (der_open(b, DER_SEQUENCE, &m1) == -1 ||
	    der_open(b, DER_SEQUENCE, &m2) == -1 ||
	    der_open(b, DER_CTX_CONS(0), &m3) == -1 ||	/* distributionPoint */
	    der_open(b, DER_CTX_CONS(0), &m4) == -1 ||	/* fullName */
	    put_uri(b, url) == -1 ||
	    der_close(b, m4) == -1 || der_close(b, m3) == -1 ||
	    der_close(b, m2) == -1 || der_close(b, m1) == -1)
		return -1;
	return 0;
}

#define OID_UPN		"1.3.6.1.4.1.311.20.2.3"	/* id-ms-san-upn */

/*
 * Append the GeneralName of a UPN, directoryName or registeredID SAN,
 * encoded from its parsed value: otherName { id-ms-san-upn, [0] EXPLICIT
 * UTF8String }, [4] EXPLICIT the Name name_canonical re-encoded (the CA's
 * own DER, never the request's), [8] the OID's contents from its text.
 * Returns 0 or -1.
 */
static int
put_named_san(struct buf *b, const struct san *s)
{
	struct der_tlv	 name;
	unsigned char	 oid[DER_OID_MAX];
	size_t		 n, m, m2;

	switch (s->type) {
	case SAN_UPN:
		if (!utf8_valid((const unsigned char *)s->value,
		    strlen(s->value)) ||
		    der_open(b, DER_CTX_CONS(0), &m) == -1 ||
		    der_put_oid(b, OID_UPN) == -1 ||
		    der_open(b, DER_CTX_CONS(0), &m2) == -1 ||
		    der_put_utf8(b, s->value) == -1 ||
		    der_close(b, m2) == -1)
			return -1;
		return der_close(b, m);
	case SAN_DIRNAME:
		if (s->der == NULL || der_whole(s->der, s->der_len,
		    DER_SEQUENCE, &name) == -1 || name.len == 0)
			return -1;
		return der_put_tlv(b, DER_CTX_CONS(4), s->der, s->der_len);
	case SAN_RID:
		if (der_oid_encode(s->value, oid, sizeof(oid), &n) == -1)
			return -1;
		return der_put_tlv(b, DER_CTX(8), oid, n);
	default:
		return -1;
	}
}

/*
 * Append a GeneralNames SEQUENCE for the SANs. Returns 0, or -1 on a
 * value that cannot be encoded (non-ASCII name, bad IP text).
 */
static int
put_sans(struct buf *b, const struct san *sans, size_t n)
{
	unsigned char	 ip[16];
	size_t		 i, m;
	int		 rc;

	if (der_open(b, DER_SEQUENCE, &m) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		if (sans[i].value == NULL)
			return -1;
		switch (sans[i].type) {
		case SAN_DNS:
			rc = der_put_ia5(b, DER_CTX(2), sans[i].value);
			break;
		case SAN_EMAIL:
			rc = der_put_ia5(b, DER_CTX(1), sans[i].value);
			break;
		case SAN_URI:
			rc = der_put_ia5(b, DER_CTX(6), sans[i].value);
			break;
		case SAN_IP:
			if (inet_pton(AF_INET, sans[i].value, ip) == 1)
				rc = der_put_tlv(b, DER_CTX(7), ip, 4);
			else if (inet_pton(AF_INET6, sans[i].value, ip) == 1)
				rc = der_put_tlv(b, DER_CTX(7), ip, 16);
			else
				rc = -1;
			break;
		case SAN_UPN:
		case SAN_DIRNAME:
		case SAN_RID:
			rc = put_named_san(b, &sans[i]);
			break;
		default:
			rc = -1;
			break;
		}
		if (rc == -1) {
			log_err("cert_build: cannot encode SAN \"%s\"",
			    sans[i].value);
			return -1;
		}
	}
	return der_close(b, m);
}

/*
 * Key size of a SubjectPublicKeyInfo from its own bytes: EC by named
 * curve, RSA by the modulus in the key, Ed25519 256, Ed448 456. Returns 0
 * when unknown.
 */
int
der_spki_bits(const struct der_tlv *alg, const struct der_tlv *params,
    int has_params, const unsigned char *key, size_t keylen)
{
	struct der_tlv	 t, n;
	struct der	 d;
	const unsigned char *mag;
	size_t		 i, len;
	unsigned int	 c;
	int		 bits;

	if (der_oid_eq(alg->val, alg->len, OID_RSA)) {
		if (der_whole(key, keylen, DER_SEQUENCE, &t) == -1)
			return 0;
		der_init(&d, t.val, t.len);
		if (der_expect(&d, DER_INTEGER, &n) == -1 ||
		    der_get_uint_bytes(&n, &mag, &len) == -1 || mag[0] == 0 ||
		    len > 8192)
			return 0;
		bits = (int)len * 8;
		for (c = mag[0]; (c & 0x80) == 0; c <<= 1)
			bits--;
		return bits;
	}
	if (der_oid_eq(alg->val, alg->len, OID_EC)) {
		if (!has_params || params->tag != DER_OID)
			return 0;
		for (i = 0; i < nitems(curves); i++)
			if (der_oid_eq(params->val, params->len, curves[i].oid))
				return curves[i].bits;
		return 0;
	}
	if (der_oid_eq(alg->val, alg->len, OID_ED25519))
		return 256;
	if (der_oid_eq(alg->val, alg->len, OID_ED448))
		return 456;
	return 0;
}

/*
 * Append the [3] extensions of the TBS for template t: SKI (ski, already
 * computed), AKI, basicConstraints, keyUsage, extendedKeyUsage, SAN, CRL
 * distribution point, freshest CRL, AIA, then the template's extras whose
 * OID is not already there. Returns 0 or -1.
 */
static int
put_extensions_urls(struct extw *ew, const struct signer *s,
    const struct cert_template *t, const unsigned char *ski, size_t skilen,
    int rsa, int ec, const char *cdp, const char *aia, const char *delta)
{
	const struct cm_profile *pr = t->profile;
	struct buf	*v = &ew->v;
	char *const	*eku = t->neku > 0 ? t->eku : pr->eku;
	size_t		 neku = t->neku > 0 ? t->neku : pr->neku;
	uint32_t	 ku;
	size_t		 mctx, mseq, m, m2, i;

	if (der_open(ew->b, DER_CTX_CONS(3), &mctx) == -1 ||
	    der_open(ew->b, DER_SEQUENCE, &mseq) == -1)
		return -1;

	if (der_put_octets(v, ski, skilen) == -1 ||
	    ext_flush(ew, OID_SKI, 0) == -1)
		return -1;
	if (s->ski != NULL && s->ski_len > 0) {
		if (der_open(v, DER_SEQUENCE, &m) == -1 ||
		    der_put_tlv(v, DER_CTX(0), s->ski, s->ski_len) == -1 ||
		    der_close(v, m) == -1 || ext_flush(ew, OID_AKI, 0) == -1)
			return -1;
	}

	ku = ku_for_key(pr->key_usage, rsa, ec);
	if (t->key_usage != 0)
		ku &= t->key_usage;
	if (ku == 0) {
		/* RFC 5280 4.2.1.3: at least one bit. profile.c refuses. */
		log_err("cert_build: no key usage for this key");
		return -1;
	}

	/* CA:FALSE is the DEFAULT, so an end entity gets an empty SEQUENCE. */
	if (der_open(v, DER_SEQUENCE, &m) == -1 ||
	    (pr->ca && (der_put_bool(v, 1) == -1 || (pr->path_len >= 0 &&
	    der_put_int64(v, DER_INTEGER, pr->path_len) == -1))) ||
	    der_close(v, m) == -1 || ext_flush(ew, OID_BC, 1) == -1 ||
	    der_put_named_bits(v, ku) == -1 || ext_flush(ew, OID_KU, 1) == -1)
		return -1;
	if (neku > 0) {
		if (der_open(v, DER_SEQUENCE, &m) == -1)
			return -1;
		for (i = 0; i < neku; i++)
			if (der_put_oid(v, eku[i]) == -1)
				return -1;
		if (der_close(v, m) == -1 || ext_flush(ew, OID_EKU, 0) == -1)
			return -1;
	}
	if (pr->npolicies > 0) {
		if (der_open(v, DER_SEQUENCE, &m) == -1)
			return -1;
		for (i = 0; i < pr->npolicies; i++)
			if (der_open(v, DER_SEQUENCE, &m2) == -1 ||
			    der_put_oid(v, pr->policies[i]) == -1 ||
			    der_close(v, m2) == -1)
				return -1;
		if (der_close(v, m) == -1 ||
		    ext_flush(ew, OID_POLICIES, 0) == -1)
			return -1;
	}
	if (pr->ocsp_nocheck && (der_put_tlv(v, DER_NULL, NULL, 0) == -1 ||
	    ext_flush(ew, OID_OCSP_NOCHECK, 0) == -1))
		return -1;

	/* RFC 5280 4.2.1.6: critical when the subject is empty. */
	if (t->nsans > 0 && (put_sans(v, t->sans, t->nsans) == -1 ||
	    ext_flush(ew, OID_SAN, t->subject_len == 2) == -1))
		return -1;
	if (cdp != NULL && cdp[0] != '\0' &&
	    (put_cdp(v, cdp) == -1 || ext_flush(ew, OID_CDP, 0) == -1))
		return -1;
	if (delta != NULL && delta[0] != '\0' &&
	    (put_cdp(v, delta) == -1 || ext_flush(ew, OID_FRESHEST, 0) == -1))
		return -1;
	if (aia != NULL && aia[0] != '\0') {
		if (der_open(v, DER_SEQUENCE, &m) == -1 ||
		    der_open(v, DER_SEQUENCE, &m2) == -1 ||
		    der_put_oid(v, OID_CA_ISSUERS) == -1 ||
		    put_uri(v, aia) == -1 ||
		    der_close(v, m2) == -1 || der_close(v, m) == -1 ||
		    ext_flush(ew, OID_AIA, 0) == -1)
			return -1;
	}

	for (i = 0; i < t->nextra; i++) {
		if (t->extra[i].oid == NULL || ext_done(ew, t->extra[i].oid))
			continue;
		if (ext_put(ew, t->extra[i].oid, t->extra[i].critical,
		    t->extra[i].value, t->extra[i].len) == -1) {
			log_err("cert_build: cannot add extension %s",
			    t->extra[i].oid);
			return -1;
		}
	}
	if (der_close(ew->b, mseq) == -1 || der_close(ew->b, mctx) == -1)
		return -1;
	return 0;
}

/*
 * A profile's URL template for the signing CA certificate (%4, %8; see
 * url_finish): tmpl itself when it has no token, else a copy in *owned.
 */
static const char *
profile_url(const char *tmpl, const struct signer *s, char **owned)
{
	if (strchr(tmpl, '%') == NULL)
		return tmpl;
	return *owned = url_finish(tmpl, s->cert_idx, s->key_idx);
}

static int
put_extensions(struct extw *ew, const struct signer *s,
    const struct cert_template *t, const unsigned char *ski, size_t skilen,
    int rsa, int ec)
{
	const struct cm_profile *pr = t->profile;
	const char	*cdp, *aia, *delta = NULL;
	char		*own[3] = { NULL, NULL, NULL };
	int		 rc = -1;

	/* The profile's URLs, else the CA's; delta only when the CA has. */
	cdp = pr->cdp_url ? profile_url(pr->cdp_url, s, &own[0]) : s->cdp_url;
	aia = pr->aia_url ? profile_url(pr->aia_url, s, &own[1]) : s->aia_url;
	if (s->delta_url != NULL)
		delta = pr->delta_url ? profile_url(pr->delta_url, s,
		    &own[2]) : s->delta_url;
	if ((pr->cdp_url == NULL || cdp != NULL) &&
	    (pr->aia_url == NULL || aia != NULL) &&
	    (s->delta_url == NULL || pr->delta_url == NULL || delta != NULL))
		rc = put_extensions_urls(ew, s, t, ski, skilen, rsa, ec, cdp,
		    aia, delta);
	free(own[0]);
	free(own[1]);
	free(own[2]);
	return rc;
}

/*
 * Fill in the parts of info that are not extensions: serial, dates, names,
 * public key, SKI and the hash of the finished certificate. Returns 0 or
 * -1.
 */
static int
info_fill(struct cert_info *info, const struct signer *s,
    const struct cert_template *t, const unsigned char *serial,
    size_t serial_len, const struct der_tlv *alg, const struct der_tlv *params,
    int has_params, const unsigned char *key, size_t keylen,
    const unsigned char *ski, size_t skilen, const unsigned char *der,
    size_t der_len)
{
	unsigned char	 md[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen;
	char		*h;

	info->not_before = t->not_before;
	info->not_after = t->not_after;
	info->subject_len = t->subject_len;
	info->issuer_len = s->issuer_len;
	info->pubkey_len = keylen;
	info->pk_bits = der_spki_bits(alg, params, has_params, key, keylen);
	if ((info->serial = hex_encode(serial, serial_len)) == NULL ||
	    (info->subject = memdup(t->subject, t->subject_len)) == NULL ||
	    (info->subject_dn = name_to_text(t->subject,
	    t->subject_len)) == NULL ||
	    (info->issuer = memdup(s->issuer, s->issuer_len)) == NULL ||
	    (info->pk_alg_oid = der_oid_text(alg->val, alg->len)) == NULL ||
	    (info->pubkey = memdup(key, keylen)) == NULL ||
	    (info->ski = hex_encode(ski, skilen)) == NULL)
		return -1;
	if (has_params) {
		if ((info->pk_params = memdup(params->raw,
		    params->raw_len)) == NULL)
			return -1;
		info->pk_params_len = params->raw_len;
	}
	if (EVP_Digest(der, der_len, md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    (h = hex_encode(md, mdlen)) == NULL) {
		ERR_clear_error();
		return -1;
	}
	strlcpy_cm(info->hash, h, sizeof(info->hash));
	free(h);
	return 0;
}

/*
 * Build and sign a certificate for template t: see crypto.h. The serial
 * must be positive (top bit of its first byte clear), the subject a DER
 * Name and the key a DER SubjectPublicKeyInfo; an empty subject needs
 * SANs. Returns 0 with *der malloc'd (and info filled when not NULL), or
 * -1 with everything freed.
 */
int
cert_build(const struct signer *s, const struct cert_template *t,
    unsigned char **der, size_t *der_len, struct cert_info *info)
{
	struct buf	 b = { 0 };
	struct extw	 ew;
	struct der_tlv	 name, alg, params, bits;
	unsigned char	 ski[EVP_MAX_MD_SIZE];
	const unsigned char *serial = t->serial, *key;
	size_t		 serial_len = SERIAL_LEN, keylen, skilen;
	size_t		 mcert, mtbs, mval, tbs_start;
	unsigned int	 mdlen;
	int		 has_params, rsa, ec, unused;

	*der = NULL;
	*der_len = 0;
	memset(&ew, 0, sizeof(ew));
	if (info != NULL)
		memset(info, 0, sizeof(*info));

	while (serial_len > 0 && serial[0] == 0) {
		serial++;
		serial_len--;
	}
	if (serial_len == 0 || (t->serial[0] & 0x80)) {
		log_err("cert_build: the serial must be positive and at most "
		    "%d octets", SERIAL_LEN);
		goto fail;
	}
	if (t->profile == NULL) {
		log_err("cert_build: no profile");
		goto fail;
	}
	if (t->subject == NULL || s->issuer == NULL || s->sigalg == NULL ||
	    der_whole(t->subject, t->subject_len, DER_SEQUENCE, &name) == -1) {
		log_err("cert_build: bad subject name");
		goto fail;
	}
	if (t->spki == NULL || der_spki(t->spki, t->spki_len, &alg, &params,
	    &has_params, &bits) == -1 ||
	    der_get_bitstring(&bits, &key, &keylen, &unused) == -1) {
		log_err("cert_build: bad SubjectPublicKeyInfo");
		goto fail;
	}
	if (name.len == 0 && t->nsans == 0) {
		log_err("cert_build: empty subject and no subjectAltName");
		goto fail;
	}
	if (t->not_after < t->not_before) {
		log_err("cert_build: notAfter before notBefore");
		goto fail;
	}
	rsa = der_oid_eq(alg.val, alg.len, OID_RSA);
	ec = der_oid_eq(alg.val, alg.len, OID_EC);

	/* RFC 5280 4.2.1.2 (1): SHA-1 of the subjectPublicKey bits. */
	if (EVP_Digest(key, keylen, ski, &mdlen, EVP_sha1(), NULL) != 1) {
		ERR_clear_error();
		goto fail;
	}
	skilen = mdlen;

	if ((ew.done = calloc(16 + t->nextra, sizeof(*ew.done))) == NULL)
		goto fail;
	ew.b = &b;
	ew.info = info;

	if (der_open(&b, DER_SEQUENCE, &mcert) == -1 ||
	    der_open(&b, DER_SEQUENCE, &mtbs) == -1)
		goto fail;
	tbs_start = mtbs - 1;
	if (der_open(&b, DER_CTX_CONS(0), &mval) == -1 ||
	    der_put_int64(&b, DER_INTEGER, 2) == -1 ||
	    der_close(&b, mval) == -1 ||
	    der_put_uint_bytes(&b, DER_INTEGER, serial, serial_len) == -1 ||
	    buf_append(&b, s->sigalg, s->sigalg_len) == -1 ||
	    buf_append(&b, s->issuer, s->issuer_len) == -1 ||
	    der_open(&b, DER_SEQUENCE, &mval) == -1 ||
	    der_put_time(&b, t->not_before) == -1 ||
	    der_put_time(&b, t->not_after) == -1 ||
	    der_close(&b, mval) == -1 ||
	    buf_append(&b, t->subject, t->subject_len) == -1 ||
	    buf_append(&b, t->spki, t->spki_len) == -1 ||
	    put_extensions(&ew, s, t, ski, skilen, rsa, ec) == -1 ||
	    der_close(&b, mtbs) == -1)
		goto fail;

	if (der_put_signature(&b, tbs_start, s) == -1 ||
	    der_close(&b, mcert) == -1)
		goto fail;

	if (info != NULL && info_fill(info, s, t, serial, serial_len, &alg,
	    &params, has_params, key, keylen, ski, skilen, b.data,
	    b.len) == -1)
		goto fail;

	*der_len = b.len;
	*der = (unsigned char *)buf_steal(&b);
	free(ew.done);
	buf_free(&ew.v);
	return 0;
fail:
	log_err("cert_build: failed");
	free(ew.done);
	buf_free(&ew.v);
	buf_free(&b);
	if (info != NULL) {
		cert_info_free(info);
		memset(info, 0, sizeof(*info));
	}
	return -1;
}
