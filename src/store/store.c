/*
 * store.c - the CA database on SQLite: WAL, synchronous=FULL, numbered
 * migrations, prepared statements kept for the connection's life.
 */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "schema.h"
#include "store.h"

enum stmt_id {
	S_BEGIN, S_COMMIT, S_ROLLBACK,
	S_REQ_INSERT, S_REQ_UPDATE, S_REQ_DISP, S_REQ_GET,
	S_ATTR_INSERT, S_ATTR_DELETE, S_ATTRS_GET,
	S_EXTS_DELETE, S_EXTS_GET,
	S_CERT_INSERT, S_CERT_GET, S_CERT_BY_SERIAL,
	S_CRL_INSERT, S_CRL_GET, S_CRL_LATEST_BASE, S_CRL_LATEST_DELTA,
	S_MAX_REQ, S_MAX_CRL, S_MAX_SERIAL,
	S_EVENT_INSERT, S_EVENTS_AFTER, S_EVENT_GET,
	S_REVOKED_ALL, S_REVOKED_SINCE,
	S_CURSOR_GET, S_CURSOR_SET,
	S_DL_ADD, S_DL_DELETE, S_DL_EACH, S_DL_EACH_ALL, S_DL_COUNT,
	S_DL_COUNT_ALL,
	S__MAX
};

#define REQ_COLS "id, raw_request, request_type, request_flags, disposition, " \
	"disposition_message, status_code, requester_name, caller_name, " \
	"submitted_when, resolved_when, revoked_when, revoked_effective_when, " \
	"revoked_reason, unrevoked_when, request_dn, request_raw_name, " \
	"profile, was_pending, exts"
#define CERT_COLS "request_id, serial, raw, not_before, not_after, " \
	"subject_dn, raw_name, common_name, pk_alg, pk_len, raw_pk, " \
	"raw_pk_params, hash, ski"
#define CRL_COLS "row_id, number, base_number, this_update, next_update, " \
	"count, raw"

