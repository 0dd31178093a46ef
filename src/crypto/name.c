/*
 * name.c - X.501 Names: the values of one attribute, RFC 4514 text, and a
 * requested subject re-encoded as the CA signs it (name_canonical). Names
 * come from requests, so they are read with the strict DER reader and
 * every string is checked as it is converted to UTF-8.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "der.h"

/* Short names for RFC 4514 text; anything else is written as a dotted OID. */
static const struct {
	const char	*oid;
	const char	*name;
} short_names[] = {
	{ "2.5.4.3", "CN" },
	{ "2.5.4.4", "SN" },
	{ "2.5.4.5", "SERIALNUMBER" },
	{ "2.5.4.6", "C" },
	{ "2.5.4.7", "L" },
	{ "2.5.4.8", "ST" },
	{ "2.5.4.9", "STREET" },
	{ "2.5.4.10", "O" },
	{ "2.5.4.11", "OU" },
	{ "2.5.4.12", "T" },
	{ "2.5.4.17", "postalCode" },
	{ "2.5.4.41", "name" },
	{ "2.5.4.42", "GN" },
	{ "2.5.4.43", "initials" },
	{ "2.5.4.44", "generationQualifier" },
	{ "2.5.4.46", "dnQualifier" },
	{ "2.5.4.65", "pseudonym" },
	{ "2.5.4.97", "organizationIdentifier" },
	{ "0.9.2342.19200300.100.1.1", "UID" },
	{ "0.9.2342.19200300.100.1.25", "DC" },
	{ "1.2.840.113549.1.9.1", "emailAddress" },
};

/*
 * Append code point c as UTF-8. Returns 0, or -1 for a surrogate, a value
 * past U+10FFFF or no memory.
 */
static int
put_utf8(struct buf *b, uint32_t c)
{
	unsigned char	 o[4];
	size_t		 n;

	if (c < 0x80) {
		o[0] = (unsigned char)c;
		n = 1;
	} else if (c < 0x800) {
		o[0] = (unsigned char)(0xc0 | c >> 6);
		o[1] = (unsigned char)(0x80 | (c & 0x3f));
		n = 2;
	} else if (c < 0x10000) {
		if (c >= 0xd800 && c <= 0xdfff)
			return -1;
		o[0] = (unsigned char)(0xe0 | c >> 12);
		o[1] = (unsigned char)(0x80 | (c >> 6 & 0x3f));
		o[2] = (unsigned char)(0x80 | (c & 0x3f));
		n = 3;
	} else if (c <= 0x10ffff) {
		o[0] = (unsigned char)(0xf0 | c >> 18);
		o[1] = (unsigned char)(0x80 | (c >> 12 & 0x3f));
		o[2] = (unsigned char)(0x80 | (c >> 6 & 0x3f));
		o[3] = (unsigned char)(0x80 | (c & 0x3f));
		n = 4;
	} else
		return -1;
	return buf_append(b, o, n);
}

/*
 * Is p[0..n) well-formed UTF-8 (no overlong forms, surrogates or values
 * past U+10FFFF)? Returns 1 or 0.
 */
