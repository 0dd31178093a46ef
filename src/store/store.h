/*
 * store.h - the CA database (SQLite; see docs/design.md for why there is no
 * backend table yet). A struct store is one connection: use it from one
 * thread at a time. All writes happen between store_begin and store_commit,
 * so that a request row, its certificate and its event rows commit together.
 *
 * Every function returns 0 on success and a negative CM_E_* on failure
 * (CM_E_NOTFOUND for an unknown id); errors are logged with the SQL error.
 */
#ifndef CM_STORE_H
#define CM_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "../common/common.h"

#define CR_IN_PKCS10	0x100	/* RequestType */
#define CR_IN_IMPORT	0x0	/* certmint: an imported certificate has no request */

/* A certificate's serial is already in the database. */
#define STORE_E_DUPLICATE	(-100)
/* store_request_update: the row is not in the expected disposition. */
#define STORE_E_CONFLICT	(-101)
/* store_checkpoint: a reader's snapshot kept frames in the WAL. */
#define STORE_E_BUSY		(-102)

struct db_attr {
	char		*name;
	char		*value;
};

struct db_ext {
	char		*oid;
	int32_t		 flags;		/* CM_EXTENSION_* flags and origin */
	unsigned char	*value;		/* DER extnValue contents */
	size_t		 len;
};

/* One row of the request table (AD CS request properties). */
struct db_request {
	int64_t		 id;			/* RequestID */
	unsigned char	*raw_request;		/* RawRequest (DER), may be NULL */
	size_t		 raw_request_len;
	int32_t		 request_type;		/* RequestType */
	int32_t		 request_flags;		/* RequestFlags */
	int32_t		 disposition;		/* Disposition, CM_DISP_* */
	char		*disposition_message;	/* DispositionMessage */
	int32_t		 status_code;		/* StatusCode */
	char		*requester_name;	/* RequesterName */
	char		*caller_name;		/* CallerName */
	int64_t		 submitted_when;	/* SubmittedWhen, 0 = unset */
	int64_t		 resolved_when;		/* ResolvedWhen */
	int64_t		 revoked_when;		/* RevokedWhen */
	int64_t		 revoked_effective_when; /* RevokedEffectiveWhen */
	int32_t		 revoked_reason;	/* RevokedReason, -1 = not revoked */
	int64_t		 unrevoked_when;	/* last release from hold, 0 = never */
	char		*request_dn;		/* Request.DistinguishedName */
	unsigned char	*request_raw_name;	/* Request.RawName */
	size_t		 request_raw_name_len;
	char		*profile;		/* CertificateTemplate */
	int		 was_pending;		/* went through the pending queue */
	int64_t		 history_seq;		/* store_request_get: the last
						   event before its last update
						   (0: never updated) */
	struct db_attr	*attrs;			/* request attributes */
	size_t		 nattrs;
	struct db_ext	*exts;			/* request and certificate extensions */
	size_t		 nexts;
};

/* One certificate (AD CS certificate properties). */
struct db_cert {
	int64_t		 request_id;
	char		*serial;		/* SerialNumber, lowercase hex */
	unsigned char	*raw;			/* RawCertificate */
	size_t		 raw_len;
	int64_t		 not_before;
	int64_t		 not_after;
	char		*subject_dn;		/* DistinguishedName */
	unsigned char	*raw_name;		/* RawName */
	size_t		 raw_name_len;
	char		*common_name;		/* first CN, for views; may be NULL */
	char		*public_key_algorithm;	/* PublicKeyAlgorithm (OID) */
	int32_t		 public_key_length;	/* PublicKeyLength */
	unsigned char	*raw_public_key;	/* RawPublicKey */
	size_t		 raw_public_key_len;
	unsigned char	*raw_public_key_params;	/* RawPublicKeyAlgorithmParameters */
	size_t		 raw_public_key_params_len;
	char		*hash;			/* CertificateHash (SHA-256 hex) */
	char		*ski;			/* SubjectKeyIdentifier hex, may be NULL */
	int		 ca_idx;		/* the CA certificate that signed it
						   (ca_certs index) */
};

struct db_crl {
	int64_t		 row_id;		/* CRLRowId */
	int64_t		 number;		/* CRLNumber */
	int64_t		 base_number;		/* CRLMinBase; -1 for a base CRL */
	int64_t		 this_update;
	int64_t		 next_update;
	int64_t		 count;			/* CRLCount: entries */
	int64_t		 as_of_seq;		/* the newest event its entries
						   include; -1: unknown (signed
						   before migration 7) */
	unsigned char	*raw;			/* CRLRawCRL */
	size_t		 raw_len;
	int		 key_idx;		/* the CA key that signed it (the
						   index of its first CA
						   certificate: the CRL index) */
};

