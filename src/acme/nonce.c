/*
 * nonce.c - ACME anti-replay nonces (RFC 8555 6.5).
 *
 * A nonce is base64url(generation | time | sequence | MAC), the MAC an
 * HMAC-SHA256 (truncated to 16 bytes) under a key kept in the database:
 * any thread can check one without a shared table of issued nonces, and
 * one issued before a restart still checks after it. The sequence, counted
 * up from 0 in each run (generation), makes every nonce unique; the MAC
 * makes it unpredictable to anyone without the key (RFC 8555 6.5). (8
 * random bytes instead cost RAND_bytes, about 10 us under load.) What
 * must be shared is the set of nonces used up; it is in memory, behind a
 * mutex (nonceset.c: entries expire with the nonces, ACME_NONCE_LIFETIME,
 * and a flood cannot make it refuse every nonce).
 *
 * A restart would forget that set. The generation, counted up at each
 * start, says which run issued a nonce: the current run's are checked
 * against the set; the previous run's only when that run stopped cleanly
 * and saved its set (acme_state "nonce_seen"), which is loaded at start;
 * after a crash they are refused (badNonce: every client retries with a
 * fresh one). Older generations are always refused.
 */
#include <arpa/inet.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "acme_int.h"
#include "nonceset.h"

#define NONCE_RAW	32	/* gen 4, time 4, sequence 8, MAC 16 */
#define NONCE_ID	NONCESET_ID	/* gen, time and sequence: the set keeps */
#define SET_MAX		(1u << 20)	/* used nonces remembered at most */

struct nonce_state {
	pthread_mutex_t	 mu;
	unsigned char	 key[32];
	struct mac_key	*mk;		/* key, made once */
	uint32_t	 gen;
	atomic_uint_least64_t seq;	/* the next nonce's in this run */
	int		 prev_ok;	/* the previous run's set was saved */
	struct nonceset	*set;
};

struct nonce_save {
	unsigned char	*blob;
	size_t		 len;
	uint32_t	 gen;
	int		 gen_only;
};

static uint32_t
get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static void
put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

/* Compare without an early exit: the MAC is a secret until it matches. */
static int
same16(const unsigned char *a, const unsigned char *b)
{
	unsigned char	 d = 0;
	int		 i;

	for (i = 0; i < 16; i++)
		d |= a[i] ^ b[i];
	return d == 0;
}

static int
nonce_mac(const struct nonce_state *ns, const unsigned char *id,
    unsigned char out[16])
{
	unsigned char	 mac[64];
	size_t		 n;

	if (mac_key_compute(ns->mk, id, NONCE_ID, mac, &n) == -1)
		return -1;
	memcpy(out, mac, 16);
	return 0;
}

int
nonce_new(struct acme *a, char out[64])
{
	struct nonce_state *ns = a->nonces;
	unsigned char	 raw[NONCE_RAW];
	uint64_t	 seq = atomic_fetch_add(&ns->seq, 1);
	char		*s;

	put32(raw, ns->gen);
	put32(raw + 4, (uint32_t)time_now());
	put32(raw + 8, (uint32_t)(seq >> 32));
	put32(raw + 12, (uint32_t)seq);
	if (nonce_mac(ns, raw, raw + NONCE_ID) == -1 ||
	    (s = b64url_encode(raw, sizeof(raw))) == NULL) {
		out[0] = '\0';
		return -1;
	}
	snprintf(out, 64, "%s", s);
	free(s);
	return 0;
}

int
nonce_use(struct acme *a, const char *nonce)
{
	struct nonce_state *ns = a->nonces;
	unsigned char	*raw, mac[16];
	size_t		 n;
	uint32_t	 gen, when, now = (uint32_t)time_now();
	int		 ok = 0;

	if (b64url_decode(nonce, strlen(nonce), &raw, &n) == -1)
		return 0;
	if (n != NONCE_RAW || nonce_mac(ns, raw, mac) == -1 ||
	    !same16(mac, raw + NONCE_ID))
		goto out;
	gen = get32(raw);
	when = get32(raw + 4);
	if (when + ACME_NONCE_LIFETIME < now || when > now + 60)
		goto out;
	if (gen != ns->gen && !(gen + 1 == ns->gen && ns->prev_ok))
		goto out;
	pthread_mutex_lock(&ns->mu);
	ok = nonceset_add(ns->set, raw, when, now);
	pthread_mutex_unlock(&ns->mu);
out:
	free(raw);
	return ok;
}

