/*
 * requests.c - request rows: their mutable columns, attributes and
 * extensions (one BLOB per request since migration 3).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

#define REQ_COLS "id, raw_request, request_type, request_flags, disposition, " \
	"disposition_message, status_code, requester_name, caller_name, " \
	"submitted_when, resolved_when, revoked_when, revoked_effective_when, " \
	"revoked_reason, unrevoked_when, request_dn, request_raw_name, " \
	"profile, was_pending, exts"

static const char *const request_sql[S__MAX] = {
	[S_REQ_INSERT] = "INSERT INTO requests (" REQ_COLS ") VALUES "
	    "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
	[S_REQ_UPDATE] = "UPDATE requests SET disposition = ?2, "
	    "disposition_message = ?3, status_code = ?4, resolved_when = ?5, "
	    "revoked_when = ?6, revoked_effective_when = ?7, "
	    "revoked_reason = ?8, unrevoked_when = ?9, profile = ?10, "
	    "was_pending = ?11, request_flags = ?12, exts = coalesce(?14, exts), "
	    "hist_seq = (SELECT COALESCE(MAX(seq), 0) FROM events) "
	    "WHERE id = ?1 AND (?13 < 0 OR disposition = ?13)",
	[S_REQ_DISP] = "SELECT disposition FROM requests WHERE id = ?",
	[S_REQ_GET] = "SELECT " REQ_COLS ", hist_seq FROM requests WHERE id = ?",
	[S_ATTR_INSERT] = "INSERT OR REPLACE INTO request_attrs "
	    "(request_id, name, value) VALUES (?,?,?)",
	[S_ATTR_DELETE] = "DELETE FROM request_attrs WHERE request_id = ? "
	    "AND name = ?",
	[S_ATTRS_GET] = "SELECT name, value FROM request_attrs "
	    "WHERE request_id = ? ORDER BY rowid",
	[S_EXTS_DELETE] = "DELETE FROM request_exts WHERE request_id = ?",
	[S_EXTS_GET] = "SELECT oid, flags, value FROM request_exts "
	    "WHERE request_id = ? ORDER BY oid",
};

#define stmt(st, id)	store_stmt(st, id, request_sql[id])

/*
 * Extensions are one BLOB in their request's row (migration 3): a version
 * octet (1), then per extension the OID text and a NUL, the flags (4
 * octets) and the value's length (4 octets), big-endian, and the value; one
 * extension per OID (the last given wins), sorted by OID. Rows written
 * before migration 3 keep theirs in request_exts (exts NULL). One row per
 * extension was a fifth of the writer's time per certificate.
 */
#define EXTS_FORMAT	1

static int
ext_cmp(const void *a, const void *b)
{
	const struct db_ext *x = *(const struct db_ext *const *)a;
	const struct db_ext *y = *(const struct db_ext *const *)b;
	int		 c = strcmp(x->oid, y->oid);

	/* Same OID: the later one first, so that it is the one kept. */
	return c != 0 ? c : x < y ? 1 : x > y ? -1 : 0;
}

static int
put_u32(struct buf *b, uint32_t v)
{
	unsigned char	 o[4] = { v >> 24, v >> 16, v >> 8, v };

	return buf_append(b, o, 4);
}

/* Encode n extensions into b. Returns 0 or CM_E_NOMEM. */
static int
exts_encode(const struct db_ext *exts, size_t n, struct buf *b)
{
	const struct db_ext **v;
	size_t		 i;
	int		 bad;

	if ((v = calloc(n ? n : 1, sizeof(*v))) == NULL)
		return CM_E_NOMEM;
	for (i = 0; i < n; i++)
		v[i] = &exts[i];
	qsort(v, n, sizeof(*v), ext_cmp);
	bad = buf_appendc(b, EXTS_FORMAT);
	for (i = 0; i < n; i++) {
		if (v[i]->oid == NULL ||
		    (i > 0 && strcmp(v[i]->oid, v[i - 1]->oid) == 0))
			continue;
		bad |= buf_append(b, v[i]->oid, strlen(v[i]->oid) + 1);
		bad |= put_u32(b, (uint32_t)v[i]->flags);
		bad |= put_u32(b, (uint32_t)v[i]->len);
		if (v[i]->len > 0)
			bad |= buf_append(b, v[i]->value, v[i]->len);
	}
	free(v);
	return bad ? CM_E_NOMEM : 0;
}

