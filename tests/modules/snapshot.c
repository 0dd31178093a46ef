/*
 * snapshot.c - Snapshot.Exit (and SnapRev.Exit, the same module under
 * another name): appends one line per event with every property it can
 * read, so that tests can compare what a module saw at first delivery,
 * after a retry, a replay or a crash (docs/exit-modules.md, Snapshots).
 *
 * Settings ([Snapshot.Exit]):
 *   output    the file to append to (required)
 *   mask      the event mask, e.g. 0x1ff (default: every event)
 *   gate      a file: each notify waits (at most 120 s) until it exists
 *   fail_once yes: the first call for each event fails (a retry follows)
 *
 * A line: "seq=N event=0xE ctx=C" then key=value pairs; strings have
 * spaces as '_', binary values are "length:fnv1a64", "-" is empty and
 * "!N" an error N.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <certmint/exit.h>

#ifndef MODNAME
#define MODNAME "Snapshot.Exit"
#endif

struct snap {
	char	 output[1024];
	char	 gate[1024];
	int	 fail_once;
	int64_t	 failed_seq;
};

struct line {
	char	 buf[8192];
	size_t	 len;
};

static void
add(struct line *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
add(struct line *l, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	if (l->len >= sizeof(l->buf))
		return;
	va_start(ap, fmt);
	n = vsnprintf(l->buf + l->len, sizeof(l->buf) - l->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		l->len += (size_t)n;
}

static uint64_t
fnv(const void *p, size_t n)
{
	const unsigned char *b = p;
	uint64_t h = 1469598103934665603ULL;

	while (n-- > 0)
		h = (h ^ *b++) * 1099511628211ULL;
	return h;
}

static void
add_value(struct line *l, const char *key, int rc, const cm_value *v)
{
	size_t	 i;

	if (rc == CM_E_PROPERTY_EMPTY) {
		add(l, " %s=-", key);
		return;
	}
	if (rc != CM_OK) {
		add(l, " %s=!%d", key, rc);
		return;
	}
	switch (v->type) {
	case CM_PROPTYPE_LONG:
	case CM_PROPTYPE_DATE:
		add(l, " %s=%" PRId64, key, v->l);
		break;
	case CM_PROPTYPE_STRING:
		add(l, " %s=", key);
		for (i = 0; i < v->len && i < 200; i++) {
			char ch = ((const char *)v->data)[i];

			add(l, "%c", ch == ' ' || ch == '\n' ? '_' : ch);
		}
		break;
	default:
		add(l, " %s=%zu:%016" PRIx64, key, v->len, fnv(v->data, v->len));
	}
}

static void
req(struct line *l, cm_server_exit *srv, const char *name, uint32_t type,
    const char *key)
{
	cm_value v;

	memset(&v, 0, sizeof(v));
	add_value(l, key, srv->get_request_property(srv, name, type, &v), &v);
}

static void
cert(struct line *l, cm_server_exit *srv, const char *name, uint32_t type,
    const char *key)
{
	cm_value v;

	memset(&v, 0, sizeof(v));
	add_value(l, key, srv->get_certificate_property(srv, name, type, &v),
	    &v);
}

/* Every extension: OID, flags and a hash of the value, in order. */
static void
extensions(struct line *l, cm_server_exit *srv)
{
	const char	*oid;
	cm_value	 v;
	int32_t		 flags;
	uint64_t	 h = 0;
	int		 n = 0;

	add(l, " exts=");
	if (srv->enumerate_extensions_setup(srv, 0) != CM_OK) {
		add(l, "!");
		return;
	}
	while (srv->enumerate_extensions(srv, &oid) == CM_OK && n < 64) {
		memset(&v, 0, sizeof(v));
		flags = 0;
		if (srv->get_certificate_extension(srv, oid, CM_PROPTYPE_BINARY,
		    &v) == CM_OK)
			h ^= fnv(v.data, v.len);
		srv->get_certificate_extension_flags(srv, &flags);
		add(l, "%s%s/%x", n++ ? "," : "", oid, (unsigned)flags);
	}
	srv->enumerate_extensions_close(srv);
	add(l, ":%016" PRIx64, h);
}

