/*
 * revoke.c - revocation (revoke, release from hold) and CRL publication
 * (base and delta CRLs, one at a time).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ca_int.h"
#include "json.h"

/*
 * Find the request and certificate for serial. Returns 0 or -1 with res set.
 */
int
ca_load_by_serial(struct ca *ca, const char *serial, struct db_request *req,
    struct ca_result *res)
{
	struct store	*st;
	char		 norm[130];
	int		 rc;

	if (serial == NULL || hex_normalize(serial, norm, sizeof(norm)) == -1)
		return ca_fail(res, CA_E_BADREQ, "\"%s\" is not a hexadecimal serial "
		    "number", serial ? serial : "");
	if ((st = ca_reader(ca)) == NULL)
		return ca_fail(res, CA_E_INTERNAL, "cannot open the database");
	rc = store_cert_by_serial(st, norm, &res->cert);
	/* Serials given with a leading 00 sign byte still match. */
	while (rc == CM_E_NOTFOUND && strncmp(norm, "00", 2) == 0 &&
	    strlen(norm) > 2) {
		memmove(norm, norm + 2, strlen(norm + 2) + 1);
		rc = store_cert_by_serial(st, norm, &res->cert);
	}
	if (rc == CM_E_NOTFOUND)
		return ca_fail(res, CA_E_NOTFOUND, "no certificate with serial %s",
		    norm);
	if (rc != 0)
		return ca_fail(res, CA_E_INTERNAL, "cannot read the certificate table");
	res->has_cert = 1;
	if (ca_load_request(ca, res->cert.request_id, req, res) == -1)
		return -1;
	return 0;
}

int
ca_revoke(struct ca *ca, const char *serial, int reason, int64_t date,
    const char *officer, struct ca_result *res)
{
	const struct cm_profile *prof;
	struct db_request req;
	struct wjob	 job = { 0 };
	char		 ts[32];
	int64_t		 now = time_now();
	int		 rc;

	memset(res, 0, sizeof(*res));
	if (atomic_load(&ca->stopping))
		return ca_fail(res, CA_E_SHUTDOWN, "the CA is shutting down");
	if (reason < 0 || reason > 10 || reason == 7 ||
	    reason == CRL_REASON_REMOVE_FROM_CRL)
		return ca_fail(res, CA_E_BADREQ, "invalid revocation reason %d", reason);
	if (date > now + 60)
		return ca_fail(res, CA_E_BADREQ, "the revocation date is in the future");
	if (ca_load_by_serial(ca, serial, &req, res) == -1)
		return -1;
	/* Imported before import refused them. */
	if (ca_certifies_own_key(ca, res->cert.raw, res->cert.raw_len)) {
		ca_fail(res, CA_E_BADREQ, "certificate %s certifies this CA's own "
		    "key: it cannot be on the CA's CRL", res->cert.serial);
		db_request_free(&req);
		return -1;
	}
	/* An invalidity date before the certificate existed is a typo. */
	if (date != 0 && date < res->cert.not_before) {
		time_format(res->cert.not_before, ts);
		ca_fail(res, CA_E_BADREQ, "the revocation date is before the "
		    "certificate's notBefore (%s)", ts);
		db_request_free(&req);
		return -1;
	}
	/* The reasons its profile allows (WebServer: BR 7.2.2). */
	pthread_rwlock_rdlock(&ca->cfg_lock);
	prof = req.profile != NULL ? profile_find(&ca->cfg, req.profile) :
	    NULL;
	if (prof != NULL && !(prof->reasons & (1u << reason)))
		ca_fail(res, CA_E_BADREQ, "%s is not a revocation reason for "
		    "certificates of profile %s", crl_reason_name(reason),
		    prof->name);
	pthread_rwlock_unlock(&ca->cfg_lock);
	if (res->status != CA_OK) {
		db_request_free(&req);
		return -1;
	}
	if (req.disposition == CM_DISP_REVOKED &&
	    (req.revoked_reason != CRL_REASON_CERTIFICATE_HOLD ||
	    reason == CRL_REASON_CERTIFICATE_HOLD)) {
		time_format(req.revoked_when, ts);
		ca_fail(res, CA_E_CONFLICT, "certificate %s is already revoked (%s "
		    "since %s)", res->cert.serial,
		    crl_reason_name(req.revoked_reason), ts);
		db_request_free(&req);
		return -1;
	}
	if (req.disposition != CM_DISP_ISSUED &&
	    req.disposition != CM_DISP_REVOKED) {
		ca_fail(res, CA_E_CONFLICT, "request %" PRId64 " is %s, not issued",
		    req.id, disposition_name(req.disposition));
		db_request_free(&req);
		return -1;
	}
	job.expect = req.disposition;
	req.disposition = CM_DISP_REVOKED;
	req.revoked_when = now;
	req.revoked_effective_when = date != 0 ? date : now;
	req.revoked_reason = reason;
	job.kind = WJOB_UPDATE;
	job.req = &req;
	job.event = CM_EXITEVENT_CERTREVOKED;
	job.stamp_revoked = 1;
	(void)officer;
	rc = writer_run(ca->writer, &job);
	if (rc == 0) {
		log_info("certificate %s revoked by %s (%s)", res->cert.serial,
		    officer, crl_reason_name(reason));
		crl_schedule_poke(ca);
	}
	return ca_result_from_job(ca, res, rc, &req, NULL);
}

