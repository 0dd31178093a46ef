/*
 * http.c - the REST API and the publication URLs (docs/rest-api.md) on
 * libmicrohttpd's thread pool. Handlers run the CA's crypto on these
 * threads; exit modules never run here.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "../ca/json.h"
#include "server.h"

#define API_REQUESTS	"/api/v1/requests"

/* Per-connection state while a body arrives. */
struct upload {
	struct buf	 body;
	int		 too_large;
	int		 started;
	/* A submission waiting for its commit, its connection suspended. */
	struct MHD_Connection *conn;
	struct ca_pending *pending;
	int64_t		 t0;		/* when its handler first ran */
};

struct attr_list {
	struct db_attr	 v[65];
	size_t		 n;
	int		 bad;
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
 * Send o (consumed) as JSON.
 */
static enum MHD_Result
queue_json(struct MHD_Connection *c, unsigned int status, json_t *o)
{
	char		*s;
	enum MHD_Result	 rc;

	if (o == NULL)
		return MHD_NO;
	/* Compact and unsorted: the API is for programs (pipe through jq to read). */
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (s == NULL)
		return MHD_NO;
	rc = queue_bytes(c, status, "application/json", s, strlen(s));
	free(s);
	return rc;
}

static enum MHD_Result
queue_error(struct MHD_Connection *c, unsigned int status, const char *msg,
    int64_t request_id)
{
	json_t	*o = json_object();

	json_object_set_new(o, "error", json_string(msg));
	if (request_id > 0)
		json_object_set_new(o, "request_id", json_integer(request_id));
	return queue_json(c, status, o);
}

static unsigned int
http_status(enum ca_status s)
{
	switch (s) {
	case CA_OK:
		return MHD_HTTP_OK;
	case CA_E_BADREQ:
		return MHD_HTTP_BAD_REQUEST;
	case CA_E_NOTFOUND:
		return MHD_HTTP_NOT_FOUND;
	case CA_E_CONFLICT:
		return MHD_HTTP_CONFLICT;
	case CA_E_DENIED:
		return MHD_HTTP_FORBIDDEN;
	case CA_E_TOOLARGE:
		return MHD_HTTP_CONTENT_TOO_LARGE;
	case CA_E_SHUTDOWN:
		return MHD_HTTP_SERVICE_UNAVAILABLE;
	default:
		return MHD_HTTP_INTERNAL_SERVER_ERROR;
	}
}

/*
 * Answer with the request object of res, or the error with the recorded id.
 */
static enum MHD_Result
queue_result(struct server *srv, struct MHD_Connection *c,
    struct ca_result *res, int pem)
{
	struct buf	 b = { 0 };
	unsigned int	 status;
	int		 rc;

	if (!res->has_request)
		return queue_error(c, http_status(res->status), res->error, 0);
	status = http_status(res->status);
	if (res->status == CA_OK && res->req.disposition == CM_DISP_ISSUED && pem)
		status = MHD_HTTP_CREATED;
	else if (res->status == CA_OK && res->req.disposition == CM_DISP_PENDING)
		status = MHD_HTTP_ACCEPTED;
	/* The read lock: a reload frees the signer, chain_pem with it. */
	ca_config_lock(srv->ca);
	rc = request_json_text(&b, &res->req, res->has_cert ? &res->cert : NULL,
	    pem, ca_signer(srv->ca)->chain_pem,
	    res->status != CA_OK ? res->error : NULL);
	ca_config_unlock(srv->ca);
	if (rc == -1) {
		buf_free(&b);
		return MHD_NO;
	}
	/* The buffer (from realloc) becomes MHD's. */
	return queue_data(c, status, "application/json", b.data, b.len, 1);
}

/*
 * Split "Name:Value" lines into attrs. Returns 0 or -1 (list->bad set).
 */
static int
attrs_add_line(struct attr_list *l, const char *line, size_t len)
{
	const char	*colon = memchr(line, ':', len);
	char		*name, *value;

	while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' '))
		len--;
	if (len == 0)
		return 0;
	if (colon == NULL || colon == line || l->n >= nitems(l->v) - 1) {
		l->bad = 1;
		return -1;
	}
	name = strndup(line, (size_t)(colon - line));
	value = strndup(colon + 1, len - (size_t)(colon - line) - 1);
	if (name == NULL || value == NULL) {
		free(name);
		free(value);
		l->bad = 1;
		return -1;
	}
	l->v[l->n].name = xstrdup(str_trim(name));
	l->v[l->n].value = xstrdup(str_trim(value));
	free(name);
	free(value);
	l->n++;
	return 0;
}

