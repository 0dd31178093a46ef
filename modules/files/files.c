/*
 * files.c - CertMint_Files.Exit: AD CS's file publishing and Dogtag's
 * FileBasedPublisher (docs/modules/files.md). Issued and imported
 * certificates go to dir as DER and/or PEM, named by a template (the
 * serial; AD CS's <RequestID>.cer), created new, optionally only when the
 * request's CertFile attribute asks; a revocation keeps, moves, marks or
 * deletes them and a release from hold puts them back. Base and delta
 * CRLs go to crl_dir and CA certificates to aia_dir under AD CS's
 * %-token names, replaced atomically, never by an older CRL, with
 * numbered copies kept by count and age behind an optional link.
 *
 * State, not notifications: a retried or replayed event leaves the files
 * as the certificate was at that event, and an event older than the last
 * revocation or release applied to a certificate changes nothing, so a
 * replayed issuance never republishes a revoked certificate.
 *
 * Concurrent: events of different certificates run in parallel (their
 * fsyncs overlap); those of one certificate under one of STRIPES locks,
 * CRLs and CA certificates under one lock. The settings are swapped
 * under a read-write lock by configure --refresh.
 */

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/x509.h>

#include "files.h"
#include "modutil.h"

#define FILES_NAME	"CertMint_Files.Exit"
#define STRIPES		64
#define NAME_MAX_LEN	200

struct files {
	pthread_rwlock_t cfg_lock;	/* cfg */
	struct fcfg	*cfg;
	pthread_mutex_t	 ca_lock;	/* CRL and CA certificate files */
	pthread_mutex_t	 stripe[STRIPES];
};

#define FILES_EVENTS	(CM_EXITEVENT_CERTISSUED | CM_EXITEVENT_CERTIMPORTED | \
	CM_EXITEVENT_CERTREVOKED | CM_EXITEVENT_CERTUNREVOKED | \
	CM_EXITEVENT_CRLISSUED | CM_EXITEVENT_STARTUP)

/* --- names ------------------------------------------------------------- */

/*
 * A file name made from an event's properties is one plain name: no '/',
 * not hidden, and text that shows what it is (a listing must not show
 * "bmp\u202egnp.exe" as "bmpexe.png").
 */
static int
valid_name(const char *s)
{
	if (*s == '\0' || *s == '.' || strlen(s) > NAME_MAX_LEN ||
	    strchr(s, '/') != NULL)
		return 0;
	return mu_plain_text(s);
}

/* A CA property (context 0) as a string; "" when absent. */
static int
ca_string(cm_server_exit *srv, const char *name, struct mu_buf *b,
    size_t max)
{
	cm_value	 v;
	int		 rc;

	memset(&v, 0, sizeof(v));
	rc = srv->get_certificate_property(srv, name, CM_PROPTYPE_STRING, &v);
	if (rc == CM_E_PROPERTY_EMPTY || (rc == CM_OK && v.data == NULL))
		return 0;
	if (rc != CM_OK)
		return rc;
	return mu_buf_add(b, v.data, v.len < max ? v.len : max) == 0 ? 0 :
	    CM_E_NOMEM;
}

/* AD CS's value of token tok for CA certificate idx. */
static int
token_value(cm_server_exit *srv, int tok, long idx, int delta,
    struct mu_buf *b)
{
	struct mu_buf	 host = { 0 };
	char		 prop[64];
	int		 rc = 0;

