/*
 * sample_exit.c - Sample.Exit, certmint's version of the Windows SDK exit
 * module sample (certxsam, docs: adcs-reference section 6.1). With
 * PublishCertFlags containing EXITPUB_FILE (0x1) it writes an issued
 * certificate to <directory>/<RequestID>.cer when the request carries a
 * non-empty CertFile attribute, never over an existing file; on CRLISSUED
 * it writes each valid CA certificate's base and delta CRLs to
 * <directory>/crl-<i>.crl and crl-<i>+.crl. Its manage module answers the
 * five CMM properties, sets "directory" and "PublishCertFlags", and checks
 * the directory on configure.
 *
 * Declared CM_THREADING_CONCURRENT (certxsam is THREADFLAGS_BOTH): notifies
 * may overlap each other and the manage module's calls, so the settings are
 * read under a mutex and each notify works on its own copy.
 *
 * Build out of tree: make (uses pkg-config --cflags certmint-exit).
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <certmint/exit.h>

#define SAMPLE_NAME	"Sample.Exit"
#define DEFAULT_DIR	"/tmp/certmint-sample"

/* PublishCertFlags (certsrv.h): the only one this sample acts on. */
#define EXITPUB_FILE	0x1

/* The events certxsam asks for: 0x27F. */
#define SAMPLE_EVENTS	(CM_EXITEVENT_CERTDENIED | CM_EXITEVENT_CERTISSUED | \
	CM_EXITEVENT_CERTPENDING | CM_EXITEVENT_CERTRETRIEVEPENDING | \
	CM_EXITEVENT_CERTREVOKED | CM_EXITEVENT_CRLISSUED | \
	CM_EXITEVENT_SHUTDOWN | CM_EXITEVENT_CERTIMPORTED)

/* What configure and set_property change while notifies run. */
struct settings {
	char		 dir[1024];
	long		 publish_flags;
};

struct sample {
	pthread_mutex_t	 mu;		/* set */
	struct settings	 set;
	/* read once at initialize, as certxsam does */
	int64_t		 ca_type;
	int64_t		 cert_count;
	char		 regloc[256];	/* ModuleRegistryLocation */
};

static void
settings_get(struct sample *s, struct settings *out)
{
	pthread_mutex_lock(&s->mu);
	*out = s->set;
	pthread_mutex_unlock(&s->mu);
}

/* Parse a PublishCertFlags value (decimal or 0x hex). 0 or -1. */
static int
parse_flags(const char *v, long *flags)
{
	char	*end;
	long	 n;

	errno = 0;
	n = strtol(v, &end, 0);
	if (errno != 0 || end == v || *end != '\0' || n < 0 ||
	    n > 0xffffffffL)
		return -1;
	*flags = n;
	return 0;
}

/*
 * Read the module's config section into set: directory and
 * PublishCertFlags (default 0: no file is written). Returns 0, or -1 with
 * a message in why when PublishCertFlags is not a number.
 */
static int
read_config(cm_server_exit *srv, struct settings *set, char *why,
    size_t whylen)
{
	const char	*v;

	if (srv->config_get(srv, "directory", &v) != CM_OK || *v == '\0')
		v = DEFAULT_DIR;
	snprintf(set->dir, sizeof(set->dir), "%s", v);
	set->publish_flags = 0;
	if (srv->config_get(srv, "PublishCertFlags", &v) == CM_OK &&
	    parse_flags(v, &set->publish_flags) == -1) {
		snprintf(why, whylen, "PublishCertFlags \"%s\" is not a number",
		    v);
		return -1;
	}
	return 0;
}

static int
get_long(cm_server_exit *srv, const char *name, int64_t *out)
{
	cm_value	 v;
	int		 rc;

	if ((rc = srv->get_certificate_property(srv, name, CM_PROPTYPE_LONG,
	    &v)) == CM_OK)
		*out = v.l;
	return rc;
}

