/*
 * purge.c - certmint purge (issue 11 §3; AD CS: certutil -deleterow DATE
 * Cert): forget the requests whose certificate expired before a date, in
 * one transaction of the writer. What stays, and why, is store_purge's
 * (store.h); here the date is checked, the registered exit modules named
 * and the outcome logged.
 */
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ca_int.h"

#define PURGE_MAX_MODULES	64	/* as the exit host reads [exit] active */

/* The writer's job: the purge, in its transaction. */
static int
purge_write(struct store *st, void *arg)
{
	return store_purge(st, arg);
}

/*
 * The names in [exit] active, the registered modules, into names (at
 * most PURGE_MAX_MODULES, pointing into *copy, which the caller frees).
 * Returns how many.
 */
static size_t
active_modules(struct ca *ca, const char **names, char **copy)
{
	char	*tok, *save = NULL;
	size_t	 n = 0;

	if ((*copy = ca_config_value(ca, "exit", "active")) == NULL)
		return 0;
	for (tok = strtok_r(*copy, ", \t", &save); tok != NULL &&
	    n < PURGE_MAX_MODULES; tok = strtok_r(NULL, ", \t", &save))
		names[n++] = tok;
	return n;
}

int
ca_purge(struct ca *ca, struct db_purge *p, const char *officer,
    struct ca_result *res)
{
	const char	*names[PURGE_MAX_MODULES];
	char		*copy = NULL, ts[32], now_ts[32];
	int64_t		 kept = 0;
	int		 i, rc;

	memset(res, 0, sizeof(*res));
	if (atomic_load(&ca->stopping))
		return ca_fail(res, CA_E_SHUTDOWN, "the CA is shutting down");
	p->now = time_now();
	time_format(p->before, ts);
	/* Expired by the date and by now: a later date would be a typo. */
	if (p->before > p->now) {
		time_format(p->now, now_ts);
		return ca_fail(res, CA_E_BADREQ, "%s is in the future (it is "
		    "%s): only certificates already expired are purged", ts,
		    now_ts);
	}
	p->nmodules = active_modules(ca, names, &copy);
	p->modules = names;
	rc = ca_write(ca, purge_write, p);
	p->modules = NULL;
	p->nmodules = 0;
	free(copy);
	if (rc != 0)
		return ca_fail(res, CA_E_INTERNAL, "cannot purge the database "
		    "(error %d; see the log): nothing was removed", rc);
	for (i = PURGE_REMOVE + 1; i < PURGE_KEEP__MAX; i++)
		kept += p->kept[i];
	log_info("purge%s by %s: %" PRId64 " requests whose certificate "
	    "expired before %s %s (%" PRId64 " revoked, %" PRId64 " events); "
	    "kept %" PRId64 " (%" PRId64 " newest, %" PRId64 " revoked, %"
	    PRId64 " dead letters, %" PRId64 " undelivered)",
	    p->dry_run ? " --dry-run" : "", officer, p->requests, ts,
	    p->dry_run ? "would be removed" : "removed", p->revoked, p->events,
	    kept, p->kept[PURGE_KEEP_NEWEST], p->kept[PURGE_KEEP_REVOKED],
	    p->kept[PURGE_KEEP_DEAD_LETTER], p->kept[PURGE_KEEP_UNDELIVERED]);
	return 0;
}