int
utf8_valid(const unsigned char *p, size_t n)
{
	size_t		 i = 0, k, need;
	uint32_t	 c, min;

	while (i < n) {
		c = p[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		if ((c & 0xe0) == 0xc0) {
			need = 1;
			c &= 0x1f;
			min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			need = 2;
			c &= 0x0f;
			min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			need = 3;
			c &= 0x07;
			min = 0x10000;
		} else
			return 0;
		if (n - i - 1 < need)
			return 0;
		for (k = 1; k <= need; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return 0;
			c = c << 6 | (p[i + k] & 0x3f);
		}
		if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
			return 0;
		i += need + 1;
	}
	return 1;
}

/*
 * Append the value of a directory string element as UTF-8: UTF8String
 * checked, the ASCII types (Printable, IA5, Numeric, Visible) checked to be
 * 7-bit, T61String read as Latin-1, BMPString as UTF-16BE and
 * UniversalString as UCS-4BE. Returns 0, 1 when the element is not a string
 * type we know (nothing appended), or -1 on bad contents or no memory.
 */
static int
string_decode(const struct der_tlv *t, struct buf *b)
{
	size_t		 i;
	uint32_t	 c, lo;

	switch (t->tag) {
	case DER_UTF8STRING:
		if (!utf8_valid(t->val, t->len))
			return -1;
		return buf_append(b, t->val, t->len);
	case DER_PRINTABLESTRING:
	case DER_IA5STRING:
	case DER_NUMERICSTRING:
	case DER_VISIBLESTRING:
		for (i = 0; i < t->len; i++)
			if (t->val[i] >= 0x80)
				return -1;
		return buf_append(b, t->val, t->len);
	case DER_T61STRING:
		for (i = 0; i < t->len; i++)
			if (put_utf8(b, t->val[i]) == -1)
				return -1;
		return 0;
	case DER_BMPSTRING:
		if (t->len % 2)
			return -1;
		for (i = 0; i < t->len; i += 2) {
			c = (uint32_t)t->val[i] << 8 | t->val[i + 1];
			if (c >= 0xd800 && c <= 0xdbff && i + 3 < t->len) {
				lo = (uint32_t)t->val[i + 2] << 8 | t->val[i + 3];
				if (lo >= 0xdc00 && lo <= 0xdfff) {
					c = 0x10000 + ((c - 0xd800) << 10) +
					    (lo - 0xdc00);
					i += 2;
				}
			}
			if (put_utf8(b, c) == -1)
				return -1;
		}
		return 0;
	case DER_UNIVERSALSTRING:
		if (t->len % 4)
			return -1;
		for (i = 0; i < t->len; i += 4) {
			c = (uint32_t)t->val[i] << 24 |
			    (uint32_t)t->val[i + 1] << 16 |
			    (uint32_t)t->val[i + 2] << 8 | t->val[i + 3];
			if (put_utf8(b, c) == -1)
				return -1;
		}
		return 0;
	default:
		return 1;
	}
}

/*
 * Append a value that is not a known string type as '#' and the hex of
 * its whole DER encoding (RFC 4514 2.4). Returns 0 or -1.
 */
static int
put_hexform(struct buf *b, const struct der_tlv *t)
{
	char	*h;
	int	 rc;

	if ((h = hex_encode(t->raw, t->raw_len)) == NULL)
		return -1;
	rc = buf_printf(b, "#%s", h);
	free(h);
	return rc;
}

/*
 * Read one AttributeTypeAndValue from the RDN cursor. Returns 0 with the
 * type's OID element and the value element, or -1 on bad input.
 */
static int
next_atv(struct der *rdn, struct der_tlv *type, struct der_tlv *value)
{
	struct der	 atv;

	if (der_enter(rdn, DER_SEQUENCE, &atv) == -1 ||
	    der_expect(&atv, DER_OID, type) == -1 ||
	    der_read(&atv, value) == -1 || !der_at_end(&atv))
		return -1;
	return 0;
}

/*
 * Every value of the attribute oid (dotted) in the DER Name, in the order
 * of the name, joined with '\n'. Values that are not strings come out in
 * the '#hex' form. Returns 0 with *values malloc'd, 1 (and NULL) when the
 * name has no such attribute, -1 on bad input (including a value holding a
 * NUL) or no memory.
 */
int
name_get(const unsigned char *name, size_t len, const char *oid,
    char **values)
{
	struct buf	 b = { 0 };
	struct der_tlv	 t, type, value;
	struct der	 rdns, rdn;
	unsigned char	 want[DER_OID_MAX];
	size_t		 wantlen, start;
	int		 found = 0, rc;

	*values = NULL;
	if (der_oid_encode(oid, want, sizeof(want), &wantlen) == -1 ||
	    der_whole(name, len, DER_SEQUENCE, &t) == -1)
		return -1;
	der_init(&rdns, t.val, t.len);
	while (!der_at_end(&rdns)) {
		if (der_enter(&rdns, DER_SET, &rdn) == -1 || der_at_end(&rdn))
			goto bad;
		while (!der_at_end(&rdn)) {
			if (next_atv(&rdn, &type, &value) == -1)
				goto bad;
			if (type.len != wantlen ||
			    memcmp(type.val, want, wantlen) != 0)
				continue;
			if (found++ && buf_appendc(&b, '\n') == -1)
				goto bad;
			start = b.len;
			if ((rc = string_decode(&value, &b)) == -1)
				goto bad;
			if (rc == 1 && put_hexform(&b, &value) == -1)
				goto bad;
			if (memchr(b.data + start, '\0', b.len - start) != NULL)
				goto bad;
		}
	}
	if (!found)
		return 1;
	if (buf_append(&b, "", 0) == -1 || (*values = buf_steal(&b)) == NULL)
		goto bad;
	return 0;
bad:
	buf_free(&b);
	return -1;
}

/*
 * Append UTF-8 value text from offset start of b escaped per RFC 4514:
 * the specials with a backslash, a leading space or '#' and a trailing
 * space likewise, NUL and other control characters as \XX. The unescaped
 * text is at b->data[start..b->len) and is replaced. Returns 0 or -1.
 */
static int
escape_from(struct buf *b, size_t start)
{
	static const char hexd[] = "0123456789ABCDEF";
	struct buf	 e = { 0 };
	size_t		 i, n = b->len - start;
	unsigned char	 c;
	int		 rc;

	for (i = 0; i < n; i++) {
		c = b->data[start + i];
		if (c < 0x20 || c == 0x7f) {
			rc = buf_appendc(&e, '\\');
			if (rc == 0)
				rc = buf_appendc(&e, (unsigned char)hexd[c >> 4]);
			if (rc == 0)
				rc = buf_appendc(&e, (unsigned char)hexd[c & 0xf]);
		} else {
			rc = 0;
			if (strchr(",+\"\\<>;", c) != NULL ||
			    (i == 0 && (c == ' ' || c == '#')) ||
			    (i == n - 1 && c == ' '))
				rc = buf_appendc(&e, '\\');
			if (rc == 0)
				rc = buf_appendc(&e, c);
		}
		if (rc == -1) {
			buf_free(&e);
			return -1;
		}
	}
	b->len = start;
	rc = buf_append(b, e.data, e.len);
	buf_free(&e);
	return rc;
}

/*
 * Append one AttributeTypeAndValue as "type=value". Returns 0 or -1.
 */
static int
put_atv(struct buf *b, const struct der_tlv *type, const struct der_tlv *value)
{
	char	*oid;
	size_t	 i, start;
	int	 rc;

	if ((oid = der_oid_text(type->val, type->len)) == NULL)
		return -1;
	for (i = 0; i < nitems(short_names); i++)
		if (strcmp(oid, short_names[i].oid) == 0)
			break;
	rc = buf_printf(b, "%s=", i < nitems(short_names) ?
	    short_names[i].name : oid);
	free(oid);
	if (rc == -1)
		return -1;
	start = b->len;
	if ((rc = string_decode(value, b)) == -1)
		return -1;
	if (rc == 1)
		return put_hexform(b, value);
	return escape_from(b, start);
}

/*
 * Append one RDN, its attributes last first (as OpenSSL prints them) and
 * joined with '+'. Returns 0, or -1 on bad input or no memory.
 */
static int
put_rdn(struct buf *b, const struct der_tlv *set)
{
	struct der_tlv	 atv[8], *v = atv, type, value;
	struct der	 rdn;
	size_t		 n = 0, i;
	int		 rc = -1;

	der_init(&rdn, set->val, set->len);
	while (!der_at_end(&rdn)) {
		if (der_expect(&rdn, DER_SEQUENCE, &type) == -1)
			return -1;
		n++;
	}
	if (n == 0)
		return -1;
	if (n > nitems(atv) && (v = calloc(n, sizeof(*v))) == NULL)
		return -1;
	der_init(&rdn, set->val, set->len);
	for (i = 0; i < n; i++)
		if (der_read(&rdn, &v[i]) == -1)
			goto out;
	while (n-- > 0) {
		der_init(&rdn, v[n].raw, v[n].raw_len);
		if (next_atv(&rdn, &type, &value) == -1 ||
		    put_atv(b, &type, &value) == -1 ||
		    (n > 0 && buf_appendc(b, '+') == -1))
			goto out;
	}
	rc = 0;
out:
	if (v != atv)
		free(v);
	return rc;
}

/*
 * The DER Name as RFC 4514 text: RDNs last first, separated by ',', the
 * values of a multi-valued RDN by '+' (also last first, like OpenSSL). Returns a malloc'd string ("" for
 * the empty name), or NULL on bad input or no memory.
 */
char *
name_to_text(const unsigned char *name, size_t len)
{
	struct buf	 b = { 0 };
	struct der_tlv	 t, value, *rdnv = NULL;
	struct der	 rdns;
	size_t		 n = 0, i;

	if (der_whole(name, len, DER_SEQUENCE, &t) == -1)
		return NULL;
	/* Count the RDNs first; they are written in reverse. */
	der_init(&rdns, t.val, t.len);
	while (!der_at_end(&rdns)) {
		if (der_expect(&rdns, DER_SET, &value) == -1)
			return NULL;
		n++;
	}
	if (n > 0 && (rdnv = calloc(n, sizeof(*rdnv))) == NULL)
		return NULL;
	der_init(&rdns, t.val, t.len);
	for (i = 0; i < n; i++)
		if (der_expect(&rdns, DER_SET, &rdnv[i]) == -1)
			goto bad;
	while (n-- > 0) {
		if (put_rdn(&b, &rdnv[n]) == -1)
			goto bad;
		if (n > 0 && buf_appendc(&b, ',') == -1)
			goto bad;
	}
	free(rdnv);
	/* buf_steal does not terminate a buffer that never held anything. */
	if (buf_append(&b, "", 0) == -1)
		goto bad;
	return buf_steal(&b);
bad:
	free(rdnv);
	buf_free(&b);
	return NULL;
}

/*
 * The subject attributes a certificate may carry, with RFC 5280 Appendix
 * A's upper bounds (in characters) and the string type of their values.
 */
enum name_form {
	FORM_DIRECTORY,	/* DirectoryString: PrintableString or UTF8String */
	FORM_PRINTABLE,	/* PrintableString only */
	FORM_COUNTRY,	/* two upper-case letters, PrintableString */
	FORM_IA5,	/* IA5String, printable ASCII */
};

static const struct {
	const char	*oid;
	size_t		 max;
	enum name_form	 form;
} subject_attrs[] = {
	{ "2.5.4.3", 64, FORM_DIRECTORY },		/* commonName */
	{ "2.5.4.4", 32768, FORM_DIRECTORY },		/* surname */
	{ "2.5.4.5", 64, FORM_PRINTABLE },		/* serialNumber */
	{ "2.5.4.6", 2, FORM_COUNTRY },			/* countryName */
	{ "2.5.4.7", 128, FORM_DIRECTORY },		/* localityName */
	{ "2.5.4.8", 128, FORM_DIRECTORY },		/* stateOrProvinceName */
	{ "2.5.4.9", 128, FORM_DIRECTORY },		/* streetAddress */
	{ "2.5.4.10", 64, FORM_DIRECTORY },		/* organizationName */
	{ "2.5.4.11", 64, FORM_DIRECTORY },		/* organizationalUnitName */
	{ "2.5.4.12", 64, FORM_DIRECTORY },		/* title */
	{ "2.5.4.17", 40, FORM_DIRECTORY },		/* postalCode */
	{ "2.5.4.41", 32768, FORM_DIRECTORY },		/* name */
	{ "2.5.4.42", 32768, FORM_DIRECTORY },		/* givenName */
	{ "2.5.4.43", 32768, FORM_DIRECTORY },		/* initials */
	{ "2.5.4.44", 32768, FORM_DIRECTORY },		/* generationQualifier */
	{ "2.5.4.46", 64, FORM_PRINTABLE },		/* dnQualifier */
	{ "2.5.4.65", 128, FORM_DIRECTORY },		/* pseudonym */
	{ "2.5.4.97", 64, FORM_DIRECTORY },		/* organizationIdentifier */
	{ "0.9.2342.19200300.100.1.1", 256, FORM_DIRECTORY },	/* uid */
	{ "0.9.2342.19200300.100.1.25", 63, FORM_IA5 },	/* domainComponent */
	{ "1.2.840.113549.1.9.1", 255, FORM_IA5 },	/* emailAddress */
};

#define NAME_MAX_ATVS	64	/* attributes in one subject */

static int
printable_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || strchr(" '()+,-./:=?", c) != NULL;
}

