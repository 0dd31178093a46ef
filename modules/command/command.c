/*
 * command.c - CertMint_Command.Exit: EJBCA's external-command publisher,
 * done safely (docs/modules/command.md). Per event it runs a configured
 * argv, never through a shell, with the certificate (or CRL, or request)
 * in DER or PEM on stdin or in a temporary file, the event's properties in
 * CERTMINT_* environment variables and nothing of the daemon's
 * environment. The exit status decides: 0 done, 75 (EX_TEMPFAIL) retry,
 * anything else a dead letter, each configurable. Concurrent, with a limit
 * on the commands running at once. settings.c reads the settings, run.c
 * runs one command.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/x509.h>

#include "command.h"

#define MODNAME		"CertMint_Command.Exit"
#define ENV_MAX		64	/* CERTMINT_* variables of one event */
#define CAUSE_STDERR	120	/* bytes of stderr quoted in a failure's cause */

struct cmd {
	pthread_mutex_t	 lock;
	pthread_cond_t	 slot_freed;
	struct mu_ref	*conf;		/* a struct conf (CONF) */
	int32_t		 mask;		/* the event mask given at initialize */
	long long	 running;	/* commands running now */
};

/* The environment variables every event gets, from these properties. */
static const struct {
	const char	*env, *prop;
} env_props[] = {
	{ "CERTMINT_REQUEST_ID", "Request.RequestID" },
	{ "CERTMINT_REQUESTER", "Request.RequesterName" },
	{ "CERTMINT_DISPOSITION", "Request.Disposition" },
	{ "CERTMINT_DISPOSITION_MESSAGE", "Request.DispositionMessage" },
	{ "CERTMINT_TEMPLATE", "Request.CertificateTemplate" },
	{ "CERTMINT_REQUEST_SUBJECT", "Request.DistinguishedName" },
	{ "CERTMINT_SERIAL", "SerialNumber" },
	{ "CERTMINT_SUBJECT", "DistinguishedName" },
	{ "CERTMINT_COMMON_NAME", "Subject.CommonName" },
	{ "CERTMINT_EMAIL", "Subject.EMail" },
	{ "CERTMINT_UPN", "UPN" },
	{ "CERTMINT_NOT_BEFORE", "NotBefore" },
	{ "CERTMINT_NOT_AFTER", "NotAfter" },
	{ "CERTMINT_CERT_SHA256", "CertificateHashSHA256" },
	{ "CERTMINT_REVOKED_WHEN", "RevokedWhen" },
	{ "CERTMINT_REVOKED_REASON", "RevokedReason" },
};

/* The settings m->conf points to (their first member). */
#define CONF(r)	((struct conf *)(void *)(r))

static struct conf *
conf_get(struct cmd *m)
{
	return CONF(mu_ref_hold(&m->lock, &m->conf));
}

static void
conf_put(struct cmd *m, struct conf *c)
{
	mu_ref_release(&m->lock, &c->ref);
}

/* Make c the settings of the next notify; the running ones keep theirs. */
static void
conf_swap(struct cmd *m, struct conf *c)
{
	mu_ref_swap(&m->lock, &m->conf, &c->ref);
	/* A higher concurrency may free waiters. */
	pthread_cond_broadcast(&m->slot_freed);
}

/*
 * The executable argv0 names: a path as is, a bare name looked up in
 * the path setting (not the daemon's PATH). Returns a copy or NULL, with
 * err saying why.
 */
static char *
resolve(const char *argv0, const char *path, char *err, size_t errlen)
{
	const char	*p = path;
	char		*f;
	size_t		 n;

	if (strchr(argv0, '/') != NULL)
		return strdup(argv0);
	while (*p != '\0') {
		n = strcspn(p, ":");
		if (n > 0 && asprintf(&f, "%.*s/%s", (int)n, p, argv0) != -1) {
			if (access(f, X_OK) == 0)
				return f;
			free(f);
		}
		p += n + (p[n] == ':');
	}
	snprintf(err, errlen, "command: \"%s\" is not an executable in path "
	    "(%s)", argv0, path);
	return NULL;
}

/*
 * Whether file is safe and able to run: a regular file this process may
 * execute, owned by root or this user, that group and others may not
 * change (else anyone could choose what the CA runs). 0, or -1 with err.
 */