	switch (tok) {
	case 1:		/* ServerDNSName */
		return ca_string(srv, "MachineDNSName", b, SIZE_MAX);
	case 2:		/* ServerShortName */
		if ((rc = ca_string(srv, "MachineDNSName", &host, SIZE_MAX)) ==
		    0 && host.data != NULL)
			rc = mu_buf_add(b, host.data, strcspn(host.data, "."));
		mu_buf_free(&host);
		return rc;
	case 3:		/* SanitizedCaName */
		return ca_string(srv, "SanitizedCAName", b, SIZE_MAX);
	case 7:		/* SanitizedShortName: as certmint's URLs, 32 */
		return ca_string(srv, "SanitizedCAName", b, 32);
	case 4:		/* CertificateName */
	case 8:		/* CRLNameSuffix */
		snprintf(prop, sizeof(prop), "%s.%ld", tok == 4 ? "CertSuffix" :
		    "CRLSuffix", idx);
		return ca_string(srv, prop, b, SIZE_MAX);
	case 9:		/* DeltaCRLAllowed */
		return delta ? mu_buf_str(b, "+") : 0;
	default:	/* 6: ConfigurationContainer, none */
		return 0;
	}
}

/*
 * tmpl with AD CS's %-tokens for CA certificate idx (a delta CRL's name
 * when delta). 0 with *out, or a CM_E_* error.
 */
static int
token_expand(cm_server_exit *srv, const char *tmpl, long idx, int delta,
    char **out)
{
	struct mu_buf	 b = { 0 };
	const char	*p;
	int		 rc = 0;

	*out = NULL;
	for (p = tmpl; *p != '\0' && rc == 0; p++) {
		if (*p != '%')
			rc = mu_buf_add(&b, p, 1);
		else if (*++p == '%')
			rc = mu_buf_add(&b, "%", 1);
		else
			rc = token_value(srv, *p - '0', idx, delta, &b);
	}
	if (rc == 0 && mu_buf_add(&b, "", 0) == 0) {
		*out = b.data;
		return 0;
	}
	mu_buf_free(&b);
	return rc ? rc : CM_E_NOMEM;
}

/* --- properties -------------------------------------------------------- */

static int
prop_long(cm_server_exit *srv, const char *name, int64_t *out)
{
	cm_value	 v;
	int		 rc;

	memset(&v, 0, sizeof(v));
	rc = srv->get_certificate_property(srv, name, CM_PROPTYPE_LONG, &v);
	if (rc == CM_E_INVALIDARG || rc == CM_E_NOCONTEXT) {
		memset(&v, 0, sizeof(v));
		rc = srv->get_request_property(srv, name, CM_PROPTYPE_LONG, &v);
	}
	*out = v.l;
	return rc;
}

/* Say a property error in err; FS_TRANSIENT (the server's trouble). */
static int
prop_error(char *err, size_t errlen, const char *name, int rc)
{
	snprintf(err, errlen, "cannot read %s (%d)", name, rc);
	return FS_TRANSIENT;
}

/* --- certificates ------------------------------------------------------ */

/* What one certificate event is about. */
struct certev {
	const struct fcfg *cfg;
	const char	*name;		/* expanded cert_name */
	unsigned char	*der;
	size_t		 der_len;
	char		*pem;
	char		*serial;	/* SerialNumber, or NULL */
	int64_t		 seq;
	int		 revoked;
};

/* The bytes of format f and its file name (name + extension). */
static const void *
cert_file(const struct certev *e, int f, char *fname, size_t len,
    size_t *dlen)
{
	snprintf(fname, len, "%s%s", e->name, f == FMT_DER ? ".cer" : ".pem");
	*dlen = f == FMT_DER ? e->der_len : strlen(e->pem);
	return f == FMT_DER ? (const void *)e->der : (const void *)e->pem;
}

/* dir/name holds data, replaced only when it differs. */
static int
put_file(const struct fcfg *c, const char *dir, const char *name,
    const void *data, size_t len, char *err, size_t errlen)
{
	unsigned char	*have;
	size_t		 hlen;
	int		 rc, same;

	if ((rc = fs_read(dir, name, &have, &hlen, err, errlen)) == FS_OK) {
		same = hlen == len && memcmp(have, data, len) == 0;
		free(have);
		if (same)
			return FS_OK;
	}
	return fs_replace(dir, name, data, len, c->mode, c->sync, err, errlen);
}

