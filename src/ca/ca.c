/*
 * ca.c - the certificate authority: submission (parse, policy, profile,
 * issue) and the steps every action shares (ca_int.h); open.c, officer.c
 * and revoke.c hold the rest. Each action reads with this thread's
 * connection, does its crypto outside any lock, and hands one job to the
 * writer, which makes it durable together with its event row.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ca_int.h"
#include "json.h"

#define ATTR_MAX	64
#define ATTR_VALUE_MAX	4096
/* The largest refused request whose bytes are kept (RawRequest). */
#define FAILED_RAW_MAX	8192
#define OID_COMMON_NAME	"2.5.4.3"

static const char *const stage_names[STAGE__MAX] = {
	[STAGE_PARSE] = "parse_verify",
	[STAGE_POLICY] = "policy",
	[STAGE_SIGN] = "build_sign",
	[STAGE_COMMIT] = "commit_wait",
	[STAGE_HTTP] = "http_total",
	[STAGE_WRITER_CPU] = "writer_cpu",
};

const char *
ca_stage_name(enum ca_stage s)
{
	return (unsigned)s < STAGE__MAX ? stage_names[s] : "?";
}

int64_t
clock_ns(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void
ca_timing_add(struct ca *ca, enum ca_stage s, int64_t ns)
{
	if ((unsigned)s < STAGE__MAX)
		atomic_fetch_add_explicit(&ca->ns[s], ns, memory_order_relaxed);
}

void
ca_timing_get(struct ca *ca, struct ca_timing *t)
{
	int	 i;

	memset(t, 0, sizeof(*t));
	t->submissions = atomic_load(&ca->timed);
	for (i = 0; i < STAGE__MAX; i++)
		t->ns[i] = atomic_load(&ca->ns[i]);
	if (ca->writer != NULL)
		writer_timing(ca->writer, &t->batches, &t->jobs,
		    &t->ns[STAGE_WRITER_CPU]);
}

static const char *const status_codes[CA_E__MAX] = {
	"ok", "bad_request", "not_found", "conflict", "denied", "too_large",
	"shutting_down", "internal"
};

const char *
ca_status_code(enum ca_status s)
{
	return (unsigned)s < CA_E__MAX ? status_codes[s] : "internal";
}

/*
 * Set res to an error; returns -1 so that callers can "return ca_fail(...)".
 */
int
ca_fail(struct ca_result *res, enum ca_status st, const char *fmt, ...)
{
	va_list	 ap;

	res->status = st;
	va_start(ap, fmt);
	vsnprintf(res->error, sizeof(res->error), fmt, ap);
	va_end(ap);
	return -1;
}

void
ca_result_free(struct ca_result *res)
{
	int	 i;

	if (res->has_request)
		db_request_free(&res->req);
	if (res->has_cert)
		db_cert_free(&res->cert);
	for (i = 0; i < res->ncrls; i++)
		db_crl_free(&res->crls[i]);
	free(res->crls);
	memset(res, 0, sizeof(*res));
}

/*
 * The time part of the ordered serial to issue now: the clock in ms, but
 * never below the last one issued, so that serials keep growing when the
 * wall clock steps back (NTP, a VM restored) instead of going back into
 * the database's serial index. Serials of one millisecond differ in their
 * 104 random bits.
 */
static uint64_t
serial_time(struct ca *ca)
{
	uint64_t	 now = time_now_ms(), last;

	last = atomic_load(&ca->serial_ms);
	while (now > last &&
	    !atomic_compare_exchange_weak(&ca->serial_ms, &last, now))
		;
	return now > last ? now : last;
}

static char *
dupnull(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

void *
ca_memdup(const void *p, size_t len)
{
	void	*q;

	if (p == NULL || len == 0)
		return NULL;
	if ((q = malloc(len)) == NULL)
		abort();
	memcpy(q, p, len);
	return q;
}

/*
 * Fill the certificate row from what cert_build reported.
 */
void
ca_cert_row_fill(struct db_cert *c, int64_t request_id, unsigned char *der,
    size_t len, const struct cert_info *info)
{
	memset(c, 0, sizeof(*c));
	c->request_id = request_id;
	c->serial = xstrdup(info->serial);
	c->raw = der;
	c->raw_len = len;
	c->not_before = info->not_before;
	c->not_after = info->not_after;
	c->subject_dn = dupnull(info->subject_dn);
	c->raw_name = ca_memdup(info->subject, info->subject_len);
	c->raw_name_len = info->subject_len;
	if (name_get(info->subject, info->subject_len, OID_COMMON_NAME,
	    &c->common_name) != 0)
		c->common_name = NULL;
	else {
		char *nl = strchr(c->common_name, '\n');
		if (nl != NULL)
			*nl = '\0';
	}
	c->public_key_algorithm = dupnull(info->pk_alg_oid);
	c->public_key_length = info->pk_bits;
	c->raw_public_key = ca_memdup(info->pubkey, info->pubkey_len);
	c->raw_public_key_len = info->pubkey_len;
	c->raw_public_key_params = ca_memdup(info->pk_params, info->pk_params_len);
	c->raw_public_key_params_len = info->pk_params_len;
	c->hash = xstrdup(info->hash);
	c->ski = dupnull(info->ski);
}

/*
 * Replace req's extensions with exts, each flagged with its criticality and
 * origin: request_origin when the request asked for it, other otherwise.
 */
void
ca_req_set_exts(struct db_request *req, const struct x509_ext *exts, size_t n,
    const struct csr *csr, int32_t request_origin, int32_t other)
{
	size_t	 i, k;
	int32_t	 origin;

	for (i = 0; i < req->nexts; i++) {
		free(req->exts[i].oid);
		free(req->exts[i].value);
	}
	free(req->exts);
	req->exts = xcalloc(n ? n : 1, sizeof(*req->exts));
	req->nexts = n;
	for (i = 0; i < n; i++) {
		origin = other;
		for (k = 0; csr != NULL && k < csr->nexts; k++)
			if (strcmp(csr->exts[k].oid, exts[i].oid) == 0)
				origin = request_origin;
		req->exts[i].oid = xstrdup(exts[i].oid);
		req->exts[i].flags = origin |
		    (exts[i].critical ? CM_EXTENSION_CRITICAL_FLAG : 0);
		req->exts[i].value = ca_memdup(exts[i].value, exts[i].len);
		req->exts[i].len = exts[i].len;
	}
}

void
ca_set_policy(struct ca *ca, const struct ca_policy_ops *ops)
{
	pthread_rwlock_wrlock(&ca->cfg_lock);
	if (ops != NULL)
		ca->policy = *ops;
	else
		memset(&ca->policy, 0, sizeof(ca->policy));
	pthread_rwlock_unlock(&ca->cfg_lock);
}

/*
 * Ask the active policy module about req, then apply the profile's rules;
 * the caller holds cfg_lock for reading. Returns 0 with d filled, or -1 on
 * an internal error.
 */
int
ca_policy_verify(struct ca *ca, const struct csr *csr,
    const struct db_request *req, int new_request, struct policy_decision *d)
{
	int	 rc;

	if (ca->policy.verify != NULL)
		rc = ca->policy.verify(ca->policy.arg, csr, req, new_request, d);
	else
		rc = policy_default_verify(&ca->cfg, &ca->signer, csr,
		    req->attrs, req->nattrs, new_request, d);
	return rc == 0 ? profile_enforce(&ca->signer, csr, d) : rc;
}

/*
 * Build and sign the certificate for csr as the policy decided. Returns 0
 * or -1.
 */
int
ca_issue_cert(struct ca *ca, const struct csr *csr,
    const struct policy_decision *d, struct db_request *req, struct db_cert *c)
{
	struct cert_template tpl;
	struct cert_info info;
	unsigned char	*der = NULL;
	size_t		 len;

	memset(&tpl, 0, sizeof(tpl));
	memset(&info, 0, sizeof(info));
	tpl.subject = d->subject != NULL ? d->subject : csr->subject;
	tpl.subject_len = d->subject != NULL ? d->subject_len :
	    csr->subject_len;
	tpl.spki = csr->spki;
	tpl.spki_len = csr->spki_len;
	tpl.sans = d->sans != NULL ? d->sans : csr->sans;
	tpl.nsans = d->sans != NULL ? d->nsans : csr->nsans;
	tpl.profile = d->profile;
	tpl.key_usage = d->key_usage;
	tpl.eku = d->eku;
	tpl.neku = d->neku;
	tpl.not_before = d->not_before;
	tpl.not_after = d->not_after;
	tpl.extra = d->extra;
	tpl.nextra = d->nextra;
	if ((ca->cfg.serials_random ? serial_generate_random(tpl.serial) :
	    serial_generate_at(tpl.serial, serial_time(ca))) == -1 ||
	    cert_build(&ca->signer, &tpl, &der, &len, &info) == -1) {
		log_err("request %" PRId64 ": cannot build the certificate", req->id);
		cert_info_free(&info);
		free(der);
		return -1;
	}
	ca_cert_row_fill(c, req->id, der, len, &info);
	c->ca_idx = ca->signer.cert_idx;
	ca_req_set_exts(req, info.exts, info.nexts, csr, CM_EXTENSION_ORIGIN_REQUEST,
	    CM_EXTENSION_ORIGIN_SERVER);
	cert_info_free(&info);
	return 0;
}

void
ca_req_set_message(struct db_request *req, const char *msg)
{
	free(req->disposition_message);
	req->disposition_message = xstrdup(msg);
}

/*
 * Hand job to the writer. For a job carrying a certificate, a serial that
 * already exists (2^-104 odds within a millisecond, but a CA must not
 * issue two) gets a fresh serial and a new signature. Returns the store's code.
 */
int
ca_run_job(struct ca *ca, struct wjob *job, const struct csr *csr,
    const struct policy_decision *d)
{
	int	 rc, tries;

	for (tries = 0; tries < 3; tries++) {
		rc = writer_run(ca->writer, job);
		if (rc != STORE_E_DUPLICATE || job->cert == NULL || csr == NULL)
			return rc;
		db_cert_free(job->cert);
		if (ca_issue_cert(ca, csr, d, job->req, job->cert) == -1)
			return CM_E_FAIL;
	}
	return rc;
}

int
ca_result_from_job(struct ca *ca, struct ca_result *res, int rc,
    struct db_request *req, struct db_cert *cert)
{
	if (rc != 0) {
		if (rc == STORE_E_CONFLICT)
			ca_fail(res, CA_E_CONFLICT, "request %" PRId64 " changed "
			    "while this action ran; try again", req->id);
		else if (atomic_load(&ca->stopping))
			ca_fail(res, CA_E_SHUTDOWN, "the CA is shutting down");
		else
			ca_fail(res, CA_E_INTERNAL, "the database refused the "
			    "change (see the daemon's log)");
		db_request_free(req);
		if (cert != NULL)
			db_cert_free(cert);
		return -1;
	}
	res->req = *req;
	res->has_request = 1;
	if (cert != NULL && cert->raw != NULL) {
		res->cert = *cert;
		res->has_cert = 1;
	}
	return 0;
}

/* The attributes certmint sets on a request itself, never a client. */
static const char *const reserved_attrs[] = {
	"RenewalOf", "AcmeAccount", "AcmeOrder", "AcmeIdentifiers",
	"AcmeDirectory",
};

const char *
ca_attr_reserved(const struct db_attr *attrs, size_t n)
{
	size_t	 i, k;

	for (i = 0; i < n; i++)
		for (k = 0; k < nitems(reserved_attrs); k++)
			if (attrs[i].name != NULL &&
			    attr_name_eq(attrs[i].name, reserved_attrs[k]))
				return reserved_attrs[k];
	return NULL;
}

int
ca_attrs_from_client(const struct db_attr *attrs, size_t n, char *err,
    size_t errlen)
{
	const char	*name;

	if ((name = ca_attr_reserved(attrs, n)) == NULL)
		return 0;
	snprintf(err, errlen, "request attribute \"%s\" is set by certmint "
	    "itself, not by a client", name);
	return -1;
}

/* A name of letters, digits, '.', '_' and '-'. */
static int
attr_name_ok(const char *s)
{
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && *s != '.' && *s != '_' &&
		    *s != '-')
			return 0;
	return 1;
}

/*
 * UTF-8 text without control characters: what modules get of a value
 * goes into mail, JSON, LDAP and "Name:Value" lines (RequestAttributes).
 */
static int
attr_value_ok(const char *s)
{
	const unsigned char *p;

	for (p = (const unsigned char *)s; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f)
			return 0;
	return utf8_valid((const unsigned char *)s, strlen(s));
}

/*
 * Check the request attributes and copy them into req. Returns 0, or -1
 * with res set and req left without attributes.
 */
static int
attrs_copy(struct db_request *req, const struct db_attr *attrs, size_t n,
    struct ca_result *res)
{
	size_t	 i, k;

	if (n > ATTR_MAX)
		return ca_fail(res, CA_E_BADREQ, "too many request attributes "
		    "(%zu, at most %d)", n, ATTR_MAX);
	for (i = 0; i < n; i++) {
		if (attrs[i].name == NULL || attrs[i].name[0] == '\0' ||
		    strlen(attrs[i].name) > 128 || attrs[i].value == NULL ||
		    strlen(attrs[i].value) > ATTR_VALUE_MAX)
			return ca_fail(res, CA_E_BADREQ, "request attribute %zu: "
			    "empty or too long name or value", i + 1);
		if (!attr_name_ok(attrs[i].name))
			return ca_fail(res, CA_E_BADREQ, "request attribute %zu: "
			    "a name is letters, digits, '.', '_' and '-'",
			    i + 1);
		if (!attr_value_ok(attrs[i].value))
			return ca_fail(res, CA_E_BADREQ, "request attribute "
			    "\"%s\": the value is not UTF-8 text without "
			    "control characters", attrs[i].name);
		for (k = 0; k < i; k++)
			if (attr_name_eq(attrs[k].name, attrs[i].name))
				return ca_fail(res, CA_E_BADREQ, "request attribute "
				    "\"%s\" given twice", attrs[i].name);
	}
	/* All valid: only now copied, so a refusal leaves req without any. */
	req->attrs = xcalloc(n ? n : 1, sizeof(*req->attrs));
	for (i = 0; i < n; i++) {
		req->attrs[i].name = xstrdup(attrs[i].name);
		req->attrs[i].value = xstrdup(attrs[i].value);
	}
	req->nattrs = n;
	return 0;
}

void
ca_req_new(struct ca *ca, struct db_request *req, const char *requester,
    const char *caller)
{
	memset(req, 0, sizeof(*req));
	req->id = atomic_fetch_add(&ca->next_id, 1);
	req->request_type = CR_IN_PKCS10;
	req->submitted_when = time_now();
	req->revoked_reason = -1;
	req->requester_name = xstrdup(requester != NULL ? requester : "");
	req->caller_name = xstrdup(caller != NULL ? caller : "");
}


/* A submission between ca_submit_start and ca_submit_finish. */
struct ca_pending {
	struct db_request req;
	struct db_cert	 cert;
	struct csr	 csr;
	struct policy_decision d;
	struct wjob	 job;
	int64_t		 queued;	/* clock_ns when handed to the writer */
	enum ca_status	 fail_status;	/* CA_OK, or a refusal being recorded */
	int		 counted;	/* in ca->inflight */
};

/*
 * Prepare the record of a refused submission in p (its request row, with
 * raw as RawRequest when not NULL, and a CERTDENIED event): a refusal is
 * recorded like any request. p->req must come from req_new.
 */
static void
failed_prepare(struct ca_pending *p, enum ca_status why, int32_t status,
    const char *message, const unsigned char *raw, size_t rawlen)
{
	/*
	 * A refused request is kept for the record, but not a big one: junk
	 * as large as max_body, sent in a loop, would otherwise fill the
	 * database (and its WAL) at that rate.
	 */
	if (raw != NULL && rawlen <= FAILED_RAW_MAX) {
		p->req.raw_request = ca_memdup(raw, rawlen);
		p->req.raw_request_len = rawlen;
	}
	p->req.disposition = CM_DISP_ERROR;
	p->req.status_code = status;
	p->req.resolved_when = p->req.submitted_when;
	ca_req_set_message(&p->req, message);
	p->job.kind = WJOB_INSERT;
	p->job.req = &p->req;
	p->job.event = CM_EXITEVENT_CERTDENIED;
	p->fail_status = why;
}

/*
 * A refused submission (too large, unreadable body, bad attributes):
 * prepare its record. Returns 1 with p ready for the writer, or -1 with
 * res set when the CA is stopping.
 */
static int
failed_start(struct ca *ca, enum ca_status why, const char *message,
    const char *requester, const char *caller, struct ca_pending *p,
    struct ca_result *res)
{
	memset(res, 0, sizeof(*res));
	memset(p, 0, sizeof(*p));
	if (atomic_load(&ca->stopping))
		return ca_fail(res, CA_E_SHUTDOWN, "the CA is shutting down");
	/* From here on p is prepared, and submit_complete ends it. */
	atomic_fetch_add_explicit(&ca->inflight, 1, memory_order_relaxed);
	p->counted = 1;
	ca_req_new(ca, &p->req, requester, caller);
	/* CA_E_DENIED: a REST client that could not authenticate. */
	failed_prepare(p, why, why == CA_E_TOOLARGE ? STATUS_TOO_LARGE :
	    why == CA_E_DENIED ? STATUS_POLICY_DENIED : STATUS_ASN1_ERROR,
	    message, NULL, 0);
	return 1;
}

/*
 * The part of a submission before its commit: parse and verify, run the
 * policy, build and sign, and fill p->job. Returns 1 when the job is ready
 * for the writer, or 0/-1 when the submission was completed (a refused
 * one, recorded) with res filled.
 */
static int
submit_prepare(struct ca *ca, const unsigned char *data, size_t len,
    struct csr *parsed, const struct db_attr *attrs, size_t nattrs,
    const char *requester, const char *caller, int hold,
    struct ca_pending *p, struct ca_result *res)
{
	struct db_request *req = &p->req;
	struct wjob	*job = &p->job;
	char		 err[256];
	int64_t		 t0, t1;
	int		 rc, ok;

	memset(res, 0, sizeof(*res));
	memset(p, 0, sizeof(*p));
	if (atomic_load(&ca->stopping))
		return ca_fail(res, CA_E_SHUTDOWN, "the CA is shutting down");
	/* From here on p is prepared, and submit_complete ends it. */
	atomic_fetch_add_explicit(&ca->inflight, 1, memory_order_relaxed);
	p->counted = 1;
	ca_req_new(ca, req, requester, caller);
	if (attrs_copy(req, attrs, nattrs, res) == -1) {
		/* Record the refusal, as for any unreadable submission. */
		failed_prepare(p, CA_E_BADREQ, STATUS_ASN1_ERROR, res->error,
		    NULL, 0);
		memset(res, 0, sizeof(*res));
		return 1;
	}
	job->kind = WJOB_INSERT;
	job->req = req;

	atomic_fetch_add_explicit(&ca->timed, 1, memory_order_relaxed);
	t0 = clock_ns();
	if (parsed != NULL) {
		/* Parsed and verified by the caller: taken as it is. */
		p->csr = *parsed;
		memset(parsed, 0, sizeof(*parsed));
		ok = 1;
	} else
		ok = csr_parse(data, len, &p->csr, err, sizeof(err)) == 0;
	t1 = clock_ns();
	ca_timing_add(ca, STAGE_PARSE, t1 - t0);
	if (!ok) {
		failed_prepare(p, CA_E_BADREQ, strstr(err, "signature") != NULL ?
		    STATUS_BAD_SIGNATURE : STATUS_ASN1_ERROR, err, data, len);
		return 1;
	}

	req->raw_request = ca_memdup(p->csr.der, p->csr.der_len);
	req->raw_request_len = p->csr.der_len;
	req->request_dn = xstrdup(p->csr.subject_dn);
	req->request_raw_name = ca_memdup(p->csr.subject, p->csr.subject_len);
	req->request_raw_name_len = p->csr.subject_len;
	ca_req_set_exts(req, p->csr.exts, p->csr.nexts, &p->csr,
	    CM_EXTENSION_ORIGIN_REQUEST, CM_EXTENSION_ORIGIN_REQUEST);

	pthread_rwlock_rdlock(&ca->cfg_lock);
	t0 = clock_ns();
	rc = ca_policy_verify(ca, &p->csr, req, 1, &p->d);
	t1 = clock_ns();
	ca_timing_add(ca, STAGE_POLICY, t1 - t0);
	if (rc == 0 && p->d.profile != NULL)
		req->profile = xstrdup(p->d.profile->name);
	/* [rest] anonymous = pending: an officer decides what policy issues. */
	if (rc == 0 && hold && p->d.vr == CM_VR_INSTANT_OK) {
		p->d.vr = CM_VR_PENDING;
		snprintf(p->d.message, sizeof(p->d.message), "Taken Under "
		    "Submission (anonymous: an officer decides)");
	}
	if (rc == 0 && p->d.vr == CM_VR_INSTANT_OK) {
		t0 = clock_ns();
		if (ca_issue_cert(ca, &p->csr, &p->d, req, &p->cert) == -1)
			rc = -1;
		ca_timing_add(ca, STAGE_SIGN, clock_ns() - t0);
		if (rc == 0) {
			req->disposition = CM_DISP_ISSUED;
			/* A policy module may word it; else AD CS's. */
			req->disposition_message = xstrdup(p->d.message[0] !=
			    '\0' ? p->d.message : "Issued");
			req->resolved_when = time_now();
			job->cert = &p->cert;
			job->event = CM_EXITEVENT_CERTISSUED;
		}
	} else if (rc == 0 && p->d.vr == CM_VR_PENDING) {
		req->disposition = CM_DISP_PENDING;
		req->disposition_message = xstrdup(p->d.message);
		req->was_pending = 1;
		job->event = CM_EXITEVENT_CERTPENDING;
	} else if (rc == 0) {
		req->disposition = CM_DISP_DENIED;
		req->status_code = p->d.status != 0 ? p->d.status :
		    STATUS_POLICY_DENIED;
		req->disposition_message = xstrdup(p->d.message);
		req->resolved_when = time_now();
		job->event = CM_EXITEVENT_CERTDENIED;
	}
	pthread_rwlock_unlock(&ca->cfg_lock);
	if (rc == -1) {
		/* Keep a record: the request arrived, the CA failed it. */
		req->disposition = CM_DISP_ERROR;
		req->status_code = STATUS_INTERNAL;
		ca_req_set_message(req, "internal error while issuing");
		req->resolved_when = time_now();
		job->cert = NULL;
		job->event = CM_EXITEVENT_CERTDENIED;
		db_cert_free(&p->cert);
	}
	return 1;
}

/*
 * The part after the commit: p->job.rc is the writer's answer. A serial
 * that was already in the database (2^-104 odds per millisecond) is issued
 * again with a new one, waiting for the writer this time. Frees what p
 * holds but not p. Returns 0, or -1 with res set.
 */
static int
submit_complete(struct ca *ca, struct ca_pending *p, struct ca_result *res)
{
	int	 rc = p->job.rc;

	if (p->counted) {
		atomic_fetch_sub_explicit(&ca->inflight, 1,
		    memory_order_relaxed);
		p->counted = 0;
	}

	ca_timing_add(ca, STAGE_COMMIT, clock_ns() - p->queued);
	if (rc == STORE_E_DUPLICATE && p->job.cert != NULL) {
		pthread_rwlock_rdlock(&ca->cfg_lock);
		db_cert_free(p->job.cert);
		/* A reload since the decision freed the profile it named. */
		p->d.profile = profile_find(&ca->cfg, p->req.profile);
		if (p->d.profile == NULL ||
		    ca_issue_cert(ca, &p->csr, &p->d, &p->req, p->job.cert) == -1)
			rc = CM_E_FAIL;
		else
			rc = ca_run_job(ca, &p->job, &p->csr, &p->d);
		pthread_rwlock_unlock(&ca->cfg_lock);
	}
	csr_free(&p->csr);
	policy_decision_free(&p->d);
	if (ca_result_from_job(ca, res, rc, &p->req, p->job.cert) == -1)
		return -1;
	if (p->fail_status != CA_OK)
		return ca_fail(res, p->fail_status, "%s",
		    res->req.disposition_message);
	if (res->req.disposition == CM_DISP_DENIED)
		return ca_fail(res, CA_E_DENIED, "%s", res->req.disposition_message);
	if (res->req.disposition == CM_DISP_ERROR)
		return ca_fail(res, CA_E_INTERNAL, "%s", res->req.disposition_message);
	return 0;
}

int
ca_inflight(struct ca *ca)
{
	return atomic_load_explicit(&ca->inflight, memory_order_relaxed);
}

static int
submit_now(struct ca *ca, const unsigned char *data, size_t len,
    struct csr *parsed, const struct db_attr *attrs, size_t nattrs,
    const char *requester, const char *caller,
    const struct ca_txn_hook *also, struct ca_result *res)
{
	struct ca_pending p;
	int		 rc;

	if ((rc = submit_prepare(ca, data, len, parsed, attrs, nattrs,
	    requester, caller, 0, &p, res)) != 1)
		return rc;
	p.job.also = also;
	p.queued = clock_ns();
	p.job.rc = writer_run(ca->writer, &p.job);
	return submit_complete(ca, &p, res);
}

int
ca_submit(struct ca *ca, const unsigned char *data, size_t len,
    const struct db_attr *attrs, size_t nattrs, const char *requester,
    const char *caller, struct ca_result *res)
{
	return submit_now(ca, data, len, NULL, attrs, nattrs, requester,
	    caller, NULL, res);
}

int
ca_submit_csr(struct ca *ca, struct csr *csr, const struct db_attr *attrs,
    size_t nattrs, const char *requester, const char *caller,
    const struct ca_txn_hook *also, struct ca_result *res)
{
	return submit_now(ca, csr->der, csr->der_len, csr, attrs, nattrs,
	    requester, caller, also, res);
}

int
ca_submit_failed_start(struct ca *ca, enum ca_status why, const char *message,
    const char *requester, const char *caller, struct ca_pending **pending,
    struct ca_result *res)
{
	struct ca_pending *p;

	*pending = NULL;
	if ((p = malloc(sizeof(*p))) == NULL) {
		memset(res, 0, sizeof(*res));
		return ca_fail(res, CA_E_INTERNAL, "out of memory");
	}
	if (failed_start(ca, why, message, requester, caller, p, res) != 1) {
		free(p);
		return -1;
	}
	*pending = p;
	return 1;
}

int
ca_submit_start(struct ca *ca, const unsigned char *data, size_t len,
    const struct db_attr *attrs, size_t nattrs, const char *requester,
    const char *caller, struct ca_pending **pending, struct ca_result *res)
{
	return ca_submit_start_hold(ca, data, len, attrs, nattrs, requester,
	    caller, 0, pending, res);
}

int
ca_submit_start_hold(struct ca *ca, const unsigned char *data, size_t len,
    const struct db_attr *attrs, size_t nattrs, const char *requester,
    const char *caller, int hold, struct ca_pending **pending,
    struct ca_result *res)
{
	struct ca_pending *p;
	int		 rc;

	*pending = NULL;
	if ((p = malloc(sizeof(*p))) == NULL) {
		memset(res, 0, sizeof(*res));
		return ca_fail(res, CA_E_INTERNAL, "out of memory");
	}
	if ((rc = submit_prepare(ca, data, len, NULL, attrs, nattrs, requester,
	    caller, hold, p, res)) != 1) {
		free(p);
		return rc;
	}
	*pending = p;
	return 1;
}

int
ca_submit_queue(struct ca *ca, struct ca_pending *p, void (*done)(void *),
    void *arg)
{
	p->job.done = done;
	p->job.done_arg = arg;
	p->queued = clock_ns();
	if (writer_submit(ca->writer, &p->job) == -1) {
		p->job.rc = CM_E_FAIL;
		return -1;
	}
	return 0;
}

int
ca_submit_finish(struct ca *ca, struct ca_pending *p, struct ca_result *res)
{
	int	 rc;

	memset(res, 0, sizeof(*res));
	rc = submit_complete(ca, p, res);
	free(p);
	return rc;
}

/*
 * Read request id into req with this thread's connection. Returns 0, or -1
 * with res set.
 */
int
ca_load_request(struct ca *ca, int64_t id, struct db_request *req,
    struct ca_result *res)
{
	struct store	*st;
	int		 rc;

	if ((st = ca_reader(ca)) == NULL)
		return ca_fail(res, CA_E_INTERNAL, "cannot open the database");
	rc = store_request_get(st, id, req);
	if (rc == CM_E_NOTFOUND)
		return ca_fail(res, CA_E_NOTFOUND, "request %" PRId64 " not found", id);
	if (rc != 0)
		return ca_fail(res, CA_E_INTERNAL, "cannot read request %" PRId64, id);
	return 0;
}

/*
 * Attach the stored certificate of req (if any) to res. Its bytes must be
 * those recorded (their SHA-256, CertificateHash): a damaged row is never
 * handed out as a certificate. 0, or -1 (res says why).
 */
static int
load_cert(struct ca *ca, struct ca_result *res)
{
	struct store	*st = ca_reader(ca);
	char		 h[65];

	if (st == NULL || store_cert_get(st, res->req.id, &res->cert) != 0)
		return 0;
	if (res->cert.hash != NULL && res->cert.hash[0] != '\0' &&
	    (sha256_hex(res->cert.raw, res->cert.raw_len, h) == -1 ||
	    strcasecmp(h, res->cert.hash) != 0)) {
		log_err("request %" PRId64 ": the certificate stored is "
		    "damaged (its SHA-256 is not the one recorded); restore "
		    "the database from a backup", res->req.id);
		db_cert_free(&res->cert);
		return ca_fail(res, CA_E_INTERNAL, "the certificate of request "
		    "%" PRId64 " is damaged in the database: restore it from a "
		    "backup", res->req.id);
	}
	res->has_cert = 1;
	return 0;
}

int
ca_get(struct ca *ca, int64_t id, struct ca_result *res)
{
	memset(res, 0, sizeof(*res));
	if (ca_load_request(ca, id, &res->req, res) == -1)
		return -1;
	res->has_request = 1;
	return load_cert(ca, res);
}

int
ca_record_event(struct ca *ca, int32_t event, int64_t context)
{
	struct wjob	 job = { 0 };

	if (ca->writer == NULL)
		return -1;
	job.kind = WJOB_EVENT;
	job.event = event;
	job.context = context;
	return writer_run(ca->writer, &job) == 0 ? 0 : -1;
}

int
ca_write(struct ca *ca, int (*fn)(struct store *, void *), void *arg)
{
	struct wjob	 job = { 0 };

	/*
	 * Only the writer thread uses the writer's connection: modules load
	 * after ca_start_writer, so no write goes around it.
	 */
	if (ca->writer == NULL)
		return CM_E_FAIL;
	job.kind = WJOB_FUNC;
	job.fn = fn;
	job.fn_arg = arg;
	return writer_run(ca->writer, &job);
}
