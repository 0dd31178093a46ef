/*
 * fillevents.c - append N CERTISSUED-less event rows (CRLISSUED, context 0,
 * so that no request row is needed) to a CA database, for bench/events.
 * usage: fillevents DB N
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <certmint/exit.h>

#include "store/store.h"

int
main(int argc, char *argv[])
{
	struct store	*st;
	struct db_event	 ev;
	char		 err[512];
	long long	 i, n;

	if (argc != 3 || (n = atoll(argv[2])) <= 0) {
		fprintf(stderr, "usage: fillevents DB N\n");
		return 2;
	}
	if ((st = store_open(argv[1], 0, err, sizeof(err))) == NULL) {
		fprintf(stderr, "fillevents: %s\n", err);
		return 1;
	}
	for (i = 0; i < n; i++) {
		/* 50,000 rows per transaction. */
		if (i > 0 && i % 50000 == 0 && store_commit(st) != 0)
			goto fail;
		if (i % 50000 == 0 && store_begin(st) != 0)
			goto fail;
		ev.seq = 0;
		ev.event = CM_EXITEVENT_CRLISSUED;
		ev.context = 0;
		ev.time = time(NULL);
		ev.crl_row_id = 0;
		if (store_event_insert(st, &ev) != 0)
			goto fail;
	}
	if (store_commit(st) != 0)
		goto fail;
	store_close(st);
	printf("%lld events\n", n);
	return 0;
fail:
	fprintf(stderr, "fillevents: cannot insert events\n");
	store_close(st);
	return 1;
}
