/*
 * request.c - the part of the REST API (docs/rest-api.md) that reads what
 * a client sent and writes what it gets back, apart from libmicrohttpd:
 * http.c calls it with what MHD read, fuzz/fuzz_http.c with its inputs.
 */
#include <errno.h>
#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "../ca/json.h"
#include "request.h"

/*
 * The publication URLs with an index, "/ca(N).crt", "/ca(N).crl" and
 * "/delta(N).crl", N from 1 to HTTP_INDEX_MAX in plain decimal (no sign,
 * no leading zero: one URL per file): their route with N in *index, else
 * ROUTE_NONE. MHD hands the path over %-decoded, so "%28" is "(" here.
 */
static enum http_route
route_indexed(const char *url, int *index)
{
	static const struct {
		const char	*stem, *ext;
		enum http_route	 route;
	} names[] = {
		{ "/ca(", ").crt", ROUTE_CA_CERT }, { "/ca(", ").crl", ROUTE_CRL },
		{ "/delta(", ").crl", ROUTE_DELTA_CRL },
	};
	const char	*p;
	size_t		 i, digits;
	int		 n;

	for (i = 0; i < nitems(names); i++) {
		if (strncmp(url, names[i].stem, strlen(names[i].stem)) != 0)
			continue;
		p = url + strlen(names[i].stem);
		digits = strspn(p, "0123456789");
		if (digits == 0 || digits > 4 || *p == '0' ||
		    strcmp(p + digits, names[i].ext) != 0)
			continue;
		for (n = 0; digits > 0; digits--)
			n = n * 10 + (*p++ - '0');
		*index = n;
		return names[i].route;
	}
	return ROUTE_NONE;
}

/*
 * Is url API_CERTIFICATES/SERIAL/renew, SERIAL in hex as OpenSSL prints
 * it (any case, colons allowed)? 1 with it as certmint stores it in
 * t->serial, else 0.
 */
static int
route_renew(const char *url, struct http_target *t)
{
	const char	*p = url + sizeof(API_CERTIFICATES), *end;
	char		 seg[256];
	size_t		 n;

	if (strncmp(url, API_CERTIFICATES "/", sizeof(API_CERTIFICATES)) != 0 ||
	    (end = strchr(p, '/')) == NULL || strcmp(end, API_RENEW) != 0 ||
	    (n = (size_t)(end - p)) >= sizeof(seg))
		return 0;
	memcpy(seg, p, n);
	seg[n] = '\0';
	if (hex_normalize(seg, t->serial, sizeof(t->serial)) == -1) {
		t->serial[0] = '\0';
		return 0;
	}
	return 1;
}

/* API_CERTIFICATES/<anything>/renew? */
static int
renew_shaped(const char *url)
{
	size_t	 n = strlen(url), r = strlen(API_RENEW);

	return strncmp(url, API_CERTIFICATES "/", sizeof(API_CERTIFICATES)) ==
	    0 && n > sizeof(API_CERTIFICATES) + r &&
	    strcmp(url + n - r, API_RENEW) == 0;
}

enum http_route
http_route(const char *method, const char *url, struct http_target *t)
{
	static const struct {
		const char	*url;
		enum http_route	 route;
	} fixed[] = {
		{ "/ca.crt", ROUTE_CA_CERT }, { "/ca.pem", ROUTE_CA_PEM },
		{ "/ca.crl", ROUTE_CRL }, { "/delta.crl", ROUTE_DELTA_CRL },
		{ "/api/v1/ca", ROUTE_CA_INFO }, { "/health", ROUTE_HEALTH },
	};
	enum http_route	 route;
	const char	*rest;
	char		*end;
	long long	 n;
	size_t		 i;

	memset(t, 0, sizeof(*t));
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		if (strcmp(method, "POST") == 0 && strcmp(url, API_REQUESTS) == 0)
			return ROUTE_SUBMIT;
		if (route_renew(url, t)) {
			if (strcmp(method, "POST") == 0)
				return ROUTE_RENEW;
			t->serial[0] = '\0';
			return ROUTE_NOT_ALLOWED;
		}
		/* A renewal of what is no serial: no such certificate. */
		if (renew_shaped(url))
			return ROUTE_NONE;
		if (strcmp(url, API_REQUESTS) == 0 || strcmp(method, "POST") == 0)
			return ROUTE_NOT_ALLOWED;
		return ROUTE_NONE;
	}
	for (i = 0; i < nitems(fixed); i++)
		if (strcmp(url, fixed[i].url) == 0)
			return fixed[i].route;
	if ((route = route_indexed(url, &t->index)) != ROUTE_NONE)
		return route;
	if (route_renew(url, t)) {
		t->serial[0] = '\0';
		return ROUTE_NOT_ALLOWED;
	}
	if (strncmp(url, API_REQUESTS "/", sizeof(API_REQUESTS)) != 0)
		return ROUTE_NONE;
	rest = url + sizeof(API_REQUESTS);
	/* Digits only, in range: "+5", " 5" and 2^64 name no request. */
	if (*rest < '0' || *rest > '9')
		return ROUTE_NONE;
	errno = 0;
	n = strtoll(rest, &end, 10);
	if (end == rest || n <= 0 || errno == ERANGE)
		return ROUTE_NONE;
	t->id = n;
	if (*end == '\0')
		return ROUTE_REQUEST;
	if (strcmp(end, "/certificate") == 0)
		return ROUTE_REQUEST_CERT;
	t->id = 0;
	return ROUTE_NONE;
}