static int
check_executable(const char *file, char *err, size_t errlen)
{
	struct stat	 sb;

	if (stat(file, &sb) == -1) {
		snprintf(err, errlen, "command: %s: %s", file, strerror(errno));
		return -1;
	}
	if (!S_ISREG(sb.st_mode)) {
		snprintf(err, errlen, "command: %s: not a regular file", file);
		return -1;
	}
	if ((sb.st_mode & 022) != 0) {
		snprintf(err, errlen, "command: %s: mode %03o: group or others "
		    "may change it (chmod go-w)", file,
		    (unsigned)(sb.st_mode & 0777));
		return -1;
	}
	if (sb.st_uid != 0 && sb.st_uid != geteuid()) {
		snprintf(err, errlen, "command: %s: owned by uid %u, neither "
		    "root nor the user the module runs as (%u)", file,
		    (unsigned)sb.st_uid, (unsigned)geteuid());
		return -1;
	}
	if (access(file, X_OK) == -1) {
		snprintf(err, errlen, "command: %s: not executable by uid %u: "
		    "%s", file, (unsigned)geteuid(), strerror(errno));
		return -1;
	}
	return 0;
}

/* What one event hands its command. */
struct job {
	char		 **env;
	size_t		 nenv;
	unsigned char	*input;		/* DER or PEM */
	size_t		 input_len;
	const char	*input_kind;	/* certificate, crl, request, none */
	char		**argv;
	size_t		 argc;
	char		 tmpfile[PATH_MAX];	/* input = file */
	int64_t		 seq, context;
	int32_t		 event;
};

static void
job_free(struct job *j)
{
	strv_free(j->env);
	strv_free(j->argv);
	free(j->input);
	if (j->tmpfile[0] != '\0')
		unlink(j->tmpfile);
}

/* NAME=value into the job's environment. 0, or -1 (no memory). */
static int
env_add(struct job *j, const char *name, const char *value)
{
	char	*s;

	if (j->nenv >= ENV_MAX + PROPS_MAX)
		return 0;
	if (asprintf(&s, "%s=%s", name, value) == -1)
		return -1;
	return strv_push(&j->env, &j->nenv, s);
}

/* NAME=the property's text, when it has one. 0, or -1 (no memory). */
static int
env_prop(struct job *j, cm_server_exit *srv, const char *name,
    const char *prop)
{
	char	*v, *p, *q;
	int	 rc;

	if ((rc = mu_prop_text(srv, prop, &v)) == CM_E_NOMEM)
		return -1;
	if (rc != CM_OK)
		return 0;
	/* The thumbprints as one hex word, not certutil's "d0 57 9a". */
	if (strncasecmp(prop, "CertificateHash", 15) == 0) {
		for (p = q = v; *p != '\0'; p++)
			if (*p != ' ')
				*q++ = *p;
		*q = '\0';
	}
	rc = env_add(j, name, v);
	free(v);
	return rc;
}

/* CERTMINT_PROP_<NAME>: the name upper-cased, other characters as _. */
static int
env_extra(struct job *j, cm_server_exit *srv, const char *prop)
{
	char	 name[160];
	size_t	 i, n;

	n = (size_t)snprintf(name, sizeof(name), "CERTMINT_PROP_");
	for (i = 0; prop[i] != '\0' && n < sizeof(name) - 1; i++, n++)
		name[n] = (prop[i] >= 'a' && prop[i] <= 'z') ?
		    (char)(prop[i] - 'a' + 'A') :
		    ((prop[i] >= 'A' && prop[i] <= 'Z') ||
		    (prop[i] >= '0' && prop[i] <= '9')) ? prop[i] : '_';
	name[n] = '\0';
	return env_prop(j, srv, name, prop);
}

/* The CRL number of a DER CRL and whether it is a delta; -1 if none. */
static long
crl_number(const unsigned char *der, size_t len, int *delta)
{
	const unsigned char *p = der;
	ASN1_INTEGER	*n, *d;
	X509_CRL	*crl;
	long		 num = -1;

	*delta = 0;
	if ((crl = d2i_X509_CRL(NULL, &p, (long)len)) == NULL)
		return -1;
	if ((n = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL)) !=
	    NULL) {
		num = ASN1_INTEGER_get(n);
		ASN1_INTEGER_free(n);
	}
	if ((d = X509_CRL_get_ext_d2i(crl, NID_delta_crl, NULL, NULL)) !=
	    NULL) {
		*delta = 1;
		ASN1_INTEGER_free(d);
	}
	X509_CRL_free(crl);
	return num;
}

