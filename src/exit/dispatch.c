/*
 * dispatch.c - delivery of the events outbox to exit modules. Each module
 * has a cursor (the last event it was given) and its own thread, or for a
 * concurrent module its own small pool; a slow or failing module delays
 * only itself. A failed notify is retried with exponential backoff, holding
 * the module's queue; after max_attempts the event is dead-lettered.
 * Delivery is at least once: the cursor is saved after the calls.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "exit_host.h"

#define BATCH		1024	/* events read and handed out at a time */
#define STOP_GRACE_MS	1000	/* a notify under way at the stop deadline */
#define POOL_MAX	16
#define MARKS		1024	/* recent commits, for commit-to-notify latency */
#define LATENCIES	4096	/* latency samples kept per module */
#define LAT_EVERY	16	/* sample the latency of one event in LAT_EVERY */
#define CURSOR_SAVE_MS	200	/* save a moving cursor at most this often */

/* A commit that wrote events up to seq, at ns (monotonic). */
struct commit_mark {
	int64_t		 seq;
	uint64_t	 ns;
};

struct exit_slot;

/* A concurrent module's worker: takes events of the current batch by index. */
struct pool_worker {
	struct exit_slot *slot;
	pthread_t	 thread;
	atomic_int	 in_notify;	/* see notify_flag */
};

struct exit_slot {
	struct exit_host *host;
	char		*name;
	struct exit_module mod;
	int		 loaded;
	char		 load_error[512];
	pthread_t	 thread;
	int		 running;
	int		 stop;
	atomic_int	 exited;	/* its thread is done (slot_join) */
	atomic_int	 abort;		/* hand out no more events: unload, deadline */
	atomic_int	 in_notify;	/* its own thread is inside notify */
	atomic_int	 abandoned;	/* left in notify at the stop deadline */
	int64_t		 cursor;	/* last event handled */
	int64_t		 saved;		/* cursor as last written */
	int64_t		 replay_from;	/* > 0: a replay was asked for */
	int		 replay_dead;
	atomic_int_fast64_t delivered;	/* read without h->mu */
	int64_t		 failures, dead_lettered;
	uint64_t	 saved_ns;	/* when the cursor was last written */
	char		 last_error[256];
	int64_t		 last_error_time;
	uint32_t	 lat_us[LATENCIES];	/* commit to notify return, ring */
	uint64_t	 lat_n;
	pthread_mutex_t	 call_mu;	/* serial modules: one call at a time */
	/* concurrent pool */
	int		 nworkers;
	struct pool_worker workers[POOL_MAX];
	struct db_event	*batch;
	size_t		 batch_n, batch_next, batch_done;
	int		 batch_gen;
	int		 batch_short;	/* an event of the batch was not handled */
	int		 pool_stop;
	pthread_mutex_t	 pool_mu;	/* the batch fields and pool_stop */
	pthread_cond_t	 pool_cv;
	struct exit_slot *next;
};

struct exit_host {
	struct ca	*ca;
	pthread_mutex_t	 list_mu;	/* the slot list: reload against admin views */
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	int64_t		 last_seq;	/* newest committed event */
	struct commit_mark marks[MARKS];	/* ring */
	uint64_t	 nmarks;
	int		 stopping;
	int64_t		 drain_deadline;	/* mono_seconds() */
	struct exit_slot *slots;
	/* Settings: rewritten by a reload while module threads read them. */
	atomic_int	 max_attempts;
	atomic_int	 backoff_initial_ms;
	atomic_int	 backoff_max_ms;
	atomic_int	 deadline_ms;
	atomic_int	 pool_threads;
	atomic_int	 stop_deadline_ms;
	char		*modules_dir;
};

static void	save_cursor(struct exit_slot *, int);

/*
 * Seconds on the monotonic clock: the stop's deadlines must not move when
 * the wall clock steps (a step forward once made the join give up at
 * once and free a slot its thread still used).
 */
static int64_t
mono_seconds(void)
{
	return (int64_t)(time_mono_ns() / 1000000000u);
}

static void
host_on_commit(void *arg, int64_t seq)
{
	struct exit_host *h = arg;

	uint64_t	 now = time_mono_ns();

	pthread_mutex_lock(&h->mu);
	if (seq > h->last_seq) {
		h->last_seq = seq;
		h->marks[h->nmarks % MARKS].seq = seq;
		h->marks[h->nmarks % MARKS].ns = now;
		h->nmarks++;
		pthread_cond_broadcast(&h->cv);
	}
	pthread_mutex_unlock(&h->mu);
}

/*
 * When was event seq committed (monotonic ns)? 0 when it is older than the
 * commits remembered (a replay, or events from before the start). Call with
 * h->mu held.
 */
