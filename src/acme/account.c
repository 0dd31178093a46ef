/*
 * account.c - ACME accounts (RFC 8555 7.3): newAccount (with
 * onlyReturnExisting, contact, terms of service and External Account
 * Binding), account update and deactivation, the orders list, keyChange.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "acme_int.h"

#define CONTACT_MAX	10

struct account_job {
	struct acme_account_row *row;
	const char	*eab_kid;	/* bind this EAB key, or NULL */
	/* an update: the key and status the request was checked against */
	char		 old_thumbprint[48];
	char		 old_status[16];
	int		 rc;
};

static json_t *
account_json(struct acme *a, const struct acme_endpoint *ep,
    const struct acme_account_row *row)
{
	json_t	*o = json_object(), *c;
	char	 u[700];

	json_object_set_new(o, "status", json_string(row->status));
	if (row->contact != NULL &&
	    (c = json_loads(row->contact, 0, NULL)) != NULL)
		json_object_set_new(o, "contact", c);
	json_object_set_new(o, "termsOfServiceAgreed",
	    json_boolean(row->tos_agreed));
	acme_url(a, ep, "acct", row->id, u, sizeof(u));
	strncat(u, "/orders", sizeof(u) - strlen(u) - 1);
	json_object_set_new(o, "orders", json_string(u));
	json_object_set_new(o, "createdAt", acme_time(row->created));
	return o;
}

static void
account_answer(struct acme *a, const struct acme_endpoint *ep,
    const struct acme_account_row *row, unsigned int status,
    struct acme_resp *r)
{
	acme_url(a, ep, "acct", row->id, r->location, sizeof(r->location));
	acme_resp_json(r, status, account_json(a, ep, row));
}

/*
 * Characters no e-mail address holds and which would reach a terminal or
 * a mail header as they are, or hide what is there: C0 and C1 controls,
 * DEL, and the invisible and direction marks (U+061C, U+200B-U+200F,
 * U+2028-U+202E, U+2060-U+206F, U+FEFF, the tags U+E0000-U+E007F).
 */
static int
has_controls(const char *s)
{
	const unsigned char *u = (const unsigned char *)s;

	for (; *u != '\0'; u++) {
		if (*u < 0x20 || *u == 0x7f ||
		    (u[0] == 0xc2 && u[1] >= 0x80 && u[1] <= 0x9f) ||
		    (u[0] == 0xd8 && u[1] == 0x9c) ||
		    (u[0] == 0xe2 && u[1] == 0x80 && ((u[2] >= 0x8b &&
		    u[2] <= 0x8f) || (u[2] >= 0xa8 && u[2] <= 0xae))) ||
		    (u[0] == 0xe2 && u[1] == 0x81 && u[2] >= 0xa0 &&
		    u[2] <= 0xaf) ||
		    (u[0] == 0xef && u[1] == 0xbb && u[2] == 0xbf) ||
		    (u[0] == 0xf3 && u[1] == 0xa0 && (u[2] == 0x80 ||
		    u[2] == 0x81)))
			return 1;
	}
	return 0;
}

/* Are two mailto: contacts the same address (the domain in any case)? */
static int
same_contact(const char *a, const char *b)
{
	const char	*da = strrchr(a, '@'), *db = strrchr(b, '@');

	return da - a == db - b && strncmp(a + 7, b + 7,
	    (size_t)(da - a) - 7) == 0 && strcasecmp(da, db) == 0;
}

/*
 * contact: an array of "mailto:" URLs (RFC 8555 7.3), as JSON text in
 * *out (NULL for none). 0 or -1 with p.
 */
