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
	/*
	 * store_requests_get_many: the ids from ?1 to ?2 (RANGE) or in the
	 * JSON array ?1 (LIST).
	 */
	[S_READ_BEGIN] = "BEGIN DEFERRED",
	[S_READ_END] = "COMMIT",
	[S_REQS_RANGE] = "SELECT " REQ_COLS ", hist_seq FROM requests "
	    "WHERE id BETWEEN ?1 AND ?2 ORDER BY id",
	[S_REQS_LIST] = "SELECT " REQ_COLS ", hist_seq FROM requests "
	    "WHERE id IN (SELECT value FROM json_each(?1)) ORDER BY id",
	[S_ATTRS_RANGE] = "SELECT request_id, name, value FROM request_attrs "
	    "WHERE request_id BETWEEN ?1 AND ?2 ORDER BY request_id, rowid",
	[S_ATTRS_LIST] = "SELECT request_id, name, value FROM request_attrs "
	    "WHERE request_id IN (SELECT value FROM json_each(?1)) "
	    "ORDER BY request_id, rowid",
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

/*
 * Decode a BLOB written by exts_encode into r, whose exts are none yet,
 * from arena a (malloc'd when NULL). 0, CM_E_FAIL or NOMEM. Two passes:
 * the first checks and counts, the second copies into an array of that
 * many.
 */
int
exts_decode(struct arena *a, const unsigned char *p, size_t len,
    struct db_request *r)
{
	const unsigned char *end = p + len, *q, *nul;
	struct db_ext	*e;
	size_t		 n = 0, i, vlen, olen;