int
ca_unrevoke(struct ca *ca, const char *serial, const char *officer,
    struct ca_result *res)
{
	struct db_request req;
	struct wjob	 job = { 0 };
	int		 rc;

	memset(res, 0, sizeof(*res));
	if (atomic_load(&ca->stopping))
		return ca_fail(res, CA_E_SHUTDOWN, "the CA is shutting down");
	if (ca_load_by_serial(ca, serial, &req, res) == -1)
		return -1;
	if (req.disposition != CM_DISP_REVOKED ||
	    req.revoked_reason != CRL_REASON_CERTIFICATE_HOLD) {
		ca_fail(res, CA_E_CONFLICT, "certificate %s is %s%s: only a "
		    "certificateHold can be undone", res->cert.serial,
		    disposition_name(req.disposition),
		    req.disposition == CM_DISP_REVOKED ? " (not on hold)" : "");
		db_request_free(&req);
		return -1;
	}
	req.disposition = CM_DISP_ISSUED;
	req.revoked_when = 0;
	req.revoked_effective_when = 0;
	req.revoked_reason = -1;
	req.unrevoked_when = time_now();
	job.kind = WJOB_UPDATE;
	job.req = &req;
	job.expect = CM_DISP_REVOKED;
	job.event = CM_EXITEVENT_CERTUNREVOKED;
	rc = writer_run(ca->writer, &job);
	if (rc == 0) {
		log_info("certificate %s released from hold by %s",
		    res->cert.serial, officer);
		crl_schedule_poke(ca);
	}
	return ca_result_from_job(ca, res, rc, &req, NULL);
}

struct crl_collect {
	struct crl_entry *v;
	size_t		  n, cap;
	int		  bad;
	const struct cm_config *cfg;
	int64_t		  now;
	size_t		  expired;	/* left off: expired past retention */
	char		  last[64];	/* the profile crl_retention last */
	int64_t		  last_keep;	/* looked up, and its answer */
};

/*
 * How long after it expires a revoked certificate of profile name stays
 * on CRLs: its profile's expired_on_crl, forever (-1) for a profile no
 * longer defined.
 */
static int64_t
crl_retention(const struct cm_config *cfg, const char *name)
{
	const struct cm_profile *p;

	if (name == NULL || (p = profile_find(cfg, name)) == NULL)
		return -1;
	return p->expired_on_crl;
}

