/*
 * noop_exit.c - the exit module of bench/events: reads one property per
 * event (as a real module would) and counts. When it has seen `expect`
 * events it writes "count first_ns last_ns" (CLOCK_MONOTONIC) to `output`.
 * Built twice: serial (BenchSerial.Exit) and concurrent
 * (BenchConcurrent.Exit).
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <certmint/exit.h>

struct noop {
	atomic_llong	 count;
	atomic_ullong	 first_ns;
	atomic_ullong	 last_ns;
	long long	 expect;
	char		 output[4096];
};

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
	if (srv->config_get(srv, "expect", &v) == CM_OK)
		n->expect = atoll(v);
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
	unsigned long long t = now_ns(), zero = 0;
	cm_value	 v;
	long long	 c;
	FILE		*f;

	srv->set_context(srv, context);
	if (context != 0)
		srv->get_request_property(srv, "RequestID", CM_PROPTYPE_LONG, &v);
	atomic_compare_exchange_strong(&n->first_ns, &zero, t);
	atomic_store(&n->last_ns, t);
	c = atomic_fetch_add(&n->count, 1) + 1;
	if (n->expect > 0 && c == n->expect && n->output[0] != '\0' &&
	    (f = fopen(n->output, "w")) != NULL) {
		fprintf(f, "%lld %llu %llu\n", c, atomic_load(&n->first_ns), t);
		fclose(f);
	}
	return CM_OK;
}

static const char *
noop_description(void *state)
{
	return "bench/events no-op module";
}

static void
noop_shutdown(void *state)
{
	free(state);
}

static const struct cm_exit noop_module = {
	CM_EXIT_MAGIC, CM_ABI_MAJOR, CM_ABI_MINOR, sizeof(struct cm_exit),
	NOOP_NAME, NOOP_THREADING,
	noop_initialize, noop_notify, noop_description, NULL, noop_shutdown
};

CM_EXIT_MODULE(noop_module)