/*
 * Is dir/name this certificate's (it holds data) or absent: 1; another
 * certificate's: 0 (a cert_name two certificates share, the second
 * refused by create-new: an event of one must not touch the other's
 * file); or FS_TRANSIENT (err).
 */
static int
ours(const char *dir, const char *name, const void *data, size_t len,
    char *err, size_t errlen)
{
	unsigned char	*have;
	size_t		 hlen;
	int		 rc, same;

	if ((rc = fs_read(dir, name, &have, &hlen, err, errlen)) == 1)
		return 1;
	if (rc != FS_OK)
		return rc;
	same = hlen == len && memcmp(have, data, len) == 0;
	free(have);
	return same;
}

/* Remove dir/name when it is this certificate's (holds data). */
static int
remove_ours(const struct fcfg *c, const char *dir, const char *name,
    const void *data, size_t len, char *err, size_t errlen)
{
	int	 rc = ours(dir, name, data, len, err, errlen);

	if (rc < 0)
		return rc;
	return rc == 1 ? fs_remove(dir, name, c->sync, err, errlen) : FS_OK;
}

/*
 * The certificate valid at the event: its files in dir (create-new), no
 * revoked copy or mark of it left (a release from hold).
 */
static int
cert_valid(const struct certev *e, char *err, size_t errlen)
{
	const struct fcfg *c = e->cfg;
	const void	*data;
	char		 fname[NAME_MAX_LEN + 16];
	size_t		 len;
	int		 f, rc = FS_OK;

	for (f = FMT_DER; f <= FMT_PEM && rc == FS_OK; f <<= 1) {
		if (!(c->formats & f))
			continue;
		data = cert_file(e, f, fname, sizeof(fname), &len);
		rc = fs_create(c->dir, fname, data, len, c->mode, c->sync, err,
		    errlen);
		if (rc == FS_OK && c->on_revoke == REVOKE_MOVE)
			rc = remove_ours(c, c->revoked_dir, fname, data, len,
			    err, errlen);
		if (rc == FS_OK && c->on_revoke == REVOKE_MARK) {
			char mark[NAME_MAX_LEN + 32];

			snprintf(mark, sizeof(mark), "%s.revoked", fname);
			rc = remove_ours(c, c->dir, mark, data, len, err,
			    errlen);
		}
	}
	return rc;
}

/*
 * The certificate revoked at the event: its files as on_revoke says. A
 * file of its name that holds another certificate is left as it is.
 */
static int
cert_revoked(const struct certev *e, char *err, size_t errlen)
{
	const struct fcfg *c = e->cfg;
	const void	*data;
	char		 fname[NAME_MAX_LEN + 16], mark[NAME_MAX_LEN + 32];
	size_t		 len;
	int		 f, rc = FS_OK, mine;

	if (c->on_revoke == REVOKE_MOVE)
		rc = fs_mkdir(c->revoked_dir, err, errlen);
	for (f = FMT_DER; f <= FMT_PEM && rc == FS_OK; f <<= 1) {
		if (!(c->formats & f) || c->on_revoke == REVOKE_KEEP)
			continue;
		data = cert_file(e, f, fname, sizeof(fname), &len);
		if ((mine = ours(c->dir, fname, data, len, err, errlen)) < 0)
			return mine;
		if (mine == 0)
			continue;
		snprintf(mark, sizeof(mark), "%s.revoked", fname);
		/* The new place first: a crash between leaves both. */
		if (c->on_revoke == REVOKE_MOVE)
			rc = put_file(c, c->revoked_dir, fname, data, len, err,
			    errlen);
		else if (c->on_revoke == REVOKE_MARK)
			rc = put_file(c, c->dir, mark, data, len, err, errlen);
		if (rc == FS_OK)
			rc = fs_remove(c->dir, fname, c->sync, err, errlen);
	}
	return rc;
}

