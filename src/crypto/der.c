/*
 * der.c - a strict DER reader over borrowed bytes and a DER writer on top of
 * struct buf. See der.h for the model; the reader is the first thing that
 * touches untrusted requests, so every length is checked against what is
 * left before it is used.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#include "crypto.h"
#include "der.h"

/* Unix seconds of 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z. */
#define TIME_MIN	(-62167219200LL)
#define TIME_MAX	(253402300799LL)

/*
 * Decode the identifier and length octets at p (before end). Only the
 * low-tag-number form and definite, minimal lengths are accepted, and the
 * contents must fit before end. Returns 0 with the tag, the header length
 * and the contents length, or -1.
 */
static int
der_header(const unsigned char *p, const unsigned char *end,
    unsigned int *tag, size_t *hdrlen, size_t *len)
{
	size_t	 avail = (size_t)(end - p), n, i, l;

	if (avail < 2 || (p[0] & 0x1f) == 0x1f)
		return -1;
	if (p[1] < 0x80) {
		l = p[1];
		n = 0;
	} else {
		n = p[1] & 0x7f;
		/* 0x80 is the indefinite form; 4 octets cover 4 GiB. */
		if (n == 0 || n > 4 || avail - 2 < n || p[2] == 0)
			return -1;
		for (l = 0, i = 0; i < n; i++)
			l = l << 8 | p[2 + i];
		if (l < 0x80)
			return -1;
	}
	if (l > avail - 2 - n)
		return -1;
	*tag = p[0];
	*hdrlen = 2 + n;
	*len = l;
	return 0;
}

/*
 * Start a cursor over len bytes at p (borrowed).
 */
void
der_init(struct der *d, const unsigned char *p, size_t len)
{
	d->p = p;
	d->end = p + len;
}

/*
 * Returns 1 when the cursor has nothing left, else 0.
 */
int
der_at_end(const struct der *d)
{
	return d->p >= d->end;
}

/*
 * Returns the tag of the next element, or -1 at the end.
 */
int
der_peek(const struct der *d)
{
	if (d->p >= d->end)
		return -1;
	return d->p[0];
}

/*
 * Take the next element, whatever its tag. Returns 0, or -1 on bad or
 * missing input (the cursor then stays where it was).
 */
int
der_read(struct der *d, struct der_tlv *t)
{
	size_t		 hdr, len;
	unsigned int	 tag;

	if (der_header(d->p, d->end, &tag, &hdr, &len) == -1)
		return -1;
	t->tag = tag;
	t->raw = d->p;
	t->raw_len = hdr + len;
	t->val = d->p + hdr;
	t->len = len;
	d->p += hdr + len;
	return 0;
}

/*
 * Take the next element, which must carry tag. Returns 0 or -1.
 */
int
der_expect(struct der *d, unsigned int tag, struct der_tlv *t)
{
	if (der_peek(d) != (int)tag)
		return -1;
	return der_read(d, t);
}

/*
 * Take the next element if it carries tag (*present = 1), else leave the
 * cursor alone (*present = 0). Returns 0, or -1 if the element is bad.
 */
int
der_optional(struct der *d, unsigned int tag, struct der_tlv *t,
    int *present)
{
	*present = 0;
	if (der_peek(d) != (int)tag)
		return 0;
	if (der_read(d, t) == -1)
		return -1;
	*present = 1;
	return 0;
}

/*
 * Take the next element, which must carry tag, and set inner to a cursor
 * over its contents. Returns 0 or -1.
 */
int
der_enter(struct der *d, unsigned int tag, struct der *inner)
{
	struct der_tlv	 t;

	if (der_expect(d, tag, &t) == -1)
		return -1;
	der_init(inner, t.val, t.len);
	return 0;
}

/*
 * The len bytes at p must be exactly one element carrying tag. Returns 0
 * or -1.
 */
int
der_whole(const unsigned char *p, size_t len, unsigned int tag,
    struct der_tlv *t)
{
	struct der	 d;

