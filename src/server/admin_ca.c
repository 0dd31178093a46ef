/*
 * admin_ca.c - the admin socket's commands for the CA itself (status,
 * submit, resubmit, renew, deny, retrieve, revoke, unrevoke, crl, import,
 * purge, reload, shutdown; docs/admin-protocol.md), which admin.c serves.
 * The exit-module host's commands are exit_admin.c's.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../ca/json.h"
#include "server.h"

json_t *
result_request_json(struct server *srv, const struct ca_result *res, int pem)
{
	json_t	*o;

	/* The read lock: a reload frees the signer, chain_pem with it. */
	ca_config_lock(srv->ca);
	o = request_to_json(&res->req, res->has_cert ? &res->cert : NULL, pem,
	    ca_signer(srv->ca)->chain_pem);
	ca_config_unlock(srv->ca);
	return o;
}

/*
 * Put the outcome of a CA action into reply, or the error into err.
 */
static int
finish(struct server *srv, struct ca_result *res, int rc, int pem,
    json_t *reply, char *err, size_t errlen, enum ca_status *code)
{
	if (res->has_request)
		json_object_set_new(reply, "request",
		    result_request_json(srv, res, pem));
	if (rc == -1) {
		snprintf(err, errlen, "%s", res->error);
		*code = res->status;
	}
	ca_result_free(res);
	return rc;
}

static int
arg_id(json_t *args, int64_t *id, char *err, size_t errlen,
    enum ca_status *code)
{
	json_t	*v = json_object_get(args, "id");

	if (!json_is_integer(v) || json_integer_value(v) <= 0) {
		snprintf(err, errlen, "\"id\" must be a positive request id");
		*code = CA_E_BADREQ;
		return -1;
	}
	*id = json_integer_value(v);
	return 0;
}

/* The issuance timing counters (ca.h), as a JSON object. */
static json_t *
timing_json(struct ca *ca)
{
	struct ca_timing t;
	json_t		*o = json_object(), *ns = json_object();
	int		 i;

	ca_timing_get(ca, &t);
	json_object_set_new(o, "submissions", json_integer(t.submissions));
	json_object_set_new(o, "batches", json_integer(t.batches));
	json_object_set_new(o, "jobs", json_integer(t.jobs));
	for (i = 0; i < STAGE__MAX; i++)
		json_object_set_new(ns, ca_stage_name(i), json_integer(t.ns[i]));
	json_object_set_new(o, "ns", ns);
	return o;
}

/*
 * The newest base and delta CRLs and their schedule (ca_crl_status), with
 * ages and delays in seconds; NULL when they cannot be read.
 */
static json_t *
crl_status_json(struct ca *ca)
{
	static const char *const kinds[2] = { "base", "delta" };
	struct ca_crl_state cs[2];
	json_t		*o, *k, *f;
	char		 ts[32];
	int64_t		 now = time_now();
	int		 i;

	if (ca_crl_status(ca, cs) == -1 || (o = json_object()) == NULL)
		return NULL;
	for (i = 0; i < 2; i++) {
		k = cs[i].present ? crl_to_json(&cs[i].crl) : json_object();
		json_object_set_new(k, "state",
		    json_string(ca_crl_health_name(cs[i].health)));
		if (cs[i].present) {
			json_object_set_new(k, "age",
			    json_integer(now - cs[i].crl.this_update));
			json_object_set_new(k, "expires_in",
			    json_integer(cs[i].crl.next_update - now));
		}
		if (cs[i].next_publish != 0) {
			time_format(cs[i].next_publish, ts);
			json_object_set_new(k, "next_publish", json_string(ts));
			json_object_set_new(k, "next_publish_in",
			    json_integer(cs[i].next_publish - now));
		}
		json_object_set_new(k, "failures",
		    json_integer(cs[i].failures));
		if (cs[i].fail_time != 0) {
			f = json_object();
			time_format(cs[i].fail_time, ts);
			json_object_set_new(f, "time", json_string(ts));
			json_object_set_new(f, "message",
			    json_string_lossy(cs[i].fail_msg));
			json_object_set_new(k, "last_failure", f);
		}
		json_object_set_new(o, kinds[i], k);
	}
	return o;
}

