/*
 * acme.h - certmint's ACME server (RFC 8555, RFC 8737, RFC 8738) without
 * libmicrohttpd: src/server/acme_http.c hands over a request (method,
 * path, Content-Type, body) and sends the answer it gets back. See
 * docs/acme.md for what it serves and how it is configured.
 *
 * An ACME order becomes a certmint request through ca_submit, as a REST
 * submission does: the same policy (module), profiles, request row and
 * exit events, RequesterName the account's URL.
 */
#ifndef CM_ACME_H
#define CM_ACME_H

#include <stddef.h>

#include "../ca/ca.h"

#define ACME_PREFIX	"/acme/"
#define ACME_LINKS_MAX	4

struct acme_req {
	const char	*method;	/* GET, HEAD, POST */
	const char	*path;		/* as MHD hands it over, "/acme/..." */
	const char	*content_type;	/* may be NULL */
	const unsigned char *body;
	size_t		 len;
	/* the body was over [server] max_body */
	int		 too_large;
	/*
	 * The caller can hold the answer (acme_wait_arm): a challenge POST
	 * then answers once its validation's result is in.
	 */
	int		 can_wait;
};

struct acme_wait;

struct acme_resp {
	unsigned int	 status;
	const char	*type;		/* Content-Type; NULL without a body */
	char		*body;		/* malloc'd, may be NULL */
	size_t		 len;
	char		 nonce[64];	/* Replay-Nonce, "" for none */
	char		 location[512];	/* "" for none */
	char		 links[ACME_LINKS_MAX][1024];	/* whole Link values */
	int		 nlinks;
	int		 retry_after;	/* seconds, 0 for none */
	/*
	 * Not NULL: no answer yet (the rest is empty). Suspend the
	 * connection, then acme_wait_arm.
	 */
	struct acme_wait *wait;
};

struct acme;

/*
 * Read [acme] and [acme.NAME] of ca's config and start the validation
 * pool. *out is NULL (and 0 returned) when [acme] enabled is off.
 * Returns 0, or -1 with a message in err.
 */
int	 acme_start(struct ca *, struct acme **out, char *err, size_t errlen);
/*
 * Apply [acme] and [acme.NAME] of ca's config as reloaded: directories,
 * identifier patterns, profiles, EAB requirement, rate limits, terms of
 * service (logged). base_url and the VA's settings stay until a restart:
 * those that changed are named in kept ("" when none). 0, or -1 with err
 * and the running settings kept.
 */
int	 acme_reload(struct acme *, char *err, size_t errlen, char *kept,
	    size_t keptlen);
/* Stop validating (waits for the checks running) and free. */
void	 acme_stop(struct acme *);
/* Does path belong to the ACME server? */
int	 acme_path(const char *path);
/* Answer req into resp (acme_resp_free after sending). */
void	 acme_handle(struct acme *, const struct acme_req *,
	    struct acme_resp *);
void	 acme_resp_free(struct acme_resp *);

/*
 * An answer that waits (resp->wait, only when req->can_wait): a challenge
 * POST's, until its validation's result is committed, at most [acme]
 * challenge_wait_ms, or until acme_wait_flush. Once the connection is
 * suspended, acme_wait_arm: resume(arg) is then called exactly once, on
 * any thread (this one, when the result is in already); after it,
 * acme_wait_answer fills resp (sent and freed as acme_handle's) and
 * frees w. A connection closed before its answer: acme_wait_drop(w).
 */
void	 acme_wait_arm(struct acme *, struct acme_wait *w,
	    void (*resume)(void *), void *arg);
void	 acme_wait_answer(struct acme *, struct acme_wait *w,
	    struct acme_resp *);
void	 acme_wait_drop(struct acme *, struct acme_wait *w);
/* Stopping: every waiting answer is due now, and any armed later too. */
void	 acme_wait_flush(struct acme *);

#endif /* CM_ACME_H */
