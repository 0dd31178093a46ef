/*
 * san.c - subjectAltName: the names a request or certificate carries
 * (RFC 5280 4.2.1.6), read from untrusted DER and checked before they are
 * kept (IA5 text, DNS names with their IDNA A-labels, URIs, UPNs,
 * directory names), and compared.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "crypto.h"
#include "der.h"
#include "csr_int.h"

#define OID_UPN			"1.3.6.1.4.1.311.20.2.3"	/* id-ms-san-upn */
#define MAX_SANS		256
#define MAX_UPN			256	/* octets */

/*
 * Is p[0..n) a non-empty IA5 name without spaces or control characters,
 * as dNSName, rfc822Name and URI must be? Returns 1 or 0.
 */
static int
san_text_ok(const unsigned char *p, size_t n)
{
	size_t	 i;

	if (n == 0)
		return 0;
	for (i = 0; i < n; i++)
		if (p[i] <= 0x20 || p[i] >= 0x7f)
			return 0;
	return 1;
}

/* RFC 3492 6.1: the bias after a code point. */
static uint32_t
puny_adapt(uint32_t delta, uint32_t points, int first)
{
	uint32_t	 k = 0;

	delta = first ? delta / 700 : delta / 2;
	delta += delta / points;
	while (delta > ((36 - 1) * 26) / 2) {
		delta /= 36 - 1;
		k += 36;
	}
	return k + (36 - 1 + 1) * delta / (delta + 38);
}

/*
 * Does s (n octets, what follows "xn--") decode as Punycode (RFC 3492
 * 6.2) to a name with a non-ASCII character, every one a Unicode scalar
 * value? A label that does not was made by no IDNA encoder.
 */
