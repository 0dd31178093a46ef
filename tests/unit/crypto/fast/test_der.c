/*
 * Unit tests for src/crypto/der.c: the strict reader (lengths, tags,
 * nesting, contents) and the writer (open/close fix-ups, INTEGER, OID,
 * times, bit strings), checked against hand-made encodings and OpenSSL.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/asn1.h>
#include <openssl/objects.h>

#include "crypto/crypto.h"
#include "crypto/der.h"

/*
 * Read exactly one element from the bytes; returns der_read's result and
 * whether the cursor ended.
 */
static int
read_one(const unsigned char *p, size_t n, struct der_tlv *t)
{
	struct der	 d;

	der_init(&d, p, n);
	if (der_read(&d, t) == -1)
		return -1;
	return der_at_end(&d) ? 0 : 1;
}

static void
test_reader_lengths(void **state)
{
	static const unsigned char ok_short[] = { 0x04, 0x02, 0xaa, 0xbb };
	static const unsigned char indefinite[] = { 0x30, 0x80, 0x00, 0x00 };
	static const unsigned char nonmin1[] = { 0x04, 0x81, 0x05, 1, 2, 3, 4, 5 };
	static const unsigned char nonmin2[] = { 0x04, 0x82, 0x00, 0x81 };
	static const unsigned char past_end[] = { 0x04, 0x05, 1, 2 };
	static const unsigned char past_end_long[] = { 0x04, 0x84, 0x7f, 0xff,
	    0xff, 0xff, 0 };
	static const unsigned char too_many_len[] = { 0x04, 0x85, 1, 0, 0, 0, 0 };
	static const unsigned char high_tag[] = { 0x1f, 0x81, 0x01, 0x00 };
	static const unsigned char trunc_hdr[] = { 0x04, 0x82, 0x01 };
	unsigned char	 big[300];
	struct der_tlv	 t;

	assert_int_equal(read_one(ok_short, sizeof(ok_short), &t), 0);
	assert_int_equal(t.tag, 0x04);
	assert_int_equal(t.len, 2);
	assert_int_equal(t.raw_len, 4);
	assert_ptr_equal(t.val, ok_short + 2);
	assert_int_equal(read_one(indefinite, sizeof(indefinite), &t), -1);
	assert_int_equal(read_one(nonmin1, sizeof(nonmin1), &t), -1);
	assert_int_equal(read_one(nonmin2, sizeof(nonmin2), &t), -1);
	assert_int_equal(read_one(past_end, sizeof(past_end), &t), -1);
	assert_int_equal(read_one(past_end_long, sizeof(past_end_long), &t), -1);
	assert_int_equal(read_one(too_many_len, sizeof(too_many_len), &t), -1);
	assert_int_equal(read_one(high_tag, sizeof(high_tag), &t), -1);
	assert_int_equal(read_one(trunc_hdr, sizeof(trunc_hdr), &t), -1);
	assert_int_equal(read_one(ok_short, 1, &t), -1);
	assert_int_equal(read_one(ok_short, 0, &t), -1);

	/* Long form: 0x82 0x01 0x28 for 296 bytes. */
	memset(big, 0x55, sizeof(big));
	big[0] = 0x04;
	big[1] = 0x82;
	big[2] = 0x01;
	big[3] = 0x28;
	assert_int_equal(read_one(big, sizeof(big), &t), 0);
	assert_int_equal(t.len, 296);
	assert_int_equal(read_one(big, sizeof(big) - 1, &t), -1);
	/* Trailing data is left in the cursor. */
	assert_int_equal(read_one(ok_short, sizeof(ok_short), &t), 0);
	assert_int_equal(der_whole(big, sizeof(big), 0x04, &t), 0);
	assert_int_equal(der_whole(big, sizeof(big), 0x30, &t), -1);
	big[3] = 0x27;
	assert_int_equal(read_one(big, sizeof(big), &t), 1);
	assert_int_equal(der_whole(big, sizeof(big), 0x04, &t), -1);
}