int
http_body_add(struct http_body *b, const void *p, size_t n, size_t max)
{
	/* Checked before adding, so that len + n cannot wrap. */
	if (!b->too_large && n > max - b->data.len) {
		b->too_large = 1;
		buf_free(&b->data);
	}
	if (b->too_large)
		return 0;
	return buf_append(&b->data, p, n);
}

void
http_body_free(struct http_body *b)
{
	buf_free(&b->data);
	b->too_large = 0;
}

const char *
http_requester(int trust, const char *header, const struct sockaddr *sa,
    char *buf, size_t len)
{
	/*
	 * The header names the requester only where an authenticating front
	 * end sets it ([server] trust_requester_header): from anyone else
	 * it would let a client claim any RequesterName.
	 */
	if (trust && header != NULL && header[0] != '\0' &&
	    strlen(header) < 256)
		return header;
	buf[0] = '\0';
	if (sa == NULL)
		return buf;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr,
		    buf, (socklen_t)len);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6,
		    &((const struct sockaddr_in6 *)sa)->sin6_addr, buf,
		    (socklen_t)len);
	return buf;
}

/*
 * Add a "Name:Value" line (blanks around each trimmed, a trailing CR
 * dropped, an empty line ignored) to s's attributes. Returns 0, or -1
 * with s->bad_attrs set.
 */
static int
attrs_add_line(struct http_submission *s, const char *line, size_t len)
{
	const char	*colon = memchr(line, ':', len);
	char		*name, *value;

	while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' '))
		len--;
	if (len == 0)
		return 0;
	if (colon == NULL || colon == line || s->nattrs >= HTTP_ATTR_MAX) {
		s->bad_attrs = 1;
		return -1;
	}
	name = strndup(line, (size_t)(colon - line));
	value = strndup(colon + 1, len - (size_t)(colon - line) - 1);
	if (name == NULL || value == NULL) {
		free(name);
		free(value);
		s->bad_attrs = 1;
		return -1;
	}
	s->attrs[s->nattrs].name = xstrdup(str_trim(name));
	s->attrs[s->nattrs].value = xstrdup(str_trim(value));
	free(name);
	free(value);
	s->nattrs++;
	return 0;
}

/* http_arg_fn: each "attrib" query argument is one attribute line. */
static void
attrs_add_arg(void *arg, const char *key, const char *value)
{
	struct http_submission *s = arg;

	if (strcmp(key, "attrib") == 0 && value != NULL)
		attrs_add_line(s, value, strlen(value));
}

/* "attributes" of a JSON body: an object of strings, or Name:Value lines. */
static void
attrs_from_json(struct http_submission *s, json_t *a)
{
	const char	*k, *str, *nl;
	json_t		*v;

	if (json_is_object(a)) {
		json_object_foreach(a, k, v) {
			if (!json_is_string(v) || s->nattrs >= HTTP_ATTR_MAX) {
				s->bad_attrs = 1;
				break;
			}
			s->attrs[s->nattrs].name = xstrdup(k);
			s->attrs[s->nattrs].value =
			    xstrdup(json_string_value(v));
			s->nattrs++;
		}
	} else if (json_is_string(a)) {
		for (str = json_string_value(a); *str != '\0'; str = nl + 1) {
			nl = strchr(str, '\n');
			attrs_add_line(s, str, nl != NULL ? (size_t)(nl - str) :
			    strlen(str));
			if (nl == NULL)
				break;
		}
	} else if (a != NULL && !json_is_null(a))
		s->bad_attrs = 1;
}

/* SUBMIT_REFUSED with status st and msg; returns it. */
static enum http_submit_kind
refuse(struct http_submission *s, enum ca_status st, const char *msg)
{
	s->kind = SUBMIT_REFUSED;
	s->status = st;
	snprintf(s->msg, sizeof(s->msg), "%s", msg);
	return s->kind;
}