static uint32_t
get_u32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

/* Decode a BLOB written by exts_encode into r. 0, CM_E_FAIL or NOMEM. */
int
exts_decode(const unsigned char *p, size_t len, struct db_request *r)
{
	const unsigned char *end = p + len, *nul;
	struct db_ext	*e;
	size_t		 cap = 0, vlen;

	if (len < 1 || *p++ != EXTS_FORMAT)
		return CM_E_FAIL;
	while (p < end) {
		if ((nul = memchr(p, '\0', (size_t)(end - p))) == NULL ||
		    (size_t)(end - nul) < 9)
			return CM_E_FAIL;
		vlen = get_u32(nul + 5);
		if (vlen > (size_t)(end - nul - 9))
			return CM_E_FAIL;
		if (r->nexts == cap) {
			cap = cap ? cap * 2 : 16;
			if ((e = realloc(r->exts, cap * sizeof(*e))) == NULL)
				return CM_E_NOMEM;
			r->exts = e;
		}
		e = &r->exts[r->nexts];
		memset(e, 0, sizeof(*e));
		r->nexts++;
		if ((e->oid = strdup((const char *)p)) == NULL ||
		    (e->value = malloc(vlen ? vlen : 1)) == NULL)
			return CM_E_NOMEM;
		e->flags = (int32_t)get_u32(nul + 1);
		memcpy(e->value, nul + 9, vlen);
		e->len = vlen;
		p = nul + 9 + vlen;
	}
	return 0;
}

int
store_request_insert(struct store *st, const struct db_request *r)
{
	struct buf	 exts = { 0 };
	sqlite3_stmt	*s;
	size_t		 i;
	int		 rc;

	if ((s = stmt(st, S_REQ_INSERT)) == NULL)
		return CM_E_FAIL;
	sqlite3_bind_int64(s, 1, r->id);
	bind_blob(s, 2, r->raw_request, r->raw_request_len);
	sqlite3_bind_int(s, 3, r->request_type);
	sqlite3_bind_int(s, 4, r->request_flags);
	sqlite3_bind_int(s, 5, r->disposition);
	bind_text(s, 6, r->disposition_message);
	sqlite3_bind_int(s, 7, r->status_code);
	bind_text(s, 8, r->requester_name);
	bind_text(s, 9, r->caller_name);
	sqlite3_bind_int64(s, 10, r->submitted_when);
	sqlite3_bind_int64(s, 11, r->resolved_when);
	sqlite3_bind_int64(s, 12, r->revoked_when);
	sqlite3_bind_int64(s, 13, r->revoked_effective_when);
	sqlite3_bind_int(s, 14, r->revoked_reason);
	sqlite3_bind_int64(s, 15, r->unrevoked_when);
	bind_text(s, 16, r->request_dn);
	bind_blob(s, 17, r->request_raw_name, r->request_raw_name_len);
	bind_text(s, 18, r->profile);
	sqlite3_bind_int(s, 19, r->was_pending);
	if ((rc = exts_encode(r->exts, r->nexts, &exts)) != 0) {
		sqlite3_reset(s);
		buf_free(&exts);
		return rc;
	}
	bind_blob(s, 20, exts.data, exts.len);
	rc = step_done(st, s, "insert request");
	buf_free(&exts);
	if (rc != 0)
		return rc;
	for (i = 0; i < r->nattrs; i++)
		if ((rc = store_attr_set(st, r->id, r->attrs[i].name,
		    r->attrs[i].value)) != 0)
			return rc;
	return 0;
}

