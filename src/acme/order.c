/*
 * order.c - ACME orders: newOrder, the order and the certificate
 * download (RFC 8555 7.1.3, 7.4, 7.4.2, RFC 8738). Finalization is
 * finalize.c's, authorizations and challenges authz.c's, revokeCert
 * revoke.c's, the rate limits ratelimit.c's.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acme_int.h"

/* ---- JSON view ----------------------------------------------------- */

/*
 * Shown as "invalid" once expired while not done (certbot knows no
 * "expired").
 */
const char *
acme_order_status(const struct acme_order_row *o)
{
	if ((strcmp(o->status, "pending") == 0 || strcmp(o->status, "ready") ==
	    0) && o->expires < time_now())
		return "invalid";
	return o->status;
}

static json_t *
order_json(struct acme *a, const struct acme_endpoint *ep,
    const struct acme_order_row *o, struct store *st)
{
	json_t		*j = json_object(), *arr = json_array(), *e;
	struct acme_authz_row *az;
	size_t		 n, i;
	char		 u[700];

	json_object_set_new(j, "status", json_string(acme_order_status(o)));
	json_object_set_new(j, "expires", acme_time(o->expires));
	json_object_set_new(j, "identifiers", json_loads(o->identifiers, 0,
	    NULL));
	if (store_acme_authzs_of(st, o->id, &az, &n) == 0) {
		for (i = 0; i < n; i++) {
			acme_url(a, ep, "authz", az[i].id, u, sizeof(u));
			json_array_append_new(arr, json_string(u));
		}
		free(az);
	}
	json_object_set_new(j, "authorizations", arr);
	acme_url(a, ep, "finalize", o->id, u, sizeof(u));
	json_object_set_new(j, "finalize", json_string(u));
	if (o->profile[0] != '\0')
		json_object_set_new(j, "profile", json_string(o->profile));
	if (strcmp(o->status, "valid") == 0) {
		acme_url(a, ep, "cert", o->id, u, sizeof(u));
		json_object_set_new(j, "certificate", json_string(u));
	}
	if ((e = acme_problem_json(o->error)) != NULL)
		json_object_set_new(j, "error", e);
	return j;
}


/* Does v read as an RFC 9773 certificate id ("AKI.serial", base64url)? */
static int
cert_id_reads(const json_t *v)
{
	const char	*s = json_string_value(v), *dot;
	unsigned char	*a = NULL, *b = NULL;
	size_t		 al = 0, bl = 0;
	int		 ok;

	if (s == NULL || (dot = strchr(s, '.')) == NULL)
		return 0;
	ok = b64url_decode(s, (size_t)(dot - s), &a, &al) == 0 && al > 0 &&
	    b64url_decode(dot + 1, strlen(dot + 1), &b, &bl) == 0 &&
	    bl > 0 && bl <= 21;
	free(a);
	free(b);
	return ok;
}

/* ---- new order ----------------------------------------------------- */

static int
ident_read(const struct acme_endpoint *ep, json_t *o,
    struct acme_ident *id, struct acme_problem *p)
{
	const char	*type = json_string_value(json_object_get(o, "type"));
	const char	*v = json_string_value(json_object_get(o, "value"));
	unsigned char	 bin[16];
	struct in6_addr	 a6;
	const char	*why;
	size_t		 i;