/* A JSON body: {"csr": "PEM", "attributes": {...} or "Name:Value\n..."}. */
static enum http_submit_kind
decode_json(struct http_submission *s, const struct http_body *body)
{
	json_error_t	 jerr;
	const char	*csr;
	char		 msg[300];

	s->doc = json_loadb((const char *)body->data.data, body->data.len, 0,
	    &jerr);
	if (s->doc == NULL || !json_is_object(s->doc)) {
		snprintf(msg, sizeof(msg), "malformed JSON body: %s",
		    s->doc == NULL ? jerr.text : "expected an object");
		return refuse(s, CA_E_BADREQ, msg);
	}
	csr = json_string_value(json_object_get(s->doc, "csr"));
	attrs_from_json(s, json_object_get(s->doc, "attributes"));
	if (csr == NULL)
		return refuse(s, CA_E_BADREQ,
		    "JSON body has no \"csr\" string");
	s->data = (const unsigned char *)csr;
	s->len = strlen(csr);
	return SUBMIT_CSR;
}

enum http_submit_kind
http_submission_decode(struct http_submission *s, const char *type,
    const struct http_body *body, size_t max_body, http_args_walk walk,
    void *ctx)
{
	char	 msg[300];

	memset(s, 0, sizeof(*s));
	s->kind = SUBMIT_CSR;
	if (body->too_large) {
		snprintf(msg, sizeof(msg), "request body larger than %zu bytes",
		    max_body);
		return refuse(s, CA_E_TOOLARGE, msg);
	}
	if (type != NULL && strncasecmp(type, "application/json", 16) == 0) {
		if (decode_json(s, body) != SUBMIT_CSR)
			return s->kind;
	} else if (type == NULL ||
	    strncasecmp(type, "application/pkcs10", 18) != 0) {
		s->kind = SUBMIT_UNSUPPORTED;
		snprintf(s->msg, sizeof(s->msg), "Content-Type must be "
		    "application/json or application/pkcs10");
		return s->kind;
	} else {
		s->data = body->data.data;
		s->len = body->data.len;
		if (walk != NULL)
			walk(ctx, attrs_add_arg, s);
	}
	if (s->bad_attrs)
		return refuse(s, CA_E_BADREQ, "malformed request attributes "
		    "(expected Name:Value, at most 64)");
	if (ca_attrs_from_client(s->attrs, s->nattrs, msg, sizeof(msg)) == -1)
		return refuse(s, CA_E_BADREQ, msg);
	return SUBMIT_CSR;
}

void
http_submission_free(struct http_submission *s)
{
	size_t	 i;

	for (i = 0; i < s->nattrs; i++) {
		free(s->attrs[i].name);
		free(s->attrs[i].value);
	}
	s->nattrs = 0;
	json_decref(s->doc);
	s->doc = NULL;
	s->data = NULL;
}

int
http_submission_start(struct ca *ca, const struct http_submission *s,
    const char *who, struct ca_pending **pending, struct ca_result *res)
{
	if (s->kind == SUBMIT_REFUSED)
		return ca_submit_failed_start(ca, s->status, s->msg, who, who,
		    pending, res);
	return ca_submit_start(ca, s->data, s->len, s->attrs, s->nattrs, who,
	    who, pending, res);
}

/*
 * A renewal refused before ca_renew, with st and msg: recorded as a
 * refused submission when known, else CA_RENEW_UNPROVEN with res alone
 * (nothing proves who sent it).
 */
static int
renewal_refuse(struct ca *ca, enum ca_status st, const char *msg,
    const char *who, int known, struct ca_pending **pending,
    struct ca_result *res)
{
	if (known)
		return ca_submit_failed_start(ca, st, msg, who, who, pending,
		    res);
	memset(res, 0, sizeof(*res));
	res->status = st;
	snprintf(res->error, sizeof(res->error), "%s", msg);
	return CA_RENEW_UNPROVEN;
}

int
http_renewal_start(struct ca *ca, const char *serial,
    const struct http_submission *s, const char *sig, const char *who,
    int known, struct ca_pending **pending, struct ca_result *res)
{
	struct ca_renew_proof proof = { NULL, 0, known };
	unsigned char	*der = NULL;
	size_t		 len = 0;
	char		 msg[300];
	int		 rc;

	*pending = NULL;
	if (s->kind == SUBMIT_REFUSED)
		return renewal_refuse(ca, s->status, s->msg, who, known,
		    pending, res);
	/* The old request's attributes go on: none are the client's to set. */
	if (s->nattrs > 0) {
		snprintf(msg, sizeof(msg), "renewal of certificate %s: a "
		    "renewal takes no request attributes (it keeps the old "
		    "request's)", serial);
		return renewal_refuse(ca, CA_E_BADREQ, msg, who, known,
		    pending, res);
	}
	if (sig != NULL && (base64_decode(sig, strlen(sig), &der,
	    &len) == -1 || len == 0)) {
		free(der);
		snprintf(msg, sizeof(msg), "renewal of certificate %s: "
		    RENEWAL_SIG_HEADER " is not a signature in base64", serial);
		return renewal_refuse(ca, CA_E_BADREQ, msg, who, known,
		    pending, res);
	}
	proof.sig = der;
	proof.siglen = len;
	rc = ca_renew(ca, serial, s->data, s->len, &proof, who, who, res);
	free(der);
	return rc;
}

