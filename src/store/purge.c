/*
 * purge.c - `certmint purge` (issue 11 §3; AD CS: certutil -deleterow DATE
 * Cert): remove the rows of the requests whose certificate expired before
 * a date, with their attributes, history and events, and the ACME orders
 * that expired before it with their authorizations and challenges, in the
 * caller's transaction. What is kept, and why, is in store.h (struct db_purge).
 *
 * Rare and whole-table: the statements are prepared each time rather than
 * cached, and the set of requests is kept in a temporary table of the
 * connection, so that every step deletes the same set however the
 * previous steps changed the tables the set was chosen from.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "store_int.h"

/* The requests chosen, each with why it stays (PURGE_REMOVE: it goes). */
#define PURGE_TABLE	"CREATE TEMP TABLE IF NOT EXISTS purge_set (" \
	"id INTEGER PRIMARY KEY, keep INTEGER NOT NULL, " \
	"revoked INTEGER NOT NULL)"

/*
 * The requests in scope (issued or revoked, 20 and 21, the certificate
 * expired before ?1) and why each stays (enum db_purge_keep). ?2 is the newest ordered serial, ?3
 * revoked_too, ?4 the lowest cursor of the registered exit modules. The
 * events of a request are found from the events after that cursor (few)
 * rather than per request: events has no index on context. A renewal's
 * module reads the certificate it replaces (RawOldCertificate), so that
 * one stays as long as the renewal's events do.
 */
static const char choose_sql[] =
	"WITH owed(id) AS (SELECT context FROM events WHERE seq > ?4), "
	"dead(id) AS (SELECT context FROM dead_letters), "
	"renewed(serial, dead) AS (SELECT value, 0 FROM request_attrs "
	"  WHERE request_id IN owed AND name = 'RenewalOf' "
	"  UNION ALL SELECT value, 1 FROM request_attrs "
	"  WHERE request_id IN dead AND name = 'RenewalOf') "
	"INSERT INTO temp.purge_set (id, keep, revoked) "
	"SELECT r.id, CASE "
	"  WHEN r.id = (SELECT MAX(id) FROM requests) OR c.serial = ?2 THEN 1 "
	"  WHEN r.disposition = 21 AND NOT ?3 THEN 2 "
	"  WHEN r.id IN dead OR c.serial IN (SELECT serial FROM renewed "
	"    WHERE dead) THEN 3 "
	"  WHEN r.id IN owed OR c.serial IN (SELECT serial FROM renewed) "
	"    THEN 4 "
	"  ELSE 0 END, r.disposition = 21 "
	"FROM certs c JOIN requests r ON r.id = c.request_id "
	"WHERE c.not_after < ?1 AND r.disposition IN (20, 21)";

#define PURGED	"(SELECT id FROM temp.purge_set WHERE keep = 0)"

/*
 * What goes with a purged request, children before their parent (foreign
 * keys), in the order of the counts store_purge passes. Events: only the
 * request's own (CRL, STARTUP and SHUTDOWN events have context 0; 0x31f
 * is every request event bit, to be sure).
 */
struct purge_step {
	const char	*table;
	const char	*where;
};

static const struct purge_step purge_steps[] = {
	{ "events", "context IN " PURGED " AND (event & 799) <> 0" },
	{ "request_history", "request_id IN " PURGED },
	{ "request_attrs", "request_id IN " PURGED },
	/* Rows from before migration 3 (requests.c). */
	{ "request_exts", "request_id IN " PURGED },
	{ "certs", "request_id IN " PURGED },
	{ "requests", "id IN " PURGED },
};

/* ACME orders chosen (acme_purge_steps). */
#define ORDERS_TABLE	"CREATE TEMP TABLE IF NOT EXISTS purge_orders (" \
	"id INTEGER PRIMARY KEY)"
#define ORDERS		"(SELECT id FROM temp.purge_orders)"

static const struct purge_step acme_purge_steps[] = {
	{ "acme_challenges", "authz_id IN (SELECT id FROM acme_authzs WHERE "
	    "order_id IN " ORDERS ")" },
	{ "acme_authzs", "order_id IN " ORDERS },
	{ "acme_orders", "id IN " ORDERS },
};

