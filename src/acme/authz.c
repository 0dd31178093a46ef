/*
 * authz.c - ACME authorizations and challenges (RFC 8555 7.5, 7.5.1,
 * 7.5.2): their views, deactivation, handing a challenge to the VA
 * (vpool.c) and recording its result, and, at start, the validations a
 * stop cut short.
 *
 * Status changes that depend on each other commit together in one writer
 * transaction: a challenge's result, its authorization's status and the
 * order becoming "ready" the moment its last authorization is valid
 * (certbot 2.1 and lego 4.9 finalize at once).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acme_int.h"

static json_t *
chall_json(struct acme *a, const struct acme_endpoint *ep,
    const struct acme_chall_row *c)
{
	json_t	*j = json_object(), *e;
	char	 u[700];

	json_object_set_new(j, "type", json_string(c->type));
	acme_url(a, ep, "chall", c->id, u, sizeof(u));
	json_object_set_new(j, "url", json_string(u));
	json_object_set_new(j, "status", json_string(c->status));
	json_object_set_new(j, "token", json_string(c->token));
	if (c->validated > 0)
		json_object_set_new(j, "validated", acme_time(c->validated));
	if ((e = acme_problem_json(c->error)) != NULL)
		json_object_set_new(j, "error", e);
	return j;
}

static json_t *
authz_json(struct acme *a, const struct acme_endpoint *ep,
    const struct acme_authz_row *az, struct store *st)
{
	json_t		*j = json_object(), *id = json_object(),
			*arr = json_array();
	struct acme_chall_row *c;
	size_t		 n, i;

	json_object_set_new(id, "type", json_string(az->type));
	json_object_set_new(id, "value", json_string(az->value));
	json_object_set_new(j, "identifier", id);
	json_object_set_new(j, "status", json_string(
	    strcmp(az->status, "pending") == 0 && az->expires < time_now() ?
	    "invalid" : az->status));
	json_object_set_new(j, "expires", acme_time(az->expires));
	if (store_acme_challs_of(st, az->id, &c, &n) == 0) {
		for (i = 0; i < n; i++) {
			/* Once valid, the challenge that proved it (7.1.4). */
			if (strcmp(az->status, "valid") != 0 ||
			    strcmp(c[i].status, "valid") == 0)
				json_array_append_new(arr, chall_json(a, ep,
				    &c[i]));
			acme_chall_row_free(&c[i]);
		}
		free(c);
	}
	json_object_set_new(j, "challenges", arr);
	if (az->wildcard)
		json_object_set_new(j, "wildcard", json_true());
	return j;
}


/* ---- authorizations and challenges ---------------------------------- */

struct authz_job {
	int64_t		 authz_id;
	int64_t		 order_id;
};

static int
authz_deactivate_fn(struct store *st, void *arg)
{
	struct authz_job *job = arg;
	struct acme_order_row o;
	int		 rc;

	if ((rc = store_acme_authz_set_status(st, job->authz_id,
	    "deactivated")) != 0)
		return rc;
	/* An order with an authorization gone cannot be finalized (7.1.6). */
	if ((rc = store_acme_order_get(st, job->order_id, &o)) != 0)
		return rc;
	if (strcmp(o.status, "pending") == 0 || strcmp(o.status, "ready") ==
	    0) {
		snprintf(o.status, sizeof(o.status), "invalid");
		rc = store_acme_order_update(st, &o);
	}
	acme_order_row_free(&o);
	return rc;
}

/* authz id, of j's account. 0 or -1 with p. */
static int
authz_load(struct acme *a, struct acme_jws *j, int64_t id,
    struct acme_authz_row *az, struct store **stp, struct acme_problem *p)
{
	int	 rc;

	if ((*stp = acme_reader(a)) == NULL)
		return acme_db_error(p);
	if ((rc = store_acme_authz_get(*stp, id, az)) == CM_E_NOTFOUND)
		return acme_problem(p, 404, "malformed", "no such "
		    "authorization");
	if (rc != 0)
		return acme_db_error(p);
	if (az->account_id != j->account.id)
		return acme_problem(p, 403, "unauthorized", "not your "
		    "authorization");
	return 0;
}