	der_init(&d, p, len);
	if (der_expect(&d, tag, t) == -1 || !der_at_end(&d))
		return -1;
	return 0;
}

/*
 * Read the contents of an AlgorithmIdentifier element: the algorithm OID
 * and, when present (*has_params = 1), one parameters element of any tag.
 * Returns 0 or -1.
 */
int
der_algid(const struct der_tlv *t, struct der_tlv *oid,
    struct der_tlv *params, int *has_params)
{
	struct der	 d;

	*has_params = 0;
	if (t->tag != DER_SEQUENCE)
		return -1;
	der_init(&d, t->val, t->len);
	if (der_expect(&d, DER_OID, oid) == -1)
		return -1;
	if (!der_at_end(&d)) {
		if (der_read(&d, params) == -1 || !der_at_end(&d))
			return -1;
		*has_params = 1;
	}
	return 0;
}

/*
 * Split the SubjectPublicKeyInfo p[0..len), which must be exactly one
 * SEQUENCE, into algorithm OID, parameters and the subjectPublicKey BIT
 * STRING element. Returns 0 or -1.
 */
int
der_spki(const unsigned char *p, size_t len, struct der_tlv *oid,
    struct der_tlv *params, int *has_params, struct der_tlv *pubkey)
{
	struct der_tlv	 t, alg;
	struct der	 d;

	if (der_whole(p, len, DER_SEQUENCE, &t) == -1)
		return -1;
	der_init(&d, t.val, t.len);
	if (der_expect(&d, DER_SEQUENCE, &alg) == -1 ||
	    der_algid(&alg, oid, params, has_params) == -1 ||
	    der_expect(&d, DER_BITSTRING, pubkey) == -1 || !der_at_end(&d))
		return -1;
	return 0;
}

/*
 * A BOOLEAN's value: DER allows only 0x00 and 0xff. Returns 0 or -1.
 */
int
der_get_bool(const struct der_tlv *t, int *v)
{
	if (t->len != 1 || (t->val[0] != 0x00 && t->val[0] != 0xff))
		return -1;
	*v = t->val[0] != 0;
	return 0;
}

/*
 * Is the INTEGER contents c[0..n) minimally encoded? Returns 1 or 0.
 */
static int
int_minimal(const unsigned char *c, size_t n)
{
	if (n == 0)
		return 0;
	if (n > 1 && c[0] == 0x00 && (c[1] & 0x80) == 0)
		return 0;
	if (n > 1 && c[0] == 0xff && (c[1] & 0x80) != 0)
		return 0;
	return 1;
}

/*
 * An INTEGER or ENUMERATED that fits in 64 bits. Returns 0 or -1.
 */
int
der_get_int64(const struct der_tlv *t, int64_t *v)
{
	uint64_t	 u;
	size_t		 i;

	if (t->len > 8 || !int_minimal(t->val, t->len))
		return -1;
	u = (t->val[0] & 0x80) ? UINT64_MAX : 0;
	for (i = 0; i < t->len; i++)
		u = u << 8 | t->val[i];
	memcpy(v, &u, sizeof(*v));	/* two's complement, no overflow UB */
	return 0;
}

/*
 * A non-negative INTEGER as its big-endian magnitude, without the sign
 * octet (zero is one 0x00 octet). Returns 0, or -1 if negative or bad.
 */
int
der_get_uint_bytes(const struct der_tlv *t, const unsigned char **p,
    size_t *n)
{
	if (!int_minimal(t->val, t->len) || (t->val[0] & 0x80))
		return -1;
	*p = t->val;
	*n = t->len;
	if (*n > 1 && t->val[0] == 0x00) {
		(*p)++;
		(*n)--;
	}
	return 0;
}

/*
 * A BIT STRING's bits without the unused-bits octet; the padding bits must
 * be zero (DER). Returns 0 or -1.
 */
