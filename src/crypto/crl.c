/*
 * crl.c - v2 CRLs (RFC 5280 section 5), streamed into one buffer with the
 * DER writer. A CRL may list a million certificates, so the entries are
 * only sorted through an index of pointers and no OpenSSL object is made
 * per entry; OpenSSL signs the finished TBSCertList once.
 */
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "der.h"

#define OID_CRL_NUMBER		"2.5.29.20"
#define OID_REASON		"2.5.29.21"
#define OID_INVALIDITY		"2.5.29.24"
#define OID_DELTA_INDICATOR	"2.5.29.27"
#define OID_EXPIRED_ON_CRL	"2.5.29.60"	/* X.509 expiredCertsOnCRL */
#define OID_AKI			"2.5.29.35"
#define OID_FRESHEST		"2.5.29.46"

/* Bytes an entry can take at most: SEQUENCE, INTEGER of 21+1 octets,
 * GeneralizedTime, extensions with reasonCode and invalidityDate. */
#define ENTRY_MAX	(2 + 24 + 17 + 2 + 12 + 26)

/* The entry extension OIDs, encoded once per CRL. */
struct entry_oids {
	unsigned char	 reason[16];
	size_t		 reason_len;
	unsigned char	 invalidity[16];
	size_t		 invalidity_len;
};

/*
 * The serial of e as its magnitude without leading zero octets.
 */
static void
serial_magnitude(const struct crl_entry *e, const unsigned char **p,
    size_t *n)
{
	*p = e->serial;
	*n = e->serial_len;
	while (*n > 0 && (*p)[0] == 0) {
		(*p)++;
		(*n)--;
	}
}

/*
 * qsort comparison of two entry pointers by serial number value.
 */
static int
entry_cmp(const void *a, const void *b)
{
	const struct crl_entry	*x = *(const struct crl_entry *const *)a;
	const struct crl_entry	*y = *(const struct crl_entry *const *)b;
	const unsigned char	*px, *py;
	size_t			 nx, ny;

	serial_magnitude(x, &px, &nx);
	serial_magnitude(y, &py, &ny);
	if (nx != ny)
		return nx < ny ? -1 : 1;
	return nx ? memcmp(px, py, nx) : 0;
}

/*
 * Is the reason code one RFC 5280 defines (7 is unused)? Returns 1 or 0.
 */
static int
reason_ok(int r)
{
	return r >= CRL_REASON_UNSPECIFIED && r <= CRL_REASON_AA_COMPROMISE &&
	    r != 7;
}

/*
 * Append one revokedCertificates entry: serial, revocation date, and the
 * reasonCode (unless unspecified) and invalidityDate (unless 0) entry
 * extensions. Returns 0 or -1.
 */
static int
put_entry(struct buf *b, const struct crl_entry *e,
    const struct entry_oids *o)
{
	size_t	 m, mx, me, mv;

	if (der_open(b, DER_SEQUENCE, &m) == -1 ||
	    der_put_uint_bytes(b, DER_INTEGER, e->serial, e->serial_len) == -1 ||
	    der_put_time(b, e->revoked_when) == -1)
		return -1;
	if (e->reason != CRL_REASON_UNSPECIFIED || e->invalidity != 0) {
		if (der_open(b, DER_SEQUENCE, &mx) == -1)
			return -1;
		if (e->reason != CRL_REASON_UNSPECIFIED &&
		    (der_open(b, DER_SEQUENCE, &me) == -1 ||
		    der_put_tlv(b, DER_OID, o->reason, o->reason_len) == -1 ||
		    der_open(b, DER_OCTETSTRING, &mv) == -1 ||
		    der_put_int64(b, DER_ENUMERATED, e->reason) == -1 ||
		    der_close(b, mv) == -1 || der_close(b, me) == -1))
			return -1;
		if (e->invalidity != 0 &&
		    (der_open(b, DER_SEQUENCE, &me) == -1 ||
		    der_put_tlv(b, DER_OID, o->invalidity,
		    o->invalidity_len) == -1 ||
		    der_open(b, DER_OCTETSTRING, &mv) == -1 ||
		    der_put_gentime(b, e->invalidity) == -1 ||
		    der_close(b, mv) == -1 || der_close(b, me) == -1))
			return -1;
		if (der_close(b, mx) == -1)
			return -1;
	}
	return der_close(b, m);
}

