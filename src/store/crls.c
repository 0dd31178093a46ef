/*
 * crls.c - CRL rows and the entries a CRL lists. A CA that renewed with a
 * new key publishes a CRL per key (key_idx: the index of the first CA
 * certificate with that key, AD CS's CRL index), listing the revoked
 * certificates that its certificates signed (certs.ca_idx in the key's
 * range of CA-certificate indexes). CRL numbers run on across keys.
 */
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

#define CRL_COLS "row_id, number, base_number, this_update, next_update, " \
	"count, raw, as_of_seq, key_idx"
#define HEAD_COLS "row_id, number, base_number, this_update, next_update, " \
	"count, NULL, as_of_seq, key_idx"
#define REVOKED_COLS "c.serial, r.revoked_when, r.revoked_effective_when, " \
	"r.revoked_reason, c.not_after, r.profile"
#define RELEASED_COLS "c.serial, r.unrevoked_when, r.unrevoked_when, 8, " \
	"c.not_after, r.profile"
#define IN_RANGE "c.ca_idx BETWEEN ?2 AND ?3"

static const char *const crls_sql[S__MAX] = {
	[S_CRL_INSERT] = "INSERT INTO crls (number, base_number, this_update, "
	    "next_update, count, raw, as_of_seq, key_idx) "
	    "VALUES (?,?,?,?,?,?,?,?)",
	[S_CRL_GET] = "SELECT " CRL_COLS " FROM crls WHERE row_id = ?1",
	[S_CRL_LATEST_BASE] = "SELECT " CRL_COLS " FROM crls "
	    "WHERE base_number < 0 AND key_idx = ?1 "
	    "ORDER BY row_id DESC LIMIT 1",
	[S_CRL_LATEST_DELTA] = "SELECT " CRL_COLS " FROM crls "
	    "WHERE base_number >= 0 AND key_idx = ?1 "
	    "ORDER BY row_id DESC LIMIT 1",
	[S_CRL_HEAD_BASE] = "SELECT " HEAD_COLS " FROM crls "
	    "WHERE base_number < 0 AND key_idx = ?1 "
	    "ORDER BY row_id DESC LIMIT 1",
	[S_CRL_HEAD_DELTA] = "SELECT " HEAD_COLS " FROM crls "
	    "WHERE base_number >= 0 AND key_idx = ?1 "
	    "ORDER BY row_id DESC LIMIT 1",
	[S_MAX_CRL] = "SELECT COALESCE(MAX(number), 0) FROM crls",
	[S_REVOKED_ALL] = "SELECT " REVOKED_COLS " FROM requests r "
	    "JOIN certs c ON c.request_id = r.id WHERE r.disposition = 21 "
	    "AND " IN_RANGE,
	[S_REVOKED_SINCE] = "SELECT " REVOKED_COLS " FROM requests r "
	    "JOIN certs c ON c.request_id = r.id "
	    "WHERE r.disposition = 21 AND r.revoked_when > ?1 AND " IN_RANGE
	    " UNION ALL SELECT " RELEASED_COLS " "
	    "FROM requests r JOIN certs c ON c.request_id = r.id "
	    "WHERE r.disposition <> 21 AND r.unrevoked_when > ?1 AND " IN_RANGE,
	/*
	 * A delta CRL: the requests that a CERTREVOKED (8) or CERTUNREVOKED
	 * (0x100) event after ?1 changed, as they now are. Only the events
	 * since the base are read, by their key: no index on context.
	 */
	[S_REVOKED_AFTER] = "WITH changed(id) AS (SELECT DISTINCT context "
	    "FROM events WHERE seq > ?1 AND event IN (8, 256)) "
	    "SELECT " REVOKED_COLS " FROM changed "
	    "JOIN requests r ON r.id = changed.id "
	    "JOIN certs c ON c.request_id = r.id WHERE r.disposition = 21 "
	    "AND " IN_RANGE
	    " UNION ALL SELECT " RELEASED_COLS " "
	    "FROM changed JOIN requests r ON r.id = changed.id "
	    "JOIN certs c ON c.request_id = r.id "
	    "WHERE r.disposition <> 21 AND r.unrevoked_when > 0 AND " IN_RANGE,
	[S_MAX_EVENT] = "SELECT COALESCE(MAX(seq), 0) FROM events",
};

#define stmt(st, id)	store_stmt(st, id, crls_sql[id])

/* An as_of_seq column: NULL (a CRL older than migration 7) is -1. */
static int64_t
col_seq(sqlite3_stmt *s, int col)
{
	return sqlite3_column_type(s, col) == SQLITE_NULL ? -1 :
	    sqlite3_column_int64(s, col);
}

int
store_crl_insert(struct store *st, struct db_crl *c)
{
	sqlite3_stmt	*s;
	int		 rc;

	if ((s = stmt(st, S_CRL_INSERT)) == NULL)
		return CM_E_FAIL;
	sqlite3_bind_int64(s, 1, c->number);
	sqlite3_bind_int64(s, 2, c->base_number);
	sqlite3_bind_int64(s, 3, c->this_update);
	sqlite3_bind_int64(s, 4, c->next_update);
	sqlite3_bind_int64(s, 5, c->count);
	bind_blob(s, 6, c->raw, c->raw_len);
	if (c->as_of_seq >= 0)
		sqlite3_bind_int64(s, 7, c->as_of_seq);
	sqlite3_bind_int(s, 8, c->key_idx);
	if ((rc = step_done(st, s, "insert CRL")) != 0)
		return rc;
	c->row_id = sqlite3_last_insert_rowid(st->db);
	return 0;
}