static int
sample_initialize(const char *config, cm_server_exit *srv, void **state,
    int32_t *event_mask)
{
	struct sample	*s;
	cm_value	 v;
	char		 why[256];

	(void)config;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return CM_E_NOMEM;
	if (read_config(srv, &s->set, why, sizeof(why)) == -1) {
		srv->log(srv, CM_LOG_ERROR, "%s", why);
		free(s);
		return CM_E_INVALIDARG;
	}
	/* The CA's properties certxsam reads, at context 0. */
	if (srv->set_context(srv, 0) != CM_OK ||
	    get_long(srv, "CAType", &s->ca_type) != CM_OK ||
	    get_long(srv, "CertCount", &s->cert_count) != CM_OK)
		srv->log(srv, CM_LOG_WARN, "cannot read CAType and CertCount");
	if (srv->get_certificate_property(srv, "ModuleRegistryLocation",
	    CM_PROPTYPE_STRING, &v) == CM_OK)
		snprintf(s->regloc, sizeof(s->regloc), "%s",
		    (const char *)v.data);
	pthread_mutex_init(&s->mu, NULL);
	srv->log(srv, CM_LOG_DEBUG, "%s: CA type %" PRId64 ", %" PRId64
	    " CA certificate(s), PublishCertFlags 0x%lx, directory %s",
	    s->regloc, s->ca_type, s->cert_count, s->set.publish_flags,
	    s->set.dir);
	*state = s;
	*event_mask = SAMPLE_EVENTS;
	return CM_OK;
}

/* Write all of len bytes to fd; 0 or -1 (errno set). */
static int
write_all(int fd, const void *data, size_t len)
{
	ssize_t	 n;
	size_t	 off;

	for (off = 0; off < len; off += (size_t)n)
		if ((n = write(fd, (const char *)data + off, len - off)) <= 0) {
			if (n == 0)
				errno = EIO;
			if (errno != EINTR)
				return -1;
			n = 0;
		}
	return 0;
}

/*
 * Write len bytes to dir/name through a temporary file (unique: notifies
 * may overlap) and rename(2): a reader never sees half a file.
 */
static int
write_file_atomic(cm_server_exit *srv, const char *dir, const char *name,
    const void *data, size_t len)
{
	char	 path[1200], tmp[1300];
	int	 fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path);
	if ((fd = mkstemp(tmp)) == -1) {
		srv->log(srv, CM_LOG_ERROR, "%s: %s", tmp, strerror(errno));
		return CM_E_FAIL;
	}
	if (fchmod(fd, 0644) == -1 || write_all(fd, data, len) == -1) {
		srv->log(srv, CM_LOG_ERROR, "%s: %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		return CM_E_FAIL;
	}
	if (close(fd) == -1 || rename(tmp, path) == -1) {
		srv->log(srv, CM_LOG_ERROR, "%s: %s", path, strerror(errno));
		unlink(tmp);
		return CM_E_FAIL;
	}
	return CM_OK;
}

/*
 * Create dir/name with data, as certxsam's CREATE_NEW: an existing file is
 * left alone and the notify fails.
 */
static int
write_file_new(cm_server_exit *srv, const char *dir, const char *name,
    const void *data, size_t len)
{
	char	 path[1200];
	int	 fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644)) == -1) {
		srv->log(srv, CM_LOG_ERROR, "%s: %s", path, strerror(errno));
		return CM_E_FAIL;
	}
	if (write_all(fd, data, len) == -1) {
		srv->log(srv, CM_LOG_ERROR, "%s: %s", path, strerror(errno));
		close(fd);
		unlink(path);	/* ours: created above */
		return CM_E_FAIL;
	}
	if (close(fd) == -1) {
		srv->log(srv, CM_LOG_ERROR, "%s: %s", path, strerror(errno));
		unlink(path);
		return CM_E_FAIL;
	}
	return CM_OK;
}

static int
cert_issued(struct sample *s, int64_t context, cm_server_exit *srv)
{
	struct settings	 set;
	const char	*attr;
	cm_value	 id, cert;
	char		 name[64];
	int		 rc;

	settings_get(s, &set);
	if (!(set.publish_flags & EXITPUB_FILE))
		return CM_OK;
	if ((rc = srv->set_context(srv, context)) != CM_OK ||
	    (rc = srv->get_certificate_property(srv, "RawCertificate",
	    CM_PROPTYPE_BINARY, &cert)) != CM_OK) {
		srv->log(srv, CM_LOG_ERROR, "request %" PRId64 ": cannot read "
		    "the certificate (%d)", context, rc);
		return rc;
	}
	/* The attribute only switches the copy on; empty means no. */
	if (srv->get_request_attribute(srv, "CertFile", &attr) != CM_OK ||
	    attr == NULL || *attr == '\0')
		return CM_OK;
	if ((rc = srv->get_request_property(srv, "RequestID",
	    CM_PROPTYPE_LONG, &id)) != CM_OK) {
		srv->log(srv, CM_LOG_ERROR, "request %" PRId64 ": cannot read "
		    "RequestID (%d)", context, rc);
		return rc;
	}
	snprintf(name, sizeof(name), "%" PRId64 ".cer", id.l);
	if ((rc = write_file_new(srv, set.dir, name, cert.data, cert.len)) ==
	    CM_OK)
		srv->log(srv, CM_LOG_INFO, "wrote %s/%s", set.dir, name);
	return rc;
}