/*
 * The sequence of the last revocation or release applied to e's name for
 * e's certificate (0 when none): an older event of it has been
 * overtaken. "SEQ revoked|valid SERIAL"; a state of another certificate
 * of the same name is none of this one's (one written before the serial
 * was, without it, is taken as this one's).
 */
static int
state_read(const struct fcfg *c, const struct certev *e, int64_t *seq,
    char *err, size_t errlen)
{
	unsigned char	*data;
	size_t		 len;
	char		 buf[128], serial[80];
	int		 rc;

	*seq = 0;
	if ((rc = fs_read(c->state_dir, e->name, &data, &len, err,
	    errlen)) != 0)
		return rc == 1 ? FS_OK : rc;
	snprintf(buf, sizeof(buf), "%.*s", (int)(len < 127 ? len : 127),
	    (char *)data);
	free(data);
	if (sscanf(buf, "%*s %*s %79s", serial) == 1 && e->serial != NULL &&
	    strcasecmp(serial, e->serial) != 0)
		return FS_OK;
	*seq = strtoll(buf, NULL, 10);
	return FS_OK;
}

static int
state_write(const struct fcfg *c, const struct certev *e, char *err,
    size_t errlen)
{
	char	 buf[160];
	int	 rc;

	if ((rc = fs_mkdir(c->state_dir, err, errlen)) != FS_OK)
		return rc;
	snprintf(buf, sizeof(buf), "%" PRId64 " %s %s\n", e->seq, e->revoked ?
	    "revoked" : "valid", e->serial != NULL ? e->serial : "-");
	return fs_replace(c->state_dir, e->name, buf, strlen(buf), 0644,
	    c->sync, err, errlen);
}

/* Apply e under its certificate's lock. */
static int
cert_apply(struct files *f, const struct certev *e, int32_t event,
    cm_server_exit *srv, char *err, size_t errlen)
{
	const struct fcfg *c = e->cfg;
	pthread_mutex_t	*lk;
	int64_t		 last = 0;
	int		 rc, track = c->on_revoke != REVOKE_KEEP;

	lk = &f->stripe[mu_hash(e->name) % STRIPES];
	pthread_mutex_lock(lk);
	if (track && (rc = state_read(c, e, &last, err, errlen)) != FS_OK)
		goto out;
	if (last >= e->seq) {
		srv->log(srv, CM_LOG_DEBUG, "%s: event %" PRId64 " overtaken by "
		    "event %" PRId64 ": files left as they are", e->name, e->seq,
		    last);
		rc = FS_OK;
		goto out;
	}
	rc = e->revoked ? cert_revoked(e, err, errlen) :
	    cert_valid(e, err, errlen);
	if (rc == FS_OK && track && (event == CM_EXITEVENT_CERTREVOKED ||
	    event == CM_EXITEVENT_CERTUNREVOKED))
		rc = state_write(c, e, err, errlen);
out:
	pthread_mutex_unlock(lk);
	return rc;
}

/* The CertFile rule (AD CS): publish only when the request names one. */
static int
certfile_asked(cm_server_exit *srv)
{
	const char	*v = NULL;

	if (srv->get_request_attribute(srv, "CertFile", &v) != CM_OK ||
	    v == NULL)
		return 0;
	while (isspace((unsigned char)*v))
		v++;
	return *v != '\0';
}