/*
 * Check decoded UTF-8 text for a subject value: not empty, no control
 * character (C0, DEL, C1), nothing invisible or reordering
 * (text_hidden_char) and at most max code points. Returns NULL or
 * what is wrong (for a length, written into toolong).
 */
static const char *
text_check(const unsigned char *p, size_t n, size_t max, char *toolong,
    size_t len)
{
	size_t	 i, chars = 0;

	if (n == 0)
		return "is empty";
	for (i = 0; i < n; i++) {
		if (p[i] < 0x20 || p[i] == 0x7f)
			return "holds a control character";
		/* U+0080..U+009F are C2 80..C2 9F in UTF-8. */
		if (p[i] == 0xc2 && i + 1 < n && p[i + 1] >= 0x80 &&
		    p[i + 1] <= 0x9f)
			return "holds a control character";
		/* "bmp\u202egnp.exe" reads as "bmpexe.png" */
		if (text_hidden_char(p + i, n - i) > 0)
			return "holds an invisible or bidirectional control "
			    "character";
		if ((p[i] & 0xc0) != 0x80)
			chars++;
	}
	if (chars > max) {
		snprintf(toolong, len, "is too long (%zu "
		    "characters, at most %zu)", chars, max);
		return toolong;
	}
	return NULL;
}