static void
attrs_free(struct attr_list *l)
{
	size_t	 i;

	for (i = 0; i < l->n; i++) {
		free(l->v[i].name);
		free(l->v[i].value);
	}
	l->n = 0;
}

static enum MHD_Result
collect_attrib(void *cls, enum MHD_ValueKind kind, const char *key,
    const char *value)
{
	struct attr_list *l = cls;

	if (strcmp(key, "attrib") == 0 && value != NULL)
		attrs_add_line(l, value, strlen(value));
	return MHD_YES;
}

static const char *
requester_of(struct server *srv, struct MHD_Connection *c, char *buf,
    size_t len)
{
	const char	*h;
	const union MHD_ConnectionInfo *ci;
	const struct sockaddr *sa;
	int		 trust;

	/*
	 * The header names the requester only where an authenticating front
	 * end sets it ([server] trust_requester_header): from anyone else
	 * it would let a client claim any RequesterName.
	 */
	ca_config_lock(srv->ca);
	trust = ca_config(srv->ca)->trust_requester_header;
	ca_config_unlock(srv->ca);
	h = trust ? MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    "X-Certmint-Requester") : NULL;
	if (h != NULL && h[0] != '\0' && strlen(h) < 256)
		return h;
	buf[0] = '\0';
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci != NULL && (sa = ci->client_addr) != NULL) {
		if (sa->sa_family == AF_INET)
			inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr,
			    buf, (socklen_t)len);
		else if (sa->sa_family == AF_INET6)
			inet_ntop(AF_INET6,
			    &((const struct sockaddr_in6 *)sa)->sin6_addr, buf,
			    (socklen_t)len);
	}
	return buf;
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
 * POST /api/v1/requests with the whole body in up. The submission's CPU
 * work runs here; then the connection is suspended while the writer
 * commits, so that this thread serves other connections meanwhile instead
 * of sleeping (a thread per waiting request cost two context switches per
 * certificate), and the handler runs again to answer.
 */