int
acme_authz(struct acme *a, const struct acme_endpoint *ep,
    const struct acme_req *req, const char *url, int64_t id,
    struct acme_resp *r, struct acme_problem *p)
{
	struct acme_jws	 j;
	struct acme_authz_row az;
	struct authz_job job;
	struct store	*st;
	const char	*s;
	int		 rc = -1;

	if (acme_jws_read(a, ep, req, url, 0, &j, p) == -1)
		return -1;
	if (authz_load(a, &j, id, &az, &st, p) == -1)
		goto out;
	if (j.payload != NULL && json_object_get(j.payload, "status") != NULL) {
		s = json_string_value(json_object_get(j.payload, "status"));
		if (s == NULL || strcmp(s, "deactivated") != 0) {
			acme_problem(p, 400, "malformed", "an authorization's "
			    "status can only become \"deactivated\"");
			goto out;
		}
		if (strcmp(az.status, "pending") != 0 &&
		    strcmp(az.status, "valid") != 0) {
			acme_problem(p, 403, "malformed", "the authorization "
			    "is %s", az.status);
			goto out;
		}
		job.authz_id = az.id;
		job.order_id = az.order_id;
		if (acme_write(a, authz_deactivate_fn, &job) == -1) {
			acme_db_error(p);
			goto out;
		}
		snprintf(az.status, sizeof(az.status), "deactivated");
	}
	if (strcmp(az.status, "pending") == 0)
		r->retry_after = ACME_RETRY_AFTER;
	acme_resp_json(r, 200, authz_json(a, ep, &az, st));
	rc = 0;
out:
	acme_jws_free(&j);
	return rc;
}

struct chall_job {
	int64_t		 chall_id;
	const char	*from, *to;	/* status change (chall_status_fn) */
	int		 conflict;
	/* the validation's result (validated_fn) */
	int		 valid;
	char		*error;
};

/*
 * Moves the challenge from job->from to job->to; job->conflict when it was
 * not job->from, or when it is to become "processing" and its
 * authorization is no longer pending (deactivated meanwhile).
 */
static int
chall_status_fn(struct store *st, void *arg)
{
	struct chall_job *job = arg;
	struct acme_chall_row c;
	struct acme_authz_row az;
	int		 rc;

	if ((rc = store_acme_chall_get(st, job->chall_id, &c)) != 0)
		return rc;
	job->conflict = strcmp(c.status, job->from) != 0;
	if (!job->conflict && strcmp(job->to, "processing") == 0) {
		if ((rc = store_acme_authz_get(st, c.authz_id, &az)) != 0) {
			acme_chall_row_free(&c);
			return rc;
		}
		job->conflict = strcmp(az.status, "pending") != 0;
	}
	if (!job->conflict) {
		snprintf(c.status, sizeof(c.status), "%s", job->to);
		rc = store_acme_chall_update(st, &c);
	}
	acme_chall_row_free(&c);
	return rc;
}

/*
 * A validation's result: the challenge, its authorization and, when that
 * was the order's last authorization to become valid, the order ("ready").
 * The challenge is "processing", or still "pending" when the validation
 * was for a held answer (which writes nothing first): then it is left so
 * if its authorization is no longer pending (deactivated meanwhile).
 */
