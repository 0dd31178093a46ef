/*
 * Unit tests for modules/common (modutil.h): JSON text that a module
 * sends (webhook payloads, Lua's json.encode of module data) is JSON
 * whatever bytes a property held.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "modutil.h"

/* mu_json_escape of s, as a string (caller frees). */
static char *
escaped(const char *s)
{
	struct mu_buf	 b = { 0 };

	assert_int_equal(mu_json_escape(&b, s), 0);
	assert_int_equal(mu_buf_add(&b, "", 1), 0);
	return b.data;
}

static void
check(const char *in, const char *want)
{
	char	*got = escaped(in);

	assert_string_equal(got, want);
	free(got);
}

static void
test_json_escape(void **state)
{
	(void)state;
	check("plain", "plain");
	check("a\"b\\c\nd\x01" "e\x7f", "a\\\"b\\\\c\\nd\\u0001e\\u007f");
	/* UTF-8 stays as it is: é, €, U+1F600. */
	check("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
	    "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
	/* What is not UTF-8 becomes U+FFFD, byte by byte. */
	check("caf\xe9", "caf\\ufffd");
	check("\xff\xfe", "\\ufffd\\ufffd");
	check("\xc0\xaf", "\\ufffd\\ufffd");		/* overlong '/' */
	check("\xed\xa0\x80", "\\ufffd\\ufffd\\ufffd");	/* a surrogate */
	check("\xf4\x90\x80\x80", "\\ufffd\\ufffd\\ufffd\\ufffd"); /* > U+10FFFF */
	check("\xe2\x82", "\\ufffd\\ufffd");		/* cut short */
}

static void
test_plain_text(void **state)
{
	(void)state;
	assert_true(mu_plain_text("www.example.com"));
	assert_true(mu_plain_text("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));
	assert_true(mu_plain_text(""));
	assert_false(mu_plain_text("a\tb"));
	assert_false(mu_plain_text("a\x7f"));
	assert_false(mu_plain_text("caf\xe9"));		/* Latin-1 */
	assert_false(mu_plain_text("a\xc2\x9b" "b"));	/* C1 CSI */
	assert_false(mu_plain_text("bmp\xe2\x80\xaegnp.exe"));	/* U+202E */
	assert_false(mu_plain_text("a\xe2\x81\xa6" "b"));	/* U+2066 */
	assert_false(mu_plain_text("a\xd8\x9c" "b"));		/* U+061C */
	assert_false(mu_plain_text("a\xe2\x80\x8b" "b"));	/* U+200B */
	assert_false(mu_plain_text("\xef\xbb\xbf" "a"));	/* U+FEFF */
	assert_false(mu_plain_text("a\xe2\x80\xa8" "b"));	/* U+2028 */
	assert_false(mu_plain_text("a\xc2\xad" "b"));		/* soft hyphen */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_escape),
		cmocka_unit_test(test_plain_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