	if (type == NULL || v == NULL || strlen(v) >= sizeof(id->value))
		return acme_problem(p, 400, "malformed", "an identifier is "
		    "{\"type\", \"value\"}");
	if (strcmp(type, "dns") == 0) {
		snprintf(id->type, sizeof(id->type), "dns");
		for (i = 0; v[i] != '\0'; i++)
			id->value[i] = (char)tolower((unsigned char)v[i]);
		id->value[i] = '\0';
		if ((why = dns_name_check((const unsigned char *)id->value,
		    strlen(id->value), 1)) != NULL)
			return acme_problem(p, 400, "rejectedIdentifier",
			    "\"%s\": %s", v, why);
		if (inet_pton(AF_INET, id->value, bin) == 1)
			return acme_problem(p, 400, "rejectedIdentifier",
			    "\"%s\" is an IP address: use type \"ip\"", v);
	} else if (strcmp(type, "ip") == 0) {
		snprintf(id->type, sizeof(id->type), "ip");
		/* RFC 8738 3: the address in its usual text form. */
		if (inet_pton(AF_INET, v, bin) == 1) {
			/* "This host": no certificate names it. */
			if (memcmp(bin, "\0\0\0\0", 4) == 0)
				return acme_problem(p, 400,
				    "rejectedIdentifier", "\"%s\" is the "
				    "unspecified address", v);
			inet_ntop(AF_INET, bin, id->value, sizeof(id->value));
		} else if (inet_pton(AF_INET6, v, bin) == 1) {
			/*
			 * ::ffff:192.0.2.1 is validated at 192.0.2.1 but
			 * would be issued as an IPv6 address no TLS client
			 * matches, past any IPv4 pattern of identifiers.
			 */
			memcpy(&a6, bin, sizeof(a6));
			if (IN6_IS_ADDR_UNSPECIFIED(&a6))
				return acme_problem(p, 400,
				    "rejectedIdentifier", "\"%s\" is the "
				    "unspecified address", v);
			if (IN6_IS_ADDR_V4MAPPED(&a6))
				return acme_problem(p, 400,
				    "rejectedIdentifier", "\"%s\" is an IPv4 "
				    "address in IPv6 form: order it as IPv4", v);
			inet_ntop(AF_INET6, bin, id->value, sizeof(id->value));
		} else
			return acme_problem(p, 400, "malformed", "\"%s\" is "
			    "not an IP address", v);
	} else
		return acme_problem(p, 400, "unsupportedIdentifier",
		    "identifier type \"%s\" (dns, ip)", type);
	if (!acme_identifier_allowed(ep, strcmp(id->type, "ip") == 0,
	    id->value))
		return acme_problem(p, 400, "rejectedIdentifier", "this ACME "
		    "directory does not issue for \"%s\"", id->value);
	return 0;
}

struct order_job {
	struct acme_order_row *order;
	struct acme_ident *ids;
	size_t		 nids;
	int64_t		 account_id;
};

static int
token_new(char out[64])
{
	unsigned char	 r[32];
	char		*s;

	if (random_fill(r, sizeof(r)) == -1 ||
	    (s = b64url_encode(r, sizeof(r))) == NULL)
		return -1;
	snprintf(out, 64, "%s", s);
	free(s);
	return 0;
}

static int
order_insert_fn(struct store *st, void *arg)
{
	struct order_job *job = arg;
	struct acme_authz_row az;
	struct acme_chall_row c;
	static const char *const dns_types[] = { "http-01", "dns-01",
	    "tls-alpn-01" };
	static const char *const wild_types[] = { "dns-01" };
	static const char *const ip_types[] = { "http-01", "tls-alpn-01" };
	const char *const *types;
	size_t		 i, k, ntypes;
	int		 rc;

	if ((rc = store_acme_order_insert(st, job->order)) != 0)
		return rc;
	for (i = 0; i < job->nids; i++) {
		memset(&az, 0, sizeof(az));
		az.order_id = job->order->id;
		az.account_id = job->account_id;
		snprintf(az.type, sizeof(az.type), "%s", job->ids[i].type);
		az.wildcard = strncmp(job->ids[i].value, "*.", 2) == 0;
		snprintf(az.value, sizeof(az.value), "%s", job->ids[i].value +
		    (az.wildcard ? 2 : 0));
		snprintf(az.status, sizeof(az.status), "pending");
		az.expires = job->order->expires;
		if ((rc = store_acme_authz_insert(st, &az)) != 0)
			return rc;
		/* Wildcards: dns-01 only; IPs: no dns-01 (RFC 8738 7). */
		if (az.wildcard) {
			types = wild_types;
			ntypes = nitems(wild_types);
		} else if (strcmp(az.type, "ip") == 0) {
			types = ip_types;
			ntypes = nitems(ip_types);
		} else {
			types = dns_types;
			ntypes = nitems(dns_types);
		}
		for (k = 0; k < ntypes; k++) {
			memset(&c, 0, sizeof(c));
			c.authz_id = az.id;
			snprintf(c.type, sizeof(c.type), "%s", types[k]);
			snprintf(c.status, sizeof(c.status), "pending");
			if (token_new(c.token) == -1)
				return CM_E_FAIL;
			if ((rc = store_acme_chall_insert(st, &c)) != 0)
				return rc;
		}
	}
	return 0;
}

