/*
 * store_int.h - what the files of the store share: the connection, its
 * cached statements and the SQLite helpers. Not for use outside src/store.
 */
#ifndef CM_STORE_INT_H
#define CM_STORE_INT_H

#include <sqlite3.h>

#include "store.h"

enum stmt_id {
	S_BEGIN, S_COMMIT, S_ROLLBACK,
	S_REQ_INSERT, S_REQ_UPDATE, S_REQ_DISP, S_REQ_GET,
	S_ATTR_INSERT, S_ATTR_DELETE, S_ATTRS_GET,
	S_READ_BEGIN, S_READ_END, S_REQS_RANGE, S_REQS_LIST, S_ATTRS_RANGE,
	S_ATTRS_LIST,
	S_EXTS_DELETE, S_EXTS_GET,
	S_CERT_INSERT, S_CERT_GET, S_CERT_BY_SERIAL,
	S_CRL_INSERT, S_CRL_GET, S_CRL_LATEST_BASE, S_CRL_LATEST_DELTA,
	S_CRL_HEAD_BASE, S_CRL_HEAD_DELTA,
	S_MAX_REQ, S_MAX_CRL, S_MAX_SERIAL,
	S_EVENT_INSERT, S_EVENTS_AFTER, S_EVENT_GET,
	S_REVOKED_ALL, S_REVOKED_SINCE, S_REVOKED_AFTER, S_MAX_EVENT,
	S_CURSOR_GET, S_CURSOR_SET,
	S_DL_ADD, S_DL_DELETE, S_DL_EACH, S_DL_EACH_ALL, S_DL_COUNT,
	S_DL_COUNT_ALL,
	/* How long a statement waits for another connection's lock. */
#define BUSY_MS		5000

/* history.c */
	S_HIST_SAVE, S_HIST_GET, S_HIST_EXTS, S_CRL_AT_BASE, S_CRL_AT_DELTA,
	S_CACERT_GET, S_CACERT_ADD, S_CACERT_AT, S_CACERT_COUNT,
	/* acme.c: its own table of names (enum acme_stmt) in this range */
	S_ACME_FIRST, S_ACME_LAST = S_ACME_FIRST + 39,
	S__MAX
};

struct store {
	sqlite3		*db;
	char		*path;
	int		 readonly;
	sqlite3_stmt	*stmt[S__MAX];
	int64_t		 wal_frames;	/* after the last commit, if counted */
	int		 disk_full;	/* a write failed for space (store_disk_full) */
	int		 checked;	/* quick_check passed at open (wal_belongs) */
	dev_t		 dev;		/* the file SQLite opened (writers) */
	ino_t		 ino;
	int		 gone_said;	/* its loss logged once */
};

/*
 * The cached statement id, reset and with its bindings cleared; sql is its
 * text, used the first time. Each file defines stmt(st, id) with its table.
 */
sqlite3_stmt	*store_stmt(struct store *, enum stmt_id, const char *sql);
int		 sql_fail(struct store *, const char *what);	/* logs, CM_E_FAIL */
int		 step_done(struct store *, sqlite3_stmt *, const char *what);
/* The integer a statement returns (bound to bind if not NULL). */
int		 stmt_int(struct store *, sqlite3_stmt *, const char *bind,
		    int64_t *out);
void		 bind_text(sqlite3_stmt *, int, const char *);
void		 bind_blob(sqlite3_stmt *, int, const void *, size_t);
char		*col_text(sqlite3_stmt *, int);
unsigned char	*col_blob(sqlite3_stmt *, int, size_t *);
/* The same, from arena a (malloc'd when a is NULL). */
void		*mem_take(struct arena *a, size_t);
char		*col_text_in(struct arena *a, sqlite3_stmt *, int);
unsigned char	*col_blob_in(struct arena *a, sqlite3_stmt *, int, size_t *);
/* store.c: a certs row from column col on into c (0 or NOMEM). */
int		 row_to_cert(sqlite3_stmt *, int col, struct db_cert *c);
/* store.c: the integer sql returns, or -1. */
int		 query_int(struct store *, const char *sql, int64_t *out);
/* store.c: run sql (no result rows); 0, or CM_E_FAIL logged. */
int		 exec_sql(struct store *, const char *sql);
/*
 * requests.c: a request row of a REQ_COLS query into r (0 or NOMEM); its
 * strings and blobs from arena a (malloc'd when a is NULL: free r with
 * db_request_free).
 */
int		 row_to_request(sqlite3_stmt *, struct db_request *);
int		 row_to_request_in(struct arena *a, sqlite3_stmt *,
		    struct db_request *);
/*
 * Decode a request's extensions BLOB into r (whose exts are none yet),
 * from arena a as above: 0, CM_E_FAIL or CM_E_NOMEM.
 */
int		 exts_decode(struct arena *a, const unsigned char *, size_t,
		    struct db_request *);

/*
 * history.c: before request id is updated (if its disposition is expect,
 * or any when expect < 0), keep its mutable columns (and its extensions
 * when exts_changed) for the events committed so far.
 */
int		 history_save(struct store *, int64_t id, int32_t expect,
		    int exts_changed);

#endif /* CM_STORE_INT_H */