int
der_get_bitstring(const struct der_tlv *t, const unsigned char **p,
    size_t *n, int *unused_bits)
{
	unsigned int	 u;

	if (t->len < 1 || (u = t->val[0]) > 7 || (t->len == 1 && u != 0))
		return -1;
	if (u && (t->val[t->len - 1] & ((1u << u) - 1)) != 0)
		return -1;
	*p = t->val + 1;
	*n = t->len - 1;
	if (unused_bits != NULL)
		*unused_bits = (int)u;
	return 0;
}

/*
 * Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * algorithm, exact for every year).
 */
static int64_t
days_from_civil(int64_t y, unsigned int m, unsigned int d)
{
	int64_t		 era;
	unsigned int	 yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned int)(y - era * 400);
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

/*
 * The date of a day number since 1970-01-01 (inverse of days_from_civil).
 */
static void
civil_from_days(int64_t z, int64_t *y, unsigned int *m, unsigned int *d)
{
	int64_t		 era;
	unsigned int	 doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (unsigned int)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

/*
 * n decimal digits at s as a number. Returns it, or -1 if one is not a
 * digit.
 */
static int
digits(const unsigned char *s, size_t n)
{
	int	 v = 0;
	size_t	 i;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/*
 * UTCTime "YYMMDDHHMMSSZ" (YY < 50 is 20YY) or GeneralizedTime
 * "YYYYMMDDHHMMSSZ", the only forms RFC 5280 allows, as Unix seconds.
 * Returns 0 or -1.
 */
int
der_get_time(const struct der_tlv *t, int64_t *out)
{
	static const unsigned char mdays[] = {
		31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};
	const unsigned char	*s = t->val;
	int			 y, mo, d, h, mi, sec;
	size_t			 yl;

	if (t->tag == DER_UTCTIME && t->len == 13)
		yl = 2;
	else if (t->tag == DER_GENTIME && t->len == 15)
		yl = 4;
	else
		return -1;
	if ((y = digits(s, yl)) == -1 || (mo = digits(s + yl, 2)) == -1 ||
	    (d = digits(s + yl + 2, 2)) == -1 ||
	    (h = digits(s + yl + 4, 2)) == -1 ||
	    (mi = digits(s + yl + 6, 2)) == -1 ||
	    (sec = digits(s + yl + 8, 2)) == -1 || s[yl + 10] != 'Z')
		return -1;
	if (yl == 2)
		y += y < 50 ? 2000 : 1900;
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 ||
	    mi > 59 || sec > 59)
		return -1;
	if (mo == 2 && d == 29 &&
	    !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return -1;
	*out = days_from_civil(y, (unsigned int)mo, (unsigned int)d) * 86400 +
	    h * 3600 + mi * 60 + sec;
	return 0;
}

/*
 * Append the decimal text of the big-endian base-128 number g[0..n) to b;
 * g is used as scratch. Returns 0 or -1.
 */
static int
big128_text(struct buf *b, unsigned char *g, size_t n)
{
	char		 dec[DER_OID_MAX * 3];
	size_t		 nd = 0, i, first = 0;
	unsigned int	 rem, cur;

	while (first < n && g[first] == 0)
		first++;
	if (first == n)
		return buf_appendc(b, '0');
	while (first < n) {
		rem = 0;
		for (i = first; i < n; i++) {
			cur = rem * 128 + g[i];
			g[i] = (unsigned char)(cur / 10);
			rem = cur % 10;
		}
		dec[nd++] = (char)('0' + rem);
		while (first < n && g[first] == 0)
			first++;
	}
	while (nd > 0)
		if (buf_appendc(b, (unsigned char)dec[--nd]) == -1)
			return -1;
	return 0;
}

/*
 * Subtract v (< 128) from the big-endian base-128 number g[0..n), which is
 * known to be at least v.
 */
static void
big128_sub(unsigned char *g, size_t n, unsigned int v)
{
	size_t	 i = n;
	int	 cur, borrow = (int)v;

	while (borrow && i > 0) {
		i--;
		cur = g[i] - borrow;
		borrow = 0;
		while (cur < 0) {
			cur += 128;
			borrow++;
		}
		g[i] = (unsigned char)cur;
	}
}

/*
 * Append the decimal text of v to b. Returns 0 or -1.
 */
static int
put_dec(struct buf *b, uint64_t v)
{
	char	 tmp[20];
	size_t	 n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0);
	if (buf_reserve(b, n) == -1)
		return -1;
	while (n > 0)
		b->data[b->len++] = (unsigned char)tmp[--n];
	b->data[b->len] = '\0';
	return 0;
}

/*
 * Encoded OID contents as dotted text; arcs may exceed 64 bits (2.25 UUID
 * OIDs). Returns a malloc'd string, or NULL on bad input (empty, longer
 * than DER_OID_MAX, non-minimal or truncated subidentifiers) or no memory.
 */
char *
der_oid_text(const unsigned char *p, size_t len)
{
	struct buf	 b = { 0 };
	unsigned char	 g[DER_OID_MAX];
	size_t		 i = 0, n, k;
	uint64_t	 v;
	unsigned int	 top;
	int		 first = 1;

	if (len == 0 || len > DER_OID_MAX || (p[len - 1] & 0x80))
		return NULL;
	while (i < len) {
		if (p[i] == 0x80)
			goto bad;	/* leading zero group: not minimal */
		/* Ends inside p: the last octet has its high bit clear. */
		n = 0;
		do {
			g[n++] = p[i] & 0x7f;
		} while (p[i++] & 0x80);
		if (n <= 9) {
			for (v = 0, k = 0; k < n; k++)
				v = v << 7 | g[k];
			if (first) {
				top = v < 40 ? 0 : v < 80 ? 1 : 2;
				v -= top * 40;
				if (buf_appendc(&b, (unsigned char)('0' + top)) == -1)
					goto bad;
			}
			if (buf_appendc(&b, '.') == -1 || put_dec(&b, v) == -1)
				goto bad;
		} else {
			if (first) {
				if (buf_append(&b, "2", 1) == -1)
					goto bad;
				big128_sub(g, n, 80);
			}
			if (buf_appendc(&b, '.') == -1 ||
			    big128_text(&b, g, n) == -1)
				goto bad;
		}
		first = 0;
	}
	return buf_steal(&b);
bad:
	buf_free(&b);
	return NULL;
}

/*
 * Encode dotted OID text ("1.2.840.10045.2.1") as OID contents into
 * out[0..outsz). Arcs may be of any size; the first must be 0, 1 or 2 and
 * the second below 40 unless the first is 2; no leading zeros. Returns 0
 * with *outlen set, or -1 on bad text or when out is too small.
 */
int
der_oid_encode(const char *dotted, unsigned char *out, size_t outsz,
    size_t *outlen)
{
	unsigned char	 g[DER_OID_MAX];	/* little-endian base 128 */
	const char	*s = dotted, *e;
	size_t		 ng, k, o = 0;
	unsigned int	 first, cur, carry;
	int		 arc;

	if (s[0] < '0' || s[0] > '2' || s[1] != '.')
		return -1;
	first = (unsigned int)(s[0] - '0');
	s += 2;
	for (arc = 1;; arc++) {
		for (e = s; *e >= '0' && *e <= '9'; e++)
			;
		if (e == s || (e - s > 1 && s[0] == '0'))
			return -1;
		g[0] = 0;
		ng = 1;
		for (; s < e; s++) {
			carry = (unsigned int)(*s - '0');
			for (k = 0; k < ng; k++) {
				cur = g[k] * 10u + carry;
				g[k] = cur & 0x7f;
				carry = cur >> 7;
			}
			while (carry) {
				if (ng == sizeof(g))
					return -1;
				g[ng++] = carry & 0x7f;
				carry >>= 7;
			}
		}
		if (arc == 1) {
			if (first < 2 && (ng > 1 || g[0] >= 40))
				return -1;
			carry = first * 40;
			for (k = 0; k < ng && carry; k++) {
				cur = g[k] + carry;
				g[k] = cur & 0x7f;
				carry = cur >> 7;
			}
			if (carry) {
				if (ng == sizeof(g))
					return -1;
				g[ng++] = (unsigned char)carry;
			}
		}
		if (outsz - o < ng)
			return -1;
		for (k = ng; k > 0; k--)
			out[o++] = (unsigned char)(g[k - 1] | (k > 1 ? 0x80 : 0));
		if (*e == '\0')
			break;
		if (*e != '.')
			return -1;
		s = e + 1;
	}
	*outlen = o;
	return 0;
}

/*
 * Are the OID contents p[0..len) the dotted OID? Returns 1 or 0.
 */
int
der_oid_eq(const unsigned char *p, size_t len, const char *dotted)
{
	unsigned char	 enc[DER_OID_MAX];
	size_t		 n;

	if (der_oid_encode(dotted, enc, sizeof(enc), &n) == -1)
		return 0;
	return n == len && memcmp(p, enc, n) == 0;
}

/*
 * Append identifier and length octets for a primitive or constructed
 * element of len content bytes. Returns 0 or -1.
 */
int
der_put_header(struct buf *b, unsigned int tag, size_t len)
{
	unsigned char	 h[6];
	size_t		 n = 0, k;

	if ((tag & 0x1f) == 0x1f || tag > 0xff || len > 0xffffffffu)
		return -1;
	h[n++] = (unsigned char)tag;
	if (len < 0x80)
		h[n++] = (unsigned char)len;
	else {
		k = len > 0xffffff ? 4 : len > 0xffff ? 3 : len > 0xff ? 2 : 1;
		h[n++] = (unsigned char)(0x80 | k);
		while (k > 0)
			h[n++] = (unsigned char)(len >> (8 * --k));
	}
	return buf_append(b, h, n);
}

/*
 * Append a whole element: header and len content bytes. Returns 0 or -1.
 */
int
der_put_tlv(struct buf *b, unsigned int tag, const void *p, size_t len)
{
	if (der_put_header(b, tag, len) == -1)
		return -1;
	return buf_append(b, p, len);
}

/*
 * Start a constructed element: its tag and a one-octet placeholder length.
 * *mark remembers where the length goes for der_close. Returns 0 or -1.
 */
int
der_open(struct buf *b, unsigned int tag, size_t *mark)
{
	unsigned char	 h[2] = { (unsigned char)tag, 0 };

	if ((tag & 0x1f) == 0x1f || tag > 0xff)
		return -1;
	if (buf_append(b, h, 2) == -1)
		return -1;
	*mark = b->len - 1;
	return 0;
}

/*
 * Finish the element opened at mark: everything appended since is its
 * contents. Long contents move up to make room for the length octets.
 * Returns 0 or -1.
 */
int
der_close(struct buf *b, size_t mark)
{
	size_t	 len, k, i;

	if (mark >= b->len)
		return -1;
	len = b->len - mark - 1;
	if (len < 0x80) {
		b->data[mark] = (unsigned char)len;
		return 0;
	}
	if (len > 0xffffffffu)
		return -1;
	k = len > 0xffffff ? 4 : len > 0xffff ? 3 : len > 0xff ? 2 : 1;
	if (buf_reserve(b, k) == -1)
		return -1;
	memmove(b->data + mark + 1 + k, b->data + mark + 1, len);
	b->data[mark] = (unsigned char)(0x80 | k);
	for (i = 0; i < k; i++)
		b->data[mark + 1 + i] = (unsigned char)(len >> (8 * (k - 1 - i)));
	b->len += k;
	b->data[b->len] = '\0';
	return 0;
}

/*
 * An INTEGER (or tag, e.g. ENUMERATED) holding the unsigned big-endian
 * magnitude p[0..n): leading zero octets dropped, a zero octet added when
 * the top bit is set, zero as one octet. Returns 0 or -1.
 */
int
der_put_uint_bytes(struct buf *b, unsigned int tag, const unsigned char *p,
    size_t n)
{
	static const unsigned char zero = 0;
	int	 pad;

	while (n > 0 && p[0] == 0) {
		p++;
		n--;
	}
	if (n == 0)
		return der_put_tlv(b, tag, &zero, 1);
	pad = (p[0] & 0x80) != 0;
	if (der_put_header(b, tag, n + (size_t)pad) == -1 ||
	    (pad && buf_appendc(b, 0) == -1))
		return -1;
	return buf_append(b, p, n);
}

/*
 * A signed INTEGER (or tag, e.g. ENUMERATED) in the fewest octets.
 * Returns 0 or -1.
 */
int
der_put_int64(struct buf *b, unsigned int tag, int64_t v)
{
	unsigned char	 o[8];
	uint64_t	 u;
	size_t		 i = 0;
	int		 k;

	memcpy(&u, &v, sizeof(u));
	for (k = 0; k < 8; k++)
		o[k] = (unsigned char)(u >> (56 - 8 * k));
	while (i < 7 && ((o[i] == 0x00 && (o[i + 1] & 0x80) == 0) ||
	    (o[i] == 0xff && (o[i + 1] & 0x80) != 0)))
		i++;
	return der_put_tlv(b, tag, o + i, 8 - i);
}

/*
 * A BOOLEAN (0xff for TRUE, as DER requires). Returns 0 or -1.
 */
int
der_put_bool(struct buf *b, int v)
{
	unsigned char	 o = v ? 0xff : 0x00;

	return der_put_tlv(b, DER_BOOLEAN, &o, 1);
}

/*
 * A NULL. Returns 0 or -1.
 */
int
der_put_null(struct buf *b)
{
	return der_put_header(b, DER_NULL, 0);
}

/*
 * An OBJECT IDENTIFIER from dotted text. Returns 0 or -1.
 */
int
der_put_oid(struct buf *b, const char *dotted)
{
	unsigned char	 enc[DER_OID_MAX];
	size_t		 n;

	if (der_oid_encode(dotted, enc, sizeof(enc), &n) == -1)
		return -1;
	return der_put_tlv(b, DER_OID, enc, n);
}

/*
 * A BIT STRING of whole octets (no unused bits). Returns 0 or -1.
 */
int
der_put_bitstring(struct buf *b, const unsigned char *p, size_t n)
{
	if (n == SIZE_MAX || der_put_header(b, DER_BITSTRING, n + 1) == -1 ||
	    buf_appendc(b, 0) == -1)
		return -1;
	return buf_append(b, p, n);
}

/*
 * A named-bit BIT STRING: bit i of bits is named bit i (bit 0 is the top
 * bit of the first octet); trailing zero bits are left out as X.690
 * requires. Returns 0 or -1.
 */
int
der_put_named_bits(struct buf *b, uint32_t bits)
{
	unsigned char	 o[5] = { 0 };
	int		 i, hi = -1;

	for (i = 0; i < 32; i++) {
		if (bits & (UINT32_C(1) << i)) {
			o[1 + i / 8] |= (unsigned char)(0x80 >> (i % 8));
			hi = i;
		}
	}
	if (hi == -1)
		return der_put_tlv(b, DER_BITSTRING, o, 1);
	o[0] = (unsigned char)(7 - hi % 8);
	return der_put_tlv(b, DER_BITSTRING, o, 2 + (size_t)hi / 8);
}

/*
 * An OCTET STRING. Returns 0 or -1.
 */
int
der_put_octets(struct buf *b, const unsigned char *p, size_t n)
{
	return der_put_tlv(b, DER_OCTETSTRING, p, n);
}

/*
 * An IA5String, or an IA5 value under another tag (dNSName is [2]); the
 * text must be 7-bit ASCII. Returns 0 or -1.
 */
int
der_put_ia5(struct buf *b, unsigned int tag, const char *s)
{
	size_t	 i, n = strlen(s);

	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80)
			return -1;
	return der_put_tlv(b, tag, s, n);
}