static int
cmd_status_locked(struct server *srv, const char *officer, json_t *args,
    json_t *reply, char *err, size_t errlen, enum ca_status *code)
{
	const struct cm_config *cfg = ca_config(srv->ca);
	struct db_stats	 st;
	struct store	*db = ca_reader(srv->ca);
	json_t		*r;

	json_object_set_new(reply, "ca_name", json_string(cfg->ca_name));
	json_object_set_new(reply, "version", json_string(CM_VERSION));
	json_object_set_new(reply, "pid", json_integer(getpid()));
	json_object_set_new(reply, "uptime",
	    json_integer(time_now() - ca_start_time(srv->ca)));
	json_object_set_new(reply, "listen", json_string(srv->listen_desc));
	json_object_set_new(reply, "tls_listen", json_string(srv->tls_desc));
	json_object_set_new(reply, "base_url", json_string(cfg->base_url));
	if (db == NULL || store_stats(db, &st) != 0) {
		snprintf(err, errlen, "cannot read the database");
		*code = CA_E_INTERNAL;
		return -1;
	}
	r = json_object();
	json_object_set_new(r, "pending", json_integer(st.pending));
	json_object_set_new(r, "issued", json_integer(st.issued));
	json_object_set_new(r, "revoked", json_integer(st.revoked));
	json_object_set_new(r, "denied", json_integer(st.denied));
	json_object_set_new(r, "failed", json_integer(st.failed));
	json_object_set_new(r, "total", json_integer(st.total));
	json_object_set_new(reply, "requests", r);
	json_object_set_new(reply, "unauthenticated",
	    json_integer(atomic_load(&srv->unauthenticated)));
	json_object_set_new(reply, "unproven_renewals",
	    json_integer(atomic_load(&srv->unproven_renewals)));
	json_object_set_new(reply, "crls", json_integer(st.crls));
	if ((r = crl_status_json(srv->ca)) == NULL) {
		snprintf(err, errlen, "cannot read the CRLs");
		*code = CA_E_INTERNAL;
		return -1;
	}
	json_object_set_new(reply, "crl", r);
	json_object_set_new(reply, "last_event_seq", json_integer(st.last_event_seq));
	json_object_set_new(reply, "timing", timing_json(srv->ca));
	return 0;
}

/* cmd_status_locked under the config read lock (ca_reload swaps it). */
static int
cmd_status(struct server *srv, const char *officer, json_t *args,
    json_t *reply, char *err, size_t errlen, enum ca_status *code)
{
	int	 rc;

	ca_config_lock(srv->ca);
	rc = cmd_status_locked(srv, officer, args, reply, err, errlen, code);
	ca_config_unlock(srv->ca);
	return rc;
}

static int
cmd_submit(struct server *srv, const char *officer, json_t *args,
    json_t *reply, char *err, size_t errlen, enum ca_status *code)
{
	struct ca_result res;
	struct db_attr	 attrs[65];
	const char	*csr, *k, *requester;
	json_t		*a, *v;
	size_t		 n = 0;
	int		 rc;

	csr = json_string_value(json_object_get(args, "csr"));
	requester = json_string_value(json_object_get(args, "requester"));
	if (requester == NULL)
		requester = officer;
	a = json_object_get(args, "attributes");
	if (csr == NULL || (a != NULL && !json_is_object(a))) {
		snprintf(err, errlen, "\"csr\" (PEM string) is required and "
		    "\"attributes\" must be an object");
		*code = CA_E_BADREQ;
		return -1;
	}
	json_object_foreach(a, k, v) {
		if (!json_is_string(v) || n == nitems(attrs)) {
			snprintf(err, errlen, "attribute values must be strings "
			    "(at most %zu attributes)", nitems(attrs) - 1);
			*code = CA_E_BADREQ;
			return -1;
		}
		attrs[n].name = (char *)k;
		attrs[n].value = (char *)json_string_value(v);
		n++;
	}
	if (ca_attrs_from_client(attrs, n, err, errlen) == -1) {
		*code = CA_E_BADREQ;
		return -1;
	}
	rc = ca_submit(srv->ca, (const unsigned char *)csr, strlen(csr), attrs, n,
	    requester, officer, &res);
	return finish(srv, &res, rc, 1, reply, err, errlen, code);
}

static int
cmd_resubmit(struct server *srv, const char *officer, json_t *args,
    json_t *reply, char *err, size_t errlen, enum ca_status *code)
{
	struct ca_result res;
	int64_t		 id;

	if (arg_id(args, &id, err, errlen, code) == -1)
		return -1;
	return finish(srv, &res, ca_resubmit(srv->ca, id, officer, &res), 1,
	    reply, err, errlen, code);
}

/* {"cmd": "renew", "serial": HEX, "csr": PEM (optional)} */
static int
cmd_renew(struct server *srv, const char *officer, json_t *args,
    json_t *reply, char *err, size_t errlen, enum ca_status *code)
{
	struct ca_result res;
	const char	*serial = json_string_value(json_object_get(args, "serial"));
	const char	*csr = json_string_value(json_object_get(args, "csr"));

	if (serial == NULL || (json_object_get(args, "csr") != NULL &&
	    csr == NULL)) {
		snprintf(err, errlen, "\"serial\" (a string) is required; "
		    "\"csr\", if given, is a PEM string");
		*code = CA_E_BADREQ;
		return -1;
	}
	return finish(srv, &res, ca_renew(srv->ca, serial,
	    (const unsigned char *)csr, csr ? strlen(csr) : 0, NULL, officer,
	    officer, &res), 1, reply, err, errlen, code);
}

