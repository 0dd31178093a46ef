/*
 * Unit tests for the account key cache (src/acme/keycache.c): a key is
 * found only for its account and the exact stored JWK it came from, a
 * keyChange replaces it, and a full set drops its least recently used.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "acme/acme_int.h"

/* A fresh P-256 key as a struct jwk. */
static void
key_new(struct jwk *k)
{
	memset(k, 0, sizeof(*k));
	k->pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	assert_non_null(k->pkey);
	k->kind = JWK_EC_P256;
}

static void
test_hit_and_text(void **state)
{
	struct acme_keycache *kc = acme_keycache_new();
	struct jwk	 k, got;

	(void)state;
	key_new(&k);
	assert_int_equal(acme_keycache_get(kc, 7, "{a}", &got), 0);
	acme_keycache_put(kc, 7, "{a}", &k);
	assert_int_equal(acme_keycache_get(kc, 7, "{a}", &got), 1);
	assert_ptr_equal(got.pkey, k.pkey);
	assert_int_equal(got.kind, JWK_EC_P256);
	jwk_free(&got);
	/* Another account, or the account after a keyChange: a miss. */
	assert_int_equal(acme_keycache_get(kc, 8, "{a}", &got), 0);
	assert_int_equal(acme_keycache_get(kc, 7, "{b}", &got), 0);
	/* The cache holds its own reference. */
	jwk_free(&k);
	assert_int_equal(acme_keycache_get(kc, 7, "{a}", &got), 1);
	jwk_free(&got);
	acme_keycache_free(kc);
}

static void
test_key_change_replaces(void **state)
{
	struct acme_keycache *kc = acme_keycache_new();
	struct jwk	 k1, k2, got;

	(void)state;
	key_new(&k1);
	key_new(&k2);
	acme_keycache_put(kc, 3, "{old}", &k1);
	acme_keycache_put(kc, 3, "{new}", &k2);
	assert_int_equal(acme_keycache_get(kc, 3, "{old}", &got), 0);
	assert_int_equal(acme_keycache_get(kc, 3, "{new}", &got), 1);
	assert_ptr_equal(got.pkey, k2.pkey);
	jwk_free(&got);
	jwk_free(&k1);
	jwk_free(&k2);
	acme_keycache_free(kc);
}

/* Ids 256 apart share a set of 4: the fifth drops the least recent. */
static void
test_lru(void **state)
{
	struct acme_keycache *kc = acme_keycache_new();
	struct jwk	 k, got;
	int64_t		 id;

	(void)state;
	key_new(&k);
	for (id = 1; id <= 1 + 3 * 256; id += 256)
		acme_keycache_put(kc, id, "{k}", &k);
	/* Use 1: 257 is now the least recent. */
	assert_int_equal(acme_keycache_get(kc, 1, "{k}", &got), 1);
	jwk_free(&got);
	acme_keycache_put(kc, 1 + 4 * 256, "{k}", &k);
	assert_int_equal(acme_keycache_get(kc, 257, "{k}", &got), 0);
	for (id = 1; id <= 1 + 4 * 256; id += 256) {
		if (id == 257)
			continue;
		assert_int_equal(acme_keycache_get(kc, id, "{k}", &got), 1);
		jwk_free(&got);
	}
	jwk_free(&k);
	acme_keycache_free(kc);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hit_and_text),
		cmocka_unit_test(test_key_change_replaces),
		cmocka_unit_test(test_lru),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
