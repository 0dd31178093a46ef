/*
 * ca.h - the certificate authority: request lifecycle, default policy,
 * issuance, revocation, CRLs and the events outbox.
 *
 * Every state change goes through the writer thread (writer.c), which
 * commits many changes per transaction (group commit) and returns to each
 * caller only once its change is durable. Event rows are written in the same
 * transaction as the change that raised them.
 */
#ifndef CM_CA_H
#define CM_CA_H

#include <pthread.h>
#include <stdint.h>

#include <certmint/exit.h>
#include <certmint/policy.h>

#include "../common/common.h"
#include "../common/config.h"
#include "../crypto/crypto.h"
#include "../store/store.h"

/* Outcome classes, mapped to HTTP statuses and admin error codes. */
enum ca_status {
	CA_OK,
	CA_E_BADREQ,	/* malformed input (recorded as failed when a submission) */
	CA_E_NOTFOUND,	/* unknown request id or serial */
	CA_E_CONFLICT,	/* wrong state for this action */
	CA_E_DENIED,	/* the policy or an officer refused */
	CA_E_TOOLARGE,	/* body over [server] max_body */
	CA_E_SHUTDOWN,	/* the CA is stopping */
	CA_E_INTERNAL,
	CA_E__MAX
};
const char	*ca_status_code(enum ca_status);	/* "bad_request", ... */

/* AD CS status codes recorded in StatusCode. */
#define STATUS_ASN1_ERROR	((int32_t)0x80093100)	/* CRYPT_E_ASN1_ERROR */
#define STATUS_BAD_SIGNATURE	((int32_t)0x80090006)	/* NTE_BAD_SIGNATURE */
#define STATUS_TOO_LARGE	((int32_t)0x80094007)	/* CERTSRV_E_ENCODING_LENGTH */
#define STATUS_POLICY_DENIED	((int32_t)0x80070005)	/* E_ACCESSDENIED */
#define STATUS_BAD_ALGID	((int32_t)0x80090008)	/* NTE_BAD_ALGID: a key
							   type not allowed */
#define STATUS_ADMIN_DENIED	((int32_t)0x80094014)	/* CERTSRV_E_ADMIN_DENIED_REQUEST */
#define STATUS_INTERNAL		((int32_t)0x80004005)	/* E_FAIL */

/* The result of an action: the request row as it now is, and its certificate. */
struct ca_result {
	enum ca_status	 status;
	char		 error[512];	/* for CA_E_*: a message for a person */
	int		 has_request;
	struct db_request req;
	int		 has_cert;
	struct db_cert	 cert;
	struct db_crl	*crls;		/* ca_publish_crl: the current key's
					   base and delta, then each older
					   key's */
	int		 ncrls;
};
void	 ca_result_free(struct ca_result *);

/* Called by the writer after each commit that wrote events. */
typedef void (*ca_commit_hook)(void *arg, int64_t last_event_seq);

struct ca;

/*
 * Where issuance time goes, summed since the daemon started (nanoseconds).
 * Wall-clock per submission, except writer_cpu: the writer thread's CPU
 * time for all its batches. `certmint status --json` shows them and
 * bench/issue prints them per certificate.
 */
enum ca_stage {
	STAGE_PARSE,		/* csr_parse: decode and verify the signature */
	STAGE_POLICY,		/* the policy module */
	STAGE_SIGN,		/* build and sign the certificate */
	STAGE_COMMIT,		/* waiting for the writer's commit */
	STAGE_HTTP,		/* the whole HTTP handler, the above included */
	STAGE_WRITER_CPU,	/* the writer thread's CPU time */
	STAGE__MAX
};
struct ca_timing {
	int64_t		 submissions;	/* ca_submit calls timed */
	int64_t		 batches;	/* writer transactions */
	int64_t		 jobs;		/* writer jobs */
	int64_t		 ns[STAGE__MAX];
};
const char	*ca_stage_name(enum ca_stage);
void		 ca_timing_get(struct ca *, struct ca_timing *);
void		 ca_timing_add(struct ca *, enum ca_stage, int64_t ns);
int64_t		 clock_ns(void);	/* CLOCK_MONOTONIC */

/*
 * Load the config, the signer and open the database. Returns 0 or -1 with a
 * message in err.
 */
int	 ca_open(struct ca **, const char *config_path, char *err, size_t errlen);
/*
 * Start the writer thread: before anything else may write (exit modules
 * save cursors through it). Returns 0 or -1.
 */