/*
 * A UTF8String (the caller vouches for the encoding). Returns 0 or -1.
 */
int
der_put_utf8(struct buf *b, const char *s)
{
	return der_put_tlv(b, DER_UTF8STRING, s, strlen(s));
}

/*
 * Write v as two decimal digits at p.
 */
static void
two(unsigned char *p, unsigned int v)
{
	p[0] = (unsigned char)('0' + v / 10 % 10);
	p[1] = (unsigned char)('0' + v % 10);
}

/*
 * A Time: UTCTime for years 1950-2049 unless gen, else GeneralizedTime,
 * in the Zulu forms of RFC 5280 4.1.2.5. Returns 0, or -1 outside years
 * 0-9999.
 */
static int
put_time(struct buf *b, int64_t t, int gen)
{
	unsigned char	 s[15];
	int64_t		 days, secs, y;
	unsigned int	 m, d, n = 0;

	if (t < TIME_MIN || t > TIME_MAX)
		return -1;
	days = t / 86400;
	secs = t % 86400;
	if (secs < 0) {
		secs += 86400;
		days--;
	}
	civil_from_days(days, &y, &m, &d);
	if (!gen && (y < 1950 || y > 2049))
		gen = 1;
	if (gen) {
		two(s, (unsigned int)(y / 100));
		n = 2;
	}
	two(s + n, (unsigned int)(y % 100));
	two(s + n + 2, m);
	two(s + n + 4, d);
	two(s + n + 6, (unsigned int)(secs / 3600));
	two(s + n + 8, (unsigned int)(secs / 60 % 60));
	two(s + n + 10, (unsigned int)(secs % 60));
	s[n + 12] = 'Z';
	return der_put_tlv(b, gen ? DER_GENTIME : DER_UTCTIME, s, n + 13);
}