static enum MHD_Result
handle_submit(struct server *srv, struct MHD_Connection *c, struct upload *up)
{
	struct ca_result res;
	struct attr_list attrs = { 0 };
	const char	*type, *csr = NULL, *who;
	const unsigned char *data = up->body.data;
	size_t		 len = up->body.len;
	char		 whobuf[64], msg[300];
	json_t		*doc = NULL, *a;
	json_error_t	 jerr;
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
	who = requester_of(srv, c, whobuf, sizeof(whobuf));
	if (up->too_large) {
		snprintf(msg, sizeof(msg), "request body larger than %zu bytes",
		    ca_max_body(srv->ca));
		started = ca_submit_failed_start(srv->ca, CA_E_TOOLARGE, msg,
		    who, who, &pending, &res);
		goto submit;
	}
	type = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_TYPE);
	if (type != NULL && strncasecmp(type, "application/json", 16) == 0) {
		if ((doc = json_loadb((const char *)data, len, 0, &jerr)) == NULL ||
		    !json_is_object(doc)) {
			snprintf(msg, sizeof(msg), "malformed JSON body: %s",
			    doc == NULL ? jerr.text : "expected an object");
			started = ca_submit_failed_start(srv->ca, CA_E_BADREQ,
			    msg, who, who, &pending, &res);
			goto submit;
		}
		csr = json_string_value(json_object_get(doc, "csr"));
		a = json_object_get(doc, "attributes");
		if (json_is_object(a)) {
			const char *k;
			json_t *v;

			json_object_foreach(a, k, v) {
				if (!json_is_string(v) || attrs.n >= nitems(attrs.v) - 1) {
					attrs.bad = 1;
					break;
				}
				attrs.v[attrs.n].name = xstrdup(k);
				attrs.v[attrs.n].value = xstrdup(json_string_value(v));
				attrs.n++;
			}
		} else if (json_is_string(a)) {
			const char *s = json_string_value(a), *nl;

			for (; *s; s = nl ? nl + 1 : s + strlen(s)) {
				nl = strchr(s, '\n');
				attrs_add_line(&attrs, s, nl ? (size_t)(nl - s) : strlen(s));
				if (nl == NULL)
					break;
			}
		} else if (a != NULL && !json_is_null(a))
			attrs.bad = 1;
		if (csr == NULL) {
			started = ca_submit_failed_start(srv->ca, CA_E_BADREQ,
			    "JSON body has no \"csr\" string", who, who, &pending,
			    &res);
			goto submit;
		}
		data = (const unsigned char *)csr;
		len = strlen(csr);
	} else if (type == NULL || strncasecmp(type, "application/pkcs10", 18) != 0) {
		attrs_free(&attrs);
		return queue_error(c, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
		    "Content-Type must be application/json or application/pkcs10",
		    0);
	} else
		MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, collect_attrib,
		    &attrs);
	if (attrs.bad)
		started = ca_submit_failed_start(srv->ca, CA_E_BADREQ,
		    "malformed request attributes (expected Name:Value, at most "
		    "64)", who, who, &pending, &res);
	else
		started = ca_submit_start(srv->ca, data, len, attrs.v, attrs.n,
		    who, who, &pending, &res);
submit:
	if (started == 1) {
		/* Suspend first: the writer may resume the connection at once. */
		up->conn = c;
		up->pending = pending;
		up->t0 = t0;
		atomic_fetch_add(&srv->submitting, 1);
		MHD_suspend_connection(c);
		if (ca_submit_queue(srv->ca, pending, submit_committed, up) == -1)
			MHD_resume_connection(c);	/* stopping: answer now */
		attrs_free(&attrs);
		json_decref(doc);
		return MHD_YES;
	}
answer:
	rc = queue_result(srv, c, &res, 1);
	ca_result_free(&res);
	attrs_free(&attrs);
	json_decref(doc);
	ca_timing_add(srv->ca, STAGE_HTTP, clock_ns() - t0);
	return rc;
}

static enum MHD_Result
handle_request_get(struct server *srv, struct MHD_Connection *c,
    const char *rest)
{
	struct ca_result res;
	char		*end, *pem, *chain;
	long long	 id;
	int		 want_cert = 0;
	enum MHD_Result	 rc;
	size_t		 n;

	id = strtoll(rest, &end, 10);
	if (end == rest || id <= 0)
		return queue_error(c, MHD_HTTP_NOT_FOUND, "no such resource", 0);
	if (strcmp(end, "/certificate") == 0)
		want_cert = 1;
	else if (*end != '\0')
		return queue_error(c, MHD_HTTP_NOT_FOUND, "no such resource", 0);
	if (!want_cert) {
		if (ca_get(srv->ca, id, &res) == -1)
			rc = queue_error(c, http_status(res.status), res.error, 0);
		else
			rc = queue_result(srv, c, &res, 0);
		ca_result_free(&res);
		return rc;
	}
	if (ca_retrieve(srv->ca, id, &res) == -1) {
		if (res.has_request && res.status != CA_E_INTERNAL) {
			json_t *o = json_object();

			json_object_set_new(o, "error", json_string(res.error));
			json_object_set_new(o, "request",
			    result_request_json(srv, &res, 0));
			rc = queue_json(c, MHD_HTTP_CONFLICT, o);
		} else
			rc = queue_error(c, http_status(res.status), res.error, 0);
		ca_result_free(&res);
		return rc;
	}
	pem = pem_encode("CERTIFICATE", res.cert.raw, res.cert.raw_len);
	chain = pem;
	ca_config_lock(srv->ca);
	if (pem != NULL && asprintf(&chain, "%s%s", pem,
	    ca_signer(srv->ca)->chain_pem) == -1)
		chain = NULL;
	ca_config_unlock(srv->ca);
	n = chain ? strlen(chain) : 0;
	rc = chain ? queue_bytes(c, MHD_HTTP_OK,
	    "application/pem-certificate-chain", chain, n) :
	    queue_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory", 0);
	if (chain != pem)
		free(chain);
	free(pem);
	ca_result_free(&res);
	return rc;
}