/* An event row (the transactional outbox of DESIGN.md section 2). */
struct db_event {
	int64_t		 seq;			/* EventSequence, assigned on insert */
	int32_t		 event;			/* one CM_EXITEVENT_* bit */
	int64_t		 context;		/* request id, or 0 */
	int64_t		 time;			/* EventTime */
	int64_t		 crl_row_id;		/* CRLISSUED: the CRL, else 0 */
};

/* A revoked (or, for delta CRLs, released) certificate. */
struct db_revoked {
	const char	*serial;		/* hex */
	int64_t		 revoked_when;
	int64_t		 revoked_effective_when;
	int32_t		 reason;		/* 8 (removeFromCRL) for a release */
	int64_t		 not_after;		/* of the certificate */
	const char	*profile;		/* its profile; may be NULL */
};

enum db_view {
	VIEW_QUEUE,	/* pending */
	VIEW_LOG,	/* issued, revoked, failed, denied */
	VIEW_LOGFAIL,	/* failed and denied */
	VIEW_REVOKED,	/* revoked */
	VIEW_ISSUED,	/* issued (not revoked), not expired */
	VIEW_ALL,	/* every request */
	VIEW_EXPIRED,	/* issued, past its notAfter (VIEW_ISSUED: not yet) */
	VIEW__MAX
};
const char	*db_view_name(enum db_view);	/* "queue", "log", ... */
enum db_view	 db_view_from_name(const char *);

struct db_filter {
	enum db_view	 view;
	int64_t		 min_id;	/* 0 = no bound */
	int64_t		 max_id;	/* 0 = no bound */
	const char	*requester;	/* exact RequesterName or NULL */
	const char	*common_name;	/* substring of the certificate or request CN, or NULL */
	const char	*serial;	/* serial prefix (lowercase hex) or NULL */
	const char	*profile;	/* the request's profile, or NULL */
	int64_t		 expiring;	/* > 0: issued, expiring within this
					   many seconds from now */
	int64_t		 now;		/* 0: time_now() */
	int64_t		 since;		/* SubmittedWhen >= since; 0 = no bound */
	int64_t		 until;		/* SubmittedWhen < until; 0 = no bound */
	int		 limit;		/* 0 = no limit */
};

/* Counts for `certmint status`. */
struct db_stats {
	int64_t		 pending, issued, revoked, denied, failed, total;
	int64_t		 crls;
	int64_t		 last_event_seq;
};

#define STORE_CREATE	0x1	/* create the file and schema if missing */
#define STORE_READONLY	0x2
#define STORE_NEW	0x4	/* create; refuse anything at path (init) */
#define STORE_TRUSTED	0x8	/* refuse a file others may write (certmintd) */

struct store;

/*
 * Open the database at path, applying pending schema migrations (unless
 * read-only). SQLite: WAL, synchronous=FULL, foreign keys on, busy timeout.
 * Returns NULL with a message in err.
 */
struct store	*store_open(const char *path, int flags, char *err, size_t errlen);
void		 store_close(struct store *);
int		 store_schema_version(struct store *);

/*
 * WAL checkpoints, for the writer's connection (docs/design.md, Storage):
 * store_wal_manual turns SQLite's automatic checkpoint off on st, caps the
 * WAL file kept after a reset at limit_bytes and starts counting frames;
 * store_wal_frames is the WAL's length in frames after st's last commit (0
 * after a TRUNCATE); store_checkpoint backfills it (STORE_CKPT_PASSIVE: as
 * far as readers allow, without waiting; RESTART: waits at most busy_ms for
 * readers so that the next commit rewrites the WAL from its start;
 * TRUNCATE: also empties the file). 0 when every frame was backfilled,
 * STORE_E_BUSY when a reader kept some.
 */
#define STORE_CKPT_PASSIVE	0
#define STORE_CKPT_RESTART	1
#define STORE_CKPT_TRUNCATE	2
int	 store_wal_manual(struct store *, int64_t limit_bytes);
int64_t	 store_wal_frames(struct store *);
int	 store_checkpoint(struct store *, int mode, int busy_ms);
/*
 * Did st's open pass PRAGMA quick_check already (a WAL left by a crash,
 * read before it could be applied)? Then the start need not run it again.
 */