/*
 * Decode a subject value: only string types OpenSSL and TLS clients read
 * the same way (UTF8String, PrintableString within its character set,
 * IA5String, BMPString without surrogates, T61String read as Latin-1,
 * UniversalString), primitive; the UTF-8 text is appended to b. Returns
 * NULL or what is wrong.
 */
static const char *
value_decode(const struct der_tlv *v, struct buf *b)
{
	size_t	 i;

	switch (v->tag) {
	case DER_PRINTABLESTRING:
		for (i = 0; i < v->len; i++)
			if (!printable_char(v->val[i]))
				return "is a PrintableString with a character "
				    "outside its set";
		break;
	case DER_BMPSTRING:
		for (i = 0; i + 1 < v->len; i += 2)
			if (v->val[i] >= 0xd8 && v->val[i] <= 0xdf)
				return "is a BMPString with a surrogate";
		break;
	case DER_UTF8STRING:
	case DER_IA5STRING:
	case DER_T61STRING:
	case DER_UNIVERSALSTRING:
		break;
	default:
		return "is not a string type this CA signs";
	}
	if (string_decode(v, b) != 0)
		return "is not a valid string of its type";
	return NULL;
}

/* Append a re-encoded AttributeTypeAndValue to b. */
static int
put_canonical_atv(struct buf *b, const struct der_tlv *type,
    enum name_form form, const unsigned char *text, size_t n)
{
	size_t		 m, i;
	unsigned int	 tag = DER_UTF8STRING;