int
acme_new_order(struct acme *a, const struct acme_endpoint *ep,
    const struct acme_req *req, const char *url, struct acme_resp *r,
    struct acme_problem *p)
{
	struct acme_jws	 j;
	struct acme_order_row o;
	struct order_job job;
	struct acme_ident *ids = NULL;
	json_t		*arr, *v, *idj = NULL, *prof;
	size_t		 i, k, n = 0;
	struct store	*st;
	int		 rc = -1;

	memset(&o, 0, sizeof(o));
	if (acme_jws_read(a, ep, req, url, 0, &j, p) == -1)
		return -1;
	arr = j.payload != NULL ? json_object_get(j.payload, "identifiers") :
	    NULL;
	if (!json_is_array(arr) || json_array_size(arr) == 0 ||
	    json_array_size(arr) > ACME_MAX_IDENTIFIERS) {
		acme_problem(p, 400, "malformed", "newOrder needs 1 to %d "
		    "identifiers", ACME_MAX_IDENTIFIERS);
		goto out;
	}
	if ((ids = calloc(json_array_size(arr), sizeof(*ids))) == NULL) {
		acme_problem(p, 500, "serverInternal", "out of memory");
		goto out;
	}
	idj = json_array();
	json_array_foreach(arr, i, v) {
		if (ident_read(ep, v, &ids[n], p) == -1)
			goto out;
		for (k = 0; k < n; k++)
			if (strcmp(ids[k].type, ids[n].type) == 0 &&
			    strcmp(ids[k].value, ids[n].value) == 0)
				break;
		if (k < n)
			continue;	/* the same name twice: once */
		json_array_append_new(idj, json_pack("{s:s, s:s}", "type",
		    ids[n].type, "value", ids[n].value));
		n++;
	}
	/*
	 * RFC 8555 7.4: what cannot be done as asked is refused, never
	 * ignored. The profile sets the validity; "replaces" (RFC 9773) is
	 * a hint, but one that reads.
	 */
	if (json_object_get(j.payload, "notBefore") != NULL ||
	    json_object_get(j.payload, "notAfter") != NULL) {
		acme_problem(p, 400, "malformed", "notBefore and notAfter are "
		    "not supported: the certificate profile sets the validity");
		goto out;
	}
	if (json_object_get(j.payload, "replaces") != NULL &&
	    !cert_id_reads(json_object_get(j.payload, "replaces"))) {
		acme_problem(p, 400, "malformed", "\"replaces\" is a "
		    "certificate id: base64url(keyIdentifier).base64url(serial)");
		goto out;
	}
	if (acme_rate_check(a, ep, j.account.id, ids, n, r, p) == -1)
		goto out;
	prof = json_object_get(j.payload, "profile");
	if (prof != NULL && (!json_is_string(prof) ||
	    !acme_profile_offered(ep, json_string_value(prof)))) {
		acme_problem(p, 400, "invalidProfile", "profile \"%s\" is not "
		    "offered here (the directory's meta.profiles)",
		    json_is_string(prof) ? json_string_value(prof) : "");
		goto out;
	}
	if (prof != NULL)
		snprintf(o.profile, sizeof(o.profile), "%s",
		    json_string_value(prof));
	o.account_id = j.account.id;
	snprintf(o.endpoint, sizeof(o.endpoint), "%s", ep->name);
	snprintf(o.status, sizeof(o.status), "pending");
	o.created = time_now();
	o.expires = o.created + ACME_ORDER_LIFETIME;
	if ((o.identifiers = json_dumps(idj, JSON_COMPACT)) == NULL) {
		acme_problem(p, 500, "serverInternal", "out of memory");
		goto out;
	}
	job.order = &o;
	job.ids = ids;
	job.nids = n;
	job.account_id = j.account.id;
	if (acme_write(a, order_insert_fn, &job) == -1 ||
	    (st = acme_reader(a)) == NULL) {
		acme_db_error(p);
		goto out;
	}
	acme_url(a, ep, "order", o.id, r->location, sizeof(r->location));
	acme_resp_json(r, 201, order_json(a, ep, &o, st));
	rc = 0;
out:
	json_decref(idj);
	free(ids);
	acme_order_row_free(&o);
	acme_jws_free(&j);
	return rc;
}