int	 ca_start_writer(struct ca *);
/* Start the writer if it is not running and record STARTUP. 0 or -1. */
int	 ca_start(struct ca *);
/* Refuse new work and record SHUTDOWN; ca_close stops the writer. */
void	 ca_stop(struct ca *);
void	 ca_close(struct ca *);
/* Reread the config file: policy, CRL and publication settings. */
int	 ca_reload(struct ca *, char *err, size_t errlen);
/*
 * The same in two steps: ca_reload_begin switches to the reread file,
 * ca_reload_end(ca, 1) goes back to the running one (a policy module that
 * does not load under the new file), ca_reload_end(ca, 0) keeps the new.
 */
int	 ca_reload_begin(struct ca *, char *err, size_t errlen);
void	 ca_reload_end(struct ca *, int revert);
/*
 * Between the two: the settings only a restart applies ("[ca] database,
 * [server] port") that the reread file changes, into out ("" if none).
 * The reloaded config keeps their running values.
 */
void	 ca_reload_fixed(struct ca *, char *out, size_t len);
void	 ca_set_commit_hook(struct ca *, ca_commit_hook, void *);

const struct cm_config *ca_config(struct ca *);	/* valid until ca_reload */
/*
 * Hold ca_config() and ca_signer() steady (a read lock against ca_reload)
 * while a thread other than the one reloading reads them.
 */
void	 ca_config_lock(struct ca *);
void	 ca_config_unlock(struct ca *);
size_t	 ca_max_body(struct ca *);	/* [server] max_body, under the lock */
/* A copy of [section] key of the current config, or NULL. Caller frees. */
char	*ca_config_value(struct ca *, const char *section, const char *key);
/* config_keys of the running configuration (malloc'd, or NULL). */
char	*ca_config_keys(struct ca *, const char *section);
const struct signer	*ca_signer(struct ca *);
int64_t	 ca_start_time(struct ca *);
/*
 * Submissions under way now: parsed, decided, signed or waiting for their
 * commit. The exit host's deliveries give way while there are more than
 * [exit] yield_above (docs/user-guide.md).
 */
int	 ca_inflight(struct ca *);
/* This thread's read-only database connection (opened on first use). */
struct store	*ca_reader(struct ca *);

/*
 * Actions. Each fills res (status CA_OK or an error with a message) and
 * returns 0 when the action happened, -1 otherwise.
 */
/*
 * The first attribute of attrs that certmint sets itself (RenewalOf,
 * AcmeAccount, ...): what a client may not send. NULL when none is.
 */
const char *ca_attr_reserved(const struct db_attr *attrs, size_t n);
/* Attributes a client sent: -1 with err when one is certmint's own. */
int	 ca_attrs_from_client(const struct db_attr *attrs, size_t n,
	    char *err, size_t errlen);
int	 ca_submit(struct ca *, const unsigned char *csr, size_t len,
	    const struct db_attr *attrs, size_t nattrs, const char *requester,
	    const char *caller, struct ca_result *);
/*
 * What a caller of ca_submit_csr writes in the submission's own
 * transaction: fn(st, arg, req, cert) runs on the writer's thread after
 * the request's row (req->id set) and its certificate's (cert NULL unless
 * issued), each time the job is applied (a batch replayed, a serial
 * drawn again). It must not fail for a conflict: a non-zero return is a
 * database error that fails the whole submission, nothing recorded.
 */
struct store;
struct ca_txn_hook {
	int	(*fn)(struct store *, void *arg, const struct db_request *req,
		    const struct db_cert *cert);
	void	*arg;
};
/*
 * ca_submit of a CSR its caller parsed (csr_parse, signature checked):
 * takes it (*csr is emptied), so that it is not parsed twice (ACME's
 * finalize checks the CSR's names first). also, unless NULL, is written
 * with the request, in one commit (ACME's order and its request).
 */
struct csr;
int	 ca_submit_csr(struct ca *, struct csr *csr,
	    const struct db_attr *attrs, size_t nattrs, const char *requester,
	    const char *caller, const struct ca_txn_hook *also,
	    struct ca_result *);
/*
 * ca_submit in parts, for a caller that must not wait for the commit (the
 * HTTP server, whose threads serve other connections meanwhile).
 * ca_submit_start does everything up to the commit (and
 * ca_submit_failed_start prepares the record of a submission that could
 * not even be read, e.g. too large): they return 1
 * with *pending set, or -1 (res filled) when the CA is stopping or out of
 * memory. ca_submit_queue hands the pending request to the writer:
 * done(arg) is called once, on the writer's thread, after the commit; it
 * returns -1 (done not called) when the writer is stopping. Either way the
 * caller then calls ca_submit_finish on its own thread for the result, as
 * ca_submit gives it, and pending is gone.
 */