	if (form == FORM_IA5)
		tag = DER_IA5STRING;
	else if (form != FORM_DIRECTORY)
		tag = DER_PRINTABLESTRING;
	else {
		for (i = 0; i < n && printable_char(text[i]); i++)
			;
		if (i == n)
			tag = DER_PRINTABLESTRING;
	}
	if (der_open(b, DER_SEQUENCE, &m) == -1 ||
	    der_put_tlv(b, DER_OID, type->val, type->len) == -1 ||
	    der_put_tlv(b, tag, text, n) == -1 || der_close(b, m) == -1)
		return -1;
	return 0;
}

/*
 * One AttributeTypeAndValue of a subject, validated and re-encoded into b.
 * Returns 0, or -1 with err (or no memory).
 */
static int
canonical_atv(struct buf *b, const struct der_tlv *type,
    const struct der_tlv *value, char *err, size_t errlen)
{
	struct buf	 t = { 0 };
	const char	*why = NULL;
	char		*oid, toolong[96];
	size_t		 i, j, k;
	int		 rc = -1;

	if ((oid = der_oid_text(type->val, type->len)) == NULL) {
		snprintf(err, errlen, "bad attribute type in the subject");
		return -1;
	}
	for (i = 0; i < nitems(subject_attrs); i++)
		if (strcmp(oid, subject_attrs[i].oid) == 0)
			break;
	for (k = 0; k < nitems(short_names); k++)
		if (strcmp(oid, short_names[k].oid) == 0)
			break;
	if (i == nitems(subject_attrs)) {
		snprintf(err, errlen, "subject attribute %s is not one this "
		    "CA signs", oid);
		goto out;
	}
	if ((why = value_decode(value, &t)) != NULL)
		;
	else if (subject_attrs[i].form == FORM_COUNTRY) {
		if (t.len != 2 || t.data[0] < 'A' || t.data[0] > 'Z' ||
		    t.data[1] < 'A' || t.data[1] > 'Z')
			why = "is not a two-letter country code";
	} else if ((why = text_check(t.data, t.len, subject_attrs[i].max,
	    toolong, sizeof(toolong))) == NULL &&
	    subject_attrs[i].form != FORM_DIRECTORY) {
		for (j = 0; j < t.len && why == NULL; j++)
			if (t.data[j] >= 0x80 ||
			    (subject_attrs[i].form == FORM_PRINTABLE &&
			    !printable_char(t.data[j])))
				why = "has a character its type does not allow";
	}
	if (why != NULL) {
		snprintf(err, errlen, "subject attribute %s %s", k <
		    nitems(short_names) ? short_names[k].name : oid, why);
		goto out;
	}
	if (put_canonical_atv(b, type, subject_attrs[i].form, t.data,
	    t.len) == -1) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	rc = 0;
out:
	free(oid);
	buf_free(&t);
	return rc;
}

