/*
 * dispatch.c - delivery of the events outbox to exit modules. Each module
 * has a cursor (the last event it was given) and its own thread, or for a
 * concurrent module its own small pool; a slow or failing module delays
 * only itself. A failed notify is retried with exponential backoff, holding
 * the module's queue; after max_attempts the event is dead-lettered.
 * Delivery is at least once: the cursor is saved after the calls.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "isolate.h"

#include "host.h"

/*
 * Seconds on the monotonic clock: the stop's deadlines must not move when
 * the wall clock steps (a step forward once made the join give up at
 * once and free a slot its thread still used).
 */
int64_t
mono_seconds(void)
{
	return (int64_t)(time_mono_ns() / 1000000000u);
}

void
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
void
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

void
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
	h->crash_attempts = config_int(h, "crash_attempts", 3, 1, 1000);
	h->suspend_after = config_int(h, "suspend_after", 5, 1, 100000);
	h->crash_window_s = config_int(h, "crash_window_s", 600, 1, 86400 * 365);
	h->nice = config_int(h, "nice", 19, 0, 19);
}

/*
 * Deliveries yield the CPU to issuance: on a busy CA the modules catch up
 * when requests pause, rather than slowing every request (bench/modules).
 * Niceness is per thread on Linux and inherited by the processes a thread
 * starts (a module's host, the command module's programs). A CA already
 * niced keeps its deliveries below itself.
 */
void
exit_thread_nice(int nice)
{
	id_t	 tid = (id_t)gettid();
	int	 cur;

	if (nice <= 0)
		return;
	errno = 0;
	cur = getpriority(PRIO_PROCESS, tid);
	if (cur == -1 && errno != 0)
		return;
	if (setpriority(PRIO_PROCESS, tid, cur + nice > 19 ? 19 : cur + nice)
	    == -1)
		log_warn("exit: cannot lower a delivery thread's priority: %s",
		    strerror(errno));
}

struct exit_host *
exit_host_new(struct ca *ca)
{
	struct exit_host *h = xcalloc(1, sizeof(*h));

	h->ca = ca;
	pthread_mutex_init(&h->list_mu, NULL);
	pthread_mutex_init(&h->reload_mu, NULL);
	pthread_mutex_init(&h->mu, NULL);
	h->crash_fd = -1;
	pthread_cond_init(&h->cv, NULL);
	host_settings(h);
	return h;
}

/* time_mono_ns() ms from now, for the joins at a stop. */
uint64_t
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

/* The event as this module gets it: its bit for the mask, its context. */
static void
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
		exit_call_init(&s->bcalls[n], h->ca, s->name, &evm[n]);
		v[n].event = evm[n].event;
		v[n].seq = evm[n].seq;
		v[n].call = &s->bcalls[n];
		n++;
	}
	atomic_store(notify_flag, 1);
	t0 = time_mono_ns();
	r = modproc_notify_batch(s->proc, chan_idx, v, n, h->deadline_ms, &ndone,
	    &result, death, cause, len);
	t0 = (time_mono_ns() - t0) / n + 1;
	s->batch_max = BATCH_NS / t0 < 1 ? 1 : BATCH_NS / t0 > WIRE_BATCH_MAX ?
	    WIRE_BATCH_MAX : BATCH_NS / t0;
	atomic_store(notify_flag, 0);
	if (r == -1) {
		for (i = 0; i < n; i++)
			exit_call_reset(&s->bcalls[i]);
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
		exit_call_reset(&s->bcalls[i]);
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
	atomic_store(notify_flag, 1);
	r = modproc_notify(s->proc, chan_idx, call, ev->event, context, ev->seq,
	    h->deadline_ms, &rc, death, cause, len);
	atomic_store(notify_flag, 0);
	if (r == 0)
		return rc;
	return r == 1 ? DELIVER_CRASHED : DELIVER_STOPPED;
}

/*
 * One notify call. Returns the module's result, or DELIVER_* (an isolated
 * module's host died: cause says how, *death which host).
 */
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
		exit_call_init(&call, h->ca, s->name, ev);
		rc = notify_isolated(s, &call, ev, context, death, cause,
		    causelen);
		snprintf(why, whylen, "%s", call.why);
		exit_call_reset(&call);
		return rc;
	}
	exit_call_init(&call, h->ca, s->name, ev);
	if (s->threading == CM_THREADING_SERIAL)
		pthread_mutex_lock(&s->call_mu);
	t0 = time_mono_ns();
	atomic_store(notify_flag, 1);
	park_if_abandoned(s);
	/* What the fatal-signal handler writes, should the module crash. */
	quarantine_cur.module = s->name;
	quarantine_cur.seq = ev->seq;
	rc = s->mod.desc->notify(s->mod.state, ev->event, context, &call.vt);
	quarantine_cur.module = NULL;
	park_if_abandoned(s);
	atomic_store(notify_flag, 0);
	ms = (time_mono_ns() - t0) / 1000000u;
	if (s->threading == CM_THREADING_SERIAL)
		pthread_mutex_unlock(&s->call_mu);
	snprintf(why, whylen, "%s", call.why);
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

void *
pool_main(void *arg)
{
	struct pool_worker *w = arg;
	struct exit_slot *s = w->slot;
	int		 gen = 0;
	void		*altstack = quarantine_thread_init();

	notify_flag = &w->in_notify;
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
	size_t		 i;
	int		 stop;

	for (i = 0; i < c->n; i++) {
		/* Past the stop deadline: leave the rest queued. */
		if (atomic_load(&s->abort))
			break;
		/* An isolated serial module's host may run those after it. */
		s->look_v = &c->v[i + 1];
		s->look_n = c->n - i - 1;
		if (exit_event_for_mask(s->mod.mask, c->v[i].event) != 0 &&
		    deliver(s, &c->v[i], NULL) == -1) {
			ahead_clear(s);
			return done;
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
		pthread_mutex_lock(&h->mu);
		s->cursor = done;
		stop = s->stop && mono_seconds() > h->drain_deadline;
		pthread_mutex_unlock(&h->mu);
		save_cursor(s, 0);
		if (stop)
			break;
	}
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
	void		*altstack;

	notify_flag = &s->in_notify;
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
		/* A suspended module waits with its events queued. */
		while (!have_ahead && !s->stop && (atomic_load(&s->suspended) ||
		    (s->cursor >= h->last_seq && s->replay_from == 0 &&
		    !s->replay_dead))) {
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
	quarantine_thread_done(altstack);
	atomic_store(&s->exited, 1);
	return NULL;
}

/* Key of the module's [exit.NAME] section, or NULL; caller frees. */
