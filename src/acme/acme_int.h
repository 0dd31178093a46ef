/*
 * acme_int.h - what the ACME server's files share (not validate*: the VA
 * has its own header). acme.c routes and answers, jws_req.c reads a
 * request's JWS, nonce.c makes and checks nonces; the resources are
 * account.c, order.c (orders, download), finalize.c, authz.c
 * (authorizations, challenges), revoke.c; ratelimit.c counts orders.
 */
#ifndef CM_ACME_INT_H
#define CM_ACME_INT_H

#include <pthread.h>
#include <stdint.h>

#include <jansson.h>

#include "../store/store_acme.h"
#include "acme.h"
#include "validate.h"

#define ACME_ERR	"urn:ietf:params:acme:error:"
#define ACME_ORDER_LIFETIME	(7 * 86400)
#define ACME_NONCE_LIFETIME	3600	/* s a nonce is good for */
#define ACME_MAX_IDENTIFIERS	100
#define ACME_RETRY_AFTER	1	/* s: validations and issuance are quick */
/* [acme] challenge_wait_ms: a challenge POST's answer waits that long */
#define ACME_CHALLENGE_WAIT_MS	1000

/* One ACME directory: [acme] (name "") or [acme.NAME]. */
struct acme_dirs;

struct acme_endpoint {
	const struct acme_dirs *dirs;	/* that holds it */
	char		 name[64];
	char		 prefix[96];	/* "/acme" or "/acme/NAME" */
	char		 profile[64];	/* "" for [policy] default_profile */
	int		 eab_required;
	char		**patterns;	/* identifier globs; none: any */
	size_t		 npatterns;
	/* offered (draft-aaron-acme-profiles) */
	char		**profiles;
	size_t		 nprofiles;
	int		 orders_per_account;	/* an hour; 0: no limit */
	/* an hour, per registered domain */
	int		 orders_per_domain;
};

struct nonce_state;
struct acme_keycache;

/*
 * What `certmint reload` changes: the directories and the terms of
 * service. A request holds the one it started with (acme_handle) to its
 * end, however many reloads happen meanwhile; the last holder frees it.
 */
struct acme_dirs {
	int			 refs;	/* under acme.dirs_mu */
	struct acme_endpoint	*eps;	/* [0]: [acme] itself */
	size_t			 neps;
	/* terms of service URL, "" for none */
	char			 tos[512];
	char			 website[512];
	int			 challenge_wait_ms;	/* 0: answer at once */
};

/* idset.c: ids this process is working on (a few dozen), under a lock. */
struct acme_idset {
	pthread_mutex_t		 mu;
	int64_t			*ids;
	size_t			 n, cap;
};
void	 acme_idset_init(struct acme_idset *);
void	 acme_idset_free(struct acme_idset *);
/* Add id: 1, or 0 when it is there already, or -1 (out of memory). */
int	 acme_idset_take(struct acme_idset *, int64_t id);
void	 acme_idset_drop(struct acme_idset *, int64_t id);
int	 acme_idset_has(struct acme_idset *, int64_t id);

struct acme {
	struct ca		*ca;
	/* URLs start with it, no '/' at the end */
	char			 base[512];
	pthread_mutex_t		 dirs_mu;
	struct acme_dirs	*dirs;	/* the current one, under dirs_mu */
	struct acme_va_config	 va;
	struct acme_vpool	*pool;
	struct nonce_state	*nonces;
	struct acme_keycache	*keys;	/* parsed account keys */
	struct psl_ctx_st	*psl;	/* the public suffix list, or NULL */
	struct acme_idset	 finalizing;	/* orders (finalize.c) */
	struct acme_idset	 validating;	/* held challenges (authz.c) */
	/* wait.c: challenge answers held for their validation */
	pthread_mutex_t		 wait_mu;
	pthread_cond_t		 wait_cv;	/* the timer: a new deadline */
	uint64_t		 wait_next;	/* the timer's; 0: none */
	struct acme_wait	*waits;
	pthread_t		 wait_thread;
	int			 wait_inited, wait_running, wait_stop;
	int			 wait_flushing;
};

/* A problem (RFC 7807) to answer with. */
struct acme_problem {
	unsigned int	 status;
	char		 type[48];	/* the suffix of ACME_ERR */
	char		 detail[512];
};
/* Fill p; returns -1 so that handlers can "return problem(...)". */
int	 acme_problem(struct acme_problem *, unsigned int status,
	    const char *type, const char *fmt, ...)
	    __attribute__((format(printf, 4, 5)));

/* A stored problem (JSON text) as JSON, or NULL. */
json_t	*acme_problem_json(const char *stored);
/* A problem as JSON text to store (malloc'd), or NULL. */
char	*acme_problem_text(unsigned int status, const char *type,
	    const char *detail);

/* acme_problem(p, 500, "serverInternal", "database error"): -1. */
int	 acme_db_error(struct acme_problem *);