static int
cert_event(struct files *f, const struct fcfg *c, int32_t event,
    int64_t ctx, cm_server_exit *srv, char *err, size_t errlen)
{
	struct certev	 e = { .cfg = c };
	char		*name = NULL, why[256];
	int64_t		 disp = 0;
	int		 rc;

	if (c->dir == NULL || c->certs == CERTS_NONE)
		return FS_OK;
	if ((rc = srv->set_context(srv, ctx)) != CM_OK)
		return prop_error(err, errlen, "the request", rc);
	if (c->certs == CERTS_CERTFILE && !certfile_asked(srv))
		return FS_OK;
	if ((rc = mu_prop_binary(srv, "RawCertificate", &e.der,
	    &e.der_len)) != CM_OK)
		return rc == CM_E_PROPERTY_EMPTY ? FS_OK :
		    prop_error(err, errlen, "RawCertificate", rc);
	if ((rc = prop_long(srv, "EventSequence", &e.seq)) != CM_OK ||
	    (rc = prop_long(srv, "Disposition", &disp)) != CM_OK) {
		rc = prop_error(err, errlen, "EventSequence, Disposition", rc);
		goto out;
	}
	e.revoked = disp == CM_DISP_REVOKED;
	if (mu_prop_text(srv, "SerialNumber", &e.serial) != CM_OK)
		e.serial = NULL;
	if (mu_expand(srv, c->cert_name, "", &name, why, sizeof(why)) == -1 ||
	    !valid_name(name)) {
		snprintf(err, errlen, "cert_name \"%s\" makes \"%s\": not a "
		    "file name", c->cert_name, name ? name : why);
		rc = FS_PERMANENT;
		goto out;
	}
	e.name = name;
	if ((c->formats & FMT_PEM) && (e.pem = mu_pem("CERTIFICATE", e.der,
	    e.der_len)) == NULL) {
		snprintf(err, errlen, "out of memory");
		rc = FS_TRANSIENT;
		goto out;
	}
	if ((rc = cert_apply(f, &e, event, srv, err, errlen)) == FS_OK)
		srv->log(srv, CM_LOG_DEBUG, "%s: %s in %s", name, e.revoked ?
		    "revoked" : "published", c->dir);
out:
	free(name);
	free(e.der);
	free(e.pem);
	free(e.serial);
	return rc;
}

/* --- CRLs and CA certificates ------------------------------------------ */

/* The CRL number of a DER CRL, or NULL when it is not one or has none. */
static BIGNUM *
crl_number(const unsigned char *der, size_t len)
{
	const unsigned char *p = der;
	ASN1_INTEGER	*n;
	X509_CRL	*crl;
	BIGNUM		*bn = NULL;

	if ((crl = d2i_X509_CRL(NULL, &p, (long)len)) == NULL)
		return NULL;
	if ((n = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL)) !=
	    NULL) {
		bn = ASN1_INTEGER_to_BN(n, NULL);
		ASN1_INTEGER_free(n);
	}
	X509_CRL_free(crl);
	return bn;
}

/*
 * What is at crl_dir/name already: 1 a newer CRL than num (an old event,
 * a replay, must not put an older CRL back), 2 this very CRL, else 0.
 */
static int
crl_existing(const struct fcfg *c, const char *name, const unsigned char *der,
    size_t len, const BIGNUM *num)
{
	unsigned char	*have;
	size_t		 hlen;
	BIGNUM		*old;
	char		 err[256];
	int		 rc = 0;

	if (fs_read(c->crl_dir, name, &have, &hlen, err, sizeof(err)) != FS_OK)
		return 0;
	if (hlen == len && memcmp(have, der, len) == 0)
		rc = 2;
	else if ((old = crl_number(have, hlen)) != NULL) {
		rc = BN_cmp(old, num) > 0;
		BN_free(old);
	}
	free(have);
	return rc;
}

/*
 * Publish one CRL as crl_dir/name: a numbered copy "<stem>-<N><ext>" when
 * copies are kept (retention, link), then the name itself (a file, or a
 * link to the copy), then retention.
 */
