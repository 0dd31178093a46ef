/*
 * store.c - the CA database on SQLite: WAL, synchronous=FULL, numbered
 * migrations, prepared statements kept for the connection's life.
 */

#include <sys/file.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "../common/config.h"
#include "schema.h"
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


/* How long a statement waits for another connection's lock. */
#define BUSY_MS		5000

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

/* Is path on a read-only file system? */
static int
readonly_mount(const char *path)
{
	struct statvfs	 vfs;

	return statvfs(path, &vfs) == 0 && (vfs.f_flag & ST_RDONLY);
}

/*
 * Say why st's last statement failed, so that the operator knows what to
 * fix: a read-only mount, a full disk, a permission or an I/O error is
 * not "not a certmint database"; otherwise is said for the rest
 * (SQLITE_NOTADB, a missing table).
 */
static void
open_error(struct store *st, const char *doing, const char *otherwise,
    char *err, size_t errlen)
{
	int		 code = sqlite3_extended_errcode(st->db);
	int		 sys = sqlite3_system_errno(st->db);
	const char	*msg = sqlite3_errmsg(st->db);
	const char	*why = sys != 0 ? strerror(sys) : msg;

	/* A WAL database cannot even be read there without its -shm. */
	if (readonly_mount(st->path)) {
		snprintf(err, errlen, "%s: cannot %s the database: it is on a "
		    "read-only file system (%s)", st->path, doing, msg);
		return;
	}
	/* SQLite says "disk I/O error" when the -shm cannot grow. */
	if (sys == ENOSPC || sys == EDQUOT)
		code = SQLITE_FULL;
	switch (code & 0xff) {
	case SQLITE_READONLY:
		snprintf(err, errlen, "%s: cannot write the database (%s): a "
		    "read-only file system or no write permission?", st->path,
		    why);
		break;
	case SQLITE_FULL:
		snprintf(err, errlen, "%s: cannot %s the database: the disk is "
		    "full (%s)", st->path, doing, why);
		break;
	case SQLITE_CANTOPEN:
	case SQLITE_PERM:
	case SQLITE_AUTH:
	case SQLITE_IOERR:
	case SQLITE_NOMEM:
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		snprintf(err, errlen, "%s: cannot %s the database: %s%s%s%s",
		    st->path, doing, msg, sys != 0 ? " (" : "",
		    sys != 0 ? why : "", sys != 0 ? ")" : "");
		break;
	case SQLITE_CORRUPT:
		snprintf(err, errlen, "%s: the database is damaged (%s)",
		    st->path, msg);
		break;
	default:
		snprintf(err, errlen, "%s: %s (%s)", st->path, otherwise, msg);
		break;
	}
}

/* The files SQLite keeps beside a database, named by their ending. */
static const struct {
	const char	*suffix;
	const char	*what;
} side_files[] = {
	{ "-wal", "WAL" },
	{ "-shm", "WAL index" },
	{ "-journal", "rollback journal" },
};

/*
 * The files SQLite opens beside the database at path, before it does: each
 * that is there must be a regular file, not a link. SQLite opens a FIFO or
 * a directory there only to fail with "disk I/O error", naming no file.
 * With trusted, others must not be able to write them either: what is in
 * the WAL or a journal goes into the database. lstat only: opening a FIFO
 * could wait. Returns 0, or -1 with err.
 */
static int
side_files_check(const char *path, int trusted, char *err, size_t errlen)
{
	struct stat	 sb;
	char		 real[PATH_MAX], side[PATH_MAX + 16], what[64];
	size_t		 i;

	/* SQLite puts them beside the file a link names, as realpath does. */
	if (realpath(path, real) == NULL)
		strlcpy_cm(real, path, sizeof(real));
	for (i = 0; i < nitems(side_files); i++) {
		snprintf(side, sizeof(side), "%s%s", real, side_files[i].suffix);
		if (lstat(side, &sb) == -1) {
			if (errno == ENOENT)
				continue;
			snprintf(err, errlen, "%s: %s", side, strerror(errno));
			return -1;
		}
		if (!S_ISREG(sb.st_mode)) {
			snprintf(err, errlen, "%s: not a regular file (%s), where "
			    "SQLite keeps the database's %s: nothing was "
			    "changed; move it away", side, file_kind(sb.st_mode),
			    side_files[i].what);
			return -1;
		}
		snprintf(what, sizeof(what), "the database's %s",
		    side_files[i].what);
		if (trusted && file_check_mode(&sb, side, what, 0, err,
		    errlen) == -1)
			return -1;
	}
	return 0;
}