static void
request_line(struct line *l, cm_server_exit *srv)
{
	const char	*a;

	req(l, srv, "Disposition", CM_PROPTYPE_LONG, "disp");
	req(l, srv, "DispositionMessage", CM_PROPTYPE_STRING, "msg");
	req(l, srv, "StatusCode", CM_PROPTYPE_LONG, "status");
	req(l, srv, "SubmittedWhen", CM_PROPTYPE_DATE, "submitted");
	req(l, srv, "ResolvedWhen", CM_PROPTYPE_DATE, "resolved");
	req(l, srv, "RevokedWhen", CM_PROPTYPE_DATE, "revwhen");
	req(l, srv, "RevokedEffectiveWhen", CM_PROPTYPE_DATE, "reveff");
	req(l, srv, "RevokedReason", CM_PROPTYPE_LONG, "reason");
	req(l, srv, "RequesterName", CM_PROPTYPE_STRING, "requester");
	req(l, srv, "RequestFlags", CM_PROPTYPE_LONG, "flags");
	req(l, srv, "RawRequest", CM_PROPTYPE_BINARY, "rawreq");
	req(l, srv, "RequestAttributes", CM_PROPTYPE_STRING, "attrs");
	req(l, srv, "Request.DistinguishedName", CM_PROPTYPE_STRING, "rdn");
	req(l, srv, "Request.RequestID", CM_PROPTYPE_LONG, "r.id");
	req(l, srv, "Request.Disposition", CM_PROPTYPE_LONG, "r.disp");
	req(l, srv, "Request.StatusCode", CM_PROPTYPE_LONG, "r.status");
	req(l, srv, "Request.SubmittedWhen", CM_PROPTYPE_DATE, "r.submitted");
	req(l, srv, "Request.RequesterName", CM_PROPTYPE_STRING, "r.requester");
	req(l, srv, "Request.DispositionMessage", CM_PROPTYPE_STRING, "r.msg");
	req(l, srv, "Request.CommonName", CM_PROPTYPE_STRING, "r.cn");
	req(l, srv, "RawArchivedKey", CM_PROPTYPE_BINARY, "archived");
	req(l, srv, "RawOldCertificate", CM_PROPTYPE_BINARY, "oldcert");
	req(l, srv, "NoSuchProperty", CM_PROPTYPE_LONG, "nosuch");
	add(l, " certfile=%s", srv->get_request_attribute(srv, "CertFile", &a) ==
	    CM_OK ? a : "-");
	cert(l, srv, "CertificateTemplate", CM_PROPTYPE_STRING, "template");
	cert(l, srv, "RawCertificate", CM_PROPTYPE_BINARY, "cert");
	cert(l, srv, "SerialNumber", CM_PROPTYPE_STRING, "serial");
	cert(l, srv, "NotAfter", CM_PROPTYPE_DATE, "notafter");
	cert(l, srv, "CertificateHash", CM_PROPTYPE_STRING, "hash");
	cert(l, srv, "CertificateHashSHA256", CM_PROPTYPE_STRING, "hash256");
	cert(l, srv, "UPN", CM_PROPTYPE_STRING, "upn");
	cert(l, srv, "Subject.CommonName", CM_PROPTYPE_STRING, "cn");
	cert(l, srv, "Request.RequestID", CM_PROPTYPE_LONG, "c.r.id");
	cert(l, srv, "EnrollmentFlags", CM_PROPTYPE_LONG, "enrollflags");
	extensions(l, srv);
}