static const char *const stmt_sql[S__MAX] = {
	[S_BEGIN] = "BEGIN IMMEDIATE",
	[S_COMMIT] = "COMMIT",
	[S_ROLLBACK] = "ROLLBACK",
	[S_REQ_INSERT] = "INSERT INTO requests (" REQ_COLS ") VALUES "
	    "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
	[S_REQ_UPDATE] = "UPDATE requests SET disposition = ?2, "
	    "disposition_message = ?3, status_code = ?4, resolved_when = ?5, "
	    "revoked_when = ?6, revoked_effective_when = ?7, "
	    "revoked_reason = ?8, unrevoked_when = ?9, profile = ?10, "
	    "was_pending = ?11, request_flags = ?12, exts = coalesce(?14, exts) "
	    "WHERE id = ?1 AND (?13 < 0 OR disposition = ?13)",
	[S_REQ_DISP] = "SELECT disposition FROM requests WHERE id = ?",
	[S_REQ_GET] = "SELECT " REQ_COLS " FROM requests WHERE id = ?",
	[S_ATTR_INSERT] = "INSERT OR REPLACE INTO request_attrs "
	    "(request_id, name, value) VALUES (?,?,?)",
	[S_ATTR_DELETE] = "DELETE FROM request_attrs WHERE request_id = ? "
	    "AND name = ?",
	[S_ATTRS_GET] = "SELECT name, value FROM request_attrs "
	    "WHERE request_id = ? ORDER BY rowid",
	[S_EXTS_DELETE] = "DELETE FROM request_exts WHERE request_id = ?",
	[S_EXTS_GET] = "SELECT oid, flags, value FROM request_exts "
	    "WHERE request_id = ? ORDER BY oid",
	[S_CERT_INSERT] = "INSERT INTO certs (" CERT_COLS ") VALUES "
	    "(?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
	[S_CERT_GET] = "SELECT " CERT_COLS " FROM certs WHERE request_id = ?",
	[S_CERT_BY_SERIAL] = "SELECT " CERT_COLS " FROM certs "
	    "WHERE serial = ?",
	[S_CRL_INSERT] = "INSERT INTO crls (number, base_number, this_update, "
	    "next_update, count, raw) VALUES (?,?,?,?,?,?)",
	[S_CRL_GET] = "SELECT " CRL_COLS " FROM crls WHERE row_id = ?",
	[S_CRL_LATEST_BASE] = "SELECT " CRL_COLS " FROM crls "
	    "WHERE base_number < 0 ORDER BY row_id DESC LIMIT 1",
	[S_CRL_LATEST_DELTA] = "SELECT " CRL_COLS " FROM crls "
	    "WHERE base_number >= 0 ORDER BY row_id DESC LIMIT 1",
	[S_MAX_REQ] = "SELECT COALESCE(MAX(id), 0) FROM requests",
	[S_MAX_CRL] = "SELECT COALESCE(MAX(number), 0) FROM crls",
	/* Ordered serials: 0x01, the time, the random part (40 hex digits). */
	[S_MAX_SERIAL] = "SELECT MAX(serial) FROM certs WHERE serial >= '01' "
	    "AND serial < '02' AND length(serial) = 40",
	[S_EVENT_INSERT] = "INSERT INTO events (event, context, time, "
	    "crl_row_id) VALUES (?,?,?,?)",
	[S_EVENTS_AFTER] = "SELECT seq, event, context, time, crl_row_id "
	    "FROM events WHERE seq > ? ORDER BY seq LIMIT ?",
	[S_EVENT_GET] = "SELECT seq, event, context, time, crl_row_id "
	    "FROM events WHERE seq = ?",
	[S_REVOKED_ALL] = "SELECT c.serial, r.revoked_when, "
	    "r.revoked_effective_when, r.revoked_reason FROM requests r "
	    "JOIN certs c ON c.request_id = r.id WHERE r.disposition = 21",
	[S_REVOKED_SINCE] = "SELECT c.serial, r.revoked_when, "
	    "r.revoked_effective_when, r.revoked_reason FROM requests r "
	    "JOIN certs c ON c.request_id = r.id "
	    "WHERE r.disposition = 21 AND r.revoked_when > ?1 "
	    "UNION ALL SELECT c.serial, r.unrevoked_when, r.unrevoked_when, 8 "
	    "FROM requests r JOIN certs c ON c.request_id = r.id "
	    "WHERE r.disposition <> 21 AND r.unrevoked_when > ?1",
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

struct store {
	sqlite3		*db;
	char		*path;
	int		 readonly;
	sqlite3_stmt	*stmt[S__MAX];
	int64_t		 wal_frames;	/* after the last commit, if counted */
};

/* How long a statement waits for another connection's lock. */
#define BUSY_MS		5000

static const char *const view_names[VIEW__MAX] = {
	[VIEW_QUEUE] = "queue",
	[VIEW_LOG] = "log",
	[VIEW_LOGFAIL] = "logfail",
	[VIEW_REVOKED] = "revoked",
	[VIEW_ISSUED] = "issued",
	[VIEW_ALL] = "all",
};

const char *
db_view_name(enum db_view v)
{
	return (unsigned)v < VIEW__MAX ? view_names[v] : "?";
}

enum db_view
db_view_from_name(const char *name)
{
	int	 i;

	for (i = 0; i < VIEW__MAX; i++)
		if (str_ieq(name, view_names[i]))
			return (enum db_view)i;
	return VIEW__MAX;
}

static int
sql_fail(struct store *st, const char *what)
{
	log_err("%s: %s: %s", st->path, what, sqlite3_errmsg(st->db));
	return CM_E_FAIL;
}

/* The cached statement id, reset and with its bindings cleared. */
static sqlite3_stmt *
stmt(struct store *st, enum stmt_id id)
{
	sqlite3_stmt	*s = st->stmt[id];

	if (s == NULL) {
		if (sqlite3_prepare_v3(st->db, stmt_sql[id], -1,
		    SQLITE_PREPARE_PERSISTENT, &s, NULL) != SQLITE_OK) {
			sql_fail(st, stmt_sql[id]);
			return NULL;
		}
		st->stmt[id] = s;
	}
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return s;
}

/* Step a statement that returns no rows. */
static int
step_done(struct store *st, sqlite3_stmt *s, const char *what)
{
	int	 rc = sqlite3_step(s);
	int	 ext = sqlite3_extended_errcode(st->db);

	sqlite3_reset(s);
	if (rc == SQLITE_DONE)
		return 0;
	/* Extended result codes are on: rc is SQLITE_CONSTRAINT_UNIQUE etc. */
	if ((rc & 0xff) == SQLITE_CONSTRAINT &&
	    (ext == SQLITE_CONSTRAINT_UNIQUE ||
	    ext == SQLITE_CONSTRAINT_PRIMARYKEY))
		return STORE_E_DUPLICATE;
	return sql_fail(st, what);
}

static int
exec_sql(struct store *st, const char *sql)
{
	char	*msg = NULL;

	if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		log_err("%s: %s", st->path, msg ? msg : "SQL error");
		sqlite3_free(msg);
		return CM_E_FAIL;
	}
	return 0;
}

