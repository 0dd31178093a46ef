/*
 * dispatch.c - delivery of the events outbox to exit modules. Each module
 * has a cursor (the last event it was given) and its own thread, or for a
 * concurrent module its own small pool; a slow or failing module delays
 * only itself. A failed notify is retried with exponential backoff, holding
 * the module's queue; after max_attempts the event is dead-lettered.
 * Delivery is at least once: the cursor is saved after the calls.
 */
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "isolate.h"

#include "host.h"

/*
 * Sleep ms (a retry's backoff), waking early only when stopping. Called
 * with h->mu held. Returns 1 if the slot is stopping.
 */
static int
slot_sleep(struct exit_slot *s, int64_t ms)
{
	struct exit_host *h = s->host;
	uint64_t	 end = mono_deadline_in(ms), now;
	unsigned	 gen;

	for (;;) {
		gen = atomic_load(&h->wake_gen);
		if (s->stop || (now = time_mono_ns()) >= end)
			break;
		host_wait(h, gen, (int64_t)((end - now) / 1000000u) + 1);
	}
	return s->stop;
}

/*
 * This thread's notify under way: the slot's or its pool worker's (one
 * per thread: a counter shared by a pool's threads costs the hot path).
 */
static _Thread_local struct notify_mark *notify_mark;

/* This thread goes into notify of event (seq) at t0 (time_mono_ns()). */
static void
notify_begin(int32_t event, int64_t seq, uint64_t t0)
{
	struct notify_mark *m = notify_mark;

	atomic_store(&m->seq, seq);
	atomic_store(&m->event, event);
	atomic_store(&m->since, t0);
	atomic_store(&m->warned, 0);
	atomic_store(&m->in, 1);
}

static void
notify_end(void)
{
	atomic_store(&notify_mark->in, 0);
}

/* This thread's channel to an isolated module's host: 0 the slot's own. */
static _Thread_local int chan_idx;

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
 * notify in the module's host process, starting it again first if it
 * ended (after its backoff). Returns the module's result or DELIVER_*,
 * with cause and *death for a crash.
 */
/*
 * Have the module's host running (started again after its backoff).
 * Returns 0, or DELIVER_NOSTART (cause says why) or DELIVER_STOPPED.
 */
static int
isolated_ready(struct exit_slot *s, char *cause, size_t len)
{
	struct exit_host *h = s->host;
	char		 err[512];
	int		 r, stop;

	while ((r = modproc_ensure(s->proc, h->ca, err, sizeof(err))) != 0) {
		if (r < 0) {
			snprintf(cause, len, "cannot start the module process "
			    "again: %.150s", err);
			return DELIVER_NOSTART;
		}
		if (atomic_load(&s->abort))
			return DELIVER_STOPPED;
		pthread_mutex_lock(&h->mu);
		stop = slot_sleep(s, r);
		pthread_mutex_unlock(&h->mu);
		if (stop)
			return DELIVER_STOPPED;
	}
	return 0;
}

/* Start call on ev: offered its request if read ahead. */
static void
call_start(struct exit_slot *s, struct exit_call *call,
    const struct db_event *ev, int64_t context)
{
	exit_call_init(call, s->host->ca, s->name, ev);
	exit_call_offer(call, collect_prefetched(s, context));
}

/* End call: note whether the module read a request, and free it. */
static void
call_end(struct exit_slot *s, struct exit_call *call)
{
	if (call->req_read && atomic_load_explicit(&s->req_unread,
	    memory_order_relaxed))
		atomic_store(&s->req_unread, 0);
	exit_call_reset(call);
}

/* Forget the results run ahead (the batch of events ends). */
static void
ahead_clear(struct exit_slot *s)
{
	s->look_v = NULL;
	s->look_n = 0;
	s->nahead = s->ahead_next = 0;
}

/* The result of event seq if its host ran it ahead, else DELIVER_NONE. */
static int
ahead_take(struct exit_slot *s, int64_t seq, int *death, char *cause,
    size_t len, char *why, size_t whylen)
{
	struct ahead_res *a;

	if (s->ahead_next < s->nahead && s->ahead[s->ahead_next].seq == seq) {
		a = &s->ahead[s->ahead_next++];
		*death = a->death;
		snprintf(cause, len, "%s", a->cause);
		snprintf(why, whylen, "%s", a->why);
		return a->rc;
	}
	s->nahead = s->ahead_next = 0;
	return DELIVER_NONE;
}

