/*
 * http.c - the REST API and the publication URLs (docs/rest-api.md) on
 * libmicrohttpd's thread pool (listen.c starts it): routing, the
 * answers, and submissions suspended while the writer commits. Handlers
 * run the CA's crypto on these threads; exit modules never run here.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <microhttpd.h>

#include "../ca/json.h"
#include "acme_http.h"
#include "http.h"
#include "auth.h"
#include "request.h"
#include "tls.h"
#include "watch.h"
#include "server.h"

/* Per-connection state while a body arrives. */
struct upload {
	struct http_body body;
	/* A submission waiting for its commit, its connection suspended. */
	struct MHD_Connection *conn;
	struct ca_pending *pending;
	int64_t		 t0;		/* when its handler first ran */
	enum http_route	 route;		/* ROUTE_SUBMIT or ROUTE_RENEW */
	struct http_target target;	/* ROUTE_RENEW: the serial */
	/* An ACME answer waiting (suspended) for a validation. */
	struct acme_wait *acme_wait;
};

/*
 * Queue data as the answer; MHD frees it (it must come from malloc) when
 * owned, else copies it. Large answers (a CRL of a million entries is
 * 53 MB) are handed over rather than copied.
 */
static enum MHD_Result
queue_data(struct MHD_Connection *c, unsigned int status, const char *type,
    void *data, size_t len, int owned)
{
	struct MHD_Response *r;
	enum MHD_Result	 rc;

	r = MHD_create_response_from_buffer(len, data, owned ?
	    MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_MUST_COPY);
	if (r == NULL) {
		if (owned)
			free(data);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(r, "Cache-Control", "no-store");
	/* RFC 6750 3: what a 401 asks for. */
	if (status == MHD_HTTP_UNAUTHORIZED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
		    "Bearer realm=\"certmint\"");
	rc = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return rc;
}

static enum MHD_Result
queue_bytes(struct MHD_Connection *c, unsigned int status, const char *type,
    const void *data, size_t len)
{
	return queue_data(c, status, type, (void *)data, len, 0);
}

/*
 * Queue a (the body becomes MHD's); rc is what made it: -1 (out of
 * memory) drops the connection.
 */
static enum MHD_Result
queue_answer(struct MHD_Connection *c, struct http_answer *a, int rc)
{
	if (rc == -1)
		return MHD_NO;
	return queue_data(c, a->status, a->type, a->data, a->len, 1);
}

static enum MHD_Result
queue_error(struct MHD_Connection *c, unsigned int status, const char *msg,
    int64_t request_id)
{
	struct http_answer a;

	return queue_answer(c, &a, http_answer_error(&a, status, msg,
	    request_id));
}

/* Send o (consumed) as JSON. */
static enum MHD_Result
queue_json(struct MHD_Connection *c, unsigned int status, json_t *o)
{
	struct http_answer a;

	return queue_answer(c, &a, http_answer_json(&a, status, o));
}

/*
 * Answer with the request object of res, or the error with the recorded id.
 */
static enum MHD_Result
queue_result(struct server *srv, struct MHD_Connection *c,
    struct ca_result *res, int pem)
{
	struct http_answer a;
	int		 rc;

	/* The read lock: a reload frees the signer, chain_pem with it. */
	ca_config_lock(srv->ca);
	rc = http_answer_result(&a, res, pem, ca_signer(srv->ca)->chain_pem);
	ca_config_unlock(srv->ca);
	return queue_answer(c, &a, rc);
}

/*
 * Who the client is: a token (Authorization), else on the HTTPS listener
 * the certificate it presented, else nobody (AUTH_NONE).
 */
static void
authenticate(struct http_listener *l, struct MHD_Connection *c,
    struct auth_id *id)
{
	const unsigned char *der;
	size_t		 len;

	auth_from_header(ca_reader(l->srv->ca), MHD_lookup_connection_value(c,
	    MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION), time_now(), id);
	if (id->kind == AUTH_NONE && l->tls && tls_peer_cert(c, &der, &len))
		auth_from_cert(l->srv->ca, der, len, time_now(), id);
}

static int
anonymous_mode(struct server *srv)
{
	int	 anon;

	ca_config_lock(srv->ca);
	anon = ca_config(srv->ca)->anonymous;
	ca_config_unlock(srv->ca);
	return anon;
}

/*
 * May id ask for what sub holds? A CSR that does not parse is left to
 * the CA, which records it as unreadable. 0, or -1 with msg.
 */
static int
check_scope(struct server *srv, const struct auth_id *id,
    const struct http_submission *sub, char *msg, size_t len)
{
	struct csr	 csr;
	char		 err[256];
	int		 rc;

	if (sub->kind != SUBMIT_CSR ||
	    csr_parse(sub->data, sub->len, &csr, err, sizeof(err)) == -1)
		return 0;
	ca_config_lock(srv->ca);
	rc = auth_scope(id, ca_config(srv->ca), &csr, sub->attrs, sub->nattrs,
	    msg, len);
	ca_config_unlock(srv->ca);
	csr_free(&csr);
	return rc;
}

/*
 * Start a submission (not a renewal) from id: refused when it asks for
 * more than id may (recorded: the requester is known); held pending for
 * [rest] anonymous = pending. The caller has refused whoever did not
 * authenticate (unauthenticated). As http_submission_start.
 */
static int
submit_start(struct server *srv, const struct http_submission *sub,
    const struct auth_id *id, const char *who, struct ca_pending **pending,
    struct ca_result *res)
{
	char	 msg[512];

	if (id->kind != AUTH_NONE && check_scope(srv, id, sub, msg,
	    sizeof(msg)) == -1)
		return ca_submit_failed_start(srv->ca, CA_E_DENIED, msg, who,
		    who, pending, res);
	if (id->kind == AUTH_NONE && anonymous_mode(srv) == CM_ANON_PENDING &&
	    sub->kind == SUBMIT_CSR)
		return ca_submit_start_hold(srv->ca, sub->data, sub->len,
		    sub->attrs, sub->nattrs, who, who, 1, pending, res);
	return http_submission_start(srv->ca, sub, who, pending, res);
}

/* http_args_walk over MHD's query arguments. */
struct args_walk {
	http_arg_fn	 fn;
	void		*arg;
};

static enum MHD_Result
args_each(void *cls, enum MHD_ValueKind kind, const char *key,
    const char *value)
{
	struct args_walk *w = cls;

	w->fn(w->arg, key, value);
	return MHD_YES;
}

static void
query_args(void *ctx, http_arg_fn fn, void *arg)
{
	struct args_walk w = { fn, arg };

	MHD_get_connection_values(ctx, MHD_GET_ARGUMENT_KIND, args_each, &w);
}

/* The client's address, NULL when MHD cannot say. */
static const struct sockaddr *
client_addr(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci;

	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	return ci != NULL ? ci->client_addr : NULL;
}

static const char *
requester_of(struct server *srv, struct MHD_Connection *c, char *buf,
    size_t len)
{
	int		 trust;

	ca_config_lock(srv->ca);
	trust = ca_config(srv->ca)->trust_requester_header;
	ca_config_unlock(srv->ca);
	return http_requester(trust, trust ? MHD_lookup_connection_value(c,
	    MHD_HEADER_KIND, "X-Certmint-Requester") : NULL, client_addr(c),
	    buf, len);
}

/*
 * Log a refusal that is not recorded (what: "submission", "renewal"),
 * with the client's address, and count its repeats by status and why
 * alone, whatever the address: senders can be many. why is a fixed text
 * (or a token's own name), never what the client chose.
 */
static void
log_unrecorded(struct MHD_Connection *c, const char *what,
    unsigned int status, const char *why)
{
	char		 addr[64], kind[320];

	http_requester(0, NULL, client_addr(c), addr, sizeof(addr));
	snprintf(kind, sizeof(kind), "http: %ss refused (%u, not recorded): "
	    "%s", what, status, why);
	logmsg_limited_as(CM_LOG_INFO, kind, "http: a %s from %s refused (%u, "
	    "not recorded): %s", what, addr[0] != '\0' ? addr :
	    "an unknown address", status, why);
}

/*
 * Refuse a submission from a client that did not authenticate: 401, and
 * nothing recorded. A request row raises CERTDENIED, which every exit
 * module hears: anyone who reached the port would fill the database and
 * make each module mail, post and write, without any credentials (AD CS
 * never sees such a request: authentication comes before the CA). Logged
 * (log_unrecorded: never the Authorization header) and counted for
 * `certmint status`.
 */
static enum MHD_Result
refuse_unauthenticated(struct server *srv, struct MHD_Connection *c,
    const struct auth_id *id)
{
	const char	*why = id->kind == AUTH_FAILED ? id->why :
			    "no credentials";

	atomic_fetch_add(&srv->unauthenticated, 1);
	log_unrecorded(c, "submission", MHD_HTTP_UNAUTHORIZED, why);
	return queue_error(c, MHD_HTTP_UNAUTHORIZED, id->kind == AUTH_FAILED ?
	    id->why : "authentication required: send an API token "
	    "(Authorization: Bearer, see certmint token create) or a client "
	    "certificate of this CA over HTTPS", 0);
}

/*
 * A renewal refused (res) before its sender proved it holds the old
 * certificate's key, nothing recorded (ca_renew): for the same reason
 * as refuse_unauthenticated, logged and counted as it does. The answer
 * is res's, as for a recorded refusal. The line says why by the status
 * alone: res's message names the serial, which the client chose.
 */
static void
renewal_unproven(struct server *srv, struct MHD_Connection *c,
    const struct ca_result *res)
{
	unsigned int	 status = http_status(res->status);
	const char	*why;

	switch (status) {
	case MHD_HTTP_BAD_REQUEST:
		why = "not a valid renewal request";
		break;
	case MHD_HTTP_FORBIDDEN:
		why = "no signature by the old key over the request";
		break;
	case MHD_HTTP_NOT_FOUND:
		why = "no certificate with that serial";
		break;
	case MHD_HTTP_CONFLICT:
		why = "the certificate is revoked, expired or not issued";
		break;
	case MHD_HTTP_CONTENT_TOO_LARGE:
		why = "body too large";
		break;
	default:
		why = ca_status_code(res->status);
		break;
	}
	atomic_fetch_add(&srv->unproven_renewals, 1);
	log_unrecorded(c, "renewal", status, why);
}

/*
 * Called on the writer's thread when a suspended submission is committed:
 * MHD calls the handler again, which answers (handle_submit). up may be
 * gone as soon as the connection is resumed.
 */
static void
submit_committed(void *arg)
{
	struct upload	*up = arg;

	MHD_resume_connection(up->conn);
}

/*
 * POST /api/v1/requests (or a renewal, up->route) with the whole body in
 * up. The submission's CPU work runs here; then the connection is
 * suspended while the writer commits, so that this thread serves other
 * connections meanwhile instead of sleeping (a thread per waiting request
 * cost two context switches per certificate), and the handler runs again
 * to answer.
 */
struct length_count {
	int		 n;
	const char	*first;
	int		 differ;
};

static enum MHD_Result
count_length(void *arg, enum MHD_ValueKind kind, const char *key,
    const char *value)
{
	struct length_count *lc = arg;

	(void)kind;
	if (key == NULL || strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) != 0)
		return MHD_YES;
	if (lc->n++ == 0)
		lc->first = value;
	else if (value == NULL || lc->first == NULL ||
	    strcmp(value, lc->first) != 0)
		lc->differ = 1;
	return MHD_YES;
}

