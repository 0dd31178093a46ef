/*
 * collect.c - what a slot delivers, read from the events outbox: batches
 * of events as the module gets them, the requests of a batch read ahead in
 * one transaction, and a serial module's reader thread, which reads the
 * next batch while the slot's thread delivers this one.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "host.h"

/* The event as this module gets it: its bit for the mask, its context. */
void
event_for_slot(struct exit_slot *s, const struct db_event *stored,
    struct db_event *ev, int64_t *context)
{
	*ev = *stored;
	if ((ev->event = exit_event_for_mask(s->mod.mask, stored->event)) == 0)
		ev->event = stored->event;
	*context = (ev->event == CM_EXITEVENT_CRLISSUED ||
	    ev->event == CM_EXITEVENT_STARTUP ||
	    ev->event == CM_EXITEVENT_SHUTDOWN) ? 0 : ev->context;
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t		 x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* The request of context read with the current batch's, or NULL. */
const struct db_request *
collect_prefetched(struct exit_slot *s, int64_t context)
{
	const struct collect *c = s->cur;
	const int64_t	*k;

	if (c == NULL || c->pre_ids == NULL || context <= 0 ||
	    (k = bsearch(&context, c->pre_ids, c->pre.n, sizeof(*k),
	    cmp_i64)) == NULL)
		return NULL;
	return c->pre.v[k - c->pre_ids].id != 0 ?
	    &c->pre.v[k - c->pre_ids] : NULL;
}

/*
 * Read the requests of c's events in the module's mask at once, in one
 * transaction on st, when a notify of the module's last batch read a
 * request (as most modules do; the first batch is read ahead too): each
 * notify's first read of its request then costs no database read of its
 * own, which had been most of the cost of a notify that reads one.
 */
static void
reqs_read_ahead(struct exit_slot *s, struct store *st, struct collect *c)
{
	struct db_event	 ev;
	int64_t		*ids, context;
	size_t		 i, n = 0, k;

	if (c->n == 0 || atomic_exchange(&s->req_unread, 1) != 0)
		return;
	ids = xcalloc(c->n, sizeof(*ids));
	for (i = 0; i < c->n; i++)
		if (exit_event_for_mask(s->mod.mask, c->v[i].event) != 0) {
			event_for_slot(s, &c->v[i], &ev, &context);
			if (context > 0)
				ids[n++] = context;
		}
	if (n == 0) {
		free(ids);
		return;
	}
	qsort(ids, n, sizeof(*ids), cmp_i64);
	for (i = k = 1; i < n; i++)
		if (ids[i] != ids[k - 1])
			ids[k++] = ids[i];
	if (store_requests_get_many(st, ids, k, &c->pre) != 0) {
		free(ids);	/* each notify reads its own */
		return;
	}
	c->pre_ids = ids;
}

static int
collect_event(void *arg, const struct db_event *ev)
{
	struct collect	*c = arg;

	if (c->n < BATCH)
		c->v[c->n++] = *ev;
	return 0;
}

/* Read the events after seq into c, and their requests ahead. */
void
collect_read(struct exit_slot *s, struct store *st, int64_t after,
    struct collect *c)
{
	c->n = 0;
	if (store_events_after(st, after, BATCH, collect_event, c) != 0)
		log_err("exit module %s: cannot read events", s->name);
	reqs_read_ahead(s, st, c);
}

/* Empty c, freeing its requests. */
void
collect_clear(struct collect *c)
{
	db_requests_free(&c->pre);
	free(c->pre_ids);
	c->pre_ids = NULL;
	c->n = 0;
}


enum { RD_IDLE, RD_JOB, RD_DONE, RD_QUIT };

/*
 * A slot's reader thread: reads the batch after s->rd_after into s->rd_c
 * (events and their requests) while the slot's thread delivers the one
 * before, on a serial module's backlog. Started at the first backlog.
 */
static void *
reader_main(void *arg)
{
	struct exit_slot *s = arg;
	struct store	*st = ca_reader(s->host->ca);

	exit_thread_nice(s->host->nice);
	pthread_mutex_lock(&s->rd_mu);
	for (;;) {
		while (s->rd_state != RD_JOB && s->rd_state != RD_QUIT)
			pthread_cond_wait(&s->rd_cv, &s->rd_mu);
		if (s->rd_state == RD_QUIT)
			break;
		pthread_mutex_unlock(&s->rd_mu);
		if (st != NULL)
			collect_read(s, st, s->rd_after, s->rd_c);
		pthread_mutex_lock(&s->rd_mu);
		s->rd_state = RD_DONE;
		pthread_cond_broadcast(&s->rd_cv);
	}
	pthread_mutex_unlock(&s->rd_mu);
	return NULL;
}

/* Have the reader thread read the batch after seq into c: 1, or 0. */
int
reader_start(struct exit_slot *s, int64_t after, struct collect *c)
{
	if (!s->rd_running) {
		if (pthread_create(&s->rd_thread, NULL, reader_main, s) != 0)
			return 0;
		s->rd_running = 1;
	}
	pthread_mutex_lock(&s->rd_mu);
	s->rd_after = after;
	s->rd_c = c;
	s->rd_state = RD_JOB;
	pthread_cond_broadcast(&s->rd_cv);
	pthread_mutex_unlock(&s->rd_mu);
	return 1;
}

/* Wait for the batch reader_start asked for. */
void
reader_wait(struct exit_slot *s)
{
	pthread_mutex_lock(&s->rd_mu);
	while (s->rd_state == RD_JOB)
		pthread_cond_wait(&s->rd_cv, &s->rd_mu);
	s->rd_state = RD_IDLE;
	pthread_mutex_unlock(&s->rd_mu);
}

void
reader_stop(struct exit_slot *s)
{
	if (!s->rd_running)
		return;
	pthread_mutex_lock(&s->rd_mu);
	s->rd_state = RD_QUIT;
	pthread_cond_broadcast(&s->rd_cv);
	pthread_mutex_unlock(&s->rd_mu);
	pthread_join(s->rd_thread, NULL);
	s->rd_running = 0;
	s->rd_state = RD_IDLE;
}