/*
 * Check the file at path before SQLite opens it and say whether it is a
 * new one (*creating): a regular file, not empty unless flags say create,
 * only regular files beside it (side_files_check), and with STORE_TRUSTED
 * one only root or we can write (its stat is left in sb, for store_open
 * to compare with what SQLite opened). With
 * STORE_NEW nothing may be at path, not even a link: the file is made
 * here with O_EXCL. An existing file is never opened here: closing a
 * descriptor of it would drop the POSIX locks of this process's other
 * SQLite connections to it. Returns 0, or -1 with err.
 */
static int
open_check(const char *path, int flags, struct stat *sb, int *creating,
    char *err, size_t errlen)
{
	int	 fd, saved;

	*creating = 0;
	memset(sb, 0, sizeof(*sb));
	if (side_files_check(path, (flags & STORE_TRUSTED) != 0, err,
	    errlen) == -1)
		return -1;
	if ((flags & STORE_NEW) || stat(path, sb) == -1) {
		if (!(flags & STORE_NEW) && (errno != ENOENT ||
		    !(flags & STORE_CREATE) || (flags & STORE_READONLY))) {
			snprintf(err, errlen, "%s: %s%s", path,
			    strerror(errno), errno == ENOENT ?
			    " (run certmint init)" : "");
			return -1;
		}
		/* Create it ourselves so that it is never world-readable. */
		if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
		    O_CLOEXEC, 0600)) == -1) {
			snprintf(err, errlen, "%s: %s", path, errno == EEXIST ?
			    "something is already there; not using it" :
			    strerror(errno));
			return -1;
		}
		if (fstat(fd, sb) == -1) {
			saved = errno;
			close(fd);
			unlink(path);
			snprintf(err, errlen, "%s: %s", path, strerror(saved));
			return -1;
		}
		close(fd);
		*creating = 1;
		return 0;
	}
	if (!S_ISREG(sb->st_mode)) {
		snprintf(err, errlen, "%s: not a regular file (%s)", path,
		    file_kind(sb->st_mode));
		return -1;
	}
	if ((flags & STORE_TRUSTED) && file_check_mode(sb, path,
	    "the database", 0, err, errlen) == -1)
		return -1;
	*creating = sb->st_size == 0 && (flags & STORE_CREATE);
	return 0;
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
		open_error(st, "read", "not a certmint database", err, errlen);
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
		snprintf(err, errlen, "%s: empty database: the CA's records "
		    "are not in it; restore it from a backup (certmint "
		    "restore)", st->path);
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
		if (exec_sql(st, "BEGIN IMMEDIATE") == -1) {
			open_error(st, "write", "schema migration failed", err,
			    errlen);
			return -1;
		}
		if (exec_sql(st, schema_migration(v)) == -1 ||
		    exec_sql(st, sql) == -1 || exec_sql(st, "COMMIT") == -1) {
			/* Before ROLLBACK, which replaces SQLite's message. */
			open_error(st, "write", "schema migration failed", err,
			    errlen);
			exec_sql(st, "ROLLBACK");
			return -1;
		}
		if (v > 1)
			log_info("%s: migrated to schema version %d", st->path,
			    v);
	}
	return 0;
}

/*
 * The URI uri_fmt makes of path ("file:%s?mode=ro"), with what SQLite
 * would read as syntax in path escaped; sqlite3_free it. NULL if none.
 */
static char *
path_uri(const char *path, const char *uri_fmt)
{
	char		 esc[3 * PATH_MAX + 1];
	size_t		 i, o = 0;

	for (i = 0; path[i] != '\0' && o + 4 < sizeof(esc); i++)
		if (path[i] == '%' || path[i] == '?' || path[i] == '#' ||
		    (unsigned char)path[i] <= ' ' ||
		    (unsigned char)path[i] >= 0x7f)
			o += (size_t)snprintf(esc + o, sizeof(esc) - o, "%%%02X",
			    (unsigned char)path[i]);
		else
			esc[o++] = path[i];
	if (path[i] != '\0')
		return NULL;
	esc[o] = '\0';
	return sqlite3_mprintf(uri_fmt, esc);
}

/*
 * One value of path, opened read-only as uri_fmt makes its URI ("%s?mode=ro":
 * with its WAL; "%s?immutable=1": the file alone), by sql. 1 with the value
 * in out, 0 when there is none (no such table: an older schema), -1 when
 * the database cannot be read that way (quick_check too when check).
 */