/*
 * Append one CRL extension whose value is an INTEGER. Returns 0 or -1.
 */
static int
put_int_ext(struct buf *b, const char *oid, int critical, int64_t v)
{
	size_t	 m, mv;

	if (der_open(b, DER_SEQUENCE, &m) == -1 ||
	    der_put_oid(b, oid) == -1 ||
	    (critical && der_put_bool(b, 1) == -1) ||
	    der_open(b, DER_OCTETSTRING, &mv) == -1 ||
	    der_put_int64(b, DER_INTEGER, v) == -1 ||
	    der_close(b, mv) == -1 || der_close(b, m) == -1)
		return -1;
	return 0;
}

/*
 * Append the crlExtensions: AKI, cRLNumber, and deltaCRLIndicator for a
 * delta CRL or freshestCRL for a base CRL when delta CRLs are on.
 * Returns 0 or -1.
 */
static int
put_crl_extensions(struct buf *b, const struct signer *s,
    const struct crl_params *p)
{
	size_t	 mctx, mseq, m, mv, ma, m1, m2, m3, m4, i;

	if (der_open(b, DER_CTX_CONS(0), &mctx) == -1 ||
	    der_open(b, DER_SEQUENCE, &mseq) == -1)
		return -1;
	if (s->ski != NULL && s->ski_len > 0 &&
	    (der_open(b, DER_SEQUENCE, &m) == -1 ||
	    der_put_oid(b, OID_AKI) == -1 ||
	    der_open(b, DER_OCTETSTRING, &mv) == -1 ||
	    der_open(b, DER_SEQUENCE, &ma) == -1 ||
	    der_put_tlv(b, DER_CTX(0), s->ski, s->ski_len) == -1 ||
	    der_close(b, ma) == -1 || der_close(b, mv) == -1 ||
	    der_close(b, m) == -1))
		return -1;
	if (put_int_ext(b, OID_CRL_NUMBER, 0, p->number) == -1)
		return -1;
	if (p->base_number >= 0 &&
	    put_int_ext(b, OID_DELTA_INDICATOR, 1, p->base_number) == -1)
		return -1;
	/* The revoked certificates that expired since then are listed. */
	if (p->expired_since > 0 &&
	    (der_open(b, DER_SEQUENCE, &m) == -1 ||
	    der_put_oid(b, OID_EXPIRED_ON_CRL) == -1 ||
	    der_open(b, DER_OCTETSTRING, &mv) == -1 ||
	    der_put_gentime(b, p->expired_since) == -1 ||
	    der_close(b, mv) == -1 || der_close(b, m) == -1))
		return -1;
	/* One distribution point: its names are ways to the same delta. */
	if (p->base_number < 0 && s->nfreshest > 0) {
		if (der_open(b, DER_SEQUENCE, &m) == -1 ||
		    der_put_oid(b, OID_FRESHEST) == -1 ||
		    der_open(b, DER_OCTETSTRING, &mv) == -1 ||
		    der_open(b, DER_SEQUENCE, &m1) == -1 ||
		    der_open(b, DER_SEQUENCE, &m2) == -1 ||
		    der_open(b, DER_CTX_CONS(0), &m3) == -1 ||
		    der_open(b, DER_CTX_CONS(0), &m4) == -1)
			return -1;
		for (i = 0; i < s->nfreshest; i++)
			if (der_put_ia5(b, DER_CTX(6), s->freshest[i]) == -1)
				return -1;
		if (der_close(b, m4) == -1 || der_close(b, m3) == -1 ||
		    der_close(b, m2) == -1 || der_close(b, m1) == -1 ||
		    der_close(b, mv) == -1 || der_close(b, m) == -1)
			return -1;
	}
	if (der_close(b, mseq) == -1 || der_close(b, mctx) == -1)
		return -1;
	return 0;
}