static int
contact_read(json_t *c, char **out, struct acme_problem *p)
{
	json_t		*v, *once;
	size_t		 i, k;
	const char	*s, *at;

	*out = NULL;
	if (c == NULL || json_is_null(c))
		return 0;
	if (!json_is_array(c) || json_array_size(c) > CONTACT_MAX)
		return acme_problem(p, 400, "malformed", "contact must be an "
		    "array of at most %d URLs", CONTACT_MAX);
	json_array_foreach(c, i, v) {
		if ((s = json_string_value(v)) == NULL)
			return acme_problem(p, 400, "malformed", "contact "
			    "entries are strings");
		/* The scheme in any case (RFC 3986 3.1). */
		if (strncasecmp(s, "mailto:", 7) != 0)
			return acme_problem(p, 400, "unsupportedContact",
			    "only mailto: contacts are supported: \"%s\"", s);
		/*
		 * One plain address: one @, nothing percent-encoded (a
		 * %0d%0a would be a header line to whatever decodes it).
		 */
		if (strlen(s) < 9 || strlen(s) > 254 || (at = strchr(s + 7,
		    '@')) == NULL || at == s + 7 || at[1] == '\0' ||
		    strchr(at + 1, '@') != NULL ||
		    strpbrk(s + 7, ",?<>\r\n \"%") != NULL || has_controls(s))
			return acme_problem(p, 400, "invalidContact", "\"%s\" "
			    "is not an e-mail address", s);
	}
	/* Each address once: a repeated one is the same contact. */
	if ((once = json_array()) == NULL)
		return acme_problem(p, 500, "serverInternal", "out of memory");
	json_array_foreach(c, i, v) {
		for (k = 0; k < i; k++)
			if (same_contact(json_string_value(json_array_get(c, k)),
			    json_string_value(v)))
				break;
		if (k == i)
			json_array_append(once, v);
	}
	if (json_array_size(once) > 0 && (*out = json_dumps(once,
	    JSON_COMPACT)) == NULL) {
		json_decref(once);
		return acme_problem(p, 500, "serverInternal", "out of memory");
	}
	json_decref(once);
	return 0;
}

static int
insert_fn(struct store *st, void *arg)
{
	struct account_job *job = arg;
	struct acme_eab_row e;
	int		 rc;

	/* Checked again here: two newAccounts may race for one EAB key. */
	if (job->eab_kid != NULL) {
		if ((rc = store_acme_eab_get(st, job->eab_kid, &e)) != 0)
			return rc;
		if (e.account_id != 0) {
			job->rc = STORE_E_CONFLICT;
			return 0;
		}
	}
	if ((rc = store_acme_account_insert(st, job->row)) != 0) {
		/* The same key made an account meanwhile: answer with it. */
		if (rc == STORE_E_DUPLICATE) {
			job->rc = rc;
			return 0;
		}
		return rc;
	}
	if (job->eab_kid != NULL)
		return store_acme_eab_bind(st, job->eab_kid, job->row->id);
	return 0;
}

static int
update_fn(struct store *st, void *arg)
{
	struct account_job *job = arg;
	int		 rc;

	rc = store_acme_account_update(st, job->row, job->old_thumbprint,
	    job->old_status);
	if (rc == STORE_E_CONFLICT) {
		job->rc = rc;
		return 0;
	}
	return rc;
}

/*
 * Set up an update of j's account, before the request changes it: the
 * write happens only if the account still has the key and status the
 * request's JWS was checked against.
 */
static void
update_job(struct account_job *job, struct acme_account_row *row)
{
	memset(job, 0, sizeof(*job));
	job->row = row;
	snprintf(job->old_thumbprint, sizeof(job->old_thumbprint), "%s",
	    row->thumbprint);
	snprintf(job->old_status, sizeof(job->old_status), "%s", row->status);
}

/* The answer when the account changed under an update. */
static void
changed_meanwhile(struct acme_problem *p)
{
	acme_problem(p, 403, "unauthorized", "the account changed while "
	    "this request was handled (a key change or a deactivation): "
	    "nothing was written");
}