static int
crl_publish(const struct fcfg *c, const char *name, const unsigned char *der,
    size_t len, cm_server_exit *srv, char *err, size_t errlen)
{
	const char	*dot = strrchr(name, '.');
	char		*dec = NULL, stem[NAME_MAX_LEN + 1], copy[NAME_MAX_LEN + 64];
	BIGNUM		*num;
	int		 rc, history, there;

	if ((num = crl_number(der, len)) == NULL) {
		snprintf(err, errlen, "%s: not a CRL with a CRL number", name);
		return FS_PERMANENT;
	}
	history = c->crl_keep > 0 || c->crl_max_age > 0 || c->latest_link;
	if ((there = crl_existing(c, name, der, len, num)) == 1)
		srv->log(srv, CM_LOG_DEBUG, "%s: the CRL there is newer than "
		    "this event's: kept", name);
	if (there == 1 || (there == 2 && !history)) {
		BN_free(num);
		return FS_OK;
	}
	snprintf(stem, sizeof(stem), "%.*s", (int)(dot ? dot - name :
	    (int)strlen(name)), name);
	if ((dec = BN_bn2dec(num)) == NULL) {
		BN_free(num);
		snprintf(err, errlen, "out of memory");
		return FS_TRANSIENT;
	}
	snprintf(copy, sizeof(copy), "%s-%s%s", stem, dec, dot ? dot : "");
	rc = history ? put_file(c, c->crl_dir, copy, der, len, err, errlen) :
	    FS_OK;
	if (rc == FS_OK)
		rc = c->latest_link ? fs_symlink(c->crl_dir, name, copy,
		    c->sync, err, errlen) : put_file(c, c->crl_dir, name, der,
		    len, err, errlen);
	if (rc == FS_OK && history)
		rc = fs_retain(c->crl_dir, stem, dot ? dot : "", c->crl_keep,
		    c->crl_max_age, c->sync, err, errlen);
	if (rc == FS_OK && there != 2)
		srv->log(srv, CM_LOG_INFO, "%s: CRL number %s published in %s",
		    name, dec, c->crl_dir);
	OPENSSL_free(dec);
	BN_free(num);
	return rc;
}

/* Base (delta 0) or delta CRL of CA certificate i, when it has one. */
static int
crl_one(const struct fcfg *c, cm_server_exit *srv, long i, int delta,
    char *err, size_t errlen)
{
	unsigned char	*der;
	size_t		 len;
	char		 prop[48], *name = NULL;
	int		 rc;

	snprintf(prop, sizeof(prop), "%s.%ld", delta ? "RawDeltaCRL" :
	    "RawCRL", i);
	if ((rc = mu_prop_binary(srv, prop, &der, &len)) != CM_OK)
		return rc == CM_E_PROPERTY_EMPTY ? FS_OK :
		    prop_error(err, errlen, prop, rc);
	if ((rc = token_expand(srv, c->crl_name, i, delta, &name)) != 0)
		rc = prop_error(err, errlen, "the CRL name's properties", rc);
	else if (!valid_name(name)) {
		snprintf(err, errlen, "crl_name \"%s\" makes \"%s\": not a file "
		    "name", c->crl_name, name);
		rc = FS_PERMANENT;
	} else
		rc = crl_publish(c, name, der, len, srv, err, errlen);
	free(name);
	free(der);
	return rc;
}

/* Every CA certificate in use at the event, as aia_dir/aia_name. */
static int
cacerts_publish(const struct fcfg *c, cm_server_exit *srv, int64_t count,
    char *err, size_t errlen)
{
	unsigned char	*der;
	size_t		 len;
	char		 prop[48], *name;
	long		 i;
	int		 rc = FS_OK;

	for (i = 0; i < count && rc == FS_OK; i++) {
		snprintf(prop, sizeof(prop), "RawCACertificate.%ld", i);
		if ((rc = mu_prop_binary(srv, prop, &der, &len)) != CM_OK)
			return prop_error(err, errlen, prop, rc);
		if ((rc = token_expand(srv, c->aia_name, i, 0, &name)) != 0)
			rc = prop_error(err, errlen, "the AIA name's properties",
			    rc);
		else if (!valid_name(name)) {
			snprintf(err, errlen, "aia_name \"%s\" makes \"%s\": not "
			    "a file name", c->aia_name, name);
			rc = FS_PERMANENT;
		} else
			rc = put_file(c, c->aia_dir, name, der, len, err,
			    errlen);
		free(name);
		free(der);
	}
	return rc;
}