/* A single integer from sql, or -1 on error. */
static int
query_int(struct store *st, const char *sql, int64_t *out)
{
	sqlite3_stmt	*s;
	int		 rc;

	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
		return -1;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? 0 : -1;
}

static void
bind_text(sqlite3_stmt *s, int i, const char *v)
{
	if (v == NULL)
		sqlite3_bind_null(s, i);
	else
		sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
}

static void
bind_blob(sqlite3_stmt *s, int i, const void *v, size_t len)
{
	if (v == NULL)
		sqlite3_bind_null(s, i);
	else
		sqlite3_bind_blob64(s, i, v, len, SQLITE_STATIC);
}

static char *
col_text(sqlite3_stmt *s, int i)
{
	const unsigned char *v = sqlite3_column_text(s, i);

	return v == NULL ? NULL : strdup((const char *)v);
}

static unsigned char *
col_blob(sqlite3_stmt *s, int i, size_t *len)
{
	const void	*v = sqlite3_column_blob(s, i);
	size_t		 n = (size_t)sqlite3_column_bytes(s, i);
	unsigned char	*p;

	*len = 0;
	if (v == NULL)
		return NULL;
	if ((p = malloc(n ? n : 1)) == NULL)
		return NULL;
	memcpy(p, v, n);
	*len = n;
	return p;
}

/* Apply migrations from the file's version up to schema_latest(). */
static int
migrate(struct store *st, int creating, char *err, size_t errlen)
{
	int64_t	 version, appid, ntables;
	int	 v;

	if (query_int(st, "PRAGMA user_version", &version) == -1 ||
	    query_int(st, "PRAGMA application_id", &appid) == -1 ||
	    query_int(st, "SELECT COUNT(*) FROM sqlite_master", &ntables)
	    == -1) {
		snprintf(err, errlen, "%s: not a certmint database (%s)",
		    st->path, sqlite3_errmsg(st->db));
		return -1;
	}
	if ((version == 0 && ntables > 0) ||
	    (version > 0 && appid != SCHEMA_APPLICATION_ID)) {
		snprintf(err, errlen, "%s: not a certmint database", st->path);
		return -1;
	}
	if (version > schema_latest()) {
		snprintf(err, errlen, "%s: schema version %" PRId64 " is newer "
		    "than this certmint knows (%d); use a newer certmint",
		    st->path, version, schema_latest());
		return -1;
	}
	if (version == 0 && !creating) {
		snprintf(err, errlen, "%s: empty database (run certmint init)",
		    st->path);
		return -1;
	}
	if (version < schema_latest() && st->readonly) {
		snprintf(err, errlen, "%s: schema version %" PRId64 " needs "
		    "migrating; start certmintd once", st->path, version);
		return -1;
	}
	for (v = (int)version + 1; v <= schema_latest(); v++) {
		char	 sql[96];

		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d;"
		    "PRAGMA application_id = %d;", v, SCHEMA_APPLICATION_ID);
		if (exec_sql(st, "BEGIN IMMEDIATE") == -1)
			goto fail;
		if (exec_sql(st, schema_migration(v)) == -1 ||
		    exec_sql(st, sql) == -1 || exec_sql(st, "COMMIT") == -1) {
			exec_sql(st, "ROLLBACK");
			goto fail;
		}
		if (v > 1)
			log_info("%s: migrated to schema version %d", st->path,
			    v);
	}
	return 0;
 fail:
	snprintf(err, errlen, "%s: schema migration failed: %s", st->path,
	    sqlite3_errmsg(st->db));
	return -1;
}