struct ca_pending;
int	 ca_submit_start(struct ca *, const unsigned char *csr, size_t len,
	    const struct db_attr *, size_t nattrs, const char *requester,
	    const char *caller, struct ca_pending **pending, struct ca_result *);
/*
 * ca_submit_start, but with hold a request the policy would issue is
 * taken pending instead ([rest] anonymous = pending).
 */
int	 ca_submit_start_hold(struct ca *, const unsigned char *csr,
	    size_t len, const struct db_attr *, size_t nattrs,
	    const char *requester, const char *caller, int hold,
	    struct ca_pending **pending, struct ca_result *);
int	 ca_submit_failed_start(struct ca *, enum ca_status,
	    const char *message, const char *requester, const char *caller,
	    struct ca_pending **pending, struct ca_result *);
int	 ca_submit_queue(struct ca *, struct ca_pending *, void (*done)(void *),
	    void *arg);
int	 ca_submit_finish(struct ca *, struct ca_pending *, struct ca_result *);
int	 ca_resubmit(struct ca *, int64_t id, const char *officer, struct ca_result *);
int	 ca_deny(struct ca *, int64_t id, const char *officer, struct ca_result *);
int	 ca_revoke(struct ca *, const char *serial, int reason, int64_t date,
	    const char *officer, struct ca_result *);
int	 ca_unrevoke(struct ca *, const char *serial, const char *officer,
	    struct ca_result *);
int	 ca_publish_crl(struct ca *, int delta_only, struct ca_result *);
int	 ca_import(struct ca *, const unsigned char *cert, size_t len,
	    const char *officer, struct ca_result *);
/*
 * Renew certificate serial: a new certificate for its key, from its
 * request (csr NULL) or from csr, which must be for the same key (the
 * proof of possession a requester gives). proof NULL: an officer's
 * renewal, 0 or -1 with res. Else a requester known only by the old key
 * (the REST API): the certificate must not have expired, csr is required
 * and may be for a new key when proof->sig is the old key's signature
 * over its DER. A refusal once the key is proven is recorded like a
 * refused submission (-1); one before (unknown serial, a certificate
 * revoked or expired, a request that does not parse, a signature that
 * does not verify) is not, unless proof->known, and returns
 * CA_RENEW_UNPROVEN with res: anyone could send those, and a row raises
 * CERTDENIED for every exit module. See officer.c.
 */
struct ca_renew_proof {
	const unsigned char *sig;	/* NULL, or cert_verify_data's sig */
	size_t		 siglen;
	int		 known;		/* the requester authenticated
					   otherwise (a token, a client
					   certificate): record every
					   refusal */
};
#define CA_RENEW_UNPROVEN	(-2)
int	 ca_renew(struct ca *, const char *serial, const unsigned char *csr,
	    size_t csrlen, const struct ca_renew_proof *proof,
	    const char *requester, const char *caller, struct ca_result *);
/* A client collects its certificate; raises CERTRETRIEVEPENDING if it had been pending. */
int	 ca_retrieve(struct ca *, int64_t id, struct ca_result *);
/* Read a request without side effects. */
int	 ca_get(struct ca *, int64_t id, struct ca_result *);
/*
 * Run fn in the writer's next transaction (module cursors, dead letters).
 * fn returns 0 or a store error. Returns fn's result.
 */
int	 ca_write(struct ca *, int (*fn)(struct store *, void *), void *arg);
/*
 * purge.c: certmint purge. Remove, in one transaction of the writer, the
 * requests whose certificate expired before p->before, but those
 * store_purge keeps (store.h), with [exit] active as the registered
 * modules; p's counts say what was (p->dry_run: would be) removed and
 * kept. A date after now is refused (CA_E_BADREQ). Logs what it did in
 * officer's name. 0, or -1 with res.
 */
int	 ca_purge(struct ca *, struct db_purge *p, const char *officer,
	    struct ca_result *res);