/* ---- order, and the issuance it waits for -------------------------- */

int
acme_order_update_fn(struct store *st, void *arg)
{
	struct acme_order_update *u = arg;
	struct acme_order_row cur;
	int		 rc;

	if (u->expect != NULL) {
		if ((rc = store_acme_order_get(st, u->order->id, &cur)) != 0)
			return rc;
		u->conflict = strcmp(cur.status, u->expect) != 0;
		acme_order_row_free(&cur);
		if (u->conflict)
			return 0;
	}
	return store_acme_order_update(st, u->order);
}

/*
 * A "processing" order whose request has been decided (an officer, or a
 * finalize cut short by a crash): make it valid or invalid.
 */
static void
order_refresh(struct acme *a, struct acme_order_row *o, struct store *st)
{
	struct db_request req;
	struct db_cert	 cert;
	struct acme_order_update u = { o, "processing", 0 };
	char		*e = NULL;

	if (strcmp(o->status, "processing") != 0)
		return;
	if (o->request_id == 0 &&
	    store_acme_request_of_order(st, o->id, &o->request_id) != 0)
		return;
	memset(&req, 0, sizeof(req));
	if (store_request_get(st, o->request_id, &req) != 0)
		return;
	if (req.disposition == CM_DISP_ISSUED ||
	    req.disposition == CM_DISP_REVOKED) {
		if (store_cert_get(st, o->request_id, &cert) == 0) {
			snprintf(o->serial, sizeof(o->serial), "%s",
			    cert.serial);
			snprintf(o->status, sizeof(o->status), "valid");
			db_cert_free(&cert);
		}
	} else if (req.disposition == CM_DISP_DENIED ||
	    req.disposition == CM_DISP_ERROR) {
		snprintf(o->status, sizeof(o->status), "invalid");
		e = acme_problem_text(403, "unauthorized",
		    req.disposition_message != NULL ?
		    req.disposition_message : "the request was denied");
		free(o->error);
		o->error = e;
	}
	db_request_free(&req);
	if (strcmp(o->status, "processing") != 0)
		acme_write(a, acme_order_update_fn, &u);
}

/* The order id of account's, into o. 0 or -1 with p. */
int
acme_order_load(struct acme *a, int64_t id, int64_t account,
    struct acme_order_row *o, struct store **stp, struct acme_problem *p)
{
	struct store	*st;
	int		 rc;

	if ((st = *stp = acme_reader(a)) == NULL)
		return acme_db_error(p);
	if ((rc = store_acme_order_get(st, id, o)) == CM_E_NOTFOUND)
		return acme_problem(p, 404, "malformed", "no such order");
	if (rc != 0)
		return acme_db_error(p);
	if (o->account_id != account) {
		acme_order_row_free(o);
		return acme_problem(p, 403, "unauthorized", "not your order");
	}
	order_refresh(a, o, st);
	return 0;
}