static int
validated_fn(struct store *st, void *arg)
{
	struct chall_job *job = arg;
	struct acme_chall_row c;
	struct acme_authz_row az, *all = NULL;
	struct acme_order_row o;
	size_t		 n, i, nvalid = 0;
	int		 rc, pending;

	memset(&o, 0, sizeof(o));
	if ((rc = store_acme_chall_get(st, job->chall_id, &c)) != 0)
		return rc;
	pending = strcmp(c.status, "pending") == 0;
	if ((strcmp(c.status, "processing") != 0 && !pending) ||
	    (rc = store_acme_authz_get(st, c.authz_id, &az)) != 0 ||
	    (pending && strcmp(az.status, "pending") != 0)) {
		acme_chall_row_free(&c);
		return rc;	/* deactivated meanwhile, or a repeat */
	}
	snprintf(c.status, sizeof(c.status), job->valid ? "valid" : "invalid");
	c.validated = job->valid ? time_now() : 0;
	free(c.error);
	c.error = job->error;
	job->error = NULL;
	rc = store_acme_chall_update(st, &c);
	acme_chall_row_free(&c);
	if (rc != 0 || strcmp(az.status, "pending") != 0)
		return rc;
	if ((rc = store_acme_authz_set_status(st, az.id, job->valid ? "valid" :
	    "invalid")) != 0 ||
	    (rc = store_acme_order_get(st, az.order_id, &o)) != 0)
		return rc;
	if (strcmp(o.status, "pending") != 0)
		goto out;
	if (!job->valid) {
		snprintf(o.status, sizeof(o.status), "invalid");
		rc = store_acme_order_update(st, &o);
		goto out;
	}
	if ((rc = store_acme_authzs_of(st, o.id, &all, &n)) != 0)
		goto out;
	for (i = 0; i < n; i++)
		if (strcmp(all[i].status, "valid") == 0)
			nvalid++;
	if (nvalid == n) {
		snprintf(o.status, sizeof(o.status), "ready");
		rc = store_acme_order_update(st, &o);
	}
out:
	free(all);
	acme_order_row_free(&o);
	return rc;
}

struct va_arg {
	struct acme	*acme;
	int64_t		 chall_id;
	int		 held;		/* its id is in a->validating */
};

/* The pool's done callback (a pool thread). */
static void
va_done(void *arg, const struct acme_check *chk,
    const struct acme_va_result *res)
{
	struct va_arg	*va = arg;
	struct chall_job job;
	char		 type[64];

	memset(&job, 0, sizeof(job));
	job.chall_id = va->chall_id;
	job.valid = res->valid;
	if (!res->valid) {
		snprintf(type, sizeof(type), "%s", res->problem[0] != '\0' ?
		    res->problem : "incorrectResponse");
		job.error = acme_problem_text(403, type, res->detail);
	}
	log_info("acme: challenge %lld for %s: %s%s%s", (long long)va->chall_id,
	    chk->identifier, res->valid ? "valid" : "invalid",
	    res->valid ? "" : ": ", res->valid ? "" : res->detail);
	if (acme_write(va->acme, validated_fn, &job) == -1)
		log_warn("acme: challenge %lld: the result was not recorded",
		    (long long)va->chall_id);
	if (va->held)
		acme_idset_drop(&va->acme->validating, va->chall_id);
	/* A challenge POST waiting for it answers now. */
	acme_wait_done(va->acme, va->chall_id);
	free(job.error);
	free(va);
}

void
acme_va_dropped(void *arg, const struct acme_check *chk)
{
	struct va_arg	*va = arg;

	if (va->held)
		acme_idset_drop(&va->acme->validating, va->chall_id);
	free(va);
}

/*
 * Hand challenge c (of az, by account) to the pool; held: for a held
 * answer, c's id taken in a->validating (dropped when it ends). 0 or -1.
 */
static int
va_submit(struct acme *a, const struct acme_chall_row *c,
    const struct acme_authz_row *az, const char *thumbprint, int held)
{
	struct acme_check chk;
	struct va_arg	*va;

	memset(&chk, 0, sizeof(chk));
	if (strcmp(c->type, "http-01") == 0)
		chk.type = ACME_HTTP01;
	else if (strcmp(c->type, "dns-01") == 0)
		chk.type = ACME_DNS01;
	else
		chk.type = ACME_TLSALPN01;
	snprintf(chk.identifier, sizeof(chk.identifier), "%s", az->value);
	chk.is_ip = strcmp(az->type, "ip") == 0;
	chk.account = az->account_id;
	snprintf(chk.token, sizeof(chk.token), "%s", c->token);
	snprintf(chk.key_authz, sizeof(chk.key_authz), "%s.%s", c->token,
	    thumbprint);
	if ((va = malloc(sizeof(*va))) == NULL)
		return -1;
	va->acme = a;
	va->chall_id = c->id;
	va->held = held;
	if (acme_vpool_submit(a->pool, &chk, va_done, va) == -1) {
		free(va);
		return -1;
	}
	return 0;
}