struct store *
store_open(const char *path, int flags, char *err, size_t errlen)
{
	struct store	*st;
	struct stat	 sb;
	int		 fd, oflags, creating = 0;

	if ((st = calloc(1, sizeof(*st))) == NULL ||
	    (st->path = strdup(path)) == NULL) {
		free(st);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	st->readonly = (flags & STORE_READONLY) != 0;
	if (stat(path, &sb) == -1) {
		if (errno != ENOENT || !(flags & STORE_CREATE) ||
		    st->readonly) {
			snprintf(err, errlen, "%s: %s%s", path,
			    strerror(errno), errno == ENOENT ?
			    " (run certmint init)" : "");
			goto fail;
		}
		/* Create it ourselves so that it is never world-readable. */
		if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
		    0600)) == -1) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			goto fail;
		}
		close(fd);
		creating = 1;
	} else if (!S_ISREG(sb.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		goto fail;
	} else if (sb.st_size == 0 && (flags & STORE_CREATE))
		creating = 1;

	oflags = st->readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
	if (sqlite3_open_v2(path, &st->db, oflags | SQLITE_OPEN_NOMUTEX,
	    NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, st->db ?
		    sqlite3_errmsg(st->db) : "cannot open");
		goto fail;
	}
	sqlite3_extended_result_codes(st->db, 1);
	sqlite3_busy_timeout(st->db, BUSY_MS);
	if (!st->readonly) {
		int64_t	 dummy;

		/* Fails on a file that is not SQLite: caught below. */
		(void)query_int(st, "PRAGMA journal_mode = WAL", &dummy);
	}
	if (exec_sql(st, "PRAGMA synchronous = FULL;"
	    "PRAGMA foreign_keys = ON;") == -1) {
		snprintf(err, errlen, "%s: not a certmint database (%s)",
		    path, sqlite3_errmsg(st->db));
		goto fail;
	}
	if (migrate(st, creating, err, errlen) == -1)
		goto fail;
	return st;
 fail:
	store_close(st);
	return NULL;
}

void
store_close(struct store *st)
{
	int	 i;

	if (st == NULL)
		return;
	for (i = 0; i < S__MAX; i++)
		sqlite3_finalize(st->stmt[i]);
	if (st->db != NULL)
		sqlite3_close(st->db);
	free(st->path);
	free(st);
}

int
store_schema_version(struct store *st)
{
	int64_t	 v;

	return query_int(st, "PRAGMA user_version", &v) == -1 ? -1 : (int)v;
}

/* SQLite's WAL hook: the WAL's length after each commit on st. */
static int
wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
	struct store	*st = arg;

	(void)db;
	(void)name;
	st->wal_frames = frames;
	return SQLITE_OK;
}

/*
 * Checkpoint st's WAL by hand from now on: installing the hook replaces
 * SQLite's automatic checkpoint, which is PASSIVE only and so lets the WAL
 * grow while readers keep old snapshots. Returns 0, or -1.
 */
int
store_wal_manual(struct store *st, int64_t limit_bytes)
{
	char	 sql[64];

	snprintf(sql, sizeof(sql), "PRAGMA journal_size_limit = %" PRId64,
	    limit_bytes);
	if (exec_sql(st, sql) == -1)
		return -1;
	sqlite3_wal_hook(st->db, wal_hook, st);
	return 0;
}

int64_t
store_wal_frames(struct store *st)
{
	return st->wal_frames;
}

/* A checkpoint waits for readers this long before it starts over. */
#define CKPT_TRY_NS	1000000

/*
 * The busy handler of one checkpoint try: poll every 100 us, for at most
 * CKPT_TRY_NS (arg: when this try first found readers in the way, 0
 * before).
 */
static int
ckpt_busy(void *arg, int tries)
{
	uint64_t	*start = arg;
	struct timespec	 ts = { 0, 100000 };
	uint64_t	 now = time_mono_ns();

	(void)tries;
	if (*start == 0)
		*start = now;
	else if (now - *start >= CKPT_TRY_NS)
		return 0;
	nanosleep(&ts, NULL);
	return 1;
}

/*
 * Copy the WAL's frames into the database file (see store.h). RESTART and
 * TRUNCATE wait for readers, for busy_ms at most, counted from the first
 * time readers are in the way (copying the frames back is the work, not a
 * wait), so that the writer is not held up longer. They try again and
 * again rather than wait once: a try waits for the read slot of a reader
 * that was behind when it began, and a reader that runs transactions back
 * to back takes that slot again at once, with a newer snapshot that the
 * next try would not need to wait for; and once every frame is copied
 * back, new transactions leave the WAL alone, so the next try finds the
 * readers gone. Returns 0 when every frame was backfilled, STORE_E_BUSY
 * when readers kept some, CM_E_FAIL.
 */