int	 store_checked(struct store *);
/*
 * Has a write on st failed for want of space since its WAL was last
 * emptied (STORE_CKPT_TRUNCATE)? The WAL then holds space that the
 * database file needs to take its frames back.
 */
int	 store_disk_full(struct store *);
/* The space left for st's files (statvfs), octets; -1 when unknown. */
int64_t	 store_free_bytes(struct store *);

int	 store_begin(struct store *);		/* BEGIN IMMEDIATE */
int	 store_commit(struct store *);
int	 store_rollback(struct store *);

/* Insert a request with its attributes and extensions; req->id is set by the caller (> 0). */
int	 store_request_insert(struct store *, const struct db_request *);
/*
 * Update the mutable columns of request req->id (disposition, message,
 * status, resolved, revoked*, unrevoked_when, profile, was_pending) and
 * replace its extensions when req->exts is not NULL. If expect_disposition
 * >= 0 and the row's disposition differs, change nothing and return
 * STORE_E_CONFLICT.
 */
int	 store_request_update(struct store *, const struct db_request *,
	    int32_t expect_disposition);
/* Replace attribute name of request id (for set-attributes); value NULL deletes. */
int	 store_attr_set(struct store *, int64_t id, const char *name,
	    const char *value);
/* STORE_E_DUPLICATE if the serial exists. */
int	 store_cert_insert(struct store *, const struct db_cert *);
int	 store_crl_insert(struct store *, struct db_crl *);	/* sets row_id */
int	 store_event_insert(struct store *, struct db_event *);	/* sets seq */

/* Reads. The caller frees results with the matching *_free. */
int	 store_request_get(struct store *, int64_t id, struct db_request *);
/*
 * Many requests read at once (store_requests_get_many): v[i] is the
 * request of the i-th id asked for, or zeroed (id 0) when there is none
 * or it must be read on its own (store_request_get). Read-only: their
 * strings and blobs share one allocation, freed by db_requests_free.
 */
struct db_requests {
	struct db_request *v;
	size_t		 n;
	struct arena	*mem;
};

/*
 * The requests of ids[0..n) (ascending, distinct), each with its
 * attributes and extensions, read in one transaction: one statement for
 * the rows and one for the attributes, where reading them one by one took
 * two statements and two transactions each. 0, or an error with nothing
 * left allocated.
 */
int	 store_requests_get_many(struct store *, const int64_t *ids, size_t n,
	    struct db_requests *out);
void	 db_requests_free(struct db_requests *);
int	 store_cert_get(struct store *, int64_t request_id, struct db_cert *);
int	 store_cert_by_serial(struct store *, const char *serial, struct db_cert *);
int	 store_crl_get(struct store *, int64_t row_id, struct db_crl *);
/* The newest base (delta) CRL of key key_idx; CM_E_NOTFOUND if none. */
int	 store_crl_latest(struct store *, int delta, int key_idx,
	    struct db_crl *);
/* store_crl_latest without the raw bytes (raw NULL): what a schedule reads. */
int	 store_crl_latest_head(struct store *, int delta, int key_idx,
	    struct db_crl *);
/* Every CRL, newest first, without its raw bytes; at most limit (0: all). */
int	 store_crl_each(struct store *, int limit,
	    int (*cb)(void *, const struct db_crl *), void *arg);
int	 store_max_request_id(struct store *, int64_t *);	/* 0 if empty */
int	 store_max_crl_number(struct store *, int64_t *);	/* 0 if none */
/* The highest serial of the ordered form (0x01, time, random) in hex, "" if none. */
int	 store_max_ordered_serial(struct store *, char *, size_t);
int	 store_stats(struct store *, struct db_stats *);

/*
 * Call cb for each entry of a CRL, in no particular order (crl_build
 * sorts), all read in one snapshot; *as_of is the newest event in it, the
 * CRL's as_of_seq. base NULL (a base CRL): every certificate now revoked.
 * base not NULL (a delta CRL on it): the certificates whose revocation an
 * event after base->as_of_seq changed, as they now are: revoked (their
 * reason), or released from hold (reason 8, removeFromCRL). An entry
 * the base lists and nothing changed since is not repeated. A base of
 * unknown as_of_seq (-1) goes by time: changes from its thisUpdate's
 * second on. Only the certificates that CA certificates lo to hi (ca_idx)
 * signed: those of one key. A non-zero return from cb stops the walk and
 * is returned.
 */
int	 store_revoked_each(struct store *, const struct db_crl *base,
	    int lo, int hi, int (*cb)(void *, const struct db_revoked *),
	    void *arg, int64_t *as_of);

