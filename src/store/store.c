/*
 * store.c - the CA database on SQLite: WAL, synchronous=FULL, prepared
 * statements kept for the connection's life, the WAL's checkpoints and
 * transactions, certificates. Opening a database (its checks and
 * migrations) is open.c's.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>

#include <sqlite3.h>

#include "store_int.h"

#define stmt(st, id)	store_stmt(st, id, stmt_sql[id])


#define CERT_COLS "request_id, serial, raw, not_before, not_after, " \
	"subject_dn, raw_name, common_name, pk_alg, pk_len, raw_pk, " \
	"raw_pk_params, hash, ski, ca_idx"

static const char *const stmt_sql[S__MAX] = {
	[S_BEGIN] = "BEGIN IMMEDIATE",
	[S_COMMIT] = "COMMIT",
	[S_ROLLBACK] = "ROLLBACK",
	[S_CERT_INSERT] = "INSERT INTO certs (" CERT_COLS ") VALUES "
	    "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
	[S_CERT_GET] = "SELECT " CERT_COLS " FROM certs WHERE request_id = ?",
	[S_CERT_BY_SERIAL] = "SELECT " CERT_COLS " FROM certs "
	    "WHERE serial = ?",
	[S_MAX_REQ] = "SELECT COALESCE(MAX(id), 0) FROM requests",
	/* Ordered serials: 0x01, the time, the random part (40 hex digits). */
	[S_MAX_SERIAL] = "SELECT MAX(serial) FROM certs WHERE serial >= '01' "
	    "AND serial < '02' AND length(serial) = 40",
	[S_EVENT_INSERT] = "INSERT INTO events (event, context, time, "
	    "crl_row_id) VALUES (?,?,?,?)",
	[S_MAX_EVENT] = "SELECT COALESCE(MAX(seq), 0) FROM events",
};

int
sql_fail(struct store *st, const char *what)
{
	log_err("%s: %s: %s", st->path, what, sqlite3_errmsg(st->db));
	return CM_E_FAIL;
}

/*
 * The cached statement id (its text sql the first time), reset and with
 * its bindings cleared.
 */
sqlite3_stmt *
store_stmt(struct store *st, enum stmt_id id, const char *sql)
{
	sqlite3_stmt	*s = st->stmt[id];

	if (s == NULL) {
		if (sqlite3_prepare_v3(st->db, sql, -1,
		    SQLITE_PREPARE_PERSISTENT, &s, NULL) != SQLITE_OK) {
			sql_fail(st, sql);
			return NULL;
		}
		st->stmt[id] = s;
	}
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return s;
}

/* Step a statement that returns no rows. */
int
step_done(struct store *st, sqlite3_stmt *s, const char *what)
{
	int	 rc = sqlite3_step(s);
	int	 ext = sqlite3_extended_errcode(st->db);

	sqlite3_reset(s);
	if (rc == SQLITE_DONE)
		return 0;
	if ((rc & 0xff) == SQLITE_FULL || sqlite3_system_errno(st->db) ==
	    ENOSPC || sqlite3_system_errno(st->db) == EDQUOT)
		st->disk_full = 1;
	/* Extended result codes are on: rc is SQLITE_CONSTRAINT_UNIQUE etc. */
	if ((rc & 0xff) == SQLITE_CONSTRAINT &&
	    (ext == SQLITE_CONSTRAINT_UNIQUE ||
	    ext == SQLITE_CONSTRAINT_PRIMARYKEY))
		return STORE_E_DUPLICATE;
	return sql_fail(st, what);
}

int
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
int
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

void
bind_text(sqlite3_stmt *s, int i, const char *v)
{
	if (v == NULL)
		sqlite3_bind_null(s, i);
	else
		sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
}

void
bind_blob(sqlite3_stmt *s, int i, const void *v, size_t len)
{
	if (v == NULL)
		sqlite3_bind_null(s, i);
	else
		sqlite3_bind_blob64(s, i, v, len, SQLITE_STATIC);
}

/* malloc, or from arena a when not NULL. */
void *
mem_take(struct arena *a, size_t len)
{
	return a != NULL ? arena_take(a, len) : malloc(len);
}

char *
col_text_in(struct arena *a, sqlite3_stmt *s, int i)
{
	const unsigned char *v = sqlite3_column_text(s, i);
	size_t		 n;
	char		*p;

	if (v == NULL)
		return NULL;
	n = (size_t)sqlite3_column_bytes(s, i);
	if ((p = mem_take(a, n + 1)) != NULL) {
		memcpy(p, v, n);
		p[n] = '\0';
	}
	return p;
}

unsigned char *
col_blob_in(struct arena *a, sqlite3_stmt *s, int i, size_t *len)
{
	const void	*v = sqlite3_column_blob(s, i);
	size_t		 n = (size_t)sqlite3_column_bytes(s, i);
	unsigned char	*p;

	*len = 0;
	if (v == NULL)
		return NULL;
	if ((p = mem_take(a, n ? n : 1)) == NULL)
		return NULL;
	memcpy(p, v, n);
	*len = n;
	return p;
}

char *
col_text(sqlite3_stmt *s, int i)
{
	return col_text_in(NULL, s, i);
}

unsigned char *
col_blob(sqlite3_stmt *s, int i, size_t *len)
{
	return col_blob_in(NULL, s, i, len);
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

int64_t
store_free_bytes(struct store *st)
{
	struct statvfs	 vfs;

	if (statvfs(st->path, &vfs) == -1)
		return -1;
	return (int64_t)vfs.f_bavail * (int64_t)vfs.f_frsize;
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
	if (smode == SQLITE_CHECKPOINT_TRUNCATE) {
		st->wal_frames = 0;
		st->disk_full = 0;
	}
	return 0;
}

int
store_checked(struct store *st)
{
	return st->checked;
}

int
store_disk_full(struct store *st)
{
	return st->disk_full;
}

/*
 * Is the database file SQLite writes still the one at its path? Deleted
 * (or replaced) under a running daemon, every change would go to a file
 * nobody will open again and vanish at the stop: refused, said once.
 */
static int
file_still_there(struct store *st)
{
	struct stat	 sb;

	if (st->ino == 0)
		return 1;
	if (stat(st->path, &sb) == 0 && sb.st_dev == st->dev &&
	    sb.st_ino == st->ino)
		return 1;
	if (!st->gone_said++)
		log_err("%s: the database file was deleted or replaced while "
		    "open: changes are refused, as they would be lost; stop "
		    "certmintd and put the database back (certmint restore)",
		    st->path);
	return 0;
}

int
store_begin(struct store *st)
{
	sqlite3_stmt	*s = stmt(st, S_BEGIN);

	if (!file_still_there(st))
		return CM_E_FAIL;
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
	sqlite3_bind_int(s, 15, c->ca_idx);
	return step_done(st, s, "insert certificate");
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

int
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
	c->ca_idx = sqlite3_column_int(s, col + 14);
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

/* The integer that statement s (bound to bind, if not NULL) returns. */
int
stmt_int(struct store *st, sqlite3_stmt *s, const char *bind, int64_t *out)
{
	int		 rc;

	if (s == NULL)
		return CM_E_FAIL;
	if (bind != NULL)
		bind_text(s, 1, bind);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return rc == SQLITE_ROW ? 0 : sql_fail(st, sqlite3_sql(s));
}

int
store_max_request_id(struct store *st, int64_t *out)
{
	return stmt_int(st, stmt(st, S_MAX_REQ), NULL, out);
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