/*
 * A submission's Content-Length, before its body is read: two that differ
 * are a 400 (RFC 9112 6.3: a request smuggling attempt, or a broken proxy);
 * one over [server] max_body sets *too_large, so that the answer is a 413
 * at once instead of a 100 Continue and the upload. MHD_YES to go on.
 */
static enum MHD_Result
check_length(struct server *srv, struct MHD_Connection *c, int *too_large)
{
	struct length_count lc = { 0, NULL, 0 };
	int64_t		 n;

	*too_large = 0;
	MHD_get_connection_values(c, MHD_HEADER_KIND, count_length, &lc);
	if (lc.differ)
		return queue_error(c, MHD_HTTP_BAD_REQUEST, "conflicting "
		    "Content-Length headers", 0);
	if (lc.first != NULL && parse_int64(lc.first, &n) == 0 &&
	    (uint64_t)n > ca_max_body(srv->ca))
		*too_large = 1;
	return MHD_YES;
}

static enum MHD_Result
handle_submit(struct http_listener *l, struct MHD_Connection *c,
    struct upload *up)
{
	struct server	*srv = l->srv;
	struct ca_result res;
	struct http_submission sub;
	struct auth_id	 id;
	const char	*who;
	char		 whobuf[64];
	enum MHD_Result	 rc;
	int64_t		 t0 = clock_ns();
	struct ca_pending *pending;
	int		 started;