/*
 * The externalAccountBinding of a newAccount (RFC 8555 7.3.4): a JWS by
 * an EAB key's HMAC over the account key, for the newAccount URL, without
 * a nonce. 0 with the key's kid in kid, or -1 with p.
 */
static int
eab_check(struct acme *a, const struct acme_endpoint *ep, json_t *eab,
    const char *url, const struct jwk *account_key, char *kid, size_t kidlen,
    struct acme_problem *p)
{
	json_t		*prot = NULL, *payload = NULL;
	char		*input = NULL, tp1[48], tp2[48];
	unsigned char	*sig = NULL;
	size_t		 siglen;
	const char	*alg, *k, *u;
	enum jws_alg	 ja;
	struct acme_eab_row e;
	struct jwk	 inner;
	struct store	*st;
	int		 rc = -1, v;

	memset(&inner, 0, sizeof(inner));
	if (acme_jws_split(eab, &prot, &input, &sig, &siglen, &payload, p) ==
	    -1)
		goto out;
	alg = json_string_value(json_object_get(prot, "alg"));
	k = json_string_value(json_object_get(prot, "kid"));
	u = json_string_value(json_object_get(prot, "url"));
	ja = jws_alg_parse(alg);
	if (ja != JWS_HS256 && ja != JWS_HS384 && ja != JWS_HS512) {
		acme_problem(p, 400, "badSignatureAlgorithm", "external "
		    "account binding: algorithm \"%s\" (HS256, HS384, HS512)",
		    alg != NULL ? alg : "");
		goto out;
	}
	if (k == NULL || json_object_get(prot, "nonce") != NULL ||
	    u == NULL || strcmp(u, url) != 0) {
		acme_problem(p, 400, "malformed", "external account binding: "
		    "needs kid and the newAccount url, and no nonce");
		goto out;
	}
	if (payload == NULL || acme_jwk_from_json(payload, &inner, p) == -1 ||
	    jwk_thumbprint(&inner, tp1) == -1 ||
	    jwk_thumbprint(account_key, tp2) == -1 || strcmp(tp1, tp2) != 0) {
		acme_problem(p, 400, "malformed", "external account binding: "
		    "payload must be the account key");
		goto out;
	}
	if ((st = acme_reader(a)) == NULL ||
	    (v = store_acme_eab_get(st, k, &e)) == CM_E_FAIL) {
		acme_db_error(p);
		goto out;
	}
	if (v == CM_E_NOTFOUND || strcmp(e.endpoint, ep->name) != 0) {
		acme_problem(p, 401, "unauthorized", "external account "
		    "binding: unknown key id \"%s\"", k);
		goto out;
	}
	/* The MAC first: whether a key is bound is its holder's business. */
	if (jws_mac_verify(ja, e.key, e.keylen, input, strlen(input), sig,
	    siglen) != 1) {
		acme_problem(p, 401, "unauthorized", "external account "
		    "binding: MAC does not verify");
		goto out;
	}
	if (e.account_id != 0) {
		acme_problem(p, 401, "unauthorized", "external account "
		    "binding: key id \"%s\" is bound to another account "
		    "already", k);
		goto out;
	}
	snprintf(kid, kidlen, "%s", k);
	rc = 0;
out:
	jwk_free(&inner);
	json_decref(prot);
	json_decref(payload);
	free(input);
	free(sig);
	return rc;
}

int
acme_new_account(struct acme *a, const struct acme_endpoint *ep,
    const struct acme_req *req, const char *url, struct acme_resp *r,
    struct acme_problem *p)
{
	struct acme_jws	 j;
	struct acme_account_row row;
	struct account_job job;
	struct store	*st;
	json_t		*pl, *eab;
	char		 tp[48], kid[128] = "";
	int		 rc = -1, v;

