/*
 * recording.c - Recording.Exit: appends one line per notify describing
 * the event and what the module could read, for the integration tests.
 *
 * event=0x1 context=5 seq=7 time=... disp=20 reqid=5 serial=... cn=...
 *     attr_certfile=... types=ok
 * At context 0: catype=3 crlindex=N rawcrl_len=N types=ok
 * "-" is a property the server reported empty; types= names the first
 * property that came back with a type other than the one asked for.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <certmint/exit.h>

struct rec {
	char	 output[1024];
	char	 badtype[64];
};

static void
read_output(struct rec *r, cm_server_exit *srv)
{
	const char	*v;

	r->output[0] = '\0';
	if (srv->config_get(srv, "output", &v) == CM_OK)
		snprintf(r->output, sizeof(r->output), "%s", v);
}

static int
rec_init(const char *config, cm_server_exit *srv, void **state, int32_t *mask)
{
	struct rec	*r = calloc(1, sizeof(*r));
	const char	*v;

	if (r == NULL)
		return CM_E_NOMEM;
	read_output(r, srv);
	/* A module slow to load (slowload.sh). */
	if (srv->config_get(srv, "init_sleep_ms", &v) == CM_OK)
		usleep((useconds_t)strtol(v, NULL, 10) * 1000);
	/* config is the CA's name, still after the module's own calls. */
	srv->log(srv, CM_LOG_INFO, "initialize(\"%s\")", config);
	if (r->output[0] == '\0') {
		srv->log(srv, CM_LOG_ERROR, "Recording.Exit: no output file");
		free(r);
		return CM_E_INVALIDARG;
	}
	*state = r;
	*mask = CM_EXITEVENT_ALL;
	return CM_OK;
}

/* Read a property; append " key=value" (or "-") to line. */
static void
prop(struct rec *r, cm_server_exit *srv, int cert, const char *name,
    uint32_t type, const char *key, char *line, size_t len)
{
	cm_value v;
	int	 rc;
	size_t	 o = strlen(line);

	memset(&v, 0, sizeof(v));
	rc = cert ? srv->get_certificate_property(srv, name, type, &v) :
	    srv->get_request_property(srv, name, type, &v);
	if (rc != CM_OK) {
		snprintf(line + o, len - o, " %s=-", key);
		return;
	}
	if (v.type != type && r->badtype[0] == '\0')
		snprintf(r->badtype, sizeof(r->badtype), "%s", name);
	if (type == CM_PROPTYPE_STRING)
		snprintf(line + o, len - o, " %s=%s", key, (const char *)v.data);
	else if (type == CM_PROPTYPE_BINARY)
		snprintf(line + o, len - o, " %s=%zu", key, v.len);
	else
		snprintf(line + o, len - o, " %s=%" PRId64, key, v.l);
}

