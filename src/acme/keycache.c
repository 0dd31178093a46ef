/*
 * keycache.c - parsed account keys by account id, so that a request
 * signed with a kid does not rebuild its EVP_PKEY from the stored JWK
 * every time (the JWK parse costs as much as the verification).
 *
 * Bounded: KC_SETS sets of KC_WAYS entries, the account id picks the set
 * and the least recently used entry of a full set goes. An entry is good
 * only for the exact JWK text it was parsed from: the account row is read
 * on every request anyway (its status), and keyChange changes the text,
 * so a stale key is never used. EVP_PKEY is reference counted and only
 * read by a verification: the cache and the requests share it.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "acme_int.h"

#define KC_SETS	256
#define KC_WAYS	4

struct kc_entry {
	int64_t		 id;	/* 0: empty */
	char		*text;	/* the stored JWK it was parsed from */
	EVP_PKEY	*pkey;
	enum jwk_kind	 kind;
	unsigned char	 ec_point[sizeof(((struct jwk *)0)->ec_point)];
	size_t		 ec_pointlen;
	unsigned char	*spki;	/* its DER SubjectPublicKeyInfo, once asked */
	size_t		 spki_len;
	uint64_t	 used;
};

struct acme_keycache {
	pthread_mutex_t	 mu;
	uint64_t	 tick;
	struct kc_entry	 e[KC_SETS][KC_WAYS];
};

struct acme_keycache *
acme_keycache_new(void)
{
	struct acme_keycache *kc;

	if ((kc = calloc(1, sizeof(*kc))) == NULL)
		return NULL;
	pthread_mutex_init(&kc->mu, NULL);
	return kc;
}

void
acme_keycache_free(struct acme_keycache *kc)
{
	size_t	 s, w;

	if (kc == NULL)
		return;
	for (s = 0; s < KC_SETS; s++)
		for (w = 0; w < KC_WAYS; w++) {
			free(kc->e[s][w].text);
			free(kc->e[s][w].spki);
			EVP_PKEY_free(kc->e[s][w].pkey);
		}
	pthread_mutex_destroy(&kc->mu);
	free(kc);
}

int
acme_keycache_get(struct acme_keycache *kc, int64_t id, const char *text,
    struct jwk *k)
{
	struct kc_entry	*set = kc->e[(uint64_t)id % KC_SETS];
	size_t		 w;
	int		 hit = 0;

	memset(k, 0, sizeof(*k));
	pthread_mutex_lock(&kc->mu);
	for (w = 0; w < KC_WAYS; w++)
		if (set[w].id == id && strcmp(set[w].text, text) == 0 &&
		    EVP_PKEY_up_ref(set[w].pkey) == 1) {
			set[w].used = ++kc->tick;
			k->pkey = set[w].pkey;
			k->kind = set[w].kind;
			memcpy(k->ec_point, set[w].ec_point, set[w].ec_pointlen);
			k->ec_pointlen = set[w].ec_pointlen;
			hit = 1;
			break;
		}
	pthread_mutex_unlock(&kc->mu);
	return hit;
}

void
acme_keycache_put(struct acme_keycache *kc, int64_t id, const char *text,
    const struct jwk *k)
{
	struct kc_entry	*set = kc->e[(uint64_t)id % KC_SETS], *v;
	char		*t;
	size_t		 w;

	if ((t = strdup(text)) == NULL)
		return;
	if (EVP_PKEY_up_ref(k->pkey) != 1) {
		free(t);
		return;
	}
	pthread_mutex_lock(&kc->mu);
	/* The account's own entry (an old key), else the least recent. */
	v = &set[0];
	for (w = 0; w < KC_WAYS; w++) {
		if (set[w].id == id) {
			v = &set[w];
			break;
		}
		if (set[w].used < v->used)
			v = &set[w];
	}
	free(v->text);
	free(v->spki);
	v->spki = NULL;
	v->spki_len = 0;
	EVP_PKEY_free(v->pkey);
	v->id = id;
	v->text = t;
	v->pkey = k->pkey;
	v->kind = k->kind;
	memcpy(v->ec_point, k->ec_point, k->ec_pointlen);
	v->ec_pointlen = k->ec_pointlen;
	v->used = ++kc->tick;
	pthread_mutex_unlock(&kc->mu);
}

/* The entry of account id parsed from text, or NULL. Call with kc->mu. */
static struct kc_entry *
kc_find(struct acme_keycache *kc, int64_t id, const char *text)
{
	struct kc_entry	*set = kc->e[(uint64_t)id % KC_SETS];
	size_t		 w;

	for (w = 0; w < KC_WAYS; w++)
		if (set[w].id == id && strcmp(set[w].text, text) == 0)
			return &set[w];
	return NULL;
}

int
acme_keycache_spki(struct acme_keycache *kc, int64_t id, const char *text,
    unsigned char **der, size_t *len)
{
	struct kc_entry	*e;
	struct jwk	 k;
	unsigned char	*d = NULL, *keep;
	size_t		 n = 0;

	memset(&k, 0, sizeof(k));
	pthread_mutex_lock(&kc->mu);
	if ((e = kc_find(kc, id, text)) != NULL && e->spki != NULL &&
	    (d = malloc(e->spki_len)) != NULL) {
		memcpy(d, e->spki, e->spki_len);
		n = e->spki_len;
	} else if (e != NULL && e->spki == NULL &&
	    EVP_PKEY_up_ref(e->pkey) == 1) {
		k.pkey = e->pkey;
		k.kind = e->kind;
	}
	pthread_mutex_unlock(&kc->mu);
	if (d != NULL) {
		*der = d;
		*len = n;
		return 0;
	}
	if (k.pkey == NULL)
		return -1;
	/* Encoded outside the lock: OpenSSL's encoders are slow. */
	if (jwk_spki(&k, &d, &n) == -1) {
		EVP_PKEY_free(k.pkey);
		return -1;
	}
	pthread_mutex_lock(&kc->mu);
	if ((e = kc_find(kc, id, text)) != NULL && e->pkey == k.pkey &&
	    e->spki == NULL && (keep = malloc(n)) != NULL) {
		memcpy(keep, d, n);
		e->spki = keep;
		e->spki_len = n;
	}
	pthread_mutex_unlock(&kc->mu);
	EVP_PKEY_free(k.pkey);
	*der = d;
	*len = n;
	return 0;
}