	if (up->pending != NULL) {
		/* Resumed: the commit is done. */
		pending = up->pending;
		up->pending = NULL;
		ca_submit_finish(srv->ca, pending, &res);
		atomic_fetch_sub(&srv->submitting, 1);
		t0 = up->t0;
		goto answer;
	}
	/* The RequesterName is the authenticated identity's. */
	authenticate(l, c, &id);
	who = id.kind == AUTH_TOKEN || id.kind == AUTH_CERT ? id.name :
	    requester_of(srv, c, whobuf, sizeof(whobuf));
	if (http_submission_decode(&sub, MHD_lookup_connection_value(c,
	    MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE), &up->body,
	    ca_max_body(srv->ca), query_args, c) == SUBMIT_UNSUPPORTED) {
		rc = queue_error(c, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, sub.msg,
		    0);
		http_submission_free(&sub);
		auth_id_free(&id);
		return rc;
	}
	/*
	 * Credentials that fail, or none where [rest] anonymous = no. A
	 * renewal is authenticated by the old certificate's key: refused
	 * here only when credentials were sent and failed; without them,
	 * what is refused before the key is proven is not recorded either
	 * (renewal_unproven).
	 */
	if (id.kind == AUTH_FAILED || (id.kind == AUTH_NONE &&
	    up->route == ROUTE_SUBMIT && anonymous_mode(srv) == CM_ANON_NO)) {
		rc = refuse_unauthenticated(srv, c, &id);
		http_submission_free(&sub);
		auth_id_free(&id);
		return rc;
	}
	/*
	 * A renewal answers as a submission does. A body refused is queued
	 * like one; ca_renew waits for its commit on this thread (renewals
	 * are rare next to submissions).
	 */
	if (up->route == ROUTE_RENEW)
		started = http_renewal_start(srv->ca, up->target.serial, &sub,
		    MHD_lookup_connection_value(c, MHD_HEADER_KIND,
		    RENEWAL_SIG_HEADER), who, id.kind == AUTH_TOKEN ||
		    id.kind == AUTH_CERT, &pending, &res);
	else
		started = submit_start(srv, &sub, &id, who, &pending, &res);
	http_submission_free(&sub);
	auth_id_free(&id);
	if (started == CA_RENEW_UNPROVEN)
		renewal_unproven(srv, c, &res);
	if (started == 1) {
		/* Suspend first: the writer may resume the connection at once. */
		up->conn = c;
		up->pending = pending;
		up->t0 = t0;
		atomic_fetch_add(&srv->submitting, 1);
		MHD_suspend_connection(c);
		if (ca_submit_queue(srv->ca, pending, submit_committed, up) == -1)
			MHD_resume_connection(c);	/* stopping: answer now */
		return MHD_YES;
	}
answer:
	rc = queue_result(srv, c, &res, 1);
	ca_result_free(&res);
	ca_timing_add(srv->ca, STAGE_HTTP, clock_ns() - t0);
	return rc;
}