/* Run sql, which returns no rows. 0 or CM_E_FAIL. */
static int
exec_plain(struct store *st, const char *sql)
{
	sqlite3_stmt	*s;
	int		 rc;

	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
		return sql_fail(st, sql);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : sql_fail(st, sql);
}

/*
 * The lowest saved cursor of p's modules into p->delivered and
 * p->slowest; INT64_MAX when none has one (a module without one starts
 * with the next event: nothing is owed to it). 0 or CM_E_FAIL.
 */
static int
lowest_cursor(struct store *st, struct db_purge *p)
{
	int64_t		 seq;
	size_t		 i;
	int		 rc;

	p->delivered = INT64_MAX;
	p->slowest[0] = '\0';
	for (i = 0; i < p->nmodules; i++) {
		rc = store_cursor_get(st, p->modules[i], &seq);
		if (rc == CM_E_NOTFOUND)
			continue;
		if (rc != 0)
			return CM_E_FAIL;
		if (seq < p->delivered) {
			p->delivered = seq;
			snprintf(p->slowest, sizeof(p->slowest), "%s",
			    p->modules[i]);
		}
	}
	return 0;
}

/* Choose the requests into temp.purge_set and count them. 0 or CM_E_FAIL. */
static int
purge_choose(struct store *st, struct db_purge *p)
{
	sqlite3_stmt	*s;
	char		 newest[64];
	int64_t		 keep;
	int		 rc;

	if (exec_plain(st, PURGE_TABLE) != 0 ||
	    exec_plain(st, "DELETE FROM temp.purge_set") != 0 ||
	    lowest_cursor(st, p) != 0 ||
	    store_max_ordered_serial(st, newest, sizeof(newest)) != 0)
		return CM_E_FAIL;
	if (sqlite3_prepare_v2(st->db, choose_sql, -1, &s, NULL) != SQLITE_OK)
		return sql_fail(st, "choose the requests to purge");
	sqlite3_bind_int64(s, 1, p->before);
	bind_text(s, 2, newest);
	sqlite3_bind_int(s, 3, p->revoked_too != 0);
	sqlite3_bind_int64(s, 4, p->delivered);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		return sql_fail(st, "choose the requests to purge");
	if (sqlite3_prepare_v2(st->db, "SELECT keep, COUNT(*), SUM(revoked) "
	    "FROM temp.purge_set GROUP BY keep", -1, &s, NULL) != SQLITE_OK)
		return sql_fail(st, "count the requests to purge");
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		keep = sqlite3_column_int64(s, 0);
		if (keep < 0 || keep >= PURGE_KEEP__MAX)
			continue;
		p->kept[keep] = sqlite3_column_int64(s, 1);
		if (keep == PURGE_REMOVE)
			p->revoked = sqlite3_column_int64(s, 2);
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		return sql_fail(st, "count the requests to purge");
	return 0;
}

/* One step of purge_steps: delete (or, dry, count) its rows into *n. */
static int
purge_step(struct store *st, const char *table, const char *where, int dry,
    int64_t *n)
{
	sqlite3_stmt	*s;
	char		 sql[256];
	int		 rc;

	snprintf(sql, sizeof(sql), "%s %s WHERE %s", dry ?
	    "SELECT COUNT(*) FROM" : "DELETE FROM", table, where);
	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
		return sql_fail(st, sql);
	rc = sqlite3_step(s);
	if (dry && rc == SQLITE_ROW)
		*n += sqlite3_column_int64(s, 0);
	else if (!dry && rc == SQLITE_DONE)
		*n += sqlite3_changes(st->db);
	sqlite3_finalize(s);
	return rc == (dry ? SQLITE_ROW : SQLITE_DONE) ? 0 : sql_fail(st, sql);
}

/*
 * Revoked certificates purged are counted in the meta table (migration
 * 6), one row per second of purge, "purged_revoked:" and the time in 12
 * digits (so that the keys sort by time): a base CRL may list that many
 * fewer than the one before it (store_released_since). A key of meta
 * rather than a table of their own: no migration for one number.
 */
