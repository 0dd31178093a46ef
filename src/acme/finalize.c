/*
 * finalize.c - finalizing an ACME order (RFC 8555 7.4): the CSR checked
 * against the order's identifiers and submitted through ca_submit, as the
 * REST API does, the request carrying the order's id (AcmeOrder) so that
 * an order whose update a crash cut short finds its certificate again;
 * and, at start, orders a stop cut short before the request was committed.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../crypto/der.h"
#include "acme_int.h"


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
	struct acme_order_update u;
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
			if (acme_write(a, acme_order_update_fn, &u) == 0 &&
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
	struct acme_order_update u = { o, "ready", 0 };
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
	rc = acme_order_update_fn(st, &u);
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
	if (acme_order_load(a, id, j.account.id, &o, &st, p) == -1)
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
	if (acme_order_load(a, id, j.account.id, &o, &st, p) == -1)
		goto out;
	if (strcmp(acme_order_status(&o), "ready") != 0) {
		acme_problem(p, 403, "orderNotReady", "the order is %s, not "
		    "ready", acme_order_status(&o));
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
	acme_order_answer(a, ep, &o, st, r);
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