/*
 * CRLISSUED: the base and delta CRLs of every CA certificate that still
 * publishes (CRLState valid), as AD CS's sample walks them; then (and at
 * STARTUP) the CA certificates. The properties are those at the event.
 */
static int
ca_event(struct files *f, const struct fcfg *c, int32_t event,
    cm_server_exit *srv, char *err, size_t errlen)
{
	char		 prop[32];
	int64_t		 count, state;
	long		 i;
	int		 rc;

	if ((event == CM_EXITEVENT_CRLISSUED && c->crl_dir == NULL &&
	    c->aia_dir == NULL) || (event == CM_EXITEVENT_STARTUP &&
	    c->aia_dir == NULL))
		return FS_OK;
	if ((rc = srv->set_context(srv, 0)) != CM_OK ||
	    (rc = prop_long(srv, "CertCount", &count)) != CM_OK)
		return prop_error(err, errlen, "CertCount", rc);
	pthread_mutex_lock(&f->ca_lock);
	rc = FS_OK;
	for (i = 0; event == CM_EXITEVENT_CRLISSUED && c->crl_dir != NULL &&
	    i < count && rc == FS_OK; i++) {
		snprintf(prop, sizeof(prop), "CRLState.%ld", i);
		if ((rc = prop_long(srv, prop, &state)) != CM_OK) {
			rc = prop_error(err, errlen, prop, rc);
			break;
		}
		if (state != CM_CA_DISP_VALID)
			continue;
		if ((rc = crl_one(c, srv, i, 0, err, errlen)) == FS_OK)
			rc = crl_one(c, srv, i, 1, err, errlen);
	}
	if (rc == FS_OK && c->aia_dir != NULL)
		rc = cacerts_publish(c, srv, count, err, errlen);
	pthread_mutex_unlock(&f->ca_lock);
	return rc;
}

/* --- the module -------------------------------------------------------- */

static int
files_initialize(const char *config, cm_server_exit *srv, void **state,
    int32_t *event_mask)
{
	struct mu_buf	 errs = { 0 };
	struct files	*f;
	int		 i;

	(void)config;
	if ((f = calloc(1, sizeof(*f))) == NULL)
		return CM_E_NOMEM;
	if (cfg_read(srv, &f->cfg, &errs) == -1) {
		trim(&errs);
		srv->log(srv, CM_LOG_ERROR, "%s", errs.data ? errs.data :
		    "out of memory");
		mu_buf_free(&errs);
		free(f);
		return CM_E_INVALIDARG;
	}
	pthread_rwlock_init(&f->cfg_lock, NULL);
	pthread_mutex_init(&f->ca_lock, NULL);
	for (i = 0; i < STRIPES; i++)
		pthread_mutex_init(&f->stripe[i], NULL);
	*state = f;
	*event_mask = FILES_EVENTS;
	return CM_OK;
}

static int
files_notify(void *state, int32_t event, int64_t context,
    cm_server_exit *srv)
{
	struct files	*f = state;
	char		 err[768] = "";
	int		 rc = FS_OK;

	pthread_rwlock_rdlock(&f->cfg_lock);
	switch (event) {
	case CM_EXITEVENT_CERTISSUED:
	case CM_EXITEVENT_CERTIMPORTED:
	case CM_EXITEVENT_CERTREVOKED:
	case CM_EXITEVENT_CERTUNREVOKED:
		rc = cert_event(f, f->cfg, event, context, srv, err,
		    sizeof(err));
		break;
	case CM_EXITEVENT_CRLISSUED:
	case CM_EXITEVENT_STARTUP:
		rc = ca_event(f, f->cfg, event, srv, err, sizeof(err));
		break;
	default:
		break;
	}
	pthread_rwlock_unlock(&f->cfg_lock);
	if (rc == FS_OK)
		return CM_OK;
	/* The host records this line as the failure's cause. */
	srv->log(srv, rc == FS_PERMANENT ? CM_LOG_ERROR : CM_LOG_WARN,
	    "%s%s: %s", rc == FS_PERMANENT ? "permanent: " : "",
	    mu_event_name(event), err);
	return rc == FS_PERMANENT ? CM_E_PERMANENT : CM_E_FAIL;
}