void
acme_order_answer(struct acme *a, const struct acme_endpoint *ep,
    const struct acme_order_row *o, struct store *st, struct acme_resp *r)
{
	acme_url(a, ep, "order", o->id, r->location, sizeof(r->location));
	if (strcmp(o->status, "processing") == 0)
		r->retry_after = ACME_RETRY_AFTER;
	acme_resp_json(r, 200, order_json(a, ep, o, st));
}

int
acme_order(struct acme *a, const struct acme_endpoint *ep,
    const struct acme_req *req, const char *url, int64_t id,
    struct acme_resp *r, struct acme_problem *p)
{
	struct acme_jws	 j;
	struct acme_order_row o;
	struct store	*st;
	int		 rc = -1;

	if (acme_jws_read(a, ep, req, url, 0, &j, p) == -1)
		return -1;
	if (acme_order_load(a, id, j.account.id, &o, &st, p) == 0) {
		acme_order_answer(a, ep, &o, st, r);
		acme_order_row_free(&o);
		rc = 0;
	}
	acme_jws_free(&j);
	return rc;
}
/* ---- certificate ---------------------------------------------------- */

/*
 * The PEM chain of cert: it, then the CA certificate that signed it and
 * its parents.
 */
static char *
chain_of(struct acme *a, const struct db_cert *cert)
{
	const struct signer *sg;
	struct buf	 b = { 0 };
	char		*pem;

	if ((pem = pem_encode("CERTIFICATE", cert->raw, cert->raw_len)) ==
	    NULL)
		return NULL;
	buf_append(&b, pem, strlen(pem));
	free(pem);
	ca_config_lock(a->ca);
	sg = ca_signer(a->ca);
	if (cert->ca_idx == sg->cert_idx || cert->ca_idx >= sg->ncerts ||
	    cert->ca_idx < 0)
		buf_append(&b, sg->chain_pem, strlen(sg->chain_pem));
	else if ((pem = pem_encode("CERTIFICATE", sg->certs[cert->ca_idx].der,
	    sg->certs[cert->ca_idx].len)) != NULL) {
		buf_append(&b, pem, strlen(pem));
		free(pem);
	}
	ca_config_unlock(a->ca);
	buf_appendc(&b, '\0');
	return buf_steal(&b);
}

int
acme_cert(struct acme *a, const struct acme_endpoint *ep,
    const struct acme_req *req, const char *url, int64_t id,
    struct acme_resp *r, struct acme_problem *p)
{
	struct acme_jws	 j;
	struct acme_order_row o;
	struct db_cert	 cert;
	struct store	*st;
	int		 rc = -1;

	memset(&o, 0, sizeof(o));
	if (acme_jws_read(a, ep, req, url, 0, &j, p) == -1)
		return -1;
	if (acme_order_load(a, id, j.account.id, &o, &st, p) == -1)
		goto out;
	if (strcmp(o.status, "valid") != 0 || o.request_id == 0) {
		acme_problem(p, 404, "malformed", "the order has no "
		    "certificate (it is %s)", acme_order_status(&o));
		goto out;
	}
	if (store_cert_get(st, o.request_id, &cert) != 0) {
		acme_problem(p, 500, "serverInternal", "certificate not found");
		goto out;
	}
	r->body = chain_of(a, &cert);
	db_cert_free(&cert);
	if (r->body == NULL) {
		acme_problem(p, 500, "serverInternal", "out of memory");
		goto out;
	}
	r->len = strlen(r->body);
	r->status = 200;
	r->type = "application/pem-certificate-chain";
	rc = 0;
out:
	acme_order_row_free(&o);
	acme_jws_free(&j);
	return rc;
}

