/*
 * Unit tests for store_purge (src/store/purge.c): which requests go and
 * which stay, and why (newest, revoked, dead letter, undelivered to a
 * registered module, the certificate an undelivered renewal replaces);
 * that their rows go from every table, legacy extension rows and history
 * included, and the CRL's events stay; that a dry run counts the same and
 * removes nothing; that an unregistered module's cursor does not count;
 * and that purged revocations count for store_released_since.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "certmint/exit.h"
#include "certmint/server.h"
#include "store/store.h"

static char	 path[300];

/* An integer query result on the database, read with plain SQLite. */
static int64_t
sql_int(const char *sql)
{
	sqlite3		*db;
	sqlite3_stmt	*s;
	int64_t		 v = -1;

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY,
	    NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return v;
}

static void
sql_exec(const char *sql)
{
	sqlite3	*db;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

/* Request id (disposition disp), with a certificate unless not_after 0. */
static void
add(struct store *st, int64_t id, int32_t disp, int64_t not_after,
    const char *renewal_of)
{
	static unsigned char raw[] = { 0x30, 0x02, 0x05, 0x00 };
	struct db_attr	 attrs[2] = { { "Comment", "x" },
	    { "RenewalOf", (char *)renewal_of } };
	struct db_request r;
	struct db_cert	 c;
	char		 serial[16];

	memset(&r, 0, sizeof(r));
	r.id = id;
	r.request_type = CR_IN_PKCS10;
	r.disposition = disp;
	r.revoked_reason = disp == CM_DISP_REVOKED ? 1 : -1;
	r.attrs = attrs;
	r.nattrs = renewal_of != NULL ? 2 : 1;
	assert_int_equal(store_request_insert(st, &r), 0);
	if (not_after == 0)
		return;
	memset(&c, 0, sizeof(c));
	snprintf(serial, sizeof(serial), "aa%02d", (int)id);
	c.request_id = id;
	c.serial = serial;
	c.raw = raw;
	c.raw_len = sizeof(raw);
	c.not_before = 1;
	c.not_after = not_after;
	assert_int_equal(store_cert_insert(st, &c), 0);
}

static void
event(struct store *st, int32_t ev, int64_t context)
{
	struct db_event	 e = { 0, ev, context, 1, 0 };

	assert_int_equal(store_event_insert(st, &e), 0);
}

static int
purge(struct store *st, struct db_purge *p)
{
	int	 rc;

	assert_int_equal(store_begin(st), 0);
	if ((rc = store_purge(st, p)) == 0)
		assert_int_equal(store_commit(st), 0);
	else
		store_rollback(st);
	return rc;
}

/*
 * 1 expired; 2 revoked; 3 an event after module A's cursor; 4 an event in
 * a dead letter; 5 not expired; 6 pending; 7 renewed by 8, whose event is
 * after A's cursor; 8 the newest. Events 1-8 as below; A at 6, B at 8,
 * Gone (not registered) at 0.
 */
static struct store *
scene(void)
{
	struct db_dead_letter d = { "B", 5, CM_EXITEVENT_CERTISSUED, 4, 3,
	    "no", 1 };
	struct store	*st;
	char		 err[256];

	snprintf(path, sizeof(path), "%s/purge-XXXXXX", getenv("TMPDIR") ?
	    getenv("TMPDIR") : "/tmp");
	assert_non_null(mkdtemp(path));
	strncat(path, "/ca.db", sizeof(path) - strlen(path) - 1);
	if ((st = store_open(path, STORE_CREATE, err, sizeof(err))) == NULL)
		fail_msg("store_open: %s", err);
	assert_int_equal(store_begin(st), 0);
	add(st, 1, CM_DISP_ISSUED, 1000, NULL);
	add(st, 2, CM_DISP_REVOKED, 1000, NULL);
	add(st, 3, CM_DISP_ISSUED, 1000, NULL);
	add(st, 4, CM_DISP_ISSUED, 1000, NULL);
	add(st, 5, CM_DISP_ISSUED, 3000, NULL);
	add(st, 6, CM_DISP_PENDING, 0, NULL);
	add(st, 7, CM_DISP_ISSUED, 1000, NULL);
	add(st, 8, CM_DISP_ISSUED, 1000, "aa07");
	event(st, CM_EXITEVENT_CERTISSUED, 1);		/* 1 */
	event(st, CM_EXITEVENT_CRLISSUED, 0);		/* 2 */
	event(st, CM_EXITEVENT_CERTISSUED, 2);		/* 3 */
	event(st, CM_EXITEVENT_CERTREVOKED, 2);		/* 4 */
	event(st, CM_EXITEVENT_CERTISSUED, 4);		/* 5 */
	event(st, CM_EXITEVENT_CERTISSUED, 7);		/* 6 */
	event(st, CM_EXITEVENT_CERTISSUED, 3);		/* 7 */
	event(st, CM_EXITEVENT_CERTISSUED, 8);		/* 8 */
	assert_int_equal(store_cursor_set(st, "A", 6), 0);
	assert_int_equal(store_cursor_set(st, "B", 8), 0);
	assert_int_equal(store_cursor_set(st, "Gone", 0), 0);
	assert_int_equal(store_dead_letter_add(st, &d), 0);
	assert_int_equal(store_commit(st), 0);
	/* Rows of 1 as a request updated once and from before migration 3. */
	sql_exec("INSERT INTO request_exts VALUES (1, '2.5.29.19', 0, x'3000');"
	    "INSERT INTO request_history (request_id, until_seq, disposition, "
	    "status_code, resolved_when, revoked_when, revoked_effective_when, "
	    "revoked_reason, unrevoked_when, was_pending, request_flags, "
	    "exts_changed) VALUES (1, 1, 20, 0, 0, 0, 0, -1, 0, 0, 0, 0);"
	    "INSERT INTO request_history (request_id, until_seq, disposition, "
	    "status_code, resolved_when, revoked_when, revoked_effective_when, "
	    "revoked_reason, unrevoked_when, was_pending, request_flags, "
	    "exts_changed) VALUES (2, 3, 20, 0, 0, 0, 0, -1, 0, 0, 0, 0);");
	return st;
}

static void
finish(struct store *st)
{
	char	 cmd[400];

	store_close(st);
	snprintf(cmd, sizeof(cmd), "rm -rf '%.*s'", (int)(strrchr(path, '/') -
	    path), path);
	assert_int_equal(system(cmd), 0);
}

static void
test_purge(void **state)
{
	static const char *const modules[] = { "A", "B", "NoCursor" };
	struct store	*st = scene();
	struct db_purge	 p;
	int64_t		 n;

	(void)state;
	/* No module registered: nothing is owed; Gone's cursor is not read. */
	memset(&p, 0, sizeof(p));
	p.before = 2000;
	p.now = 5000;
	p.dry_run = 1;
	assert_int_equal(purge(st, &p), 0);
	assert_int_equal(p.requests, 3);	/* 1, 3, 7 */
	assert_true(p.delivered == INT64_MAX);
	assert_int_equal(p.kept[PURGE_KEEP_UNDELIVERED], 0);

	/* A and B (NoCursor has none: it starts at the next event). */
	memset(&p, 0, sizeof(p));
	p.before = 2000;
	p.now = 5000;
	p.modules = modules;
	p.nmodules = 3;
	p.dry_run = 1;
	assert_int_equal(purge(st, &p), 0);
	assert_int_equal(p.delivered, 6);
	assert_string_equal(p.slowest, "A");
	assert_int_equal(p.requests, 1);
	assert_int_equal(p.certs, 1);
	assert_int_equal(p.events, 1);
	assert_int_equal(p.attrs, 2);		/* Comment, the legacy ext */
	assert_int_equal(p.history, 1);
	assert_int_equal(p.kept[PURGE_KEEP_NEWEST], 1);		/* 8 */
	assert_int_equal(p.kept[PURGE_KEEP_REVOKED], 1);	/* 2 */
	assert_int_equal(p.kept[PURGE_KEEP_DEAD_LETTER], 1);	/* 4 */
	assert_int_equal(p.kept[PURGE_KEEP_UNDELIVERED], 2);	/* 3, 7 */
	assert_int_equal(sql_int("SELECT COUNT(*) FROM requests"), 8);
	assert_int_equal(sql_int("SELECT COUNT(*) FROM events"), 8);

	/* The same, for real. */
	p.dry_run = 0;
	assert_int_equal(purge(st, &p), 0);
	assert_int_equal(p.requests, 1);
	assert_int_equal(p.events, 1);
	assert_int_equal(p.attrs, 2);
	assert_int_equal(sql_int("SELECT COUNT(*) FROM requests WHERE id = 1") +
	    sql_int("SELECT COUNT(*) FROM certs WHERE request_id = 1") +
	    sql_int("SELECT COUNT(*) FROM request_attrs WHERE request_id = 1") +
	    sql_int("SELECT COUNT(*) FROM request_exts WHERE request_id = 1") +
	    sql_int("SELECT COUNT(*) FROM request_history WHERE request_id = 1") +
	    sql_int("SELECT COUNT(*) FROM events WHERE context = 1"), 0);
	assert_int_equal(sql_int("SELECT COUNT(*) FROM requests"), 7);
	assert_int_equal(sql_int("SELECT COUNT(*) FROM events WHERE seq = 2"),
	    1);
	assert_int_equal(store_released_since(st, 1, &n), 0);
	assert_int_equal(n, 0);

	/* --revoked-too: 2 and its two events and history go, and count. */
	p.revoked_too = 1;
	assert_int_equal(purge(st, &p), 0);
	assert_int_equal(p.requests, 1);
	assert_int_equal(p.revoked, 1);
	assert_int_equal(p.events, 2);
	assert_int_equal(p.history, 1);
	assert_int_equal(sql_int("SELECT COUNT(*) FROM requests WHERE id = 2"),
	    0);
	assert_int_equal(store_released_since(st, 5000, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(store_released_since(st, 5001, &n), 0);
	assert_int_equal(n, 0);
	/* A second purge in the same second adds to the count. */
	sql_exec("UPDATE requests SET disposition = 21 WHERE id = 3;"
	    "UPDATE exit_cursors SET seq = 8");
	assert_int_equal(purge(st, &p), 0);
	assert_int_equal(p.revoked, 1);
	assert_int_equal(p.kept[PURGE_KEEP_NEWEST], 1);
	assert_int_equal(p.kept[PURGE_KEEP_DEAD_LETTER], 1);
	assert_int_equal(store_released_since(st, 4000, &n), 0);
	assert_int_equal(n, 2);
	finish(st);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_purge),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