static const char *
files_get_description(void *state)
{
	(void)state;
	return "Publishes certificates, CRLs and CA certificates as files "
	    "(AD CS file publishing)";
}

static void
files_shutdown(void *state)
{
	struct files	*f = state;
	int		 i;

	if (f == NULL)
		return;
	cfg_free(f->cfg);
	pthread_rwlock_destroy(&f->cfg_lock);
	pthread_mutex_destroy(&f->ca_lock);
	for (i = 0; i < STRIPES; i++)
		pthread_mutex_destroy(&f->stripe[i]);
	free(f);
}

/* --- the manage module ------------------------------------------------- */

static int
files_get_property(void *state, const char *name, int32_t flags,
    cm_value *out)
{
	(void)state;
	(void)flags;
	return mu_manage_info(name, "CertMint Files Exit Module",
	    "Certificates, CRLs and CA certificates to files (AD CS file "
	    "publishing)", out);
}

/* Check one directory key: its path can take a new file. */
static void
check_dir(struct mu_buf *rep, const char *key, const char *dir, int *bad_)
{
	char	 err[512];

	if (dir == NULL)
		return;
	if (fs_check_dir(dir, err, sizeof(err)) != FS_OK) {
		mu_buf_printf(rep, "%s: %s; ", key, err);
		*bad_ = 1;
	} else
		mu_buf_printf(rep, "%s: %s is writable; ", key, dir);
}

static int
files_configure(void *state, cm_server_exit *srv, int32_t flags,
    char *report, size_t report_size)
{
	struct files	*f = state;
	struct mu_buf	 rep = { 0 };
	struct fcfg	*c, *old;
	int		 failed = 0;

	if (cfg_read(srv, &c, &rep) == -1) {
		report_put(report, report_size, &rep);
		mu_buf_free(&rep);
		return CM_E_INVALIDARG;
	}
	if (flags & CM_CMM_REFRESHONLY) {
		pthread_rwlock_wrlock(&f->cfg_lock);
		old = f->cfg;
		f->cfg = c;
		pthread_rwlock_unlock(&f->cfg_lock);
		cfg_free(old);
		snprintf(report, report_size, "settings reread");
		return CM_OK;
	}
	check_dir(&rep, "dir", c->dir, &failed);
	if (c->dir != NULL && c->on_revoke == REVOKE_MOVE &&
	    access(c->revoked_dir, F_OK) == 0)
		check_dir(&rep, "revoked_dir", c->revoked_dir, &failed);
	check_dir(&rep, "crl_dir", c->crl_dir, &failed);
	check_dir(&rep, "aia_dir", c->aia_dir, &failed);
	report_put(report, report_size, &rep);
	mu_buf_free(&rep);
	cfg_free(c);
	return failed ? CM_E_FAIL : CM_OK;
}

static const cm_manage_module files_manage = {
	sizeof(cm_manage_module),
	files_get_property,
	files_set_property,
	files_configure,
};

static const cm_manage_module *
files_get_manage_module(void *state)
{
	(void)state;
	return &files_manage;
}

static const struct cm_exit files_exit = {
	CM_EXIT_MAGIC, CM_ABI_MAJOR, CM_ABI_MINOR, sizeof(struct cm_exit),
	FILES_NAME,
	CM_THREADING_CONCURRENT,
	files_initialize, files_notify, files_get_description,
	files_get_manage_module,
	files_shutdown,
};
CM_EXIT_MODULE(files_exit)
