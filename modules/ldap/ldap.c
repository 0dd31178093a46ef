/*
 * ldap.c - CertMint_LDAP.Exit: AD CS's directory publishing and EJBCA's
 * LDAP publisher (docs/modules/ldap.md). An issued, imported or released
 * certificate is added to userCertificate;binary of the entry that a DN
 * template names or a search filter finds; a revoked one has only its own
 * value removed (EJBCA removes the whole attribute, wiping the person's
 * other certificates). At each CRLISSUED and STARTUP the CA certificates
 * go to cACertificate;binary and the base and delta CRLs to
 * certificateRevocationList, authorityRevocationList and
 * deltaRevocationList (;binary) of the CDP entry. Missing entries are
 * created on request.
 *
 * It publishes state, so a retry or a replay reconciles the directory to
 * the certificate's state at the event, never back to an older one: a CRL
 * replaces only an older CRL (by CRL number), and a certificate event older
 * than a revocation or release already applied to that certificate is
 * skipped (revocations and releases are remembered by serial, in memory
 * and in state_file when set).
 *
 * Declared CM_THREADING_CONCURRENT: each call takes a connection from a
 * pool (opened when none is idle, dropped after a failure), so the
 * directory works on several events at once. The events of one
 * certificate run one at a time under one of STRIPES locks, and the CA
 * events under one lock, so that "already applied" holds; the settings
 * are swapped under a read-write lock by configure --refresh.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/asn1.h>
#include <openssl/x509.h>

#include "ldap_exit.h"

#define LD_NAME		"CertMint_LDAP.Exit"
#define CERT_EVENTS	(CM_EXITEVENT_CERTISSUED | CM_EXITEVENT_CERTIMPORTED | \
	CM_EXITEVENT_CERTREVOKED | CM_EXITEVENT_CERTUNREVOKED)
#define CA_EVENTS	(CM_EXITEVENT_CRLISSUED | CM_EXITEVENT_STARTUP)
#define STRIPES		64
#define POOL_MAX	32	/* idle connections kept */

/* The last revocation or release applied to a certificate. */
struct ld_mark {
	char		*serial;
	int64_t		 seq;		/* its EventSequence */
	int		 present;	/* released (1) or revoked (0) */
};

struct ld_exit {
	pthread_rwlock_t lock;		/* set, state_file, desc */
	struct ld_settings set;
	pthread_mutex_t	 pool_mu;	/* idle */
	LDAP		*idle[POOL_MAX];
	int		 nidle;
	pthread_mutex_t	 marks_mu;	/* marks */
	struct ld_mark	*marks;		/* sorted by serial */
	size_t		 nmarks, capmarks;
	char		*state_file;
	pthread_mutex_t	 ca_mu;		/* CA events */
	pthread_mutex_t	 stripe[STRIPES];	/* a certificate's events */
	char		 desc[512];
};

/* One notify: the settings read-locked and the connection it holds. */
struct ld_call {
	struct ld_exit	*x;
	const struct ld_settings *set;
	LDAP		*ld;		/* NULL until needed, after a failure */
	int		 fresh;		/* ld opened by this call */
};