static int
save_fn(struct store *st, void *arg)
{
	struct nonce_save *s = arg;
	unsigned char	 g[4];
	int		 rc;

	put32(g, s->gen);
	if ((rc = store_acme_state_set(st, "nonce_gen", g, 4)) != 0 ||
	    s->gen_only)
		return rc;
	return store_acme_state_set(st, "nonce_seen", s->blob, s->len);
}

static int
key_fn(struct store *st, void *arg)
{
	return store_acme_state_set(st, "nonce_key", arg, 32);
}

/*
 * The previous run's used nonces, saved as gen(4) then id(16) when(4)
 * entries: kept when gen is that run's.
 */
static void
load_seen(struct nonce_state *ns, struct store *st)
{
	unsigned char	*b;
	size_t		 len, off;
	uint32_t	 now = (uint32_t)time_now();

	if (store_acme_state_get(st, "nonce_seen", &b, &len) != 0)
		return;
	if (len >= 4 && (len - 4) % 20 == 0 && get32(b) + 1 == ns->gen) {
		ns->prev_ok = 1;
		for (off = 4; off < len; off += 20)
			nonceset_add(ns->set, b + off, get32(b + off + 16),
			    now);
	}
	free(b);
}

int
nonce_start(struct acme *a, char *err, size_t errlen)
{
	struct nonce_state *ns;
	struct store	*st;
	struct nonce_save sv;
	unsigned char	*b = NULL;
	size_t		 len;

	if ((ns = calloc(1, sizeof(*ns))) == NULL ||
	    (ns->set = nonceset_new(ACME_NONCE_LIFETIME, SET_MAX)) == NULL) {
		free(ns);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	pthread_mutex_init(&ns->mu, NULL);
	a->nonces = ns;
	if ((st = acme_reader(a)) == NULL) {
		snprintf(err, errlen, "acme: cannot read the database");
		return -1;
	}
	if (store_acme_state_get(st, "nonce_key", &b, &len) == 0 &&
	    len == sizeof(ns->key))
		memcpy(ns->key, b, len);
	else if (random_fill(ns->key, sizeof(ns->key)) == -1 ||
	    acme_write(a, key_fn, ns->key) == -1) {
		free(b);
		snprintf(err, errlen, "acme: cannot make the nonce key");
		return -1;
	}
	free(b);
	if ((ns->mk = mac_key_new(JWS_HS256, ns->key, sizeof(ns->key))) ==
	    NULL) {
		snprintf(err, errlen, "acme: cannot key the nonces' HMAC");
		return -1;
	}
	if (store_acme_state_get(st, "nonce_gen", &b, &len) == 0 && len == 4)
		ns->gen = get32(b) + 1;
	else
		ns->gen = 1;
	free(b);
	load_seen(ns, st);
	memset(&sv, 0, sizeof(sv));
	sv.gen = ns->gen;
	sv.gen_only = 1;
	if (acme_write(a, save_fn, &sv) == -1) {
		snprintf(err, errlen, "acme: cannot record the nonce "
		    "generation");
		return -1;
	}
	return 0;
}

static void
save_one(void *arg, const unsigned char *id, uint32_t when)
{
	struct nonce_save *sv = arg;

	memcpy(sv->blob + sv->len, id, NONCE_ID);
	put32(sv->blob + sv->len + 16, when);
	sv->len += 20;
}

/* At a clean stop: save the used nonces for the next run. */
void
nonce_stop(struct acme *a)
{
	struct nonce_state *ns = a->nonces;
	struct nonce_save sv;
	uint32_t	 now = (uint32_t)time_now();

	if (ns == NULL)
		return;
	memset(&sv, 0, sizeof(sv));
	sv.gen = ns->gen;
	if ((sv.blob = malloc(4 + nonceset_count(ns->set) * 20)) != NULL) {
		put32(sv.blob, ns->gen);
		sv.len = 4;
		nonceset_each(ns->set, now, save_one, &sv);
		if (acme_write(a, save_fn, &sv) == -1)
			log_warn("acme: the used nonces were not saved: the "
			    "next run refuses this run's nonces");
		free(sv.blob);
	}
	pthread_mutex_destroy(&ns->mu);
	nonceset_free(ns->set);
	mac_key_free(ns->mk);
	free(ns);
	a->nonces = NULL;
}
