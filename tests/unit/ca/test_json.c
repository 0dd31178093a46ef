/*
 * Unit tests for src/ca/json.c: request_json_text writes the request
 * object the REST API sends. Every string must come out as valid JSON that
 * a parser reads back unchanged: quotes, backslashes, control characters,
 * multi-byte UTF-8; invalid UTF-8 becomes U+FFFD; members that are absent
 * are left out; request_to_json (the admin socket's json_t) agrees.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "ca/json.h"
#include "certmint/server.h"

static json_t *
parse(const struct buf *b)
{
	json_error_t	 e;
	json_t		*o = json_loadb((const char *)b->data, b->len, 0, &e);

	if (o == NULL)
		fail_msg("not JSON (%s): %s", e.text, (const char *)b->data);
	return o;
}

static const char *
str(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static void
test_escaping(void **state)
{
	static const char *const strings[] = {
		"plain", "with \"quotes\" and \\backslashes\\",
		"lines\nand\ttabs\r", "\x01\x1f control",
		"UTF-8: caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x91", "",
		"</script>",
	};
	struct db_request r;
	struct buf	 b = { 0 };
	json_t		*o;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(strings) / sizeof(strings[0]); i++) {
		memset(&r, 0, sizeof(r));
		r.id = 7;
		r.disposition = CM_DISP_DENIED;
		r.disposition_message = (char *)strings[i];
		r.requester_name = (char *)strings[i];
		b.len = 0;
		assert_int_equal(request_json_text(&b, &r, NULL, 0, NULL,
		    strings[i]), 0);
		assert_int_equal(b.data[b.len - 1], '\n');
		o = parse(&b);
		assert_string_equal(str(o, "message"), strings[i]);
		assert_string_equal(str(o, "requester"), strings[i]);
		assert_string_equal(str(o, "error"), strings[i]);
		assert_int_equal(json_integer_value(json_object_get(o,
		    "request_id")), 7);
		assert_string_equal(str(o, "disposition"), "denied");
		/* Absent members are left out. */
		assert_null(json_object_get(o, "subject"));
		assert_null(json_object_get(o, "serial"));
		json_decref(o);
	}
	buf_free(&b);
}

/* Invalid UTF-8 of every kind becomes U+FFFD; the text still parses. */
static void
test_bad_utf8(void **state)
{
	static const struct {
		const char	*in;
		const char	*out;
	} cases[] = {
		{ "a\xff" "b", "a\xef\xbf\xbd" "b" },
		{ "\xc3", "\xef\xbf\xbd" },			/* cut short */
		{ "\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd" },	/* overlong */
		{ "\xe0\x80\xaf", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },
		{ "\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },	/* surrogate */
		{ "\xf4\x90\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },
		{ "ok \xe2\x82\xac", "ok \xe2\x82\xac" },
	};
	struct db_request r;
	struct buf	 b = { 0 };
	json_t		*o;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&r, 0, sizeof(r));
		r.id = 1;
		r.request_dn = (char *)cases[i].in;
		b.len = 0;
		assert_int_equal(request_json_text(&b, &r, NULL, 0, NULL,
		    NULL), 0);
		o = parse(&b);
		if (strcmp(str(o, "subject"), cases[i].out) != 0)
			fail_msg("case %zu: got \"%s\"", i, str(o, "subject"));
		json_decref(o);
	}
	buf_free(&b);
}

/*
 * An issued, then revoked request with its certificate: every member, and
 * request_to_json gives the same object.
 */
static void
test_full(void **state)
{
	static unsigned char der[] = { 0x30, 0x03, 0x02, 0x01, 0x01 };
	struct db_request r;
	struct db_cert	 c;
	struct buf	 b = { 0 };
	json_t		*o, *o2;

	(void)state;
	memset(&r, 0, sizeof(r));
	memset(&c, 0, sizeof(c));
	r.id = 42;
	r.disposition = CM_DISP_REVOKED;
	r.disposition_message = "Issued";
	r.request_dn = "CN=www.example.com";
	r.profile = "tls-server";
	r.submitted_when = 1700000000;
	r.resolved_when = 1700000001;
	r.revoked_when = 1700000100;
	r.revoked_effective_when = 1700000050;
	r.revoked_reason = 1;
	c.serial = "01aa";
	c.not_before = 1700000000;
	c.not_after = 1731536000;
	c.subject_dn = "CN=www.example.com";
	c.hash = "ab";
	c.raw = der;
	c.raw_len = sizeof(der);
	assert_int_equal(request_json_text(&b, &r, &c, 1,
	    "-----BEGIN CERTIFICATE-----\nMA==\n-----END CERTIFICATE-----\n",
	    NULL), 0);
	o = parse(&b);
	assert_string_equal(str(o, "disposition"), "revoked");
	assert_int_equal(json_integer_value(json_object_get(o,
	    "disposition_code")), CM_DISP_REVOKED);
	assert_string_equal(str(o, "submitted"), "2023-11-14T22:13:20Z");
	assert_string_equal(str(o, "serial"), "01aa");
	assert_string_equal(str(o, "revoked_reason_name"), "keyCompromise");
	assert_string_equal(str(o, "revoked_effective"), "2023-11-14T22:14:10Z");
	assert_non_null(strstr(str(o, "certificate"), "BEGIN CERTIFICATE"));
	assert_non_null(strstr(str(o, "chain"), "MA=="));
	assert_null(json_object_get(o, "error"));
	o2 = request_to_json(&r, &c, 1, "-----BEGIN CERTIFICATE-----\nMA==\n"
	    "-----END CERTIFICATE-----\n");
	assert_non_null(o2);
	assert_true(json_equal(o, o2));
	json_decref(o);
	json_decref(o2);
	buf_free(&b);
}

/*
 * json_string_lossy: what json_string takes is unchanged; invalid UTF-8,
 * which json_string refuses (an error answer would lose its message),
 * becomes U+FFFD.
 */
static void
test_string_lossy(void **state)
{
	json_t	*s;

	(void)state;
	s = json_string_lossy("caf\xc3\xa9 \"ok\"");
	assert_non_null(s);
	assert_string_equal(json_string_value(s), "caf\xc3\xa9 \"ok\"");
	json_decref(s);
	assert_null(json_string("profile \"\xff\xfe\" is not allowed"));
	s = json_string_lossy("profile \"\xff\xfe\" is not allowed");
	assert_non_null(s);
	assert_string_equal(json_string_value(s),
	    "profile \"\xef\xbf\xbd\xef\xbf\xbd\" is not allowed");
	json_decref(s);
	assert_null(json_string_lossy(NULL));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_bad_utf8),
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_string_lossy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