static enum MHD_Result
handle_crl(struct server *srv, struct MHD_Connection *c, int delta)
{
	struct store	*st = ca_reader(srv->ca);
	struct db_crl	 crl;
	enum MHD_Result	 rc;

	if (st == NULL || store_crl_latest(st, delta, &crl) != 0)
		return queue_error(c, MHD_HTTP_NOT_FOUND, delta ?
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
	return queue_json(c, MHD_HTTP_OK, o);
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

static enum MHD_Result
handle_get(struct server *srv, struct MHD_Connection *c, const char *url)
{
	const struct signer *sg = ca_signer(srv->ca);
	enum MHD_Result	 rc;

	/* queue_bytes copies, under the read lock: a reload frees sg. */
	if (strcmp(url, "/ca.crt") == 0) {
		ca_config_lock(srv->ca);
		rc = queue_bytes(c, MHD_HTTP_OK, "application/pkix-cert",
		    sg->cert_der, sg->cert_der_len);
		ca_config_unlock(srv->ca);
		return rc;
	}
	if (strcmp(url, "/ca.pem") == 0) {
		ca_config_lock(srv->ca);
		rc = queue_bytes(c, MHD_HTTP_OK, "application/x-pem-file",
		    sg->chain_pem, strlen(sg->chain_pem));
		ca_config_unlock(srv->ca);
		return rc;
	}
	if (strcmp(url, "/ca.crl") == 0)
		return handle_crl(srv, c, 0);
	if (strcmp(url, "/delta.crl") == 0)
		return handle_crl(srv, c, 1);
	if (strcmp(url, "/api/v1/ca") == 0)
		return handle_ca_info(srv, c);
	if (strcmp(url, "/health") == 0)
		return queue_bytes(c, MHD_HTTP_OK, "application/json",
		    "{\"status\": \"ok\"}\n", 17);
	if (strncmp(url, API_REQUESTS "/", sizeof(API_REQUESTS)) == 0)
		return handle_request_get(srv, c, url + sizeof(API_REQUESTS));
	return queue_error(c, MHD_HTTP_NOT_FOUND, "no such resource", 0);
}

static enum MHD_Result
handler(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_size, void **con_cls)
{
	struct server	*srv = cls;
	struct upload	*up = *con_cls;
	size_t		 max = ca_max_body(srv->ca);

	/* A submission resumed after its commit answers even when stopping. */
	if (up != NULL && up->pending != NULL)
		return handle_submit(srv, c, up);
	if (atomic_load(&srv->stopping))
		return queue_error(c, MHD_HTTP_SERVICE_UNAVAILABLE,
		    "the CA is shutting down", 0);
	if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0)
		return handle_get(srv, c, url);
	if (strcmp(method, "POST") != 0 || strcmp(url, API_REQUESTS) != 0) {
		if (strcmp(url, API_REQUESTS) == 0 || strcmp(method, "POST") == 0)
			return queue_error(c, MHD_HTTP_METHOD_NOT_ALLOWED,
			    "method not allowed", 0);
		return queue_error(c, MHD_HTTP_NOT_FOUND, "no such resource", 0);
	}
	if (up == NULL) {
		if ((up = calloc(1, sizeof(*up))) == NULL)
			return MHD_NO;
		*con_cls = up;
		return MHD_YES;
	}
	if (*upload_size != 0) {
		/* Keep reading an oversized body but drop it. */
		if (!up->too_large && up->body.len + *upload_size > max) {
			up->too_large = 1;
			buf_free(&up->body);
		}
		if (!up->too_large &&
		    buf_append(&up->body, upload_data, *upload_size) == -1)
			return MHD_NO;
		*upload_size = 0;
		return MHD_YES;
	}
	return handle_submit(srv, c, up);
}

static void
request_done(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct server	*srv = cls;
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
		buf_free(&up->body);
		free(up);
		*con_cls = NULL;
	}
}