/* A verified JWS request (jws_req.c). */
struct acme_jws {
	enum jws_alg	 alg;
	char		 url[600];
	char		 nonce[128];
	int		 has_jwk;
	struct jwk	 jwk;		/* has_jwk: the key in the header */
	/* !has_jwk: the kid's account */
	struct acme_account_row account;
	int		 has_account;
	json_t		*payload;	/* NULL: POST-as-GET ("") */
};
void	 acme_jws_free(struct acme_jws *);

/*
 * Read and verify the JWS of a POST to url (our own URL for it) on
 * endpoint ep: flattened JSON, alg allowed, exactly one of jwk/kid, url,
 * signature, nonce (last: a refused request does not use a nonce up).
 * need_jwk: 1 the request must carry jwk (newAccount, revokeCert may), 0
 * kid, -1 either. Returns 0, or -1 with p.
 */
int	 acme_jws_read(struct acme *, const struct acme_endpoint *ep,
	    const struct acme_req *, const char *url, int need_jwk,
	    struct acme_jws *, struct acme_problem *p);
/*
 * An inner JWS (keyChange, EAB) given as a JSON object: its protected
 * header (caller frees), the signing input and the signature. 0 or -1
 * with p (malformed).
 */
int	 acme_jws_split(json_t *o, json_t **protected, char **input,
	    unsigned char **sig, size_t *siglen, json_t **payload,
	    struct acme_problem *p);
/* Load a JWK given as JSON; 0 or -1 with p (badPublicKey/malformed). */
int	 acme_jwk_from_json(json_t *, struct jwk *, struct acme_problem *p);

/* keycache.c: parsed account keys, bounded (LRU), shared by threads. */
struct acme_keycache *acme_keycache_new(void);
void	 acme_keycache_free(struct acme_keycache *);
/*
 * The key of account id parsed from text (its stored JWK) into k (a
 * reference: jwk_free it): 1, or 0 when not cached.
 */
int	 acme_keycache_get(struct acme_keycache *, int64_t id,
	    const char *text, struct jwk *k);
/* Cache k, account id's key parsed from text. */
void	 acme_keycache_put(struct acme_keycache *, int64_t id,
	    const char *text, const struct jwk *k);
/*
 * The DER SubjectPublicKeyInfo of account id's cached key (parsed from
 * text), malloc'd: encoded once, then kept with the key. 0, or -1 when the
 * key is not cached or cannot be encoded.
 */
int	 acme_keycache_spki(struct acme_keycache *, int64_t id,
	    const char *text, unsigned char **der, size_t *len);

/* nonce.c */
int	 nonce_start(struct acme *, char *err, size_t errlen);
void	 nonce_stop(struct acme *);
/* A fresh nonce into out (b64url, 43 characters). 0 or -1. */
int	 nonce_new(struct acme *, char out[64]);
/* Use nonce up: 1 if it was good and unused, else 0. */
int	 nonce_use(struct acme *, const char *nonce);

/* acme.c: our URL of ep's resource ("acct/3"), and the account URL. */
/*
 * The id at p, as the server writes ids (decimal, no sign, no leading
 * zero, at most 18 digits: one spelling per object), with *end after it;
 * -1 when p does not start with one.
 */
int64_t	 acme_id_parse(const char *p, const char **end);
void	 acme_url(const struct acme *, const struct acme_endpoint *,
	    const char *resource, int64_t id, char *out, size_t len);
/* Set resp to JSON o (consumed) with status. */
void	 acme_resp_json(struct acme_resp *, unsigned int status, json_t *o);
/*
 * The endpoint named name (accounts and orders record theirs) among ep's
 * siblings (the same reload), or NULL.
 */
const struct acme_endpoint *acme_endpoint_named(
	    const struct acme_endpoint *ep, const char *name);
/* ca_write(ca, fn, arg) as 0 or -1. */
int	 acme_write(struct acme *, int (*fn)(struct store *, void *), void *);
/* The thread's read connection, or NULL. */
struct store	*acme_reader(struct acme *);
/* Let go of directories an acme_wait held (acme.c). */
void	 acme_dirs_release(struct acme *, struct acme_dirs *);
/* Does value (a DNS name, "*." kept, or an IP) match one of ep's globs? */
/* ip: value is an IP identifier's (an IP pattern matches only those). */
int	 acme_identifier_allowed(const struct acme_endpoint *, int ip,
	    const char *);
/* Add a Link header (<url>;rel="rel") to r. */
void	 acme_add_link(struct acme_resp *, const char *url, const char *rel);
/* Time as RFC 3339. */
json_t	*acme_time(int64_t);

/* account.c */
int	 acme_new_account(struct acme *, const struct acme_endpoint *,
	    const struct acme_req *, const char *url, struct acme_resp *,
	    struct acme_problem *);
int	 acme_account(struct acme *, const struct acme_endpoint *,
	    const struct acme_req *, const char *url, int64_t id, int orders,
	    struct acme_resp *, struct acme_problem *);
int	 acme_key_change(struct acme *, const struct acme_endpoint *,
	    const struct acme_req *, const char *url, struct acme_resp *,
	    struct acme_problem *);

