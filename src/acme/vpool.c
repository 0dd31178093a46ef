/*
 * vpool.c - the VA's pool: max_parallel threads take checks from one FIFO
 * and run acme_validate(), so that validations never run on the HTTP
 * threads and never more than max_parallel at once. The queue is bounded
 * too (ACME_VPOOL_MAX_QUEUED): past it submit fails and the core retries.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "validate.h"

struct vp_job {
	struct vp_job		*next;
	struct acme_check	 check;
	acme_va_done_fn		*done;
	void			*arg;
};

struct acme_vpool;
struct vp_thread {
	struct acme_vpool	*p;
	int64_t			 account;	/* of its check, -1: idle */
	pthread_t		 tid;
};

struct acme_vpool {
	struct acme_va_config	 cfg;
	pthread_mutex_t		 mu;
	pthread_cond_t		 cv;
	struct vp_job		*head, *tail;
	size_t			 queued;
	int			 stopping;
	int			 nthreads;
	int			 per_account;	/* running at once, at most */
	struct vp_thread	*threads;
};

/* Checks of account running now. Under p->mu. */
static int
running_of(const struct acme_vpool *p, int64_t account)
{
	int	 i, n = 0;

	for (i = 0; i < p->nthreads; i++)
		n += p->threads[i].account == account;
	return n;
}

/*
 * The next check, taken off the queue: of the accounts with checks
 * queued, one running the fewest (and fewer than per_account), its oldest;
 * ties to the oldest. So each account waits its turn, not the queue's:
 * accounts that fill the queue with responders that never answer keep
 * only their share of the threads. NULL when none may run. Under p->mu.
 */
static struct vp_job *
take_next(struct acme_vpool *p)
{
	struct vp_job	*j, *prev = NULL, *best = NULL, *bprev = NULL;
	int		 r, least = p->per_account;

	for (j = p->head; j != NULL; prev = j, j = j->next) {
		if ((r = running_of(p, j->check.account)) >= least)
			continue;
		best = j;
		bprev = prev;
		if ((least = r) == 0)
			break;		/* no account runs fewer */
	}
	if (best == NULL)
		return NULL;
	if (bprev != NULL)
		bprev->next = best->next;
	else
		p->head = best->next;
	if (p->tail == best)
		p->tail = bprev;
	p->queued--;
	return best;
}

/*
 * A pool thread: one check at a time until the pool stops. A thread
 * that ends a check looks for the next itself, so a check its account's
 * limit held back needs no other wake-up.
 */
static void *
vp_worker(void *arg)
{
	struct vp_thread	*t = arg;
	struct acme_vpool	*p = t->p;
	struct vp_job		*j;
	struct acme_va_result	 res;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->stopping && (j = take_next(p)) == NULL)
			pthread_cond_wait(&p->cv, &p->mu);
		if (p->stopping) {
			pthread_mutex_unlock(&p->mu);
			return NULL;
		}
		t->account = j->check.account;
		pthread_mutex_unlock(&p->mu);

		acme_validate(&p->cfg, &j->check, &res);
		j->done(j->arg, &j->check, &res);
		free(j);

		pthread_mutex_lock(&p->mu);
		t->account = -1;
	}
}

/*
 * Start a pool of cfg->max_parallel threads (16 when not set); cfg is
 * copied. The pool, or NULL with err.
 */
struct acme_vpool *
acme_vpool_start(const struct acme_va_config *cfg, char *err, size_t errlen)
{
	struct acme_vpool	*p;
	int			 i, e;

	if ((p = calloc(1, sizeof(*p))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	p->cfg = *cfg;
	if (p->cfg.max_parallel <= 0)
		p->cfg.max_parallel = 16;
	p->per_account = ACME_VPOOL_PER_ACCOUNT(p->cfg.max_parallel);
	if ((p->threads = calloc((size_t)p->cfg.max_parallel,
	    sizeof(*p->threads))) == NULL) {
		free(p);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	for (i = 0; i < p->cfg.max_parallel; i++) {
		p->threads[i].p = p;
		p->threads[i].account = -1;
		/* Counted first: a started thread reads nthreads (running_of). */
		pthread_mutex_lock(&p->mu);
		p->nthreads++;
		pthread_mutex_unlock(&p->mu);
		if ((e = pthread_create(&p->threads[i].tid, NULL, vp_worker,
		    &p->threads[i])) != 0) {
			pthread_mutex_lock(&p->mu);
			p->nthreads--;
			pthread_mutex_unlock(&p->mu);
			snprintf(err, errlen, "starting validation thread: %s",
			    strerror(e));
			acme_vpool_stop(p);
			return NULL;
		}
	}
	return p;
}

/* Queue a copy of check; done(arg, ...) runs when it is validated. 0/-1. */
int
acme_vpool_submit(struct acme_vpool *p, const struct acme_check *check,
    void (*done)(void *, const struct acme_check *,
    const struct acme_va_result *), void *arg)
{
	struct vp_job	*j;

	if ((j = malloc(sizeof(*j))) == NULL)
		return -1;
	j->next = NULL;
	j->check = *check;
	j->done = done;
	j->arg = arg;
	pthread_mutex_lock(&p->mu);
	if (p->stopping || p->queued >= ACME_VPOOL_MAX_QUEUED) {
		pthread_mutex_unlock(&p->mu);
		free(j);
		return -1;
	}
	if (p->tail != NULL)
		p->tail->next = j;
	else
		p->head = j;
	p->tail = j;
	p->queued++;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
	return 0;
}

void
acme_vpool_stop_cb(struct acme_vpool *p, acme_va_dropped_fn *dropped)
{
	struct vp_job	*j;
	int		 i;

	if (p == NULL)
		return;
	pthread_mutex_lock(&p->mu);
	p->stopping = 1;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	/* A running check ends by its deadline: these joins are bounded. */
	for (i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i].tid, NULL);
	while ((j = p->head) != NULL) {
		p->head = j->next;
		if (dropped != NULL)
			dropped(j->arg, &j->check);
		free(j);
	}
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	free(p->threads);
	free(p);
}

void
acme_vpool_stop(struct acme_vpool *p)
{
	acme_vpool_stop_cb(p, NULL);
}