struct enc {
	const unsigned char *p;
	size_t		 len;
};

/* DER's SET OF order: by encoding, a shorter one first when a prefix. */
static int
enc_cmp(const void *a, const void *b)
{
	const struct enc *x = a, *y = b;
	int		 c = memcmp(x->p, y->p, x->len < y->len ? x->len : y->len);

	return c != 0 ? c : x->len < y->len ? -1 : x->len > y->len;
}

/* Re-encode one RDN (SET of ATVs) into b, its members in DER order. */
static int
canonical_rdn(struct buf *b, struct der *rdn, size_t *natv, char *err,
    size_t errlen)
{
	struct buf	 atvs = { 0 };
	struct der_tlv	 type, value;
	struct enc	 v[NAME_MAX_ATVS];
	size_t		 offs[NAME_MAX_ATVS], n = 0, i, m;
	int		 rc = -1;

	while (!der_at_end(rdn)) {
		if (next_atv(rdn, &type, &value) == -1) {
			snprintf(err, errlen, "bad subject name");
			goto out;
		}
		if (++*natv > NAME_MAX_ATVS) {
			snprintf(err, errlen, "the subject has more than %d "
			    "attributes", NAME_MAX_ATVS);
			goto out;
		}
		offs[n++] = atvs.len;
		if (canonical_atv(&atvs, &type, &value, err, errlen) == -1)
			goto out;
	}
	if (n == 0) {
		snprintf(err, errlen, "bad subject name (an empty RDN)");
		goto out;
	}
	for (i = 0; i < n; i++) {
		v[i].p = atvs.data + offs[i];
		v[i].len = (i + 1 < n ? offs[i + 1] : atvs.len) - offs[i];
	}
	qsort(v, n, sizeof(v[0]), enc_cmp);
	if (der_open(b, DER_SET, &m) == -1)
		goto nomem;
	for (i = 0; i < n; i++)
		if (buf_append(b, v[i].p, v[i].len) == -1)
			goto nomem;
	if (der_close(b, m) == -1)
		goto nomem;
	rc = 0;
	goto out;
nomem:
	snprintf(err, errlen, "out of memory");
out:
	buf_free(&atvs);
	return rc;
}

int
name_canonical(const unsigned char *name, size_t len, unsigned char **out,
    size_t *outlen, char *err, size_t errlen)
{
	struct buf	 b = { 0 };
	struct der_tlv	 t, set;
	struct der	 rdns, rdn;
	size_t		 m, natv = 0;

	*out = NULL;
	*outlen = 0;
	if (der_whole(name, len, DER_SEQUENCE, &t) == -1) {
		snprintf(err, errlen, "bad subject name");
		return -1;
	}
	if (der_open(&b, DER_SEQUENCE, &m) == -1)
		goto nomem;
	der_init(&rdns, t.val, t.len);
	while (!der_at_end(&rdns)) {
		if (der_expect(&rdns, DER_SET, &set) == -1) {
			snprintf(err, errlen, "bad subject name");
			goto fail;
		}
		der_init(&rdn, set.val, set.len);
		if (canonical_rdn(&b, &rdn, &natv, err, errlen) == -1)
			goto fail;
	}
	if (der_close(&b, m) == -1)
		goto nomem;
	*outlen = b.len;
	if ((*out = (unsigned char *)buf_steal(&b)) == NULL)
		goto nomem;
	return 0;
nomem:
	snprintf(err, errlen, "out of memory");
fail:
	buf_free(&b);
	return -1;
}