static int
crl_collect_one(void *arg, const struct db_revoked *r)
{
	struct crl_collect *c = arg;
	struct crl_entry *e;
	unsigned char	*bytes;
	size_t		 len;
	int64_t		 keep;

	/* Most entries share a profile with the one before: one lookup. */
	if (r->profile != NULL && strcmp(r->profile, c->last) == 0)
		keep = c->last_keep;
	else {
		keep = crl_retention(c->cfg, r->profile);
		if (r->profile != NULL && strlen(r->profile) < sizeof(c->last)) {
			memcpy(c->last, r->profile, strlen(r->profile) + 1);
			c->last_keep = keep;
		}
	}
	if (keep >= 0 && r->not_after < c->now - keep) {
		c->expired++;
		return 0;
	}
	if (c->n == c->cap) {
		size_t ncap = c->cap ? c->cap * 2 : 1024;
		if ((e = realloc(c->v, ncap * sizeof(*e))) == NULL)
			return -1;
		c->v = e;
		c->cap = ncap;
	}
	if (hex_decode(r->serial, &bytes, &len) == -1 ||
	    len > sizeof(c->v[0].serial)) {
		free(bytes);
		c->bad++;
		return 0;
	}
	e = &c->v[c->n++];
	memcpy(e->serial, bytes, len);
	e->serial_len = len;
	free(bytes);
	e->revoked_when = r->revoked_when;
	e->reason = r->reason;
	e->invalidity = r->revoked_effective_when != 0 &&
	    r->revoked_effective_when != r->revoked_when ?
	    r->revoked_effective_when : 0;
	return 0;
}

/*
 * X.509's expiredCertsOnCRL of a CRL made now: the CRL lists every revoked
 * certificate that expired at or after it. The shortest retention of any
 * profile decides; 0 when every profile keeps them forever (no extension).
 */
static int64_t
crl_expired_since(const struct cm_config *cfg, int64_t now)
{
	int64_t		 min = -1;
	size_t		 i;

	for (i = 0; i < cfg->nprofiles; i++)
		if (cfg->profile_list[i].expired_on_crl >= 0 &&
		    (min < 0 || cfg->profile_list[i].expired_on_crl < min))
			min = cfg->profile_list[i].expired_on_crl;
	return min < 0 ? 0 : now - min;
}

/*
 * Would base CRL number of key sg, with n entries (and expired more left
 * off as their profiles say), drop revoked certificates the key's previous
 * base CRL listed? Only a release from hold or the end of an expired
 * certificate's retention takes one off: fewer than the previous count
 * less the releases since means the database lost revocations, and the CA
 * refuses to sign (-1 with res), loudly.
 */
static int
crl_shrinks(struct store *st, const struct signer *sg, int64_t number,
    size_t n, size_t expired, struct ca_result *res)
{
	struct db_crl	 prev;
	int64_t		 released;
	int		 rc;

	if ((rc = store_crl_latest_head(st, 0, sg->key_idx, &prev)) ==
	    CM_E_NOTFOUND)
		return 0;
	if (rc != 0 || store_released_since(st, prev.this_update,
	    &released) != 0)
		return ca_fail(res, CA_E_INTERNAL, "cannot read the previous "
		    "base CRL");
	if ((int64_t)(n + expired) >= prev.count - released)
		return 0;
	log_err("refusing to sign base CRL %" PRId64 ": it would list %zu "
	    "revoked certificates where CRL %" PRId64 " listed %" PRId64
	    " and %" PRId64 " were released from hold since: the database has "
	    "lost revocations (damaged, or replaced by an old copy?)", number,
	    n + expired, prev.number, prev.count, released);
	return ca_fail(res, CA_E_INTERNAL, "refusing to sign a CRL that drops "
	    "revoked certificates: %zu listed, %" PRId64 " in CRL %" PRId64
	    ", %" PRId64 " released since; check the database (see the log)",
	    n + expired, prev.count, prev.number, released);
}

/*
 * Record a CRL through the writer thread, or, for a CA that no daemon
 * runs (certmint init), in a transaction of its own. A store code.
 */
static int
crl_record(struct ca *ca, struct wjob *job)
{
	if (ca->writer == NULL)
		return writer_apply(ca->wstore, job);
	return writer_run(ca->writer, job);
}

/*
 * Build, sign with key sg and record one CRL: base NULL makes a base CRL;
 * otherwise a delta CRL on base, listing what changed since it. It lists
 * the certificates sg's key signed (CA certificates sg->key_idx to
 * sg->cert_idx) and is valid for period + overlap (AD CS: its successor
 * comes after period). 0, or -1 with res.
 */
