/*
 * Unit tests for src/crypto/name.c: name_get and name_to_text on ordinary,
 * multi-valued and unusual names (every string type, escapes, values that
 * are not strings, broken encodings), compared with OpenSSL's RFC 2253
 * printer where the two must agree.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "crypto/crypto.h"
#include "crypto/der.h"

#include <openssl/bio.h>
#include <openssl/x509.h>

/* One attribute of a test name; plus = same RDN as the previous one. */
struct atv {
	const char	*oid;
	unsigned int	 tag;
	const char	*val;
	size_t		 len;	/* 0: strlen(val) */
	int		 plus;
};

/*
 * Encode the attributes as a DER Name into b.
 */
static void
make_name(struct buf *b, const struct atv *a, size_t n)
{
	size_t	 mname, mrdn = 0, matv, i;

	b->len = 0;
	assert_int_equal(der_open(b, DER_SEQUENCE, &mname), 0);
	for (i = 0; i < n; i++) {
		if (!a[i].plus) {
			if (i > 0)
				assert_int_equal(der_close(b, mrdn), 0);
			assert_int_equal(der_open(b, DER_SET, &mrdn), 0);
		}
		assert_int_equal(der_open(b, DER_SEQUENCE, &matv), 0);
		assert_int_equal(der_put_oid(b, a[i].oid), 0);
		assert_int_equal(der_put_tlv(b, a[i].tag, a[i].val,
		    a[i].len ? a[i].len : strlen(a[i].val)), 0);
		assert_int_equal(der_close(b, matv), 0);
	}
	if (n > 0)
		assert_int_equal(der_close(b, mrdn), 0);
	assert_int_equal(der_close(b, mname), 0);
}

/*
 * name_to_text of the attributes must be want (NULL: must fail).
 */
static void
text_is(const struct atv *a, size_t n, const char *want)
{
	struct buf	 b = { 0 };
	char		*s;

	make_name(&b, a, n);
	s = name_to_text(b.data, b.len);
	if (want == NULL)
		assert_null(s);
	else {
		assert_non_null(s);
		assert_string_equal(s, want);
	}
	free(s);
	buf_free(&b);
}

/*
 * OpenSSL's RFC 2253 text of the DER name (UTF-8 kept as is).
 */