/*
 * At a CRLISSUED, the CRL it announces: of the newest base and delta CRLs
 * at the event, the one with the higher CRL number (base and delta CRLs
 * share one numbering, RFC 5280 5.2.4). Context 0 must be set.
 */
static int
job_crl(struct job *j, cm_server_exit *srv)
{
	unsigned char	*base = NULL, *delta = NULL;
	size_t		 blen = 0, dlen = 0;
	long		 bn = -1, dn = -1;
	char		 num[32];
	int		 isdelta = 0, dd;

	if (mu_prop_binary(srv, "RawCRL", &base, &blen) == CM_E_NOMEM ||
	    mu_prop_binary(srv, "RawDeltaCRL", &delta, &dlen) == CM_E_NOMEM) {
		free(base);
		return -1;
	}
	if (base != NULL)
		bn = crl_number(base, blen, &dd);
	if (delta != NULL)
		dn = crl_number(delta, dlen, &isdelta);
	if (delta != NULL && (base == NULL || dn > bn)) {
		free(base);
		j->input = delta;
		j->input_len = dlen;
		bn = dn;
	} else {
		free(delta);
		j->input = base;
		j->input_len = blen;
		isdelta = 0;
	}
	if (j->input == NULL)
		return 0;
	j->input_kind = "crl";
	snprintf(num, sizeof(num), "%ld", bn);
	if ((bn >= 0 && env_add(j, "CERTMINT_CRL_NUMBER", num) == -1) ||
	    env_add(j, "CERTMINT_CRL_KIND", isdelta ? "delta" : "base") == -1)
		return -1;
	return 0;
}

/*
 * The event's environment and input: the CA's and the event's properties
 * (context 0), then the request's and certificate's (its context). The
 * input is the certificate, else the request, for a request event and the
 * CRL it announces for CRLISSUED. 0, or -1 (no memory).
 */
static int
job_build(struct job *j, const struct conf *c, cm_server_exit *srv)
{
	const char	*label = NULL;
	char		 code[16], *pem;
	size_t		 i;

	snprintf(code, sizeof(code), "%d", (int)j->event);
	j->input_kind = "none";
	if (srv->set_context(srv, 0) != CM_OK)
		return -1;
	if (env_add(j, "PATH", c->path) == -1 ||
	    env_add(j, "TMPDIR", c->tmpdir) == -1 ||
	    env_add(j, "CERTMINT_EVENT", mu_event_name(j->event)) == -1 ||
	    env_add(j, "CERTMINT_EVENT_CODE", code) == -1 ||
	    env_prop(j, srv, "CERTMINT_EVENT_SEQUENCE", "EventSequence") == -1 ||
	    env_prop(j, srv, "CERTMINT_EVENT_TIME", "EventTime") == -1 ||
	    env_prop(j, srv, "CERTMINT_CA", "SanitizedCAName") == -1)
		return -1;
	if (j->event == CM_EXITEVENT_CRLISSUED && c->input != IN_NONE &&
	    job_crl(j, srv) == -1)
		return -1;
	if (j->context != 0) {
		if (srv->set_context(srv, j->context) != CM_OK)
			return -1;
		for (i = 0; i < sizeof(env_props) / sizeof(env_props[0]); i++)
			if (env_prop(j, srv, env_props[i].env,
			    env_props[i].prop) == -1)
				return -1;
		if (c->input != IN_NONE) {
			if (mu_prop_binary(srv, "RawCertificate", &j->input,
			    &j->input_len) == CM_OK)
				j->input_kind = "certificate";
			else if (mu_prop_binary(srv, "RawRequest", &j->input,
			    &j->input_len) == CM_OK)
				j->input_kind = "request";
		}
	}
	for (i = 0; c->props[i] != NULL; i++)
		if (env_extra(j, srv, c->props[i]) == -1)
			return -1;
	if (j->input != NULL && c->pem) {
		if (strcmp(j->input_kind, "certificate") == 0)
			label = "CERTIFICATE";
		else if (strcmp(j->input_kind, "crl") == 0)
			label = "X509 CRL";
		else
			label = "CERTIFICATE REQUEST";
		if ((pem = mu_pem(label, j->input, j->input_len)) == NULL)
			return -1;
		free(j->input);
		j->input = (unsigned char *)pem;
		j->input_len = strlen(pem);
	}
	if (env_add(j, "CERTMINT_INPUT", j->input_kind) == -1 ||
	    env_add(j, "CERTMINT_INPUT_FORMAT", c->pem ? "pem" : "der") == -1)
		return -1;
	return 0;
}

