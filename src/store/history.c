/*
 * history.c - what an event's exit module reads is the state at the event
 * (docs/exit-modules.md, Snapshots). Nothing is copied per event: an update
 * of a request first keeps the row as it was in request_history, valid for
 * every event committed before it (until_seq), and a read for event seq
 * takes the oldest kept row with until_seq >= seq, or else the row as it
 * is; the row's hist_seq (the until_seq of its last update) says without
 * a lookup when there is none. CRLs and CA certificates only accumulate: those of an event are the
 * ones written before it.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

static const char *const history_sql[S__MAX] = {
	[S_HIST_SAVE] = "INSERT OR IGNORE INTO request_history (request_id, "
	    "until_seq, disposition, disposition_message, status_code, "
	    "resolved_when, revoked_when, revoked_effective_when, "
	    "revoked_reason, unrevoked_when, profile, was_pending, "
	    "request_flags, exts_changed, exts) "
	    "SELECT id, (SELECT COALESCE(MAX(seq), 0) FROM events), "
	    "disposition, disposition_message, status_code, resolved_when, "
	    "revoked_when, revoked_effective_when, revoked_reason, "
	    "unrevoked_when, profile, was_pending, request_flags, ?3, "
	    "CASE WHEN ?3 THEN exts END FROM requests "
	    "WHERE id = ?1 AND (?2 < 0 OR disposition = ?2)",
	[S_HIST_GET] = "SELECT disposition, disposition_message, "
	    "status_code, resolved_when, revoked_when, revoked_effective_when, "
	    "revoked_reason, unrevoked_when, profile, was_pending, "
	    "request_flags FROM request_history WHERE request_id = ?1 "
	    "AND until_seq >= ?2 ORDER BY until_seq LIMIT 1",
	[S_HIST_EXTS] = "SELECT exts FROM request_history "
	    "WHERE request_id = ?1 AND until_seq >= ?2 AND exts_changed "
	    "ORDER BY until_seq LIMIT 1",
	/* The newest CRL of its kind and key ?2 published by event ?1. */
	[S_CRL_AT_BASE] = "SELECT MAX(row_id) FROM crls WHERE base_number < 0 "
	    "AND key_idx = ?2 AND row_id <= (SELECT crl_row_id FROM events "
	    "WHERE crl_row_id > 0 AND seq <= ?1 ORDER BY seq DESC LIMIT 1)",
	[S_CRL_AT_DELTA] = "SELECT MAX(row_id) FROM crls WHERE "
	    "base_number >= 0 AND key_idx = ?2 AND row_id <= (SELECT "
	    "crl_row_id FROM events WHERE crl_row_id > 0 AND seq <= ?1 "
	    "ORDER BY seq DESC LIMIT 1)",
	[S_CACERT_GET] = "SELECT raw FROM ca_certs WHERE idx = ?1",
	/*
	 * The first one is seen by every event, including older ones; a
	 * later one by the events after the newest when it was noted.
	 */
	[S_CACERT_ADD] = "INSERT INTO ca_certs (idx, raw, since_seq, key_idx) "
	    "SELECT ?1, ?2, CASE WHEN ?1 = 0 THEN 0 ELSE "
	    "COALESCE(MAX(seq), 0) END, ?3 FROM events",
	[S_CACERT_AT] = "SELECT raw, key_idx FROM ca_certs WHERE since_seq < ?1 "
	    "AND (?2 < 0 OR idx = ?2) ORDER BY idx DESC LIMIT 1",
	[S_CACERT_COUNT] = "SELECT COUNT(*) FROM ca_certs WHERE since_seq < ?1",
};

#define stmt(st, id)	store_stmt(st, id, history_sql[id])

int
history_save(struct store *st, int64_t id, int32_t expect, int exts_changed)
{
	sqlite3_stmt	*s;

	if ((s = stmt(st, S_HIST_SAVE)) == NULL)
		return CM_E_FAIL;
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_int(s, 2, expect);
	sqlite3_bind_int(s, 3, exts_changed != 0);
	return step_done(st, s, "keep request history");
}

static void
free_exts(struct db_request *r)
{
	size_t	 i;

	for (i = 0; i < r->nexts; i++) {
		free(r->exts[i].oid);
		free(r->exts[i].value);
	}
	free(r->exts);
	r->exts = NULL;
	r->nexts = 0;
}

/* Replace r's mutable columns with those kept for event seq, if any. */
static int
overlay_row(struct store *st, int64_t seq, struct db_request *r)
{
	sqlite3_stmt	*s;
	char		*msg, *profile;
	int		 rc;

	if ((s = stmt(st, S_HIST_GET)) == NULL)
		return CM_E_FAIL;
	sqlite3_bind_int64(s, 1, r->id);
	sqlite3_bind_int64(s, 2, seq);
	if ((rc = sqlite3_step(s)) != SQLITE_ROW) {
		sqlite3_reset(s);
		return rc == SQLITE_DONE ? 0 : sql_fail(st, "read history");
	}
	msg = col_text(s, 1);
	profile = col_text(s, 8);
	if ((msg == NULL && sqlite3_column_type(s, 1) != SQLITE_NULL) ||
	    (profile == NULL && sqlite3_column_type(s, 8) != SQLITE_NULL)) {
		free(msg);
		free(profile);
		sqlite3_reset(s);
		return CM_E_NOMEM;
	}
	r->disposition = sqlite3_column_int(s, 0);
	free(r->disposition_message);
	r->disposition_message = msg;
	r->status_code = sqlite3_column_int(s, 2);
	r->resolved_when = sqlite3_column_int64(s, 3);
	r->revoked_when = sqlite3_column_int64(s, 4);
	r->revoked_effective_when = sqlite3_column_int64(s, 5);
	r->revoked_reason = sqlite3_column_int(s, 6);
	r->unrevoked_when = sqlite3_column_int64(s, 7);
	free(r->profile);
	r->profile = profile;
	r->was_pending = sqlite3_column_int(s, 9);
	r->request_flags = sqlite3_column_int(s, 10);
	sqlite3_reset(s);
	return 0;
}