/*
 * Call cb for each request matching the filter, by ascending id, with its
 * certificate (NULL if none). Attributes and extensions are not loaded.
 * Rows are read a page at a time and cb runs outside any read transaction,
 * so that a slow cb keeps no snapshot (and so no WAL) alive.
 */
int	 store_view(struct store *, const struct db_filter *,
	    int (*cb)(void *, const struct db_request *, const struct db_cert *),
	    void *arg);

/* Events with seq > after, ascending, at most limit. */
int	 store_events_after(struct store *, int64_t after, int limit,
	    int (*cb)(void *, const struct db_event *), void *arg);

/*
 * Exit-module delivery state (migration 2): one cursor per module (the last
 * event seq handled) and the events given up on after every retry.
 */
struct db_dead_letter {
	char		*module;
	int64_t		 seq;		/* the event */
	int32_t		 event;
	int64_t		 context;
	int32_t		 attempts;
	char		*error;		/* the last failure */
	int64_t		 time;		/* when it was given up on */
};
int	 store_event_get(struct store *, int64_t seq, struct db_event *);
int	 store_cursor_get(struct store *, const char *module, int64_t *seq);	/* CM_E_NOTFOUND if none */
int	 store_cursor_set(struct store *, const char *module, int64_t seq);
/* Insert, or replace the row of the same module and seq. */
int	 store_dead_letter_add(struct store *, const struct db_dead_letter *);
int	 store_dead_letter_delete(struct store *, const char *module, int64_t seq);
/* Dead letters of module (NULL: all), by seq. */
int	 store_dead_letter_each(struct store *, const char *module,
	    int (*cb)(void *, const struct db_dead_letter *), void *arg);
int	 store_dead_letter_count(struct store *, const char *module, int64_t *n);

/*
 * Snapshots (history.c): the state an event's exit module reads. seq is an
 * event's EventSequence; seq <= 0 means now.
 *
 * store_request_get_at: request id as it was when event seq committed.
 * store_crl_at: the newest base (delta) CRL of key key_idx published by
 * event seq; CM_E_NOTFOUND if none.
 * store_cacert_note: record der as CA certificate idx, of key key_idx
 * (the index of the first CA certificate with its key), unless it is
 * recorded; STORE_E_CONFLICT when idx is another certificate.
 * store_cacert_at: the CA certificate of index idx (the newest if idx < 0)
 * among those in use by event seq, malloc'd, their count and (key_idx
 * not NULL) its key's index.
 */
int	 store_request_get_at(struct store *, int64_t id, int64_t seq,
	    struct db_request *);
int	 store_crl_at(struct store *, int delta, int key_idx, int64_t seq,
	    struct db_crl *);
int	 store_cacert_note(struct store *, int idx, int key_idx,
	    const unsigned char *der, size_t len);
int	 store_cacert_at(struct store *, int64_t seq, int idx,
	    unsigned char **der, size_t *len, int *count, int *key_idx);

/*
 * The database's health and identity (meta.c). store_meta_get: a value of
 * the meta table (database_id), malloc'd; CM_E_NOTFOUND if none.
 * store_quick_check: 0 when PRAGMA quick_check finds nothing, else -1 with
 * its first finding in err; store_quick_check_cancel: the same, but every
 * few milliseconds cancel(arg) is asked and a non-zero answer stops it:
 * 1. store_released_since: how many certificates
 * left the CRL at or after t, released from hold or purged (certmint
 * purge --revoked-too): a base CRL may list that many fewer than the one
 * before it.
 */
int	 store_meta_get(struct store *, const char *key, char **value);
int	 store_quick_check(struct store *, char *err, size_t errlen);
int	 store_quick_check_cancel(struct store *, int (*cancel)(void *),
	    void *arg, char *err, size_t errlen);
int	 store_released_since(struct store *, int64_t t, int64_t *n);
/*
 * backup.c: copy st's database, as of one commit, to a new file dst
 * (0600, refused if it exists or is a link), and check the copy. 0, or -1
 * with err (and no dst left behind).
 */
int	 store_backup(struct store *st, const char *dst, char *err,
	    size_t errlen);