/* The serial's mark, or NULL; *at is where it is or would go. */
static struct ld_mark *
mark_find(struct ld_exit *x, const char *serial, size_t *at)
{
	size_t	 lo = 0, hi = x->nmarks, mid;
	int	 c;

	while (lo < hi) {
		mid = (lo + hi) / 2;
		if ((c = strcmp(x->marks[mid].serial, serial)) == 0) {
			*at = mid;
			return &x->marks[mid];
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*at = lo;
	return NULL;
}

/* Remember the serial's last revocation or release. 0 or -1. */
static int
mark_set(struct ld_exit *x, const char *serial, int64_t seq, int present)
{
	struct ld_mark	*m, *n;
	size_t		 at, cap;

	if ((m = mark_find(x, serial, &at)) != NULL) {
		if (seq >= m->seq) {
			m->seq = seq;
			m->present = present;
		}
		return 0;
	}
	if (x->nmarks == x->capmarks) {
		cap = x->capmarks ? x->capmarks * 2 : 64;
		if ((n = reallocarray(x->marks, cap, sizeof(*n))) == NULL)
			return -1;
		x->marks = n;
		x->capmarks = cap;
	}
	memmove(&x->marks[at + 1], &x->marks[at],
	    (x->nmarks - at) * sizeof(*x->marks));
	if ((x->marks[at].serial = strdup(serial)) == NULL) {
		memmove(&x->marks[at], &x->marks[at + 1],
		    (x->nmarks - at) * sizeof(*x->marks));
		return -1;
	}
	x->marks[at].seq = seq;
	x->marks[at].present = present;
	x->nmarks++;
	return 0;
}

/*
 * Load state_file: lines "serial seq present", appended as marks are
 * set; the last line of a serial wins. A missing file is empty. 0 or -1.
 */
static int
marks_load(struct ld_exit *x, cm_server_exit *srv)
{
	FILE		*f;
	char		 serial[130];
	long long	 seq;
	int		 present;

	if (x->state_file == NULL)
		return 0;
	if ((f = fopen(x->state_file, "r")) == NULL) {
		if (errno == ENOENT)
			return 0;
		srv->log(srv, CM_LOG_ERROR, "state_file %s: %s",
		    x->state_file, strerror(errno));
		return -1;
	}
	while (fscanf(f, "%129s %lld %d", serial, &seq, &present) == 3)
		if (mark_set(x, serial, seq, present) == -1)
			break;
	fclose(f);
	return 0;
}

/* Append a mark to state_file (when set). 0 or -1 (logged). */
static int
mark_save(struct ld_exit *x, cm_server_exit *srv, const char *serial,
    int64_t seq, int present)
{
	char	 line[200];
	int	 fd, n, rc = 0;

	if (x->state_file == NULL)
		return 0;
	n = snprintf(line, sizeof(line), "%s %" PRId64 " %d\n", serial, seq,
	    present);
	if ((fd = open(x->state_file, O_WRONLY | O_APPEND | O_CREAT |
	    O_CLOEXEC, 0600)) == -1 || write(fd, line, (size_t)n) != n ||
	    fsync(fd) == -1)
		rc = -1;
	if (rc == -1)
		srv->log(srv, CM_LOG_ERROR, "state_file %s: %s",
		    x->state_file, strerror(errno));
	if (fd != -1)
		close(fd);
	return rc;
}

static void
marks_free(struct ld_exit *x)
{
	size_t	 i;

	for (i = 0; i < x->nmarks; i++)
		free(x->marks[i].serial);
	free(x->marks);
	x->marks = NULL;
	x->nmarks = x->capmarks = 0;
}

static void
disconnect(struct ld_call *x)
{
	if (x->ld != NULL)
		ldap_unbind_ext_s(x->ld, NULL, NULL);
	x->ld = NULL;
}

/* Close the idle connections: the settings changed, or the module stops. */
static void
pool_close(struct ld_exit *x)
{
	pthread_mutex_lock(&x->pool_mu);
	while (x->nidle > 0)
		ldap_unbind_ext_s(x->idle[--x->nidle], NULL, NULL);
	pthread_mutex_unlock(&x->pool_mu);
}

/* The call's connection back to the pool (or closed when it is full). */
static void
call_end(struct ld_call *c)
{
	if (c->ld == NULL)
		return;
	pthread_mutex_lock(&c->x->pool_mu);
	if (c->x->nidle < POOL_MAX) {
		c->x->idle[c->x->nidle++] = c->ld;
		c->ld = NULL;
	}
	pthread_mutex_unlock(&c->x->pool_mu);
	disconnect(c);
}

/* The connection, opened if need be. LD_OK, or another outcome (logged). */
static int
connection(struct ld_call *x, cm_server_exit *srv)
{
	char	 err[512];
	int	 rc, out;

	if (x->ld != NULL)
		return LD_OK;
	pthread_mutex_lock(&x->x->pool_mu);
	if (x->x->nidle > 0)
		x->ld = x->x->idle[--x->x->nidle];
	pthread_mutex_unlock(&x->x->pool_mu);
	x->fresh = x->ld == NULL;
	if (x->ld != NULL)
		return LD_OK;
	if ((rc = ld_connect(x->set, &x->ld, err, sizeof(err))) ==
	    LDAP_SUCCESS)
		return LD_OK;
	/* A bind refused is the operator's to fix: no event can pass. */
	out = ld_outcome_of(rc);
	if (out == LD_PERMANENT)
		out = LD_RETRY;
	srv->log(srv, out == LD_SUSPEND ? CM_LOG_ERROR : CM_LOG_WARN,
	    "%s: %s", x->set->url, err);
	return out;
}

/*
 * The outcome of an LDAP result rc (err: what failed), logged; a
 * transient failure drops the connection so the retry starts afresh.
 */
static int
failed(struct ld_call *x, cm_server_exit *srv, int rc, const char *err)
{
	int	 out = ld_outcome_of(rc);

	if (out == LD_OK)
		return out;
	if (out == LD_RETRY)
		disconnect(x);
	srv->log(srv, out == LD_RETRY ? CM_LOG_WARN : CM_LOG_ERROR, "%s", err);
	return out;
}

/* A LONG property of the event, its request or certificate. CM_OK or not. */
static int
prop_long(cm_server_exit *srv, const char *name, int64_t *out)
{
	cm_value	 v;
	int		 rc;

	memset(&v, 0, sizeof(v));
	if ((rc = srv->get_request_property(srv, name, CM_PROPTYPE_LONG,
	    &v)) != CM_OK) {
		memset(&v, 0, sizeof(v));
		rc = srv->get_certificate_property(srv, name, CM_PROPTYPE_LONG,
		    &v);
	}
	*out = v.l;
	return rc;
}

/*
 * Put der into (present) or take it out of the user attribute of dn,
 * creating the entry when it is missing and create_entries says so. The
 * value is added or deleted alone: the entry's other certificates stay.
 * An LDAP result code; already there (or already gone) is success.
 */
static int
cert_write(struct ld_call *x, const char *dn, struct berval *der,
    int present, char *err, size_t errlen)
{
	struct ld_attr	 a;
	int		 rc;

	memset(&a, 0, sizeof(a));
	a.name = x->set->user_attr;
	a.op = present ? LDAP_MOD_ADD : LDAP_MOD_DELETE;
	a.vals[0] = der;
	rc = ld_modify(x->ld, dn, &a, 1, err, errlen);
	if (present && rc == LDAP_TYPE_OR_VALUE_EXISTS)
		return LDAP_SUCCESS;
	if (!present && (rc == LDAP_NO_SUCH_ATTRIBUTE ||
	    rc == LDAP_NO_SUCH_OBJECT))
		return LDAP_SUCCESS;
	if (present && rc == LDAP_NO_SUCH_OBJECT && x->set->create) {
		rc = ld_add(x->ld, dn, x->set->user_classes, &a, 1, err,
		    errlen);
		/* Created meanwhile by someone else: add to it. */
		if (rc == LDAP_ALREADY_EXISTS)
			rc = cert_write(x, dn, der, present, err, errlen);
	}
	return rc;
}

/*
 * The DN of the certificate's entry: found by user_filter under user_base,
 * else user_dn expanded. *dn NULL (LDAP_SUCCESS) when a search found
 * nothing and there is no user_dn. An LDAP result code, or -1000 - CM_E_*
 * for a template that cannot be expanded (err says why).
 */
static int
cert_dn(struct ld_call *x, cm_server_exit *srv, char **dn, char *err,
    size_t errlen)
{
	char	*filter = NULL, *found = NULL;
	int	 rc;

	*dn = NULL;
	if (x->set->user_filter != NULL) {
		if ((rc = mu_expand_esc(srv, x->set->user_filter, ld_esc_filter,
		    &filter, err, errlen)) != 0)
			return -1000 + rc;
		rc = ld_find(x->ld, x->set->user_base, filter, &found, err,
		    errlen);
		free(filter);
		if (rc != LDAP_SUCCESS)
			return rc;
		if (found != NULL) {
			*dn = strdup(found);
			ldap_memfree(found);
			return *dn == NULL ? LDAP_NO_MEMORY : LDAP_SUCCESS;
		}
	}
	if (x->set->user_dn == NULL)
		return LDAP_SUCCESS;
	if ((rc = mu_expand_esc(srv, x->set->user_dn, ld_esc_dn, dn, err,
	    errlen)) != 0)
		return -1000 + rc;
	return LDAP_SUCCESS;
}

/*
 * One attempt at a certificate event on the open connection. LD_OK or
 * another outcome (logged).
 */
static int
cert_apply(struct ld_call *x, cm_server_exit *srv, struct berval *der,
    int present, const char *serial)
{
	char	 err[1024], *dn = NULL;
	int	 rc;

	if ((rc = cert_dn(x, srv, &dn, err, sizeof(err))) <= -900) {
		/* A template the event cannot fill never will. */
		srv->log(srv, CM_LOG_ERROR, "certificate %s: %s", serial, err);
		return LD_PERMANENT;
	}
	if (rc != LDAP_SUCCESS)
		return failed(x, srv, rc, err);
	if (dn == NULL) {
		if (!present)
			return LD_OK;	/* no entry: nothing to remove */
		srv->log(srv, CM_LOG_ERROR, "certificate %s: no entry under "
		    "%s matches user_filter %s", serial, x->set->user_base,
		    x->set->user_filter);
		return LD_PERMANENT;
	}
	rc = cert_write(x, dn, der, present, err, sizeof(err));
	if (rc == LDAP_SUCCESS)
		srv->log(srv, CM_LOG_DEBUG, "certificate %s %s %s", serial,
		    present ? "published to" : "removed from", dn);
	else if (rc == LDAP_NO_SUCH_OBJECT)
		snprintf(err, sizeof(err), "%s: no such entry (set "
		    "create_entries to create it)", dn);
	free(dn);
	return failed(x, srv, rc, err);
}

/*
 * CERTISSUED, CERTIMPORTED, CERTUNREVOKED: publish the certificate;
 * CERTREVOKED: remove it (or publish it, when the event reads it valid:
 * a release delivered as a revocation). An event older than the last
 * revocation or release applied to the same certificate is skipped: the
 * directory already shows a later state.
 */
static int
cert_event(struct ld_call *x, int32_t event, int64_t context,
    cm_server_exit *srv)
{
	struct berval	 bv;
	struct ld_mark	*m;
	unsigned char	*der = NULL;
	pthread_mutex_t	*stripe;
	size_t		 len, at;
	int64_t		 seq = 0, disp = 0, mseq = 0;
	char		*serial = NULL;
	int		 rc, present, attempt, mpresent = 0;

	if ((rc = srv->set_context(srv, context)) != CM_OK ||
	    (rc = prop_long(srv, "EventSequence", &seq)) != CM_OK ||
	    (rc = prop_long(srv, "Disposition", &disp)) != CM_OK ||
	    (rc = mu_prop_text(srv, "SerialNumber", &serial)) != CM_OK ||
	    (rc = mu_prop_binary(srv, "RawCertificate", &der, &len)) !=
	    CM_OK) {
		srv->log(srv, CM_LOG_ERROR, "request %" PRId64 ": cannot read "
		    "the certificate (%d)", context, rc);
		rc = rc == CM_E_PROPERTY_EMPTY ? LD_PERMANENT : LD_RETRY;
		goto out;
	}
	present = event != CM_EXITEVENT_CERTREVOKED ||
	    disp != CM_DISP_REVOKED;
	stripe = &x->x->stripe[mu_hash(serial) % STRIPES];
	pthread_mutex_lock(stripe);
	pthread_mutex_lock(&x->x->marks_mu);
	if ((m = mark_find(x->x, serial, &at)) != NULL && m->seq > seq) {
		mseq = m->seq;
		mpresent = m->present;
	}
	pthread_mutex_unlock(&x->x->marks_mu);
	if (mseq > seq) {
		srv->log(srv, CM_LOG_INFO, "certificate %s: event %" PRId64
		    " skipped: %s at event %" PRId64 " already applied", serial,
		    seq, mpresent ? "released" : "revoked", mseq);
		rc = LD_OK;
		goto unlock;
	}
	bv.bv_val = (char *)der;
	bv.bv_len = len;
	/* A kept connection the server has closed fails at once: reopen. */
	for (attempt = 0; attempt < 2; attempt++) {
		if ((rc = connection(x, srv)) != LD_OK)
			break;
		rc = cert_apply(x, srv, &bv, present, serial);
		if (rc != LD_RETRY || x->fresh || x->ld != NULL)
			break;
	}
	if (rc == LD_OK && (event == CM_EXITEVENT_CERTREVOKED ||
	    event == CM_EXITEVENT_CERTUNREVOKED)) {
		pthread_mutex_lock(&x->x->marks_mu);
		if (mark_set(x->x, serial, seq, present) == -1 ||
		    mark_save(x->x, srv, serial, seq, present) == -1)
			rc = LD_RETRY;
		pthread_mutex_unlock(&x->x->marks_mu);
	}
unlock:
	pthread_mutex_unlock(stripe);
out:
	free(serial);
	free(der);
	return rc;
}

/*
 * tmpl with %{CRLSuffix}, %{CertSuffix} and %{CRLIndex} made those of CA
 * certificate idx (%{CRLSuffix.idx}...). NULL on no memory.
 */
static char *
indexed_template(const char *tmpl, int64_t idx)
{
	static const char *const names[] = { "CRLSuffix", "CertSuffix",
	    "CRLIndex" };
	struct mu_buf	 b = { 0 };
	const char	*p;
	size_t		 i, n;
	int		 rc = 0, done;

	for (p = tmpl; *p != '\0' && rc == 0; ) {
		done = 0;
		for (i = 0; i < 3 && !done; i++) {
			n = strlen(names[i]);
			if (strncmp(p, "%{", 2) == 0 &&
			    strncasecmp(p + 2, names[i], n) == 0 &&
			    p[2 + n] == '}') {
				rc = mu_buf_printf(&b, "%%{%s.%" PRId64 "}",
				    names[i], idx);
				p += 3 + n;
				done = 1;
			}
		}
		if (!done)
			rc = mu_buf_add(&b, p++, 1);
	}
	if (rc == 0 && mu_buf_add(&b, "", 0) == 0)
		return b.data;
	mu_buf_free(&b);
	return NULL;
}

/* The number of a DER CRL, or NULL when it has none or does not parse. */
static ASN1_INTEGER *
crl_number(const unsigned char *der, size_t len)
{
	const unsigned char *p = der;
	ASN1_INTEGER	*n;
	X509_CRL	*crl;

	if ((crl = d2i_X509_CRL(NULL, &p, (long)len)) == NULL)
		return NULL;
	n = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL);
	X509_CRL_free(crl);
	return n;
}

/*
 * Does the CRL ours replace what the entry holds (old: its values, may be
 * NULL)? Only when its CRL number is higher than every value's: a retry or
 * a replay of an old CRLISSUED must not bring an older CRL back.
 */
static int
crl_newer(struct berval *ours, struct berval **old)
{
	ASN1_INTEGER	*a, *b;
	int		 newer = 1;

	if (old == NULL || old[0] == NULL)
		return 1;
	if ((a = crl_number((unsigned char *)ours->bv_val, ours->bv_len)) ==
	    NULL)
		return 1;
	for (; *old != NULL && newer; old++) {
		b = crl_number((unsigned char *)(*old)->bv_val, (*old)->bv_len);
		if (b != NULL && ASN1_INTEGER_cmp(a, b) <= 0)
			newer = 0;
		ASN1_INTEGER_free(b);
	}
	ASN1_INTEGER_free(a);
	return newer;
}

/* Is v among vals? */
static int
has_value(struct berval **vals, struct berval *v)
{
	for (; vals != NULL && *vals != NULL; vals++)
		if ((*vals)->bv_len == v->bv_len &&
		    memcmp((*vals)->bv_val, v->bv_val, v->bv_len) == 0)
			return 1;
	return 0;
}

/* What a CA event writes to one entry (NULL bervals: nothing). */
struct ca_write {
	const char	*classes;
	struct berval	*crl, *delta, *cacert;
};

/*
 * Bring the entry dn up to w: the CA certificate added if missing, the
 * base CRL (as certificateRevocationList and authorityRevocationList) and
 * the delta replaced when ours is newer. Creates the entry with all of it
 * when missing and create_entries says so. An LDAP result code.
 */
static int
ca_entry_write(struct ld_call *x, const char *dn, struct ca_write *w,
    char *err, size_t errlen)
{
	static char	 acrl[] = "certificateRevocationList;binary";
	static char	 adelta[] = "deltaRevocationList;binary";
	static char	 aca[] = "cACertificate;binary";
	char		*attrs[] = { acrl, adelta, aca, NULL };
	struct berval	**oldcrl = NULL, **olddelta = NULL, **oldca = NULL;
	struct ld_attr	 a[4];
	LDAPMessage	*res = NULL, *e;
	size_t		 n = 0;
	int		 rc;

	memset(a, 0, sizeof(a));
	rc = ld_read(x->ld, dn, attrs, &res, err, errlen);
	if (rc != LDAP_SUCCESS && rc != LDAP_NO_SUCH_OBJECT)
		return rc;
	if (res != NULL && (e = ldap_first_entry(x->ld, res)) != NULL) {
		oldcrl = ldap_get_values_len(x->ld, e, acrl);
		olddelta = ldap_get_values_len(x->ld, e, adelta);
		oldca = ldap_get_values_len(x->ld, e, aca);
	}
	if (w->crl != NULL && crl_newer(w->crl, oldcrl)) {
		a[n].name = "certificateRevocationList;binary";
		a[n].op = LDAP_MOD_REPLACE;
		a[n++].vals[0] = w->crl;
		a[n].name = "authorityRevocationList;binary";
		a[n].op = LDAP_MOD_REPLACE;
		a[n++].vals[0] = w->crl;
	}
	if (w->delta != NULL && crl_newer(w->delta, olddelta)) {
		a[n].name = adelta;
		a[n].op = LDAP_MOD_REPLACE;
		a[n++].vals[0] = w->delta;
	}
	if (w->cacert != NULL && !has_value(oldca, w->cacert)) {
		a[n].name = aca;
		a[n].op = LDAP_MOD_ADD;
		a[n++].vals[0] = w->cacert;
	}
	if (rc == LDAP_NO_SUCH_OBJECT) {
		if (x->set->create)
			rc = ld_add(x->ld, dn, w->classes, a, n, err, errlen);
		else
			snprintf(err, errlen, "%s: no such entry (set "
			    "create_entries to create it)", dn);
	} else if (n > 0)
		rc = ld_modify(x->ld, dn, a, n, err, errlen);
	ldap_value_free_len(oldcrl);
	ldap_value_free_len(olddelta);
	ldap_value_free_len(oldca);
	ldap_msgfree(res);
	return rc;
}

/* A binary CA property name.idx as a berval (NULL when empty). */
static int
ca_binary(cm_server_exit *srv, const char *name, int64_t idx,
    struct berval *bv, struct berval **out)
{
	unsigned char	*der;
	char		 full[64];
	size_t		 len;
	int		 rc;

	*out = NULL;
	snprintf(full, sizeof(full), "%s.%" PRId64, name, idx);
	if ((rc = mu_prop_binary(srv, full, &der, &len)) == CM_E_PROPERTY_EMPTY)
		return CM_OK;
	if (rc != CM_OK)
		return rc;
	bv->bv_val = (char *)der;
	bv->bv_len = len;
	*out = bv;
	return CM_OK;
}

/* Expand a CDP or AIA template for CA certificate idx into *dn. */
static int
ca_dn_of(cm_server_exit *srv, const char *tmpl, int64_t idx, char **dn,
    char *err, size_t errlen)
{
	char	*t;
	int	 rc;

	*dn = NULL;
	if (tmpl == NULL)
		return 0;
	if ((t = indexed_template(tmpl, idx)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	rc = mu_expand_esc(srv, t, ld_esc_dn, dn, err, errlen);
	free(t);
	return rc;
}

/*
 * CA certificate idx's part of a CA event: its certificate to the ca_dn
 * entry and, when it owns its key's CRLs, those to the crl_dn entry (one
 * write when both name the same entry). LD_OK or another outcome.
 */
static int
ca_index(struct ld_call *x, cm_server_exit *srv, int64_t idx)
{
	struct berval	 bcrl, bdelta, bca;
	struct ca_write	 w;
	char		 err[1024], name[32], *cdp = NULL, *aia = NULL;
	char		*cader = NULL;
	int64_t		 state = CM_CA_DISP_ERROR;
	int		 rc, out = LD_OK;

	memset(&w, 0, sizeof(w));
	snprintf(name, sizeof(name), "CRLState.%" PRId64, idx);
	if (prop_long(srv, name, &state) != CM_OK)
		state = CM_CA_DISP_ERROR;
	if (state != CM_CA_DISP_ERROR && ((rc = ca_binary(srv, "RawCRL", idx,
	    &bcrl, &w.crl)) != CM_OK || (rc = ca_binary(srv, "RawDeltaCRL",
	    idx, &bdelta, &w.delta)) != CM_OK)) {
		srv->log(srv, CM_LOG_WARN, "cannot read the CRLs (%d)", rc);
		out = LD_RETRY;
		goto out;
	}
	if ((rc = ca_binary(srv, "RawCACertificate", idx, &bca, &w.cacert)) !=
	    CM_OK) {
		srv->log(srv, CM_LOG_WARN, "cannot read CA certificate %"
		    PRId64 " (%d)", idx, rc);
		out = LD_RETRY;
		goto out;
	}
	cader = w.cacert != NULL ? bca.bv_val : NULL;
	if ((rc = ca_dn_of(srv, x->set->crl_dn, idx, &cdp, err,
	    sizeof(err))) != 0 || (rc = ca_dn_of(srv, x->set->ca_dn, idx, &aia,
	    err, sizeof(err))) != 0) {
		srv->log(srv, CM_LOG_ERROR, "%s", err);
		out = LD_PERMANENT;
		goto out;
	}
	if (aia != NULL && (cdp == NULL || strcasecmp(aia, cdp) != 0)) {
		struct ca_write	 ca = { x->set->ca_classes, NULL, NULL,
		    w.cacert };

		if (ca.cacert != NULL)
			out = failed(x, srv, ca_entry_write(x, aia, &ca, err,
			    sizeof(err)), err);
		w.cacert = NULL;
	}
	w.classes = x->set->crl_classes;
	if (out == LD_OK && cdp != NULL && (w.crl != NULL || w.delta != NULL ||
	    w.cacert != NULL))
		out = failed(x, srv, ca_entry_write(x, cdp, &w, err,
		    sizeof(err)), err);
out:
	if (w.crl != NULL)
		free(bcrl.bv_val);
	if (w.delta != NULL)
		free(bdelta.bv_val);
	free(cader);
	free(cdp);
	free(aia);
	return out;
}

/* CRLISSUED, STARTUP: each CA certificate and its CRLs at the event. */
static int
ca_event(struct ld_call *x, cm_server_exit *srv)
{
	int64_t		 count = 0, idx;
	int		 rc, attempt;

	if ((rc = srv->set_context(srv, 0)) != CM_OK ||
	    (rc = prop_long(srv, "CertCount", &count)) != CM_OK) {
		srv->log(srv, CM_LOG_WARN, "cannot read CertCount (%d)", rc);
		return LD_RETRY;
	}
	pthread_mutex_lock(&x->x->ca_mu);
	for (attempt = 0; attempt < 2; attempt++) {
		if ((rc = connection(x, srv)) != LD_OK)
			break;
		for (idx = 0; idx < count && rc == LD_OK; idx++)
			rc = ca_index(x, srv, idx);
		if (rc != LD_RETRY || x->fresh || x->ld != NULL)
			break;
	}
	pthread_mutex_unlock(&x->x->ca_mu);
	return rc;
}

static int
ld_notify(void *state, int32_t event, int64_t context, cm_server_exit *srv)
{
	struct ld_exit	*x = state;
	struct ld_call	 c = { x, &x->set, NULL, 0 };
	int		 rc = CM_OK;

	pthread_rwlock_rdlock(&x->lock);
	if (event & CERT_EVENTS)
		rc = cert_event(&c, event, context, srv);
	else if (event & CA_EVENTS)
		rc = ca_event(&c, srv);
	call_end(&c);
	pthread_rwlock_unlock(&x->lock);
	return rc;
}

static int32_t
event_mask(const struct ld_settings *s)
{
	int32_t	 mask = 0;

	if (s->user_dn != NULL || s->user_filter != NULL)
		mask |= CERT_EVENTS;
	if (s->crl_dn != NULL || s->ca_dn != NULL)
		mask |= CA_EVENTS;
	return mask;
}

static void
describe(struct ld_exit *x)
{
	snprintf(x->desc, sizeof(x->desc), "LDAP publisher: %s%s%s%s%s%s",
	    x->set.url, x->set.starttls ? " (StartTLS)" : "",
	    x->set.user_dn || x->set.user_filter ? ", certificates to " : "",
	    x->set.user_dn || x->set.user_filter ? x->set.user_attr : "",
	    x->set.crl_dn ? ", CRLs to " : "",
	    x->set.crl_dn ? x->set.crl_dn : "");
}

/*
 * Take the settings of the module's section. 0, or -1 with the problems
 * logged (and in r when not NULL); the old settings then stay.
 */
static int
reload(struct ld_exit *x, cm_server_exit *srv, struct mu_buf *r)
{
	struct ld_settings s;
	struct mu_buf	 mine = { 0 };
	char		*state_file;

	if (r == NULL)
		r = &mine;
	if (settings_read(srv, &s, &state_file, r) != 0) {
		srv->log(srv, CM_LOG_ERROR, "%s", r->data ? r->data : "");
		settings_free(&s);
		free(state_file);
		mu_buf_free(&mine);
		return -1;
	}
	mu_buf_free(&mine);
	pool_close(x);
	settings_free(&x->set);
	x->set = s;
	if (state_file == NULL || x->state_file == NULL ||
	    strcmp(state_file, x->state_file) != 0) {
		marks_free(x);
		free(x->state_file);
		x->state_file = state_file;
		marks_load(x, srv);
	} else
		free(state_file);
	describe(x);
	return 0;
}

static void
ld_free(struct ld_exit *x)
{
	int	 i;

	pool_close(x);
	settings_free(&x->set);
	marks_free(x);
	free(x->state_file);
	pthread_rwlock_destroy(&x->lock);
	pthread_mutex_destroy(&x->pool_mu);
	pthread_mutex_destroy(&x->marks_mu);
	pthread_mutex_destroy(&x->ca_mu);
	for (i = 0; i < STRIPES; i++)
		pthread_mutex_destroy(&x->stripe[i]);
	free(x);
}

static int
ld_initialize(const char *config, cm_server_exit *srv, void **state,
    int32_t *mask)
{
	struct ld_exit	*x;
	int		 i;

	(void)config;
	if ((x = calloc(1, sizeof(*x))) == NULL)
		return CM_E_NOMEM;
	pthread_rwlock_init(&x->lock, NULL);
	pthread_mutex_init(&x->pool_mu, NULL);
	pthread_mutex_init(&x->marks_mu, NULL);
	pthread_mutex_init(&x->ca_mu, NULL);
	for (i = 0; i < STRIPES; i++)
		pthread_mutex_init(&x->stripe[i], NULL);
	if (reload(x, srv, NULL) == -1) {
		ld_free(x);
		return CM_E_INVALIDARG;
	}
	*mask = event_mask(&x->set);
	*state = x;
	return CM_OK;
}

static const char *
ld_get_description(void *state)
{
	struct ld_exit	*x = state;

	return x->desc;
}

static void
ld_shutdown(void *state)
{
	ld_free(state);
}

static int
ld_get_property(void *state, const char *name, int32_t flags,
    cm_value *out)
{
	(void)state;
	(void)flags;
	return mu_manage_info(name, "CertMint LDAP Exit Module",
	    "Publishes certificates, CA certificates and CRLs to an LDAP "
	    "directory", out);
}

/*
 * Refresh: take the section's settings. Else check every key, then
 * connect and bind as notify would, and read user_base when set.
 */
static int
ld_configure(void *state, cm_server_exit *srv, int32_t flags, char *report,
    size_t size)
{
	struct ld_exit	*x = state;
	struct ld_settings s;
	struct mu_buf	 r = { 0 };
	LDAPMessage	*res = NULL;
	LDAP		*ld = NULL;
	char		 err[512], *state_file = NULL;
	char		 noattr[] = LDAP_NO_ATTRS, *attrs[] = { noattr, NULL };
	int		 rc = CM_OK;

	if (flags & CM_CMM_REFRESHONLY) {
		pthread_rwlock_wrlock(&x->lock);
		if (reload(x, srv, &r) == -1)
			rc = CM_E_INVALIDARG;
		else
			mu_buf_printf(&r, "%s: settings reloaded\n", LD_NAME);
		pthread_rwlock_unlock(&x->lock);
		goto out;
	}
	if (settings_read(srv, &s, &state_file, &r) != 0) {
		rc = CM_E_INVALIDARG;
		goto done;
	}
	if (ld_connect(&s, &ld, err, sizeof(err)) != LDAP_SUCCESS) {
		mu_buf_printf(&r, "url = \"%s\": %s\n", s.url, err);
		rc = CM_E_FAIL;
		goto done;
	}
	mu_buf_printf(&r, "%s: connected to %s%s, bound as %s\n", LD_NAME,
	    s.url, s.starttls ? " with StartTLS" : "",
	    s.bind_dn ? s.bind_dn : "anonymous");
	if (s.user_base != NULL && ld_read(ld, s.user_base, attrs, &res, err,
	    sizeof(err)) != LDAP_SUCCESS) {
		mu_buf_printf(&r, "user_base = \"%s\": %s\n", s.user_base, err);
		rc = CM_E_FAIL;
	}
	ldap_msgfree(res);
	ldap_unbind_ext_s(ld, NULL, NULL);
done:
	settings_free(&s);
	free(state_file);
out:
	snprintf(report, size, "%s", r.data ? r.data : "");
	mu_buf_free(&r);
	return rc;
}

static const cm_manage_module ld_manage = {
	sizeof(cm_manage_module), ld_get_property, ld_set_property,
	ld_configure,
};

static const cm_manage_module *
ld_get_manage_module(void *state)
{
	(void)state;
	return &ld_manage;
}

static const struct cm_exit ld_exit = {
	CM_EXIT_MAGIC, CM_ABI_MAJOR, CM_ABI_MINOR, sizeof(struct cm_exit),
	LD_NAME, CM_THREADING_CONCURRENT,
	ld_initialize, ld_notify, ld_get_description, ld_get_manage_module,
	ld_shutdown,
};
CM_EXIT_MODULE(ld_exit)