	memset(&row, 0, sizeof(row));
	if (acme_jws_read(a, ep, req, url, 1, &j, p) == -1)
		return -1;
	pl = j.payload;
	if (pl == NULL) {
		acme_problem(p, 400, "malformed", "newAccount needs a payload");
		goto out;
	}
	if (jwk_thumbprint(&j.jwk, tp) == -1 || (st = acme_reader(a)) ==
	    NULL) {
		acme_problem(p, 500, "serverInternal", "internal error");
		goto out;
	}
again:
	v = store_acme_account_by_key(st, tp, &row);
	if (v == 0) {
		/*
		 * An existing account: no EAB asked again (cert-manager).
		 * A key holds one account in all directories (the
		 * thumbprint is unique); for a lookup, another directory's
		 * is none of this one's.
		 */
		if (strcmp(row.endpoint, ep->name) != 0 &&
		    json_is_true(json_object_get(pl, "onlyReturnExisting")))
			acme_problem(p, 400, "accountDoesNotExist", "no account "
			    "for this key in this directory");
		else if (strcmp(row.endpoint, ep->name) != 0)
			acme_problem(p, 409, "malformed", "this key holds an "
			    "account of another ACME directory: use another "
			    "key here");
		else if (strcmp(row.status, "valid") != 0)
			acme_problem(p, 401, "unauthorized", "the account of "
			    "this key is %s", row.status);
		else {
			account_answer(a, ep, &row, 200, r);
			rc = 0;
		}
		goto out;
	}
	if (v != CM_E_NOTFOUND) {
		acme_db_error(p);
		goto out;
	}
	if (json_is_true(json_object_get(pl, "onlyReturnExisting"))) {
		acme_problem(p, 400, "accountDoesNotExist", "no account for "
		    "this key");
		goto out;
	}
	if (contact_read(json_object_get(pl, "contact"), &row.contact, p) ==
	    -1)
		goto out;
	row.tos_agreed = json_is_true(json_object_get(pl,
	    "termsOfServiceAgreed"));
	if (ep->dirs->tos[0] != '\0' && !row.tos_agreed) {
		acme_problem(p, 403, "userActionRequired", "agree to the terms "
		    "of service (%s): termsOfServiceAgreed", ep->dirs->tos);
		acme_add_link(r, ep->dirs->tos, "terms-of-service");
		goto out;
	}
	eab = json_object_get(pl, "externalAccountBinding");
	if (eab == NULL && ep->eab_required) {
		acme_problem(p, 401, "externalAccountRequired", "this "
		    "directory requires an external account binding (certmint "
		    "acme eab "
		    "create)");
		goto out;
	}
	if (eab != NULL && eab_check(a, ep, eab, url, &j.jwk, kid, sizeof(kid),
	    p) == -1)
		goto out;
	snprintf(row.endpoint, sizeof(row.endpoint), "%s", ep->name);
	snprintf(row.thumbprint, sizeof(row.thumbprint), "%s", tp);
	snprintf(row.status, sizeof(row.status), "valid");
	snprintf(row.eab_kid, sizeof(row.eab_kid), "%s", kid);
	row.created = time_now();
	if ((row.jwk = strdup(j.jwk.canon)) == NULL) {
		acme_problem(p, 500, "serverInternal", "out of memory");
		goto out;
	}
	memset(&job, 0, sizeof(job));
	job.row = &row;
	job.eab_kid = kid[0] != '\0' ? kid : NULL;
	if (acme_write(a, insert_fn, &job) == -1) {
		acme_db_error(p);
		goto out;
	}
	if (job.rc == STORE_E_DUPLICATE) {
		acme_account_row_free(&row);
		memset(&row, 0, sizeof(row));
		goto again;
	}
	if (job.rc == STORE_E_CONFLICT) {
		acme_problem(p, 401, "unauthorized", "external account "
		    "binding: key id \"%s\" is bound to another account "
		    "already", kid);
		goto out;
	}
	log_info("acme: account %lld created%s%s", (long long)row.id,
	    kid[0] != '\0' ? " with EAB key " : "", kid);
	account_answer(a, ep, &row, 201, r);
	rc = 0;
out:
	acme_account_row_free(&row);
	acme_jws_free(&j);
	return rc;
}