int
store_request_update(struct store *st, const struct db_request *r,
    int32_t expect_disposition)
{
	struct buf	 exts = { 0 };
	sqlite3_stmt	*s;
	int		 rc;

	/* The row as it was stays readable for the events before this one. */
	if ((rc = history_save(st, r->id, expect_disposition,
	    r->exts != NULL)) != 0)
		return rc;
	if ((s = stmt(st, S_REQ_UPDATE)) == NULL)
		return CM_E_FAIL;
	sqlite3_bind_int64(s, 1, r->id);
	sqlite3_bind_int(s, 2, r->disposition);
	bind_text(s, 3, r->disposition_message);
	sqlite3_bind_int(s, 4, r->status_code);
	sqlite3_bind_int64(s, 5, r->resolved_when);
	sqlite3_bind_int64(s, 6, r->revoked_when);
	sqlite3_bind_int64(s, 7, r->revoked_effective_when);
	sqlite3_bind_int(s, 8, r->revoked_reason);
	sqlite3_bind_int64(s, 9, r->unrevoked_when);
	bind_text(s, 10, r->profile);
	sqlite3_bind_int(s, 11, r->was_pending);
	sqlite3_bind_int(s, 12, r->request_flags);
	sqlite3_bind_int(s, 13, expect_disposition);
	if (r->exts != NULL &&
	    (rc = exts_encode(r->exts, r->nexts, &exts)) != 0) {
		sqlite3_reset(s);
		buf_free(&exts);
		return rc;
	}
	bind_blob(s, 14, exts.data, exts.len);	/* NULL: keep them */
	rc = step_done(st, s, "update request");
	buf_free(&exts);
	if (rc != 0)
		return rc;
	if (sqlite3_changes(st->db) == 0) {
		if ((s = stmt(st, S_REQ_DISP)) == NULL)
			return CM_E_FAIL;
		sqlite3_bind_int64(s, 1, r->id);
		rc = sqlite3_step(s);
		sqlite3_reset(s);
		if (rc == SQLITE_ROW)
			return STORE_E_CONFLICT;
		return rc == SQLITE_DONE ? CM_E_NOTFOUND :
		    sql_fail(st, "read request");
	}
	if (r->exts == NULL)
		return 0;
	/* A row from before migration 3: its old extension rows go. */
	if ((s = stmt(st, S_EXTS_DELETE)) == NULL)
		return CM_E_FAIL;
	sqlite3_bind_int64(s, 1, r->id);
	return step_done(st, s, "delete extensions");
}

int
store_attr_set(struct store *st, int64_t id, const char *name,
    const char *value)
{
	sqlite3_stmt	*s;

	if ((s = stmt(st, value ? S_ATTR_INSERT : S_ATTR_DELETE)) == NULL)
		return CM_E_FAIL;
	sqlite3_bind_int64(s, 1, id);
	bind_text(s, 2, name);
	if (value != NULL)
		bind_text(s, 3, value);
	return step_done(st, s, "set attribute");
}

int
row_to_request(sqlite3_stmt *s, struct db_request *r)
{
	memset(r, 0, sizeof(*r));
	r->id = sqlite3_column_int64(s, 0);
	r->raw_request = col_blob(s, 1, &r->raw_request_len);
	r->request_type = sqlite3_column_int(s, 2);
	r->request_flags = sqlite3_column_int(s, 3);
	r->disposition = sqlite3_column_int(s, 4);
	r->disposition_message = col_text(s, 5);
	r->status_code = sqlite3_column_int(s, 6);
	r->requester_name = col_text(s, 7);
	r->caller_name = col_text(s, 8);
	r->submitted_when = sqlite3_column_int64(s, 9);
	r->resolved_when = sqlite3_column_int64(s, 10);
	r->revoked_when = sqlite3_column_int64(s, 11);
	r->revoked_effective_when = sqlite3_column_int64(s, 12);
	r->revoked_reason = sqlite3_column_int(s, 13);
	r->unrevoked_when = sqlite3_column_int64(s, 14);
	r->request_dn = col_text(s, 15);
	r->request_raw_name = col_blob(s, 16, &r->request_raw_name_len);
	r->profile = col_text(s, 17);
	r->was_pending = sqlite3_column_int(s, 18);
	if ((sqlite3_column_type(s, 1) != SQLITE_NULL &&
	    r->raw_request == NULL) ||
	    (sqlite3_column_type(s, 5) != SQLITE_NULL &&
	    r->disposition_message == NULL)) {
		db_request_free(r);
		return CM_E_NOMEM;
	}
	return 0;
}