/* Write CRL property prop (RawCRL.i, RawDeltaCRL.i) to file. */
static int
write_crl(cm_server_exit *srv, const char *dir, const char *prop,
    const char *file, int missing_ok)
{
	cm_value	 crl;
	int		 rc;

	rc = srv->get_certificate_property(srv, prop, CM_PROPTYPE_BINARY, &crl);
	if (rc != CM_OK) {
		if (missing_ok)
			return CM_OK;
		srv->log(srv, CM_LOG_ERROR, "cannot read %s (%d)", prop, rc);
		return rc;
	}
	return write_file_atomic(srv, dir, file, crl.data, crl.len);
}

static int
crl_issued(struct sample *s, int64_t context, cm_server_exit *srv)
{
	struct settings	 set;
	int64_t		 nodelta, count, i, state;
	char		 prop[48], file[48];
	int		 rc, written = 0;

	settings_get(s, &set);
	if ((rc = srv->set_context(srv, context)) != CM_OK ||
	    (rc = get_long(srv, "fDeltaCRLsDisabled", &nodelta)) != CM_OK ||
	    (rc = get_long(srv, "CertCount", &count)) != CM_OK)
		return rc;
	for (i = 0; i < count; i++) {
		snprintf(prop, sizeof(prop), "CRLState.%" PRId64, i);
		if ((rc = get_long(srv, prop, &state)) != CM_OK)
			return rc;
		if (state != CM_CA_DISP_VALID)
			continue;
		snprintf(prop, sizeof(prop), "RawCRL.%" PRId64, i);
		snprintf(file, sizeof(file), "crl-%" PRId64 ".crl", i);
		if ((rc = write_crl(srv, set.dir, prop, file, 0)) != CM_OK)
			return rc;
		/* No delta CRL is an error only when deltas are published. */
		snprintf(prop, sizeof(prop), "RawDeltaCRL.%" PRId64, i);
		snprintf(file, sizeof(file), "crl-%" PRId64 "+.crl", i);
		if ((rc = write_crl(srv, set.dir, prop, file, nodelta != 0)) !=
		    CM_OK)
			return rc;
		written++;
	}
	srv->log(srv, CM_LOG_INFO, "wrote the CRLs of %d CA certificate(s) to "
	    "%s", written, set.dir);
	return CM_OK;
}

static int
sample_notify(void *state, int32_t event, int64_t context,
    cm_server_exit *srv)
{
	struct sample	*s = state;

	switch (event) {
	case CM_EXITEVENT_CERTISSUED:
		return cert_issued(s, context, srv);
	case CM_EXITEVENT_CRLISSUED:
		return crl_issued(s, context, srv);
	case CM_EXITEVENT_SHUTDOWN:
		srv->log(srv, CM_LOG_INFO, "stopping");
		return CM_OK;
	}
	srv->log(srv, CM_LOG_DEBUG, "event 0x%x, request %" PRId64,
	    (unsigned)event, context);
	return CM_OK;
}

static const char *
sample_get_description(void *state)
{
	(void)state;
	return "Sample Exit Module: copies issued certificates and CRLs to "
	    "files";
}

