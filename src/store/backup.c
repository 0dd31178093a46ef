/*
 * backup.c - a consistent copy of a live database (SQLite's online backup
 * API): what `certmint backup` takes while certmintd runs (AD CS's
 * certutil -backupDB).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "store_int.h"

/* Pages copied per step, and how long a step may wait for the writer. */
#define BACKUP_PAGES	1024
#define BACKUP_TRIES	600	/* 50 ms apart: 30 s of a busy writer */

int
store_backup(struct store *st, const char *dst, char *err, size_t errlen)
{
	sqlite3		*out = NULL;
	sqlite3_backup	*b;
	struct store	*copy;
	char		 why[256];
	int		 fd, rc, tries = 0;

	/* A new file, never a link to someone else's, never world-readable. */
	if ((fd = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) == -1) {
		snprintf(err, errlen, "%s: %s", dst, strerror(errno));
		return -1;
	}
	close(fd);
	if (sqlite3_open_v2(dst, &out, SQLITE_OPEN_READWRITE, NULL) !=
	    SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", dst, out ? sqlite3_errmsg(out) :
		    "cannot open");
		goto fail;
	}
	if ((b = sqlite3_backup_init(out, "main", st->db, "main")) == NULL) {
		snprintf(err, errlen, "%s: %s", dst, sqlite3_errmsg(out));
		goto fail;
	}
	/*
	 * Each step reads a consistent snapshot; a write by the daemon in
	 * between restarts the copy (SQLite's rule), so the result is the
	 * database as of one commit.
	 */
	do {
		rc = sqlite3_backup_step(b, BACKUP_PAGES);
		if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
			if (++tries > BACKUP_TRIES)
				break;
			usleep(50 * 1000);
		}
	} while (rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED);
	sqlite3_backup_finish(b);
	if (rc != SQLITE_DONE) {
		snprintf(err, errlen, "%s: backup failed: %s", st->path,
		    sqlite3_errstr(rc));
		goto fail;
	}
	/* The copy must be whole: the same check a start makes. */
	if (sqlite3_exec(out, "PRAGMA journal_mode = DELETE", NULL, NULL,
	    NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", dst, sqlite3_errmsg(out));
		goto fail;
	}
	sqlite3_close(out);
	out = NULL;
	if ((copy = store_open(dst, STORE_READONLY, why, sizeof(why))) ==
	    NULL || store_quick_check(copy, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "%s: the copy does not check: %s", dst,
		    why);
		store_close(copy);
		goto fail;
	}
	store_close(copy);
	return 0;
fail:
	if (out != NULL)
		sqlite3_close(out);
	unlink(dst);
	return -1;
}