static void
test_reader_nested(void **state)
{
	/* SEQUENCE { INTEGER 5, [0] { BOOLEAN TRUE }, OCTET STRING {} } */
	static const unsigned char in[] = {
		0x30, 0x0a, 0x02, 0x01, 0x05, 0xa0, 0x03, 0x01, 0x01, 0xff,
		0x04, 0x00, 0x05
	};
	/* Inner length says 4 but only 3 bytes inside the outer. */
	static const unsigned char bad_inner[] = {
		0x30, 0x05, 0x30, 0x04, 0x02, 0x01, 0x01, 0x00
	};
	struct der	 d, seq, ctx, in2;
	struct der_tlv	 t;
	int64_t		 v;
	int		 b, present;

	der_init(&d, in, sizeof(in));
	assert_int_equal(der_peek(&d), 0x30);
	assert_int_equal(der_enter(&d, DER_SEQUENCE, &seq), 0);
	assert_int_equal(der_expect(&seq, DER_INTEGER, &t), 0);
	assert_int_equal(der_get_int64(&t, &v), 0);
	assert_int_equal(v, 5);
	assert_int_equal(der_optional(&seq, DER_CTX_CONS(1), &t, &present), 0);
	assert_int_equal(present, 0);
	assert_int_equal(der_enter(&seq, DER_CTX_CONS(0), &ctx), 0);
	assert_int_equal(der_expect(&ctx, DER_BOOLEAN, &t), 0);
	assert_int_equal(der_get_bool(&t, &b), 0);
	assert_int_equal(b, 1);
	assert_true(der_at_end(&ctx));
	assert_int_equal(der_expect(&seq, DER_INTEGER, &t), -1);
	assert_int_equal(der_optional(&seq, DER_OCTETSTRING, &t, &present), 0);
	assert_int_equal(present, 1);
	assert_int_equal(t.len, 0);
	assert_true(der_at_end(&seq));
	assert_false(der_at_end(&d));	/* the trailing 0x05 */
	assert_int_equal(der_read(&d, &t), -1);
	assert_int_equal(der_peek(&seq), -1);

	der_init(&d, bad_inner, sizeof(bad_inner));
	assert_int_equal(der_enter(&d, DER_SEQUENCE, &seq), 0);
	assert_int_equal(der_enter(&seq, DER_SEQUENCE, &in2), -1);
}