static int
sample_get_property(void *state, const char *name, int32_t flags,
    cm_value *out)
{
	static const char *const props[][2] = {
		{ CM_CMM_PROP_NAME, "Sample/Test Exit Module" },
		{ CM_CMM_PROP_DESCRIPTION, "Sample Exit Module" },
		{ CM_CMM_PROP_COPYRIGHT, "Copyright (c) 2026 the certmint "
		    "authors, ISC license" },
		{ CM_CMM_PROP_FILEVER, "2.0.0" },
		{ CM_CMM_PROP_PRODUCTVER, "certmint 0.1" },
	};
	size_t	 i;

	(void)state;
	(void)flags;
	for (i = 0; i < sizeof(props) / sizeof(props[0]); i++)
		if (strcasecmp(name, props[i][0]) == 0) {
			out->type = CM_PROPTYPE_STRING;
			out->data = props[i][1];
			out->len = strlen(props[i][1]);
			return CM_OK;
		}
	return CM_S_FALSE;
}

/* A string value as a C string in buf; -1 if it does not fit. */
static int
value_string(const cm_value *value, char *buf, size_t len)
{
	if (value->type != CM_PROPTYPE_STRING || value->len >= len)
		return -1;
	memcpy(buf, value->data, value->len);
	buf[value->len] = '\0';
	return 0;
}

static int
sample_set_property(void *state, const char *name, int32_t flags,
    const cm_value *value)
{
	struct sample	*s = state;
	char		 v[1024];
	long		 pub;

	(void)flags;
	if (strcasecmp(name, "directory") == 0) {
		if (value_string(value, v, sizeof(v)) == -1 || v[0] != '/')
			return CM_E_INVALIDARG;	/* an absolute path, please */
		pthread_mutex_lock(&s->mu);
		memcpy(s->set.dir, v, sizeof(s->set.dir));
		pthread_mutex_unlock(&s->mu);
		return CM_OK;
	}
	if (strcasecmp(name, "PublishCertFlags") == 0) {
		if (value_string(value, v, sizeof(v)) == -1 ||
		    parse_flags(v, &pub) == -1)
			return CM_E_INVALIDARG;
		pthread_mutex_lock(&s->mu);
		s->set.publish_flags = pub;
		pthread_mutex_unlock(&s->mu);
		return CM_OK;
	}
	return CM_S_FALSE;
}

static int
sample_configure(void *state, cm_server_exit *srv, int32_t flags,
    char *report, size_t size)
{
	struct sample	*s = state;
	struct settings	 set;
	struct stat	 sb;

	if (flags & CM_CMM_REFRESHONLY) {
		if (read_config(srv, &set, report, size) == -1)
			return CM_E_INVALIDARG;	/* the running settings stay */
		pthread_mutex_lock(&s->mu);
		s->set = set;
		pthread_mutex_unlock(&s->mu);
		snprintf(report, size, "directory: %s, PublishCertFlags: 0x%lx",
		    set.dir, set.publish_flags);
		return CM_OK;
	}
	settings_get(s, &set);
	errno = 0;
	if (stat(set.dir, &sb) == -1 || !S_ISDIR(sb.st_mode)) {
		snprintf(report, size, "directory %s: %s", set.dir,
		    errno ? strerror(errno) : "not a directory");
		return CM_E_FAIL;
	}
	if (access(set.dir, W_OK) == -1) {
		snprintf(report, size, "directory %s is not writable", set.dir);
		return CM_E_FAIL;
	}
	snprintf(report, size, "directory %s: exists and is writable; "
	    "PublishCertFlags 0x%lx: %s", set.dir, set.publish_flags,
	    set.publish_flags & EXITPUB_FILE ? "certificates are written" :
	    "no certificate is written (EXITPUB_FILE, 0x1, is off)");
	return CM_OK;
}

static const cm_manage_module sample_manage = {
	sizeof(cm_manage_module),
	sample_get_property,
	sample_set_property,
	sample_configure,
};

static const cm_manage_module *
sample_get_manage_module(void *state)
{
	(void)state;
	return &sample_manage;
}

static void
sample_shutdown(void *state)
{
	struct sample	*s = state;

	pthread_mutex_destroy(&s->mu);
	free(s);
}

static const struct cm_exit sample_exit = {
	CM_EXIT_MAGIC, CM_ABI_MAJOR, CM_ABI_MINOR, sizeof(struct cm_exit),
	SAMPLE_NAME,
	CM_THREADING_CONCURRENT,
	sample_initialize,
	sample_notify,
	sample_get_description,
	sample_get_manage_module,
	sample_shutdown,
};

CM_EXIT_MODULE(sample_exit)