static int
cmd_deny(struct server *srv, const char *officer, json_t *args,
    json_t *reply, char *err, size_t errlen, enum ca_status *code)
{
	struct ca_result res;
	int64_t		 id;

	if (arg_id(args, &id, err, errlen, code) == -1)
		return -1;
	return finish(srv, &res, ca_deny(srv->ca, id, officer, &res), 0,
	    reply, err, errlen, code);
}

static int
cmd_retrieve(struct server *srv, const char *officer, json_t *args,
    json_t *reply, char *err, size_t errlen, enum ca_status *code)
{
	struct ca_result res;
	int64_t		 id;

	if (arg_id(args, &id, err, errlen, code) == -1)
		return -1;
	return finish(srv, &res, ca_retrieve(srv->ca, id, &res), 1,
	    reply, err, errlen, code);
}

static int
cmd_revoke(struct server *srv, const char *officer, json_t *args,
    json_t *reply, char *err, size_t errlen, enum ca_status *code)
{
	struct ca_result res;
	const char	*serial = json_string_value(json_object_get(args, "serial"));
	json_t		*reason = json_object_get(args, "reason");
	json_t		*date = json_object_get(args, "date");

	if (serial == NULL || (reason != NULL && !json_is_integer(reason)) ||
	    (date != NULL && !json_is_integer(date))) {
		snprintf(err, errlen, "\"serial\" (hex string) is required; "
		    "\"reason\" and \"date\" must be integers");
		*code = CA_E_BADREQ;
		return -1;
	}
	return finish(srv, &res, ca_revoke(srv->ca, serial,
	    reason ? (int)json_integer_value(reason) : 0,
	    date ? json_integer_value(date) : 0, officer, &res), 0,
	    reply, err, errlen, code);
}

static int
cmd_unrevoke(struct server *srv, const char *officer, json_t *args,
    json_t *reply, char *err, size_t errlen, enum ca_status *code)
{
	struct ca_result res;
	const char	*serial = json_string_value(json_object_get(args, "serial"));

	if (serial == NULL) {
		snprintf(err, errlen, "\"serial\" (hex string) is required");
		*code = CA_E_BADREQ;
		return -1;
	}
	return finish(srv, &res, ca_unrevoke(srv->ca, serial, officer, &res), 0,
	    reply, err, errlen, code);
}

static int
cmd_crl(struct server *srv, const char *officer, json_t *args,
    json_t *reply, char *err, size_t errlen, enum ca_status *code)
{
	struct ca_result res;
	json_t		*arr;
	int		 i, rc;

	rc = ca_publish_crl(srv->ca, json_is_true(json_object_get(args, "delta")),
	    &res);
	arr = json_array();
	for (i = 0; i < res.ncrls; i++)
		json_array_append_new(arr, crl_to_json(&res.crls[i]));
	json_object_set_new(reply, "crls", arr);
	return finish(srv, &res, rc, 0, reply, err, errlen, code);
}

static int
cmd_import(struct server *srv, const char *officer, json_t *args,
    json_t *reply, char *err, size_t errlen, enum ca_status *code)
{
	struct ca_result res;
	const char	*pem = json_string_value(json_object_get(args, "certificate"));

	if (pem == NULL) {
		snprintf(err, errlen, "\"certificate\" (PEM string) is required");
		*code = CA_E_BADREQ;
		return -1;
	}
	return finish(srv, &res, ca_import(srv->ca, (const unsigned char *)pem,
	    strlen(pem), officer, &res), 0, reply, err, errlen, code);
}