/*
 * identity.c. ca_identity_check: at start, refuse (-1 with err) a
 * database that is damaged (PRAGMA quick_check, now or, per [ca]
 * startup_check, *deferred = 1: while serving, ca_check_start), another
 * CA's (its id is not the one the CA directory's marker ca.dbid names, or
 * the CA certificates it recorded are not sg's files) or older than the
 * marker (fewer requests or CRLs than the CA had reached); else bring the
 * marker up to date. ca_identity_write: write the marker for st (certmint
 * init, and after each CRL), keeping a damage it records.
 * ca_identity_mark_damaged: record in the marker at path (ca_marker_path)
 * that a check found the database damaged (why), so that the next start
 * checks before serving.
 * All return 0 or -1 with err.
 */
int	 ca_identity_check(const struct cm_config *, const struct signer *sg,
	    struct store *, int *deferred, char *err, size_t errlen);
int	 ca_identity_write(const struct cm_config *, struct store *,
	    char *err, size_t errlen);
int	 ca_identity_mark_damaged(const char *path, const char *why,
	    char *err, size_t errlen);
/*
 * check.c: the quick_check that ca_identity_check deferred, on a thread of
 * its own (10 nicer than the CA) with its own connection, while the CA
 * serves. When it finds damage it logs it, records it in the marker and
 * calls damaged(arg), once, so that the daemon stops. ca_check_start does
 * nothing when nothing was deferred; ca_check_stop cuts a check short
 * (ca_close calls it). 0, or -1 when the thread cannot start.
 */
int	 ca_check_start(struct ca *, void (*damaged)(void *), void *arg);
void	 ca_check_stop(struct ca *);
char	*ca_marker_path(const struct cm_config *);	/* ca.dbid; caller frees */
/*
 * What the marker says: the database id, the request id and CRL number
 * the CA had reached. 1, 0 when there is no marker, -1 when it is unreadable.
 */
int	 ca_marker_get(const struct cm_config *, char *id, size_t idlen,
	    int64_t *req, int64_t *crl);
/*
 * Record in st the CA certificates certs[0..n) (signer.certs) not yet
 * recorded. A store code (STORE_E_CONFLICT: an index holds another one).
 */
int	 ca_note_cacerts(struct store *, const struct ca_cert *certs, int n);
/*
 * Do the CA certificates of sg's files agree with those st recorded (the
 * same by index; the files may have more, never fewer)? 0, or -1 with
 * err. ca_identity_check at start and ca_reload_begin check it.
 */
int	 ca_cacerts_agree(const struct cm_config *, const struct signer *sg,
	    struct store *, char *err, size_t errlen);
/*
 * certmint init (and install-ca-cert for a sub CA): publish the CA's first
 * base CRL (and delta when on), without a daemon, so that the CRL
 * distribution point answers from the first start. 0 or -1 with err.
 */
int	 ca_publish_first_crl(const char *config_path, char *err,
	    size_t errlen);

/*
 * schedule.c: the CRL schedule. ca_start_crl_schedule starts the thread
 * that publishes base and delta CRLs when they are due ([crl] period,
 * overlap, delta_period, delta_overlap, publish_on_revoke), after
 * ca_start; ca_stop stops it. Returns 0 or -1.
 */
int	 ca_start_crl_schedule(struct ca *);
enum ca_crl_health {
	CRL_OFF,	/* delta CRLs are off */
	CRL_MISSING,	/* none published */
	CRL_OK,
	CRL_LAPSING,	/* less than overlap / 2 before its nextUpdate */
	CRL_EXPIRED,	/* past its nextUpdate */
	CRL_FUTURE,	/* its thisUpdate is ahead: the clock was */
	CRL_HEALTH__MAX
};
const char	*ca_crl_health_name(enum ca_crl_health);	/* "ok", ... */
struct ca_crl_state {
	enum ca_crl_health health;
	int		 present;
	struct db_crl	 crl;		/* the newest of its kind, raw NULL */
	int64_t		 next_publish;	/* 0: none (deltas off, no schedule) */
	int		 failures;	/* scheduled attempts failed in a row */
	int64_t		 fail_time;	/* the last failure; 0: none */
	char		 fail_msg[256];
};
/*
 * The newest base (out[0]) and delta (out[1]) CRLs and their schedule,
 * with ca_config_lock held. Returns 0, or -1 when the database cannot be
 * read.
 */
int	 ca_crl_status(struct ca *, struct ca_crl_state out[2]);
/* Record an event that changes no row (e.g. STARTUP). */
int	 ca_record_event(struct ca *, int32_t event, int64_t context);