/*
 * va_submit for a challenge "processing" in the database, its
 * authorization and account read from there. 0 or -1.
 */
static int
va_submit_stored(struct acme *a, const struct acme_chall_row *c)
{
	struct store	*st = acme_reader(a);
	struct acme_authz_row az;
	struct acme_account_row acct;
	int		 rc;

	if (st == NULL || store_acme_authz_get(st, c->authz_id, &az) != 0 ||
	    store_acme_account_get(st, az.account_id, &acct) != 0)
		return -1;
	rc = va_submit(a, c, &az, acct.thumbprint, 0);
	acme_account_row_free(&acct);
	return rc;
}

/* Answer with challenge c: its view, Link up, Retry-After while it runs. */
static void
chall_answer(struct acme *a, const struct acme_endpoint *ep,
    const struct acme_chall_row *c, struct acme_resp *r)
{
	char	 u[700];

	if (strcmp(c->status, "processing") == 0)
		r->retry_after = ACME_RETRY_AFTER;
	acme_url(a, ep, "authz", c->authz_id, u, sizeof(u));
	acme_add_link(r, u, "up");
	acme_resp_json(r, 200, chall_json(a, ep, c));
}

int
acme_chall(struct acme *a, const struct acme_endpoint *ep,
    const struct acme_req *req, const char *url, int64_t id,
    struct acme_resp *r, struct acme_problem *p)
{
	struct acme_jws	 j;
	struct acme_chall_row c;
	struct acme_authz_row az;
	struct chall_job job;
	struct acme_wait *w;
	struct store	*st;
	int		 rc = -1, v, wait_ms = ep->dirs->challenge_wait_ms;

	memset(&c, 0, sizeof(c));
	if (acme_jws_read(a, ep, req, url, 0, &j, p) == -1)
		return -1;
	if ((st = acme_reader(a)) == NULL ||
	    (v = store_acme_chall_get(st, id, &c)) == CM_E_FAIL) {
		acme_db_error(p);
		goto out;
	}
	if (v == CM_E_NOTFOUND) {
		acme_problem(p, 404, "malformed", "no such challenge");
		goto out;
	}
	if (authz_load(a, &j, c.authz_id, &az, &st, p) == -1)
		goto out;
	/* A payload ({}) asks for the validation (RFC 8555 7.5.1). */
	if (j.payload != NULL && strcmp(c.status, "pending") == 0) {
		if (strcmp(az.status, "pending") != 0) {
			acme_problem(p, 403, "malformed", "the authorization "
			    "is %s", az.status);
			goto out;
		}
		/* Shown as invalid once expired (authz_json): so it is. */
		if (az.expires < time_now()) {
			acme_problem(p, 403, "malformed", "the authorization "
			    "expired");
			goto out;
		}
		/*
		 * An answer held for the result writes nothing now: the
		 * client learns of the validation only from the result's
		 * commit, or, at the deadline, from "processing" written
		 * first (acme_chall_held). Listed before the validation
		 * starts: the result may come at once. One validation at a
		 * time (a->validating): a repeated POST waits for the
		 * running one's result.
		 */
		if (req->can_wait && wait_ms > 0 &&
		    (w = acme_wait_new(a, ep, c.id, wait_ms)) != NULL) {
			if ((v = acme_idset_take(&a->validating, c.id)) == -1 ||
			    (v == 1 && va_submit(a, &c, &az,
			    j.account.thumbprint, 1) == -1)) {
				if (v == 1)
					acme_idset_drop(&a->validating, c.id);
				acme_wait_drop(a, w);
				goto busy;
			}
			r->wait = w;	/* answered by acme_wait_answer */
			rc = 0;
			goto out;
		}
		memset(&job, 0, sizeof(job));
		job.chall_id = c.id;
		job.from = "pending";
		job.to = "processing";
		if (acme_write(a, chall_status_fn, &job) == -1) {
			acme_db_error(p);
			goto out;
		}
		if (!job.conflict &&
		    va_submit(a, &c, &az, j.account.thumbprint, 0) == -1) {
			job.from = "processing";
			job.to = "pending";
			acme_write(a, chall_status_fn, &job);
			goto busy;
		}
		/* Written (or raced): as it is now. */
		rc = acme_chall_view(a, ep, id, r, p);
		goto out;
	}
	chall_answer(a, ep, &c, r);
	rc = 0;
	goto out;
busy:
	acme_problem(p, 503, "rateLimited", "too many validations waiting; "
	    "retry later");
	r->retry_after = 5;
out:
	acme_chall_row_free(&c);
	acme_jws_free(&j);
	return rc;
}