/* The outcome of a purge, as "purge" of the answer (docs/cli.md). */
static json_t *
purge_json(const struct db_purge *p)
{
	static const char *const why[PURGE_KEEP__MAX] = {
		[PURGE_KEEP_NEWEST] = "newest",
		[PURGE_KEEP_REVOKED] = "revoked",
		[PURGE_KEEP_DEAD_LETTER] = "dead_letter",
		[PURGE_KEEP_UNDELIVERED] = "undelivered",
	};
	json_t		*o = json_object(), *k;
	char		 ts[32];
	int64_t		 total = 0;
	int		 i;

	time_format(p->before, ts);
	json_object_set_new(o, "expired_before", json_string(ts));
	json_object_set_new(o, "dry_run", json_boolean(p->dry_run));
	json_object_set_new(o, "revoked_too", json_boolean(p->revoked_too));
	k = json_object();
	json_object_set_new(k, "requests", json_integer(p->requests));
	json_object_set_new(k, "certificates", json_integer(p->certs));
	json_object_set_new(k, "revoked", json_integer(p->revoked));
	json_object_set_new(k, "events", json_integer(p->events));
	json_object_set_new(k, "attributes", json_integer(p->attrs));
	json_object_set_new(k, "history", json_integer(p->history));
	json_object_set_new(k, "acme_orders", json_integer(p->acme_orders));
	json_object_set_new(k, "acme_authorizations",
	    json_integer(p->acme_authzs));
	json_object_set_new(k, "acme_challenges", json_integer(p->acme_challs));
	json_object_set_new(o, "removed", k);
	for (i = PURGE_REMOVE + 1; i < PURGE_KEEP__MAX; i++)
		total += p->kept[i];
	k = json_object();
	json_object_set_new(k, "requests", json_integer(total));
	for (i = PURGE_REMOVE + 1; i < PURGE_KEEP__MAX; i++)
		json_object_set_new(k, why[i], json_integer(p->kept[i]));
	json_object_set_new(o, "kept", k);
	if (p->delivered != INT64_MAX) {
		json_object_set_new(o, "delivered_through",
		    json_integer(p->delivered));
		json_object_set_new(o, "slowest_module",
		    json_string(p->slowest));
	}
	return o;
}

/*
 * {"cmd": "purge", "before": UNIX, "dry_run": BOOL, "revoked_too": BOOL}:
 * forget the requests whose certificate expired before then (ca_purge).
 */
static int
cmd_purge(struct server *srv, const char *officer, json_t *args,
    json_t *reply, char *err, size_t errlen, enum ca_status *code)
{
	struct ca_result res;
	struct db_purge	 p;
	json_t		*before = json_object_get(args, "before");
	int		 rc;

	if (!json_is_integer(before)) {
		snprintf(err, errlen, "\"before\" (seconds since 1970) is "
		    "required");
		*code = CA_E_BADREQ;
		return -1;
	}
	memset(&p, 0, sizeof(p));
	p.before = json_integer_value(before);
	p.dry_run = json_is_true(json_object_get(args, "dry_run"));
	p.revoked_too = json_is_true(json_object_get(args, "revoked_too"));
	if ((rc = ca_purge(srv->ca, &p, officer, &res)) == 0)
		json_object_set_new(reply, "purge", purge_json(&p));
	return finish(srv, &res, rc, 0, reply, err, errlen, code);
}

static int
wake_main(struct server *srv, char what)
{
	return write(srv->wake[1], &what, 1) == 1 ? 0 : -1;
}

static int
cmd_reload(struct server *srv, const char *officer, json_t *args,
    json_t *reply, char *err, size_t errlen, enum ca_status *code)
{
	json_t	*warnings = json_array(), *notes = json_array();
	char	 why[512];

	/* Here, not in the main loop: the caller hears what is wrong. */
	if (server_reload(srv, why, sizeof(why), warnings, notes) == -1) {
		json_decref(warnings);
		json_decref(notes);
		snprintf(err, errlen, "%s", why);
		*code = CA_E_BADREQ;
		log_err("reload by %s failed, keeping the running "
		    "configuration: %s", officer, why);
		return -1;
	}
	log_info("configuration reloaded by %s", officer);
	/* Applied, but for these: the caller hears of them too. */
	json_object_set_new(reply, "warnings", warnings);
	/* Applied, and these are what the config may not mean. */
	json_object_set_new(reply, "notes", notes);
	return 0;
}

static int
cmd_shutdown(struct server *srv, const char *officer, json_t *args,
    json_t *reply, char *err, size_t errlen, enum ca_status *code)
{
	log_info("shutdown requested by %s", officer);
	return wake_main(srv, SERVER_WAKE_STOP);
}

const struct admin_cmd admin_ca_cmds[] = {
	{ "status", cmd_status },
	{ "submit", cmd_submit },
	{ "resubmit", cmd_resubmit },
	{ "renew", cmd_renew },
	{ "deny", cmd_deny },
	{ "retrieve", cmd_retrieve },
	{ "revoke", cmd_revoke },
	{ "unrevoke", cmd_unrevoke },
	{ "crl", cmd_crl },
	{ "import", cmd_import },
	{ "purge", cmd_purge },
	{ "reload", cmd_reload },
	{ "shutdown", cmd_shutdown },
};

const size_t admin_ca_ncmds = nitems(admin_ca_cmds);
