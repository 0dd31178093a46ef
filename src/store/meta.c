/*
 * meta.c - what the CA checks of its database at start (issue 11: faults
 * must never lose history): its identity (migration 6), its integrity
 * (PRAGMA quick_check), and what a CRL may leave out.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

int
store_meta_get(struct store *st, const char *key, char **value)
{
	sqlite3_stmt	*s;
	int		 rc;

	*value = NULL;
	if (sqlite3_prepare_v2(st->db, "SELECT value FROM meta WHERE key = ?",
	    -1, &s, NULL) != SQLITE_OK)
		return sql_fail(st, "read meta");
	bind_text(s, 1, key);
	if ((rc = sqlite3_step(s)) == SQLITE_ROW)
		*value = col_text(s, 0);
	sqlite3_finalize(s);
	if (rc == SQLITE_ROW)
		return *value != NULL ? 0 : CM_E_NOMEM;
	return rc == SQLITE_DONE ? CM_E_NOTFOUND : sql_fail(st, "read meta");
}

int
store_quick_check(struct store *st, char *err, size_t errlen)
{
	return store_quick_check_cancel(st, NULL, NULL, err, errlen);
}

int
store_quick_check_cancel(struct store *st, int (*cancel)(void *), void *arg,
    char *err, size_t errlen)
{
	sqlite3_stmt	*s;
	const unsigned char *msg;
	char		*p;
	int		 rc, n = 0;

	/* quick_check: O(database), without the index contents check. */
	if (sqlite3_prepare_v2(st->db, "PRAGMA quick_check(8)", -1, &s,
	    NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s", sqlite3_errmsg(st->db));
		return -1;
	}
	/* Asked every 100,000 VM steps (a few ms): non-zero stops it. */
	if (cancel != NULL)
		sqlite3_progress_handler(st->db, 100000, cancel, arg);
	err[0] = '\0';
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		msg = sqlite3_column_text(s, 0);
		if (msg == NULL || strcmp((const char *)msg, "ok") == 0)
			continue;
		if (n++ == 0)
			snprintf(err, errlen, "%s", msg);
	}
	if (cancel != NULL)
		sqlite3_progress_handler(st->db, 0, NULL, NULL);
	if (rc == SQLITE_INTERRUPT && n == 0) {
		sqlite3_finalize(s);
		snprintf(err, errlen, "cut short");
		return 1;
	}
	if (rc != SQLITE_DONE && n == 0) {
		snprintf(err, errlen, "%s", sqlite3_errmsg(st->db));
		n = 1;
	}
	sqlite3_finalize(s);
	/* One line (a log line, the marker's damaged = ...). */
	for (p = err; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20)
			*p = ' ';
	return n == 0 ? 0 : -1;
}

int
store_released_since(struct store *st, int64_t t, int64_t *n)
{
	sqlite3_stmt	*s;
	int64_t		 purged;
	int		 rc;

	*n = 0;
	if (sqlite3_prepare_v2(st->db, "SELECT COUNT(*) FROM requests WHERE "
	    "unrevoked_when >= ?", -1, &s, NULL) != SQLITE_OK)
		return sql_fail(st, "count releases");
	sqlite3_bind_int64(s, 1, t);
	if ((rc = sqlite3_step(s)) == SQLITE_ROW)
		*n = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	if (rc != SQLITE_ROW)
		return sql_fail(st, "count releases");
	/* Purged revoked certificates leave the CRL too (purge.c). */
	if (store_purged_revoked_since(st, t, &purged) != 0)
		return CM_E_FAIL;
	*n += purged;
	return 0;
}