int
store_checkpoint(struct store *st, int mode, int busy_ms)
{
	struct timespec	 pause = { 0, 100000 };
	uint64_t	 start = 0, first = 0;
	int		 rc, log = 0, done = 0, smode;

	switch (mode) {
	case STORE_CKPT_RESTART:
		smode = SQLITE_CHECKPOINT_RESTART;
		break;
	case STORE_CKPT_TRUNCATE:
		smode = SQLITE_CHECKPOINT_TRUNCATE;
		break;
	default:
		smode = SQLITE_CHECKPOINT_PASSIVE;
		break;
	}
	if (smode != SQLITE_CHECKPOINT_PASSIVE)
		sqlite3_busy_handler(st->db, ckpt_busy, &start);
	for (;;) {
		start = 0;
		rc = sqlite3_wal_checkpoint_v2(st->db, NULL, smode, &log,
		    &done);
		if (rc == SQLITE_OK && done >= log)
			break;
		if (smode == SQLITE_CHECKPOINT_PASSIVE ||
		    (rc != SQLITE_OK && (rc & 0xff) != SQLITE_BUSY))
			break;
		if (first == 0)
			first = start != 0 ? start : time_mono_ns();
		if (time_mono_ns() - first >= (uint64_t)busy_ms * 1000000u)
			break;
		if (start == 0)		/* refused without a wait */
			nanosleep(&pause, NULL);
	}
	if (smode != SQLITE_CHECKPOINT_PASSIVE)
		sqlite3_busy_timeout(st->db, BUSY_MS);
	if ((rc & 0xff) == SQLITE_BUSY || (rc == SQLITE_OK && done < log))
		return STORE_E_BUSY;
	if (rc != SQLITE_OK)
		return sql_fail(st, "checkpoint");
	if (smode == SQLITE_CHECKPOINT_TRUNCATE)
		st->wal_frames = 0;
	return 0;
}

int
store_begin(struct store *st)
{
	sqlite3_stmt	*s = stmt(st, S_BEGIN);

	return s == NULL ? CM_E_FAIL : step_done(st, s, "BEGIN");
}

int
store_commit(struct store *st)
{
	sqlite3_stmt	*s = stmt(st, S_COMMIT);

	return s == NULL ? CM_E_FAIL : step_done(st, s, "COMMIT");
}

int
store_rollback(struct store *st)
{
	sqlite3_stmt	*s = stmt(st, S_ROLLBACK);

	if (s == NULL)
		return CM_E_FAIL;
	if (sqlite3_get_autocommit(st->db))
		return 0;	/* SQLite already rolled back */
	return step_done(st, s, "ROLLBACK");
}

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
static int
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
store_cert_insert(struct store *st, const struct db_cert *c)
{
	sqlite3_stmt	*s;

	if ((s = stmt(st, S_CERT_INSERT)) == NULL)
		return CM_E_FAIL;
	sqlite3_bind_int64(s, 1, c->request_id);
	bind_text(s, 2, c->serial);
	bind_blob(s, 3, c->raw, c->raw_len);
	sqlite3_bind_int64(s, 4, c->not_before);
	sqlite3_bind_int64(s, 5, c->not_after);
	bind_text(s, 6, c->subject_dn);
	bind_blob(s, 7, c->raw_name, c->raw_name_len);
	bind_text(s, 8, c->common_name);
	bind_text(s, 9, c->public_key_algorithm);
	sqlite3_bind_int(s, 10, c->public_key_length);
	bind_blob(s, 11, c->raw_public_key, c->raw_public_key_len);
	bind_blob(s, 12, c->raw_public_key_params,
	    c->raw_public_key_params_len);
	bind_text(s, 13, c->hash);
	bind_text(s, 14, c->ski);
	return step_done(st, s, "insert certificate");
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
	if ((rc = step_done(st, s, "insert CRL")) != 0)
		return rc;
	c->row_id = sqlite3_last_insert_rowid(st->db);
	return 0;
}

int
store_event_insert(struct store *st, struct db_event *e)
{
	sqlite3_stmt	*s;
	int		 rc;

	if ((s = stmt(st, S_EVENT_INSERT)) == NULL)
		return CM_E_FAIL;
	sqlite3_bind_int(s, 1, e->event);
	sqlite3_bind_int64(s, 2, e->context);
	sqlite3_bind_int64(s, 3, e->time);
	sqlite3_bind_int64(s, 4, e->crl_row_id);
	if ((rc = step_done(st, s, "insert event")) != 0)
		return rc;
	e->seq = sqlite3_last_insert_rowid(st->db);
	return 0;
}

static int
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