/*
 * GET of a request or its certificate: anyone's while [rest] anonymous
 * allows submissions (an anonymous client polls its pending request by
 * id), else only the requester's own, as it authenticated to submit:
 * another's is "not found", not "forbidden", to tell nothing.
 */
static enum MHD_Result
handle_request_get(struct http_listener *l, struct MHD_Connection *c,
    int64_t rid, int want_cert)
{
	struct server	*srv = l->srv;
	struct http_answer a;
	struct ca_result res;
	struct auth_id	 id;
	char		 msg[300];
	int		 mine;

	if (anonymous_mode(srv) == CM_ANON_NO) {
		authenticate(l, c, &id);
		if (id.kind != AUTH_TOKEN && id.kind != AUTH_CERT) {
			snprintf(msg, sizeof(msg), "%s", id.kind == AUTH_FAILED ?
			    id.why : "authentication required");
			auth_id_free(&id);
			return queue_error(c, MHD_HTTP_UNAUTHORIZED, msg, 0);
		}
		mine = ca_get(srv->ca, rid, &res) == 0 &&
		    res.req.requester_name != NULL &&
		    strcmp(res.req.requester_name, id.name) == 0;
		ca_result_free(&res);
		auth_id_free(&id);
		if (!mine) {
			snprintf(msg, sizeof(msg), "request %" PRId64 " not "
			    "found", rid);
			return queue_error(c, MHD_HTTP_NOT_FOUND, msg, 0);
		}
	}
	return queue_answer(c, &a, http_answer_request(&a, srv->ca, rid,
	    want_cert));
}

