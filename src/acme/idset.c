/*
 * idset.c - small sets of row ids that this process is working on, each
 * under its own lock: the orders being finalized (finalize.c), the
 * challenges whose validation runs for a held answer (authz.c). They
 * hold a few dozen ids at most (one per request in flight), so a scan
 * is all a lookup needs.
 */
#include <stdlib.h>

#include "acme_int.h"

void
acme_idset_init(struct acme_idset *s)
{
	pthread_mutex_init(&s->mu, NULL);
	s->ids = NULL;
	s->n = s->cap = 0;
}

void
acme_idset_free(struct acme_idset *s)
{
	pthread_mutex_destroy(&s->mu);
	free(s->ids);
	s->ids = NULL;
	s->n = s->cap = 0;
}

int
acme_idset_take(struct acme_idset *s, int64_t id)
{
	int64_t	*n;
	size_t	 i;
	int	 ret = 1;

	pthread_mutex_lock(&s->mu);
	for (i = 0; i < s->n && ret == 1; i++)
		if (s->ids[i] == id)
			ret = 0;
	if (ret == 1 && s->n == s->cap) {
		n = reallocarray(s->ids, s->cap + 16, sizeof(*n));
		if (n == NULL)
			ret = -1;
		else {
			s->ids = n;
			s->cap += 16;
		}
	}
	if (ret == 1)
		s->ids[s->n++] = id;
	pthread_mutex_unlock(&s->mu);
	return ret;
}

void
acme_idset_drop(struct acme_idset *s, int64_t id)
{
	size_t	 i;

	pthread_mutex_lock(&s->mu);
	for (i = 0; i < s->n; i++)
		if (s->ids[i] == id) {
			s->ids[i] = s->ids[--s->n];
			break;
		}
	pthread_mutex_unlock(&s->mu);
}

int
acme_idset_has(struct acme_idset *s, int64_t id)
{
	size_t	 i;
	int	 ret = 0;

	pthread_mutex_lock(&s->mu);
	for (i = 0; i < s->n && !ret; i++)
		ret = s->ids[i] == id;
	pthread_mutex_unlock(&s->mu);
	return ret;
}