static uint64_t
commit_time(struct exit_host *h, int64_t seq)
{
	uint64_t	 i, n = h->nmarks < MARKS ? h->nmarks : MARKS, found = 0;
	const struct commit_mark *m;

	for (i = 0; i < n; i++) {
		m = &h->marks[(h->nmarks - 1 - i) % MARKS];
		if (m->seq < seq)
			return found;
		found = m->ns;
	}
	/* Every remembered commit is at or after seq: known only if none was lost. */
	return h->nmarks <= MARKS ? found : 0;
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t	 x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * Add the commit-to-notify latency percentiles of s to o. Call with h->mu
 * held.
 */
static void
latency_json(struct exit_slot *s, json_t *o)
{
	uint32_t	*v;
	size_t		 n = s->lat_n < LATENCIES ? s->lat_n : LATENCIES;
	json_t		*l;

	if (n == 0 || (v = malloc(n * sizeof(*v))) == NULL)
		return;
	memcpy(v, s->lat_us, n * sizeof(*v));
	qsort(v, n, sizeof(*v), cmp_u32);
	l = json_object();
	json_object_set_new(l, "samples", json_integer((json_int_t)n));
	json_object_set_new(l, "p50", json_integer(v[n / 2]));
	json_object_set_new(l, "p99", json_integer(v[n * 99 / 100]));
	json_object_set_new(l, "max", json_integer(v[n - 1]));
	json_object_set_new(o, "latency_us", l);
	free(v);
}

static int
config_int(struct exit_host *h, const char *key, int def, int min, int max)
{
	char		*v = ca_config_value(h->ca, "exit", key);
	int64_t		 n;

	if (v == NULL)
		return def;
	if (parse_int64(v, &n) == -1 || n < min || n > max) {
		log_warn("[exit] %s = \"%s\": expected %d to %d, using %d", key, v,
		    min, max, def);
		n = def;
	}
	free(v);
	return (int)n;
}

static void
host_settings(struct exit_host *h)
{
	char		*dir = ca_config_value(h->ca, "exit", "modules_dir");

	free(h->modules_dir);
	h->modules_dir = path_join(ca_config(h->ca)->dir, dir ? dir : "modules");
	free(dir);
	h->max_attempts = config_int(h, "max_attempts", 5, 1, 1000);
	h->backoff_initial_ms = config_int(h, "backoff_initial_ms", 200, 1, 3600000);
	h->backoff_max_ms = config_int(h, "backoff_max_ms", 30000, 1, 86400000);
	h->deadline_ms = config_int(h, "deadline_ms", 5000, 1, 86400000);
	h->pool_threads = config_int(h, "threads", 4, 1, POOL_MAX);
	h->stop_deadline_ms = config_int(h, "stop_deadline_ms", 10000, 0,
	    86400000);
}

struct exit_host *
exit_host_new(struct ca *ca)
{
	struct exit_host *h = xcalloc(1, sizeof(*h));

	h->ca = ca;
	pthread_mutex_init(&h->list_mu, NULL);
	pthread_mutex_init(&h->mu, NULL);
	pthread_cond_init(&h->cv, NULL);
	host_settings(h);
	return h;
}

/* time_mono_ns() ms from now, for the joins at a stop. */
static uint64_t
mono_deadline_in(int64_t ms)
{
	return time_mono_ns() + (uint64_t)ms * 1000000u;
}

/*
 * Sleep ms on the host's condition (a retry's backoff), waking early only
 * when stopping. Called with h->mu held. Returns 1 if the slot is stopping.
 */
static int
slot_sleep(struct exit_slot *s, int64_t ms)
{
	struct exit_host *h = s->host;
	struct timespec	 ts;

	time_deadline_in(&ts, ms);
	while (!s->stop) {
		if (pthread_cond_timedwait(&h->cv, &h->mu, &ts) == ETIMEDOUT)
			break;
	}
	return s->stop;
}

/*
 * Wait at most ms for anything on the host's condition: a commit, a stop,
 * a replay. Called with h->mu held; the caller rechecks what it waits for.
 * (Waiting out the whole ms here once cost every event up to a second.)
 */
static void
slot_wait(struct exit_slot *s, int64_t ms)
{
	struct timespec	 ts;

	time_deadline_in(&ts, ms);
	(void)pthread_cond_timedwait(&s->host->cv, &s->host->mu, &ts);
}

/*
 * This thread's "inside notify" flag: the slot's or its pool worker's (one
 * per thread: a counter shared by a pool's threads costs the hot path).
 */
static _Thread_local atomic_int *notify_flag;

/*
 * Left behind at the stop deadline (slot_finish): the host and the CA may
 * be gone. Touch nothing until the process exits, unless slot_finish takes
 * it back.
 */
static void
park_if_abandoned(struct exit_slot *s)
{
	struct timespec	 nap = { 0, 10 * 1000000L };

	while (atomic_load(&s->abandoned))
		nanosleep(&nap, NULL);
}

/*
 * The event bit a module with this mask is notified of for event, or 0.
 * A release from hold goes to a module that did not ask for CERTUNREVOKED
 * but asked for CERTREVOKED as CERTREVOKED, as AD CS does (its properties
 * show the certificate valid again).
 */
static int32_t
event_for_mask(int32_t mask, int32_t event)
{
	if (event & mask)
		return event;
	if (event == CM_EXITEVENT_CERTUNREVOKED &&
	    (mask & CM_EXITEVENT_CERTREVOKED))
		return CM_EXITEVENT_CERTREVOKED;
	return 0;
}

/*
 * One notify call. Returns the module's result.
 */
static int
deliver_once(struct exit_slot *s, const struct db_event *stored)
{
	struct exit_host *h = s->host;
	struct exit_call call;
	struct db_event	 evm = *stored, *ev = &evm;
	uint64_t	 t0, ms;
	int64_t		 context;
	int		 rc;

	if ((evm.event = event_for_mask(s->mod.mask, stored->event)) == 0)
		evm.event = stored->event;
	context = (ev->event == CM_EXITEVENT_CRLISSUED ||
	    ev->event == CM_EXITEVENT_STARTUP ||
	    ev->event == CM_EXITEVENT_SHUTDOWN) ? 0 : ev->context;
	exit_call_init(&call, h->ca, s->name, ev);
	if (s->mod.desc->threading == CM_THREADING_SERIAL)
		pthread_mutex_lock(&s->call_mu);
	t0 = time_mono_ns();
	atomic_store(notify_flag, 1);
	park_if_abandoned(s);
	rc = s->mod.desc->notify(s->mod.state, ev->event, context, &call.vt);
	park_if_abandoned(s);
	atomic_store(notify_flag, 0);
	ms = (time_mono_ns() - t0) / 1000000u;
	if (s->mod.desc->threading == CM_THREADING_SERIAL)
		pthread_mutex_unlock(&s->call_mu);
	exit_call_reset(&call);
	if (ms > (uint64_t)h->deadline_ms)
		log_warn("exit module %s: notify(%s, %" PRId64 ") took %" PRIu64
		    " ms, over the %d ms deadline", s->name,
		    exit_event_name(ev->event), context, ms, h->deadline_ms);
	return rc;
}

static int
write_dead_letter(struct store *st, void *arg)
{
	return store_dead_letter_add(st, arg);
}

static int
delete_dead_letter(struct store *st, void *arg)
{
	struct db_dead_letter *d = arg;

	return store_dead_letter_delete(st, d->module, d->seq);
}

struct cursor_write {
	const char	*module;
	int64_t		 seq;
};

static int
write_cursor(struct store *st, void *arg)
{
	struct cursor_write *c = arg;

	return store_cursor_set(st, c->module, c->seq);
}

/*
 * Deliver ev, retrying with backoff. Returns 0 when delivered, 1 when it
 * was dead-lettered, -1 when the slot is stopping (the event stays queued).
 * A delivery is counted in *local when not NULL (a pool worker adds its
 * count to the slot's once per chunk: one shared counter per event cost
 * more than the no-op module itself), else in s->delivered.
 */
static int
deliver(struct exit_slot *s, const struct db_event *ev, uint64_t *local)
{
	struct exit_host *h = s->host;
	struct db_dead_letter d;
	int64_t		 backoff = h->backoff_initial_ms;
	int		 attempt, rc, stopping;

	for (attempt = 1;; attempt++) {
		rc = deliver_once(s, ev);
		if (rc == CM_OK) {
			/*
			 * The success path takes no lock, but for one event
			 * in LAT_EVERY (and every first try of a retried
			 * one): h->mu is shared by every module's threads.
			 */
			uint64_t n = local != NULL ? (*local)++ :
			    (uint64_t)atomic_fetch_add(&s->delivered, 1);

			if (n % LAT_EVERY == 0 && attempt == 1) {
				uint64_t t;

				pthread_mutex_lock(&h->mu);
				if ((t = commit_time(h, ev->seq)) != 0)
					s->lat_us[s->lat_n++ % LATENCIES] =
					    (uint32_t)((time_mono_ns() - t) /
					    1000u);
				pthread_mutex_unlock(&h->mu);
			}
			return 0;
		}
		pthread_mutex_lock(&h->mu);
		s->failures++;
		snprintf(s->last_error, sizeof(s->last_error), "notify(%s, event "
		    "%" PRId64 ") returned %d (attempt %d of %d)",
		    exit_event_name(ev->event), ev->seq, rc, attempt,
		    h->max_attempts);
		s->last_error_time = time_now();
		pthread_mutex_unlock(&h->mu);
		/* AD CS event 46, in words. */
		log_warn("exit module %s: the notify method returned an error: "
		    "%s", s->name, s->last_error);
		if (attempt >= h->max_attempts)
			break;
		pthread_mutex_lock(&h->mu);
		stopping = slot_sleep(s, backoff);
		pthread_mutex_unlock(&h->mu);
		if (stopping)
			return -1;
		backoff = backoff * 2 > h->backoff_max_ms ? h->backoff_max_ms :
		    backoff * 2;
	}
	memset(&d, 0, sizeof(d));
	d.module = s->name;
	d.seq = ev->seq;
	d.event = ev->event;
	d.context = ev->context;
	d.attempts = attempt;
	d.error = s->last_error;
	d.time = time_now();
	if (ca_write(h->ca, write_dead_letter, &d) != 0)
		log_err("exit module %s: cannot record dead letter for event %"
		    PRId64, s->name, ev->seq);
	pthread_mutex_lock(&h->mu);
	s->dead_lettered++;
	pthread_mutex_unlock(&h->mu);
	log_err("exit module %s: event %" PRId64 " (%s) dead-lettered after %d "
	    "attempts; `certmint exit replay %s --dead` delivers it again",
	    s->name, ev->seq, exit_event_name(ev->event), attempt, s->name);
	return 1;
}

/*
 * Deliver chunks of the current batch until none is left. Called with
 * s->pool_mu held, by the pool's workers and by the slot's own thread.
 * Guided chunks: a share of what is left, so that the threads rarely meet
 * on the lock and a slow event still leaves the rest to the others.
 */
static void
pool_work(struct exit_slot *s)
{
	struct db_event	 ev;
	size_t		 i, first, k;
	uint64_t	 local = 0;
	int		 cut;

	while (s->batch_next < s->batch_n) {
		first = s->batch_next;
		k = (s->batch_n - first) / (2 * ((size_t)s->nworkers + 1));
		k = k < 1 ? 1 : k;
		s->batch_next += k;
		pthread_mutex_unlock(&s->pool_mu);
		cut = 0;
		for (i = first; i < first + k; i++) {
			/* Past the stop deadline: leave the rest queued. */
			if (atomic_load(&s->abort)) {
				cut = 1;
				break;
			}
			ev = s->batch[i];
			if (deliver(s, &ev, &local) == -1)
				cut = 1;
		}
		atomic_fetch_add(&s->delivered, (int64_t)local);
		local = 0;
		pthread_mutex_lock(&s->pool_mu);
		if (cut)
			s->batch_short = 1;
		s->batch_done += k;
		if (s->batch_done == s->batch_n)
			pthread_cond_broadcast(&s->pool_cv);
	}
}

static void *
pool_main(void *arg)
{
	struct pool_worker *w = arg;
	struct exit_slot *s = w->slot;
	int		 gen = 0;

	notify_flag = &w->in_notify;
	pthread_mutex_lock(&s->pool_mu);
	for (;;) {
		while (!s->pool_stop && (s->batch_gen == gen ||
		    s->batch_next >= s->batch_n))
			pthread_cond_wait(&s->pool_cv, &s->pool_mu);
		if (s->pool_stop)
			break;
		gen = s->batch_gen;
		pool_work(s);
	}
	pthread_mutex_unlock(&s->pool_mu);
	return NULL;
}

struct collect {
	struct db_event	 v[BATCH];
	size_t		 n;
	struct db_event	 mine[BATCH];	/* run_batch: those in the mask */
};

static int
collect_event(void *arg, const struct db_event *ev)
{
	struct collect	*c = arg;

	if (c->n < BATCH)
		c->v[c->n++] = *ev;
	return 0;
}

/*
 * Start delivering a batch to a concurrent module's pool without waiting.
 * Returns 1 if started (finish with pool_finish), 0 if the batch is for
 * the slot's own thread (run_batch).
 */
static int
pool_start(struct exit_slot *s, struct collect *c)
{
	size_t		 i, n = 0;

	if (s->nworkers == 0)
		return 0;
	for (i = 0; i < c->n; i++)
		if (event_for_mask(s->mod.mask, c->v[i].event) != 0)
			c->mine[n++] = c->v[i];
	if (n <= 1)
		return 0;
	pthread_mutex_lock(&s->pool_mu);
	s->batch = c->mine;
	s->batch_n = n;
	s->batch_next = s->batch_done = 0;
	s->batch_short = 0;
	s->batch_gen++;
	pthread_cond_broadcast(&s->pool_cv);
	pthread_mutex_unlock(&s->pool_mu);
	return 1;
}

/*
 * Deliver with the pool what is left of the batch pool_start began, wait
 * for all of it, and return the seq up to which events were handled.
 */
static int64_t
pool_finish(struct exit_slot *s, struct collect *c)
{
	int64_t		 done = s->cursor;

	pthread_mutex_lock(&s->pool_mu);
	pool_work(s);
	while (s->batch_done < s->batch_n)
		pthread_cond_wait(&s->pool_cv, &s->pool_mu);
	/*
	 * Events left undelivered by a stop are redelivered next time: the
	 * workers took them out of order, so the cursor stays before all.
	 */
	if (!s->batch_short)
		done = c->v[c->n - 1].seq;
	s->batch = NULL;
	s->batch_n = 0;
	pthread_mutex_unlock(&s->pool_mu);
	return done;
}

/*
 * Deliver the events of a batch on this thread, in order. Returns the seq
 * up to which every event was handled (delivered, filtered out or
 * dead-lettered).
 */
static int64_t
run_batch(struct exit_slot *s, struct collect *c)
{
	struct exit_host *h = s->host;
	int64_t		 done = s->cursor;
	size_t		 i;
	int		 stop;

	for (i = 0; i < c->n; i++) {
		/* Past the stop deadline: leave the rest queued. */
		if (atomic_load(&s->abort))
			break;
		if (event_for_mask(s->mod.mask, c->v[i].event) != 0 &&
		    deliver(s, &c->v[i], NULL) == -1)
			return done;
		done = c->v[i].seq;
		/*
		 * A slow module can take minutes over a batch: save the
		 * cursor as it goes, when due, or a crash would redeliver the
		 * whole batch rather than CURSOR_SAVE_MS of it; and let a stop
		 * past its drain deadline end the batch here.
		 */
		if (time_mono_ns() - s->saved_ns <
		    (uint64_t)CURSOR_SAVE_MS * 1000000u)
			continue;
		pthread_mutex_lock(&h->mu);
		s->cursor = done;
		stop = s->stop && mono_seconds() > h->drain_deadline;
		pthread_mutex_unlock(&h->mu);
		save_cursor(s, 0);
		if (stop)
			break;
	}
	return done;
}

/*
 * Write the cursor if it moved and, unless now, CURSOR_SAVE_MS have passed
 * since the last write. Each write is a job for the writer, which this
 * thread waits for: once per batch of events, it cost issuance 15 % with
 * one no-op module. Delivery is at least once either way; a crash now
 * redelivers at most CURSOR_SAVE_MS worth of events.
 */
static void
save_cursor(struct exit_slot *s, int now)
{
	struct cursor_write cw = { s->name, s->cursor };
	uint64_t	 t = time_mono_ns();
	int		 rc;

	if (s->cursor == s->saved || (!now &&
	    t - s->saved_ns < (uint64_t)CURSOR_SAVE_MS * 1000000u))
		return;
	s->saved_ns = t;
	if ((rc = ca_write(s->host->ca, write_cursor, &cw)) == 0)
		s->saved = s->cursor;
	else
		log_err("exit module %s: cannot save its cursor (%" PRId64
		    "): error %d", s->name, s->cursor, rc);
}

struct dead_list {
	struct db_dead_letter *v;
	size_t		 n;
};

static int
collect_dead(void *arg, const struct db_dead_letter *d)
{
	struct dead_list *l = arg;
	struct db_dead_letter *nv;

	if ((nv = realloc(l->v, (l->n + 1) * sizeof(*nv))) == NULL)
		return -1;
	l->v = nv;
	l->v[l->n].seq = d->seq;
	l->n++;
	return 0;
}

/*
 * Deliver this module's dead letters again; those delivered are removed.
 */
static void
replay_dead(struct exit_slot *s, struct store *st)
{
	struct dead_list l = { NULL, 0 };
	struct db_dead_letter d;
	struct db_event	 ev;
	size_t		 i;

	if (store_dead_letter_each(st, s->name, collect_dead, &l) != 0)
		log_err("exit module %s: cannot read its dead letters", s->name);
	for (i = 0; i < l.n && !s->stop; i++) {
		if (store_event_get(st, l.v[i].seq, &ev) != 0)
			continue;
		if (deliver(s, &ev, NULL) == 0) {
			memset(&d, 0, sizeof(d));
			d.module = s->name;
			d.seq = ev.seq;
			ca_write(s->host->ca, delete_dead_letter, &d);
		}
	}
	free(l.v);
}

static void *
slot_main(void *arg)
{
	struct exit_slot *s = arg;
	struct exit_host *h = s->host;
	struct store	*st = ca_reader(h->ca);
	struct collect	*c = xcalloc(1, sizeof(*c));
	struct collect	*ahead = xcalloc(1, sizeof(*ahead)), *tmp;
	int64_t		 last, from, handled, empty_ms = 10;
	int		 dead, have_ahead = 0;

	notify_flag = &s->in_notify;
	if (st == NULL) {
		log_err("exit module %s: no database connection", s->name);
		free(c);
		free(ahead);
		atomic_store(&s->exited, 1);
		return NULL;
	}
	pthread_mutex_lock(&h->mu);
	for (;;) {
		while (!have_ahead && !s->stop && s->cursor >= h->last_seq &&
		    s->replay_from == 0 && !s->replay_dead) {
			if (s->cursor == s->saved) {
				slot_wait(s, 1000);
				continue;
			}
			/* Idle with an unsaved cursor: save it when due. */
			slot_wait(s, CURSOR_SAVE_MS);
			pthread_mutex_unlock(&h->mu);
			save_cursor(s, 0);
			pthread_mutex_lock(&h->mu);
		}
		if (s->stop && (s->cursor >= h->last_seq ||
		    mono_seconds() > h->drain_deadline))
			break;
		from = s->replay_from;
		dead = s->replay_dead;
		s->replay_from = 0;
		s->replay_dead = 0;
		if (from > 0)
			s->cursor = from - 1;
		last = h->last_seq;
		pthread_mutex_unlock(&h->mu);

		if (dead)
			replay_dead(s, st);
		if (have_ahead && !dead && from == 0) {
			/* Read while the pool delivered the previous batch. */
			tmp = c;
			c = ahead;
			ahead = tmp;
		} else {
			c->n = 0;
			if (s->cursor < last && store_events_after(st, s->cursor,
			    BATCH, collect_event, c) != 0)
				log_err("exit module %s: cannot read events",
				    s->name);
		}
		have_ahead = 0;
		if (c->n > 0) {
			if (pool_start(s, c)) {
				/*
				 * A concurrent module: read the next batch
				 * while the pool delivers this one, so that
				 * reading does not leave the pool idle.
				 */
				ahead->n = 0;
				if (store_events_after(st, c->v[c->n - 1].seq,
				    BATCH, collect_event, ahead) == 0 &&
				    ahead->n > 0)
					have_ahead = 1;
				handled = pool_finish(s, c);
				if (handled != c->v[c->n - 1].seq)
					have_ahead = 0;
			} else
				handled = run_batch(s, c);
			pthread_mutex_lock(&h->mu);
			s->cursor = handled;
			pthread_mutex_unlock(&h->mu);
		}
		save_cursor(s, dead || from > 0);
		pthread_mutex_lock(&h->mu);
		/*
		 * Behind, yet nothing read (a read error): wait before the
		 * next try instead of spinning, longer each time, up to 1 s.
		 */
		if (c->n == 0 && !have_ahead && !dead && from == 0 &&
		    !s->stop) {
			slot_wait(s, empty_ms);
			empty_ms = empty_ms < 1000 ? empty_ms * 2 : 1000;
		} else
			empty_ms = 10;
		/* A stop during a retry leaves events queued: exit now. */
		if (s->stop && c->n > 0 && s->cursor < c->v[c->n - 1].seq)
			break;
	}
	if (s->cursor < h->last_seq)
		log_warn("exit module %s stopped with events queued (cursor %"
		    PRId64 " of %" PRId64 "): they are delivered at the next "
		    "start", s->name, s->cursor, h->last_seq);
	pthread_mutex_unlock(&h->mu);
	save_cursor(s, 1);
	free(c);
	free(ahead);
	atomic_store(&s->exited, 1);
	return NULL;
}

/*
 * Load, initialize and start one module. On failure the slot keeps the
 * error for `certmint exit list`.
 */
static int
slot_start(struct exit_host *h, struct exit_slot *s)
{
	struct exit_call call;
	struct store	*st = ca_reader(h->ca);
	char		*path, file[300], loaded[1024];
	int		 rc, i;

	snprintf(file, sizeof(file), "%s.so", s->name);
	if ((path = path_join(h->modules_dir, file)) == NULL)
		return -1;
	rc = exit_module_open(path, s->name, &s->mod, s->load_error,
	    sizeof(s->load_error));
	free(path);
	if (rc == -1) {
		log_err("exit module %s not loaded: %s", s->name, s->load_error);
		return -1;
	}
	exit_call_init(&call, h->ca, s->name, NULL);
	rc = s->mod.desc->initialize(ca_config(h->ca)->ca_name, &call.vt,
	    &s->mod.state, &s->mod.mask);
	exit_call_reset(&call);
	if (rc != CM_OK) {
		snprintf(s->load_error, sizeof(s->load_error), "initialize "
		    "returned %d", rc);
		log_err("exit module %s not loaded: %s", s->name, s->load_error);
		exit_module_close(&s->mod);
		return -1;
	}
	s->mod.initialized = 1;
	s->loaded = 1;
	/* A module seen for the first time starts with the next event. */
	if (st == NULL || store_cursor_get(st, s->name, &s->cursor) != 0) {
		pthread_mutex_lock(&h->mu);
		s->cursor = h->last_seq;
		pthread_mutex_unlock(&h->mu);
		s->saved = -1;
		save_cursor(s, 1);
	}
	s->saved = s->cursor;
	/*
	 * Said once the threads run, but read now: from then on they move
	 * the cursor, and a serial module is not called from two threads.
	 */
	snprintf(loaded, sizeof(loaded), "exit module %s loaded (%s, events "
	    "0x%x, cursor %" PRId64 ")", s->name,
	    s->mod.desc->get_description(s->mod.state), (unsigned)s->mod.mask,
	    s->cursor);
	if (s->mod.desc->threading == CM_THREADING_CONCURRENT) {
		s->nworkers = h->pool_threads;
		for (i = 0; i < s->nworkers; i++) {
			s->workers[i].slot = s;
			pthread_create(&s->workers[i].thread, NULL, pool_main,
			    &s->workers[i]);
		}
	}
	if (pthread_create(&s->thread, NULL, slot_main, s) != 0) {
		snprintf(s->load_error, sizeof(s->load_error), "cannot start its "
		    "thread");
		return -1;
	}
	s->running = 1;
	log_info("%s", loaded);
	return 0;
}

/*
 * Tell a slot's threads to stop. With drain they first deliver what is
 * queued, until the drain deadline or slot_finish; without, they stop after
 * the notify under way.
 */
static void
slot_signal_stop(struct exit_host *h, struct exit_slot *s, int drain)
{
	if (!drain)
		atomic_store(&s->abort, 1);
	pthread_mutex_lock(&h->mu);
	s->stop = 1;
	pthread_cond_broadcast(&h->cv);
	pthread_mutex_unlock(&h->mu);
}

/*
 * Join a stopping slot's thread if it ends by deadline (time_mono_ns). It
 * polls: a timed pthread_clockjoin_np is no join to ThreadSanitizer, and
 * under libfaketime (restart.sh) a timed wait on a CLOCK_MONOTONIC
 * condition ended at once when the wall clock was set back. Returns 0 if
 * joined.
 */
static int
slot_join(struct exit_slot *s, uint64_t deadline)
{
	struct timespec	 nap = { 0, 5 * 1000000L };

	if (!s->running)
		return 0;
	while (!atomic_load(&s->exited)) {
		if (time_mono_ns() >= deadline)
			return -1;
		nanosleep(&nap, NULL);
	}
	pthread_join(s->thread, NULL);
	s->running = 0;
	return 0;
}

/* Is one of the slot's threads inside notify? */
static int
slot_in_notify(struct exit_slot *s)
{
	int	 i;

	if (atomic_load(&s->in_notify))
		return 1;
	for (i = 0; i < s->nworkers; i++)
		if (atomic_load(&s->workers[i].in_notify))
			return 1;
	return 0;
}

/*
 * Join a stopping slot's threads by deadline and unload the module. A thread
 * still in notify then is left behind, so that a stuck module cannot keep
 * the CA from stopping: it never returns into the host (deliver_once), and
 * its slot is never freed. Its cursor is before the events it had not
 * finished, so they are delivered again at the next start. Returns 0, or
 * -1 when the slot was left behind.
 */
static int
slot_finish(struct exit_host *h, struct exit_slot *s, uint64_t deadline)
{
	int		 i;

	atomic_store(&s->abort, 1);
	if (slot_join(s, deadline) == -1) {
		/*
		 * Marked first: a thread now entering or leaving notify
		 * parks. Left behind only if one is inside; one that is not
		 * is between events and ends as soon as it runs.
		 */
		atomic_store(&s->abandoned, 1);
		if (slot_in_notify(s)) {
			log_err("exit module %s is still in notify at the stop "
			    "deadline ([exit] stop_deadline_ms %d): leaving it; "
			    "the events it did not finish are delivered again "
			    "at the next start", s->name, h->stop_deadline_ms);
			return -1;
		}
		atomic_store(&s->abandoned, 0);
		pthread_join(s->thread, NULL);
		s->running = 0;
	}
	pthread_mutex_lock(&s->pool_mu);
	s->pool_stop = 1;
	pthread_cond_broadcast(&s->pool_cv);
	pthread_mutex_unlock(&s->pool_mu);
	for (i = 0; i < s->nworkers; i++)
		pthread_join(s->workers[i].thread, NULL);
	s->nworkers = 0;
	if (s->loaded) {
		exit_module_close(&s->mod);
		s->loaded = 0;
	}
	return 0;
}

static void
slot_free(struct exit_slot *s)
{
	pthread_mutex_destroy(&s->call_mu);
	pthread_mutex_destroy(&s->pool_mu);
	pthread_cond_destroy(&s->pool_cv);
	free(s->name);
	free(s);
}

static struct exit_slot *
slot_new(struct exit_host *h, const char *name)
{
	struct exit_slot *s = xcalloc(1, sizeof(*s));

	s->host = h;
	s->name = xstrdup(name);
	pthread_mutex_init(&s->call_mu, NULL);
	pthread_mutex_init(&s->pool_mu, NULL);
	pthread_cond_init(&s->pool_cv, NULL);
	return s;
}

/*
 * The names in [exit] active, in order, NULL-terminated. Caller frees.
 */
static char **
active_names(struct exit_host *h)
{
	char		*v = ca_config_value(h->ca, "exit", "active");
	char		*tok, *save = NULL, **names;
	size_t		 n = 0;

	names = xcalloc(64, sizeof(*names));
	if (v == NULL)
		return names;
	for (tok = strtok_r(v, ", \t", &save); tok != NULL && n < 63;
	    tok = strtok_r(NULL, ", \t", &save))
		names[n++] = xstrdup(tok);
	free(v);
	return names;
}

static void
names_free(char **names)
{
	size_t	 i;

	for (i = 0; names[i] != NULL; i++)
		free(names[i]);
	free(names);
}

int
exit_host_start(struct exit_host *h)
{
	struct store	*st = ca_reader(h->ca);
	struct db_stats	 stats;
	struct exit_slot **tail = &h->slots;
	char		**names;
	size_t		 i;

	if (st == NULL || store_stats(st, &stats) != 0)
		return -1;
	h->last_seq = stats.last_event_seq;
	ca_set_commit_hook(h->ca, host_on_commit, h);
	names = active_names(h);
	for (i = 0; names[i] != NULL; i++) {
		*tail = slot_new(h, names[i]);
		slot_start(h, *tail);
		tail = &(*tail)->next;
	}
	names_free(names);
	return 0;
}

static int
exit_host_reload_locked(struct exit_host *h)
{
	struct exit_slot *s, **pp, *keep = NULL, **ktail = &keep;
	char		**names;
	size_t		 i;
	int		 found;

	host_settings(h);
	names = active_names(h);
	/* Stop and drop the modules no longer listed. */
	for (pp = &h->slots; (s = *pp) != NULL;) {
		found = 0;
		for (i = 0; names[i] != NULL; i++)
			if (strcmp(names[i], s->name) == 0)
				found = 1;
		if (found && s->loaded) {
			pp = &s->next;
			continue;
		}
		*pp = s->next;
		pthread_mutex_lock(&h->mu);
		h->drain_deadline = mono_seconds();
		pthread_mutex_unlock(&h->mu);
		slot_signal_stop(h, s, 0);
		/* One left in notify is not freed: its thread uses it. */
		if (slot_finish(h, s, mono_deadline_in(h->stop_deadline_ms +
		    STOP_GRACE_MS)) == 0) {
			log_info("exit module %s unloaded", s->name);
			slot_free(s);
		}
	}
	/* Rebuild the list in config order, starting new modules. */
	for (i = 0; names[i] != NULL; i++) {
		for (pp = &h->slots; (s = *pp) != NULL; pp = &s->next)
			if (strcmp(s->name, names[i]) == 0)
				break;
		if (s != NULL)
			*pp = s->next;
		else {
			s = slot_new(h, names[i]);
			slot_start(h, s);
		}
		s->next = NULL;
		*ktail = s;
		ktail = &s->next;
	}
	h->slots = keep;
	names_free(names);
	return 0;
}

/*
 * Stop every module: each delivers what is queued (SHUTDOWN included) until
 * [exit] stop_deadline_ms; then no more events are handed out, a notify
 * under way gets STOP_GRACE_MS more, and a module still in notify is left
 * behind (slot_finish). One deadline for all: they drain at the same time.
 */
void
exit_host_stop(struct exit_host *h)
{
	struct exit_slot *s;
	uint64_t	 deadline;
	int		 ms;

	if (h == NULL)
		return;
	ms = h->stop_deadline_ms;
	pthread_mutex_lock(&h->mu);
	h->stopping = 1;
	/* Whole seconds, rounded up; the abort below ends it to the ms. */
	h->drain_deadline = mono_seconds() + (ms + 999) / 1000;
	pthread_mutex_unlock(&h->mu);
	ca_set_commit_hook(h->ca, NULL, NULL);
	deadline = mono_deadline_in(ms);
	for (s = h->slots; s != NULL; s = s->next)
		slot_signal_stop(h, s, 1);
	for (s = h->slots; s != NULL; s = s->next)
		slot_join(s, deadline);
	for (s = h->slots; s != NULL; s = s->next)
		atomic_store(&s->abort, 1);
	deadline = mono_deadline_in(STOP_GRACE_MS);
	for (s = h->slots; s != NULL; s = s->next)
		slot_finish(h, s, deadline);
}

void
exit_host_free(struct exit_host *h)
{
	struct exit_slot *s, *next;

	if (h == NULL)
		return;
	for (s = h->slots; s != NULL; s = next) {
		next = s->next;
		/* One left in notify is not freed: its thread uses it. */
		if (!atomic_load(&s->abandoned))
			slot_free(s);
	}
	pthread_mutex_destroy(&h->list_mu);
	pthread_mutex_destroy(&h->mu);
	pthread_cond_destroy(&h->cv);
	free(h->modules_dir);
	free(h);
}

static struct exit_slot *
slot_find(struct exit_host *h, const char *name, char *err, size_t errlen)
{
	struct exit_slot *s;

	for (s = h->slots; s != NULL; s = s->next)
		if (strcasecmp(s->name, name) == 0)
			break;
	if (s == NULL)
		snprintf(err, errlen, "no active exit module named \"%s\"", name);
	else if (!s->loaded) {
		snprintf(err, errlen, "exit module %s is not loaded: %s", s->name,
		    s->load_error);
		s = NULL;
	}
	return s;
}

static const cm_manage_module *
slot_manage(struct exit_slot *s)
{
	const cm_manage_module *m;

	if (s->mod.desc->get_manage_module == NULL)
		return NULL;
	m = s->mod.desc->get_manage_module(s->mod.state);
	if (m == NULL || m->size < sizeof(uint32_t) + sizeof(void *) ||
	    m->get_property == NULL)
		return NULL;
	return m;
}

static void
manage_string(struct exit_slot *s, const cm_manage_module *m, const char *prop,
    json_t *o, const char *key)
{
	cm_value	 v;

	memset(&v, 0, sizeof(v));
	if (m != NULL && m->get_property(s->mod.state, prop, 0, &v) == CM_OK &&
	    v.type == CM_PROPTYPE_STRING && v.data != NULL)
		json_object_set_new(o, key, json_string(v.data));
}

static int
exit_host_list_locked(struct exit_host *h, json_t *arr)
{
	struct exit_slot *s;
	struct store	*st = ca_reader(h->ca);
	const cm_manage_module *m;
	char		 mask[256], ts[32];
	int64_t		 dead;
	json_t		*o;

	for (s = h->slots; s != NULL; s = s->next) {
		o = json_object();
		json_object_set_new(o, "name", json_string(s->name));
		json_object_set_new(o, "loaded", json_boolean(s->loaded));
		if (!s->loaded) {
			json_object_set_new(o, "error", json_string(s->load_error));
			json_array_append_new(arr, o);
			continue;
		}
		if (s->mod.desc->threading == CM_THREADING_SERIAL)
			pthread_mutex_lock(&s->call_mu);
		json_object_set_new(o, "description",
		    json_string(s->mod.desc->get_description(s->mod.state)));
		m = slot_manage(s);
		manage_string(s, m, CM_CMM_PROP_FILEVER, o, "file_version");
		manage_string(s, m, CM_CMM_PROP_PRODUCTVER, o, "product_version");
		if (s->mod.desc->threading == CM_THREADING_SERIAL)
			pthread_mutex_unlock(&s->call_mu);
		exit_mask_text(s->mod.mask, mask, sizeof(mask));
		json_object_set_new(o, "events", json_string(mask));
		json_object_set_new(o, "event_mask", json_integer(s->mod.mask));
		json_object_set_new(o, "threading", json_string(
		    s->mod.desc->threading == CM_THREADING_SERIAL ? "serial" :
		    "concurrent"));
		json_object_set_new(o, "path", json_string(s->mod.path));
		pthread_mutex_lock(&h->mu);
		json_object_set_new(o, "cursor", json_integer(s->cursor));
		json_object_set_new(o, "queue", json_integer(h->last_seq > s->cursor ?
		    h->last_seq - s->cursor : 0));
		json_object_set_new(o, "delivered",
		    json_integer(atomic_load(&s->delivered)));
		json_object_set_new(o, "failures", json_integer(s->failures));
		latency_json(s, o);
		if (s->last_error[0] != '\0') {
			json_object_set_new(o, "last_error", json_string(s->last_error));
			time_format(s->last_error_time, ts);
			json_object_set_new(o, "last_error_time", json_string(ts));
		}
		pthread_mutex_unlock(&h->mu);
		if (st != NULL && store_dead_letter_count(st, s->name, &dead) == 0)
			json_object_set_new(o, "dead_letters", json_integer(dead));
		json_array_append_new(arr, o);
	}
	return 0;
}

static int
exit_host_show_locked(struct exit_host *h, const char *name, json_t *o, char *err,
    size_t errlen)
{
	static const char *const props[] = {
		CM_CMM_PROP_NAME, CM_CMM_PROP_DESCRIPTION, CM_CMM_PROP_COPYRIGHT,
		CM_CMM_PROP_FILEVER, CM_CMM_PROP_PRODUCTVER
	};
	struct exit_slot *s;
	const cm_manage_module *m;
	json_t		*p;
	size_t		 i;

	if ((s = slot_find(h, name, err, errlen)) == NULL)
		return -1;
	if (s->mod.desc->threading == CM_THREADING_SERIAL)
		pthread_mutex_lock(&s->call_mu);
	m = slot_manage(s);
	p = json_object();
	for (i = 0; i < nitems(props); i++)
		manage_string(s, m, props[i], p, props[i]);
	json_object_set_new(o, "name", json_string(s->name));
	json_object_set_new(o, "description",
	    json_string(s->mod.desc->get_description(s->mod.state)));
	json_object_set_new(o, "properties", p);
	json_object_set_new(o, "manageable", json_boolean(m != NULL));
	if (s->mod.desc->threading == CM_THREADING_SERIAL)
		pthread_mutex_unlock(&s->call_mu);
	return 0;
}

/*
 * Call configure; with CM_CMM_REFRESHONLY the module rereads its section.
 */
static int
slot_configure(struct exit_host *h, struct exit_slot *s, int flags,
    char *report, size_t reportlen, int *rcp)
{
	const cm_manage_module *m = slot_manage(s);
	struct exit_call call;

	report[0] = '\0';
	if (m == NULL || m->size < sizeof(*m) || m->configure == NULL)
		return -1;
	exit_call_init(&call, h->ca, s->name, NULL);
	if (s->mod.desc->threading == CM_THREADING_SERIAL)
		pthread_mutex_lock(&s->call_mu);
	*rcp = m->configure(s->mod.state, &call.vt, flags, report, reportlen);
	if (s->mod.desc->threading == CM_THREADING_SERIAL)
		pthread_mutex_unlock(&s->call_mu);
	exit_call_reset(&call);
	if (reportlen > 0)
		report[reportlen - 1] = '\0';
	return 0;
}

static int
exit_host_set_locked(struct exit_host *h, const char *name, const char *prop,
    const char *value, char *err, size_t errlen)
{
	struct exit_slot *s;
	const cm_manage_module *m;
	cm_value	 v;
	char		 report[256], why[512];
	int		 rc, crc;

	if ((s = slot_find(h, name, err, errlen)) == NULL)
		return -1;
	m = slot_manage(s);
	if (m == NULL || m->size < offsetof(cm_manage_module, set_property) +
	    sizeof(void *) || m->set_property == NULL) {
		snprintf(err, errlen, "exit module %s has no settable properties",
		    s->name);
		return -1;
	}
	memset(&v, 0, sizeof(v));
	v.type = CM_PROPTYPE_STRING;
	v.data = value;
	v.len = strlen(value);
	if (s->mod.desc->threading == CM_THREADING_SERIAL)
		pthread_mutex_lock(&s->call_mu);
	rc = m->set_property(s->mod.state, prop, 0, &v);
	if (s->mod.desc->threading == CM_THREADING_SERIAL)
		pthread_mutex_unlock(&s->call_mu);
	if (rc == CM_S_FALSE) {
		snprintf(err, errlen, "exit module %s does not take property "
		    "\"%s\"", s->name, prop);
		return -1;
	}
	if (rc != CM_OK) {
		snprintf(err, errlen, "exit module %s refused %s = \"%s\" (%d)",
		    s->name, prop, value, rc);
		return -1;
	}
	/* Accepted: persist it in the module's section and reread. */
	if (config_edit(ca_config(h->ca)->path, s->name, prop, value, why,
	    sizeof(why)) == -1 || ca_reload(h->ca, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "cannot save %s: %s", prop, why);
		return -1;
	}
	slot_configure(h, s, CM_CMM_REFRESHONLY, report, sizeof(report), &crc);
	return 0;
}

static int
exit_host_configure_locked(struct exit_host *h, const char *name, int flags,
    char *report, size_t reportlen, char *err, size_t errlen)
{
	struct exit_slot *s;
	int		 rc;

	if ((s = slot_find(h, name, err, errlen)) == NULL)
		return -1;
	if (slot_configure(h, s, flags, report, reportlen, &rc) == -1) {
		snprintf(err, errlen, "exit module %s has no configure entry point",
		    s->name);
		return -1;
	}
	if (rc != CM_OK) {
		snprintf(err, errlen, "%s", report[0] ? report :
		    "configuration check failed");
		return -1;
	}
	return 0;
}

static int
exit_host_replay_locked(struct exit_host *h, const char *name, int64_t from,
    int dead, int64_t *count, char *err, size_t errlen)
{
	struct exit_slot *s;
	struct store	*st = ca_reader(h->ca);

	*count = 0;
	if ((s = slot_find(h, name, err, errlen)) == NULL)
		return -1;
	if (!dead && from <= 0) {
		snprintf(err, errlen, "give --from SEQ (>= 1) or --dead");
		return -1;
	}
	pthread_mutex_lock(&h->mu);
	if (dead) {
		s->replay_dead = 1;
		if (st != NULL)
			store_dead_letter_count(st, s->name, count);
	} else {
		s->replay_from = from;
		*count = h->last_seq >= from ? h->last_seq - from + 1 : 0;
	}
	pthread_cond_broadcast(&h->cv);
	pthread_mutex_unlock(&h->mu);
	return 0;
}

int
exit_host_list(struct exit_host *h, json_t *arr)
{
	int	 rc;

	pthread_mutex_lock(&h->list_mu);
	rc = exit_host_list_locked(h, arr);
	pthread_mutex_unlock(&h->list_mu);
	return rc;
}

int
exit_host_show(struct exit_host *h, const char *name, json_t *o, char *err,
    size_t errlen)
{
	int	 rc;

	pthread_mutex_lock(&h->list_mu);
	rc = exit_host_show_locked(h, name, o, err, errlen);
	pthread_mutex_unlock(&h->list_mu);
	return rc;
}

int
exit_host_set(struct exit_host *h, const char *name, const char *prop,
    const char *value, char *err, size_t errlen)
{
	int	 rc;

	pthread_mutex_lock(&h->list_mu);
	rc = exit_host_set_locked(h, name, prop, value, err, errlen);
	pthread_mutex_unlock(&h->list_mu);
	return rc;
}

int
exit_host_configure(struct exit_host *h, const char *name, int flags,
    char *report, size_t reportlen, char *err, size_t errlen)
{
	int	 rc;

	pthread_mutex_lock(&h->list_mu);
	rc = exit_host_configure_locked(h, name, flags, report, reportlen, err,
	    errlen);
	pthread_mutex_unlock(&h->list_mu);
	return rc;
}

int
exit_host_replay(struct exit_host *h, const char *name, int64_t from,
    int dead, int64_t *count, char *err, size_t errlen)
{
	int	 rc;

	pthread_mutex_lock(&h->list_mu);
	rc = exit_host_replay_locked(h, name, from, dead, count, err, errlen);
	pthread_mutex_unlock(&h->list_mu);
	return rc;
}

int
exit_host_reload(struct exit_host *h)
{
	int	 rc;

	pthread_mutex_lock(&h->list_mu);
	rc = exit_host_reload_locked(h);
	pthread_mutex_unlock(&h->list_mu);
	return rc;
}