/*
 * Replace r's extensions with those kept for event seq, if they changed
 * since. A row written before migration 3 kept none: r keeps today's.
 */
static int
overlay_exts(struct store *st, int64_t seq, struct db_request *r)
{
	struct db_request tmp;
	sqlite3_stmt	*s;
	int		 rc;

	if ((s = stmt(st, S_HIST_EXTS)) == NULL)
		return CM_E_FAIL;
	sqlite3_bind_int64(s, 1, r->id);
	sqlite3_bind_int64(s, 2, seq);
	if ((rc = sqlite3_step(s)) != SQLITE_ROW ||
	    sqlite3_column_type(s, 0) == SQLITE_NULL) {
		sqlite3_reset(s);
		return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 :
		    sql_fail(st, "read history");
	}
	memset(&tmp, 0, sizeof(tmp));
	rc = exts_decode(NULL, sqlite3_column_blob(s, 0),
	    (size_t)sqlite3_column_bytes(s, 0), &tmp);
	sqlite3_reset(s);
	if (rc != 0) {
		free_exts(&tmp);
		return rc;
	}
	free_exts(r);
	r->exts = tmp.exts;
	r->nexts = tmp.nexts;
	return 0;
}

int
store_request_get_at(struct store *st, int64_t id, int64_t seq,
    struct db_request *r)
{
	int	 rc;

	/* Unchanged since the event (the common case): nothing to look up. */
	if ((rc = store_request_get(st, id, r)) != 0 || seq <= 0 ||
	    seq > r->history_seq)
		return rc;
	if ((rc = overlay_row(st, seq, r)) == 0)
		rc = overlay_exts(st, seq, r);
	if (rc != 0)
		db_request_free(r);
	return rc;
}

int
store_crl_at(struct store *st, int delta, int key_idx, int64_t seq,
    struct db_crl *c)
{
	sqlite3_stmt	*s;
	int64_t		 row_id = 0;
	int		 rc;

	if (seq <= 0)
		return store_crl_latest(st, delta, key_idx, c);
	if ((s = stmt(st, delta ? S_CRL_AT_DELTA : S_CRL_AT_BASE)) == NULL)
		return CM_E_FAIL;
	sqlite3_bind_int64(s, 1, seq);
	sqlite3_bind_int(s, 2, key_idx);
	if ((rc = sqlite3_step(s)) == SQLITE_ROW)
		row_id = sqlite3_column_int64(s, 0);	/* NULL: 0 */
	sqlite3_reset(s);
	if (rc != SQLITE_ROW)
		return sql_fail(st, "find CRL");
	if (row_id == 0)
		return CM_E_NOTFOUND;
	return store_crl_get(st, row_id, c);
}

int
store_cacert_note(struct store *st, int idx, int key_idx,
    const unsigned char *der, size_t len)
{
	sqlite3_stmt	*s;
	int		 rc, same = 0;

	if ((s = stmt(st, S_CACERT_GET)) == NULL)
		return CM_E_FAIL;
	sqlite3_bind_int(s, 1, idx);
	if ((rc = sqlite3_step(s)) == SQLITE_ROW)
		same = (size_t)sqlite3_column_bytes(s, 0) == len &&
		    memcmp(sqlite3_column_blob(s, 0), der, len) == 0;
	sqlite3_reset(s);
	if (rc == SQLITE_ROW)
		return same ? 0 : STORE_E_CONFLICT;
	if (rc != SQLITE_DONE)
		return sql_fail(st, "read CA certificates");
	if ((s = stmt(st, S_CACERT_ADD)) == NULL)
		return CM_E_FAIL;
	sqlite3_bind_int(s, 1, idx);
	bind_blob(s, 2, der, len);
	sqlite3_bind_int(s, 3, key_idx);
	return step_done(st, s, "add CA certificate");
}

int
store_cacert_at(struct store *st, int64_t seq, int idx, unsigned char **der,
    size_t *len, int *count, int *key_idx)
{
	sqlite3_stmt	*s;
	int64_t		 n;
	int		 rc;

	if (seq <= 0)
		seq = INT64_MAX;
	*der = NULL;
	*len = 0;
	if ((s = stmt(st, S_CACERT_COUNT)) == NULL)
		return CM_E_FAIL;
	sqlite3_bind_int64(s, 1, seq);
	if ((rc = stmt_int(st, s, NULL, &n)) != 0)
		return rc;
	*count = (int)n;
	if ((s = stmt(st, S_CACERT_AT)) == NULL)
		return CM_E_FAIL;
	sqlite3_bind_int64(s, 1, seq);
	sqlite3_bind_int(s, 2, idx);
	if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		*der = col_blob(s, 0, len);
		if (key_idx != NULL)
			*key_idx = sqlite3_column_int(s, 1);
	}
	sqlite3_reset(s);
	if (rc == SQLITE_ROW)
		return *der != NULL ? 0 : CM_E_NOMEM;
	return rc == SQLITE_DONE ? CM_E_NOTFOUND :
	    sql_fail(st, "read CA certificate");
}
