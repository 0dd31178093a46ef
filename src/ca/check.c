/*
 * check.c - PRAGMA quick_check while the CA serves. It reads every page of
 * the database: seconds per GiB, so a big database is checked after the
 * start ([ca] startup_check, docs/user-guide.md) on a thread of its own,
 * 10 nicer than the CA, on its own read connection. Its read transaction
 * holds WAL frames from being reused until it ends; the writer's
 * checkpoint policy (writer.c) waits out such a reader at a bounded cost.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ca_int.h"

#define CHECK_NICE	10	/* added to the thread's niceness */

struct ca_check {
	char		*db;		/* copies: a reload frees the config */
	char		*marker;
	struct store	*st;
	pthread_t	 thread;
	atomic_int	 stop;
	void		(*damaged)(void *);
	void		*arg;
};

static int
check_cancel(void *arg)
{
	struct ca_check	*c = arg;

	return atomic_load(&c->stop);
}

static void *
check_main(void *arg)
{
	struct ca_check	*c = arg;
	struct timespec	 t0, t1;
	char		 why[256], err[256];
	int		 rc;

	/* Below the CA, however niced the CA already is. */
	if (thread_nice(CHECK_NICE) == -1)
		log_warn("%s: cannot lower the check's priority: %s", c->db,
		    strerror(errno));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = store_quick_check_cancel(c->st, check_cancel, c, why,
	    sizeof(why));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (rc == 1 || atomic_load(&c->stop))
		return NULL;
	if (rc == 0) {
		log_info("%s: PRAGMA quick_check found nothing (%.1f s, while "
		    "serving)", c->db, (double)(t1.tv_sec - t0.tv_sec) +
		    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
		return NULL;
	}
	log_err("%s: the database is damaged (PRAGMA quick_check: %s); "
	    "stopping: restore it from a backup", c->db, why);
	if (ca_identity_mark_damaged(c->marker, why, err, sizeof(err)) == -1)
		log_err("cannot record the damage in the marker: %s", err);
	c->damaged(c->arg);
	return NULL;
}

static void
check_free(struct ca_check *c)
{
	if (c->st != NULL)
		store_close(c->st);
	free(c->db);
	free(c->marker);
	free(c);
}

int
ca_check_start(struct ca *ca, void (*damaged)(void *), void *arg)
{
	struct ca_check	*c;
	char		 err[256];

	if (!ca->check_deferred || ca->check != NULL)
		return 0;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return -1;
	c->damaged = damaged;
	c->arg = arg;
	if ((c->db = strdup(ca->cfg.db_file)) == NULL ||
	    (c->marker = ca_marker_path(&ca->cfg)) == NULL) {
		check_free(c);
		return -1;
	}
	if ((c->st = store_open(c->db, 0, err, sizeof(err))) == NULL) {
		log_err("%s", err);
		check_free(c);
		return -1;
	}
	if (pthread_create(&c->thread, NULL, check_main, c) != 0) {
		check_free(c);
		return -1;
	}
	log_info("%s: checking the database while serving (PRAGMA "
	    "quick_check; [ca] startup_check)", ca->cfg.db_file);
	ca->check = c;
	return 0;
}

void
ca_check_stop(struct ca *ca)
{
	struct ca_check	*c = ca->check;

	if (c == NULL)
		return;
	atomic_store(&c->stop, 1);
	pthread_join(c->thread, NULL);
	check_free(c);
	ca->check = NULL;
}
