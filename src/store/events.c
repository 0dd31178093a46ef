/*
 * events.c - the event outbox and its delivery state: events, exit-module
 * cursors and dead letters.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

static const char *const event_sql[S__MAX] = {
	[S_EVENTS_AFTER] = "SELECT seq, event, context, time, crl_row_id "
	    "FROM events WHERE seq > ? ORDER BY seq LIMIT ?",
	[S_EVENT_GET] = "SELECT seq, event, context, time, crl_row_id "
	    "FROM events WHERE seq = ?",
	[S_CURSOR_GET] = "SELECT seq FROM exit_cursors WHERE module = ?",
	[S_CURSOR_SET] = "INSERT INTO exit_cursors (module, seq) VALUES (?,?) "
	    "ON CONFLICT (module) DO UPDATE SET seq = excluded.seq",
	[S_DL_ADD] = "INSERT OR REPLACE INTO dead_letters (module, seq, event, "
	    "context, attempts, error, time) VALUES (?,?,?,?,?,?,?)",
	[S_DL_DELETE] = "DELETE FROM dead_letters WHERE module = ? AND seq = ?",
	[S_DL_EACH] = "SELECT module, seq, event, context, attempts, error, "
	    "time FROM dead_letters WHERE module = ? ORDER BY seq",
	[S_DL_EACH_ALL] = "SELECT module, seq, event, context, attempts, "
	    "error, time FROM dead_letters ORDER BY module, seq",
	[S_DL_COUNT] = "SELECT COUNT(*) FROM dead_letters WHERE module = ?",
	[S_DL_COUNT_ALL] = "SELECT COUNT(*) FROM dead_letters",
};

#define stmt(st, id)	store_stmt(st, id, event_sql[id])

static void
row_to_event(sqlite3_stmt *s, struct db_event *e)
{
	e->seq = sqlite3_column_int64(s, 0);
	e->event = sqlite3_column_int(s, 1);
	e->context = sqlite3_column_int64(s, 2);
	e->time = sqlite3_column_int64(s, 3);
	e->crl_row_id = sqlite3_column_int64(s, 4);
}

int
store_events_after(struct store *st, int64_t after, int limit,
    int (*cb)(void *, const struct db_event *), void *arg)
{
	sqlite3_stmt	*s;
	struct db_event	 e;
	int		 rc, ret = 0;

	if ((s = stmt(st, S_EVENTS_AFTER)) == NULL)
		return CM_E_FAIL;
	sqlite3_bind_int64(s, 1, after);
	sqlite3_bind_int(s, 2, limit > 0 ? limit : -1);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		row_to_event(s, &e);
		if ((ret = cb(arg, &e)) != 0)
			break;
	}
	if (ret == 0 && rc != SQLITE_DONE)
		ret = sql_fail(st, "read events");
	sqlite3_reset(s);
	return ret;
}

int
store_event_get(struct store *st, int64_t seq, struct db_event *e)
{
	sqlite3_stmt	*s;
	int		 rc;

	memset(e, 0, sizeof(*e));
	if ((s = stmt(st, S_EVENT_GET)) == NULL)
		return CM_E_FAIL;
	sqlite3_bind_int64(s, 1, seq);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		row_to_event(s, e);
	sqlite3_reset(s);
	if (rc == SQLITE_ROW)
		return 0;
	return rc == SQLITE_DONE ? CM_E_NOTFOUND : sql_fail(st, "read event");
}

int
store_cursor_get(struct store *st, const char *module, int64_t *seq)
{
	sqlite3_stmt	*s;
	int		 rc;

	if ((s = stmt(st, S_CURSOR_GET)) == NULL)
		return CM_E_FAIL;
	bind_text(s, 1, module);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*seq = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	if (rc == SQLITE_ROW)
		return 0;
	return rc == SQLITE_DONE ? CM_E_NOTFOUND : sql_fail(st, "read cursor");
}

int
store_cursor_set(struct store *st, const char *module, int64_t seq)
{
	sqlite3_stmt	*s;

	if ((s = stmt(st, S_CURSOR_SET)) == NULL)
		return CM_E_FAIL;
	bind_text(s, 1, module);
	sqlite3_bind_int64(s, 2, seq);
	return step_done(st, s, "set cursor");
}

int
store_dead_letter_add(struct store *st, const struct db_dead_letter *d)
{
	sqlite3_stmt	*s;

	if ((s = stmt(st, S_DL_ADD)) == NULL)
		return CM_E_FAIL;
	bind_text(s, 1, d->module);
	sqlite3_bind_int64(s, 2, d->seq);
	sqlite3_bind_int(s, 3, d->event);
	sqlite3_bind_int64(s, 4, d->context);
	sqlite3_bind_int(s, 5, d->attempts);
	bind_text(s, 6, d->error);
	sqlite3_bind_int64(s, 7, d->time);
	return step_done(st, s, "add dead letter");
}

int
store_dead_letter_delete(struct store *st, const char *module, int64_t seq)
{
	sqlite3_stmt	*s;
	int		 rc;

	if ((s = stmt(st, S_DL_DELETE)) == NULL)
		return CM_E_FAIL;
	bind_text(s, 1, module);
	sqlite3_bind_int64(s, 2, seq);
	if ((rc = step_done(st, s, "delete dead letter")) != 0)
		return rc;
	return sqlite3_changes(st->db) ? 0 : CM_E_NOTFOUND;
}

int
store_dead_letter_each(struct store *st, const char *module,
    int (*cb)(void *, const struct db_dead_letter *), void *arg)
{
	sqlite3_stmt	*s;
	struct db_dead_letter d;
	int		 rc, ret = 0;

	if ((s = stmt(st, module ? S_DL_EACH : S_DL_EACH_ALL)) == NULL)
		return CM_E_FAIL;
	if (module != NULL)
		bind_text(s, 1, module);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		d.module = (char *)sqlite3_column_text(s, 0);
		d.seq = sqlite3_column_int64(s, 1);
		d.event = sqlite3_column_int(s, 2);
		d.context = sqlite3_column_int64(s, 3);
		d.attempts = sqlite3_column_int(s, 4);
		d.error = (char *)sqlite3_column_text(s, 5);
		d.time = sqlite3_column_int64(s, 6);
		if ((ret = cb(arg, &d)) != 0)
			break;
	}
	if (ret == 0 && rc != SQLITE_DONE)
		ret = sql_fail(st, "read dead letters");
	sqlite3_reset(s);
	return ret;
}

int
store_dead_letter_count(struct store *st, const char *module, int64_t *n)
{
	return stmt_int(st, stmt(st, module ? S_DL_COUNT : S_DL_COUNT_ALL),
	    module, n);
}

/*
 * Crash quarantine (migration 5). Rare writes and reads at a module's
 * load: prepared each time rather than cached.
 */
