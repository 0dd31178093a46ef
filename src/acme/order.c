/*
 * order.c - ACME orders: newOrder, the order, finalization and the
 * certificate download (RFC 8555 7.1.3, 7.4, 7.4.2, RFC 8738).
 * Authorizations and challenges are authz.c's, revokeCert revoke.c's,
 * the rate limits ratelimit.c's.
 *
 * Finalization submits the CSR through ca_submit, as the REST API does;
 * the request carries the order's id (AcmeOrder), so that an order whose
 * update a crash cut short finds its certificate again.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../crypto/der.h"
#include "acme_int.h"

/* ---- JSON view ----------------------------------------------------- */

/*
 * Shown as "invalid" once expired while not done (certbot knows no
 * "expired").
 */
static const char *
order_status(const struct acme_order_row *o)
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

	json_object_set_new(j, "status", json_string(order_status(o)));
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

struct order_update {
	struct acme_order_row *order;
	const char	*expect;	/* the status it must have, or NULL */
	int		 conflict;	/* out: it had another */
};

static int
order_update_fn(struct store *st, void *arg)
{
	struct order_update *u = arg;
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
	struct order_update u = { o, "processing", 0 };
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
		acme_write(a, order_update_fn, &u);
}

/* The order id of account's, into o. 0 or -1 with p. */
static int
order_load(struct acme *a, int64_t id, int64_t account,
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

static void
order_answer(struct acme *a, const struct acme_endpoint *ep,
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
	if (order_load(a, id, j.account.id, &o, &st, p) == 0) {
		order_answer(a, ep, &o, st, r);
		acme_order_row_free(&o);
		rc = 0;
	}
	acme_jws_free(&j);
	return rc;
}

/*
 * At start nothing is being finalized: an order left "processing" with no
 * request was cut short before ca_submit committed (else the request's
 * AcmeOrder attribute names it): it is "ready" again, to finalize anew.
 */
void
acme_resume_finalize(struct acme *a)
{
	struct store	*st = acme_reader(a);
	struct acme_order_row o;
	struct order_update u;
	int64_t		 ids[256], rid, after = 0;
	size_t		 n, i;

	if (st == NULL)
		return;
	while (store_acme_orders_unsubmitted(st, after, ids, nitems(ids), &n) ==
	    0 && n > 0) {
		after = ids[n - 1];
		for (i = 0; i < n; i++) {
			if (store_acme_request_of_order(st, ids[i], &rid) == 0 ||
			    store_acme_order_get(st, ids[i], &o) != 0)
				continue;	/* order_refresh finds it */
			snprintf(o.status, sizeof(o.status), "ready");
			memset(&u, 0, sizeof(u));
			u.order = &o;
			u.expect = "processing";
			if (acme_write(a, order_update_fn, &u) == 0 &&
			    !u.conflict)
				log_info("acme: order %lld: finalize cut short "
				    "by the stop: ready again", (long long)o.id);
			acme_order_row_free(&o);
		}
	}
}


/* ---- finalize ------------------------------------------------------- */

/* Is name (type, value) one of the order's identifiers? */
static int
in_order(json_t *ids, const char *type, const char *value)
{
	json_t	*v;
	size_t	 i;

	json_array_foreach(ids, i, v)
		if (strcmp(json_string_value(json_object_get(v, "type")),
		    type) == 0 && strcasecmp(json_string_value(
		    json_object_get(v,
		    "value")), value) == 0)
			return 1;
	return 0;
}

/*
 * The CSR's names must be the order's identifiers, no more and no fewer
 * (RFC 8555 7.4): each SAN and its CN, if it has one, is one of them, and
 * each of them is a SAN or the CN. Case and repeats do not matter: lego
 * sends the CN as typed beside the order's lower-case name, acme-tiny a
 * lone CN, and Let's Encrypt takes both. The certificate names the order's
 * identifiers (order_sans, order_cn). 0 or -1 with p.
 */
static int
csr_names_check(const struct csr *csr, json_t *ids, struct acme_problem *p)
{
	char		*cn = NULL, text[64];
	unsigned char	 bin[16], *rest;
	size_t		 i, k, found = 0, restlen;
	json_t		*v;
	const char	*type, *value, *cn_type = NULL;
	int		 rc = 0, only_cn;

	/*
	 * ACME validates names, nothing else a subject could say (O=, OU=,
	 * ...): the subject is empty or a CN.
	 */
	if (name_drop(csr->subject, csr->subject_len, "2.5.4.3", &rest,
	    &restlen) == -1)
		return acme_problem(p, 400, "badCSR", "the CSR's subject does "
		    "not read");
	only_cn = restlen == 2;		/* SEQUENCE {} */
	free(rest);
	if (!only_cn)
		return acme_problem(p, 400, "badCSR", "the CSR's subject (%s) "
		    "holds more than a common name: ACME validates names, "
		    "not organizations or other attributes", csr->subject_dn);
	for (i = 0; i < csr->nsans; i++) {
		if (csr->sans[i].type == SAN_DNS)
			type = "dns";
		else if (csr->sans[i].type == SAN_IP)
			type = "ip";
		else
			return acme_problem(p, 400, "badCSR", "the CSR asks "
			    "for a %s name, which ACME does not validate",
			    san_type_name(csr->sans[i].type));
		if (!in_order(ids, type, csr->sans[i].value))
			return acme_problem(p, 400, "badCSR", "the CSR names "
			    "%s, which is not in the order",
			    csr->sans[i].value);
	}
	if (name_get(csr->subject, csr->subject_len, "2.5.4.3", &cn) == 0) {
		/* One CN at most (BR 7.1.4.3), in one RDN or two. */
		if (strchr(cn, '\n') != NULL)
			rc = acme_problem(p, 400, "badCSR", "the CSR's subject "
			    "has more than one common name");
		else {
			cn_type = inet_pton(AF_INET, cn, bin) == 1 ||
			    inet_pton(AF_INET6, cn, bin) == 1 ? "ip" : "dns";
			if (!in_order(ids, cn_type, cn))
				rc = acme_problem(p, 400, "badCSR", "the CSR's "
				    "common name %s is not in the order", cn);
		}
		if (rc == -1)
			goto out;
	}
	/* Every identifier is a SAN or the CN. */
	json_array_foreach(ids, k, v) {
		type = json_string_value(json_object_get(v, "type"));
		value = json_string_value(json_object_get(v, "value"));
		for (i = 0; i < csr->nsans; i++) {
			if (strcmp(type, "ip") == 0 &&
			    csr->sans[i].type == SAN_IP) {
				snprintf(text, sizeof(text), "%s",
				    csr->sans[i].value);
				if (strcasecmp(text, value) == 0)
					break;
			} else if (strcmp(type, "dns") == 0 &&
			    csr->sans[i].type == SAN_DNS &&
			    strcasecmp(csr->sans[i].value, value) == 0)
				break;
		}
		if (i == csr->nsans && (cn_type == NULL ||
		    strcmp(cn_type, type) != 0 || strcasecmp(cn, value) != 0)) {
			rc = acme_problem(p, 400, "badCSR", "the CSR does not "
			    "name %s of the order", value);
			goto out;
		}
		found++;
	}
	if (found == 0)
		rc = acme_problem(p, 400, "badCSR", "no names");
out:
	free(cn);
	return rc;
}

/*
 * The certificate's subjectAltNames: the order's identifiers as they were
 * validated (lower case, each once), in place of the CSR's, which
 * csr_names_check found to be the same names. 0, or -1 (out of memory).
 */
static int
order_sans(struct csr *csr, json_t *ids)
{
	struct san	*s;
	size_t		 n = json_array_size(ids), i;
	json_t		*v;

	if ((s = calloc(n, sizeof(*s))) == NULL)
		return -1;
	json_array_foreach(ids, i, v) {
		s[i].type = strcmp(json_string_value(json_object_get(v,
		    "type")), "ip") == 0 ? SAN_IP : SAN_DNS;
		if ((s[i].value = strdup(json_string_value(json_object_get(v,
		    "value")))) == NULL) {
			while (i-- > 0)
				free(s[i].value);
			free(s);
			return -1;
		}
	}
	san_list_free(csr->sans, csr->nsans);
	csr->sans = s;
	csr->nsans = n;
	return 0;
}

/*
 * The CSR's CN, when it has one, as the identifier it names, in the same
 * form as the SAN (lower case): BR 7.1.4.3 wants the CN a copy of one of
 * the subjectAltNames, character for character. 0, or -1 (out of memory).
 */
static int
order_cn(struct csr *csr, json_t *ids)
{
	struct buf	 b = { 0 };
	const char	*value = NULL, *x;
	char		*cn = NULL, *dn;
	size_t		 i, m1, m2, m3;
	json_t		*v;

	if (name_get(csr->subject, csr->subject_len, "2.5.4.3", &cn) != 0)
		return 0;
	json_array_foreach(ids, i, v)
		if ((x = json_string_value(json_object_get(v, "value"))) !=
		    NULL && strcasecmp(x, cn) == 0) {
			value = x;
			break;
		}
	free(cn);
	if (value == NULL)	/* csr_names_check found it: cannot be */
		return 0;
	if (der_open(&b, DER_SEQUENCE, &m1) == -1 ||
	    der_open(&b, DER_SET, &m2) == -1 ||
	    der_open(&b, DER_SEQUENCE, &m3) == -1 ||
	    der_put_oid(&b, "2.5.4.3") == -1 ||
	    der_put_tlv(&b, DER_UTF8STRING, value, strlen(value)) == -1 ||
	    der_close(&b, m3) == -1 || der_close(&b, m2) == -1 ||
	    der_close(&b, m1) == -1 ||
	    (dn = name_to_text((const unsigned char *)b.data, b.len)) ==
	    NULL) {
		buf_free(&b);
		return -1;
	}
	free(csr->subject);
	free(csr->subject_dn);
	csr->subject_len = b.len;
	csr->subject = (unsigned char *)buf_steal(&b);
	csr->subject_dn = dn;
	return 0;
}

/* Is the CSR's key the account's? (RFC 8555 11.1: refused.) */
static int
csr_is_account_key(struct acme *a, const struct csr *csr,
    const struct acme_jws *j)
{
	json_t		*o;
	struct jwk	 k;
	struct acme_problem p;
	unsigned char	*spki;
	size_t		 len;
	int		 same = 0;

	/* The key that verified this request is cached: its SPKI too. */
	if (acme_keycache_spki(a->keys, j->account.id, j->account.jwk, &spki,
	    &len) == 0) {
		same = len == csr->spki_len &&
		    memcmp(spki, csr->spki, len) == 0;
		free(spki);
		return same;
	}
	if ((o = json_loads(j->account.jwk, 0, NULL)) == NULL)
		return 0;
	if (acme_jwk_from_json(o, &k, &p) == 0) {
		if (jwk_spki(&k, &spki, &len) == 0) {
			same = len == csr->spki_len &&
			    memcmp(spki, csr->spki, len) == 0;
			free(spki);
		}
		jwk_free(&k);
	}
	json_decref(o);
	return same;
}

/*
 * Was the request refused by the policy's decision (unauthorized), not
 * for what the CSR holds, like a key type the policy or the profile does
 * not take (badCSR, as Let's Encrypt answers a key it does not take)?
 */
static int
policy_refused(const struct db_request *req)
{
	return req->disposition == CM_DISP_DENIED &&
	    req->status_code != STATUS_BAD_ALGID;
}

/*
 * The order's outcome, written in its request's transaction
 * (ca_txn_hook): valid with the certificate, processing while the request
 * is pending, invalid when it was refused. Only an order still "ready":
 * written is 0 when it changed meanwhile (expired, say).
 */
struct order_fin {
	struct acme_order_row *order;
	int		 written;
};

static int
order_fin_fn(struct store *st, void *arg, const struct db_request *req,
    const struct db_cert *cert)
{
	struct order_fin *f = arg;
	struct acme_order_row *o = f->order;
	struct order_update u = { o, "ready", 0 };
	int		 rc;

	o->request_id = req->id;
	free(o->error);
	o->error = NULL;
	if (cert != NULL) {
		snprintf(o->status, sizeof(o->status), "valid");
		snprintf(o->serial, sizeof(o->serial), "%s", cert->serial);
	} else if (req->disposition == CM_DISP_PENDING)
		snprintf(o->status, sizeof(o->status), "processing");
	else {
		snprintf(o->status, sizeof(o->status), "invalid");
		o->error = policy_refused(req) ?
		    acme_problem_text(403, "unauthorized",
		    req->disposition_message != NULL ?
		    req->disposition_message : "the request was denied") :
		    acme_problem_text(400, "badCSR",
		    req->disposition_message != NULL ?
		    req->disposition_message : "the request was not issued");
	}
	rc = order_update_fn(st, &u);
	f->written = rc == 0 && !u.conflict;
	return rc;
}

/*
 * Submit the CSR as a certmint request; the order's outcome is written in
 * the same commit (order_fin_fn), so that a crash leaves it either ready
 * or finished. 0, or -1 with p.
 */
static int
finalize_submit(struct acme *a, const struct acme_endpoint *ep,
    struct acme_order_row *o, const struct acme_jws *j, struct csr *csr,
    struct acme_problem *p)
{
	struct db_attr	 attrs[5];
	struct ca_result res;
	struct order_fin f = { o, 0 };
	struct ca_txn_hook also = { order_fin_fn, &f };
	char		 acct[700], oid[24], *names = NULL;
	size_t		 n = 0;
	json_t		*ids, *v;
	size_t		 i;
	struct buf	 b = { 0 };
	int		 rc = 0;

	acme_url(a, ep, "acct", j->account.id, acct, sizeof(acct));
	snprintf(oid, sizeof(oid), "%lld", (long long)o->id);
	if ((ids = json_loads(o->identifiers, 0, NULL)) != NULL) {
		json_array_foreach(ids, i, v)
			buf_printf(&b, "%s%s:%s", i > 0 ? "," : "",
			    json_string_value(json_object_get(v, "type")),
			    json_string_value(json_object_get(v, "value")));
		json_decref(ids);
	}
	buf_appendc(&b, '\0');
	names = buf_steal(&b);
	/* What a policy module sees of ACME (docs/acme.md). */
	if (o->profile[0] != '\0' || ep->profile[0] != '\0') {
		attrs[n].name = "CertificateTemplate";
		attrs[n++].value = o->profile[0] != '\0' ? o->profile :
		    (char *)ep->profile;
	}
	attrs[n].name = "AcmeAccount";
	attrs[n++].value = acct;
	attrs[n].name = "AcmeOrder";
	attrs[n++].value = oid;
	attrs[n].name = "AcmeIdentifiers";
	attrs[n++].value = names != NULL ? names : "";
	if (ep->name[0] != '\0') {
		attrs[n].name = "AcmeDirectory";
		attrs[n++].value = (char *)ep->name;
	}
	/*
	 * The CSR parsed and checked above, its names the order's: the CA
	 * takes it as it is.
	 */
	ca_submit_csr(a->ca, csr, attrs, n, acct, "acme", &also, &res);
	free(names);
	if (!res.has_request) {
		/* Nothing recorded: the order is still ready. */
		rc = acme_problem(p, res.status == CA_E_SHUTDOWN ? 503 : 500,
		    "serverInternal", "%s", res.error[0] != '\0' ? res.error :
		    "the request was not recorded");
	} else if (!f.written) {
		log_warn("acme: order %lld changed while it was finalized; "
		    "request %lld is not its", (long long)o->id,
		    (long long)res.req.id);
		rc = acme_problem(p, 403, "orderNotReady", "the order changed "
		    "while it was finalized");
	} else if (res.has_cert)
		log_info("acme: order %lld: certificate %s (request %lld)",
		    (long long)o->id, res.cert.serial,
		    (long long)o->request_id);
	else if (strcmp(o->status, "invalid") == 0) {
		log_info("acme: order %lld: refused (request %lld): %s",
		    (long long)o->id, (long long)o->request_id,
		    res.error[0] != '\0' ? res.error : "not issued");
		rc = acme_problem(p, policy_refused(&res.req) ? 403 : 400,
		    policy_refused(&res.req) ? "unauthorized" : "badCSR", "%s",
		    res.error[0] != '\0' ?
		    res.error : "the request was not issued");
	} else if (strcmp(o->status, "processing") == 0)
		log_info("acme: order %lld: pending (request %lld) until an "
		    "officer decides", (long long)o->id,
		    (long long)o->request_id);
	ca_result_free(&res);
	return rc;
}

int
acme_finalize(struct acme *a, const struct acme_endpoint *ep,
    const struct acme_req *req, const char *url, int64_t id,
    struct acme_resp *r, struct acme_problem *p)
{
	struct acme_jws	 j;
	struct acme_order_row o;
	struct csr	 csr;
	struct store	*st;
	json_t		*ids = NULL;
	const char	*s;
	unsigned char	*der = NULL;
	size_t		 len;
	char		 err[256];
	int		 rc = -1, have_csr = 0, held = 0;

	memset(&o, 0, sizeof(o));
	memset(&csr, 0, sizeof(csr));
	if (acme_jws_read(a, ep, req, url, 0, &j, p) == -1)
		return -1;
	/* Whose it is first: another account cannot hold an order up. */
	if (order_load(a, id, j.account.id, &o, &st, p) == -1)
		goto out;
	/*
	 * One finalize of an order at a time in this process: the database
	 * says "ready" until the first commits.
	 */
	if ((held = acme_idset_take(&a->finalizing, id)) != 1) {
		if (held == 0)
			acme_problem(p, 403, "orderNotReady", "the order is "
			    "being finalized already");
		else
			acme_problem(p, 500, "serverInternal", "out of memory");
		held = 0;
		goto out;
	}
	/* Read again: a finalize that ended meanwhile has committed. */
	acme_order_row_free(&o);
	if (order_load(a, id, j.account.id, &o, &st, p) == -1)
		goto out;
	if (strcmp(order_status(&o), "ready") != 0) {
		acme_problem(p, 403, "orderNotReady", "the order is %s, not "
		    "ready", order_status(&o));
		goto out;
	}
	s = j.payload != NULL ? json_string_value(json_object_get(j.payload,
	    "csr")) : NULL;
	if (s == NULL || b64url_decode(s, strlen(s), &der, &len) == -1) {
		acme_problem(p, 400, "malformed", "finalize needs {\"csr\": "
		    "base64url DER}");
		goto out;
	}
	if (csr_parse(der, len, &csr, err, sizeof(err)) == -1) {
		acme_problem(p, 400, "badCSR", "%s", err);
		goto out;
	}
	have_csr = 1;
	if ((ids = json_loads(o.identifiers, 0, NULL)) == NULL ||
	    csr_names_check(&csr, ids, p) == -1)
		goto out;
	if (csr_is_account_key(a, &csr, &j)) {
		acme_problem(p, 400, "badCSR", "the CSR's key is the account "
		    "key");
		goto out;
	}
	if (order_sans(&csr, ids) == -1 || order_cn(&csr, ids) == -1) {
		acme_problem(p, 500, "serverInternal", "out of memory");
		goto out;
	}
	if (finalize_submit(a, ep, &o, &j, &csr, p) == -1)
		goto out;
	order_answer(a, ep, &o, st, r);
	rc = 0;
out:
	if (held)
		acme_idset_drop(&a->finalizing, id);
	json_decref(ids);
	if (have_csr)
		csr_free(&csr);
	free(der);
	acme_order_row_free(&o);
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
	if (order_load(a, id, j.account.id, &o, &st, p) == -1)
		goto out;
	if (strcmp(o.status, "valid") != 0 || o.request_id == 0) {
		acme_problem(p, 404, "malformed", "the order has no "
		    "certificate (it is %s)", order_status(&o));
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