static int
orders_list(struct acme *a, const struct acme_endpoint *ep, int64_t account,
    struct acme_resp *r, struct acme_problem *p)
{
	int64_t		 ids[1000];
	size_t		 n, i;
	json_t		*o, *arr;
	char		 u[700];
	struct store	*st;

	if ((st = acme_reader(a)) == NULL ||
	    store_acme_orders_of(st, account, ids, nitems(ids), &n) != 0)
		return acme_db_error(p);
	o = json_object();
	arr = json_array();
	for (i = 0; i < n; i++) {
		acme_url(a, ep, "order", ids[i], u, sizeof(u));
		json_array_append_new(arr, json_string(u));
	}
	json_object_set_new(o, "orders", arr);
	acme_resp_json(r, 200, o);
	return 0;
}

int
acme_account(struct acme *a, const struct acme_endpoint *ep,
    const struct acme_req *req, const char *url, int64_t id, int orders,
    struct acme_resp *r, struct acme_problem *p)
{
	struct acme_jws	 j;
	struct account_job job;
	json_t		*pl, *st;
	char		*contact = NULL;
	int		 rc = -1, changed = 0;

	if (acme_jws_read(a, ep, req, url, 0, &j, p) == -1)
		return -1;
	if (j.account.id != id) {
		acme_problem(p, 403, "unauthorized", "not your account");
		goto out;
	}
	if (orders) {
		rc = orders_list(a, ep, id, r, p);
		goto out;
	}
	update_job(&job, &j.account);
	if ((pl = j.payload) != NULL) {
		if ((st = json_object_get(pl, "status")) != NULL) {
			if (!json_is_string(st) || strcmp(json_string_value(st),
			    "deactivated") != 0) {
				acme_problem(p, 400, "malformed", "an "
				    "account's status can only become "
				    "\"deactivated\"");
				goto out;
			}
			snprintf(j.account.status, sizeof(j.account.status),
			    "deactivated");
			changed = 1;
		}
		if (json_object_get(pl, "contact") != NULL) {
			if (contact_read(json_object_get(pl, "contact"),
			    &contact, p) == -1)
				goto out;
			free(j.account.contact);
			j.account.contact = contact;
			changed = 1;
		}
	}
	if (changed) {
		if (acme_write(a, update_fn, &job) == -1) {
			acme_db_error(p);
			goto out;
		}
		if (job.rc == STORE_E_CONFLICT) {
			changed_meanwhile(p);
			goto out;
		}
		log_info("acme: account %lld updated (%s)", (long long)id,
		    j.account.status);
	}
	account_answer(a, ep, &j.account, 200, r);
	rc = 0;
out:
	acme_jws_free(&j);
	return rc;
}

int
acme_key_change(struct acme *a, const struct acme_endpoint *ep,
    const struct acme_req *req, const char *url, struct acme_resp *r,
    struct acme_problem *p)
{
	struct acme_jws	 j;
	struct acme_account_row other;
	struct account_job job;
	json_t		*prot = NULL, *payload = NULL;
	char		*input = NULL, kid[700], tp_new[48], tp_old[48];
	unsigned char	*sig = NULL;
	size_t		 siglen;
	const char	*iu, *acct;
	struct jwk	 nk, ok;
	enum jws_alg	 alg;
	struct store	*st;
	int		 rc = -1, v;