/*
 * purge.c: `certmint purge`. In st's open transaction, remove the
 * requests whose certificate expired before p->before (issued or revoked
 * ones only: pending, denied and failed requests are not in scope), with
 * their certificate, attributes, history rows and events, except those
 * kept (p->kept[reason]):
 *   PURGE_KEEP_NEWEST: the highest request id, or the certificate of the
 *     highest ordered serial: the next id and the serials' time floor
 *     come from them at start (open.c), so neither goes back;
 *   PURGE_KEEP_REVOKED: revoked (still listed on the CRLs), unless
 *     p->revoked_too;
 *   PURGE_KEEP_DEAD_LETTER: an event of it is a dead letter (a module may
 *     replay it), or it is the certificate such a renewal replaces;
 *   PURGE_KEEP_UNDELIVERED: an event of it (or of a renewal of it) is
 *     after the saved cursor of one of p->modules, the registered exit
 *     modules.
 * p->dry_run counts without deleting. Revoked certificates purged are
 * noted at p->now for store_released_since. The counts are set afresh on
 * each call. 0, or CM_E_FAIL (the caller rolls back).
 */
enum db_purge_keep {
	PURGE_REMOVE,
	PURGE_KEEP_NEWEST,
	PURGE_KEEP_REVOKED,
	PURGE_KEEP_DEAD_LETTER,
	PURGE_KEEP_UNDELIVERED,
	PURGE_KEEP__MAX
};
struct db_purge {
	int64_t		 before;	/* certificates with notAfter < before */
	int		 revoked_too;
	int		 dry_run;
	const char *const *modules;	/* registered exit modules */
	size_t		 nmodules;
	int64_t		 now;
	/* Out: rows removed (dry_run: that would be). */
	int64_t		 requests, certs, events, attrs, history;
	int64_t		 revoked;	/* revoked certificates among them */
	/*
	 * ACME orders that expired before `before`, not processing (a
	 * request of theirs may be pending), with their authorizations and
	 * challenges: anyone can make them, and nothing else removes them.
	 */
	int64_t		 acme_orders, acme_authzs, acme_challs;
	int64_t		 kept[PURGE_KEEP__MAX];	/* [PURGE_REMOVE]: removed */
	int64_t		 delivered;	/* the lowest module cursor;
					   INT64_MAX: none */
	char		 slowest[128];	/* the module with it */
};
int	 store_purge(struct store *, struct db_purge *);
/* Revoked certificates purged at or after t (for store_released_since). */
int	 store_purged_revoked_since(struct store *, int64_t t, int64_t *n);

void	 db_request_free(struct db_request *);
void	 db_cert_free(struct db_cert *);
void	 db_crl_free(struct db_crl *);

/*
 * Exit-module crash quarantine (migration 5): the crashes of each module
 * with the event it was in, and the modules suspended for crashing.
 */
struct db_exit_crash {
	const char	*module;
	int64_t		 seq;		/* the event; 0: none (a failed restart) */
	int64_t		 time;
	const char	*cause;		/* "module process killed by SIGSEGV" */
	int		 counted;	/* counts for the module's suspension */
};
int	 store_exit_crash_add(struct store *, const struct db_exit_crash *);
/* The crashes of module, oldest first. */
int	 store_exit_crash_each(struct store *, const char *module,
	    int (*cb)(void *, const struct db_exit_crash *), void *arg);
/* Forget module's crashes and suspension (`certmint exit resume`). */
int	 store_exit_resume(struct store *, const char *module);
int	 store_exit_suspend(struct store *, const char *module, int64_t since,
	    const char *reason);
/* Into reason (len bytes); CM_E_NOTFOUND when module is not suspended. */
int	 store_exit_suspended(struct store *, const char *module, int64_t *since,
	    char *reason, size_t len);

/*
 * REST API tokens (migration 9, tokens.c): the SHA-256 of the secret, the
 * scope (profiles: comma-separated, "" for any; names: comma-separated
 * patterns) and times (expires, revoked: 0 for never, not revoked).
 */
#define TOKEN_HASH_LEN	32
struct db_token {
	char		*name;
	unsigned char	 hash[TOKEN_HASH_LEN];
	char		*profiles;
	char		*names;
	int64_t		 created;
	int64_t		 expires;
	int64_t		 revoked;
};
void	 db_token_free(struct db_token *);
/* STORE_E_DUPLICATE when the name (or the hash) is taken. */
int	 store_token_add(struct store *, const struct db_token *);
/* CM_E_NOTFOUND when no token has hash. */
int	 store_token_by_hash(struct store *, const unsigned char *hash,
	    struct db_token *);
/* cb for each token by name; a non-zero return stops and is returned. */
int	 store_token_each(struct store *,
	    int (*cb)(void *, const struct db_token *), void *arg);
/* CM_E_NOTFOUND when no token of that name is unrevoked. */
int	 store_token_revoke(struct store *, const char *name, int64_t when);

#endif /* CM_STORE_H */