/* The newest base (delta) CRL of key index key: ca.crl, ca(N).crl. */
static enum MHD_Result
handle_crl(struct server *srv, struct MHD_Connection *c, int delta, int key)
{
	struct store	*st = ca_reader(srv->ca);
	struct db_crl	 crl;
	enum MHD_Result	 rc;
	int		 off;

	/*
	 * Deltas turned off: the last one would be served as it ages, on a
	 * base older than the one published since (without a Freshest CRL).
	 */
	ca_config_lock(srv->ca);
	off = delta && !ca_config(srv->ca)->delta_enabled;
	ca_config_unlock(srv->ca);
	if (off)
		return queue_error(c, MHD_HTTP_NOT_FOUND, "delta CRLs are off "
		    "([crl] delta): the base CRL is complete", 0);
	if (st == NULL || store_crl_latest(st, delta, key, &crl) != 0)
		return queue_error(c, MHD_HTTP_NOT_FOUND, key > 0 ?
		    "no CRL of that CA key has been published" : delta ?
		    "no delta CRL has been published" :
		    "no CRL has been published yet", 0);
	rc = queue_data(c, MHD_HTTP_OK, "application/pkix-crl", crl.raw,
	    crl.raw_len, 1);
	crl.raw = NULL;		/* MHD's now */
	db_crl_free(&crl);
	return rc;
}

static enum MHD_Result
handle_ca_info_locked(struct server *srv, struct MHD_Connection *c)
{
	const struct cm_config *cfg = ca_config(srv->ca);
	const struct signer *sg = ca_signer(srv->ca);
	struct store	*st = ca_reader(srv->ca);
	struct cert_info info;
	char		 err[128], ts[32];
	int64_t		 number = 0;
	json_t		*o = json_object();

	json_object_set_new(o, "name", json_string(cfg->ca_name));
	json_object_set_new(o, "type", json_string(cfg->ca_type ==
	    CM_CATYPE_STANDALONE_ROOTCA ? "root" : "subordinate"));
	json_object_set_new(o, "base_url", json_string(cfg->base_url));
	memset(&info, 0, sizeof(info));
	if (cert_info_parse(sg->cert_der, sg->cert_der_len, &info, err,
	    sizeof(err)) == 0) {
		json_object_set_new(o, "serial", json_string(info.serial));
		json_object_set_new(o, "subject", json_string(info.subject_dn));
		time_format(info.not_after, ts);
		json_object_set_new(o, "not_after", json_string(ts));
		cert_info_free(&info);
	}
	if (st != NULL && store_max_crl_number(st, &number) == 0)
		json_object_set_new(o, "crl_number", json_integer(number));
	json_object_set_new(o, "certificates", ca_certs_json(sg));
	return queue_json(c, MHD_HTTP_OK, o);
}

/*
 * /ca.pem: the newest CA certificate and its parents, then the older CA
 * certificates, newest first: what a client installs to trust all.
 */
static enum MHD_Result
handle_ca_pem_locked(struct MHD_Connection *c, const struct signer *sg)
{
	struct buf	 b = { 0 };
	enum MHD_Result	 rc;
	char		*pem;
	int		 i;

	buf_append(&b, sg->chain_pem, strlen(sg->chain_pem));
	for (i = sg->ncerts - 2; i >= 0; i--) {
		if ((pem = pem_encode("CERTIFICATE", sg->certs[i].der,
		    sg->certs[i].len)) == NULL)
			break;
		buf_append(&b, pem, strlen(pem));
		free(pem);
	}
	if (i >= 0 || b.data == NULL) {
		buf_free(&b);
		return queue_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR,
		    "out of memory", 0);
	}
	rc = queue_bytes(c, MHD_HTTP_OK, "application/x-pem-file", b.data,
	    b.len);
	buf_free(&b);
	return rc;
}

