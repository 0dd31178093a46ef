/*
 * ca.c - the certificate authority: opening, the request lifecycle (submit,
 * resubmit, deny, retrieve, import), revocation and CRL publication. Each
 * action reads with this thread's connection, does its crypto outside any
 * lock, and hands one job to the writer, which makes it durable together
 * with its event row.
 */
#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ca.h"
#include "json.h"

#define ATTR_MAX	64
#define ATTR_VALUE_MAX	4096
/* The largest refused request whose bytes are kept (RawRequest). */
#define FAILED_RAW_MAX	8192
#define OID_COMMON_NAME	"2.5.4.3"

struct reader_slot {
	struct store		*st;
	struct reader_slot	*next;
};

struct ca {
	char		*config_path;
	pthread_rwlock_t cfg_lock;	/* cfg and signer: read by actions, swapped by reload */
	struct cm_config cfg;
	struct signer	 signer;
	pthread_mutex_t	 reload_mu;	/* one reload at a time, begin to end */
	struct cm_config old_cfg;	/* between ca_reload_begin and _end */
	struct signer	 old_signer;
	struct store	*wstore;	/* the writer's connection */
	struct writer	*writer;
	pthread_key_t	 reader_key;
	pthread_mutex_t	 readers_mu;
	struct reader_slot *readers;	/* every reader connection, closed by ca_close */
	pthread_mutex_t	 crl_mu;	/* one CRL publication at a time */
	atomic_int_fast64_t next_id;
	atomic_uint_fast64_t serial_ms;	/* time part of the last ordered serial */
	atomic_int	 stopping;
	pthread_mutex_t	 hook_mu;	/* hook, hook_arg: set while the writer runs */
	ca_commit_hook	 hook;
	void		*hook_arg;
	int64_t		 started;
	struct ca_policy_ops policy;	/* verify NULL: the built-in policy */
	atomic_int_fast64_t timed;	/* submissions in ns[] */
	atomic_int_fast64_t ns[STAGE__MAX];
};

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