static int
punycode_ok(const unsigned char *s, size_t n)
{
	uint32_t	 i = 0, cp = 0x80, bias = 72, w, k, t, digit, oldi;
	uint32_t	 out = 0;
	size_t		 in = 0, j;
	int		 any = 0;

	for (j = 0; j < n; j++)
		if (s[j] == '-') {
			out = (uint32_t)j;	/* the basic code points */
			in = j + 1;
		}
	while (in < n) {
		for (oldi = i, w = 1, k = 36; ; k += 36) {
			if (in >= n)
				return 0;
			if (s[in] >= '0' && s[in] <= '9')
				digit = (uint32_t)(s[in] - '0') + 26;
			else if (s[in] >= 'a' && s[in] <= 'z')
				digit = (uint32_t)(s[in] - 'a');
			else if (s[in] >= 'A' && s[in] <= 'Z')
				digit = (uint32_t)(s[in] - 'A');
			else
				return 0;
			in++;
			if (digit > (UINT32_MAX - i) / w)
				return 0;
			i += digit * w;
			t = k <= bias ? 1 : k >= bias + 26 ? 26 : k - bias;
			if (digit < t)
				break;
			if (w > UINT32_MAX / (36 - t))
				return 0;
			w *= 36 - t;
		}
		out++;
		bias = puny_adapt(i - oldi, out, oldi == 0);
		if (i / out > 0x10ffff - cp)
			return 0;
		cp += i / out;
		i %= out;
		if (cp < 0x80 || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
			return 0;
		any = 1;
		i++;
	}
	return any;
}

/*
 * Is p[0..n) a host name in RFC 1034's preferred syntax, as RFC 5280 wants
 * a dNSName: 1 to 253 characters, labels of 1 to 63 letters, digits and
 * hyphens, not starting or ending with a hyphen, no empty label (so no
 * trailing dot), a last label not all digits (that is an IP address)?
 * With wildcard, the first label may be "*" alone, followed by at least
 * two labels (the CA/Browser Forum's rule, short of a public suffix list).
 * Returns NULL or what is wrong.
 */
const char *
dns_name_check(const unsigned char *p, size_t n, int wildcard)
{
	size_t	 i, start = 0, labels = 0;
	int	 digits = 1;

	if (n == 0 || n > 253)
		return "is empty or longer than 253 characters";
	if (wildcard && n >= 2 && p[0] == '*' && p[1] == '.')
		start = 2;
	for (i = start; i <= n; i++) {
		if (i == n || p[i] == '.') {
			if (i == start)
				return "has an empty label";
			if (i - start > 63)
				return "has a label over 63 characters";
			if (p[start] == '-' || p[i - 1] == '-')
				return "has a label starting or ending "
				    "with '-'";
			if (i - start >= 4 && strncasecmp((const char *)p +
			    start, "xn--", 4) == 0 && !punycode_ok(p + start +
			    4, i - start - 4))
				return "has an xn-- label that is not "
				    "Punycode of a Unicode name (RFC 3492)";
			labels++;
			if (i < n)
				digits = 1;
			start = i + 1;
			continue;
		}
		if (p[i] == '*')
			return "has a wildcard that is not the whole first "
			    "label";
		if (!((p[i] >= 'a' && p[i] <= 'z') ||
		    (p[i] >= 'A' && p[i] <= 'Z') || p[i] == '-' ||
		    (p[i] >= '0' && p[i] <= '9')))
			return "has a character other than a letter, digit, "
			    "'-' or '.'";
		if (!(p[i] >= '0' && p[i] <= '9'))
			digits = 0;
	}
	if (digits)
		return "ends in a numeric label";
	if (wildcard && p[0] == '*' && labels < 2)
		return "has a wildcard over fewer than two labels";
	return NULL;
}

/*
 * Check a SAN's text for its type: dNSName as above, rfc822Name and UPN
 * as local-part@host, URI with a scheme. Returns NULL or what is wrong.
 */
static const char *
san_check(enum san_type t, const unsigned char *p, size_t n)
{
	const unsigned char *at;
	size_t		 i;

	if (t == SAN_DNS)
		return dns_name_check(p, n, 1);
	if (t == SAN_EMAIL || t == SAN_UPN) {
		if ((at = memchr(p, '@', n)) == NULL || at == p ||
		    memchr(at + 1, '@', n - (size_t)(at + 1 - p)) != NULL)
			return "is not local-part@domain";
		return dns_name_check(at + 1, n - (size_t)(at + 1 - p), 0);
	}
	if (t == SAN_URI) {
		for (i = 0; i < n && p[i] != ':'; i++)
			if (!((p[i] >= 'a' && p[i] <= 'z') ||
			    (p[i] >= 'A' && p[i] <= 'Z') ||
			    (i > 0 && ((p[i] >= '0' && p[i] <= '9') ||
			    p[i] == '+' || p[i] == '-' || p[i] == '.'))))
				return "has no scheme";
		if (i == 0 || i == n)
			return "has no scheme";
	}
	return NULL;
}

/*
 * Append a SAN of type t with the given text to the request. Returns 0 or
 * -1 when out of memory.
 */
static int
add_san(struct csr *c, enum san_type t, const char *s, size_t n)
{
	struct san	*v;

	if ((v = reallocarray(c->sans, c->nsans + 1, sizeof(*v))) == NULL)
		return -1;
	c->sans = v;
	memset(&v[c->nsans], 0, sizeof(*v));
	if ((v[c->nsans].value = (char *)csr_memdup((const unsigned char *)s,
	    n)) == NULL)
		return -1;
	v[c->nsans++].type = t;
	return 0;
}

/* A SAN reader's answer for an element that is not DER as it must be. */
#define SAN_BAD		(-2)

/*
 * An otherName: only a UPN (id-ms-san-upn, [0] EXPLICIT UTF8String), its
 * text valid UTF-8 without control characters, of at most MAX_UPN octets,
 * shaped local@domain with a host name as the domain, as Windows logon
 * reads it. Returns 0, -1 with err, or SAN_BAD.
 */
static int
parse_other_name(struct csr *c, const struct der_tlv *g, char *err,
    size_t errlen)
{
	struct der_tlv	 id, s;
	struct der	 d, v;
	const char	*why = NULL;
	char		*oid;
	size_t		 i, cut;

	der_init(&d, g->val, g->len);
	if (der_expect(&d, DER_OID, &id) == -1 ||
	    der_enter(&d, DER_CTX_CONS(0), &v) == -1 || !der_at_end(&d) ||
	    der_read(&v, &s) == -1 || !der_at_end(&v))
		return SAN_BAD;
	if (!der_oid_eq(id.val, id.len, OID_UPN)) {
		if ((oid = der_oid_text(id.val, id.len)) == NULL)
			return SAN_BAD;
		csr_err(err, errlen, "subjectAltName otherName %s is not "
		    "supported (only the UPN, " OID_UPN ")", oid);
		free(oid);
		return -1;
	}
	if (s.tag != DER_UTF8STRING)
		why = "is not a UTF8String";
	else if (s.len == 0 || s.len > MAX_UPN)
		why = "is empty or longer than 256 octets";
	else if (!utf8_valid(s.val, s.len))
		why = "is not valid UTF-8";
	for (i = 0; why == NULL && i < s.len; i++)
		/* C0, DEL, and C1 (U+0080..U+009F: C2 80..C2 9F). */
		if (s.val[i] < 0x20 || s.val[i] == 0x7f || (s.val[i] == 0xc2 &&
		    i + 1 < s.len && s.val[i + 1] >= 0x80 &&
		    s.val[i + 1] <= 0x9f))
			why = "holds a control character";
	if (why != NULL) {
		csr_err(err, errlen, "subjectAltName UPN %s", why);
		return -1;
	}
	if ((why = san_check(SAN_UPN, s.val, s.len)) != NULL) {
		/* Quoted whole or cut at a character, never inside one. */
		for (cut = s.len > 80 ? 80 : s.len; cut < s.len &&
		    (s.val[cut] & 0xc0) == 0x80; cut--)
			;
		csr_err(err, errlen, "subjectAltName UPN \"%.*s\" %s",
		    (int)cut, s.val, why);
		return -1;
	}
	if (add_san(c, SAN_UPN, (const char *)s.val, s.len) == -1) {
		csr_err(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

/*
 * A directoryName ([4] EXPLICIT Name), kept as the CA signs a subject:
 * re-encoded by name_canonical (its rules and its reasons), with its RFC
 * 4514 text as the value. An empty name is refused. Returns 0, -1 with
 * err, or SAN_BAD.
 */
static int
parse_dir_name(struct csr *c, const struct der_tlv *g, char *err,
    size_t errlen)
{
	struct der_tlv	 name;
	unsigned char	*der = NULL;
	size_t		 len;
	char		*text = NULL, why[192];

	if (der_whole(g->val, g->len, DER_SEQUENCE, &name) == -1)
		return SAN_BAD;
	if (name.len == 0) {
		csr_err(err, errlen, "subjectAltName directoryName is empty");
		return -1;
	}
	if (name_canonical(name.raw, name.raw_len, &der, &len, why,
	    sizeof(why)) == -1) {
		/* Its "bad subject name" is a broken element here. */
		if (strncmp(why, "bad ", 4) == 0)
			return SAN_BAD;
		/* It speaks of the subject's attributes: these are this name's. */
		if (strncmp(why, "subject attribute ", 18) == 0)
			csr_err(err, errlen, "subjectAltName directoryName "
			    "attribute %s", why + 18);
		else
			csr_err(err, errlen, "subjectAltName directoryName: %s",
			    why);
		return -1;
	}
	if ((text = name_to_text(der, len)) == NULL ||
	    add_san(c, SAN_DIRNAME, text, strlen(text)) == -1) {
		free(der);
		free(text);
		csr_err(err, errlen, "out of memory");
		return -1;
	}
	free(text);
	c->sans[c->nsans - 1].der = der;
	c->sans[c->nsans - 1].der_len = len;
	return 0;
}

/*
 * A registeredID ([8] IMPLICIT OBJECT IDENTIFIER) as dotted text: minimal
 * subidentifiers (der_oid_text), and text that encodes back to the same
 * octets, as put_sans will encode it. Returns 0, -1 with err, or SAN_BAD.
 */
static int
parse_registered_id(struct csr *c, const struct der_tlv *g, char *err,
    size_t errlen)
{
	unsigned char	 enc[DER_OID_MAX];
	size_t		 n;
	char		*oid;
	int		 rc = SAN_BAD;

	if ((oid = der_oid_text(g->val, g->len)) == NULL)
		return SAN_BAD;
	if (der_oid_encode(oid, enc, sizeof(enc), &n) == 0 && n == g->len &&
	    memcmp(enc, g->val, n) == 0) {
		if ((rc = add_san(c, SAN_RID, oid, strlen(oid))) == -1)
			csr_err(err, errlen, "out of memory");
	}
	free(oid);
	return rc;
}

/*
 * Read the GeneralNames of a subjectAltName extension value into c->sans:
 * dNSName, rfc822Name, URI, iPAddress, UPN, directoryName and
 * registeredID; the other name forms are refused (the certificate could
 * not carry them). Returns 0, or -1 with err.
 */
int
csr_parse_sans(struct csr *c, const unsigned char *p, size_t len, char *err,
    size_t errlen)
{
	struct der_tlv	 t, g;
	struct der	 d;
	char		 ip[INET6_ADDRSTRLEN];
	const char	*why;
	enum san_type	 type;
	int		 rc;

	if (der_whole(p, len, DER_SEQUENCE, &t) == -1)
		goto bad;
	der_init(&d, t.val, t.len);
	while (!der_at_end(&d)) {
		if (der_read(&d, &g) == -1)
			goto bad;
		switch (g.tag) {
		case DER_CTX(1):
		case DER_CTX(2):
		case DER_CTX(6):
			type = g.tag == DER_CTX(1) ? SAN_EMAIL :
			    g.tag == DER_CTX(2) ? SAN_DNS : SAN_URI;
			if (!san_text_ok(g.val, g.len))
				goto bad;
			if ((why = san_check(type, g.val, g.len)) != NULL) {
				csr_err(err, errlen, "subjectAltName %s "
				    "\"%.*s\" %s", type == SAN_DNS ? "DNS" :
				    type == SAN_EMAIL ? "email" : "URI",
				    (int)(g.len > 80 ? 80 : g.len), g.val, why);
				return -1;
			}
			if (add_san(c, type, (const char *)g.val, g.len) == -1)
				goto nomem;
			break;
		case DER_CTX(7):
			if (g.len != 4 && g.len != 16)
				goto bad;
			if (inet_ntop(g.len == 4 ? AF_INET : AF_INET6, g.val,
			    ip, sizeof(ip)) == NULL)
				goto bad;
			if (add_san(c, SAN_IP, ip, strlen(ip)) == -1)
				goto nomem;
			break;
		case DER_CTX_CONS(0):
		case DER_CTX_CONS(4):
		case DER_CTX(8):
			rc = g.tag == DER_CTX_CONS(0) ?
			    parse_other_name(c, &g, err, errlen) :
			    g.tag == DER_CTX_CONS(4) ?
			    parse_dir_name(c, &g, err, errlen) :
			    parse_registered_id(c, &g, err, errlen);
			if (rc == SAN_BAD)
				goto bad;
			if (rc == -1)
				return -1;
			break;
		case DER_CTX_CONS(3):
		case DER_CTX_CONS(5):
			/* Never dropped silently: the certificate would lack it. */
			csr_err(err, errlen, "subjectAltName %s names are not "
			    "supported", g.tag == DER_CTX_CONS(3) ?
			    "x400Address" : "ediPartyName");
			return -1;
		default:
			goto bad;
		}
		if (c->nsans > MAX_SANS) {
			csr_err(err, errlen, "more than %d subjectAltName "
			    "names", MAX_SANS);
			return -1;
		}
	}
	return 0;
bad:
	csr_err(err, errlen, NOT_PKCS10 "bad subjectAltName extension");
	return -1;
nomem:
	csr_err(err, errlen, "out of memory");
	return -1;
}

/* Is name a among those of have? DNS names in any case. */
static int
san_among(const struct san *a, const struct san *have, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		if (have[i].type != a->type)
			continue;
		if (a->type == SAN_DIRNAME ? a->der_len == have[i].der_len &&
		    memcmp(a->der, have[i].der, a->der_len) == 0 :
		    a->type == SAN_DNS ? strcasecmp(a->value, have[i].value) == 0 :
		    strcmp(a->value, have[i].value) == 0)
			return 1;
	}
	return 0;
}

int
csr_sans_within(const struct csr *c, const unsigned char *san, size_t len,
    char *err, size_t errlen)
{
	struct csr	 had;
	size_t		 i;
	int		 rc = 1;

	memset(&had, 0, sizeof(had));
	if (san != NULL && csr_parse_sans(&had, san, len, err, errlen) == -1) {
		csr_free(&had);
		return -1;
	}
	for (i = 0; rc == 1 && i < c->nsans; i++)
		if (!san_among(&c->sans[i], had.sans, had.nsans)) {
			csr_err(err, errlen, "%s", c->sans[i].value);
			rc = 0;
		}
	csr_free(&had);
	return rc;
}

int
san_list_parse(const unsigned char *san, size_t len, struct san **sans,
    size_t *n, char *err, size_t errlen)
{
	struct csr	 had;

	memset(&had, 0, sizeof(had));
	if (csr_parse_sans(&had, san, len, err, errlen) == -1) {
		csr_free(&had);
		return -1;
	}
	*sans = had.sans;
	*n = had.nsans;
	had.sans = NULL;
	had.nsans = 0;
	csr_free(&had);
	return 0;
}

void
san_list_free(struct san *sans, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		free(sans[i].value);
		free(sans[i].der);
	}
	free(sans);
}