static void
ca_line(struct line *l, cm_server_exit *srv)
{
	if (srv->set_context(srv, 0) != CM_OK) {
		add(l, " ca=!");
		return;
	}
	cert(l, srv, "RawCACertificate", CM_PROPTYPE_BINARY, "cacert");
	cert(l, srv, "CertCount", CM_PROPTYPE_LONG, "certcount");
	cert(l, srv, "CertState.0", CM_PROPTYPE_LONG, "certstate0");
	cert(l, srv, "CertSuffix.0", CM_PROPTYPE_STRING, "certsuffix0");
	cert(l, srv, "CRLIndex.0", CM_PROPTYPE_LONG, "crlindex0");
	cert(l, srv, "CRLState.0", CM_PROPTYPE_LONG, "crlstate0");
	cert(l, srv, "RawCRL.0", CM_PROPTYPE_BINARY, "crl");
	cert(l, srv, "RawDeltaCRL.0", CM_PROPTYPE_BINARY, "delta");
	cert(l, srv, "RawCACertificate.1", CM_PROPTYPE_BINARY, "cacert1");
	cert(l, srv, "CertState.1", CM_PROPTYPE_LONG, "certstate1");
	/* A renewed CA's (years.sh): same key at 1, a new key at 2. */
	cert(l, srv, "CRLIndex.1", CM_PROPTYPE_LONG, "crlindex1");
	cert(l, srv, "CRLState.1", CM_PROPTYPE_LONG, "crlstate1");
	cert(l, srv, "CRLIndex.2", CM_PROPTYPE_LONG, "crlindex2");
	cert(l, srv, "CRLState.2", CM_PROPTYPE_LONG, "crlstate2");
	cert(l, srv, "CRLSuffix.2", CM_PROPTYPE_STRING, "crlsuffix2");
	cert(l, srv, "CertSuffix.1", CM_PROPTYPE_STRING, "certsuffix1");
	cert(l, srv, "RawCACertificate.2", CM_PROPTYPE_BINARY, "cacert2");
	cert(l, srv, "RawCRL.1", CM_PROPTYPE_BINARY, "crl1");
	cert(l, srv, "RawCRL.2", CM_PROPTYPE_BINARY, "crl2");
	cert(l, srv, "SanitizedCAName", CM_PROPTYPE_STRING, "sanitized");
	cert(l, srv, "SanitizedShortName", CM_PROPTYPE_STRING, "short");
	cert(l, srv, "ConfigDN", CM_PROPTYPE_STRING, "configdn");
	cert(l, srv, "fServerUpgraded", CM_PROPTYPE_LONG, "upgraded");
}

static int
s_init(const char *config, cm_server_exit *srv, void **state, int32_t *mask)
{
	struct snap	*s = calloc(1, sizeof(*s));
	const char	*v;

	if (s == NULL)
		return CM_E_NOMEM;
	if (srv->config_get(srv, "output", &v) != CM_OK) {
		free(s);
		return CM_E_INVALIDARG;
	}
	snprintf(s->output, sizeof(s->output), "%s", v);
	if (srv->config_get(srv, "gate", &v) == CM_OK)
		snprintf(s->gate, sizeof(s->gate), "%s", v);
	s->fail_once = srv->config_get(srv, "fail_once", &v) == CM_OK &&
	    strcmp(v, "yes") == 0;
	*mask = srv->config_get(srv, "mask", &v) == CM_OK ?
	    (int32_t)strtol(v, NULL, 0) : CM_EXITEVENT_ALL;
	*state = s;
	return CM_OK;
}

static void
wait_gate(struct snap *s)
{
	struct timespec	 nap = { 0, 20 * 1000000L };
	int		 i;

	for (i = 0; s->gate[0] != '\0' && i < 6000; i++) {
		if (access(s->gate, F_OK) == 0)
			return;
		nanosleep(&nap, NULL);
	}
}

static int
s_notify(void *state, int32_t event, int64_t context, cm_server_exit *srv)
{
	struct snap	*s = state;
	struct line	*l;
	cm_value	 seq;
	int		 fd, rc = CM_OK;

	wait_gate(s);
	memset(&seq, 0, sizeof(seq));
	srv->get_request_property(srv, "EventSequence", CM_PROPTYPE_LONG, &seq);
	if (s->fail_once && seq.l != s->failed_seq) {
		s->failed_seq = seq.l;
		return CM_E_FAIL;
	}
	if ((l = calloc(1, sizeof(*l))) == NULL)
		return CM_E_NOMEM;
	add(l, "seq=%" PRId64 " event=0x%x ctx=%" PRId64, seq.l,
	    (unsigned)event, context);
	req(l, srv, "EventType", CM_PROPTYPE_LONG, "type");
	if (context != 0) {
		if (srv->set_context(srv, context) != CM_OK)
			add(l, " context=!");
		request_line(l, srv);
	}
	ca_line(l, srv);
	add(l, "\n");
	if ((fd = open(s->output, O_WRONLY | O_APPEND | O_CREAT, 0644)) == -1 ||
	    write(fd, l->buf, l->len) != (ssize_t)l->len)
		rc = CM_E_FAIL;
	if (fd != -1)
		close(fd);
	free(l);
	return rc;
}

static const char *
s_description(void *state)
{
	return "Snapshot exit module: every property of every event (tests)";
}

static void
s_shutdown(void *state)
{
	free(state);
}

static const struct cm_exit desc = {
	CM_EXIT_MAGIC, CM_ABI_MAJOR, CM_ABI_MINOR, sizeof(struct cm_exit),
	MODNAME, CM_THREADING_SERIAL,
	s_init, s_notify, s_description, NULL, s_shutdown
};

CM_EXIT_MODULE(desc)
