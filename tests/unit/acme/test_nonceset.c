/*
 * test_nonceset.c - the set of used ACME nonces (src/acme/nonceset.c):
 * no nonce twice, growth past the first table (certmintd crashed there,
 * reading past the old table), expiry, and a flood that fills the set
 * neither allowing a replay nor refusing every fresh nonce.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../../src/acme/nonceset.h"

#define LIFE	3600
#define NOW	1800000000u

/* Nonce number i issued at when: gen 1, time, 8 bytes of "random". */
static void
make_id(unsigned char id[NONCESET_ID], uint32_t i, uint32_t when)
{
	uint32_t	 r = i * 2654435761u;

	memset(id, 0, NONCESET_ID);
	id[3] = 1;
	id[4] = (unsigned char)(when >> 24);
	id[5] = (unsigned char)(when >> 16);
	id[6] = (unsigned char)(when >> 8);
	id[7] = (unsigned char)when;
	memcpy(id + 8, &r, 4);
	memcpy(id + 12, &i, 4);
}

static void
test_once(void **state)
{
	struct nonceset	*s = nonceset_new(LIFE, 1u << 20);
	unsigned char	 id[NONCESET_ID];

	(void)state;
	make_id(id, 7, NOW - 5);
	assert_int_equal(nonceset_add(s, id, NOW - 5, NOW), 1);
	assert_int_equal(nonceset_add(s, id, NOW - 5, NOW), 0);
	assert_int_equal(nonceset_add(s, id, NOW - 5, NOW + 10), 0);
	nonceset_free(s);
}

/* 100,000 nonces: the table grows many times; each is refused again. */
static void
test_grow(void **state)
{
	struct nonceset	*s = nonceset_new(LIFE, 1u << 20);
	unsigned char	 id[NONCESET_ID];
	uint32_t	 i;

	(void)state;
	for (i = 0; i < 100000; i++) {
		make_id(id, i, NOW);
		assert_int_equal(nonceset_add(s, id, NOW, NOW), 1);
	}
	assert_int_equal(nonceset_count(s), 100000);
	for (i = 0; i < 100000; i += 97) {
		make_id(id, i, NOW);
		assert_int_equal(nonceset_add(s, id, NOW, NOW), 0);
	}
	assert_int_equal(nonceset_floor(s), 0);
	nonceset_free(s);
}

static void
test_expiry(void **state)
{
	struct nonceset	*s = nonceset_new(LIFE, 1024);
	unsigned char	 id[NONCESET_ID];
	uint32_t	 i;

	(void)state;
	make_id(id, 1, NOW - LIFE - 1);
	assert_int_equal(nonceset_add(s, id, NOW - LIFE - 1, NOW), 0);
	/* Old entries make room for new ones once they expire. */
	for (i = 0; i < 500; i++) {
		make_id(id, i, NOW);
		assert_int_equal(nonceset_add(s, id, NOW, NOW), 1);
	}
	for (i = 500; i < 1000; i++) {
		make_id(id, i, NOW + LIFE + 1);
		assert_int_equal(nonceset_add(s, id, NOW + LIFE + 1,
		    NOW + LIFE + 1), 1);
	}
	assert_true(nonceset_count(s) <= 512);
	nonceset_free(s);
}

/*
 * A flood: 5,000 nonces issued over the last minute (what anyone can
 * fetch and spend) into a set with room for 512. A nonce already used is
 * still refused; the set does not refuse everything; older nonces go
 * stale (refused from then on); a fresh nonce is taken.
 */
static void
test_flood(void **state)
{
	struct nonceset	*s = nonceset_new(LIFE, 1024);
	unsigned char	 id[NONCESET_ID];
	uint32_t	 i, accepted = 0;

#define WHEN(i)	(NOW - 60 + (i) * 60 / 5000)
	(void)state;
	for (i = 0; i < 5000; i++) {
		make_id(id, i, WHEN(i));
		accepted += (uint32_t)nonceset_add(s, id, WHEN(i), NOW);
	}
	assert_true(accepted > 1000);
	assert_true(nonceset_count(s) <= 512);
	assert_true(nonceset_floor(s) > NOW - 60);
	/* The first was forgotten, but cannot come back: below the floor. */
	make_id(id, 0, WHEN(0));
	assert_int_equal(nonceset_add(s, id, WHEN(0), NOW), 0);
	/* Nor can the newest, still remembered. */
	make_id(id, 4999, WHEN(4999));
	assert_int_equal(nonceset_add(s, id, WHEN(4999), NOW), 0);
	/* A fresh nonce is taken. */
	make_id(id, 123456, NOW);
	assert_int_equal(nonceset_add(s, id, NOW, NOW), 1);
#undef WHEN
	nonceset_free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_once),
		cmocka_unit_test(test_grow),
		cmocka_unit_test(test_expiry),
		cmocka_unit_test(test_flood),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