/* handle_ca_info_locked under the config read lock (ca_reload swaps it). */
static enum MHD_Result
handle_ca_info(struct server *srv, struct MHD_Connection *c)
{
	enum MHD_Result	 rc;

	ca_config_lock(srv->ca);
	rc = handle_ca_info_locked(srv, c);
	ca_config_unlock(srv->ca);
	return rc;
}

/* A GET (or HEAD) of a route. */
static enum MHD_Result
handle_get(struct http_listener *l, struct MHD_Connection *c,
    enum http_route route, const struct http_target *t)
{
	struct server	*srv = l->srv;
	const struct signer *sg = ca_signer(srv->ca);
	enum MHD_Result	 rc;

	switch (route) {
	case ROUTE_CA_CERT:
		/*
		 * ca.crt, ca(N).crt: CA certificate N, as the AIA of what it
		 * signed names it. queue_bytes copies, under the read lock: a
		 * reload frees sg.
		 */
		ca_config_lock(srv->ca);
		if (t->index >= sg->ncerts)
			rc = queue_error(c, MHD_HTTP_NOT_FOUND,
			    "no such CA certificate", 0);
		else
			rc = queue_bytes(c, MHD_HTTP_OK,
			    "application/pkix-cert", sg->certs[t->index].der,
			    sg->certs[t->index].len);
		ca_config_unlock(srv->ca);
		return rc;
	case ROUTE_CA_PEM:
		ca_config_lock(srv->ca);
		rc = handle_ca_pem_locked(c, sg);
		ca_config_unlock(srv->ca);
		return rc;
	/* ca(N).crl, delta(N).crl: the CRLs of the key of index N. */
	case ROUTE_CRL:
		return handle_crl(srv, c, 0, t->index);
	case ROUTE_DELTA_CRL:
		return handle_crl(srv, c, 1, t->index);
	case ROUTE_CA_INFO:
		return handle_ca_info(srv, c);
	case ROUTE_HEALTH:
		return queue_bytes(c, MHD_HTTP_OK, "application/json",
		    "{\"status\": \"ok\"}\n", 17);
	case ROUTE_REQUEST:
		return handle_request_get(l, c, t->id, 0);
	case ROUTE_REQUEST_CERT:
		return handle_request_get(l, c, t->id, 1);
	default:
		return queue_error(c, MHD_HTTP_NOT_FOUND, "no such resource", 0);
	}
}

/*
 * What the plain listener serves without [server] plain_api: what a
 * client must fetch before it can check a TLS certificate, or to check
 * one (CRLs, CA certificates), and /health.
 */
static int
route_plain(enum http_route route)
{
	switch (route) {
	case ROUTE_CA_CERT:
	case ROUTE_CA_PEM:
	case ROUTE_CRL:
	case ROUTE_DELTA_CRL:
	case ROUTE_HEALTH:
		return 1;
	default:
		return 0;
	}
}

/*
 * The plain listener refuses the rest (the API, and whatever is added
 * after: ACME) unless plain_api. MHD_YES to go on, else queued.
 */
static int
plain_refused(struct http_listener *l, enum http_route route)
{
	int	 api;

	if (l->tls || route_plain(route))
		return 0;
	ca_config_lock(l->srv->ca);
	api = ca_config(l->srv->ca)->plain_api;
	ca_config_unlock(l->srv->ca);
	return !api;
}

