/*
 * nonceset.h - the ACME nonces used up (nonce.c): a hash set of 16-byte
 * ids with the time each nonce was issued, bounded in memory, that never
 * lets a nonce be used twice.
 */
#ifndef CERTMINT_ACME_NONCESET_H
#define CERTMINT_ACME_NONCESET_H

#include <stddef.h>
#include <stdint.h>

#define NONCESET_ID	16

struct nonceset;

/*
 * A set remembering nonces for lifetime seconds after their issue, in at
 * most max_entries (a power of two). NULL on no memory.
 */
struct nonceset	*nonceset_new(uint32_t lifetime, size_t max_entries);
void		 nonceset_free(struct nonceset *);
/*
 * Use up the nonce id issued at when: 1 when it is fresh and was not used
 * before, else 0 (used, older than the lifetime, or from before the floor a
 * flood raised; also when out of memory).
 */
int		 nonceset_add(struct nonceset *, const unsigned char *id,
		    uint32_t when, uint32_t now);
/* Call fn for every nonce still remembered. */
void		 nonceset_each(const struct nonceset *, uint32_t now,
		    void (*fn)(void *, const unsigned char *id, uint32_t when),
		    void *arg);
size_t		 nonceset_count(const struct nonceset *);
/* The issue time at or before which nonces are refused (0: none). */
uint32_t	 nonceset_floor(const struct nonceset *);

#endif