static int
exec_bound(struct store *st, const char *sql, const char *what,
    const char *t1, int64_t i2, int64_t i3, const char *t4, int64_t i5)
{
	sqlite3_stmt	*s;
	int		 n, rc;

	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
		return sql_fail(st, what);
	n = sqlite3_bind_parameter_count(s);
	bind_text(s, 1, t1);
	if (n >= 2)
		sqlite3_bind_int64(s, 2, i2);
	if (n >= 3)
		sqlite3_bind_int64(s, 3, i3);
	if (n >= 4)
		bind_text(s, 4, t4);
	if (n >= 5)
		sqlite3_bind_int64(s, 5, i5);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : sql_fail(st, what);
}

int
store_exit_crash_add(struct store *st, const struct db_exit_crash *c)
{
	return exec_bound(st, "INSERT INTO exit_crashes (module, seq, time, "
	    "cause, counted) VALUES (?,?,?,?,?)", "add exit crash", c->module,
	    c->seq, c->time, c->cause, c->counted);
}

int
store_exit_crash_each(struct store *st, const char *module,
    int (*cb)(void *, const struct db_exit_crash *), void *arg)
{
	sqlite3_stmt	*s;
	struct db_exit_crash c;
	int		 rc, ret = 0;

	if (sqlite3_prepare_v2(st->db, "SELECT seq, time, cause, counted FROM "
	    "exit_crashes WHERE module = ? ORDER BY rowid", -1, &s, NULL) !=
	    SQLITE_OK)
		return sql_fail(st, "read exit crashes");
	bind_text(s, 1, module);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		c.module = module;
		c.seq = sqlite3_column_int64(s, 0);
		c.time = sqlite3_column_int64(s, 1);
		c.cause = (const char *)sqlite3_column_text(s, 2);
		c.counted = sqlite3_column_int(s, 3);
		if ((ret = cb(arg, &c)) != 0)
			break;
	}
	if (ret == 0 && rc != SQLITE_DONE)
		ret = sql_fail(st, "read exit crashes");
	sqlite3_finalize(s);
	return ret;
}

int
store_exit_resume(struct store *st, const char *module)
{
	if (exec_bound(st, "DELETE FROM exit_crashes WHERE module = ?",
	    "clear exit crashes", module, 0, 0, NULL, 0) != 0)
		return CM_E_FAIL;
	return exec_bound(st, "DELETE FROM exit_suspended WHERE module = ?",
	    "resume exit module", module, 0, 0, NULL, 0);
}

int
store_exit_suspend(struct store *st, const char *module, int64_t since,
    const char *reason)
{
	return exec_bound(st, "INSERT OR REPLACE INTO exit_suspended (module, "
	    "since, reason) VALUES (?1, ?2, ?4)", "suspend exit module", module,
	    since, 0, reason, 0) == 0 ? 0 : CM_E_FAIL;
}

int
store_exit_suspended(struct store *st, const char *module, int64_t *since,
    char *reason, size_t len)
{
	sqlite3_stmt	*s;
	int		 rc;

	if (sqlite3_prepare_v2(st->db, "SELECT since, reason FROM "
	    "exit_suspended WHERE module = ?", -1, &s, NULL) != SQLITE_OK)
		return sql_fail(st, "read exit suspension");
	bind_text(s, 1, module);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*since = sqlite3_column_int64(s, 0);
		snprintf(reason, len, "%s", (const char *)sqlite3_column_text(s,
		    1));
	}
	sqlite3_finalize(s);
	if (rc == SQLITE_ROW)
		return 0;
	return rc == SQLITE_DONE ? CM_E_NOTFOUND : sql_fail(st,
	    "read exit suspension");
}