#define META_PURGED	"purged_revoked:"

/* Add p->revoked to the count of the second p->now. 0 or CM_E_FAIL. */
static int
note_revoked(struct store *st, const struct db_purge *p)
{
	sqlite3_stmt	*s;
	int		 rc;

	if (sqlite3_prepare_v2(st->db, "INSERT INTO meta (key, value) VALUES "
	    "(printf('" META_PURGED "%012lld', ?1), ?2) "
	    "ON CONFLICT (key) DO UPDATE SET value = "
	    "CAST(value AS INTEGER) + CAST(excluded.value AS INTEGER)", -1, &s,
	    NULL) != SQLITE_OK)
		return sql_fail(st, "note the purged revocations");
	sqlite3_bind_int64(s, 1, p->now);
	sqlite3_bind_int64(s, 2, p->revoked);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : sql_fail(st,
	    "note the purged revocations");
}

/* The expired ACME orders and what hangs from them. 0 or CM_E_FAIL. */
static int
purge_acme(struct store *st, struct db_purge *p)
{
	int64_t		*counts[nitems(acme_purge_steps)] = { &p->acme_challs,
	    &p->acme_authzs, &p->acme_orders };
	sqlite3_stmt	*s;
	size_t		 i;
	int		 rc;

	if (exec_plain(st, ORDERS_TABLE) != 0 ||
	    exec_plain(st, "DELETE FROM temp.purge_orders") != 0)
		return CM_E_FAIL;
	if (sqlite3_prepare_v2(st->db, "INSERT INTO temp.purge_orders (id) "
	    "SELECT id FROM acme_orders WHERE expires < ?1 AND "
	    "status <> 'processing'", -1, &s, NULL) != SQLITE_OK)
		return sql_fail(st, "choose the ACME orders to purge");
	sqlite3_bind_int64(s, 1, p->before);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		return sql_fail(st, "choose the ACME orders to purge");
	for (i = 0; i < nitems(acme_purge_steps); i++)
		if ((rc = purge_step(st, acme_purge_steps[i].table,
		    acme_purge_steps[i].where, p->dry_run, counts[i])) != 0)
			return rc;
	return exec_plain(st, "DELETE FROM temp.purge_orders");
}

int
store_purge(struct store *st, struct db_purge *p)
{
	int64_t		*counts[nitems(purge_steps)] = { &p->events,
	    &p->history, &p->attrs, &p->attrs, &p->certs, &p->requests };
	size_t		 i;
	int		 rc;

	/* Run again from the start when the writer replays its batch. */
	p->requests = p->certs = p->events = p->attrs = p->history = 0;
	p->revoked = 0;
	p->acme_orders = p->acme_authzs = p->acme_challs = 0;
	memset(p->kept, 0, sizeof(p->kept));
	if ((rc = purge_choose(st, p)) != 0)
		return rc;
	for (i = 0; i < nitems(purge_steps); i++)
		if ((rc = purge_step(st, purge_steps[i].table,
		    purge_steps[i].where, p->dry_run, counts[i])) != 0)
			return rc;
	if (!p->dry_run && p->revoked > 0 && (rc = note_revoked(st, p)) != 0)
		return rc;
	if ((rc = purge_acme(st, p)) != 0)
		return rc;
	return exec_plain(st, "DELETE FROM temp.purge_set");
}

int
store_purged_revoked_since(struct store *st, int64_t t, int64_t *n)
{
	sqlite3_stmt	*s;
	int		 rc;

	*n = 0;
	if (sqlite3_prepare_v2(st->db, "SELECT COALESCE(SUM(CAST(value AS "
	    "INTEGER)), 0) FROM meta WHERE key >= printf('" META_PURGED
	    "%012lld', ?1) AND key <= '" META_PURGED "999999999999'", -1, &s,
	    NULL) != SQLITE_OK)
		return sql_fail(st, "count purged revocations");
	sqlite3_bind_int64(s, 1, t < 0 ? 0 : t);
	if ((rc = sqlite3_step(s)) == SQLITE_ROW)
		*n = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? 0 : sql_fail(st, "count purged revocations");
}