static int
fail(struct ca_result *res, enum ca_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Set res to an error; returns -1 so that callers can "return fail(...)".
 */
static int
fail(struct ca_result *res, enum ca_status st, const char *fmt, ...)
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

/*
 * Start serial_time from the newest ordered serial in the database, so
 * that a restart with the clock behind does not go back either. A time
 * more than a year ahead of the clock was not made by this CA's clock (a
 * random serial that happens to start with 0x01, an import): ignored.
 * Returns 0 or -1.
 */
static int
serial_time_load(struct ca *ca)
{
	char		 hex[64], part[13];
	uint64_t	 ms;
	int64_t		 now = time_now();

	if (store_max_ordered_serial(ca->wstore, hex, sizeof(hex)) != 0)
		return -1;
	if (strlen(hex) != SERIAL_LEN * 2)
		return 0;
	memcpy(part, hex + 2, 12);
	part[12] = '\0';
	ms = strtoull(part, NULL, 16);
	if (ms / 1000u > (uint64_t)now + 366 * 86400)
		return 0;
	atomic_store(&ca->serial_ms, ms);
	return 0;
}

int
ca_open(struct ca **out, const char *config_path, char *err, size_t errlen)
{
	struct ca	*ca;
	int64_t		 maxid;

	*out = NULL;
	if ((ca = calloc(1, sizeof(*ca))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	pthread_rwlock_init(&ca->cfg_lock, NULL);
	pthread_mutex_init(&ca->reload_mu, NULL);
	pthread_mutex_init(&ca->readers_mu, NULL);
	pthread_mutex_init(&ca->crl_mu, NULL);
	pthread_mutex_init(&ca->hook_mu, NULL);
	pthread_key_create(&ca->reader_key, NULL);
	if ((ca->config_path = strdup(config_path)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (config_load(config_path, &ca->cfg, err, errlen) == -1)
		goto fail;
	if (signer_load(&ca->signer, &ca->cfg, err, errlen) == -1)
		goto fail;
	if ((ca->wstore = store_open(ca->cfg.db_file, STORE_CREATE, err,
	    errlen)) == NULL)
		goto fail;
	if (store_max_request_id(ca->wstore, &maxid) != 0) {
		snprintf(err, errlen, "%s: cannot read the request table",
		    ca->cfg.db_file);
		goto fail;
	}
	atomic_store(&ca->next_id, maxid + 1);
	if (serial_time_load(ca) == -1) {
		snprintf(err, errlen, "%s: cannot read the certificate table",
		    ca->cfg.db_file);
		goto fail;
	}
	*out = ca;
	return 0;
fail:
	ca_close(ca);
	return -1;
}

/*
 * The writer's commit hook: call the one set by ca_set_commit_hook, under
 * hook_mu, so that once ca_set_commit_hook(NULL) has returned no call into
 * the old hook is under way.
 */
static void
ca_on_commit(void *arg, int64_t seq)
{
	struct ca	*ca = arg;

	pthread_mutex_lock(&ca->hook_mu);
	if (ca->hook != NULL)
		ca->hook(ca->hook_arg, seq);
	pthread_mutex_unlock(&ca->hook_mu);
}

static void	*memdup(const void *, size_t);

struct cacert_note {
	unsigned char	*der;
	size_t		 len;
	int		 idx;
};

static int
write_cacert(struct store *st, void *arg)
{
	struct cacert_note *n = arg;

	return store_cacert_note(st, n->der, n->len, &n->idx);
}

/*
 * Record the CA certificate in use, if new, so that exit modules read the
 * one of their event's time (RawCACertificate, CertCount).
 */
static int
note_cacert(struct ca *ca)
{
	struct cacert_note n = { NULL, 0, 0 };
	int		 rc;

	pthread_rwlock_rdlock(&ca->cfg_lock);
	n.len = ca->signer.cert_der_len;
	n.der = memdup(ca->signer.cert_der, n.len);
	pthread_rwlock_unlock(&ca->cfg_lock);
	if (n.der == NULL)
		return -1;
	if ((rc = ca_write(ca, write_cacert, &n)) != 0)
		log_err("cannot record the CA certificate: error %d", rc);
	free(n.der);
	return rc == 0 ? 0 : -1;
}

int
ca_start_writer(struct ca *ca)
{
	if (ca->writer != NULL)
		return 0;
	ca->started = time_now();
	if ((ca->writer = writer_start(ca->wstore, ca_on_commit, ca)) == NULL) {
		log_err("cannot start the writer thread");
		return -1;
	}
	return note_cacert(ca);
}

int
ca_start(struct ca *ca)
{
	if (ca_start_writer(ca) == -1)
		return -1;
	return ca_record_event(ca, CM_EXITEVENT_STARTUP, 0);
}

/*
 * Refuse new actions and record SHUTDOWN. The writer keeps running until
 * ca_close, so that the exit host can still record delivery state.
 */
void
ca_stop(struct ca *ca)
{
	if (ca->writer == NULL || atomic_exchange(&ca->stopping, 1))
		return;
	if (ca_record_event(ca, CM_EXITEVENT_SHUTDOWN, 0) != 0)
		log_err("cannot record the SHUTDOWN event");
}

void
ca_close(struct ca *ca)
{
	struct reader_slot *r, *next;

	if (ca == NULL)
		return;
	ca_stop(ca);
	writer_stop(ca->writer);
	ca->writer = NULL;
	for (r = ca->readers; r != NULL; r = next) {
		next = r->next;
		store_close(r->st);
		free(r);
	}
	if (ca->wstore != NULL)
		store_close(ca->wstore);
	signer_free(&ca->signer);
	config_free(&ca->cfg);
	free(ca->config_path);
	pthread_key_delete(ca->reader_key);
	pthread_rwlock_destroy(&ca->cfg_lock);
	pthread_mutex_destroy(&ca->reload_mu);
	pthread_mutex_destroy(&ca->readers_mu);
	pthread_mutex_destroy(&ca->crl_mu);
	pthread_mutex_destroy(&ca->hook_mu);
	free(ca);
}

/*
 * Switch to the reread config file but keep the running one until
 * ca_reload_end, so that what must load under the new one (the policy
 * module) can still undo the switch. Reloads are serialized from begin to
 * end. Returns 0, or -1 with a message in err and nothing changed.
 */
int
ca_reload_begin(struct ca *ca, char *err, size_t errlen)
{
	struct cm_config cfg;
	struct signer	 sg;

	memset(&sg, 0, sizeof(sg));
	pthread_mutex_lock(&ca->reload_mu);
	if (config_load(ca->config_path, &cfg, err, errlen) == -1) {
		pthread_mutex_unlock(&ca->reload_mu);
		return -1;
	}
	if (signer_load(&sg, &cfg, err, errlen) == -1) {
		config_free(&cfg);
		pthread_mutex_unlock(&ca->reload_mu);
		return -1;
	}
	pthread_rwlock_wrlock(&ca->cfg_lock);
	ca->old_cfg = ca->cfg;
	ca->old_signer = ca->signer;
	ca->cfg = cfg;
	ca->signer = sg;
	pthread_rwlock_unlock(&ca->cfg_lock);
	return 0;
}

/* Keep the new config (revert 0) or go back to the old one (revert 1). */
void
ca_reload_end(struct ca *ca, int revert)
{
	struct cm_config cfg;
	struct signer	 sg;

	pthread_rwlock_wrlock(&ca->cfg_lock);
	if (revert) {
		cfg = ca->cfg;
		sg = ca->signer;
		ca->cfg = ca->old_cfg;
		ca->signer = ca->old_signer;
	} else {
		cfg = ca->old_cfg;
		sg = ca->old_signer;
	}
	config_free(&cfg);
	signer_free(&sg);
	pthread_rwlock_unlock(&ca->cfg_lock);
	if (!revert && ca->writer != NULL)
		note_cacert(ca);
	pthread_mutex_unlock(&ca->reload_mu);
}

int
ca_reload(struct ca *ca, char *err, size_t errlen)
{
	if (ca_reload_begin(ca, err, errlen) == -1)
		return -1;
	ca_reload_end(ca, 0);
	return 0;
}

void
ca_set_commit_hook(struct ca *ca, ca_commit_hook hook, void *arg)
{
	pthread_mutex_lock(&ca->hook_mu);
	ca->hook_arg = arg;
	ca->hook = hook;
	pthread_mutex_unlock(&ca->hook_mu);
}

const struct cm_config *
ca_config(struct ca *ca)
{
	return &ca->cfg;
}

void
ca_config_lock(struct ca *ca)
{
	pthread_rwlock_rdlock(&ca->cfg_lock);
}

void
ca_config_unlock(struct ca *ca)
{
	pthread_rwlock_unlock(&ca->cfg_lock);
}

size_t
ca_max_body(struct ca *ca)
{
	size_t	 n;

	pthread_rwlock_rdlock(&ca->cfg_lock);
	n = ca->cfg.max_body;
	pthread_rwlock_unlock(&ca->cfg_lock);
	return n;
}

char *
ca_config_value(struct ca *ca, const char *section, const char *key)
{
	const char	*v;
	char		*copy = NULL;

	pthread_rwlock_rdlock(&ca->cfg_lock);
	if ((v = config_get(&ca->cfg, section, key)) != NULL)
		copy = strdup(v);
	pthread_rwlock_unlock(&ca->cfg_lock);
	return copy;
}

const struct signer *
ca_signer(struct ca *ca)
{
	return &ca->signer;
}

int64_t
ca_start_time(struct ca *ca)
{
	return ca->started;
}

struct store *
ca_reader(struct ca *ca)
{
	struct reader_slot *slot;
	char		 err[256];

	if ((slot = pthread_getspecific(ca->reader_key)) != NULL)
		return slot->st;
	if ((slot = calloc(1, sizeof(*slot))) == NULL)
		return NULL;
	if ((slot->st = store_open(ca->cfg.db_file, 0, err, sizeof(err))) == NULL) {
		log_err("%s", err);
		free(slot);
		return NULL;
	}
	pthread_mutex_lock(&ca->readers_mu);
	slot->next = ca->readers;
	ca->readers = slot;
	pthread_mutex_unlock(&ca->readers_mu);
	pthread_setspecific(ca->reader_key, slot);
	return slot->st;
}

static char *
dupnull(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

static void *
memdup(const void *p, size_t len)
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
static void
cert_row_fill(struct db_cert *c, int64_t request_id, unsigned char *der,
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
	c->raw_name = memdup(info->subject, info->subject_len);
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
	c->raw_public_key = memdup(info->pubkey, info->pubkey_len);
	c->raw_public_key_len = info->pubkey_len;
	c->raw_public_key_params = memdup(info->pk_params, info->pk_params_len);
	c->raw_public_key_params_len = info->pk_params_len;
	c->hash = xstrdup(info->hash);
	c->ski = dupnull(info->ski);
}

/*
 * Replace req's extensions with exts, each flagged with its criticality and
 * origin: request_origin when the request asked for it, other otherwise.
 */
static void
req_set_exts(struct db_request *req, const struct x509_ext *exts, size_t n,
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
		req->exts[i].value = memdup(exts[i].value, exts[i].len);
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
static int
policy_verify(struct ca *ca, const struct csr *csr,
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
static int
issue_cert(struct ca *ca, const struct csr *csr,
    const struct policy_decision *d, struct db_request *req, struct db_cert *c)
{
	struct cert_template tpl;
	struct cert_info info;
	unsigned char	*der = NULL;
	size_t		 len;

	memset(&tpl, 0, sizeof(tpl));
	memset(&info, 0, sizeof(info));
	tpl.subject = csr->subject;
	tpl.subject_len = csr->subject_len;
	tpl.spki = csr->spki;
	tpl.spki_len = csr->spki_len;
	tpl.sans = d->sans != NULL ? d->sans : csr->sans;
	tpl.nsans = d->sans != NULL ? d->nsans : csr->nsans;
	tpl.profile = d->profile;
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
	cert_row_fill(c, req->id, der, len, &info);
	req_set_exts(req, info.exts, info.nexts, csr, CM_EXTENSION_ORIGIN_REQUEST,
	    CM_EXTENSION_ORIGIN_SERVER);
	cert_info_free(&info);
	return 0;
}

static void
req_set_message(struct db_request *req, const char *msg)
{
	free(req->disposition_message);
	req->disposition_message = xstrdup(msg);
}

/*
 * Hand job to the writer. For a job carrying a certificate, a serial that
 * already exists (2^-104 odds within a millisecond, but a CA must not
 * issue two) gets a fresh serial and a new signature. Returns the store's code.
 */
static int
run_job(struct ca *ca, struct wjob *job, const struct csr *csr,
    const struct policy_decision *d)
{
	int	 rc, tries;

	for (tries = 0; tries < 3; tries++) {
		rc = writer_run(ca->writer, job);
		if (rc != STORE_E_DUPLICATE || job->cert == NULL || csr == NULL)
			return rc;
		db_cert_free(job->cert);
		if (issue_cert(ca, csr, d, job->req, job->cert) == -1)
			return CM_E_FAIL;
	}
	return rc;
}

static int
result_from_job(struct ca *ca, struct ca_result *res, int rc,
    struct db_request *req, struct db_cert *cert)
{
	if (rc != 0) {
		if (rc == STORE_E_CONFLICT)
			fail(res, CA_E_CONFLICT, "request %" PRId64 " changed "
			    "while this action ran; try again", req->id);
		else if (atomic_load(&ca->stopping))
			fail(res, CA_E_SHUTDOWN, "the CA is shutting down");
		else
			fail(res, CA_E_INTERNAL, "the database refused the "
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
		return fail(res, CA_E_BADREQ, "too many request attributes "
		    "(%zu, at most %d)", n, ATTR_MAX);
	for (i = 0; i < n; i++) {
		if (attrs[i].name == NULL || attrs[i].name[0] == '\0' ||
		    strlen(attrs[i].name) > 128 || attrs[i].value == NULL ||
		    strlen(attrs[i].value) > ATTR_VALUE_MAX)
			return fail(res, CA_E_BADREQ, "request attribute %zu: "
			    "empty or too long name or value", i + 1);
		for (k = 0; k < i; k++)
			if (attr_name_eq(attrs[k].name, attrs[i].name))
				return fail(res, CA_E_BADREQ, "request attribute "
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

static void
req_new(struct ca *ca, struct db_request *req, const char *requester,
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
		p->req.raw_request = memdup(raw, rawlen);
		p->req.raw_request_len = rawlen;
	}
	p->req.disposition = CM_DISP_ERROR;
	p->req.status_code = status;
	p->req.resolved_when = p->req.submitted_when;
	req_set_message(&p->req, message);
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
		return fail(res, CA_E_SHUTDOWN, "the CA is shutting down");
	req_new(ca, &p->req, requester, caller);
	failed_prepare(p, why, why == CA_E_TOOLARGE ? STATUS_TOO_LARGE :
	    STATUS_ASN1_ERROR, message, NULL, 0);
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
    const struct db_attr *attrs, size_t nattrs, const char *requester,
    const char *caller, struct ca_pending *p, struct ca_result *res)
{
	struct db_request *req = &p->req;
	struct wjob	*job = &p->job;
	char		 err[256];
	int64_t		 t0, t1;
	int		 rc, parsed;

	memset(res, 0, sizeof(*res));
	memset(p, 0, sizeof(*p));
	if (atomic_load(&ca->stopping))
		return fail(res, CA_E_SHUTDOWN, "the CA is shutting down");
	req_new(ca, req, requester, caller);
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
	parsed = csr_parse(data, len, &p->csr, err, sizeof(err)) == 0;
	t1 = clock_ns();
	ca_timing_add(ca, STAGE_PARSE, t1 - t0);
	if (!parsed) {
		failed_prepare(p, CA_E_BADREQ, strstr(err, "signature") != NULL ?
		    STATUS_BAD_SIGNATURE : STATUS_ASN1_ERROR, err, data, len);
		return 1;
	}

	req->raw_request = memdup(p->csr.der, p->csr.der_len);
	req->raw_request_len = p->csr.der_len;
	req->request_dn = xstrdup(p->csr.subject_dn);
	req->request_raw_name = memdup(p->csr.subject, p->csr.subject_len);
	req->request_raw_name_len = p->csr.subject_len;
	req_set_exts(req, p->csr.exts, p->csr.nexts, &p->csr,
	    CM_EXTENSION_ORIGIN_REQUEST, CM_EXTENSION_ORIGIN_REQUEST);

	pthread_rwlock_rdlock(&ca->cfg_lock);
	t0 = clock_ns();
	rc = policy_verify(ca, &p->csr, req, 1, &p->d);
	t1 = clock_ns();
	ca_timing_add(ca, STAGE_POLICY, t1 - t0);
	if (rc == 0)
		req->profile = xstrdup(profile_name(p->d.profile));
	if (rc == 0 && p->d.vr == CM_VR_INSTANT_OK) {
		t0 = clock_ns();
		if (issue_cert(ca, &p->csr, &p->d, req, &p->cert) == -1)
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
		req->status_code = STATUS_POLICY_DENIED;
		req->disposition_message = xstrdup(p->d.message);
		req->resolved_when = time_now();
		job->event = CM_EXITEVENT_CERTDENIED;
	}
	pthread_rwlock_unlock(&ca->cfg_lock);
	if (rc == -1) {
		/* Keep a record: the request arrived, the CA failed it. */
		req->disposition = CM_DISP_ERROR;
		req->status_code = STATUS_INTERNAL;
		req_set_message(req, "internal error while issuing");
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

	ca_timing_add(ca, STAGE_COMMIT, clock_ns() - p->queued);
	if (rc == STORE_E_DUPLICATE && p->job.cert != NULL) {
		pthread_rwlock_rdlock(&ca->cfg_lock);
		db_cert_free(p->job.cert);
		if (issue_cert(ca, &p->csr, &p->d, &p->req, p->job.cert) == -1)
			rc = CM_E_FAIL;
		else
			rc = run_job(ca, &p->job, &p->csr, &p->d);
		pthread_rwlock_unlock(&ca->cfg_lock);
	}
	csr_free(&p->csr);
	policy_decision_free(&p->d);
	if (result_from_job(ca, res, rc, &p->req, p->job.cert) == -1)
		return -1;
	if (p->fail_status != CA_OK)
		return fail(res, p->fail_status, "%s",
		    res->req.disposition_message);
	if (res->req.disposition == CM_DISP_DENIED)
		return fail(res, CA_E_DENIED, "%s", res->req.disposition_message);
	if (res->req.disposition == CM_DISP_ERROR)
		return fail(res, CA_E_INTERNAL, "%s", res->req.disposition_message);
	return 0;
}

int
ca_submit(struct ca *ca, const unsigned char *data, size_t len,
    const struct db_attr *attrs, size_t nattrs, const char *requester,
    const char *caller, struct ca_result *res)
{
	struct ca_pending p;
	int		 rc;

	if ((rc = submit_prepare(ca, data, len, attrs, nattrs, requester,
	    caller, &p, res)) != 1)
		return rc;
	p.queued = clock_ns();
	p.job.rc = writer_run(ca->writer, &p.job);
	return submit_complete(ca, &p, res);
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
		return fail(res, CA_E_INTERNAL, "out of memory");
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
	struct ca_pending *p;
	int		 rc;

	*pending = NULL;
	if ((p = malloc(sizeof(*p))) == NULL) {
		memset(res, 0, sizeof(*res));
		return fail(res, CA_E_INTERNAL, "out of memory");
	}
	if ((rc = submit_prepare(ca, data, len, attrs, nattrs, requester,
	    caller, p, res)) != 1) {
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
static int
load_request(struct ca *ca, int64_t id, struct db_request *req,
    struct ca_result *res)
{
	struct store	*st;
	int		 rc;

	if ((st = ca_reader(ca)) == NULL)
		return fail(res, CA_E_INTERNAL, "cannot open the database");
	rc = store_request_get(st, id, req);
	if (rc == CM_E_NOTFOUND)
		return fail(res, CA_E_NOTFOUND, "request %" PRId64 " not found", id);
	if (rc != 0)
		return fail(res, CA_E_INTERNAL, "cannot read request %" PRId64, id);
	return 0;
}

/*
 * Attach the stored certificate of req (if any) to res.
 */
static void
load_cert(struct ca *ca, struct ca_result *res)
{
	struct store	*st = ca_reader(ca);

	if (st != NULL && store_cert_get(st, res->req.id, &res->cert) == 0)
		res->has_cert = 1;
}

int
ca_get(struct ca *ca, int64_t id, struct ca_result *res)
{
	memset(res, 0, sizeof(*res));
	if (load_request(ca, id, &res->req, res) == -1)
		return -1;
	res->has_request = 1;
	load_cert(ca, res);
	return 0;
}

int
ca_resubmit(struct ca *ca, int64_t id, const char *officer,
    struct ca_result *res)
{
	struct db_request req;
	struct db_cert	 cert;
	struct csr	 csr;
	struct policy_decision d;
	struct wjob	 job = { 0 };
	char		 err[256], msg[300];
	int		 rc;

	memset(res, 0, sizeof(*res));
	memset(&cert, 0, sizeof(cert));
	memset(&csr, 0, sizeof(csr));
	memset(&d, 0, sizeof(d));
	if (atomic_load(&ca->stopping))
		return fail(res, CA_E_SHUTDOWN, "the CA is shutting down");
	if (load_request(ca, id, &req, res) == -1)
		return -1;
	if (req.disposition != CM_DISP_PENDING &&
	    req.disposition != CM_DISP_DENIED) {
		fail(res, CA_E_CONFLICT, "request %" PRId64 " is %s: only pending "
		    "or denied requests can be resubmitted", id,
		    disposition_name(req.disposition));
		db_request_free(&req);
		return -1;
	}
	if (req.request_type != CR_IN_PKCS10 || req.raw_request == NULL ||
	    csr_parse(req.raw_request, req.raw_request_len, &csr, err,
	    sizeof(err)) == -1) {
		fail(res, CA_E_CONFLICT, "request %" PRId64 " holds no valid "
		    "PKCS#10 request to resubmit", id);
		db_request_free(&req);
		return -1;
	}
	job.kind = WJOB_UPDATE;
	job.req = &req;
	job.expect = req.disposition;

	pthread_rwlock_rdlock(&ca->cfg_lock);
	rc = policy_verify(ca, &csr, &req, 0, &d);
	if (rc == 0 && d.vr == CM_VR_INSTANT_OK) {
		free(req.profile);
		req.profile = xstrdup(profile_name(d.profile));
		if (issue_cert(ca, &csr, &d, &req, &cert) == -1)
			rc = -1;
		else {
			snprintf(msg, sizeof(msg), "Resubmitted by %s", officer);
			req.disposition = CM_DISP_ISSUED;
			req.status_code = 0;
			req_set_message(&req, msg);
			req.resolved_when = time_now();
			job.cert = &cert;
			job.event = CM_EXITEVENT_CERTISSUED;
		}
	} else if (rc == 0 && d.vr == CM_VR_PENDING) {
		/* AD CS: a policy that pends a resubmission leaves it as is. */
		pthread_rwlock_unlock(&ca->cfg_lock);
		csr_free(&csr);
		policy_decision_free(&d);
		db_request_free(&req);
		return fail(res, CA_E_CONFLICT, "the policy module left request "
		    "%" PRId64 " pending", id);
	} else if (rc == 0) {
		req.disposition = CM_DISP_DENIED;
		req.status_code = STATUS_POLICY_DENIED;
		req_set_message(&req, d.message);
		req.resolved_when = time_now();
		job.event = CM_EXITEVENT_CERTDENIED;
	}
	if (rc == -1) {
		pthread_rwlock_unlock(&ca->cfg_lock);
		csr_free(&csr);
		policy_decision_free(&d);
		db_request_free(&req);
		return fail(res, CA_E_INTERNAL, "cannot issue the certificate "
		    "(see the daemon's log)");
	}
	rc = run_job(ca, &job, &csr, &d);
	pthread_rwlock_unlock(&ca->cfg_lock);
	csr_free(&csr);
	policy_decision_free(&d);
	if (result_from_job(ca, res, rc, &req, job.cert) == -1)
		return -1;
	if (res->req.disposition == CM_DISP_DENIED)
		return fail(res, CA_E_DENIED, "%s", res->req.disposition_message);
	return 0;
}

int
ca_deny(struct ca *ca, int64_t id, const char *officer, struct ca_result *res)
{
	struct db_request req;
	struct wjob	 job = { 0 };
	char		 msg[300];
	int		 rc;

	memset(res, 0, sizeof(*res));
	if (atomic_load(&ca->stopping))
		return fail(res, CA_E_SHUTDOWN, "the CA is shutting down");
	if (load_request(ca, id, &req, res) == -1)
		return -1;
	if (req.disposition != CM_DISP_PENDING) {
		fail(res, CA_E_CONFLICT, "request %" PRId64 " is %s: only pending "
		    "requests can be denied", id,
		    disposition_name(req.disposition));
		db_request_free(&req);
		return -1;
	}
	snprintf(msg, sizeof(msg), "Denied by %s", officer);
	req.disposition = CM_DISP_DENIED;
	req.status_code = STATUS_ADMIN_DENIED;
	req_set_message(&req, msg);
	req.resolved_when = time_now();
	job.kind = WJOB_UPDATE;
	job.req = &req;
	job.expect = CM_DISP_PENDING;
	job.event = CM_EXITEVENT_CERTDENIED;
	rc = writer_run(ca->writer, &job);
	return result_from_job(ca, res, rc, &req, NULL);
}

/*
 * Lowercase a serial and drop separators. Returns 0, or -1 if it is not hex.
 */
static int
serial_normalize(const char *in, char *out, size_t outlen)
{
	size_t	 n = 0;

	for (; *in; in++) {
		if (*in == ':' || *in == ' ')
			continue;
		if (!((*in >= '0' && *in <= '9') || (*in >= 'a' && *in <= 'f') ||
		    (*in >= 'A' && *in <= 'F')) || n + 1 >= outlen)
			return -1;
		out[n++] = (char)(*in >= 'A' && *in <= 'F' ? *in + 32 : *in);
	}
	out[n] = '\0';
	return n == 0 ? -1 : 0;
}

/*
 * Find the request and certificate for serial. Returns 0 or -1 with res set.
 */
static int
load_by_serial(struct ca *ca, const char *serial, struct db_request *req,
    struct ca_result *res)
{
	struct store	*st;
	char		 norm[130];
	int		 rc;

	if (serial == NULL || serial_normalize(serial, norm, sizeof(norm)) == -1)
		return fail(res, CA_E_BADREQ, "\"%s\" is not a hexadecimal serial "
		    "number", serial ? serial : "");
	if ((st = ca_reader(ca)) == NULL)
		return fail(res, CA_E_INTERNAL, "cannot open the database");
	rc = store_cert_by_serial(st, norm, &res->cert);
	/* Serials given with a leading 00 sign byte still match. */
	while (rc == CM_E_NOTFOUND && strncmp(norm, "00", 2) == 0 &&
	    strlen(norm) > 2) {
		memmove(norm, norm + 2, strlen(norm + 2) + 1);
		rc = store_cert_by_serial(st, norm, &res->cert);
	}
	if (rc == CM_E_NOTFOUND)
		return fail(res, CA_E_NOTFOUND, "no certificate with serial %s",
		    norm);
	if (rc != 0)
		return fail(res, CA_E_INTERNAL, "cannot read the certificate table");
	res->has_cert = 1;
	if (load_request(ca, res->cert.request_id, req, res) == -1)
		return -1;
	return 0;
}

int
ca_revoke(struct ca *ca, const char *serial, int reason, int64_t date,
    const char *officer, struct ca_result *res)
{
	struct db_request req;
	struct wjob	 job = { 0 };
	char		 ts[32];
	int64_t		 now = time_now();
	int		 rc;

	memset(res, 0, sizeof(*res));
	if (atomic_load(&ca->stopping))
		return fail(res, CA_E_SHUTDOWN, "the CA is shutting down");
	if (reason < 0 || reason > 10 || reason == 7 ||
	    reason == CRL_REASON_REMOVE_FROM_CRL)
		return fail(res, CA_E_BADREQ, "invalid revocation reason %d", reason);
	if (date > now + 60)
		return fail(res, CA_E_BADREQ, "the revocation date is in the future");
	if (load_by_serial(ca, serial, &req, res) == -1)
		return -1;
	/* An invalidity date before the certificate existed is a typo. */
	if (date != 0 && date < res->cert.not_before) {
		time_format(res->cert.not_before, ts);
		fail(res, CA_E_BADREQ, "the revocation date is before the "
		    "certificate's notBefore (%s)", ts);
		db_request_free(&req);
		return -1;
	}
	/* BR 7.2.2: no hold and no CA/AA compromise for a TLS server. */
	if (req.profile != NULL && strcmp(req.profile,
	    profile_name(PROFILE_TLS_SERVER)) == 0 &&
	    (reason == CRL_REASON_CERTIFICATE_HOLD ||
	    reason == CRL_REASON_CA_COMPROMISE ||
	    reason == CRL_REASON_AA_COMPROMISE)) {
		fail(res, CA_E_BADREQ, "%s is not a revocation reason for a "
		    "tls-server certificate", crl_reason_name(reason));
		db_request_free(&req);
		return -1;
	}
	if (req.disposition == CM_DISP_REVOKED &&
	    (req.revoked_reason != CRL_REASON_CERTIFICATE_HOLD ||
	    reason == CRL_REASON_CERTIFICATE_HOLD)) {
		time_format(req.revoked_when, ts);
		fail(res, CA_E_CONFLICT, "certificate %s is already revoked (%s "
		    "since %s)", res->cert.serial,
		    crl_reason_name(req.revoked_reason), ts);
		db_request_free(&req);
		return -1;
	}
	if (req.disposition != CM_DISP_ISSUED &&
	    req.disposition != CM_DISP_REVOKED) {
		fail(res, CA_E_CONFLICT, "request %" PRId64 " is %s, not issued",
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
	(void)officer;
	rc = writer_run(ca->writer, &job);
	if (rc == 0)
		log_info("certificate %s revoked by %s (%s)", res->cert.serial,
		    officer, crl_reason_name(reason));
	return result_from_job(ca, res, rc, &req, NULL);
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
		return fail(res, CA_E_SHUTDOWN, "the CA is shutting down");
	if (load_by_serial(ca, serial, &req, res) == -1)
		return -1;
	if (req.disposition != CM_DISP_REVOKED ||
	    req.revoked_reason != CRL_REASON_CERTIFICATE_HOLD) {
		fail(res, CA_E_CONFLICT, "certificate %s is %s%s: only a "
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
	if (rc == 0)
		log_info("certificate %s released from hold by %s",
		    res->cert.serial, officer);
	return result_from_job(ca, res, rc, &req, NULL);
}

struct crl_collect {
	struct crl_entry *v;
	size_t		  n, cap;
	int		  bad;
};

static int
crl_collect_one(void *arg, const struct db_revoked *r)
{
	struct crl_collect *c = arg;
	struct crl_entry *e;
	unsigned char	*bytes;
	size_t		 len;

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
 * Build, sign and record one CRL. base < 0 makes a base CRL; otherwise a
 * delta CRL on top of base CRL number base, listing changes since since.
 */
static int
publish_one(struct ca *ca, int64_t number, int64_t base, int64_t since,
    int period_hours, struct db_crl *out, struct ca_result *res)
{
	struct crl_collect col = { 0 };
	struct crl_params p;
	struct wjob	 job = { 0 };
	struct store	*st = ca_reader(ca);
	int		 rc;

	memset(out, 0, sizeof(*out));
	if (st == NULL)
		return fail(res, CA_E_INTERNAL, "cannot open the database");
	if (store_revoked_each(st, base < 0 ? -1 : since, crl_collect_one,
	    &col) != 0) {
		free(col.v);
		return fail(res, CA_E_INTERNAL, "cannot read revoked certificates");
	}
	if (col.bad)
		log_warn("%d revoked serials could not be decoded", col.bad);
	memset(&p, 0, sizeof(p));
	p.number = number;
	p.base_number = base;
	p.this_update = time_now();
	p.next_update = p.this_update + (int64_t)period_hours * 3600;
	p.entries = col.v;
	p.nentries = col.n;
	if (crl_build(&ca->signer, &p, &out->raw, &out->raw_len) == -1) {
		free(col.v);
		return fail(res, CA_E_INTERNAL, "cannot build the CRL");
	}
	free(col.v);
	out->number = number;
	out->base_number = base;
	out->this_update = p.this_update;
	out->next_update = p.next_update;
	out->count = (int64_t)p.nentries;
	job.kind = WJOB_CRL;
	job.crl = out;
	job.event = CM_EXITEVENT_CRLISSUED;
	if ((rc = writer_run(ca->writer, &job)) != 0) {
		db_crl_free(out);
		return fail(res, CA_E_INTERNAL, "cannot record the CRL");
	}
	log_info("published %s CRL number %" PRId64 " with %" PRId64 " entries",
	    base < 0 ? "base" : "delta", number, out->count);
	return 0;
}

int
ca_publish_crl(struct ca *ca, int delta_only, struct ca_result *res)
{
	struct store	*st;
	struct db_crl	 base;
	int64_t		 number;
	int		 rc = -1, have_base = 0;

	memset(res, 0, sizeof(*res));
	memset(&base, 0, sizeof(base));
	if (atomic_load(&ca->stopping))
		return fail(res, CA_E_SHUTDOWN, "the CA is shutting down");
	pthread_mutex_lock(&ca->crl_mu);
	pthread_rwlock_rdlock(&ca->cfg_lock);
	if (delta_only && !ca->cfg.delta_enabled) {
		fail(res, CA_E_CONFLICT, "delta CRLs are disabled ([crl] delta = "
		    "false)");
		goto out;
	}
	if ((st = ca_reader(ca)) == NULL ||
	    store_max_crl_number(st, &number) != 0) {
		fail(res, CA_E_INTERNAL, "cannot read the CRL table");
		goto out;
	}
	if (!delta_only) {
		if (publish_one(ca, ++number, -1, 0, ca->cfg.crl_period_hours,
		    &res->crls[res->ncrls], res) == -1)
			goto out;
		res->ncrls++;
	}
	if (ca->cfg.delta_enabled) {
		if (!delta_only)
			base = res->crls[0];
		else if (store_crl_latest(st, 0, &base) == 0)
			have_base = 1;
		else {
			fail(res, CA_E_CONFLICT, "no base CRL yet: publish one "
			    "with `certmint crl` first");
			goto out;
		}
		if (publish_one(ca, ++number, base.number, base.this_update - 1,
		    ca->cfg.delta_period_hours, &res->crls[res->ncrls], res) == -1)
			goto out;
		res->ncrls++;
	}
	rc = 0;
out:
	if (have_base)
		db_crl_free(&base);
	pthread_rwlock_unlock(&ca->cfg_lock);
	pthread_mutex_unlock(&ca->crl_mu);
	return rc;
}

int
ca_import(struct ca *ca, const unsigned char *data, size_t len,
    const char *officer, struct ca_result *res)
{
	struct db_request req;
	struct db_cert	 cert, existing;
	struct cert_info info;
	struct wjob	 job = { 0 };
	struct store	*st;
	unsigned char	*der = NULL;
	size_t		 derlen;
	char		 err[256];
	int		 rc;

	memset(res, 0, sizeof(*res));
	memset(&info, 0, sizeof(info));
	memset(&existing, 0, sizeof(existing));
	if (atomic_load(&ca->stopping))
		return fail(res, CA_E_SHUTDOWN, "the CA is shutting down");
	if (pem_or_der(data, len, "CERTIFICATE", &der, &derlen) == -1)
		return fail(res, CA_E_BADREQ, "not a certificate (expected PEM "
		    "or DER)");
	if (cert_info_parse(der, derlen, &info, err, sizeof(err)) == -1) {
		free(der);
		return fail(res, CA_E_BADREQ, "not a certificate: %s", err);
	}
	pthread_rwlock_rdlock(&ca->cfg_lock);
	rc = cert_check_issued_by(&ca->signer, der, derlen, err, sizeof(err));
	pthread_rwlock_unlock(&ca->cfg_lock);
	if (rc == -1) {
		fail(res, CA_E_BADREQ, "certificate %s was not issued by this CA: "
		    "%s", info.serial, err);
		goto fail;
	}
	if ((st = ca_reader(ca)) != NULL &&
	    store_cert_by_serial(st, info.serial, &existing) == 0) {
		fail(res, CA_E_CONFLICT, "certificate %s is already in the "
		    "database (request %" PRId64 ")", info.serial,
		    existing.request_id);
		db_cert_free(&existing);
		goto fail;
	}
	req_new(ca, &req, officer, officer);
	req.request_type = CR_IN_IMPORT;
	req.disposition = CM_DISP_ISSUED;
	req.disposition_message = xstrdup("Imported");
	req.resolved_when = req.submitted_when;
	req.request_dn = xstrdup(info.subject_dn);
	req.request_raw_name = memdup(info.subject, info.subject_len);
	req.request_raw_name_len = info.subject_len;
	req_set_exts(&req, info.exts, info.nexts, NULL, 0,
	    CM_EXTENSION_ORIGIN_IMPORTEDCERT);
	cert_row_fill(&cert, req.id, der, derlen, &info);
	der = NULL;
	cert_info_free(&info);
	job.kind = WJOB_INSERT;
	job.req = &req;
	job.cert = &cert;
	job.event = CM_EXITEVENT_CERTIMPORTED;
	rc = writer_run(ca->writer, &job);
	if (rc == STORE_E_DUPLICATE) {
		fail(res, CA_E_CONFLICT, "certificate %s is already in the "
		    "database", cert.serial);
		db_request_free(&req);
		db_cert_free(&cert);
		return -1;
	}
	return result_from_job(ca, res, rc, &req, &cert);
fail:
	cert_info_free(&info);
	free(der);
	return -1;
}

int
ca_retrieve(struct ca *ca, int64_t id, struct ca_result *res)
{
	struct wjob	 job = { 0 };

	if (ca_get(ca, id, res) == -1)
		return -1;
	switch (res->req.disposition) {
	case CM_DISP_ISSUED:
	case CM_DISP_REVOKED:
		break;
	case CM_DISP_PENDING:
		return fail(res, CA_E_CONFLICT, "request %" PRId64 " is still "
		    "pending", id);
	default:
		return fail(res, CA_E_DENIED, "request %" PRId64 " was %s: %s", id,
		    disposition_name(res->req.disposition),
		    res->req.disposition_message ? res->req.disposition_message : "");
	}
	if (!res->has_cert)
		return fail(res, CA_E_INTERNAL, "request %" PRId64 " has no "
		    "certificate", id);
	if (res->req.was_pending) {
		job.kind = WJOB_EVENT;
		job.context = id;
		job.event = CM_EXITEVENT_CERTRETRIEVEPENDING;
		if (atomic_load(&ca->stopping) ||
		    writer_run(ca->writer, &job) != 0)
			return fail(res, CA_E_INTERNAL, "cannot record the "
			    "retrieval");
	}
	return 0;
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