static char *
openssl_text(const unsigned char *der, size_t len)
{
	const unsigned char *p = der;
	X509_NAME	*n;
	BIO		*bio;
	char		*s, *data;
	long		 l;

	n = d2i_X509_NAME(NULL, &p, (long)len);
	assert_non_null(n);
	bio = BIO_new(BIO_s_mem());
	assert_true(X509_NAME_print_ex(bio, n, 0,
	    XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0);
	l = BIO_get_mem_data(bio, &data);
	/* Not NUL-terminated: strndup would read one byte past it. */
	s = malloc((size_t)l + 1);
	assert_non_null(s);
	if (l > 0)
		memcpy(s, data, (size_t)l);
	s[l] = '\0';
	BIO_free(bio);
	X509_NAME_free(n);
	return s;
}

static void
test_simple(void **state)
{
	const struct atv a[] = {
		{ "2.5.4.6", DER_PRINTABLESTRING, "US", 0, 0 },
		{ "2.5.4.8", DER_UTF8STRING, "California", 0, 0 },
		{ "2.5.4.7", DER_UTF8STRING, "San Francisco", 0, 0 },
		{ "2.5.4.10", DER_UTF8STRING, "Example, Inc.", 0, 0 },
		{ "2.5.4.11", DER_UTF8STRING, "R&D", 0, 0 },
		{ "2.5.4.3", DER_UTF8STRING, "www.example.com", 0, 0 },
	};

	text_is(a, nitems(a), "CN=www.example.com,OU=R&D,O=Example\\, Inc.,"
	    "L=San Francisco,ST=California,C=US");
	text_is(a, 0, "");
}

static void
test_short_names(void **state)
{
	const struct atv a[] = {
		{ "0.9.2342.19200300.100.1.25", DER_IA5STRING, "com", 0, 0 },
		{ "0.9.2342.19200300.100.1.25", DER_IA5STRING, "example", 0, 0 },
		{ "0.9.2342.19200300.100.1.1", DER_UTF8STRING, "jdoe", 0, 0 },
		{ "1.2.840.113549.1.9.1", DER_IA5STRING, "j@example.com", 0, 0 },
		{ "2.5.4.5", DER_PRINTABLESTRING, "1234", 0, 0 },
		{ "2.5.4.42", DER_UTF8STRING, "John", 0, 0 },
		{ "2.5.4.4", DER_UTF8STRING, "Doe", 0, 0 },
		{ "2.5.4.12", DER_UTF8STRING, "Dr", 0, 0 },
		{ "2.5.4.9", DER_UTF8STRING, "Main St 1", 0, 0 },
		{ "1.2.3.4.5", DER_UTF8STRING, "x", 0, 0 },
		{ "2.25.329800735698586629295641978511506172918",
		    DER_UTF8STRING, "uuid", 0, 0 },
	};

	text_is(a, nitems(a), "2.25.329800735698586629295641978511506172918="
	    "uuid,1.2.3.4.5=x,STREET=Main St 1,T=Dr,SN=Doe,GN=John,"
	    "SERIALNUMBER=1234,emailAddress=j@example.com,UID=jdoe,"
	    "DC=example,DC=com");
}

static void
test_multivalued(void **state)
{
	const struct atv a[] = {
		{ "2.5.4.10", DER_UTF8STRING, "Org", 0, 0 },
		{ "2.5.4.11", DER_UTF8STRING, "a", 0, 0 },
		{ "2.5.4.11", DER_UTF8STRING, "b", 0, 0 },
		{ "2.5.4.3", DER_UTF8STRING, "Jane", 0, 0 },
		{ "0.9.2342.19200300.100.1.1", DER_UTF8STRING, "jane", 0, 1 },
		{ "2.5.4.11", DER_UTF8STRING, "c", 0, 1 },
	};
	struct buf	 b = { 0 };
	char		*v, *o;

	text_is(a, nitems(a), "OU=c+UID=jane+CN=Jane,OU=b,OU=a,O=Org");
	make_name(&b, a, nitems(a));
	assert_int_equal(name_get(b.data, b.len, "2.5.4.11", &v), 0);
	assert_string_equal(v, "a\nb\nc");
	free(v);
	assert_int_equal(name_get(b.data, b.len, "2.5.4.3", &v), 0);
	assert_string_equal(v, "Jane");
	free(v);
	assert_int_equal(name_get(b.data, b.len, "2.5.4.6", &v), 1);
	assert_null(v);
	assert_int_equal(name_get(b.data, b.len, "not.an.oid", &v), -1);
	assert_int_equal(name_get(b.data, b.len - 1, "2.5.4.3", &v), -1);
	/* OpenSSL agrees on the order and the '+' joins. */
	v = name_to_text(b.data, b.len);
	o = openssl_text(b.data, b.len);
	assert_string_equal(v, o);
	free(v);
	free(o);
	buf_free(&b);
}

static void
test_escapes(void **state)
{
	static const char *const vals[] = {
		"a,b", "a+b", "a;b", "a\"b", "a\\b", "a<b>c", " lead", "#hash",
		"trail ", " both ", "mid # dle", "a=b", "  two", "caf\xc3\xa9",
		"tab\there", "nl\n", "\xe2\x82\xac", "#", " ",
	};
	const char *const want[] = {
		"a\\,b", "a\\+b", "a\\;b", "a\\\"b", "a\\\\b", "a\\<b\\>c",
		"\\ lead", "\\#hash", "trail\\ ", "\\ both\\ ", "mid # dle", "a=b",
		"\\  two", "caf\xc3\xa9", "tab\\09here", "nl\\0A",
		"\xe2\x82\xac", "\\#", "\\ ",
	};
	struct atv	 a = { "2.5.4.3", DER_UTF8STRING, NULL, 0, 0 };
	struct buf	 b = { 0 };
	char		 w[64], *mine, *theirs;
	size_t		 i;

	for (i = 0; i < nitems(vals); i++) {
		a.val = vals[i];
		snprintf(w, sizeof(w), "CN=%s", want[i]);
		text_is(&a, 1, w);
		/* Same as OpenSSL's RFC 2253 printer, which forgets to
		 * escape a value that is just "#". */
		if (strcmp(vals[i], "#") == 0)
			continue;
		make_name(&b, &a, 1);
		mine = name_to_text(b.data, b.len);
		theirs = openssl_text(b.data, b.len);
		assert_string_equal(mine, theirs);
		free(mine);
		free(theirs);
	}
	/* A NUL is escaped in text and refused by name_get. */
	a.val = "a\0b";
	a.len = 3;
	text_is(&a, 1, "CN=a\\00b");
	make_name(&b, &a, 1);
	assert_int_equal(name_get(b.data, b.len, "2.5.4.3", &mine), -1);
	buf_free(&b);
}

static void
test_string_types(void **state)
{
	/* BMPString "é€😀" (with a surrogate pair), UTF-16BE. */
	static const char bmp[] = { 0x00, (char)0xe9, 0x20, (char)0xac,
	    (char)0xd8, 0x3d, (char)0xde, 0x00 };
	static const char uni[] = { 0, 0, 0x03, (char)0xa9, 0, 0x01,
	    (char)0xf6, 0x00 };
	static const char t61[] = { 'c', 'a', 'f', (char)0xe9 };
	struct atv	 a[] = {
		{ "2.5.4.3", DER_BMPSTRING, bmp, sizeof(bmp), 0 },
		{ "2.5.4.10", DER_UNIVERSALSTRING, uni, sizeof(uni), 0 },
		{ "2.5.4.11", DER_T61STRING, t61, sizeof(t61), 0 },
		{ "2.5.4.7", DER_IA5STRING, "ia5", 0, 0 },
		{ "2.5.4.8", DER_VISIBLESTRING, "vis", 0, 0 },
		{ "2.5.4.5", DER_NUMERICSTRING, "123", 0, 0 },
	};
	struct buf	 b = { 0 };
	char		*v;

	text_is(a, nitems(a), "SERIALNUMBER=123,ST=vis,L=ia5,OU=caf\xc3\xa9,"
	    "O=\xce\xa9\xf0\x9f\x98\x80,CN=\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
	make_name(&b, a, nitems(a));
	assert_int_equal(name_get(b.data, b.len, "2.5.4.3", &v), 0);
	assert_string_equal(v, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
	free(v);
	assert_int_equal(name_get(b.data, b.len, "2.5.4.11", &v), 0);
	assert_string_equal(v, "caf\xc3\xa9");
	free(v);
	assert_int_equal(name_get(b.data, b.len, "2.5.4.10", &v), 0);
	assert_string_equal(v, "\xce\xa9\xf0\x9f\x98\x80");
	free(v);
	buf_free(&b);
}

static void
test_not_strings(void **state)
{
	static const char integer[] = { 0x05 };
	struct atv	 a[] = {
		{ "2.5.4.3", DER_INTEGER, integer, 1, 0 },
		{ "2.5.4.3", DER_OCTETSTRING, "\x01\x02", 2, 0 },
	};
	struct buf	 b = { 0 };
	char		*v;

	text_is(a, nitems(a), "CN=#04020102,CN=#020105");
	make_name(&b, a, nitems(a));
	assert_int_equal(name_get(b.data, b.len, "2.5.4.3", &v), 0);
	assert_string_equal(v, "#020105\n#04020102");
	free(v);
	buf_free(&b);
}

static void
test_bad(void **state)
{
	static const char bad_utf8[] = { 'a', (char)0xc3 };
	static const char overlong[] = { (char)0xc0, (char)0xaf };
	static const char surrogate8[] = { (char)0xed, (char)0xa0, (char)0x80 };
	static const char bmp_odd[] = { 0x00, 0x41, 0x00 };
	static const char bmp_lone[] = { (char)0xd8, 0x3d, 0x00, 0x41 };
	static const char uni_big[] = { 0x00, 0x11, 0x00, 0x00 };
	static const char uni_len[] = { 0x00, 0x00, 0x41 };
	static const char high[] = { 'a', (char)0x80 };
	const struct atv bad[] = {
		{ "2.5.4.3", DER_UTF8STRING, bad_utf8, sizeof(bad_utf8), 0 },
		{ "2.5.4.3", DER_UTF8STRING, overlong, sizeof(overlong), 0 },
		{ "2.5.4.3", DER_UTF8STRING, surrogate8, sizeof(surrogate8), 0 },
		{ "2.5.4.3", DER_BMPSTRING, bmp_odd, sizeof(bmp_odd), 0 },
		{ "2.5.4.3", DER_BMPSTRING, bmp_lone, sizeof(bmp_lone), 0 },
		{ "2.5.4.3", DER_UNIVERSALSTRING, uni_big, sizeof(uni_big), 0 },
		{ "2.5.4.3", DER_UNIVERSALSTRING, uni_len, sizeof(uni_len), 0 },
		{ "2.5.4.3", DER_PRINTABLESTRING, high, sizeof(high), 0 },
		{ "2.5.4.3", DER_IA5STRING, high, sizeof(high), 0 },
	};
	/* Name { SET {} } */
	static const unsigned char empty_rdn[] = { 0x30, 0x02, 0x31, 0x00 };
	/* Name { SET { SEQUENCE { OID } } } - value missing */
	static const unsigned char no_value[] = { 0x30, 0x09, 0x31, 0x07, 0x30,
	    0x05, 0x06, 0x03, 0x55, 0x04, 0x03 };
	/* Name { SEQUENCE {} } - RDN not a SET */
	static const unsigned char not_set[] = { 0x30, 0x02, 0x30, 0x00 };
	/* Name { SET { SEQUENCE { INTEGER, UTF8 } } } - type not an OID */
	static const unsigned char not_oid[] = { 0x30, 0x0a, 0x31, 0x08, 0x30,
	    0x06, 0x02, 0x01, 0x01, 0x0c, 0x01, 'a' };
	static const unsigned char empty[] = { 0x30, 0x00 };
	struct buf	 b = { 0 };
	char		*v;
	size_t		 i;

	for (i = 0; i < nitems(bad); i++) {
		text_is(&bad[i], 1, NULL);
		make_name(&b, &bad[i], 1);
		assert_int_equal(name_get(b.data, b.len, "2.5.4.3", &v), -1);
	}
	assert_null(name_to_text(empty_rdn, sizeof(empty_rdn)));
	assert_null(name_to_text(no_value, sizeof(no_value)));
	assert_null(name_to_text(not_set, sizeof(not_set)));
	assert_null(name_to_text(not_oid, sizeof(not_oid)));
	assert_int_equal(name_get(empty_rdn, sizeof(empty_rdn), "2.5.4.3", &v),
	    -1);
	assert_int_equal(name_get(not_oid, sizeof(not_oid), "2.5.4.3", &v), -1);
	assert_null(name_to_text(empty, 1));
	assert_null(name_to_text(empty, 0));
	v = name_to_text(empty, sizeof(empty));
	assert_string_equal(v, "");
	free(v);
	assert_int_equal(name_get(empty, sizeof(empty), "2.5.4.3", &v), 1);
	/* Trailing bytes after the Name. */
	make_name(&b, bad, 0);
	buf_appendc(&b, 0);
	assert_null(name_to_text(b.data, b.len));
	buf_free(&b);
}

/*
 * name_canonical of the attributes: NULL want = refused with an error
 * containing why; else its RFC 4514 text must be want, OpenSSL must read
 * the same text, and re-encoding it again must change nothing.
 */
static void
canonical_is(const struct atv *a, size_t n, const char *want, const char *why)
{
	struct buf	 b = { 0 };
	unsigned char	*out = NULL, *again = NULL;
	size_t		 outlen, againlen;
	char		 err[256] = "", *text, *ossl;
	int		 rc;

	make_name(&b, a, n);
	rc = name_canonical(b.data, b.len, &out, &outlen, err, sizeof(err));
	if (want == NULL) {
		if (rc != -1)
			fail_msg("accepted: %s", a[0].val);
		assert_null(out);
		if (strstr(err, why) == NULL)
			fail_msg("error \"%s\" lacks \"%s\"", err, why);
		buf_free(&b);
		return;
	}
	if (rc != 0)
		fail_msg("refused: %s", err);
	text = name_to_text(out, outlen);
	assert_non_null(text);
	assert_string_equal(text, want);
	ossl = openssl_text(out, outlen);
	assert_string_equal(ossl, want);
	assert_int_equal(name_canonical(out, outlen, &again, &againlen, err,
	    sizeof(err)), 0);
	assert_int_equal(againlen, outlen);
	assert_memory_equal(again, out, outlen);
	free(text);
	free(ossl);
	free(out);
	free(again);
	buf_free(&b);
}

/* The tag of the first attribute value of a canonical name. */
static unsigned int
first_value_tag(const struct atv *a, size_t n)
{
	struct buf	 b = { 0 };
	struct der	 d, rdn, atv;
	struct der_tlv	 oid, v;
	unsigned char	*out;
	size_t		 outlen;
	char		 err[256];

	make_name(&b, a, n);
	assert_int_equal(name_canonical(b.data, b.len, &out, &outlen, err,
	    sizeof(err)), 0);
	der_init(&d, out, outlen);
	assert_int_equal(der_enter(&d, DER_SEQUENCE, &d), 0);
	assert_int_equal(der_enter(&d, DER_SET, &rdn), 0);
	assert_int_equal(der_enter(&rdn, DER_SEQUENCE, &atv), 0);
	assert_int_equal(der_expect(&atv, DER_OID, &oid), 0);
	assert_int_equal(der_read(&atv, &v), 0);
	free(out);
	buf_free(&b);
	return v.tag;
}

static void
test_canonical(void **state)
{
	static const char bmp_zoe[] = { 0x00, 'Z', 0x00, 'o', 0x00, (char)0xeb };
	static const char bmp_pair[] = { (char)0xd8, 0x3d, (char)0xde, 0x00 };
	static const char t61[] = { 'c', 'a', 'f', (char)0xe9 };
	static const char nul[] = { 'e', 'v', 'i', 'l', 0, '.', 'g' };
	static const char c1[] = { 'a', (char)0xc2, (char)0x85, 'b' };
	char		 cn64[65], cn65[66], umlaut64[129];
	const struct atv ok[] = {
		{ "2.5.4.3", DER_UTF8STRING, "www.example.com", 0, 0 },
		{ "2.5.4.6", DER_PRINTABLESTRING, "DE", 0, 0 },
		{ "1.2.840.113549.1.9.1", DER_UTF8STRING, "a@example.com", 0, 0 },
		{ "0.9.2342.19200300.100.1.25", DER_PRINTABLESTRING, "org", 0, 0 },
		{ "2.5.4.10", DER_UTF8STRING, "Zoë & Co", 0, 0 },
	};
	const struct atv multi[] = {
		{ "2.5.4.3", DER_UTF8STRING, "b", 0, 0 },
		{ "2.5.4.11", DER_UTF8STRING, "z", 0, 1 },
		{ "2.5.4.10", DER_UTF8STRING, "a", 0, 1 },
	};
	const struct atv bad[] = {
		{ "2.5.4.3", 0x33, "\x13\x03" "abc", 5, 0 },	/* constructed */
		{ "2.5.4.3", DER_VISIBLESTRING, "abc", 0, 0 },
		{ "2.5.4.3", DER_OCTETSTRING, "abc", 0, 0 },
		{ "2.5.4.3", DER_INTEGER, "\x01", 1, 0 },
		{ "2.5.4.3", DER_CTX(0), "abc", 0, 0 },
		{ "2.5.4.3", DER_NUMERICSTRING, "123", 0, 0 },
	};
	struct atv	 a;
	size_t		 i;

	canonical_is(ok, nitems(ok), "O=Zoë & Co,DC=org,"
	    "emailAddress=a@example.com,C=DE,CN=www.example.com", NULL);
	assert_int_equal(first_value_tag(ok, 1), DER_PRINTABLESTRING);
	assert_int_equal(first_value_tag(&ok[2], 1), DER_IA5STRING);
	assert_int_equal(first_value_tag(&ok[4], 1), DER_UTF8STRING);
	/* Multi-valued RDNs come out in DER's SET OF order. */
	canonical_is(multi, nitems(multi), "OU=z+O=a+CN=b", NULL);
	canonical_is(multi, 0, "", NULL);

	/* Other string types become UTF8String. */
	a = (struct atv){ "2.5.4.3", DER_BMPSTRING, bmp_zoe, sizeof(bmp_zoe), 0 };
	canonical_is(&a, 1, "CN=Zoë", NULL);
	assert_int_equal(first_value_tag(&a, 1), DER_UTF8STRING);
	a = (struct atv){ "2.5.4.3", DER_T61STRING, t61, sizeof(t61), 0 };
	canonical_is(&a, 1, "CN=café", NULL);

	/* What OpenSSL or a TLS client would read otherwise: refused. */
	for (i = 0; i < nitems(bad); i++)
		canonical_is(&bad[i], 1, NULL, "not a string type");
	a = (struct atv){ "2.5.4.3", DER_BMPSTRING, bmp_pair, sizeof(bmp_pair), 0 };
	canonical_is(&a, 1, NULL, "surrogate");
	a = (struct atv){ "2.5.4.3", DER_UTF8STRING, nul, sizeof(nul), 0 };
	canonical_is(&a, 1, NULL, "control character");
	a = (struct atv){ "2.5.4.3", DER_UTF8STRING, "a\tb", 0, 0 };
	canonical_is(&a, 1, NULL, "control character");
	a = (struct atv){ "2.5.4.3", DER_UTF8STRING, c1, sizeof(c1), 0 };
	canonical_is(&a, 1, NULL, "control character");
	a = (struct atv){ "2.5.4.3", DER_PRINTABLESTRING, "a@b", 0, 0 };
	canonical_is(&a, 1, NULL, "outside its set");
	a = (struct atv){ "2.5.4.3", DER_PRINTABLESTRING, "*.example", 0, 0 };
	canonical_is(&a, 1, NULL, "outside its set");
	a = (struct atv){ "2.5.4.3", DER_UTF8STRING, "", 0, 0 };
	canonical_is(&a, 1, NULL, "is empty");
	a = (struct atv){ "2.5.4.6", DER_PRINTABLESTRING, "us", 0, 0 };
	canonical_is(&a, 1, NULL, "country code");
	a = (struct atv){ "2.5.4.6", DER_PRINTABLESTRING, "USA", 0, 0 };
	canonical_is(&a, 1, NULL, "country code");
	a = (struct atv){ "1.2.840.113549.1.9.1", DER_UTF8STRING, "zoë@x", 0, 0 };
	canonical_is(&a, 1, NULL, "does not allow");
	a = (struct atv){ "2.5.4.3", DER_UTF8STRING, "x", 0, 0 };
	a.oid = "1.2.3.4";
	canonical_is(&a, 1, NULL, "not one this CA signs");

	/* Upper bounds count characters, not bytes. */
	memset(cn64, 'a', 64);
	cn64[64] = '\0';
	memset(cn65, 'a', 65);
	cn65[65] = '\0';
	for (i = 0; i < 64; i++)
		memcpy(umlaut64 + 2 * i, "\xc3\xbc", 2);
	umlaut64[128] = '\0';
	a = (struct atv){ "2.5.4.3", DER_UTF8STRING, cn65, 0, 0 };
	canonical_is(&a, 1, NULL, "too long");
	a.val = cn64;
	assert_int_equal(first_value_tag(&a, 1), DER_PRINTABLESTRING);
	a.val = umlaut64;
	assert_int_equal(first_value_tag(&a, 1), DER_UTF8STRING);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_simple),
		cmocka_unit_test(test_short_names),
		cmocka_unit_test(test_multivalued),
		cmocka_unit_test(test_escapes),
		cmocka_unit_test(test_string_types),
		cmocka_unit_test(test_not_strings),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_canonical),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
