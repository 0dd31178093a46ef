/*
 * host.c - the exit-module host itself: its [exit] settings, the writer's
 * commit hook that publishes the newest event and wakes the slot threads
 * (host_wake, host_wait), and the record of commit times the
 * commit-to-notify latency figures come from.
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

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

/*
 * The writer's hook, after each commit: publish seq and wake the slot
 * threads, taking no lock. A mark records when seq committed (the
 * latency figures); the writer is the only thread that writes marks.
 */
void
host_on_commit(void *arg, int64_t seq)
{
	struct exit_host *h = arg;
	struct commit_mark *m;
	uint64_t	 n;

	if (seq <= atomic_load_explicit(&h->last_seq, memory_order_relaxed))
		return;
	/*
	 * A seqlock of sequentially consistent accesses (no fences: not
	 * for ThreadSanitizer): a reader that sees the same seq before and
	 * after ns read the ns of that seq.
	 */
	n = atomic_load(&h->nmarks);
	m = &h->marks[n % MARKS];
	atomic_store(&m->seq, -1);
	atomic_store(&m->ns, time_mono_ns());
	atomic_store(&m->seq, seq);
	atomic_store(&h->nmarks, n + 1);
	atomic_store(&h->last_seq, seq);
	host_wake(h);
}

/*
 * Wake every slot thread in host_wait. Called after the change it tells
 * of, with or without h->mu.
 */
void
host_wake(struct exit_host *h)
{
	atomic_fetch_add(&h->wake_gen, 1);
	if (atomic_load(&h->nwaiting) > 0)
		syscall(SYS_futex, &h->wake_gen, FUTEX_WAKE_PRIVATE, INT_MAX,
		    NULL, NULL, 0);
}

/*
 * Sleep until a host_wake after gen was read, or ms pass; gen is read
 * before the caller looked at what it waits for (with h->mu held, as
 * here), so no wake in between is lost. Returns with h->mu held.
 */
void
host_wait(struct exit_host *h, unsigned gen, int64_t ms)
{
	struct timespec	 ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };

	atomic_fetch_add(&h->nwaiting, 1);
	pthread_mutex_unlock(&h->mu);
	if (atomic_load(&h->wake_gen) == gen)
		(void)syscall(SYS_futex, &h->wake_gen, FUTEX_WAIT_PRIVATE, gen,
		    &ts, NULL, 0);
	atomic_fetch_sub(&h->nwaiting, 1);
	pthread_mutex_lock(&h->mu);
}

/*
 * When was event seq committed (monotonic ns)? 0 when it is older than the
 * commits remembered (a replay, or events from before the start), or when
 * the writer rewrote a mark while it was read.
 */
uint64_t
commit_time(struct exit_host *h, int64_t seq)
{
	uint64_t	 i, total, n, found = 0, ns;
	struct commit_mark *m;
	int64_t		 s1, s2;

	total = atomic_load(&h->nmarks);
	n = total < MARKS ? total : MARKS;
	for (i = 0; i < n; i++) {
		m = &h->marks[(total - 1 - i) % MARKS];
		s1 = atomic_load(&m->seq);
		ns = atomic_load(&m->ns);
		s2 = atomic_load(&m->seq);
		if (s1 != s2 || s1 == -1)
			return 0;
		if (s1 < seq)
			return found;
		found = ns;
	}
	/* Every remembered commit is at or after seq: known only if none was lost. */
	return total <= MARKS ? found : 0;
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
	h->yield_ms = config_int(h, "yield_ms", 1000, 0, 60000);
	/* Issuance queues: more under way than twice the CPUs. */
	h->yield_above = config_int(h, "yield_above", 2 * (sysconf(
	    _SC_NPROCESSORS_ONLN) > 0 ? (int)sysconf(_SC_NPROCESSORS_ONLN) :
	    1), 0, 1000000);
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
	if (thread_nice(nice) == -1)
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
	pthread_mutex_init(&h->load_mu, NULL);
	pthread_cond_init(&h->load_cv, NULL);
	pthread_cond_init(&h->dog_cv, NULL);
	h->crash_fd = -1;
	host_settings(h);
	return h;
}

/* time_mono_ns() ms from now, for the joins at a stop. */
uint64_t
mono_deadline_in(int64_t ms)
{
	return time_mono_ns() + (uint64_t)ms * 1000000u;
}