/*
 * An isolated serial module: notify first and, in the same batch, the
 * events after it in the module's mask (s->look_v), whose results wait
 * in s->ahead for their own deliver. Not when the module has crashed
 * lately: a poison event must be reached on its own. Returns first's
 * result as deliver_once.
 */
static int
notify_isolated_batch(struct exit_slot *s, const struct db_event *first,
    int *death, char *cause, size_t len, char *why, size_t whylen)
{
	struct exit_host *h = s->host;
	struct modproc_event v[WIRE_BATCH_MAX];
	struct db_event	 evm[WIRE_BATCH_MAX];
	size_t		 n = 0, i, ndone;
	uint64_t	 t0;
	int		 r, result;

	if ((r = isolated_ready(s, cause, len)) != 0)
		return r;
	/*
	 * A batch the module runs in about BATCH_NS: the cursor is saved
	 * between batches only, so a slow module's batch is its one event
	 * (a crash redelivers no more than before), a fast one's up to
	 * WIRE_BATCH_MAX.
	 */
	if (s->batch_max == 0)
		s->batch_max = 1;
	if (s->ahead == NULL) {
		s->ahead = xcalloc(WIRE_BATCH_MAX, sizeof(*s->ahead));
		s->bcalls = xcalloc(WIRE_BATCH_MAX, sizeof(*s->bcalls));
	}
	for (i = 0; n < s->batch_max && i <= s->look_n; i++) {
		const struct db_event *e = i == 0 ? first : &s->look_v[i - 1];

		if (i > 0 && exit_event_for_mask(s->mod.mask, e->event) == 0)
			continue;
		event_for_slot(s, e, &evm[n], &v[n].context);
		call_start(s, &s->bcalls[n], &evm[n], v[n].context);
		v[n].event = evm[n].event;
		v[n].seq = evm[n].seq;
		v[n].call = &s->bcalls[n];
		n++;
	}
	t0 = time_mono_ns();
	notify_begin(v[0].event, v[0].seq, t0);
	r = modproc_notify_batch(s->proc, chan_idx, v, n, h->deadline_ms, &ndone,
	    &result, death, cause, len);
	t0 = (time_mono_ns() - t0) / n + 1;
	s->batch_max = BATCH_NS / t0 < 1 ? 1 : BATCH_NS / t0 > WIRE_BATCH_MAX ?
	    WIRE_BATCH_MAX : BATCH_NS / t0;
	notify_end();
	if (r == -1) {
		for (i = 0; i < n; i++)
			call_end(s, &s->bcalls[i]);
		return DELIVER_STOPPED;
	}
	snprintf(why, whylen, "%s", s->bcalls[0].why);
	s->nahead = s->ahead_next = 0;
	for (i = 1; i < n && i <= ndone; i++) {
		s->ahead[s->nahead].seq = v[i].seq;
		s->ahead[s->nahead].rc = i < ndone ? CM_OK : r == 1 ?
		    DELIVER_CRASHED : result;
		s->ahead[s->nahead].death = *death;
		snprintf(s->ahead[s->nahead].cause, sizeof(s->ahead->cause), "%.199s",
		    i < ndone ? "" : cause);
		snprintf(s->ahead[s->nahead].why, sizeof(s->ahead->why),
		    "%.199s", s->bcalls[i].why);
		s->nahead++;
	}
	for (i = 0; i < n; i++)
		call_end(s, &s->bcalls[i]);
	if (ndone > 0)
		return CM_OK;
	return r == 1 ? DELIVER_CRASHED : result;
}

static int
notify_isolated(struct exit_slot *s, struct exit_call *call,
    const struct db_event *ev, int64_t context, int *death, char *cause,
    size_t len)
{
	struct exit_host *h = s->host;
	int		 r, rc = 0;

	if ((r = isolated_ready(s, cause, len)) != 0)
		return r;
	notify_begin(ev->event, ev->seq, time_mono_ns());
	r = modproc_notify(s->proc, chan_idx, call, ev->event, context, ev->seq,
	    h->deadline_ms, &rc, death, cause, len);
	notify_end();
	if (r == 0)
		return rc;
	return r == 1 ? DELIVER_CRASHED : DELIVER_STOPPED;
}

/*
 * One notify call. Returns the module's result, or DELIVER_* (an isolated
 * module's host died: cause says how, *death which host).
 */
/*
 * After an inline module's notifies, the last of them of event seq, n in
 * all: put back stdin, stdout or stderr it closed, and say so. Once a
 * batch, not a notify: three fcntl calls cost 3 us, more than the rest of
 * an inline delivery.
 */
