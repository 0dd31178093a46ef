/*
 * Unit tests for src/server/request.c's http_route: each URL of
 * docs/rest-api.md routes to its handler with what it names (a request
 * id, a serial as certmint stores it, a publication index), HEAD reads as
 * GET, and near misses (a bad serial or index, another method) do not.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "server/request.h"

static enum http_route
route(const char *method, const char *url, struct http_target *t)
{
	/* Dirty it first: http_route must clear what it does not set. */
	memset(t, 0x5a, sizeof(*t));
	return http_route(method, url, t);
}

static void
assert_plain(const struct http_target *t)
{
	assert_int_equal(t->id, 0);
	assert_string_equal(t->serial, "");
	assert_int_equal(t->index, 0);
}

static void
test_fixed(void **state)
{
	static const struct {
		const char	*url;
		enum http_route	 route;
	} fixed[] = {
		{ "/ca.crt", ROUTE_CA_CERT }, { "/ca.pem", ROUTE_CA_PEM },
		{ "/ca.crl", ROUTE_CRL }, { "/delta.crl", ROUTE_DELTA_CRL },
		{ "/api/v1/ca", ROUTE_CA_INFO }, { "/health", ROUTE_HEALTH },
	};
	struct http_target t;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		assert_int_equal(route("GET", fixed[i].url, &t), fixed[i].route);
		assert_plain(&t);
		assert_int_equal(route("HEAD", fixed[i].url, &t),
		    fixed[i].route);
		assert_int_equal(route("POST", fixed[i].url, &t),
		    ROUTE_NOT_ALLOWED);
		assert_int_equal(route("DELETE", fixed[i].url, &t),
		    ROUTE_NONE);
	}
	assert_int_equal(route("GET", "/ca.crt/", &t), ROUTE_NONE);
	assert_int_equal(route("GET", "/", &t), ROUTE_NONE);
}

static void
test_requests(void **state)
{
	struct http_target t;

	(void)state;
	assert_int_equal(route("POST", API_REQUESTS, &t), ROUTE_SUBMIT);
	assert_plain(&t);
	assert_int_equal(route("PUT", API_REQUESTS, &t), ROUTE_NOT_ALLOWED);
	assert_int_equal(route("GET", API_REQUESTS "/42", &t), ROUTE_REQUEST);
	assert_int_equal(t.id, 42);
	assert_string_equal(t.serial, "");
	assert_int_equal(t.index, 0);
	assert_int_equal(route("GET", API_REQUESTS "/7/certificate", &t),
	    ROUTE_REQUEST_CERT);
	assert_int_equal(t.id, 7);
	assert_int_equal(route("GET", API_REQUESTS "/0", &t), ROUTE_NONE);
	assert_plain(&t);
	assert_int_equal(route("GET", API_REQUESTS "/7/other", &t),
	    ROUTE_NONE);
	assert_plain(&t);
	assert_int_equal(route("GET", API_REQUESTS "/x", &t), ROUTE_NONE);
}

static void
test_renew(void **state)
{
	static const struct {
		const char	*serial;	/* in the URL */
		const char	*stored;
	} ok[] = {
		{ "01a23f", "01a23f" },
		{ "01:A2:3F", "01a23f" },
		{ "0123456789ABCDEFabcdef", "0123456789abcdefabcdef" },
	};
	static const char *const bad[] = {
		"", "xyz", "01:g2", "01/02", "-1",
	};
	struct http_target t;
	char		 url[512];
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		snprintf(url, sizeof(url), API_CERTIFICATES "/%s" API_RENEW,
		    ok[i].serial);
		assert_int_equal(route("POST", url, &t), ROUTE_RENEW);
		assert_string_equal(t.serial, ok[i].stored);
		assert_int_equal(t.id, 0);
		assert_int_equal(t.index, 0);
		/* The resource is there, for POST only. */
		assert_int_equal(route("GET", url, &t), ROUTE_NOT_ALLOWED);
		assert_plain(&t);
		assert_int_equal(route("PUT", url, &t), ROUTE_NOT_ALLOWED);
		assert_plain(&t);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(url, sizeof(url), API_CERTIFICATES "/%s" API_RENEW,
		    bad[i]);
		assert_int_not_equal(route("POST", url, &t), ROUTE_RENEW);
		assert_plain(&t);
		assert_int_equal(route("GET", url, &t), ROUTE_NONE);
	}
	/* A serial longer than any: refused, not truncated. */
	memset(url, 'a', sizeof(url));
	memcpy(url, API_CERTIFICATES "/", sizeof(API_CERTIFICATES));
	snprintf(url + 300, sizeof(url) - 300, API_RENEW);
	assert_int_not_equal(route("POST", url, &t), ROUTE_RENEW);
	assert_plain(&t);
	assert_int_not_equal(route("POST", API_CERTIFICATES "/01/renew/",
	    &t), ROUTE_RENEW);
	assert_int_not_equal(route("POST", API_CERTIFICATES "/01", &t),
	    ROUTE_RENEW);
	assert_int_not_equal(route("POST", API_CERTIFICATES "01/renew", &t),
	    ROUTE_RENEW);
}

static void
test_indexed(void **state)
{
	static const struct {
		const char	*url;
		enum http_route	 route;
		int		 index;
	} ok[] = {
		{ "/ca(1).crt", ROUTE_CA_CERT, 1 },
		{ "/ca(9999).crt", ROUTE_CA_CERT, 9999 },
		{ "/ca(10).crl", ROUTE_CRL, 10 },
		{ "/delta(305).crl", ROUTE_DELTA_CRL, 305 },
	};
	static const char *const bad[] = {
		"/ca(0).crt", "/ca(01).crt", "/ca(10000).crt", "/ca(+1).crt",
		"/ca(-1).crt", "/ca().crt", "/ca(1).pem", "/delta(1).crt",
		"/ca(1)crt", "/ca(1).crt.", "/ca(1.crt", "/ca%281%29.crt",
		"/ca( 1).crt", "/ca(1 ).crl", "/delta(0x1).crl",
	};
	struct http_target t;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(route("GET", ok[i].url, &t), ok[i].route);
		assert_int_equal(t.index, ok[i].index);
		assert_int_equal(t.id, 0);
		assert_string_equal(t.serial, "");
		assert_int_equal(route("HEAD", ok[i].url, &t), ok[i].route);
		assert_int_equal(route("POST", ok[i].url, &t),
		    ROUTE_NOT_ALLOWED);
		assert_int_equal(t.index, 0);
	}
	/* MHD hands the path over %-decoded: "%28" never reaches here. */
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(route("GET", bad[i], &t), ROUTE_NONE);
		assert_plain(&t);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixed),
		cmocka_unit_test(test_requests),
		cmocka_unit_test(test_renew),
		cmocka_unit_test(test_indexed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