static enum MHD_Result
handler(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_size, void **con_cls)
{
	struct http_listener *l = cls;
	struct server	*srv = l->srv;
	struct upload	*up = *con_cls;
	struct http_target t;
	enum http_route	 route;
	enum MHD_Result	 rc;
	int		 too_large;
	char		 msg[256];

	/* A submission resumed after its commit answers even when stopping. */
	if (up != NULL && up->pending != NULL)
		return handle_submit(l, c, up);
	if (up != NULL && up->acme_wait != NULL)
		return acme_http_resumed(srv, c, &up->acme_wait);
	if (atomic_load(&srv->stopping))
		return queue_error(c, MHD_HTTP_SERVICE_UNAVAILABLE,
		    "the CA is shutting down", 0);
	if (plain_refused(l, route = http_route(method, url, &t))) {
		if (srv->tls_desc[0] != '\0')
			snprintf(msg, sizeof(msg), "this port serves CRLs and CA "
			    "certificates only: use https://%s", srv->tls_desc);
		else
			snprintf(msg, sizeof(msg), "this port serves CRLs and CA "
			    "certificates only ([server] tls_port, plain_api)");
		return queue_error(c, MHD_HTTP_FORBIDDEN, msg, 0);
	}
	/* The ACME server's: its whole body, then acme_http.c answers. */
	if (acme_path(url)) {
		if (up == NULL) {
			/* Before any body is read, as a submission's. */
			if ((rc = check_length(srv, c, &too_large)) != MHD_YES)
				return rc;
			if ((up = calloc(1, sizeof(*up))) == NULL)
				return MHD_NO;
			*con_cls = up;
			if (!too_large)
				return MHD_YES;
			/* 413 unread: the connection then closes. */
			up->body.too_large = 1;
			return acme_http_answer(srv, c, url, method, NULL, 0, 1,
			    &up->acme_wait);
		}
		if (*upload_size != 0) {
			if (http_body_add(&up->body, upload_data, *upload_size,
			    ca_max_body(srv->ca)) == -1)
				return MHD_NO;
			*upload_size = 0;
			return MHD_YES;
		}
		return acme_http_answer(srv, c, url, method, up->body.data.data,
		    up->body.data.len, up->body.too_large, &up->acme_wait);
	}
	switch (route) {
	case ROUTE_SUBMIT:
	case ROUTE_RENEW:
		break;
	case ROUTE_NOT_ALLOWED:
		return queue_error(c, MHD_HTTP_METHOD_NOT_ALLOWED,
		    "method not allowed", 0);
	default:
		return handle_get(l, c, route, &t);
	}
	if (up == NULL) {
		/* Before any body is read (or 100 Continue is sent). */
		if ((rc = check_length(srv, c, &too_large)) != MHD_YES)
			return rc;
		if ((up = calloc(1, sizeof(*up))) == NULL)
			return MHD_NO;
		up->route = route;
		up->target = t;
		*con_cls = up;
		if (!too_large)
			return MHD_YES;
		/*
		 * Refused unread (413, recorded; 401 when nobody
		 * authenticated): the connection then closes.
		 */
		up->body.too_large = 1;
		return handle_submit(l, c, up);
	}
	if (*upload_size != 0) {
		if (http_body_add(&up->body, upload_data, *upload_size,
		    ca_max_body(srv->ca)) == -1)
			return MHD_NO;
		*upload_size = 0;
		return MHD_YES;
	}
	return handle_submit(l, c, up);
}

/*
 * MHD's access handler: handler, after moving the connection's deadline.
 * A request's first call comes once its headers are complete; a later
 * call without data once its body is (and again when a suspended
 * submission resumes). A request without a body has no deadline left:
 * answering a slow reader is the idle timeout's business.
 */
enum MHD_Result
http_access(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_size, void **con_cls)
{
	struct server	*srv = ((struct http_listener *)cls)->srv;

	if (*con_cls == NULL)
		watch_set(srv->watch, c, watch_has_body(c) ? WATCH_BODY :
		    WATCH_NONE);
	else if (*upload_size == 0)
		watch_set(srv->watch, c, WATCH_NONE);
	return handler(cls, c, url, method, version, upload_data,
	    upload_size, con_cls);
}

void
http_request_done(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct server	*srv = ((struct http_listener *)cls)->srv;
	struct upload	*up = *con_cls;
	struct ca_result res;

	if (up != NULL) {
		/*
		 * A client gone while its submission was committed: the
		 * request is recorded; drop the answer nobody will read.
		 */
		if (up->pending != NULL) {
			ca_submit_finish(srv->ca, up->pending, &res);
			ca_result_free(&res);
			atomic_fetch_sub(&srv->submitting, 1);
		}
		acme_http_dropped(srv, &up->acme_wait);
		http_body_free(&up->body);
		free(up);
		*con_cls = NULL;
	}
	/* A kept-alive connection waits for its next request's headers. */
	watch_set(srv->watch, c, WATCH_HEADERS);
}
