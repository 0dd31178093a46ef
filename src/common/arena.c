/*
 * arena.c - a bump allocator: allocations are carved from blocks of
 * ARENA_BLOCK bytes (a larger one gets a block of its own) and all freed
 * together by arena_destroy.
 */
#include <stdalign.h>
#include <stddef.h>
#include <stdlib.h>

#include "common.h"

#define ARENA_BLOCK	65536

struct arena_blk {
	struct arena_blk *next;
	size_t		 used, cap;
	alignas(max_align_t) unsigned char data[];
};

struct arena {
	struct arena_blk *head;
};

struct arena *
arena_new(void)
{
	return calloc(1, sizeof(struct arena));
}

void *
arena_take(struct arena *a, size_t len)
{
	struct arena_blk *b = a->head;
	size_t		 need = (len + alignof(max_align_t) - 1) &
			    ~(alignof(max_align_t) - 1);
	void		*p;

	if (need < len)
		return NULL;
	if (b == NULL || b->cap - b->used < need) {
		size_t cap = need > ARENA_BLOCK ? need : ARENA_BLOCK;

		if ((b = malloc(sizeof(*b) + cap)) == NULL)
			return NULL;
		b->used = 0;
		b->cap = cap;
		/* A large block goes second: the current one is not full. */
		if (need > ARENA_BLOCK && a->head != NULL) {
			b->next = a->head->next;
			a->head->next = b;
		} else {
			b->next = a->head;
			a->head = b;
		}
	}
	p = b->data + b->used;
	b->used += need;
	return p;
}

void
arena_destroy(struct arena *a)
{
	struct arena_blk *b, *next;

	if (a == NULL)
		return;
	for (b = a->head; b != NULL; b = next) {
		next = b->next;
		free(b);
	}
	free(a);
}