static int
publish_one(struct ca *ca, const struct signer *sg, int64_t number,
    const struct db_crl *base, int64_t period, int64_t overlap,
    struct db_crl *out, struct ca_result *res)
{
	struct crl_collect col = { 0 };
	struct crl_params p;
	struct wjob	 job = { 0 };
	struct store	*st = ca_reader(ca);
	struct db_crl	 last;
	int64_t		 as_of = 0;
	char		 ts[32];
	int		 rc;

	memset(out, 0, sizeof(*out));
	if (st == NULL)
		return ca_fail(res, CA_E_INTERNAL, "cannot open the database");
	col.cfg = &ca->cfg;
	col.now = time_now();
	col.last_keep = crl_retention(&ca->cfg, "");	/* for last "" */
	/*
	 * The current key signing past its CA certificate (an older key's
	 * newest may have ended while an earlier one is valid: signer.c).
	 */
	if (sg->certs != NULL && sg->not_after != 0 &&
	    sg->not_after <= col.now) {
		time_format(sg->not_after, ts);
		log_warn("%s CRL %" PRId64 ": the CA certificate that signs it "
		    "expired at %s: renew the CA (docs/ca-renewal.md)",
		    base != NULL ? "delta" : "base", number, ts);
	}
	/* A clock gone back: say so, as the CRLs would go back in time. */
	if (store_crl_latest_head(st, base != NULL, sg->key_idx, &last) == 0 &&
	    last.this_update > col.now + 60) {
		time_format(last.this_update, ts);
		log_warn("%s CRL %" PRId64 ": the clock is behind the last "
		    "one's thisUpdate (%s, %" PRId64 " s ahead): did it go "
		    "back?", base != NULL ? "delta" : "base", number, ts,
		    last.this_update - col.now);
	}
	if (store_revoked_each(st, base, sg->key_idx, sg->cert_idx,
	    crl_collect_one, &col, &as_of) != 0) {
		free(col.v);
		return ca_fail(res, CA_E_INTERNAL, "cannot read revoked certificates");
	}
	if (col.bad)
		log_warn("%d revoked serials could not be decoded", col.bad);
	if (base == NULL && crl_shrinks(st, sg, number, col.n, col.expired,
	    res) == -1) {
		free(col.v);
		return -1;
	}
	memset(&p, 0, sizeof(p));
	p.number = number;
	p.base_number = base != NULL ? base->number : -1;
	p.this_update = col.now;
	p.next_update = p.this_update + period + overlap;
	p.expired_since = crl_expired_since(&ca->cfg, col.now);
	p.entries = col.v;
	p.nentries = col.n;
	if (crl_build(sg, &p, &out->raw, &out->raw_len) == -1) {
		free(col.v);
		return ca_fail(res, CA_E_INTERNAL, "cannot build the CRL");
	}
	free(col.v);
	out->number = number;
	out->base_number = p.base_number;
	out->this_update = p.this_update;
	out->next_update = p.next_update;
	out->count = (int64_t)p.nentries;
	out->as_of_seq = as_of;
	out->key_idx = sg->key_idx;
	job.kind = WJOB_CRL;
	job.crl = out;
	job.event = CM_EXITEVENT_CRLISSUED;
	if ((rc = crl_record(ca, &job)) != 0) {
		db_crl_free(out);
		return ca_fail(res, CA_E_INTERNAL, "cannot record the CRL in "
		    "the database (error %d; see the log)", rc);
	}
	log_info("published %s CRL number %" PRId64 " (CRL index %d) with %"
	    PRId64 " %s", base == NULL ? "base" : "delta", number,
	    sg->key_idx, out->count, out->count == 1 ? "entry" : "entries");
	if (col.expired > 0)
		log_info("%zu revoked certificates expired longer ago than "
		    "their profile's expired_on_crl are no longer listed",
		    col.expired);
	return 0;
}

/*
 * Publish the base (unless delta_only) and delta (when on) CRLs of key
 * sg's certificates. 0, or -1 with res.
 */
