/*
 * fillevents.c - append N issued requests, each with its certificate and
 * its CERTISSUED event, to a CA database while certmintd is stopped, for
 * bench/events: a backlog whose events have request contexts, so that a
 * module reading a request property makes the daemon load each request as
 * it would for a real one.
 *
 * Each row is a copy of the newest certificate certmintd issued in that
 * database (its raw request, attributes, extensions and certificate), under
 * a new RequestID and a new serial: the database must hold one.
 *
 * usage: fillevents DB N
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <certmint/exit.h>

#include "crypto/crypto.h"
#include "store/store.h"

/* The newest issued request of st, with its certificate. 0 or -1. */
static int
newest_issued(struct store *st, int64_t max, struct db_request *r,
    struct db_cert *c)
{
	int64_t	 id;

	for (id = max; id > 0; id--) {
		if (store_request_get(st, id, r) != 0)
			continue;
		if (r->disposition == CM_DISP_ISSUED &&
		    store_cert_get(st, id, c) == 0)
			return 0;
		db_request_free(r);
	}
	return -1;
}

int
main(int argc, char *argv[])
{
	struct store	*st;
	struct db_request r;
	struct db_cert	 c;
	struct db_event	 ev;
	unsigned char	 serial[SERIAL_LEN];
	char		 err[512], *tserial;
	long long	 i, n;
	int64_t		 id;

	if (argc != 3 || (n = atoll(argv[2])) <= 0) {
		fprintf(stderr, "usage: fillevents DB N\n");
		return 2;
	}
	if ((st = store_open(argv[1], 0, err, sizeof(err))) == NULL) {
		fprintf(stderr, "fillevents: %s\n", err);
		return 1;
	}
	if (store_max_request_id(st, &id) != 0 ||
	    newest_issued(st, id, &r, &c) != 0) {
		fprintf(stderr, "fillevents: %s holds no issued certificate "
		    "to copy\n", argv[1]);
		store_close(st);
		return 1;
	}
	tserial = c.serial;
	for (i = 0; i < n; i++) {
		/* 50,000 requests per transaction. */
		if (i > 0 && i % 50000 == 0 && store_commit(st) != 0)
			goto fail;
		if (i % 50000 == 0 && store_begin(st) != 0)
			goto fail;
		r.id = c.request_id = ++id;
		if (serial_generate(serial) != 0 ||
		    (c.serial = hex_encode(serial, sizeof(serial))) == NULL)
			goto fail;
		if (store_request_insert(st, &r) != 0 ||
		    store_cert_insert(st, &c) != 0) {
			free(c.serial);
			goto fail;
		}
		free(c.serial);
		memset(&ev, 0, sizeof(ev));
		ev.event = CM_EXITEVENT_CERTISSUED;
		ev.context = id;
		ev.time = time_now();
		if (store_event_insert(st, &ev) != 0)
			goto fail;
	}
	if (store_commit(st) != 0)
		goto fail;
	c.serial = tserial;
	db_cert_free(&c);
	db_request_free(&r);
	store_close(st);
	printf("%lld events\n", n);
	return 0;
fail:
	fprintf(stderr, "fillevents: cannot insert request %" PRId64 "\n", id);
	store_rollback(st);
	store_close(st);
	return 1;
}