static int
peek(const char *path, const char *uri_fmt, const char *sql, int check,
    char *out, size_t outlen)
{
	sqlite3		*db = NULL;
	sqlite3_stmt	*s = NULL;
	char		*uri;
	const char	*v;
	int		 rc = -1;

	out[0] = '\0';
	if ((uri = path_uri(path, uri_fmt)) == NULL)
		return -1;
	if (sqlite3_open_v2(uri, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI |
	    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
		goto out;
	if (check) {
		if (sqlite3_prepare_v2(db, "PRAGMA quick_check(1)", -1, &s,
		    NULL) != SQLITE_OK || sqlite3_step(s) != SQLITE_ROW ||
		    (v = (const char *)sqlite3_column_text(s, 0)) == NULL ||
		    strcmp(v, "ok") != 0)
			goto out;
		sqlite3_finalize(s);
		s = NULL;
	}
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK) {
		/* An older schema, before the database's identity. */
		rc = strstr(sqlite3_errmsg(db), "no such table") != NULL ? 0 :
		    -1;
		goto out;
	}
	if ((rc = sqlite3_step(s)) == SQLITE_ROW &&
	    (v = (const char *)sqlite3_column_text(s, 0)) != NULL) {
		snprintf(out, outlen, "%s", v);
		rc = 1;
	} else
		rc = rc == SQLITE_DONE ? 0 : -1;
out:
	sqlite3_finalize(s);
	sqlite3_close(db);
	sqlite3_free(uri);
	return rc;
}

/* The database files this process has opened read-write (wal_belongs). */
static pthread_mutex_t	 opened_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
	dev_t	 dev;
	ino_t	 ino;
}			 opened[32];
static size_t		 nopened;

/* Has this process opened the file sb read-write before? */
static int
opened_before(const struct stat *sb)
{
	size_t	 i;
	int	 found = 0;

	pthread_mutex_lock(&opened_mu);
	for (i = 0; i < nopened && !found; i++)
		found = opened[i].dev == sb->st_dev && opened[i].ino == sb->st_ino;
	pthread_mutex_unlock(&opened_mu);
	return found;
}

static void
opened_add(const struct stat *sb)
{
	pthread_mutex_lock(&opened_mu);
	if (nopened < nitems(opened)) {
		opened[nopened].dev = sb->st_dev;
		opened[nopened].ino = sb->st_ino;
		nopened++;
	}
	pthread_mutex_unlock(&opened_mu);
}

/* Does a running certmintd hold the database (its flock, server/main.c)? */
static int
daemon_holds(const char *path)
{
	int	 fd, held;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	held = flock(fd, LOCK_SH | LOCK_NB) == -1 && errno == EWOULDBLOCK;
	close(fd);
	return held;
}

/*
 * A WAL left by a crash is applied to the database by the first
 * read-write connection that closes (a checkpoint): a WAL that is another
 * database's (copied over, restored beside the wrong file) would then
 * overwrite this one for good. So before such an open, the database is
 * read twice without writing anything, as the file alone and with its
 * WAL: refused when with it the database does not read, or is another
 * one (its database_id, migration 6, differs). 0, or -1 with err.
 *
 * Only at this process's first read-write open of the file, sb, and not
 * while a certmintd runs on it: then the WAL is its live one. (Later,
 * opening and closing the file here would also drop the fcntl locks of
 * this process's SQLite connections.)
 *
 * quick_check reads every page: done only where certmintd would check
 * before serving anyway ([ca] startup_check auto, up to
 * CM_CHECK_FULL_MAX), which then takes this one (*checked, and
 * store_checked). A bigger database is told by its id alone: a few pages
 * of another database's WAL are found by the check while serving, after
 * the fact.
 */
static int
wal_belongs(const char *path, const struct stat *sb, int *checked,
    char *err, size_t errlen)
{
	static const char id_sql[] =
	    "SELECT value FROM meta WHERE key = 'database_id'";
	struct stat	 wsb;
	char		 wal[PATH_MAX], alone[128], with[128];
	int		 r1, r2;

	if (opened_before(sb))
		return 0;
	if (snprintf(wal, sizeof(wal), "%s-wal", path) >= (int)sizeof(wal) ||
	    stat(wal, &wsb) == -1 || wsb.st_size == 0 || daemon_holds(path))
		return 0;
	*checked = (int64_t)sb->st_size + (int64_t)wsb.st_size <=
	    CM_CHECK_FULL_MAX;
	r2 = peek(path, "file:%s?mode=ro", id_sql, *checked, with,
	    sizeof(with));
	if (r2 == -1) {
		snprintf(err, errlen, "%s: the database does not read with the "
		    "WAL beside it (%s), which may be another database's. "
		    "Nothing was changed: if that WAL is not this database's, "
		    "move it and %s-shm away; if it is, restore the database "
		    "from a backup (certmint restore)", path, wal, path);
		return -1;
	}
	r1 = peek(path, "file:%s?immutable=1", id_sql, 0, alone,
	    sizeof(alone));
	if (r1 == 1 && r2 == 1 && strcmp(alone, with) != 0) {
		snprintf(err, errlen, "%s: the WAL beside it (%s) is another "
		    "database's (database_id %s, not %s). Nothing was changed: "
		    "move it and %s-shm away", path, wal, with, alone, path);
		return -1;
	}
	return 0;
}

