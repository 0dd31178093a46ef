/*
 * ca_int.h - what the files of the CA room share and nothing else sees:
 * the CA's state and the steps its actions have in common. ca.c holds
 * submission and those steps, open.c opening, reloading and closing,
 * officer.c the officer's actions (resubmit, deny, import) and retrieve,
 * revoke.c revocation and CRL publication.
 */
#ifndef CM_CA_INT_H
#define CM_CA_INT_H

#include <stdatomic.h>

#include "ca.h"

/*
 * A reader connection: a thread's (ca_reader) until the thread ends, then
 * free for the next thread that asks (module threads come and go with
 * reloads; each kept its connection, and its file descriptors, for good).
 */
struct reader_slot {
	struct store		*st;
	struct reader_slot	*next;
	struct ca		*ca;
	int			 used;	/* readers_mu */
};

struct ca {
	char		*config_path;
	pthread_rwlock_t cfg_lock;	/* cfg and signer: read by actions, swapped by reload */
	struct cm_config cfg;
	struct signer	 signer;
	pthread_mutex_t	 reload_mu;	/* one reload at a time, begin to end */
	struct cm_config old_cfg;	/* between ca_reload_begin and _end */
	char		 reload_fixed[160];	/* ca_reload_fixed */
	struct signer	 old_signer;
	struct store	*wstore;	/* the writer's connection */
	int		 identified;	/* ca_identity_check passed: the
					   marker may follow wstore */
	struct writer	*writer;
	pthread_key_t	 reader_key;
	pthread_mutex_t	 readers_mu;
	struct reader_slot *readers;	/* every reader connection, closed by ca_close */
	int		 check_deferred; /* ca_identity_check left quick_check */
	struct ca_check	*check;		/* check.c, while it runs */
	pthread_mutex_t	 crl_mu;	/* one CRL publication at a time */
	struct crl_schedule *sched;	/* schedule.c; NULL: not running */
	atomic_int_fast64_t next_id;
	atomic_uint_fast64_t serial_ms;	/* time part of the last ordered serial */
	atomic_int	 stopping;
	atomic_int	 inflight;	/* submissions between prepare and complete */
	pthread_mutex_t	 hook_mu;	/* hook, hook_arg: set while the writer runs */
	ca_commit_hook	 hook;
	void		*hook_arg;
	int64_t		 started;
	struct ca_policy_ops policy;	/* verify NULL: the built-in policy */
	atomic_int_fast64_t timed;	/* submissions in ns[] */
	atomic_int_fast64_t ns[STAGE__MAX];
};

/*
 * ca_fail: set res to an error; returns -1 so that callers can "return
 * ca_fail(...)". ca_memdup: a malloc'd copy, NULL for NULL or no memory.
 */
int	 ca_fail(struct ca_result *res, enum ca_status st, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
void	*ca_memdup(const void *p, size_t len);
/* A certs row for der, built from info (request_id, names, dates). */
void	 ca_cert_row_fill(struct db_cert *c, int64_t request_id,
	    unsigned char *der, size_t len, const struct cert_info *info);
/* req's extension list: exts, origin request_origin or other. */
void	 ca_req_set_exts(struct db_request *req, const struct x509_ext *exts,
	    size_t n, const struct csr *csr, int32_t request_origin,
	    int32_t other);
/* The active policy module, then the profile's rules (cfg_lock held). */
int	 ca_policy_verify(struct ca *ca, const struct csr *csr,
	    const struct db_request *req, int new_request,
	    struct policy_decision *d);
/* Build and sign csr's certificate as d decided. 0 or -1. */
int	 ca_issue_cert(struct ca *ca, const struct csr *csr,
	    const struct policy_decision *d, struct db_request *req,
	    struct db_cert *c);
void	 ca_req_set_message(struct db_request *req, const char *msg);
/* Hand job to the writer (a new serial on a duplicate); a store code. */
int	 ca_run_job(struct ca *ca, struct wjob *job, const struct csr *csr,
	    const struct policy_decision *d);
/* res from a job's outcome rc: the row and certificate, or the error. */
int	 ca_result_from_job(struct ca *ca, struct ca_result *res, int rc,
	    struct db_request *req, struct db_cert *cert);
/* A new request row: id, times, requester and caller. */
void	 ca_req_new(struct ca *ca, struct db_request *req,
	    const char *requester, const char *caller);
/* Read request id into req; 0, or -1 with res set (not found...). */
int	 ca_load_request(struct ca *ca, int64_t id, struct db_request *req,
	    struct ca_result *res);

/*
 * schedule.c: crl_schedule_stop ends the thread (ca_stop);
 * crl_schedule_poke tells it of a revocation or release from hold
 * ([crl] publish_on_revoke). Both do nothing when it is not running.
 */
void	 crl_schedule_stop(struct ca *);
void	 crl_schedule_poke(struct ca *);

/*
 * revoke.c: the certificate with serial (hex, any case, colons allowed)
 * into res->cert and its request into req; 0, or -1 with res set.
 */
int	 ca_load_by_serial(struct ca *ca, const char *serial,
	    struct db_request *req, struct ca_result *res);
/*
 * officer.c: 1 when the certificate (DER) certifies one of the CA's own
 * keys (the CA certificate, a renewal's or a link certificate: every
 * certificate in ca_certs), else 0. Such a certificate is never imported
 * nor revoked: revoking it would list the CA on its own CRL.
 */
int	 ca_certifies_own_key(struct ca *ca, const unsigned char *der,
	    size_t len);
/* identity.c: the CA directory's marker of its database (ca.dbid). */
char	*ca_marker_path(const struct cm_config *);

#endif /* CM_CA_INT_H */