static int
rec_notify(void *state, int32_t event, int64_t context, cm_server_exit *srv)
{
	struct rec	*r = state;
	char		 line[4096], name[32];
	const char	*attr;
	cm_value	 idx;
	size_t		 o;
	int		 fd;

	r->badtype[0] = '\0';
	snprintf(line, sizeof(line), "event=0x%x context=%" PRId64,
	    (unsigned)event, context);
	if (srv->set_context(srv, context) != CM_OK)
		return CM_E_FAIL;
	prop(r, srv, 0, "EventSequence", CM_PROPTYPE_LONG, "seq", line,
	    sizeof(line));
	prop(r, srv, 0, "EventTime", CM_PROPTYPE_DATE, "time", line,
	    sizeof(line));
	if (context != 0) {
		prop(r, srv, 0, "Disposition", CM_PROPTYPE_LONG, "disp", line,
		    sizeof(line));
		prop(r, srv, 0, "RequestID", CM_PROPTYPE_LONG, "reqid", line,
		    sizeof(line));
		prop(r, srv, 1, "SerialNumber", CM_PROPTYPE_STRING, "serial",
		    line, sizeof(line));
		prop(r, srv, 1, "Subject.CommonName", CM_PROPTYPE_STRING, "cn",
		    line, sizeof(line));
		o = strlen(line);
		snprintf(line + o, sizeof(line) - o, " attr_certfile=%s",
		    srv->get_request_attribute(srv, "CertFile", &attr) == CM_OK ?
		    attr : "-");
	} else {
		prop(r, srv, 1, "CAType", CM_PROPTYPE_LONG, "catype", line,
		    sizeof(line));
		prop(r, srv, 1, "CRLIndex", CM_PROPTYPE_LONG, "crlindex", line,
		    sizeof(line));
		memset(&idx, 0, sizeof(idx));
		if (srv->get_certificate_property(srv, "CRLIndex",
		    CM_PROPTYPE_LONG, &idx) == CM_OK) {
			snprintf(name, sizeof(name), "RawCRL.%" PRId64, idx.l);
			prop(r, srv, 1, name, CM_PROPTYPE_BINARY, "rawcrl_len",
			    line, sizeof(line));
		} else {
			o = strlen(line);
			snprintf(line + o, sizeof(line) - o, " rawcrl_len=-");
		}
	}
	o = strlen(line);
	snprintf(line + o, sizeof(line) - o, " types=%s\n",
	    r->badtype[0] ? r->badtype : "ok");
	if ((fd = open(r->output, O_WRONLY | O_APPEND | O_CREAT, 0644)) == -1)
		return CM_E_FAIL;
	o = strlen(line);
	if (write(fd, line, o) != (ssize_t)o) {
		close(fd);
		return CM_E_FAIL;
	}
	close(fd);
	return CM_OK;
}

static const char *
rec_description(void *state)
{
	return "Recording exit module: one line per event (tests)";
}

static int
rec_get_property(void *state, const char *name, int32_t flags, cm_value *out)
{
	static const char *const props[][2] = {
		{ CM_CMM_PROP_NAME, "Recording.Exit" },
		{ CM_CMM_PROP_DESCRIPTION, "Records every event" },
		{ CM_CMM_PROP_COPYRIGHT, "certmint tests" },
		{ CM_CMM_PROP_FILEVER, "1.0" },
		{ CM_CMM_PROP_PRODUCTVER, "1.0" },
	};
	size_t	 i;

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
rec_set_property(void *state, const char *name, int32_t flags,
    const cm_value *value)
{
	struct rec	*r = state;

	if (strcasecmp(name, "output") != 0)
		return CM_S_FALSE;
	if (value->type != CM_PROPTYPE_STRING || value->len == 0 ||
	    value->len >= sizeof(r->output))
		return CM_E_INVALIDARG;
	memcpy(r->output, value->data, value->len);
	r->output[value->len] = '\0';
	return CM_OK;
}

static int
rec_configure(void *state, cm_server_exit *srv, int32_t flags, char *report,
    size_t size)
{
	struct rec	*r = state;
	int		 fd;

	if (flags & CM_CMM_REFRESHONLY) {
		read_output(r, srv);
		snprintf(report, size, "output: %s", r->output);
		return CM_OK;
	}
	if ((fd = open(r->output, O_WRONLY | O_APPEND | O_CREAT, 0644)) == -1) {
		snprintf(report, size, "output %s: %s", r->output,
		    strerror(errno));
		return CM_E_FAIL;
	}
	close(fd);
	snprintf(report, size, "output %s: OK", r->output);
	return CM_OK;
}

static const cm_manage_module rec_manage = {
	sizeof(cm_manage_module), rec_get_property, rec_set_property,
	rec_configure
};

static const cm_manage_module *
rec_get_manage(void *state)
{
	return &rec_manage;
}

static void
rec_shutdown(void *state)
{
	free(state);
}

static const struct cm_exit desc = {
	CM_EXIT_MAGIC, CM_ABI_MAJOR, CM_ABI_MINOR, sizeof(struct cm_exit),
	"Recording.Exit", CM_THREADING_SERIAL,
	rec_init, rec_notify, rec_description, rec_get_manage, rec_shutdown
};

CM_EXIT_MODULE(desc)