/*
 * Build and sign a v2 CRL: see crypto.h. Entries are written sorted by
 * serial number; a serial must be 1 to SERIAL_LEN + 1 octets and a reason
 * one RFC 5280 defines. Returns 0 with *der malloc'd, or -1 (logged).
 */
int
crl_build(const struct signer *s, const struct crl_params *p,
    unsigned char **der, size_t *der_len)
{
	struct buf		 b = { 0 };
	struct entry_oids	 o;
	const struct crl_entry	**idx = NULL;
	size_t			 i, mcrl, mtbs, mrev, tbs_start;

	*der = NULL;
	*der_len = 0;
	if (s->key == NULL || s->sigalg == NULL || s->issuer == NULL ||
	    p->number < 0 || (p->nentries > 0 && p->entries == NULL)) {
		log_err("crl_build: bad parameters");
		return -1;
	}
	for (i = 0; i < p->nentries; i++) {
		if (p->entries[i].serial_len == 0 ||
		    p->entries[i].serial_len > SERIAL_LEN + 1 ||
		    !reason_ok(p->entries[i].reason)) {
			log_err("crl_build: entry %zu: bad serial or reason", i);
			return -1;
		}
	}
	if (der_oid_encode(OID_REASON, o.reason, sizeof(o.reason),
	    &o.reason_len) == -1 ||
	    der_oid_encode(OID_INVALIDITY, o.invalidity, sizeof(o.invalidity),
	    &o.invalidity_len) == -1)
		return -1;

	if (p->nentries > 0) {
		if ((idx = calloc(p->nentries, sizeof(*idx))) == NULL)
			goto fail;
		for (i = 0; i < p->nentries; i++)
			idx[i] = &p->entries[i];
		qsort(idx, p->nentries, sizeof(*idx), entry_cmp);
	}

	/* One allocation for the whole CRL, not a doubling series. */
	if (p->nentries > (SIZE_MAX - 65536) / ENTRY_MAX ||
	    buf_reserve(&b, p->nentries * ENTRY_MAX + s->issuer_len +
	    s->sigalg_len * 2 + 65536) == -1)
		goto fail;

	if (der_open(&b, DER_SEQUENCE, &mcrl) == -1 ||
	    der_open(&b, DER_SEQUENCE, &mtbs) == -1)
		goto fail;
	tbs_start = mtbs - 1;
	if (der_put_int64(&b, DER_INTEGER, 1) == -1 ||
	    buf_append(&b, s->sigalg, s->sigalg_len) == -1 ||
	    buf_append(&b, s->issuer, s->issuer_len) == -1 ||
	    der_put_time(&b, p->this_update) == -1 ||
	    der_put_time(&b, p->next_update) == -1)
		goto fail;
	/* RFC 5280 5.1.2.6: absent, not empty, when nothing is revoked. */
	if (p->nentries > 0) {
		if (der_open(&b, DER_SEQUENCE, &mrev) == -1)
			goto fail;
		for (i = 0; i < p->nentries; i++)
			if (put_entry(&b, idx[i], &o) == -1)
				goto fail;
		if (der_close(&b, mrev) == -1)
			goto fail;
	}
	if (put_crl_extensions(&b, s, p) == -1 || der_close(&b, mtbs) == -1 ||
	    der_put_signature(&b, tbs_start, s) == -1 ||
	    der_close(&b, mcrl) == -1)
		goto fail;

	free(idx);
	*der_len = b.len;
	*der = (unsigned char *)buf_steal(&b);
	return 0;
fail:
	log_err("crl_build: failed");
	free(idx);
	buf_free(&b);
	return -1;
}
