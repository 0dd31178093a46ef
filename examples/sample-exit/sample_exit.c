/*
 * sample_exit.c - Sample.Exit, certmint's version of the Windows SDK exit
 * module sample: on CERTISSUED it writes the certificate to
 * <directory>/<RequestID>.cer when the request carries a CertFile
 * attribute; on CRLISSUED it writes every CRL the CA has, by index, to
 * <directory>/crl-<index>.crl. Its manage module shows its properties, sets
 * "directory" and checks the directory on configure.
 *
 * Build out of tree: make (uses pkg-config --cflags certmint-exit).
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <certmint/exit.h>

#define SAMPLE_NAME	"Sample.Exit"
#define DEFAULT_DIR	"/tmp/certmint-sample"

struct sample {
	char	 dir[1024];
};

static void
read_config(struct sample *s, cm_server_exit *srv)
{
	const char	*v;

	if (srv->config_get(srv, "directory", &v) != CM_OK || *v == '\0')
		v = DEFAULT_DIR;
	snprintf(s->dir, sizeof(s->dir), "%s", v);
}

static int
sample_initialize(const char *config, cm_server_exit *srv, void **state,
    int32_t *event_mask)
{
	struct sample	*s;

	(void)config;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return CM_E_NOMEM;
	read_config(s, srv);
	*state = s;
	*event_mask = CM_EXITEVENT_CERTISSUED | CM_EXITEVENT_CRLISSUED |
	    CM_EXITEVENT_STARTUP | CM_EXITEVENT_SHUTDOWN;
	return CM_OK;
}

/* Write len bytes to dir/name through a temporary file and rename(2). */
static int
write_file(cm_server_exit *srv, const char *dir, const char *name,
    const void *data, size_t len)
{
	char	 path[1200], tmp[1300];
	ssize_t	 n;
	size_t	 off;
	int	 fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644)) == -1) {
		srv->log(srv, CM_LOG_ERROR, "%s: %s", tmp, strerror(errno));
		return CM_E_FAIL;
	}
	for (off = 0; off < len; off += (size_t)n)
		if ((n = write(fd, (const char *)data + off, len - off)) <= 0) {
			srv->log(srv, CM_LOG_ERROR, "%s: %s", tmp,
			    strerror(errno));
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

static int
cert_issued(struct sample *s, int64_t context, cm_server_exit *srv)
{
	const char	*attr;
	cm_value	 id, cert;
	char		 name[64];
	int		 rc;

	if ((rc = srv->set_context(srv, context)) != CM_OK)
		return rc;
	/* As in the SDK sample: the attribute only switches the copy on. */
	if (srv->get_request_attribute(srv, "CertFile", &attr) != CM_OK)
		return CM_OK;
	if ((rc = srv->get_request_property(srv, "RequestID",
	    CM_PROPTYPE_LONG, &id)) != CM_OK ||
	    (rc = srv->get_certificate_property(srv, "RawCertificate",
	    CM_PROPTYPE_BINARY, &cert)) != CM_OK) {
		srv->log(srv, CM_LOG_ERROR, "request %" PRId64 ": cannot read "
		    "the certificate (%d)", context, rc);
		return rc;
	}
	snprintf(name, sizeof(name), "%" PRId64 ".cer", id.l);
	if ((rc = write_file(srv, s->dir, name, cert.data, cert.len)) ==
	    CM_OK)
		srv->log(srv, CM_LOG_INFO, "wrote %s/%s", s->dir, name);
	return rc;
}

static int
crl_issued(struct sample *s, cm_server_exit *srv)
{
	cm_value	 index, crl;
	char		 prop[48], name[48];
	int64_t		 i;
	int		 rc, written = 0;

	if ((rc = srv->set_context(srv, 0)) != CM_OK ||
	    (rc = srv->get_certificate_property(srv, "CRLIndex",
	    CM_PROPTYPE_LONG, &index)) != CM_OK)
		return rc;
	for (i = 0; i <= index.l; i++) {
		snprintf(prop, sizeof(prop), "RawCRL.%" PRId64, i);
		rc = srv->get_certificate_property(srv, prop,
		    CM_PROPTYPE_BINARY, &crl);
		if (rc == CM_E_PROPERTY_EMPTY)
			continue;
		if (rc != CM_OK)
			return rc;
		snprintf(name, sizeof(name), "crl-%" PRId64 ".crl", i);
		if ((rc = write_file(srv, s->dir, name, crl.data, crl.len)) !=
		    CM_OK)
			return rc;
		written++;
	}
	srv->log(srv, CM_LOG_INFO, "wrote %d CRL(s) to %s", written, s->dir);
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
		return crl_issued(s, srv);
	case CM_EXITEVENT_STARTUP:
		srv->log(srv, CM_LOG_INFO, "started, writing to %s", s->dir);
		return CM_OK;
	case CM_EXITEVENT_SHUTDOWN:
		srv->log(srv, CM_LOG_INFO, "stopping");
		return CM_OK;
	}
	return CM_OK;
}

static const char *
sample_get_description(void *state)
{
	(void)state;
	return "Sample exit module: writes issued certificates and CRLs to "
	    "files";
}

static int
sample_get_property(void *state, const char *name, int32_t flags,
    cm_value *out)
{
	static const char *const props[][2] = {
		{ CM_CMM_PROP_NAME, SAMPLE_NAME },
		{ CM_CMM_PROP_DESCRIPTION, "Writes issued certificates and "
		    "CRLs to files" },
		{ CM_CMM_PROP_COPYRIGHT, "Copyright (c) 2026 the certmint "
		    "authors, ISC license" },
		{ CM_CMM_PROP_FILEVER, "1.0.0" },
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

static int
sample_set_property(void *state, const char *name, int32_t flags,
    const cm_value *value)
{
	struct sample	*s = state;

	(void)flags;
	if (strcasecmp(name, "directory") != 0)
		return CM_S_FALSE;
	if (value->type != CM_PROPTYPE_STRING || value->len == 0 ||
	    value->len >= sizeof(s->dir) ||
	    ((const char *)value->data)[0] != '/')
		return CM_E_INVALIDARG;	/* an absolute path, please */
	memcpy(s->dir, value->data, value->len);
	s->dir[value->len] = '\0';
	return CM_OK;
}

static int
sample_configure(void *state, cm_server_exit *srv, int32_t flags,
    char *report, size_t size)
{
	struct sample	*s = state;
	struct stat	 sb;

	if (flags & CM_CMM_REFRESHONLY) {
		read_config(s, srv);
		snprintf(report, size, "directory: %s", s->dir);
		return CM_OK;
	}
	if (stat(s->dir, &sb) == -1 || !S_ISDIR(sb.st_mode)) {
		snprintf(report, size, "directory %s: %s", s->dir,
		    errno ? strerror(errno) : "not a directory");
		return CM_E_FAIL;
	}
	if (access(s->dir, W_OK) == -1) {
		snprintf(report, size, "directory %s is not writable", s->dir);
		return CM_E_FAIL;
	}
	snprintf(report, size, "directory %s: exists and is writable",
	    s->dir);
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
	free(state);
}

static const struct cm_exit sample_exit = {
	CM_EXIT_MAGIC, CM_ABI_MAJOR, CM_ABI_MINOR, sizeof(struct cm_exit),
	SAMPLE_NAME,
	CM_THREADING_SERIAL,
	sample_initialize,
	sample_notify,
	sample_get_description,
	sample_get_manage_module,
	sample_shutdown,
};

CM_EXIT_MODULE(sample_exit)
