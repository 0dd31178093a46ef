/*
 * request.h - what certmintd makes of an HTTP request, without
 * libmicrohttpd: the route from method and URL, the body as it arrives,
 * the requester, a submission's CSR and attributes, and the answer to
 * send. http.c hands over what MHD read and queues what comes back;
 * fuzz/fuzz_http.c runs the same functions on inputs of its own.
 */
#ifndef CM_REQUEST_H
#define CM_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "../ca/ca.h"

struct sockaddr;

#define API_REQUESTS	"/api/v1/requests"
#define API_CERTIFICATES "/api/v1/certificates"
#define API_RENEW	"/renew"	/* after API_CERTIFICATES/SERIAL */
#define RENEWAL_SIG_HEADER "Certmint-Renewal-Signature"
#define HTTP_ATTR_MAX	64	/* request attributes, as ca.c allows */

enum http_route {
	ROUTE_NONE,		/* 404 "no such resource" */
	ROUTE_NOT_ALLOWED,	/* 405 */
	ROUTE_CA_CERT,		/* GET /ca.crt, /ca(N).crt */
	ROUTE_CA_PEM,		/* GET /ca.pem */
	ROUTE_CRL,		/* GET /ca.crl, /ca(N).crl */
	ROUTE_DELTA_CRL,	/* GET /delta.crl, /delta(N).crl */
	ROUTE_CA_INFO,		/* GET /api/v1/ca */
	ROUTE_HEALTH,		/* GET /health */
	ROUTE_REQUEST,		/* GET /api/v1/requests/ID */
	ROUTE_REQUEST_CERT,	/* GET /api/v1/requests/ID/certificate */
	ROUTE_SUBMIT,		/* POST /api/v1/requests */
	ROUTE_RENEW,		/* POST /api/v1/certificates/SERIAL/renew */
	ROUTE__MAX
};

#define HTTP_INDEX_MAX	9999	/* N of /ca(N).crt */

/* What a URL names besides its route. */
struct http_target {
	int64_t		 id;		/* ROUTE_REQUEST, ROUTE_REQUEST_CERT: > 0 */
	char		 serial[130];	/* ROUTE_RENEW: lowercase hex (hex_normalize) */
	int		 index;		/* ROUTE_CA_CERT, ROUTE_CRL,
					   ROUTE_DELTA_CRL: N of the "(N)"
					   names, 0 for the plain ones */
};

/*
 * The route of method and url (HEAD reads as GET; url as MHD hands it
 * over, %-decoded), and what else it names in *t (zeroed first).
 */
enum http_route	 http_route(const char *method, const char *url,
		    struct http_target *t);

/* A request body as it arrives, in pieces. */
struct http_body {
	struct buf	 data;
	int		 too_large;	/* over max_body: the rest is dropped */
};
/*
 * Add a piece: past max bytes in all the body is dropped and too_large
 * set, but reading goes on (the client gets 413, not a reset).
 * Returns 0, or -1 when out of memory.
 */
int	 http_body_add(struct http_body *, const void *, size_t, size_t max);
void	 http_body_free(struct http_body *);

/*
 * The RequesterName: header (X-Certmint-Requester, may be NULL) when trust
 * ([server] trust_requester_header) and it is 1 to 255 bytes, else the
 * client's address written into buf ("" when it has none). Returns header
 * or buf.
 */
const char	*http_requester(int trust, const char *header,
		    const struct sockaddr *client, char *buf, size_t len);

/* How a POST to /api/v1/requests is to be handled. */
enum http_submit_kind {
	SUBMIT_CSR,		/* data, len and attrs for ca_submit_start */
	SUBMIT_REFUSED,		/* recorded as failed: status and msg */
	SUBMIT_UNSUPPORTED,	/* 415 with msg; nothing recorded */
	SUBMIT__MAX
};

/* Calls fn(arg, key, value) for each query argument (value may be NULL). */
typedef void	(*http_arg_fn)(void *arg, const char *key,
		    const char *value);
typedef void	(*http_args_walk)(void *ctx, http_arg_fn, void *arg);

struct http_submission {
	enum http_submit_kind kind;
	enum ca_status	 status;	/* SUBMIT_REFUSED */
	char		 msg[300];	/* SUBMIT_REFUSED, SUBMIT_UNSUPPORTED */
	const unsigned char *data;	/* the CSR: body, or the JSON "csr" */
	size_t		 len;
	struct db_attr	 attrs[HTTP_ATTR_MAX + 1];
	size_t		 nattrs;
	int		 bad_attrs;
	json_t		*doc;		/* the JSON body, which data may be in */
};

/*
 * Read a submission from its Content-Type (may be NULL), body and, for
 * application/pkcs10, the "attrib" query arguments that walk(ctx) gives.
 * s borrows body until http_submission_free. Returns s->kind.
 */
enum http_submit_kind http_submission_decode(struct http_submission *s,
		    const char *content_type, const struct http_body *body,
		    size_t max_body, http_args_walk walk, void *ctx);
void	 http_submission_free(struct http_submission *);
/*
 * ca_submit_start, or ca_submit_failed_start for SUBMIT_REFUSED, for s
 * from who. Their return value: 1 with *pending to queue, or -1 with res.
 */
int	 http_submission_start(struct ca *, const struct http_submission *s,
	    const char *who, struct ca_pending **, struct ca_result *);
/*
 * POST /api/v1/certificates/SERIAL/renew: s (http_submission_decode) with
 * sig, the Certmint-Renewal-Signature header (base64, may be NULL), from
 * who; known when who authenticated (a token, a client certificate).
 * Else ca_renew, authenticated by the old key. Returns 1 with *pending
 * to queue as http_submission_start's, or ca_renew's 0, -1 or
 * CA_RENEW_UNPROVEN with res. A body refused (as a submission's, or for
 * request attributes or a header that is not base64) comes before any
 * proof: recorded as a refused submission when known, else
 * CA_RENEW_UNPROVEN, not recorded.
 */
int	 http_renewal_start(struct ca *, const char *serial,
	    const struct http_submission *s, const char *sig, const char *who,
	    int known, struct ca_pending **, struct ca_result *);

/* An answer to queue: status, Content-Type and a malloc'd body. */
struct http_answer {
	unsigned int	 status;
	const char	*type;
	char		*data;
	size_t		 len;
};
unsigned int	 http_status(enum ca_status);
/* o (consumed) as compact JSON. Returns 0, or -1 when out of memory. */
int	 http_answer_json(struct http_answer *, unsigned int status,
	    json_t *o);
/*
 * {"error": msg, "request_id": id} (id when > 0) with that status.
 * Returns 0, or -1 when out of memory.
 */
int	 http_answer_error(struct http_answer *, unsigned int status,
	    const char *msg, int64_t request_id);
/*
 * The request object of res (certificate and chain_pem with pem), or its
 * error: 201 for a certificate issued by this POST (pem), 202 pending.
 * Hold ca_config_lock for chain_pem. Returns 0, or -1 when out of memory.
 */
int	 http_answer_result(struct http_answer *, const struct ca_result *,
	    int pem, const char *chain_pem);
/*
 * GET /api/v1/requests/ID (want_cert 0) or .../certificate (1) on ca.
 * Returns 0, or -1 when out of memory.
 */
int	 http_answer_request(struct http_answer *, struct ca *, int64_t id,
	    int want_cert);
void	 http_answer_free(struct http_answer *);

#endif /* CM_REQUEST_H */