static int
row_to_cert(sqlite3_stmt *s, int col, struct db_cert *c)
{
	memset(c, 0, sizeof(*c));
	c->request_id = sqlite3_column_int64(s, col + 0);
	c->serial = col_text(s, col + 1);
	c->raw = col_blob(s, col + 2, &c->raw_len);
	c->not_before = sqlite3_column_int64(s, col + 3);
	c->not_after = sqlite3_column_int64(s, col + 4);
	c->subject_dn = col_text(s, col + 5);
	c->raw_name = col_blob(s, col + 6, &c->raw_name_len);
	c->common_name = col_text(s, col + 7);
	c->public_key_algorithm = col_text(s, col + 8);
	c->public_key_length = sqlite3_column_int(s, col + 9);
	c->raw_public_key = col_blob(s, col + 10, &c->raw_public_key_len);
	c->raw_public_key_params = col_blob(s, col + 11,
	    &c->raw_public_key_params_len);
	c->hash = col_text(s, col + 12);
	c->ski = col_text(s, col + 13);
	if (c->serial == NULL || c->raw == NULL) {
		db_cert_free(c);
		return CM_E_NOMEM;
	}
	return 0;
}

static int
cert_query(struct store *st, enum stmt_id id, int64_t rid, const char *serial,
    struct db_cert *c)
{
	sqlite3_stmt	*s;
	int		 rc;

	memset(c, 0, sizeof(*c));
	if ((s = stmt(st, id)) == NULL)
		return CM_E_FAIL;
	if (serial != NULL)
		bind_text(s, 1, serial);
	else
		sqlite3_bind_int64(s, 1, rid);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		rc = row_to_cert(s, 0, c);
	else
		rc = rc == SQLITE_DONE ? CM_E_NOTFOUND :
		    sql_fail(st, "read certificate");
	sqlite3_reset(s);
	return rc;
}

int
store_cert_get(struct store *st, int64_t request_id, struct db_cert *c)
{
	return cert_query(st, S_CERT_GET, request_id, NULL, c);
}

int
store_cert_by_serial(struct store *st, const char *serial, struct db_cert *c)
{
	return cert_query(st, S_CERT_BY_SERIAL, 0, serial, c);
}

static int
crl_query(struct store *st, enum stmt_id id, int64_t row_id, struct db_crl *c)
{
	sqlite3_stmt	*s;
	int		 rc;

	memset(c, 0, sizeof(*c));
	if ((s = stmt(st, id)) == NULL)
		return CM_E_FAIL;
	if (id == S_CRL_GET)
		sqlite3_bind_int64(s, 1, row_id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		c->row_id = sqlite3_column_int64(s, 0);
		c->number = sqlite3_column_int64(s, 1);
		c->base_number = sqlite3_column_int64(s, 2);
		c->this_update = sqlite3_column_int64(s, 3);
		c->next_update = sqlite3_column_int64(s, 4);
		c->count = sqlite3_column_int64(s, 5);
		c->raw = col_blob(s, 6, &c->raw_len);
		rc = c->raw == NULL ? CM_E_NOMEM : 0;
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
store_crl_latest(struct store *st, int delta, struct db_crl *c)
{
	return crl_query(st, delta ? S_CRL_LATEST_DELTA : S_CRL_LATEST_BASE,
	    0, c);
}

int
store_crl_each(struct store *st, int limit,
    int (*cb)(void *, const struct db_crl *), void *arg)
{
	sqlite3_stmt	*s;
	struct db_crl	 c;
	int		 rc, ret = 0;

	if (sqlite3_prepare_v2(st->db, "SELECT row_id, number, base_number, "
	    "this_update, next_update, count FROM crls ORDER BY row_id DESC "
	    "LIMIT ?", -1, &s, NULL) != SQLITE_OK)
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
		if ((ret = cb(arg, &c)) != 0)
			break;
	}
	if (ret == 0 && rc != SQLITE_DONE)
		ret = sql_fail(st, "list CRLs");
	sqlite3_finalize(s);
	return ret;
}

static int
stmt_int(struct store *st, enum stmt_id id, const char *bind, int64_t *out)
{
	sqlite3_stmt	*s;
	int		 rc;

	if ((s = stmt(st, id)) == NULL)
		return CM_E_FAIL;
	if (bind != NULL)
		bind_text(s, 1, bind);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return rc == SQLITE_ROW ? 0 : sql_fail(st, stmt_sql[id]);
}

int
store_max_request_id(struct store *st, int64_t *out)
{
	return stmt_int(st, S_MAX_REQ, NULL, out);
}

int
store_max_crl_number(struct store *st, int64_t *out)
{
	return stmt_int(st, S_MAX_CRL, NULL, out);
}

int
store_max_ordered_serial(struct store *st, char *out, size_t outlen)
{
	sqlite3_stmt	*s;
	const unsigned char *v;
	int		 rc;

	out[0] = '\0';
	if ((s = stmt(st, S_MAX_SERIAL)) == NULL)
		return CM_E_FAIL;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW && (v = sqlite3_column_text(s, 0)) != NULL)
		snprintf(out, outlen, "%s", (const char *)v);
	sqlite3_reset(s);
	return rc == SQLITE_ROW ? 0 : sql_fail(st, stmt_sql[S_MAX_SERIAL]);
}