/*
 * A certificate or CRL Time (RFC 5280 choice by year). Returns 0 or -1.
 */
int
der_put_time(struct buf *b, int64_t t)
{
	return put_time(b, t, 0);
}

/*
 * A GeneralizedTime whatever the year (invalidityDate). Returns 0 or -1.
 */
int
der_put_gentime(struct buf *b, int64_t t)
{
	return put_time(b, t, 1);
}

/*
 * Sign b->data[tbs_start..b->len) and append signatureAlgorithm and
 * signatureValue, as a Certificate or CertificateList needs after its TBS.
 * Returns 0 or -1.
 */
int
der_put_signature(struct buf *b, size_t tbs_start, const struct signer *s)
{
	EVP_MD_CTX	*ctx = NULL;
	unsigned char	*sig = NULL;
	size_t		 siglen;
	int		 max, rc = -1;

	if (tbs_start > b->len || s->key == NULL || s->sigalg == NULL)
		goto out;
	if ((ctx = EVP_MD_CTX_new()) == NULL ||
	    (max = EVP_PKEY_get_size(s->key)) <= 0 ||
	    (sig = malloc((size_t)max)) == NULL)
		goto out;
	siglen = (size_t)max;
	/* A copy of the prepared context, else a fresh initialisation. */
	if (s->sign_tmpl == NULL || EVP_MD_CTX_copy_ex(ctx, s->sign_tmpl) != 1) {
		ERR_clear_error();
		if (EVP_MD_CTX_reset(ctx) != 1 ||
		    EVP_DigestSignInit(ctx, NULL, s->md, NULL, s->key) != 1)
			goto out;
	}
	if (EVP_DigestSign(ctx, sig, &siglen, b->data + tbs_start,
	    b->len - tbs_start) != 1)
		goto out;
	if (buf_append(b, s->sigalg, s->sigalg_len) == -1 ||
	    der_put_bitstring(b, sig, siglen) == -1)
		goto out;
	rc = 0;
out:
	if (rc == -1) {
		log_err("signing failed");
		ERR_clear_error();
	}
	EVP_MD_CTX_free(ctx);
	free(sig);
	return rc;
}
