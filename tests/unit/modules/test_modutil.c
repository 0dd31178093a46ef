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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_escape),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
