/*
 * open.c - opening the CA database: the file and the files SQLite keeps
 * beside it checked before SQLite sees them (kind, owner, mode), a
 * database of another CA or a WAL of another database told apart, a
 * read-only mount served read-only, and the numbered migrations.
 */
#include <sys/file.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <sqlite3.h>

#include "../common/config.h"
#include "schema.h"
#include "store_int.h"

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