/* The CRL row statement id selects (bound to arg); raw only if selected. */
static int
crl_query(struct store *st, enum stmt_id id, int64_t arg, struct db_crl *c)
{
	sqlite3_stmt	*s;
	int		 rc;

	memset(c, 0, sizeof(*c));
	if ((s = stmt(st, id)) == NULL)
		return CM_E_FAIL;
	sqlite3_bind_int64(s, 1, arg);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		c->row_id = sqlite3_column_int64(s, 0);
		c->number = sqlite3_column_int64(s, 1);
		c->base_number = sqlite3_column_int64(s, 2);
		c->this_update = sqlite3_column_int64(s, 3);
		c->next_update = sqlite3_column_int64(s, 4);
		c->count = sqlite3_column_int64(s, 5);
		c->as_of_seq = col_seq(s, 7);
		c->key_idx = sqlite3_column_int(s, 8);
		rc = 0;
		if (sqlite3_column_type(s, 6) != SQLITE_NULL &&
		    (c->raw = col_blob(s, 6, &c->raw_len)) == NULL)
			rc = CM_E_NOMEM;
	} else
		rc = rc == SQLITE_DONE ? CM_E_NOTFOUND :
		    sql_fail(st, "read CRL");
	sqlite3_reset(s);
	return rc;
}

int
store_crl_get(struct store *st, int64_t row_id, struct db_crl *c)
{
	return crl_query(st, S_CRL_GET, row_id, c);
}

int
store_crl_latest(struct store *st, int delta, int key_idx, struct db_crl *c)
{
	return crl_query(st, delta ? S_CRL_LATEST_DELTA : S_CRL_LATEST_BASE,
	    key_idx, c);
}

int
store_crl_latest_head(struct store *st, int delta, int key_idx,
    struct db_crl *c)
{
	return crl_query(st, delta ? S_CRL_HEAD_DELTA : S_CRL_HEAD_BASE,
	    key_idx, c);
}

int
store_crl_each(struct store *st, int limit,
    int (*cb)(void *, const struct db_crl *), void *arg)
{
	sqlite3_stmt	*s;
	struct db_crl	 c;
	int		 rc, ret = 0;

	if (sqlite3_prepare_v2(st->db, "SELECT row_id, number, base_number, "
	    "this_update, next_update, count, key_idx FROM crls "
	    "ORDER BY row_id DESC LIMIT ?", -1, &s, NULL) != SQLITE_OK)
		return sql_fail(st, "list CRLs");
	sqlite3_bind_int(s, 1, limit > 0 ? limit : -1);
	memset(&c, 0, sizeof(c));
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		c.row_id = sqlite3_column_int64(s, 0);
		c.number = sqlite3_column_int64(s, 1);
		c.base_number = sqlite3_column_int64(s, 2);
		c.this_update = sqlite3_column_int64(s, 3);
		c.next_update = sqlite3_column_int64(s, 4);
		c.count = sqlite3_column_int64(s, 5);
		c.key_idx = sqlite3_column_int(s, 6);
		if ((ret = cb(arg, &c)) != 0)
			break;
	}
	if (ret == 0 && rc != SQLITE_DONE)
		ret = sql_fail(st, "list CRLs");
	sqlite3_finalize(s);
	return ret;
}

int
store_max_crl_number(struct store *st, int64_t *out)
{
	return stmt_int(st, stmt(st, S_MAX_CRL), NULL, out);
}

/*
 * The walk of store_revoked_each, inside its read transaction.
 */
static int
revoked_walk(struct store *st, const struct db_crl *base, int lo, int hi,
    int (*cb)(void *, const struct db_revoked *), void *arg, int64_t *as_of)
{
	sqlite3_stmt	*s;
	struct db_revoked r;
	enum stmt_id	 id;
	int		 rc, ret = 0;

	if ((ret = stmt_int(st, stmt(st, S_MAX_EVENT), NULL, as_of)) != 0)
		return ret;
	id = base == NULL ? S_REVOKED_ALL : base->as_of_seq >= 0 ?
	    S_REVOKED_AFTER : S_REVOKED_SINCE;
	if ((s = stmt(st, id)) == NULL)
		return CM_E_FAIL;
	if (id == S_REVOKED_AFTER)
		sqlite3_bind_int64(s, 1, base->as_of_seq);
	else if (id == S_REVOKED_SINCE)
		sqlite3_bind_int64(s, 1, base->this_update - 1);
	sqlite3_bind_int(s, 2, lo);
	sqlite3_bind_int(s, 3, hi);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		r.serial = (const char *)sqlite3_column_text(s, 0);
		r.revoked_when = sqlite3_column_int64(s, 1);
		r.revoked_effective_when = sqlite3_column_int64(s, 2);
		r.reason = sqlite3_column_int(s, 3);
		r.not_after = sqlite3_column_int64(s, 4);
		r.profile = (const char *)sqlite3_column_text(s, 5);
		if (r.serial != NULL && (ret = cb(arg, &r)) != 0)
			break;
	}
	if (ret == 0 && rc != SQLITE_DONE)
		ret = sql_fail(st, "read revoked certificates");
	sqlite3_reset(s);
	return ret;
}

int
store_revoked_each(struct store *st, const struct db_crl *base, int lo,
    int hi, int (*cb)(void *, const struct db_revoked *), void *arg,
    int64_t *as_of)
{
	int	 own, ret;

	/*
	 * One snapshot for the entries and the event they reach, so that
	 * a revocation committed meanwhile is in the next delta, not lost
	 * between this CRL and it.
	 */
	own = sqlite3_get_autocommit(st->db);
	if (own && sqlite3_exec(st->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
		return sql_fail(st, "begin a read");
	ret = revoked_walk(st, base, lo, hi, cb, arg, as_of);
	if (own && sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
		if (ret == 0)
			ret = sql_fail(st, "end a read");
	}
	return ret;
}