static void
test_reader_contents(void **state)
{
	static const unsigned char i_neg[] = { 0x02, 0x01, 0xff };
	static const unsigned char i_nonmin[] = { 0x02, 0x02, 0x00, 0x01 };
	static const unsigned char i_nonmin_neg[] = { 0x02, 0x02, 0xff, 0x80 };
	static const unsigned char i_pad[] = { 0x02, 0x02, 0x00, 0x80 };
	static const unsigned char i_empty[] = { 0x02, 0x00 };
	static const unsigned char i_big[] = { 0x02, 0x09, 1, 2, 3, 4, 5, 6,
	    7, 8, 9 };
	static const unsigned char bool_bad[] = { 0x01, 0x01, 0x01 };
	static const unsigned char bs_ok[] = { 0x03, 0x02, 0x05, 0xa0 };
	static const unsigned char bs_pad[] = { 0x03, 0x02, 0x05, 0xa1 };
	static const unsigned char bs_empty_bad[] = { 0x03, 0x01, 0x01 };
	static const unsigned char bs_unused8[] = { 0x03, 0x02, 0x08, 0x00 };
	struct der_tlv	 t;
	const unsigned char *p;
	size_t		 n;
	int64_t		 v;
	int		 b, u;

	assert_int_equal(read_one(i_neg, sizeof(i_neg), &t), 0);
	assert_int_equal(der_get_int64(&t, &v), 0);
	assert_int_equal(v, -1);
	assert_int_equal(der_get_uint_bytes(&t, &p, &n), -1);
	assert_int_equal(read_one(i_nonmin, sizeof(i_nonmin), &t), 0);
	assert_int_equal(der_get_int64(&t, &v), -1);
	assert_int_equal(read_one(i_nonmin_neg, sizeof(i_nonmin_neg), &t), 0);
	assert_int_equal(der_get_int64(&t, &v), -1);
	assert_int_equal(read_one(i_pad, sizeof(i_pad), &t), 0);
	assert_int_equal(der_get_int64(&t, &v), 0);
	assert_int_equal(v, 128);
	assert_int_equal(der_get_uint_bytes(&t, &p, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(p[0], 0x80);
	assert_int_equal(read_one(i_empty, sizeof(i_empty), &t), 0);
	assert_int_equal(der_get_int64(&t, &v), -1);
	assert_int_equal(der_get_uint_bytes(&t, &p, &n), -1);
	assert_int_equal(read_one(i_big, sizeof(i_big), &t), 0);
	assert_int_equal(der_get_int64(&t, &v), -1);
	assert_int_equal(der_get_uint_bytes(&t, &p, &n), 0);
	assert_int_equal(n, 9);

	assert_int_equal(read_one(bool_bad, sizeof(bool_bad), &t), 0);
	assert_int_equal(der_get_bool(&t, &b), -1);

	assert_int_equal(read_one(bs_ok, sizeof(bs_ok), &t), 0);
	assert_int_equal(der_get_bitstring(&t, &p, &n, &u), 0);
	assert_int_equal(n, 1);
	assert_int_equal(u, 5);
	assert_int_equal(read_one(bs_pad, sizeof(bs_pad), &t), 0);
	assert_int_equal(der_get_bitstring(&t, &p, &n, &u), -1);
	assert_int_equal(read_one(bs_empty_bad, sizeof(bs_empty_bad), &t), 0);
	assert_int_equal(der_get_bitstring(&t, &p, &n, &u), -1);
	assert_int_equal(read_one(bs_unused8, sizeof(bs_unused8), &t), 0);
	assert_int_equal(der_get_bitstring(&t, &p, &n, &u), -1);
}

/*
 * Encode an OID, check it against OpenSSL's encoding, and decode it back.
 */
static void
oid_roundtrip(const char *dotted)
{
	unsigned char	 enc[DER_OID_MAX], *ossl = NULL;
	ASN1_OBJECT	*obj;
	size_t		 n;
	char		*back;
	int		 len;

	assert_int_equal(der_oid_encode(dotted, enc, sizeof(enc), &n), 0);
	obj = OBJ_txt2obj(dotted, 1);
	assert_non_null(obj);
	len = i2d_ASN1_OBJECT(obj, &ossl);
	assert_true(len > 2);
	assert_int_equal((size_t)len - 2, n);
	assert_memory_equal(ossl + 2, enc, n);
	back = der_oid_text(enc, n);
	assert_non_null(back);
	assert_string_equal(back, dotted);
	assert_true(der_oid_eq(enc, n, dotted));
	free(back);
	OPENSSL_free(ossl);
	ASN1_OBJECT_free(obj);
}

static void
test_oid(void **state)
{
	static const char *const good[] = {
		"1.2.840.10045.2.1", "2.5.29.17", "0.9.2342.19200300.100.1.25",
		"1.3.6.1.4.1.311.2.1.14", "0.0", "1.39", "2.999", "2.5",
		"2.25.329800735698586629295641978511506172918",
		"1.2.18446744073709551615", "1.2.18446744073709551616",
		"2.18446744073709551536",
		"2.340282366920938463463374607431768211456",
		"1.3.6.1.4.1.99999.1.2.3.4.5.6.7.8.9.10.11.12.13.14",
	};
	static const char *const bad[] = {
		"", "1", "3.1", "1.40", "0.40", "1.2.", ".1.2", "1..2", "1.02",
		"1.2a", "01.2", "1.2.-3", "1.2 ",
	};
	static const unsigned char bad_enc[][4] = {
		{ 0x2a, 0x80, 0x01, 0 },	/* leading 0x80 group */
		{ 0x2a, 0x86, 0, 0 },		/* truncated */
	};
	unsigned char	 enc[DER_OID_MAX], big[DER_OID_MAX + 1];
	size_t		 i, n;
	char		*s;

	for (i = 0; i < nitems(good); i++)
		oid_roundtrip(good[i]);
	for (i = 0; i < nitems(bad); i++)
		assert_int_equal(der_oid_encode(bad[i], enc, sizeof(enc), &n),
		    -1);
	assert_null(der_oid_text(bad_enc[0], 3));
	assert_null(der_oid_text(bad_enc[1], 2));
	assert_null(der_oid_text(bad_enc[0], 0));
	/* Too small an output. */
	assert_int_equal(der_oid_encode("1.2.840.113549", enc, 3, &n), -1);
	/* Longest accepted contents and one byte past. */
	memset(big, 0x01, sizeof(big));
	big[0] = 0x2a;
	s = der_oid_text(big, DER_OID_MAX);
	assert_non_null(s);
	assert_int_equal(der_oid_encode(s, enc, sizeof(enc), &n), 0);
	assert_int_equal(n, DER_OID_MAX);
	free(s);
	assert_null(der_oid_text(big, sizeof(big)));
	assert_false(der_oid_eq(enc, n, "1.2.3"));
	assert_false(der_oid_eq(enc, n, "not an oid"));
}

/*
 * The encoding appended by a writer call, as a fresh comparison.
 */
static void
check_bytes(struct buf *b, const unsigned char *want, size_t n)
{
	assert_int_equal(b->len, n);
	assert_memory_equal(b->data, want, n);
	b->len = 0;
}

static void
test_writer_integers(void **state)
{
	static const unsigned char z[] = { 0x02, 0x01, 0x00 };
	static const unsigned char pad[] = { 0x02, 0x02, 0x00, 0x80 };
	static const unsigned char strip[] = { 0x02, 0x02, 0x01, 0x02 };
	static const unsigned char m1[] = { 0x02, 0x01, 0xff };
	static const unsigned char m129[] = { 0x02, 0x02, 0xff, 0x7f };
	static const unsigned char p127[] = { 0x02, 0x01, 0x7f };
	static const unsigned char p256[] = { 0x02, 0x02, 0x01, 0x00 };
	static const unsigned char en3[] = { 0x0a, 0x01, 0x03 };
	static const unsigned char min64[] = { 0x02, 0x08, 0x80, 0, 0, 0, 0,
	    0, 0, 0 };
	static const unsigned char in_strip[] = { 0, 0, 1, 2 };
	static const unsigned char in_pad[] = { 0x80 };
	static const unsigned char in_zero[] = { 0, 0 };
	struct buf	 b = { 0 };
	struct der_tlv	 t;
	int64_t		 v;

	assert_int_equal(der_put_uint_bytes(&b, DER_INTEGER, in_zero, 2), 0);
	check_bytes(&b, z, sizeof(z));
	assert_int_equal(der_put_uint_bytes(&b, DER_INTEGER, in_zero, 0), 0);
	check_bytes(&b, z, sizeof(z));
	assert_int_equal(der_put_uint_bytes(&b, DER_INTEGER, in_pad, 1), 0);
	check_bytes(&b, pad, sizeof(pad));
	assert_int_equal(der_put_uint_bytes(&b, DER_INTEGER, in_strip, 4), 0);
	check_bytes(&b, strip, sizeof(strip));
	assert_int_equal(der_put_int64(&b, DER_INTEGER, 0), 0);
	check_bytes(&b, z, sizeof(z));
	assert_int_equal(der_put_int64(&b, DER_INTEGER, -1), 0);
	check_bytes(&b, m1, sizeof(m1));
	assert_int_equal(der_put_int64(&b, DER_INTEGER, -129), 0);
	check_bytes(&b, m129, sizeof(m129));
	assert_int_equal(der_put_int64(&b, DER_INTEGER, 127), 0);
	check_bytes(&b, p127, sizeof(p127));
	assert_int_equal(der_put_int64(&b, DER_INTEGER, 128), 0);
	check_bytes(&b, pad, sizeof(pad));
	assert_int_equal(der_put_int64(&b, DER_INTEGER, 256), 0);
	check_bytes(&b, p256, sizeof(p256));
	assert_int_equal(der_put_int64(&b, DER_ENUMERATED, 3), 0);
	check_bytes(&b, en3, sizeof(en3));
	assert_int_equal(der_put_int64(&b, DER_INTEGER, INT64_MIN), 0);
	check_bytes(&b, min64, sizeof(min64));
	/* Round trips through the reader. */
	for (v = -70000; v <= 70000; v += 997) {
		assert_int_equal(der_put_int64(&b, DER_INTEGER, v), 0);
		assert_int_equal(der_whole(b.data, b.len, DER_INTEGER, &t), 0);
		b.len = 0;
		{
			int64_t	 back;

			assert_int_equal(der_get_int64(&t, &back), 0);
			assert_int_equal(back, v);
		}
	}
	buf_free(&b);
}

static void
test_writer_misc(void **state)
{
	static const unsigned char t_true[] = { 0x01, 0x01, 0xff };
	static const unsigned char t_null[] = { 0x05, 0x00 };
	static const unsigned char ku_ds[] = { 0x03, 0x02, 0x07, 0x80 };
	static const unsigned char ku_ds_ke[] = { 0x03, 0x02, 0x05, 0xa0 };
	static const unsigned char ku_ca[] = { 0x03, 0x02, 0x01, 0x06 };
	static const unsigned char ku_decipher[] = { 0x03, 0x03, 0x07, 0x80,
	    0x80 };
	static const unsigned char ku_none[] = { 0x03, 0x01, 0x00 };
	static const unsigned char bs[] = { 0x03, 0x03, 0x00, 0xde, 0xad };
	static const unsigned char oct[] = { 0x04, 0x01, 0x42 };
	static const unsigned char ia5[] = { 0x82, 0x03, 'a', '.', 'b' };
	static const unsigned char utf8[] = { 0x0c, 0x02, 0xc3, 0xa9 };
	static const unsigned char oid[] = { 0x06, 0x03, 0x55, 0x1d, 0x11 };
	struct buf	 b = { 0 };

	assert_int_equal(der_put_bool(&b, 1), 0);
	check_bytes(&b, t_true, sizeof(t_true));
	assert_int_equal(der_put_null(&b), 0);
	check_bytes(&b, t_null, sizeof(t_null));
	assert_int_equal(der_put_named_bits(&b, 1u << 0), 0);
	check_bytes(&b, ku_ds, sizeof(ku_ds));
	assert_int_equal(der_put_named_bits(&b, 1u << 0 | 1u << 2), 0);
	check_bytes(&b, ku_ds_ke, sizeof(ku_ds_ke));
	assert_int_equal(der_put_named_bits(&b, 1u << 5 | 1u << 6), 0);
	check_bytes(&b, ku_ca, sizeof(ku_ca));
	assert_int_equal(der_put_named_bits(&b, 1u << 0 | 1u << 8), 0);
	check_bytes(&b, ku_decipher, sizeof(ku_decipher));
	assert_int_equal(der_put_named_bits(&b, 0), 0);
	check_bytes(&b, ku_none, sizeof(ku_none));
	assert_int_equal(der_put_bitstring(&b, bs + 3, 2), 0);
	check_bytes(&b, bs, sizeof(bs));
	assert_int_equal(der_put_octets(&b, oct + 2, 1), 0);
	check_bytes(&b, oct, sizeof(oct));
	assert_int_equal(der_put_ia5(&b, DER_CTX(2), "a.b"), 0);
	check_bytes(&b, ia5, sizeof(ia5));
	assert_int_equal(der_put_ia5(&b, DER_IA5STRING, "caf\xc3\xa9"), -1);
	b.len = 0;
	assert_int_equal(der_put_utf8(&b, "\xc3\xa9"), 0);
	check_bytes(&b, utf8, sizeof(utf8));
	assert_int_equal(der_put_oid(&b, "2.5.29.17"), 0);
	check_bytes(&b, oid, sizeof(oid));
	assert_int_equal(der_put_oid(&b, "2.5..29"), -1);
	assert_int_equal(der_put_header(&b, 0x1f, 0), -1);
	buf_free(&b);
}

static void
test_writer_nesting(void **state)
{
	static const size_t sizes[] = { 0, 1, 127, 128, 255, 256, 65535,
	    65536, 70000 };
	struct buf	 b = { 0 };
	struct der	 d, outer, inner;
	struct der_tlv	 t;
	size_t		 i, mo, mi, k;

	for (i = 0; i < nitems(sizes); i++) {
		/* SEQUENCE { OCTET STRING x, [1] { OCTET STRING(n bytes) } } */
		assert_int_equal(der_open(&b, DER_SEQUENCE, &mo), 0);
		assert_int_equal(der_put_octets(&b, (const unsigned char *)"x",
		    1), 0);
		assert_int_equal(der_open(&b, DER_CTX_CONS(1), &mi), 0);
		assert_int_equal(der_open(&b, DER_OCTETSTRING, &k), 0);
		assert_int_equal(buf_reserve(&b, sizes[i]), 0);
		memset(b.data + b.len, 0x5a, sizes[i]);
		b.len += sizes[i];
		assert_int_equal(der_close(&b, k), 0);
		assert_int_equal(der_close(&b, mi), 0);
		assert_int_equal(der_close(&b, mo), 0);

		der_init(&d, b.data, b.len);
		assert_int_equal(der_enter(&d, DER_SEQUENCE, &outer), 0);
		assert_true(der_at_end(&d));
		assert_int_equal(der_expect(&outer, DER_OCTETSTRING, &t), 0);
		assert_int_equal(t.len, 1);
		assert_int_equal(der_enter(&outer, DER_CTX_CONS(1), &inner), 0);
		assert_true(der_at_end(&outer));
		assert_int_equal(der_expect(&inner, DER_OCTETSTRING, &t), 0);
		assert_int_equal(t.len, sizes[i]);
		for (k = 0; k < t.len; k++)
			assert_int_equal(t.val[k], 0x5a);
		assert_true(der_at_end(&inner));
		b.len = 0;
	}
	assert_int_equal(der_close(&b, 5), -1);
	buf_free(&b);
}

/*
 * Encode t and compare with OpenSSL's ASN1_TIME for the same instant (as
 * RFC 5280 wants it: ASN1_TIME_adj picks UTCTime for 1950-2049).
 */
static void
time_check(int64_t when, int want_tag, const char *want)
{
	struct buf	 b = { 0 };
	struct der_tlv	 t;
	int64_t		 back;
	ASN1_TIME	*at;

	assert_int_equal(der_put_time(&b, when), 0);
	assert_int_equal(der_whole(b.data, b.len, (unsigned)want_tag, &t), 0);
	assert_int_equal(t.len, strlen(want));
	assert_memory_equal(t.val, want, t.len);
	assert_int_equal(der_get_time(&t, &back), 0);
	assert_int_equal(back, when);
	at = ASN1_TIME_adj(NULL, (time_t)when, 0, 0);
	assert_non_null(at);
	assert_int_equal(ASN1_STRING_length(at), (int)t.len);
	assert_memory_equal(ASN1_STRING_get0_data(at), t.val, t.len);
	ASN1_TIME_free(at);
	buf_free(&b);
}

static void
test_times(void **state)
{
	static const struct {
		const char	*s;
		int		 tag;
	} bad[] = {
		{ "500101000000", DER_UTCTIME },	/* no Z */
		{ "5001010000000", DER_UTCTIME },
		{ "501301000000Z", DER_UTCTIME },	/* month 13 */
		{ "500230000000Z", DER_UTCTIME },	/* Feb 30 */
		{ "490229000000Z", DER_UTCTIME },	/* 2049 not leap */
		{ "500101240000Z", DER_UTCTIME },
		{ "500101006000Z", DER_UTCTIME },
		{ "5001010000+0Z", DER_UTCTIME },
		{ "20500101000000", DER_GENTIME },
		{ "20500101000000.5Z", DER_GENTIME },
		{ "2050010100000Z", DER_GENTIME },
		{ "500101000000Z", DER_GENTIME },
		{ "21000229000000Z", DER_GENTIME },	/* 2100 not leap */
	};
	struct der_tlv	 t;
	struct buf	 b = { 0 };
	int64_t		 v;
	size_t		 i;

	time_check(0, DER_UTCTIME, "700101000000Z");
	time_check(-631152000, DER_UTCTIME, "500101000000Z");	/* 1950 */
	time_check(-631152001, DER_GENTIME, "19491231235959Z");
	time_check(2524607999LL, DER_UTCTIME, "491231235959Z");	/* 2049 */
	time_check(2524608000LL, DER_GENTIME, "20500101000000Z");
	time_check(951782400, DER_UTCTIME, "000229000000Z");	/* 2000 leap */
	time_check(1795521600, DER_UTCTIME, "261124120000Z");
	time_check(253402300799LL, DER_GENTIME, "99991231235959Z");
	time_check(4107542400LL, DER_GENTIME, "21000301000000Z");

	assert_int_equal(der_put_time(&b, 253402300800LL), -1);
	assert_int_equal(der_put_time(&b, -62167219201LL), -1);
	assert_int_equal(der_put_gentime(&b, 0), 0);
	assert_int_equal(der_whole(b.data, b.len, DER_GENTIME, &t), 0);
	assert_int_equal(t.len, 15);
	assert_memory_equal(t.val, "19700101000000Z", 15);
	assert_int_equal(der_put_time(&b, -62167219200LL), 0);	/* year 0 */
	buf_free(&b);

	for (i = 0; i < nitems(bad); i++) {
		t.tag = (unsigned)bad[i].tag;
		t.val = (const unsigned char *)bad[i].s;
		t.len = strlen(bad[i].s);
		assert_int_equal(der_get_time(&t, &v), -1);
	}
	t.tag = DER_OCTETSTRING;
	t.val = (const unsigned char *)"700101000000Z";
	t.len = 13;
	assert_int_equal(der_get_time(&t, &v), -1);
}

static void
test_spki(void **state)
{
	/* SEQUENCE { SEQUENCE { OID 1.3.101.112 }, BIT STRING 00 01 02 } */
	static const unsigned char ed[] = {
		0x30, 0x0c, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70,
		0x03, 0x03, 0x00, 0x01, 0x02
	};
	struct der_tlv	 oid, params, pub;
	unsigned char	 bad[sizeof(ed)];
	int		 has;

	assert_int_equal(der_spki(ed, sizeof(ed), &oid, &params, &has, &pub),
	    0);
	assert_int_equal(has, 0);
	assert_true(der_oid_eq(oid.val, oid.len, "1.3.101.112"));
	assert_int_equal(pub.len, 3);
	assert_int_equal(der_spki(ed, sizeof(ed) - 1, &oid, &params, &has,
	    &pub), -1);
	memcpy(bad, ed, sizeof(bad));
	bad[9] = 0x04;		/* key not a BIT STRING */
	assert_int_equal(der_spki(bad, sizeof(bad), &oid, &params, &has,
	    &pub), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reader_lengths),
		cmocka_unit_test(test_reader_nested),
		cmocka_unit_test(test_reader_contents),
		cmocka_unit_test(test_oid),
		cmocka_unit_test(test_writer_integers),
		cmocka_unit_test(test_writer_misc),
		cmocka_unit_test(test_writer_nesting),
		cmocka_unit_test(test_times),
		cmocka_unit_test(test_spki),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