	memset(&nk, 0, sizeof(nk));
	memset(&ok, 0, sizeof(ok));
	memset(&other, 0, sizeof(other));
	if (acme_jws_read(a, ep, req, url, 0, &j, p) == -1)
		return -1;
	if (j.payload == NULL || acme_jws_split(j.payload, &prot, &input, &sig,
	    &siglen, &payload, p) == -1) {
		if (j.payload == NULL)
			acme_problem(p, 400, "malformed", "keyChange needs the "
			    "inner JWS as payload");
		goto out;
	}
	iu = json_string_value(json_object_get(prot, "url"));
	alg = jws_alg_parse(json_string_value(json_object_get(prot, "alg")));
	if (json_object_get(prot, "kid") != NULL || iu == NULL ||
	    strcmp(iu, url) != 0) {
		acme_problem(p, 400, "malformed", "keyChange: the inner JWS "
		    "needs the new \"jwk\" and the same \"url\"");
		goto out;
	}
	/* RFC 8555 7.3.5: the inner JWS MUST omit the nonce. */
	if (json_object_get(prot, "nonce") != NULL ||
	    json_object_get(prot, "crit") != NULL) {
		acme_problem(p, 400, "malformed", "keyChange: the inner JWS "
		    "has a \"%s\"", json_object_get(prot, "nonce") != NULL ?
		    "nonce" : "crit");
		goto out;
	}
	if (alg == JWS_ALG__MAX || alg >= JWS_HS256) {
		acme_problem(p, 400, "badSignatureAlgorithm", "keyChange: "
		    "inner JWS algorithm not accepted");
		goto out;
	}
	if (acme_jwk_from_json(json_object_get(prot, "jwk"), &nk, p) == -1)
		goto out;
	if ((v = jws_verify(&nk, alg, input, strlen(input), sig, siglen)) !=
	    1) {
		acme_problem(p, v == -1 ? 500 : 400, v == -1 ?
		    "serverInternal" : "malformed", "keyChange: the inner JWS "
		    "signature does not verify");
		goto out;
	}
	acme_url(a, ep, "acct", j.account.id, kid, sizeof(kid));
	acct = json_string_value(json_object_get(payload, "account"));
	if (acct == NULL || strcmp(acct, kid) != 0 ||
	    acme_jwk_from_json(json_object_get(payload, "oldKey"), &ok, p) ==
	    -1 || jwk_thumbprint(&ok, tp_old) == -1 ||
	    strcmp(tp_old, j.account.thumbprint) != 0) {
		acme_problem(p, 400, "malformed", "keyChange: payload must "
		    "name this account and its current key as oldKey");
		goto out;
	}
	if (jwk_thumbprint(&nk, tp_new) == -1 || (st = acme_reader(a)) ==
	    NULL) {
		acme_problem(p, 500, "serverInternal", "internal error");
		goto out;
	}
	if (store_acme_account_by_key(st, tp_new, &other) == 0) {
		acme_url(a, acme_endpoint_named(ep, other.endpoint) != NULL ?
		    acme_endpoint_named(ep, other.endpoint) : ep, "acct",
		    other.id, r->location, sizeof(r->location));
		acme_problem(p, 409, "malformed", "the new key holds an "
		    "account already");
		goto out;
	}
	update_job(&job, &j.account);
	free(j.account.jwk);
	if ((j.account.jwk = strdup(nk.canon)) == NULL) {
		acme_problem(p, 500, "serverInternal", "out of memory");
		goto out;
	}
	snprintf(j.account.thumbprint, sizeof(j.account.thumbprint), "%s",
	    tp_new);
	if (acme_write(a, update_fn, &job) == -1) {
		acme_problem(p, 409, "malformed", "the new key holds an "
		    "account already");
		goto out;
	}
	if (job.rc == STORE_E_CONFLICT) {
		changed_meanwhile(p);
		goto out;
	}
	log_info("acme: account %lld changed its key", (long long)j.account.id);
	account_answer(a, ep, &j.account, 200, r);
	rc = 0;
out:
	acme_account_row_free(&other);
	jwk_free(&nk);
	jwk_free(&ok);
	json_decref(prot);
	json_decref(payload);
	free(input);
	free(sig);
	acme_jws_free(&j);
	return rc;
}
