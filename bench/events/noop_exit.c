/*
 * noop_exit.c - the exit module of bench/events: reads two request
 * properties per event, RequestID and Disposition (as a real module reads
 * what it reports; the first makes the daemon load the request row), and
 * counts. At shutdown it writes "count first_ns last_ns unread"
 * (CLOCK_MONOTONIC: the first and the last notify, not counting STARTUP and
 * SHUTDOWN; unread: the events whose properties could not be read, which
 * would make the rate measure less than a real module costs) to `output`.
 * Each calling thread counts in its own cache line: one shared counter
 * would cost the concurrent build more than the calls it measures.
 * Built twice: serial (BenchSerial.Exit) and concurrent
 * (BenchConcurrent.Exit).
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <certmint/exit.h>

#define SLOTS	64

/* One calling thread's count, alone in its cache line. */
struct slot {
	_Alignas(64) unsigned long long count;
	unsigned long long last_ns;
	unsigned long long unread;
};

struct noop {
	atomic_ullong	 first_ns;
	atomic_int	 nslots;
	struct slot	 slots[SLOTS];
	atomic_ullong	 extra;		/* threads beyond SLOTS */
	atomic_ullong	 extra_last_ns;
	atomic_ullong	 extra_unread;
	char		 output[4096];
};

/* This thread's slot in the state it was given for. */
static __thread const struct noop *slot_owner;
static __thread int slot_index;

static unsigned long long
now_ns(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000000ull +
	    (unsigned long long)ts.tv_nsec;
}

static int
noop_initialize(const char *config, cm_server_exit *srv, void **state,
    int32_t *mask)
{
	struct noop	*n;
	const char	*v;

	if ((n = calloc(1, sizeof(*n))) == NULL)
		return CM_E_NOMEM;
	if (srv->config_get(srv, "output", &v) == CM_OK)
		snprintf(n->output, sizeof(n->output), "%s", v);
	*state = n;
	*mask = CM_EXITEVENT_ALL;
	return CM_OK;
}

static int
noop_notify(void *state, int32_t event, int64_t context, cm_server_exit *srv)
{
	struct noop	*n = state;
	unsigned long long t, zero = 0;
	cm_value	 id, disp;
	int		 unread;

	/* The daemon's own start and stop would stretch the measured span. */
	if (event == CM_EXITEVENT_STARTUP || event == CM_EXITEVENT_SHUTDOWN)
		return CM_OK;
	unread = srv->set_context(srv, context) != CM_OK ||
	    srv->get_request_property(srv, "RequestID", CM_PROPTYPE_LONG,
	    &id) != CM_OK || id.l != context ||
	    srv->get_request_property(srv, "Disposition", CM_PROPTYPE_LONG,
	    &disp) != CM_OK;
	t = now_ns();
	if (atomic_load_explicit(&n->first_ns, memory_order_relaxed) == 0)
		atomic_compare_exchange_strong(&n->first_ns, &zero, t);
	if (slot_owner != n) {
		slot_owner = n;
		slot_index = atomic_fetch_add(&n->nslots, 1);
	}
	if (slot_index < SLOTS) {
		n->slots[slot_index].count++;
		n->slots[slot_index].last_ns = t;
		n->slots[slot_index].unread += (unsigned long long)unread;
	} else {
		atomic_fetch_add(&n->extra, 1);
		atomic_store(&n->extra_last_ns, t);
		atomic_fetch_add(&n->extra_unread, (unsigned long long)unread);
	}
	return CM_OK;
}

static const char *
noop_description(void *state)
{
	return "bench/events no-op module";
}

/* After the last notify: every calling thread has finished. */
static void
noop_shutdown(void *state)
{
	struct noop	*n = state;
	unsigned long long count = atomic_load(&n->extra);
	unsigned long long last = atomic_load(&n->extra_last_ns);
	unsigned long long unread = atomic_load(&n->extra_unread);
	FILE		*f;
	int		 i;

	for (i = 0; i < SLOTS; i++) {
		count += n->slots[i].count;
		unread += n->slots[i].unread;
		if (n->slots[i].last_ns > last)
			last = n->slots[i].last_ns;
	}
	if (n->output[0] != '\0' && (f = fopen(n->output, "w")) != NULL) {
		fprintf(f, "%llu %llu %llu %llu\n", count,
		    atomic_load(&n->first_ns), last, unread);
		fclose(f);
	}
	free(n);
}

static const struct cm_exit noop_module = {
	CM_EXIT_MAGIC, CM_ABI_MAJOR, CM_ABI_MINOR, sizeof(struct cm_exit),
	NOOP_NAME, NOOP_THREADING,
	noop_initialize, noop_notify, noop_description, NULL, noop_shutdown
};

CM_EXIT_MODULE(noop_module)