static int
publish_key(struct ca *ca, struct store *st, const struct signer *sg,
    int delta_only, int64_t *number, struct ca_result *res)
{
	struct db_crl	 base, *own = NULL;
	int		 rc;

	if (!delta_only) {
		if (publish_one(ca, sg, ++*number, NULL, ca->cfg.crl_period,
		    ca->cfg.crl_overlap, &res->crls[res->ncrls], res) == -1)
			return -1;
		own = &res->crls[res->ncrls++];
	}
	if (!ca->cfg.delta_enabled)
		return 0;
	if (own == NULL) {
		if ((rc = store_crl_latest_head(st, 0, sg->key_idx, &base)) ==
		    CM_E_NOTFOUND)
			return ca_fail(res, CA_E_CONFLICT, "no base CRL yet: "
			    "publish one with `certmint crl` first");
		if (rc != 0)
			return ca_fail(res, CA_E_INTERNAL, "cannot read the "
			    "CRL table");
		own = &base;
	}
	if (publish_one(ca, sg, ++*number, own, ca->cfg.delta_period,
	    ca->cfg.delta_overlap, &res->crls[res->ncrls], res) == -1)
		return -1;
	res->ncrls++;
	return 0;
}

int
ca_publish_crl(struct ca *ca, int delta_only, struct ca_result *res)
{
	struct store	*st;
	const struct signer *sg;
	char		 err[512];
	int64_t		 number;
	size_t		 i;
	int		 rc = -1;

	memset(res, 0, sizeof(*res));
	if (atomic_load(&ca->stopping))
		return ca_fail(res, CA_E_SHUTDOWN, "the CA is shutting down");
	pthread_mutex_lock(&ca->crl_mu);
	pthread_rwlock_rdlock(&ca->cfg_lock);
	if (delta_only && !ca->cfg.delta_enabled) {
		ca_fail(res, CA_E_CONFLICT, "delta CRLs are disabled ([crl] delta = "
		    "false)");
		goto out;
	}
	if ((res->crls = calloc(2 * (ca->signer.nolder + 1),
	    sizeof(*res->crls))) == NULL) {
		ca_fail(res, CA_E_INTERNAL, "out of memory");
		goto out;
	}
	if ((st = ca_reader(ca)) == NULL ||
	    store_max_crl_number(st, &number) != 0) {
		ca_fail(res, CA_E_INTERNAL, "cannot read the CRL table");
		goto out;
	}
	/*
	 * The current key's first (the schedule reads them), then each older
	 * key still valid: every certificate ever issued is on a fresh CRL.
	 */
	for (i = 0; i <= ca->signer.nolder; i++) {
		sg = i == 0 ? &ca->signer : &ca->signer.older[i - 1];
		if (publish_key(ca, st, sg, delta_only, &number, res) == -1)
			goto out;
	}
	rc = 0;
	/* The marker follows the CRL numbers (identity.c). */
	if (ca_identity_write(&ca->cfg, st, err, sizeof(err)) == -1)
		log_err("%s", err);
out:
	pthread_rwlock_unlock(&ca->cfg_lock);
	pthread_mutex_unlock(&ca->crl_mu);
	return rc;
}

int
ca_publish_first_crl(const char *config_path, char *err, size_t errlen)
{
	struct ca	*ca;
	struct ca_result res;
	int		 rc;

	if (ca_open(&ca, config_path, err, errlen) == -1)
		return -1;
	/*
	 * A sub CA's certificate, or a renewal's, is new to its database:
	 * its CRL's event sees it.
	 */
	if (ca_note_cacerts(ca->wstore, ca->signer.certs,
	    ca->signer.ncerts) != 0) {
		snprintf(err, errlen, "%s: cannot record the CA certificates",
		    ca->cfg.db_file);
		ca_close(ca);
		return -1;
	}
	if ((rc = ca_publish_crl(ca, 0, &res)) == -1)
		snprintf(err, errlen, "cannot publish the first CRL: %s",
		    res.error);
	ca_result_free(&res);
	ca_close(ca);
	return rc;
}