int
store_stats(struct store *st, struct db_stats *out)
{
	sqlite3_stmt	*s;
	int		 rc;

	memset(out, 0, sizeof(*out));
	if (sqlite3_prepare_v2(st->db, "SELECT disposition, COUNT(*) FROM "
	    "requests GROUP BY disposition", -1, &s, NULL) != SQLITE_OK)
		return sql_fail(st, "stats");
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		int64_t	 n = sqlite3_column_int64(s, 1);

		switch (sqlite3_column_int(s, 0)) {
		case CM_DISP_PENDING:
			out->pending += n;
			break;
		case CM_DISP_ISSUED:
			out->issued += n;
			break;
		case CM_DISP_REVOKED:
			out->revoked += n;
			break;
		case CM_DISP_DENIED:
			out->denied += n;
			break;
		case CM_DISP_ERROR:
			out->failed += n;
			break;
		}
		out->total += n;
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		return sql_fail(st, "stats");
	if (query_int(st, "SELECT COUNT(*) FROM crls", &out->crls) == -1 ||
	    query_int(st, "SELECT COALESCE(MAX(seq), 0) FROM events",
	    &out->last_event_seq) == -1)
		return sql_fail(st, "stats");
	return 0;
}

int
store_revoked_each(struct store *st, int64_t since,
    int (*cb)(void *, const struct db_revoked *), void *arg)
{
	sqlite3_stmt	*s;
	struct db_revoked r;
	int		 rc, ret = 0;

	if ((s = stmt(st, since < 0 ? S_REVOKED_ALL : S_REVOKED_SINCE))
	    == NULL)
		return CM_E_FAIL;
	if (since >= 0)
		sqlite3_bind_int64(s, 1, since);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		r.serial = (const char *)sqlite3_column_text(s, 0);
		r.revoked_when = sqlite3_column_int64(s, 1);
		r.revoked_effective_when = sqlite3_column_int64(s, 2);
		r.reason = sqlite3_column_int(s, 3);
		if (r.serial != NULL && (ret = cb(arg, &r)) != 0)
			break;
	}
	if (ret == 0 && rc != SQLITE_DONE)
		ret = sql_fail(st, "read revoked certificates");
	sqlite3_reset(s);
	return ret;
}

/* The WHERE clause of a view. */
static const char *
view_where(enum db_view v)
{
	switch (v) {
	case VIEW_QUEUE:
		return "r.disposition = 9";
	case VIEW_LOG:
		return "r.disposition IN (20, 21, 30, 31)";
	case VIEW_LOGFAIL:
		return "r.disposition IN (30, 31)";
	case VIEW_REVOKED:
		return "r.disposition = 21";
	case VIEW_ISSUED:
		return "r.disposition = 20";
	default:
		return "1";
	}
}

/* Rows of a view read per statement: see store_view. */
#define VIEW_PAGE	256

struct view_row {
	struct db_request r;
	struct db_cert	 c;
	int		 has_cert;
};

/*
 * Call cb for each row of a view, by ascending id. The rows are read
 * VIEW_PAGE at a time and cb is called only once the page's statement is
 * reset: a caller that blocks in cb (`certmint view | less`) then holds no
 * snapshot, which would keep every frame in the WAL (docs/design.md,
 * Storage). Each page is a snapshot of its own; a row changed meanwhile
 * shows as it is when its page is read. Returns 0, cb's non-zero result,
 * or a CM_E_* error.
 */