/*
 * A reader on a read-only file system (a backup's medium, a read-only
 * mount): SQLite cannot make the -shm that reading a WAL database takes.
 * When there is no WAL (or an empty one) and no -shm (no certmintd has
 * it open: a clean stop), the file alone is the database, and it is read
 * as it is (immutable). Otherwise it is refused: read without its WAL,
 * the newest commits would be missing. 0, or -1 with err.
 */
static int
readonly_fs(struct store *st, char *err, size_t errlen)
{
	struct stat	 wsb;
	char		 wal[PATH_MAX + 8], *uri;
	int		 rc, shm;

	rc = sqlite3_exec(st->db, "PRAGMA user_version", NULL, NULL, NULL);
	if (rc == SQLITE_OK || (rc & 0xff) != SQLITE_CANTOPEN ||
	    !readonly_mount(st->path))
		return 0;	/* any other error is told by the reads after */
	snprintf(wal, sizeof(wal), "%s-shm", st->path);
	shm = stat(wal, &wsb) == 0;
	snprintf(wal, sizeof(wal), "%s-wal", st->path);
	if ((stat(wal, &wsb) == 0 && wsb.st_size > 0) || shm) {
		snprintf(err, errlen, "%s: cannot read the database: it is on "
		    "a read-only file system, and its WAL (%s) may hold "
		    "commits not in it yet (certmintd runs, or did not stop "
		    "cleanly): read it where it can be written, or a copy "
		    "of the directory", st->path, wal);
		return -1;
	}
	if ((uri = path_uri(st->path, "file:%s?immutable=1")) == NULL) {
		snprintf(err, errlen, "%s: path too long", st->path);
		return -1;
	}
	sqlite3_close(st->db);
	st->db = NULL;
	rc = sqlite3_open_v2(uri, &st->db, SQLITE_OPEN_READONLY |
	    SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX, NULL);
	sqlite3_free(uri);
	if (rc != SQLITE_OK) {
		open_error(st, "read", "cannot open", err, errlen);
		return -1;
	}
	sqlite3_extended_result_codes(st->db, 1);
	return 0;
}

struct store *
store_open(const char *path, int flags, char *err, size_t errlen)
{
	struct store	*st;
	struct stat	 sb, now;
	int		 oflags, creating;

	if ((st = calloc(1, sizeof(*st))) == NULL ||
	    (st->path = strdup(path)) == NULL) {
		free(st);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	st->readonly = (flags & STORE_READONLY) != 0;
	if (open_check(path, flags, &sb, &creating, err, errlen) == -1)
		goto fail;
	if (!st->readonly && !creating &&
	    wal_belongs(path, &sb, &st->checked, err, errlen) == -1)
		goto fail;
	oflags = st->readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
	if (sqlite3_open_v2(path, &st->db, oflags | SQLITE_OPEN_NOMUTEX,
	    NULL) != SQLITE_OK) {
		if (st->db != NULL)
			open_error(st, "open", "cannot open", err, errlen);
		else
			snprintf(err, errlen, "%s: cannot open", path);
		goto fail;
	}
	/*
	 * SQLite has the file open: the one checked unless it was swapped
	 * in between and back (by someone who can write the directory).
	 */
	if ((flags & STORE_TRUSTED) && (stat(path, &now) == -1 ||
	    now.st_dev != sb.st_dev || now.st_ino != sb.st_ino)) {
		snprintf(err, errlen, "%s: replaced while being opened", path);
		goto fail;
	}
	/* The file changes go to: store_begin checks it is still there. */
	if (!st->readonly && stat(path, &now) == 0) {
		st->dev = now.st_dev;
		st->ino = now.st_ino;
	}
	/* SQLite falls back to read-only when it cannot write the file. */
	if (!st->readonly && sqlite3_db_readonly(st->db, "main") == 1) {
		snprintf(err, errlen, "%s: cannot write the database: a "
		    "read-only file system or no write permission (the CA "
		    "must write to it)", path);
		goto fail;
	}
	sqlite3_extended_result_codes(st->db, 1);
	sqlite3_busy_timeout(st->db, BUSY_MS);
	if (st->readonly && readonly_fs(st, err, errlen) == -1)
		goto fail;
	if (exec_sql(st, "PRAGMA synchronous = FULL;"
	    "PRAGMA foreign_keys = ON;") == -1) {
		open_error(st, "read", "not a certmint database", err, errlen);
		goto fail;
	}
	if (migrate(st, creating, err, errlen) == -1)
		goto fail;
	/* Only now: another program's SQLite file is left as it was. */
	if (!st->readonly && exec_sql(st, "PRAGMA journal_mode = WAL") == -1) {
		open_error(st, "write", "cannot switch to WAL", err, errlen);
		goto fail;
	}
	if (!st->readonly)
		opened_add(&sb);
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