/*
 * Write the input to a new file in tmpdir (mode 0600, mkstemp: never an
 * existing name) for input = file, and name it in CERTMINT_INPUT_FILE.
 * 0, or -1 with err.
 */
static int
job_tmpfile(struct job *j, const struct conf *c, char *err, size_t errlen)
{
	size_t	 off = 0;
	ssize_t	 n;
	int	 fd;

	if (j->input == NULL)
		return 0;
	snprintf(j->tmpfile, sizeof(j->tmpfile), "%s/certmint-%" PRId64
	    "-XXXXXX", c->tmpdir, j->seq);
	if ((fd = mkostemp(j->tmpfile, O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "cannot create a file in tmpdir %.300s: %s",
		    c->tmpdir, strerror(errno));
		j->tmpfile[0] = '\0';
		return -1;
	}
	while (off < j->input_len) {
		if ((n = write(fd, j->input + off, j->input_len - off)) == -1) {
			if (errno == EINTR)
				continue;
			snprintf(err, errlen, "%.300s: %s", j->tmpfile,
			    strerror(errno));
			close(fd);
			return -1;
		}
		off += (size_t)n;
	}
	if (close(fd) == -1) {
		snprintf(err, errlen, "%.300s: %s", j->tmpfile,
		    strerror(errno));
		return -1;
	}
	if (env_add(j, "CERTMINT_INPUT_FILE", j->tmpfile) == -1) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

/*
 * The arguments: each word of the command with %{InputFile} replaced by
 * the input file's name and %{Property} expanded (absent: empty), within
 * that one word (no word splitting, no shell). 0, or -1 with err.
 */
static int
job_argv(struct job *j, const struct conf *c, cm_server_exit *srv,
    char *err, size_t errlen)
{
	static const char token[] = "%{InputFile}";
	struct mu_buf	 w = { 0 };
	const char	*p, *f;
	char		*s;
	size_t		 i;
	int		 rc = 0;

	for (i = 0; c->argv[i] != NULL; i++) {
		w.len = 0;
		for (p = c->argv[i]; *p != '\0' && rc == 0; p++) {
			if (p[0] == '%' && p[1] == '%') {
				rc = mu_buf_add(&w, p++, 2);
			} else if (strncmp(p, token, sizeof(token) - 1) == 0) {
				/* The name goes through mu_expand too. */
				for (f = j->tmpfile; *f != '\0' && rc == 0; f++)
					rc = *f == '%' ? mu_buf_add(&w, "%%", 2) :
					    mu_buf_add(&w, f, 1);
				p += sizeof(token) - 2;
			} else
				rc = mu_buf_add(&w, p, 1);
		}
		if (rc == -1 || mu_buf_add(&w, "", 0) == -1) {
			snprintf(err, errlen, "out of memory");
			mu_buf_free(&w);
			return -1;
		}
		if (mu_expand(srv, w.data, "", &s, err, errlen) == -1 ||
		    strv_push(&j->argv, &j->argc, s) == -1) {
			mu_buf_free(&w);
			return -1;
		}
	}
	mu_buf_free(&w);
	return 0;
}

/* Wait for one of the concurrency slots, at most ms. 0, or -1 (none free). */
static int
slot_take(struct cmd *m, long long ms)
{
	struct timespec	 ts;
	int		 rc = 0;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&m->lock);
	while (m->running >= CONF(m->conf)->concurrency && rc == 0)
		rc = pthread_cond_timedwait(&m->slot_freed, &m->lock, &ts);
	if (m->running < CONF(m->conf)->concurrency) {
		m->running++;
		rc = 0;
	}
	pthread_mutex_unlock(&m->lock);
	return rc == 0 ? 0 : -1;
}

static void
slot_give(struct cmd *m)
{
	pthread_mutex_lock(&m->lock);
	m->running--;
	pthread_mutex_unlock(&m->lock);
	pthread_cond_signal(&m->slot_freed);
}

/*
 * Log what the command wrote, line by line (stdout at info, stderr at
 * warning), control characters shown as '?', the part beyond log_output
 * bytes counted but not logged.
 */
static void
log_output(cm_server_exit *srv, const struct job *j, const char *stream,
    int level, const struct mu_buf *b, size_t total)
{
	char	*line, *p, *nl;

	if (b->len == 0 || (line = strndup(b->data, b->len)) == NULL)
		goto more;
	for (p = line; *p != '\0'; p = nl) {
		if ((nl = strchr(p, '\n')) != NULL)
			*nl++ = '\0';
		else
			nl = p + strlen(p);
		for (char *q = p; *q != '\0'; q++)
			if ((unsigned char)*q < 0x20 || *q == 0x7f)
				*q = '?';
		if (*p != '\0')
			srv->log(srv, level, "event %" PRId64 " %s: %s", j->seq,
			    stream, p);
	}
	free(line);
 more:
	if (total > b->len)
		srv->log(srv, level, "event %" PRId64 " %s: %zu more bytes not "
		    "logged (log_output)", j->seq, stream, total - b->len);
}

/* The last non-empty line of what the command wrote to stderr, shortened. */
static void
last_line(const struct mu_buf *b, char *out, size_t len)
{
	const char	*s = b->data, *e;
	size_t		 n = b->len, i;

	out[0] = '\0';
	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
		n--;
	for (e = s + n; e > s && e[-1] != '\n'; e--)
		;
	n = (size_t)(s + n - e);
	if (n == 0)
		return;
	if (n > CAUSE_STDERR)
		n = CAUSE_STDERR;
	snprintf(out, len, ": %.*s", (int)n, e);
	for (i = 2; out[i] != '\0'; i++)
		if ((unsigned char)out[i] < 0x20 || out[i] == 0x7f)
			out[i] = '?';
}

/*
 * What notify returns for the run, logged as the cause (the host records
 * the call's last warning or error). A server before ABI 1.1 retries
 * CM_E_PERMANENT and CM_E_SUSPEND as any error: give it CM_E_FAIL.
 */
static int
outcome(cm_server_exit *srv, const struct job *j, const struct conf *c,
    const struct run_result *r)
{
	const char	*base;
	char		 what[120], tail[CAUSE_STDERR + 4];
	enum action	 act;
	int		 rc;

	/* The host keeps 255 bytes of a cause: the program's name, not its path. */
	base = strrchr(c->argv[0], '/');
	snprintf(what, sizeof(what), "event %" PRId64 " %s: %s", j->seq,
	    mu_event_name(j->event), base != NULL ? base + 1 : c->argv[0]);
	last_line(&r->err, tail, sizeof(tail));
	switch (r->end) {
	case RUN_EXITED:
		act = (enum action)c->action[r->status];
		break;
	case RUN_TIMEOUT:
		srv->log(srv, CM_LOG_WARN, "%s killed after the %lld ms "
		    "timeout (SIGTERM%s; retry)%s", what, c->timeout_ms,
		    r->killed ? ", then SIGKILL" : "", tail);
		return CM_E_FAIL;
	case RUN_SIGNALED:
		srv->log(srv, CM_LOG_WARN, "%s killed by signal %d (%s; "
		    "retry)%s", what, r->status, strsignal(r->status), tail);
		return CM_E_FAIL;
	default:
		srv->log(srv, CM_LOG_WARN, "%s; retry", r->why);
		return CM_E_FAIL;
	}
	switch (act) {
	case ACT_OK:
		srv->log(srv, CM_LOG_DEBUG, "%s exited with %d in %lld ms",
		    what, r->status, r->ms);
		return CM_OK;
	case ACT_RETRY:
		srv->log(srv, CM_LOG_WARN, "%s exited with %d (retry)%s", what,
		    r->status, tail);
		return CM_E_FAIL;
	case ACT_SUSPEND:
		srv->log(srv, CM_LOG_ERROR, "%s exited with %d (suspend the "
		    "module until certmint exit resume)%s", what, r->status,
		    tail);
		rc = CM_E_SUSPEND;
		break;
	default:
		srv->log(srv, CM_LOG_ERROR, "%s exited with %d (permanent, "
		    "not retried)%s", what, r->status, tail);
		rc = CM_E_PERMANENT;
		break;
	}
	return srv->abi_minor >= 1 ? rc : CM_E_FAIL;
}

/*
 * Run the command for one event (docs/modules/command.md "Failure
 * semantics"): an executable that is missing or that others may change
 * suspends the module (every event would fail the same way; none is lost
 * while the operator fixes it); anything else that keeps it from starting
 * is retried.
 */
static int
cmd_notify(void *state, int32_t event, int64_t context, cm_server_exit *srv)
{
	struct cmd	*m = state;
	struct conf	*c = conf_get(m);
	struct run_spec	 sp;
	struct run_result r;
	struct job	 j;
	char		 err[512], *file = NULL, *seq = NULL;
	int		 rc = CM_E_FAIL;

	memset(&j, 0, sizeof(j));
	j.event = event;
	j.context = context;
	if ((event & c->events) == 0) {
		rc = CM_OK;
		goto out;
	}
	if (mu_prop_text(srv, "EventSequence", &seq) == CM_OK)
		j.seq = strtoll(seq, NULL, 10);
	if ((file = resolve(c->argv[0], c->path, err, sizeof(err))) == NULL ||
	    check_executable(file, err, sizeof(err)) == -1) {
		srv->log(srv, CM_LOG_ERROR, "event %" PRId64 ": %s: module "
		    "suspended until certmint exit resume", j.seq, err);
		rc = srv->abi_minor >= 1 ? CM_E_SUSPEND : CM_E_FAIL;
		goto out;
	}
	if (job_build(&j, c, srv) == -1) {
		srv->log(srv, CM_LOG_WARN, "event %" PRId64 ": cannot read its "
		    "properties (out of memory?); retry", j.seq);
		goto out;
	}
	if (slot_take(m, c->timeout_ms) == -1) {
		srv->log(srv, CM_LOG_WARN, "event %" PRId64 ": all %lld "
		    "concurrency slots stayed busy for the %lld ms timeout; "
		    "retry", j.seq, c->concurrency, c->timeout_ms);
		goto out;
	}
	if ((c->input == IN_FILE && job_tmpfile(&j, c, err,
	    sizeof(err)) == -1) || job_argv(&j, c, srv, err,
	    sizeof(err)) == -1) {
		slot_give(m);
		srv->log(srv, CM_LOG_WARN, "event %" PRId64 ": %s; retry",
		    j.seq, err);
		goto out;
	}
	memset(&sp, 0, sizeof(sp));
	sp.file = file;
	sp.argv = j.argv;
	sp.envp = j.env;
	sp.dir = c->dir;
	sp.input = c->input == IN_STDIN && j.input != NULL ? j.input : NULL;
	sp.input_len = sp.input != NULL ? j.input_len : 0;
	sp.timeout_ms = c->timeout_ms;
	sp.kill_after_ms = c->kill_after_ms;
	sp.keep = (size_t)c->log_output;
	run_command(&sp, &r);
	slot_give(m);
	log_output(srv, &j, "stdout", CM_LOG_INFO, &r.out, r.out_total);
	log_output(srv, &j, "stderr", CM_LOG_WARN, &r.err, r.err_total);
	rc = outcome(srv, &j, c, &r);
	run_result_free(&r);
 out:
	job_free(&j);
	free(file);
	free(seq);
	conf_put(m, c);
	return rc;
}

static int
cmd_initialize(const char *config, cm_server_exit *srv, void **state,
    int32_t *event_mask)
{
	pthread_condattr_t ca;
	struct cmd	*m;
	struct conf	*c;
	char		 err[512];

	if ((m = calloc(1, sizeof(*m))) == NULL)
		return CM_E_NOMEM;
	if (conf_load(srv, &c, err, sizeof(err)) == -1) {
		srv->log(srv, CM_LOG_ERROR, "[%s] %s", MODNAME, err);
		free(m);
		return CM_E_INVALIDARG;
	}
	pthread_mutex_init(&m->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&m->slot_freed, &ca);
	pthread_condattr_destroy(&ca);
	m->conf = &c->ref;
	m->mask = c->events;
	*event_mask = m->mask;
	*state = m;
	return CM_OK;
}

static const char *
cmd_description(void *state)
{
	return "Command exit module: runs a program per event, without a "
	    "shell (EJBCA's external-command publisher)";
}

static int
cmd_get_property(void *state, const char *name, int32_t flags,
    cm_value *out)
{
	(void)state;
	(void)flags;
	return mu_manage_info(name, MODNAME, "Runs a program per event: the "
	    "certificate on stdin, properties in CERTMINT_* variables", out);
}

/* configure without REFRESHONLY: the settings, then what they name. */
static int
cmd_check(const struct conf *c, char *report, size_t size)
{
	struct stat	 sb;
	char		 err[512], *file, tmp[PATH_MAX];
	int		 fd;

	if ((file = resolve(c->argv[0], c->path, err, sizeof(err))) == NULL ||
	    check_executable(file, err, sizeof(err)) == -1) {
		snprintf(report, size, "%s", err);
		free(file);
		return CM_E_FAIL;
	}
	errno = ENOTDIR;
	if (stat(c->dir, &sb) == -1 || !S_ISDIR(sb.st_mode) ||
	    access(c->dir, X_OK) == -1) {
		snprintf(report, size, "directory = \"%s\": %s", c->dir,
		    strerror(errno));
		free(file);
		return CM_E_FAIL;
	}
	if (c->input == IN_FILE) {
		snprintf(tmp, sizeof(tmp), "%s/certmint-check-XXXXXX",
		    c->tmpdir);
		if ((fd = mkostemp(tmp, O_CLOEXEC)) == -1) {
			snprintf(report, size, "tmpdir = \"%s\": cannot create "
			    "a file there: %s", c->tmpdir, strerror(errno));
			free(file);
			return CM_E_FAIL;
		}
		close(fd);
		unlink(tmp);
	}
	snprintf(report, size, "command %s: OK (executable, not writable by "
	    "group or others); directory %s: OK%s%s", file, c->dir,
	    c->input == IN_FILE ? "; tmpdir writable: " : "",
	    c->input == IN_FILE ? c->tmpdir : "");
	free(file);
	return CM_OK;
}

/*
 * certmint exit configure: with CM_CMM_REFRESHONLY reread the settings
 * (kept as they were if they are wrong); without, check them and what
 * they name, as the module would run it.
 */
static int
cmd_configure(void *state, cm_server_exit *srv, int32_t flags, char *report,
    size_t size)
{
	struct cmd	*m = state;
	struct conf	*c;
	char		 err[512];
	int		 rc;

	if (conf_load(srv, &c, err, sizeof(err)) == -1) {
		snprintf(report, size, "%s", err);
		if (flags & CM_CMM_REFRESHONLY)
			srv->log(srv, CM_LOG_ERROR, "settings not reloaded: %s",
			    err);
		return CM_E_INVALIDARG;
	}
	if (flags & CM_CMM_REFRESHONLY) {
		if (c->events != m->mask)
			srv->log(srv, CM_LOG_WARN, "events: a change of the "
			    "events takes effect at the next start");
		conf_swap(m, c);
		snprintf(report, size, "settings reloaded");
		return CM_OK;
	}
	rc = cmd_check(c, report, size);
	conf_free(c);
	return rc;
}

static const cm_manage_module cmd_manage = {
	sizeof(cm_manage_module), cmd_get_property, cmd_set_property,
	cmd_configure
};

static const cm_manage_module *
cmd_get_manage(void *state)
{
	return &cmd_manage;
}

static void
cmd_shutdown(void *state)
{
	struct cmd	*m = state;

	conf_put(m, CONF(m->conf));
	pthread_cond_destroy(&m->slot_freed);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

static const struct cm_exit cmd_exit = {
	CM_EXIT_MAGIC, CM_ABI_MAJOR, CM_ABI_MINOR, sizeof(struct cm_exit),
	MODNAME, CM_THREADING_CONCURRENT,
	cmd_initialize, cmd_notify, cmd_description, cmd_get_manage,
	cmd_shutdown
};

CM_EXIT_MODULE(cmd_exit)