static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	char	 msg[512];
	size_t	 n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n > 0 && msg[n - 1] == '\n')
		msg[--n] = '\0';
	log_warn("http: %s", msg);
}

int
http_start(struct server *srv, char *err, size_t errlen)
{
	const struct cm_config *cfg = ca_config(srv->ca);
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	unsigned int	 threads = (unsigned int)cfg->threads;
	unsigned int	 flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG |
	    MHD_ALLOW_SUSPEND_RESUME;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, cfg->listen_addr, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)cfg->listen_port);
	} else if (inet_pton(AF_INET6, cfg->listen_addr, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)cfg->listen_port);
		flags |= MHD_USE_IPv6;
	} else {
		snprintf(err, errlen, "[server] listen = \"%s\": not an IPv4 or "
		    "IPv6 address", cfg->listen_addr);
		return -1;
	}
	/*
	 * A submission does not hold its thread while the writer commits
	 * (its connection is suspended), so a few threads per core keep the
	 * cores busy; more only add context switches. On 2 cores bench/issue
	 * gave 11,000-12,000 certificates/s with 2 to 8 threads.
	 */
	if (threads == 0)
		threads = (unsigned int)sysconf(_SC_NPROCESSORS_ONLN) * 2;
	if (threads < 4)
		threads = 4;
	if (sysconf(_SC_NPROCESSORS_ONLN) > 0)
		flags |= MHD_USE_EPOLL_LINUX_ONLY;
	srv->mhd = MHD_start_daemon(flags, (uint16_t)cfg->listen_port, NULL, NULL,
	    handler, srv,
	    MHD_OPTION_EXTERNAL_LOGGER, mhd_log, srv,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
	    MHD_OPTION_THREAD_POOL_SIZE, threads,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)30,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned int)1000,
	    MHD_OPTION_NOTIFY_COMPLETED, request_done, srv,
	    MHD_OPTION_END);
	if (srv->mhd == NULL) {
		snprintf(err, errlen, "cannot listen on %s port %d (in use, or not "
		    "an address of this host?)", cfg->listen_addr, cfg->listen_port);
		return -1;
	}
	snprintf(srv->listen_desc, sizeof(srv->listen_desc), "%s:%d",
	    cfg->listen_addr, cfg->listen_port);
	return 0;
}

void
http_stop(struct server *srv)
{
	int	 i;

	if (srv->mhd == NULL)
		return;
	/*
	 * Suspended submissions are resumed by the writer, which runs until
	 * after this: let them answer (at most 30 s) before MHD goes, so
	 * that no callback meets a freed connection.
	 */
	for (i = 0; i < 3000 && atomic_load(&srv->submitting) > 0; i++)
		usleep(10000);
	if (atomic_load(&srv->submitting) > 0)
		log_err("http: %d submissions still waiting for the writer at "
		    "stop", atomic_load(&srv->submitting));
	MHD_stop_daemon(srv->mhd);
	srv->mhd = NULL;
}