unsigned int
http_status(enum ca_status s)
{
	switch (s) {
	case CA_OK:
		return 200;
	case CA_E_BADREQ:
		return 400;
	case CA_E_NOTFOUND:
		return 404;
	case CA_E_CONFLICT:
		return 409;
	case CA_E_DENIED:
		return 403;
	case CA_E_TOOLARGE:
		return 413;
	case CA_E_SHUTDOWN:
		return 503;
	default:
		return 500;
	}
}

int
http_answer_json(struct http_answer *a, unsigned int status, json_t *o)
{
	memset(a, 0, sizeof(*a));
	if (o == NULL)
		return -1;
	/* Compact and unsorted: the API is for programs (pipe through jq to read). */
	a->data = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (a->data == NULL)
		return -1;
	a->status = status;
	a->type = "application/json";
	a->len = strlen(a->data);
	return 0;
}

int
http_answer_error(struct http_answer *a, unsigned int status, const char *msg,
    int64_t request_id)
{
	json_t	*o = json_object();

	json_object_set_new(o, "error", json_string_lossy(msg));
	if (request_id > 0)
		json_object_set_new(o, "request_id", json_integer(request_id));
	return http_answer_json(a, status, o);
}

int
http_answer_result(struct http_answer *a, const struct ca_result *res,
    int pem, const char *chain_pem)
{
	struct buf	 b = { 0 };
	unsigned int	 status;

	if (!res->has_request)
		return http_answer_error(a, http_status(res->status),
		    res->error, 0);
	memset(a, 0, sizeof(*a));
	status = http_status(res->status);
	if (res->status == CA_OK && res->req.disposition == CM_DISP_ISSUED && pem)
		status = 201;
	else if (res->status == CA_OK && res->req.disposition == CM_DISP_PENDING)
		status = 202;
	if (request_json_text(&b, &res->req, res->has_cert ? &res->cert : NULL,
	    pem, chain_pem, res->status != CA_OK ? res->error : NULL) == -1) {
		buf_free(&b);
		return -1;
	}
	a->status = status;
	a->type = "application/json";
	a->len = b.len;
	a->data = buf_steal(&b);
	return 0;
}

/*
 * GET .../ID/certificate of a request that has none to give: 409 with the
 * request object, or the error alone.
 */
static int
answer_no_cert(struct http_answer *a, struct ca *ca, struct ca_result *res)
{
	json_t	*o;

	if (!res->has_request || res->status == CA_E_INTERNAL)
		return http_answer_error(a, http_status(res->status),
		    res->error, 0);
	o = json_object();
	json_object_set_new(o, "error", json_string_lossy(res->error));
	/* The read lock: a reload frees the signer, chain_pem with it. */
	ca_config_lock(ca);
	json_object_set_new(o, "request", request_to_json(&res->req,
	    res->has_cert ? &res->cert : NULL, 0, ca_signer(ca)->chain_pem));
	ca_config_unlock(ca);
	return http_answer_json(a, 409, o);
}

int
http_answer_request(struct http_answer *a, struct ca *ca, int64_t id,
    int want_cert)
{
	struct ca_result res;
	char		*pem, *chain = NULL;
	int		 rc;

	if (!want_cert) {
		if (ca_get(ca, id, &res) == -1)
			rc = http_answer_error(a, http_status(res.status),
			    res.error, 0);
		else {
			ca_config_lock(ca);
			rc = http_answer_result(a, &res, 0,
			    ca_signer(ca)->chain_pem);
			ca_config_unlock(ca);
		}
		ca_result_free(&res);
		return rc;
	}
	if (ca_retrieve(ca, id, &res) == -1) {
		rc = answer_no_cert(a, ca, &res);
		ca_result_free(&res);
		return rc;
	}
	/* The certificate, then the CA's chain. */
	pem = pem_encode("CERTIFICATE", res.cert.raw, res.cert.raw_len);
	ca_config_lock(ca);
	if (pem != NULL && asprintf(&chain, "%s%s", pem,
	    ca_signer(ca)->chain_pem) == -1)
		chain = NULL;
	ca_config_unlock(ca);
	free(pem);
	ca_result_free(&res);
	if (chain == NULL)
		return http_answer_error(a, 500, "out of memory", 0);
	memset(a, 0, sizeof(*a));
	a->status = 200;
	a->type = "application/pem-certificate-chain";
	a->data = chain;
	a->len = strlen(chain);
	return 0;
}

void
http_answer_free(struct http_answer *a)
{
	free(a->data);
	memset(a, 0, sizeof(*a));
}