/* An identifier of a newOrder, checked and normalized. */
struct acme_ident {
	char	 type[8];	/* dns, ip */
	char	 value[256];	/* as given, "*." kept */
};

/* ratelimit.c: load (at start, logs when there is none) and free it. */
void	 acme_psl_load(struct acme *);
void	 acme_psl_free(struct acme *);
/*
 * ratelimit.c: [acme] orders_per_account_hour and orders_per_domain_hour
 * for a new order of account for ids: 0, or -1 with p (rateLimited, 429)
 * and r's Retry-After.
 */
int	 acme_rate_check(struct acme *, const struct acme_endpoint *,
	    int64_t account, const struct acme_ident *ids, size_t n,
	    struct acme_resp *r, struct acme_problem *p);

/* order.c */
int	 acme_new_order(struct acme *, const struct acme_endpoint *,
	    const struct acme_req *, const char *url, struct acme_resp *,
	    struct acme_problem *);
int	 acme_order(struct acme *, const struct acme_endpoint *,
	    const struct acme_req *, const char *url, int64_t id,
	    struct acme_resp *, struct acme_problem *);
int	 acme_cert(struct acme *, const struct acme_endpoint *,
	    const struct acme_req *, const char *url, int64_t id,
	    struct acme_resp *, struct acme_problem *);
/* The status a client sees: "invalid" once expired while not done. */
const char *acme_order_status(const struct acme_order_row *);
/* Order id of account, read and brought up to date. 0 or -1 with p. */
int	 acme_order_load(struct acme *, int64_t id, int64_t account,
	    struct acme_order_row *, struct store **, struct acme_problem *);
/* Answer with the order (its URL as Location, Retry-After if processing). */
void	 acme_order_answer(struct acme *, const struct acme_endpoint *,
	    const struct acme_order_row *, struct store *, struct acme_resp *);
/* An acme_write job: write order, if its stored status is expect. */
struct acme_order_update {
	struct acme_order_row *order;
	const char	*expect;	/* the status it must have, or NULL */
	int		 conflict;	/* out: it had another */
};
int	 acme_order_update_fn(struct store *, void *arg);

/* finalize.c */
int	 acme_finalize(struct acme *, const struct acme_endpoint *,
	    const struct acme_req *, const char *url, int64_t id,
	    struct acme_resp *, struct acme_problem *);
/*
 * At start: an order left "processing" with no request is "ready" again
 * (its finalize was cut short before ca_submit committed).
 */
void	 acme_resume_finalize(struct acme *);

/* authz.c */
int	 acme_authz(struct acme *, const struct acme_endpoint *,
	    const struct acme_req *, const char *url, int64_t id,
	    struct acme_resp *, struct acme_problem *);
int	 acme_chall(struct acme *, const struct acme_endpoint *,
	    const struct acme_req *, const char *url, int64_t id,
	    struct acme_resp *, struct acme_problem *);
/* The pool's dropped callback: frees what va_submit gave it. */
void	 acme_va_dropped(void *arg, const struct acme_check *);
/* Restart the validations a stop cut short (challenges "processing"). */
void	 acme_resume_validations(struct acme *);
/* Answer with challenge id as it is now (its view, Link up). 0 or -1. */
int	 acme_chall_view(struct acme *, const struct acme_endpoint *,
	    int64_t id, struct acme_resp *, struct acme_problem *);
/*
 * The same for a held answer (acme_wait_answer): a challenge still
 * "pending" (no result yet) is first written "processing". 0 or -1.
 */
int	 acme_chall_held(struct acme *, const struct acme_endpoint *,
	    int64_t id, struct acme_resp *, struct acme_problem *);

/* wait.c: the timer of held answers; stop frees those never armed. */
int	 acme_waits_start(struct acme *, char *err, size_t errlen);
void	 acme_waits_stop(struct acme *);
/*
 * A wait for challenge id's result (listed: its validation may end at
 * once), due in ms at the latest once armed; NULL when out of memory.
 */
struct acme_wait *acme_wait_new(struct acme *, const struct acme_endpoint *,
	    int64_t chall_id, int ms);
/* Challenge id's result is committed: its waits are due. */
void	 acme_wait_done(struct acme *, int64_t chall_id);
/* What w waits for: the challenge, its endpoint and directories. */
int64_t	 acme_wait_chall(const struct acme_wait *,
	    const struct acme_endpoint **, struct acme_dirs **);
/* acme_handle hands over its hold on the directories of w's endpoint. */
void	 acme_wait_set_dirs(struct acme_wait *, struct acme_dirs *);

/* revoke.c */
int	 acme_revoke(struct acme *, const struct acme_endpoint *,
	    const struct acme_req *, const char *url, struct acme_resp *,
	    struct acme_problem *);

/* ari.c: GET renewal-info/CERTID (RFC 9773). */
int	 acme_renewal_info(struct acme *, const char *certid,
	    struct acme_resp *, struct acme_problem *);
/* Is name one of ep's offered profiles? */
int	 acme_profile_offered(const struct acme_endpoint *, const char *name);

#endif /* CM_ACME_INT_H */