/* policy.c: the built-in default policy (CertMint_Default.Policy). */
struct policy_decision {
	int32_t		 vr;		/* CM_VR_* */
	int32_t		 status;	/* a refusal's StatusCode: 0 for
					   STATUS_POLICY_DENIED */
	char		 message[256];
	const struct cm_profile *profile;	/* in the config of the decision */
	int64_t		 not_before;
	int64_t		 not_after;
	struct x509_ext	*extra;		/* extensions a policy module set; owned */
	size_t		 nextra;
	struct san	*sans;		/* the SANs to issue when not the
					   request's (profile rules); owned */
	size_t		 nsans;
	unsigned char	*subject;	/* the subject when not the request's
					   (profile cn = drop); owned */
	size_t		 subject_len;
	uint32_t	 key_usage;	/* not 0: the requested subset */
	char		**eku;		/* the requested subset; owned */
	size_t		 neku;
};
void	 policy_decision_free(struct policy_decision *);
/* Make d a refusal with that message (CM_VR_INSTANT_BAD). Returns 0. */
int	 policy_deny(struct policy_decision *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/*
 * profile.c: apply the rules of d->profile (docs/profiles.md) to a
 * decision to issue or pend csr: d may become a refusal, or get its SANs,
 * subject, usages or validity changed with a note in its message; no
 * certificate outlives sg's (cut or refused as the profile says). Returns
 * 0, or -1 on an internal error.
 */
int	 profile_enforce(const struct signer *sg, const struct csr *csr,
	    struct policy_decision *d);

/*
 * A loaded policy module other than the built-in one (the exit room's
 * policy host sets it). verify has the contract of policy_default_verify;
 * req is the request as it will be stored (attributes, RawRequest, names),
 * not yet in the database.
 */
struct ca_policy_ops {
	int	(*verify)(void *arg, const struct csr *,
		    const struct db_request *req, int new_request,
		    struct policy_decision *);
	void	*arg;
};
/* Use ops (NULL: the built-in default policy) for the next decisions. */
void	 ca_set_policy(struct ca *, const struct ca_policy_ops *);
int	 policy_default_verify(const struct cm_config *, const struct signer *,
	    const struct csr *, const struct db_attr *, size_t nattrs,
	    int new_request, struct policy_decision *);

/* writer.c: the single writer thread and group commit. */
enum wjob_kind {
	WJOB_INSERT,	/* new request row (+ certificate) */
	WJOB_UPDATE,	/* change a request row (+ insert certificate) */
	WJOB_CRL,	/* new CRL row */
	WJOB_EVENT,	/* event only */
	WJOB_FUNC,	/* fn(store, arg) inside the transaction */
	WJOB__MAX
};

struct wjob {
	enum wjob_kind	 kind;
	struct db_request *req;
	struct db_cert	*cert;		/* may be NULL */
	struct db_crl	*crl;		/* WJOB_CRL */
	int32_t		 expect;	/* WJOB_UPDATE: required disposition, -1 any */
	int		 stamp_revoked;	/* WJOB_UPDATE: revoked_when (and an
					   effective date equal to it) is the
					   time of the write */
	int32_t		 event;		/* CM_EXITEVENT_* or 0 */
	int64_t		 context;	/* WJOB_EVENT */
	const struct ca_txn_hook *also;	/* WJOB_INSERT: written with it */
	int		(*fn)(struct store *, void *);	/* WJOB_FUNC */
	void		*fn_arg;
	int		 rc;		/* out: 0 or a store error */
	int		 finished;	/* writer_run: set when rc is final */
	pthread_cond_t	 cv;		/* writer_run: this job is finished */
	void		(*done)(void *);	/* writer_submit: called when done */
	void		*done_arg;
	struct wjob	*next;
};

struct writer;
struct writer	*writer_start(struct store *, ca_commit_hook, void *hook_arg);
/* Queue job, wait until it is committed or failed; returns job->rc. */
int	 writer_run(struct writer *, struct wjob *);
/*
 * Queue job without waiting: job->done(job->done_arg) is called on the
 * writer's thread once it is committed or failed (job->rc set); the job
 * must live until then. Returns 0, or -1 when the writer is stopping.
 */
int	 writer_submit(struct writer *, struct wjob *);
/*
 * Apply job in a transaction of its own on st, without a writer thread:
 * for a CA that no daemon runs (certmint init's first CRL). Returns
 * job->rc.
 */
int	 writer_apply(struct store *, struct wjob *);
/* Batches, jobs and the writer thread's CPU nanoseconds so far. */
void	 writer_timing(struct writer *, int64_t *batches, int64_t *jobs,
	    int64_t *cpu_ns);
void	 writer_stop(struct writer *);

#endif /* CM_CA_H */