	if (len < 1 || *p++ != EXTS_FORMAT)
		return CM_E_FAIL;
	for (q = p; q < end; q = nul + 9 + vlen, n++) {
		if ((nul = memchr(q, '\0', (size_t)(end - q))) == NULL ||
		    (size_t)(end - nul) < 9)
			return CM_E_FAIL;
		vlen = get_u32(nul + 5);
		if (vlen > (size_t)(end - nul - 9))
			return CM_E_FAIL;
	}
	if (n == 0)
		return 0;
	if ((r->exts = mem_take(a, n * sizeof(*r->exts))) == NULL)
		return CM_E_NOMEM;
	memset(r->exts, 0, n * sizeof(*r->exts));
	for (i = 0, q = p; i < n; i++, q = nul + 9 + vlen) {
		e = &r->exts[i];
		r->nexts = i + 1;
		nul = memchr(q, '\0', (size_t)(end - q));
		olen = (size_t)(nul - q);
		vlen = get_u32(nul + 5);
		if ((e->oid = mem_take(a, olen + 1)) == NULL ||
		    (e->value = mem_take(a, vlen ? vlen : 1)) == NULL)
			return CM_E_NOMEM;
		memcpy(e->oid, q, olen + 1);
		e->flags = (int32_t)get_u32(nul + 1);
		memcpy(e->value, nul + 9, vlen);
		e->len = vlen;
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
row_to_request_in(struct arena *a, sqlite3_stmt *s, struct db_request *r)
{
	memset(r, 0, sizeof(*r));
	r->id = sqlite3_column_int64(s, 0);
	r->raw_request = col_blob_in(a, s, 1, &r->raw_request_len);
	r->request_type = sqlite3_column_int(s, 2);
	r->request_flags = sqlite3_column_int(s, 3);
	r->disposition = sqlite3_column_int(s, 4);
	r->disposition_message = col_text_in(a, s, 5);
	r->status_code = sqlite3_column_int(s, 6);
	r->requester_name = col_text_in(a, s, 7);
	r->caller_name = col_text_in(a, s, 8);
	r->submitted_when = sqlite3_column_int64(s, 9);
	r->resolved_when = sqlite3_column_int64(s, 10);
	r->revoked_when = sqlite3_column_int64(s, 11);
	r->revoked_effective_when = sqlite3_column_int64(s, 12);
	r->revoked_reason = sqlite3_column_int(s, 13);
	r->unrevoked_when = sqlite3_column_int64(s, 14);
	r->request_dn = col_text_in(a, s, 15);
	r->request_raw_name = col_blob_in(a, s, 16, &r->request_raw_name_len);
	r->profile = col_text_in(a, s, 17);
	r->was_pending = sqlite3_column_int(s, 18);
	if ((sqlite3_column_type(s, 1) != SQLITE_NULL &&
	    r->raw_request == NULL) ||
	    (sqlite3_column_type(s, 5) != SQLITE_NULL &&
	    r->disposition_message == NULL)) {
		if (a == NULL)
			db_request_free(r);
		return CM_E_NOMEM;
	}
	return 0;
}

int
row_to_request(sqlite3_stmt *s, struct db_request *r)
{
	return row_to_request_in(NULL, s, r);
}

/*
 * Append the attribute in columns col, col + 1 of s to r, whose attrs array
 * has room for *cap; from arena a as row_to_request_in.
 */
static int
attr_append(struct arena *a, struct db_request *r, size_t *cap,
    sqlite3_stmt *s, int col)
{
	struct db_attr	*v;
	size_t		 ncap;

	if (r->nattrs == *cap) {
		ncap = *cap ? *cap * 2 : 8;
		if (a == NULL)
			v = realloc(r->attrs, ncap * sizeof(*v));
		else if ((v = arena_take(a, ncap * sizeof(*v))) != NULL &&
		    r->nattrs > 0)
			memcpy(v, r->attrs, r->nattrs * sizeof(*v));
		if (v == NULL)
			return CM_E_NOMEM;
		r->attrs = v;
		*cap = ncap;
	}
	v = &r->attrs[r->nattrs];
	v->name = col_text_in(a, s, col);
	v->value = col_text_in(a, s, col + 1);
	r->nattrs++;
	return v->name == NULL || v->value == NULL ? CM_E_NOMEM : 0;
}

static int
load_attrs(struct store *st, struct db_request *r)
{
	sqlite3_stmt	*s;
	size_t		 cap = 0;
	int		 rc;

	if ((s = stmt(st, S_ATTRS_GET)) == NULL)
		return CM_E_FAIL;
	sqlite3_bind_int64(s, 1, r->id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		if (attr_append(NULL, r, &cap, s, 0) != 0) {
			sqlite3_reset(s);
			return CM_E_NOMEM;
		}
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : sql_fail(st, "read attributes");
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

static int	row_to_full_request(struct store *, struct arena *,
		    sqlite3_stmt *, struct db_request *);

int
store_request_get(struct store *st, int64_t id, struct db_request *r)
{
	sqlite3_stmt	*s;
	int		 rc;

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
	rc = row_to_full_request(st, NULL, s, r);
	sqlite3_reset(s);
	if (rc == 0 && (rc = load_attrs(st, r)) != 0)
		db_request_free(r);
	return rc;
}

/*
 * The request row of s (S_REQ_GET's or S_REQS_*'s columns) in r, with its
 * extensions; its attributes are the caller's to load. From arena a as
 * row_to_request_in; with an arena, a row from before migration 3 (its
 * extensions in their own table) is left out: STORE_E_LEGACY.
 */
#define STORE_E_LEGACY	1
static int
row_to_full_request(struct store *st, struct arena *a, sqlite3_stmt *s,
    struct db_request *r)
{
	int	 rc;

	if (a != NULL && sqlite3_column_type(s, 19) == SQLITE_NULL)
		return STORE_E_LEGACY;
	if ((rc = row_to_request_in(a, s, r)) != 0)
		return rc;
	r->history_seq = sqlite3_column_int64(s, 20);
	if (sqlite3_column_type(s, 19) == SQLITE_NULL)
		rc = load_exts(st, r);	/* a row from before migration 3 */
	else if ((rc = exts_decode(a, sqlite3_column_blob(s, 19),
	    (size_t)sqlite3_column_bytes(s, 19), r)) == CM_E_FAIL)
		log_err("%s: request %" PRId64 ": damaged extensions",
		    st->path, r->id);
	if (rc != 0 && a == NULL)
		db_request_free(r);
	return rc;
}

/*
 * Bind the ids to S_REQS_* or S_ATTRS_* statement s: their range when
 * they are dense (the requests of a batch of events mostly are: a range
 * scan is a fraction of a lookup per id), else their list as JSON.
 */
static void
bind_ids(sqlite3_stmt *s, int range, const int64_t *ids, size_t n,
    const char *list)
{
	if (range) {
		sqlite3_bind_int64(s, 1, ids[0]);
		sqlite3_bind_int64(s, 2, ids[n - 1]);
	} else
		sqlite3_bind_text(s, 1, list, -1, SQLITE_STATIC);
}

int
store_requests_get_many(struct store *st, const int64_t *ids, size_t n,
    struct db_requests *out)
{
	struct buf	 list = { 0 };
	sqlite3_stmt	*s;
	size_t		 i, cap = 0;
	int64_t		 id, cur = 0;
	int		 rc = 0, step = SQLITE_DONE, range;

	memset(out, 0, sizeof(*out));
	if (n == 0)
		return 0;
	if ((out->mem = arena_new()) == NULL ||
	    (out->v = arena_take(out->mem, n * sizeof(*out->v))) == NULL) {
		rc = CM_E_NOMEM;
		goto fail;
	}
	memset(out->v, 0, n * sizeof(*out->v));
	out->n = n;
	range = (uint64_t)(ids[n - 1] - ids[0]) < 2 * (uint64_t)n;
	if (!range) {
		buf_printf(&list, "[");
		for (i = 0; i < n; i++)
			buf_printf(&list, "%s%" PRId64, i ? "," : "", ids[i]);
		buf_printf(&list, "]");
		if (list.data == NULL) {
			rc = CM_E_NOMEM;
			goto fail;
		}
	}
	if ((s = stmt(st, S_READ_BEGIN)) == NULL ||
	    step_done(st, s, "begin a read") != 0) {
		rc = CM_E_FAIL;
		goto fail;
	}
	if ((s = stmt(st, range ? S_REQS_RANGE : S_REQS_LIST)) == NULL) {
		rc = CM_E_FAIL;
		goto end;
	}
	bind_ids(s, range, ids, n, (char *)list.data);
	for (i = 0; rc == 0 && (step = sqlite3_step(s)) == SQLITE_ROW;) {
		id = sqlite3_column_int64(s, 0);
		while (i < n && ids[i] < id)
			i++;
		if (i < n && ids[i] == id &&
		    (rc = row_to_full_request(st, out->mem, s, &out->v[i])) ==
		    STORE_E_LEGACY) {
			memset(&out->v[i], 0, sizeof(out->v[i]));
			rc = 0;	/* read on its own when asked for */
		}
	}
	if (rc == 0 && step != SQLITE_DONE)
		rc = sql_fail(st, "read requests");
	sqlite3_reset(s);
	if (rc == 0 && (s = stmt(st, range ? S_ATTRS_RANGE : S_ATTRS_LIST)) ==
	    NULL)
		rc = CM_E_FAIL;
	if (rc == 0) {
		bind_ids(s, range, ids, n, (char *)list.data);
		for (i = 0; rc == 0 && (step = sqlite3_step(s)) == SQLITE_ROW;) {
			if ((id = sqlite3_column_int64(s, 0)) != cur) {
				cur = id;	/* the next request's */
				cap = 0;
			}
			while (i < n && ids[i] < id)
				i++;
			if (i < n && ids[i] == id && out->v[i].id == id)
				rc = attr_append(out->mem, &out->v[i], &cap, s,
				    1);
		}
		if (rc == 0 && step != SQLITE_DONE)
			rc = sql_fail(st, "read attributes");
		sqlite3_reset(s);
	}
end:
	if ((s = stmt(st, S_READ_END)) == NULL ||
	    step_done(st, s, "end a read") != 0)
		rc = rc != 0 ? rc : CM_E_FAIL;
fail:
	buf_free(&list);
	if (rc != 0)
		db_requests_free(out);
	return rc;
}

void
db_requests_free(struct db_requests *r)
{
	arena_destroy(r->mem);
	memset(r, 0, sizeof(*r));
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