int
store_view(struct store *st, const struct db_filter *f,
    int (*cb)(void *, const struct db_request *, const struct db_cert *),
    void *arg)
{
	struct buf	 sql = { 0 };
	sqlite3_stmt	*s = NULL;
	struct view_row	*rows;
	int64_t		 after = INT64_MIN, left = f->limit > 0 ? f->limit : -1;
	int		 rc, ret = 0, n, i, lim;

	if (buf_printf(&sql, "SELECT r.id, r.raw_request, r.request_type, "
	    "r.request_flags, r.disposition, r.disposition_message, "
	    "r.status_code, r.requester_name, r.caller_name, "
	    "r.submitted_when, r.resolved_when, r.revoked_when, "
	    "r.revoked_effective_when, r.revoked_reason, r.unrevoked_when, "
	    "r.request_dn, r.request_raw_name, r.profile, r.was_pending, "
	    "c.request_id, c.serial, c.raw, c.not_before, c.not_after, "
	    "c.subject_dn, c.raw_name, c.common_name, c.pk_alg, c.pk_len, "
	    "c.raw_pk, c.raw_pk_params, c.hash, c.ski "
	    "FROM requests r LEFT JOIN certs c ON c.request_id = r.id "
	    "WHERE r.id > :after AND %s%s%s%s%s%s%s%s ORDER BY r.id "
	    "LIMIT :lim", view_where(f->view),
	    f->min_id ? " AND r.id >= :min" : "",
	    f->max_id ? " AND r.id <= :max" : "",
	    f->requester ? " AND r.requester_name = :req" : "",
	    f->common_name ? " AND (instr(c.common_name, :cn) OR "
	    "instr(r.request_dn, :cn))" : "",
	    f->serial ? " AND c.serial = :serial" : "",
	    f->since ? " AND r.submitted_when >= :since" : "",
	    f->until ? " AND r.submitted_when < :until" : "") == -1) {
		buf_free(&sql);
		return CM_E_NOMEM;
	}
	rc = sqlite3_prepare_v2(st->db, (char *)sql.data, -1, &s, NULL);
	buf_free(&sql);
	if (rc != SQLITE_OK)
		return sql_fail(st, "view");
	if ((rows = calloc(VIEW_PAGE, sizeof(*rows))) == NULL) {
		sqlite3_finalize(s);
		return CM_E_NOMEM;
	}
	sqlite3_bind_int64(s, sqlite3_bind_parameter_index(s, ":min"),
	    f->min_id);
	sqlite3_bind_int64(s, sqlite3_bind_parameter_index(s, ":max"),
	    f->max_id);
	bind_text(s, sqlite3_bind_parameter_index(s, ":req"), f->requester);
	bind_text(s, sqlite3_bind_parameter_index(s, ":cn"), f->common_name);
	bind_text(s, sqlite3_bind_parameter_index(s, ":serial"), f->serial);
	sqlite3_bind_int64(s, sqlite3_bind_parameter_index(s, ":since"),
	    f->since);
	sqlite3_bind_int64(s, sqlite3_bind_parameter_index(s, ":until"),
	    f->until);
	while (ret == 0 && left != 0) {
		lim = left < 0 || left > VIEW_PAGE ? VIEW_PAGE : (int)left;
		sqlite3_bind_int64(s, sqlite3_bind_parameter_index(s,
		    ":after"), after);
		sqlite3_bind_int(s, sqlite3_bind_parameter_index(s, ":lim"),
		    lim);
		n = 0;
		while (n < lim && (rc = sqlite3_step(s)) == SQLITE_ROW) {
			rows[n].has_cert = sqlite3_column_type(s, 19) !=
			    SQLITE_NULL;
			if ((ret = row_to_request(s, &rows[n].r)) != 0)
				break;
			if (rows[n].has_cert &&
			    (ret = row_to_cert(s, 19, &rows[n].c)) != 0) {
				db_request_free(&rows[n].r);
				break;
			}
			n++;
		}
		/* Ends the read transaction before any callback. */
		sqlite3_reset(s);
		if (ret == 0 && n < lim && rc != SQLITE_DONE)
			ret = sql_fail(st, "view");
		for (i = 0; i < n; i++) {
			if (ret == 0)
				ret = cb(arg, &rows[i].r, rows[i].has_cert ?
				    &rows[i].c : NULL);
			after = rows[i].r.id;
			db_request_free(&rows[i].r);
			if (rows[i].has_cert)
				db_cert_free(&rows[i].c);
		}
		if (n < lim)
			break;
		if (left > 0)
			left -= n;
	}
	free(rows);
	sqlite3_finalize(s);
	return ret;
}

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
	return stmt_int(st, module ? S_DL_COUNT : S_DL_COUNT_ALL, module, n);
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

void
db_cert_free(struct db_cert *c)
{
	if (c == NULL)
		return;
	free(c->serial);
	free(c->raw);
	free(c->subject_dn);
	free(c->raw_name);
	free(c->common_name);
	free(c->public_key_algorithm);
	free(c->raw_public_key);
	free(c->raw_public_key_params);
	free(c->hash);
	free(c->ski);
	memset(c, 0, sizeof(*c));
}

void
db_crl_free(struct db_crl *c)
{
	if (c == NULL)
		return;
	free(c->raw);
	memset(c, 0, sizeof(*c));
}