int
acme_chall_view(struct acme *a, const struct acme_endpoint *ep, int64_t id,
    struct acme_resp *r, struct acme_problem *p)
{
	struct acme_chall_row c;
	struct store	*st;

	if ((st = acme_reader(a)) == NULL || store_acme_chall_get(st, id, &c)
	    != 0)
		return acme_db_error(p);
	chall_answer(a, ep, &c, r);
	acme_chall_row_free(&c);
	return 0;
}

int
acme_chall_held(struct acme *a, const struct acme_endpoint *ep, int64_t id,
    struct acme_resp *r, struct acme_problem *p)
{
	struct acme_chall_row c;
	struct chall_job job;
	struct store	*st;

	if ((st = acme_reader(a)) == NULL || store_acme_chall_get(st, id, &c)
	    != 0)
		return acme_db_error(p);
	if (strcmp(c.status, "pending") == 0) {
		/*
		 * No result yet (the deadline, a stop): "processing" is made
		 * durable before it is said, so that a restart validates
		 * again (acme_resume_validations). No validation running
		 * (its result was not recorded, or it could not start): one
		 * starts, as for an unheld POST. Not when the authorization
		 * was deactivated meanwhile: the challenge stays pending.
		 */
		memset(&job, 0, sizeof(job));
		job.chall_id = id;
		job.from = "pending";
		job.to = "processing";
		if (acme_write(a, chall_status_fn, &job) == -1) {
			acme_chall_row_free(&c);
			return acme_db_error(p);
		}
		if (!job.conflict && !acme_idset_has(&a->validating, id) &&
		    va_submit_stored(a, &c) == -1)
			log_warn("acme: challenge %lld: cannot validate now; "
			    "the next start does", (long long)id);
		acme_chall_row_free(&c);
		return acme_chall_view(a, ep, id, r, p);
	}
	chall_answer(a, ep, &c, r);
	acme_chall_row_free(&c);
	return 0;
}

void
acme_resume_validations(struct acme *a)
{
	struct store	*st = acme_reader(a);
	struct acme_chall_row c;
	int64_t		 ids[256], after = 0, queued = 0, left = 0;
	size_t		 n, i;

	if (st == NULL)
		return;
	/* Every one, a page at a time: they are anyone's to make. */
	while (store_acme_challs_processing(st, after, ids, nitems(ids), &n) ==
	    0 && n > 0) {
		for (i = 0; i < n; i++) {
			if (store_acme_chall_get(st, ids[i], &c) != 0)
				continue;
			if (va_submit_stored(a, &c) == 0)
				queued++;
			else
				left++;
			acme_chall_row_free(&c);
		}
		after = ids[n - 1];
	}
	if (queued > 0)
		log_info("acme: %lld challenge%s cut short by the stop: "
		    "validating again", (long long)queued, queued == 1 ? "" :
		    "s");
	if (left > 0)
		log_warn("acme: %lld challenge%s cut short by the stop could "
		    "not be queued again (the validation queue is full): they "
		    "stay \"processing\" until the next start", (long long)left,
		    left == 1 ? "" : "s");
}

