/*
 * nonceset.c - the set of used ACME nonces (nonceset.h).
 *
 * Open addressing, at most half full, grown by doubling up to a maximum.
 * A nonce is remembered for as long as it could be presented, its
 * lifetime; a nonce older than that is refused anyway, so its entry can
 * go. When the set is full of live entries (a flood of requests, each
 * using up a nonce) it neither forgets a live nonce, which would allow a
 * replay, nor refuses every nonce, which would let anyone stop every
 * client: it raises a floor, the issue time at or before which nonces
 * are refused, to the middle of the window, and forgets the entries
 * below it. Clients holding an older nonce get badNonce and retry with
 * a fresh one (RFC 8555 6.5).
 */
#include <stdlib.h>
#include <string.h>

#include "nonceset.h"

struct seen {
	unsigned char	 id[NONCESET_ID];
	uint32_t	 when;		/* 0: empty slot */
};

struct nonceset {
	struct seen	*slot;
	size_t		 cap;		/* a power of two */
	size_t		 n;
	size_t		 max;
	uint32_t	 lifetime;
	uint32_t	 floor;
};

struct nonceset *
nonceset_new(uint32_t lifetime, size_t max_entries)
{
	struct nonceset	*s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->cap = max_entries < 1024 ? max_entries : 1024;
	if ((s->slot = calloc(s->cap, sizeof(*s->slot))) == NULL) {
		free(s);
		return NULL;
	}
	s->max = max_entries;
	s->lifetime = lifetime;
	return s;
}

void
nonceset_free(struct nonceset *s)
{
	if (s == NULL)
		return;
	free(s->slot);
	free(s);
}

static uint32_t
get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

/* The nonce's random bytes are the hash: nobody but the CA chooses them. */
static size_t
home(size_t cap, const unsigned char *id)
{
	return (get32(id + 8) ^ get32(id + 12)) & (cap - 1);
}

/* May a nonce issued at when still be presented at now? */
static int
live(const struct nonceset *s, uint32_t when, uint32_t now)
{
	return when != 0 && when > s->floor &&
	    (uint64_t)when + s->lifetime >= now;
}

/*
 * The live entries into a table of cap slots. 0, or -1 (no memory: the
 * old table stays).
 */
static int
rebuild(struct nonceset *s, size_t cap, uint32_t now)
{
	struct seen	*old = s->slot, *t;
	size_t		 i, j, oldcap = s->cap;

	if ((t = calloc(cap, sizeof(*t))) == NULL)
		return -1;
	s->slot = t;
	s->cap = cap;
	s->n = 0;
	for (i = 0; i < oldcap; i++) {
		if (!live(s, old[i].when, now))
			continue;
		for (j = home(cap, old[i].id); t[j].when != 0;
		    j = (j + 1) & (cap - 1))
			;
		t[j] = old[i];
		s->n++;
	}
	free(old);
	return 0;
}

/* Room for one more: sweep, grow, then raise the floor. 0 or -1. */
static int
make_room(struct nonceset *s, uint32_t now)
{
	uint32_t	 lo;

	if (s->n + 1 <= s->cap / 2)
		return 0;
	if (rebuild(s, s->cap, now) == -1)
		return -1;
	if (s->n + 1 > s->cap / 2 && s->cap < s->max &&
	    rebuild(s, s->cap * 2, now) == -1)
		return -1;
	while (s->n + 1 > s->cap / 2) {
		lo = now > s->lifetime ? now - s->lifetime : 0;
		if (s->floor > lo)
			lo = s->floor;
		if (lo + 1 >= now)
			return -1;	/* all of it from this second */
		s->floor = lo + (now - lo) / 2;
		if (rebuild(s, s->cap, now) == -1)
			return -1;
	}
	return 0;
}

int
nonceset_add(struct nonceset *s, const unsigned char *id, uint32_t when,
    uint32_t now)
{
	size_t	 j;

	if (!live(s, when, now) || make_room(s, now) == -1 ||
	    !live(s, when, now))	/* the floor may have passed it */
		return 0;
	for (j = home(s->cap, id); s->slot[j].when != 0;
	    j = (j + 1) & (s->cap - 1))
		if (memcmp(s->slot[j].id, id, NONCESET_ID) == 0)
			return 0;
	memcpy(s->slot[j].id, id, NONCESET_ID);
	s->slot[j].when = when;
	s->n++;
	return 1;
}

void
nonceset_each(const struct nonceset *s, uint32_t now,
    void (*fn)(void *, const unsigned char *, uint32_t), void *arg)
{
	size_t	 i;

	for (i = 0; i < s->cap; i++)
		if (live(s, s->slot[i].when, now))
			fn(arg, s->slot[i].id, s->slot[i].when);
}

size_t
nonceset_count(const struct nonceset *s)
{
	return s->n;
}

uint32_t
nonceset_floor(const struct nonceset *s)
{
	return s->floor;
}