static void
stdio_check(const struct exit_slot *s, int64_t seq, size_t n)
{
	int	 closed;

	if (s->isolated || n == 0 || (closed = stdio_restore()) == 0)
		return;
	log_err("exit module %s closed certmintd's %s%s%s in notify of event %"
	    PRId64 ": put back (the last of %zu delivered to it then; a module "
	    "in certmintd's own process must leave them; isolation = process "
	    "keeps it apart)", s->name, closed & 1 ? "stdin " : "",
	    closed & 2 ? "stdout " : "", closed & 4 ? "stderr" : "", seq, n);
}

static int
deliver_once(struct exit_slot *s, const struct db_event *stored, int *death,
    char *cause, size_t causelen, char *why, size_t whylen)
{
	struct exit_host *h = s->host;
	struct exit_call call;
	struct db_event	 evm = *stored, *ev = &evm;
	uint64_t	 t0, ms;
	int64_t		 context;
	int		 rc;

	if ((evm.event = exit_event_for_mask(s->mod.mask, stored->event)) == 0)
		evm.event = stored->event;
	context = (ev->event == CM_EXITEVENT_CRLISSUED ||
	    ev->event == CM_EXITEVENT_STARTUP ||
	    ev->event == CM_EXITEVENT_SHUTDOWN) ? 0 : ev->context;
	if (s->isolated) {
		/*
		 * The deadline kills it there: isolate.c says so. Only a
		 * serial module's events run ahead (one thread: a concurrent
		 * module's workers would race on the ahead results).
		 */
		if (s->threading == CM_THREADING_SERIAL &&
		    (rc = ahead_take(s, stored->seq, death, cause, causelen,
		    why, whylen)) != DELIVER_NONE)
			return rc;
		if (s->threading == CM_THREADING_SERIAL &&
		    s->look_v == stored + 1 &&
		    !atomic_load(&s->has_crashes))
			return notify_isolated_batch(s, stored, death, cause,
			    causelen, why, whylen);
		call_start(s, &call, ev, context);
		rc = notify_isolated(s, &call, ev, context, death, cause,
		    causelen);
		snprintf(why, whylen, "%s", call.why);
		call_end(s, &call);
		return rc;
	}
	call_start(s, &call, ev, context);
	if (s->threading == CM_THREADING_SERIAL)
		pthread_mutex_lock(&s->call_mu);
	t0 = time_mono_ns();
	notify_begin(ev->event, ev->seq, t0);
	park_if_abandoned(s);
	/* What the fatal-signal handler writes, should the module crash. */
	quarantine_cur.module = s->name;
	quarantine_cur.seq = ev->seq;
	rc = exit_notify_rc(s->mod.desc->notify(s->mod.state, ev->event,
	    context, &call.vt));
	quarantine_cur.module = NULL;
	park_if_abandoned(s);
	notify_end();
	ms = (time_mono_ns() - t0) / 1000000u;
	if (s->threading == CM_THREADING_SERIAL)
		pthread_mutex_unlock(&s->call_mu);
	snprintf(why, whylen, "%s", call.why);
	call_end(s, &call);
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

/* A notify's return code as a person reads it. */
static const char *
notify_rc_name(int rc)
{
	static char	 buf[32];	/* only for codes no module should use */

	switch (rc) {
	case CM_E_FAIL:
		return "CM_E_FAIL";
	case CM_E_NOMEM:
		return "CM_E_NOMEM";
	case CM_E_PERMANENT:
		return "CM_E_PERMANENT (a permanent failure)";
	default:
		snprintf(buf, sizeof(buf), "%d", rc);
		return buf;
	}
}

/*
 * The module asked to be suspended (CM_E_SUSPEND): as a module that
 * crashed too often, until `certmint exit resume`; ev stays queued.
 */
static void
module_suspend(struct exit_slot *s, const struct db_event *ev,
    const char *why)
{
	pthread_mutex_lock(&s->host->mu);
	snprintf(s->suspend_reason, sizeof(s->suspend_reason), "asked to be "
	    "suspended at event %" PRId64 "%s%.180s", ev->seq, *why ? ": " :
	    "", why);
	s->suspended_since = time_now();
	atomic_store(&s->suspended, 1);
	pthread_mutex_unlock(&s->host->mu);
	suspend_now(s);
}

/* Give up on ev: a dead letter with error, after attempts. */
static void
dead_letter(struct exit_slot *s, const struct db_event *ev, int attempts,
    const char *error)
{
	struct exit_host *h = s->host;
	struct db_dead_letter d;

	memset(&d, 0, sizeof(d));
	d.module = s->name;
	d.seq = ev->seq;
	d.event = ev->event;
	d.context = ev->context;
	d.attempts = attempts;
	d.error = (char *)error;
	d.time = time_now();
	if (ca_write(h->ca, write_dead_letter, &d) != 0)
		log_err("exit module %s: cannot record dead letter for event %"
		    PRId64, s->name, ev->seq);
	pthread_mutex_lock(&h->mu);
	s->dead_lettered++;
	pthread_mutex_unlock(&h->mu);
	log_err("exit module %s: event %" PRId64 " (%s) dead-lettered after %d "
	    "attempts (%s); `certmint exit replay %s --dead` delivers it again",
	    s->name, ev->seq, exit_event_name(ev->event), attempts, error,
	    s->name);
}

/*
 * Deliver ev, retrying with backoff. Returns 0 when delivered, 1 when it
 * was dead-lettered, -1 when the slot is stopping or suspended (the event
 * stays queued). A delivery is counted in *local when not NULL (a pool
 * worker adds its count to the slot's once per chunk: one shared counter
 * per event cost more than the no-op module itself), else in s->delivered.
 * A crash (isolated: the host died or overran its deadline) is retried
 * once the host is back; crash_attempts crashes on one event, here or in
 * earlier runs of certmintd, make it a dead letter (a poison event).
 */
static int
deliver(struct exit_slot *s, const struct db_event *ev, uint64_t *local)
{
	struct exit_host *h = s->host;
	int64_t		 backoff = h->backoff_initial_ms;
	char		 cause[256], error[400], why[256];
	int		 attempt, rc, stopping, crashes, death = -1;
	int		 nostart, counted;

	for (attempt = 1;; attempt++) {
		if ((crashes = crash_count(s, ev->seq, cause, sizeof(cause))) >=
		    h->crash_attempts) {
			snprintf(error, sizeof(error), "notify(%s, event %" PRId64
			    "): %s (%d crashes on this event)",
			    exit_event_name(ev->event), ev->seq, cause, crashes);
			dead_letter(s, ev, crashes, error);
			return 1;
		}
		if (atomic_load(&s->suspended))
			return -1;
		why[0] = '\0';
		rc = deliver_once(s, ev, &death, cause, sizeof(cause), why,
		    sizeof(why));
		if (rc == DELIVER_STOPPED)
			return -1;
		if (rc == DELIVER_CRASHED || rc == DELIVER_NOSTART) {
			/* Killed by a stop or an unload: no fault of the event. */
			if (atomic_load(&s->abort))
				return -1;
			/*
			 * Its host killed at its suspension, found so once it
			 * is resumed: no crash; the host starts again.
			 */
			if (rc == DELIVER_CRASHED &&
			    strcmp(cause, MODPROC_SUSPENDED) == 0) {
				attempt--;
				continue;
			}
			log_warn("exit module %s: %s (event %" PRId64 ", %s)",
			    s->name, cause, ev->seq, exit_event_name(ev->event));
			/*
			 * A host that could not start again is no fault of
			 * the event; one that died under several calls
			 * counts once for the module.
			 */
			nostart = rc == DELIVER_NOSTART;
			pthread_mutex_lock(&h->mu);
			counted = nostart || death != s->last_death;
			if (!nostart)
				s->last_death = death;
			pthread_mutex_unlock(&h->mu);
			crash_record(s, nostart ? 0 : ev->seq, cause, counted);
			attempt--;
			continue;
		}
		if (rc == CM_OK) {
			/*
			 * The success path takes no lock, but for one event
			 * in LAT_EVERY, and one at least LAT_GAP_NS after the
			 * last sample (a slow module's few events are all
			 * counted, a fast one's do not contend): h->mu is
			 * shared by every module's threads.
			 */
			uint64_t n = local != NULL ? (*local)++ :
			    (uint64_t)atomic_fetch_add(&s->delivered, 1);
			uint64_t now = time_mono_ns();

			if (attempt == 1 && (n % LAT_EVERY == 0 || now -
			    atomic_load(&s->lat_last_ns) >= LAT_GAP_NS)) {
				uint64_t t = commit_time(h, ev->seq);

				atomic_store(&s->lat_last_ns, now);
				if (t != 0) {
					t = (now - t) / 1000u;
					pthread_mutex_lock(&h->mu);
					s->lat_us[s->lat_n++ % LATENCIES] =
					    (uint32_t)t;
					pthread_mutex_unlock(&h->mu);
				}
			}
			return 0;
		}
		/* The module's word: suspend it, the event still queued. */
		if (rc == CM_E_SUSPEND) {
			module_suspend(s, ev, why);
			return -1;
		}
		pthread_mutex_lock(&h->mu);
		s->failures++;
		snprintf(s->last_error, sizeof(s->last_error), "notify(%s, event "
		    "%" PRId64 ") returned %s (attempt %d of %d)%s%.120s",
		    exit_event_name(ev->event), ev->seq, notify_rc_name(rc),
		    attempt, h->max_attempts, *why ? ": " : "", why);
		snprintf(error, sizeof(error), "%s", s->last_error);
		s->last_error_time = time_now();
		pthread_mutex_unlock(&h->mu);
		/* AD CS event 46, in words. */
		log_warn("exit module %s: the notify method returned an error: "
		    "%s", s->name, error);
		/* Permanent (the module says so): no retry can help. */
		if (attempt >= h->max_attempts || rc == CM_E_PERMANENT)
			break;
		pthread_mutex_lock(&h->mu);
		stopping = slot_sleep(s, backoff);
		pthread_mutex_unlock(&h->mu);
		if (stopping)
			return -1;
		backoff = backoff * 2 > h->backoff_max_ms ? h->backoff_max_ms :
		    backoff * 2;
	}
	dead_letter(s, ev, attempt, error);
	return 1;
}

#define YIELD_NAP_NS	2000000L

/* This thread delivers without giving way until then (yield_to_issuance). */
static _Thread_local uint64_t yield_free_until;

/* Is issuance queueing: more submissions under way than yield_above? */
static int
issuance_busy(struct exit_host *h)
{
	return ca_inflight(h->ca) > atomic_load_explicit(&h->yield_above,
	    memory_order_relaxed);
}

/*
 * Issuance first: while issuance queues (more submissions under way than
 * [exit] yield_above, by default twice the CPUs), a delivery thread waits before its next
 * event, YIELD_NAP_NS at a time, until it no longer does or [exit]
 * yield_ms passed; then it delivers a tenth of yield_ms without waiting,
 * so that under a steady full load its modules still get about a tenth of
 * the time, and the backlog goes once the load eases. A light load does
 * not queue, and deliveries never wait for it. nice 19 alone did not keep
 * deliveries from slowing issuance: whenever a core idled a moment they
 * took it, and with it the disk (fsync) and the cores' caches issuance
 * needed next (bench/modules, all five modules: 54 % of issuance without).
 */
static void
yield_to_issuance(struct exit_slot *s)
{
	struct exit_host *h = s->host;
	struct timespec	 nap = { 0, YIELD_NAP_NS };
	uint64_t	 now, start, max;
	int		 ms;

	if ((ms = atomic_load_explicit(&h->yield_ms,
	    memory_order_relaxed)) <= 0 || !issuance_busy(h))
		return;
	now = time_mono_ns();
	if (now < yield_free_until)
		return;
	max = (uint64_t)ms * 1000000u;
	for (start = now; now - start < max; now = time_mono_ns()) {
		if (atomic_load(&s->abort) || atomic_load(&s->stopping) ||
		    !issuance_busy(h))
			break;
		nanosleep(&nap, NULL);
	}
	if (now - start >= max)
		yield_free_until = now + max / 10;
	atomic_fetch_add_explicit(&s->yield_ns, now - start,
	    memory_order_relaxed);
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
			yield_to_issuance(s);
			if (deliver(s, &ev, &local) == -1)
				cut = 1;
		}
		stdio_check(s, i > first ? s->batch[i - 1].seq : 0, i - first);
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

void *
pool_main(void *arg)
{
	struct pool_worker *w = arg;
	struct exit_slot *s = w->slot;
	int		 gen = 0;
	void		*altstack = quarantine_thread_init();

	notify_mark = &w->notify;
	chan_idx = (int)(w - s->workers) + 1;
	exit_thread_nice(s->host->nice);
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
	quarantine_thread_done(altstack);
	return NULL;
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
		if (exit_event_for_mask(s->mod.mask, c->v[i].event) != 0)
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
	size_t		 i, n = 0;
	int		 stop;

	for (i = 0; i < c->n; i++) {
		/* Past the stop deadline: leave the rest queued. */
		if (atomic_load(&s->abort))
			break;
		/* An isolated serial module's host may run those after it. */
		s->look_v = &c->v[i + 1];
		s->look_n = c->n - i - 1;
		if (exit_event_for_mask(s->mod.mask, c->v[i].event) != 0) {
			yield_to_issuance(s);
			n++;
			if (deliver(s, &c->v[i], NULL) == -1)
				break;
		}
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
		stdio_check(s, done, n);
		n = 0;
		pthread_mutex_lock(&h->mu);
		s->cursor = done;
		stop = s->stop && mono_seconds() > h->drain_deadline;
		pthread_mutex_unlock(&h->mu);
		save_cursor(s, 0);
		if (stop)
			break;
	}
	stdio_check(s, i < c->n ? c->v[i].seq : done, n);
	ahead_clear(s);
	return done;
}

/*
 * Write the cursor if it moved and, unless now, CURSOR_SAVE_MS have passed
 * since the last write. Each write is a job for the writer, which this
 * thread waits for: once per batch of events, it cost issuance 15 % with
 * one no-op module. Delivery is at least once either way; a crash now
 * redelivers at most CURSOR_SAVE_MS worth of events.
 */
void
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
void
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

void *
slot_main(void *arg)
{
	struct exit_slot *s = arg;
	struct exit_host *h = s->host;
	struct store	*st = ca_reader(h->ca);
	struct collect	*c = xcalloc(1, sizeof(*c));
	struct collect	*ahead = xcalloc(1, sizeof(*ahead)), *tmp;
	int64_t		 last, from, handled, empty_ms = 10;
	int		 dead, have_ahead = 0;
	unsigned	 gen;
	void		*altstack;

	notify_mark = &s->notify;
	chan_idx = 0;
	exit_thread_nice(h->nice);
	if (st == NULL) {
		log_err("exit module %s: no database connection", s->name);
		free(c);
		free(ahead);
		atomic_store(&s->exited, 1);
		return NULL;
	}
	altstack = quarantine_thread_init();
	pthread_mutex_lock(&h->mu);
	for (;;) {
		/*
		 * A suspended module waits with its events queued. gen is
		 * read before last_seq: a commit after the look wakes it.
		 */
		for (;;) {
			gen = atomic_load(&h->wake_gen);
			if (have_ahead || s->stop || (!atomic_load(&s->suspended) &&
			    (s->cursor < h->last_seq || s->replay_from != 0 ||
			    s->replay_dead)))
				break;
			if (s->cursor == s->saved) {
				host_wait(h, gen, 1000);
				continue;
			}
			/* Idle with an unsaved cursor: save it when due. */
			host_wait(h, gen, CURSOR_SAVE_MS);
			pthread_mutex_unlock(&h->mu);
			save_cursor(s, 0);
			pthread_mutex_lock(&h->mu);
		}
		if (s->stop && (s->cursor >= h->last_seq ||
		    atomic_load(&s->suspended) ||
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
			/* Read while the previous batch was delivered. */
			tmp = c;
			c = ahead;
			ahead = tmp;
		} else {
			collect_clear(c);
			if (s->cursor < last)
				collect_read(s, st, s->cursor, c);
		}
		collect_clear(ahead);
		have_ahead = 0;
		if (c->n > 0) {
			s->cur = c;
			if (pool_start(s, c)) {
				/*
				 * A concurrent module: read the next batch
				 * while the pool delivers this one, so that
				 * reading does not leave the pool idle.
				 */
				collect_read(s, st, c->v[c->n - 1].seq, ahead);
				have_ahead = ahead->n > 0;
				handled = pool_finish(s, c);
			} else if (c->n == BATCH &&
			    reader_start(s, c->v[c->n - 1].seq, ahead)) {
				/*
				 * A serial module's backlog: the same, the
				 * next batch read by the slot's reader thread.
				 */
				handled = run_batch(s, c);
				reader_wait(s);
				have_ahead = ahead->n > 0;
			} else
				handled = run_batch(s, c);
			s->cur = NULL;
			if (handled != c->v[c->n - 1].seq)
				have_ahead = 0;
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
			host_wait(h, atomic_load(&h->wake_gen), empty_ms);
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
	reader_stop(s);
	collect_clear(c);
	collect_clear(ahead);
	free(c);
	free(ahead);
	quarantine_thread_done(altstack);
	atomic_store(&s->exited, 1);
	return NULL;
}

/* Key of the module's [exit.NAME] section, or NULL; caller frees. */