static int
load_attrs(struct store *st, struct db_request *r)
{
	sqlite3_stmt	*s;
	struct db_attr	*a;
	size_t		 cap = 0;
	int		 rc;

	if ((s = stmt(st, S_ATTRS_GET)) == NULL)
		return CM_E_FAIL;
	sqlite3_bind_int64(s, 1, r->id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (r->nattrs == cap) {
			cap = cap ? cap * 2 : 8;
			if ((a = realloc(r->attrs, cap * sizeof(*a))) == NULL)
				goto nomem;
			r->attrs = a;
		}
		a = &r->attrs[r->nattrs];
		a->name = col_text(s, 0);
		a->value = col_text(s, 1);
		r->nattrs++;
		if (a->name == NULL || a->value == NULL)
			goto nomem;
	}
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : sql_fail(st, "read attributes");
 nomem:
	sqlite3_reset(s);
	return CM_E_NOMEM;
}

static int
load_exts(struct store *st, struct db_request *r)
{
	sqlite3_stmt	*s;
	struct db_ext	*e;
	size_t		 cap = 0;
	int		 rc;

	if ((s = stmt(st, S_EXTS_GET)) == NULL)
		return CM_E_FAIL;
	sqlite3_bind_int64(s, 1, r->id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (r->nexts == cap) {
			cap = cap ? cap * 2 : 8;
			if ((e = realloc(r->exts, cap * sizeof(*e))) == NULL)
				goto nomem;
			r->exts = e;
		}
		e = &r->exts[r->nexts];
		e->oid = col_text(s, 0);
		e->flags = sqlite3_column_int(s, 1);
		e->value = col_blob(s, 2, &e->len);
		r->nexts++;
		if (e->oid == NULL)
			goto nomem;
	}
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : sql_fail(st, "read extensions");
 nomem:
	sqlite3_reset(s);
	return CM_E_NOMEM;
}

int
store_request_get(struct store *st, int64_t id, struct db_request *r)
{
	sqlite3_stmt	*s;
	int		 rc, legacy = 1;

	memset(r, 0, sizeof(*r));
	if ((s = stmt(st, S_REQ_GET)) == NULL)
		return CM_E_FAIL;
	sqlite3_bind_int64(s, 1, id);
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(s);
		return rc == SQLITE_DONE ? CM_E_NOTFOUND :
		    sql_fail(st, "read request");
	}
	rc = row_to_request(s, r);
	if (rc == 0)
		r->history_seq = sqlite3_column_int64(s, 20);
	if (rc == 0 && sqlite3_column_type(s, 19) != SQLITE_NULL) {
		legacy = 0;
		if ((rc = exts_decode(sqlite3_column_blob(s, 19),
		    (size_t)sqlite3_column_bytes(s, 19), r)) == CM_E_FAIL)
			log_err("%s: request %" PRId64 ": damaged extensions",
			    st->path, id);
	}
	sqlite3_reset(s);
	if (rc == 0 && (rc = load_attrs(st, r)) == 0 && legacy)
		rc = load_exts(st, r);
	if (rc != 0)
		db_request_free(r);
	return rc;
}

void
db_request_free(struct db_request *r)
{
	size_t	 i;

	if (r == NULL)
		return;
	free(r->raw_request);
	free(r->disposition_message);
	free(r->requester_name);
	free(r->caller_name);
	free(r->request_dn);
	free(r->request_raw_name);
	free(r->profile);
	for (i = 0; i < r->nattrs; i++) {
		free(r->attrs[i].name);
		free(r->attrs[i].value);
	}
	free(r->attrs);
	for (i = 0; i < r->nexts; i++) {
		free(r->exts[i].oid);
		free(r->exts[i].value);
	}
	free(r->exts);
	memset(r, 0, sizeof(*r));
}
