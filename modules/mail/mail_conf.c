/*
 * mail_conf.c - CertMint_Mail.Exit's settings: read from the module's
 * config section, each checked with the key and the reason in the error
 * (docs/modules/mail.md lists them). AD CS's registry values keep their
 * names (SMTPServer, SMTPAuthenticate, EventFilter, Issued\TitleFormat
 * becomes Issued.TitleFormat); what AD CS lacks has lowercase names.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "mail.h"

const char *const mail_tls_names[MAIL_TLS__MAX] = {
	"none", "starttls", "implicit"
};
const char *const mail_auth_names[MAIL_AUTH__MAX] = {
	"none", "plain", "login"
};

/*
 * What each event says when its templates are not set: a subject and a
 * body naming the properties an operator looks for first.
 */
static const struct {
	const char	*title, *title_arg, *body, *body_arg;
} defaults[MAIL_NEVENTS] = {
	/* Issued */
	{ "Certificate issued: %1 (request %2)",
	  "Subject.CommonName, Request.RequestID",
	  "%1 issued a certificate.\n\nRequest ID:    %2\nRequester:     %3\n"
	  "Subject:       %4\nSerial number: %5\nValid from:    %6\n"
	  "Valid until:   %7\nProfile:       %8\nSHA-256:       %9\n",
	  "SanitizedCAName, Request.RequestID, Request.RequesterName, "
	  "DistinguishedName, SerialNumber, NotBefore, NotAfter, "
	  "CertificateTemplate, CertificateHashSHA256" },
	/* Pending */
	{ "Certificate request pending: %1 (request %2)",
	  "Request.CommonName, Request.RequestID",
	  "Request %1 from %2 awaits a CA officer of %3.\n\n"
	  "Subject:   %4\nSubmitted: %5\nStatus:    %6\n",
	  "Request.RequestID, Request.RequesterName, SanitizedCAName, "
	  "Request.DistinguishedName, Request.SubmittedWhen, "
	  "Request.DispositionMessage" },
	/* Denied */
	{ "Certificate request denied: %1 (request %2)",
	  "Request.CommonName, Request.RequestID",
	  "%3 denied request %1 from %2.\n\nSubject:     %4\n"
	  "Submitted:   %5\nResolved:    %6\nReason:      %7\n"
	  "Status code: %8\n",
	  "Request.RequestID, Request.RequesterName, SanitizedCAName, "
	  "Request.DistinguishedName, Request.SubmittedWhen, "
	  "Request.ResolvedWhen, Request.DispositionMessage, "
	  "Request.StatusCode" },
	/* Revoked */
	{ "Certificate revoked: %1 (serial %2)",
	  "Subject.CommonName, SerialNumber",
	  "%1 revoked a certificate.\n\nRequest ID:    %2\nSubject:       %3\n"
	  "Serial number: %4\nRevoked:       %5\nEffective:     %6\n"
	  "Reason code:   %7\n",
	  "SanitizedCAName, Request.RequestID, DistinguishedName, "
	  "SerialNumber, Request.RevokedWhen, Request.RevokedEffectiveWhen, "
	  "Request.RevokedReason" },
	/* RetrievePending */
	{ "Certificate retrieved: %1 (request %2)",
	  "Subject.CommonName, Request.RequestID",
	  "The requester retrieved the certificate of request %1, which was "
	  "pending.\n\nSubject:       %2\nSerial number: %3\n"
	  "Valid until:   %4\n",
	  "Request.RequestID, DistinguishedName, SerialNumber, NotAfter" },
	/* CRLIssued */
	{ "CRL published by %1", "SanitizedCAName",
	  "%1 published a CRL at %2.\n", "SanitizedCAName, EventTime" },
	/* Shutdown */
	{ "%1 stopped", "SanitizedCAName",
	  "Certificate services %1 on %2 stopped at %3.\n",
	  "SanitizedCAName, MachineDNSName, EventTime" },
	/* Startup */
	{ "%1 started", "SanitizedCAName",
	  "Certificate services %1 on %2 started at %3.\n",
	  "SanitizedCAName, MachineDNSName, EventTime" },
	/* Unrevoked */
	{ "Certificate released from hold: %1 (serial %2)",
	  "Subject.CommonName, SerialNumber",
	  "%1 released a certificate from hold: it is valid again.\n\n"
	  "Request ID:    %2\nSubject:       %3\nSerial number: %4\n"
	  "Valid until:   %5\n",
	  "SanitizedCAName, Request.RequestID, DistinguishedName, "
	  "SerialNumber, NotAfter" },
	/* Imported */
	{ "Certificate imported: %1 (serial %2)",
	  "Subject.CommonName, SerialNumber",
	  "%1 imported a certificate.\n\nRequest ID:    %2\n"
	  "Subject:       %3\nSerial number: %4\nValid from:    %5\n"
	  "Valid until:   %6\n",
	  "SanitizedCAName, Request.RequestID, DistinguishedName, "
	  "SerialNumber, NotBefore, NotAfter" },
};

int
mail_event_index(int32_t event)
{
	int	 i;

	for (i = 0; i < MAIL_NEVENTS; i++)
		if (event == (int32_t)1 << i)
			return i;
	return -1;
}

int32_t
mail_event_bit(int index)
{
	return (int32_t)1 << index;
}

/* "Issued" style name of event index i (AD CS's SMTP subkey). */
static const char *
event_key(int i)
{
	return mu_event_adcs_name(mail_event_bit(i));
}

static void
oom(char *err, size_t errlen)
{
	snprintf(err, errlen, "out of memory");
}

/* A host name or address literal: no space, slash, or control byte. */
static int
host_ok(const char *h)
{
	const unsigned char *p;

	if (*h == '\0' || strlen(h) > 253)
		return 0;
	for (p = (const unsigned char *)h; *p != '\0'; p++)
		if (!isalnum(*p) && strchr(".-_:[]", *p) == NULL)
			return 0;
	return 1;
}

static int
parse_enum(cm_server_exit *srv, const char *key, const char *const *names,
    int n, int def, int *out, const char *also, char *err, size_t errlen)
{
	const char	*v = NULL;
	int		 i;

	*out = def;
	if (srv->config_get(srv, key, &v) != CM_OK || v == NULL)
		return 0;
	for (i = 0; i < n; i++)
		if (strcasecmp(v, names[i]) == 0) {
			*out = i;
			return 0;
		}
	/* Both enums have three names: "none, starttls or implicit". */
	snprintf(err, errlen, "%s = \"%s\": expected %s, %s or %s%s", key, v,
	    names[0], names[1], names[2], also);
	return -1;
}

/*
 * SMTPAuthenticate: none, plain or login; AD CS's numbers too (0
 * anonymous, 1 basic: AUTH LOGIN, as CDO sends it). NTLM (2) and Kerberos
 * are not offered.
 */
static int
parse_auth(cm_server_exit *srv, const char *key, enum mail_auth *out,
    char *err, size_t errlen)
{
	const char	*v = NULL;
	int		 a;

	if (srv->config_get(srv, key, &v) == CM_OK && v != NULL) {
		if (strcmp(v, "0") == 0) {
			*out = MAIL_AUTH_NONE;
			return 0;
		}
		if (strcmp(v, "1") == 0) {
			*out = MAIL_AUTH_LOGIN;
			return 0;
		}
		if (strcmp(v, "2") == 0 || strcasecmp(v, "ntlm") == 0) {
			snprintf(err, errlen, "%s = \"%s\": NTLM is not "
			    "supported; use plain or login over TLS", key, v);
			return -1;
		}
	}
	if (parse_enum(srv, key, mail_auth_names, MAIL_AUTH__MAX,
	    MAIL_AUTH_NONE, &a, " (or AD CS's 0, 1)", err, errlen) == -1)
		return -1;
	*out = (enum mail_auth)a;
	return 0;
}

/* One EventFilter word: a number, or an event by any of its names. */
static int
filter_word(const char *w, int32_t *bit)
{
	char	*end;
	long	 n;
	int	 i;

	if (isdigit((unsigned char)w[0])) {
		errno = 0;
		n = strtol(w, &end, 0);
		if (errno != 0 || *end != '\0' || n < 0 ||
		    (n & ~(long)CM_EXITEVENT_ALL) != 0)
			return -1;
		*bit = (int32_t)n;
		return 0;
	}
	if (strcasecmp(w, "all") == 0) {
		*bit = CM_EXITEVENT_ALL;
		return 0;
	}
	if (strcasecmp(w, "none") == 0) {
		*bit = 0;
		return 0;
	}
	if (strncasecmp(w, "EXITEVENT_", 10) == 0)
		w += 10;
	for (i = 0; i < MAIL_NEVENTS; i++) {
		const char *adcs = event_key(i);

		if (strcasecmp(w, adcs) == 0 ||
		    strcasecmp(w, mu_event_name(mail_event_bit(i))) == 0 ||
		    (strncasecmp(w, "CERT", 4) == 0 &&
		    strcasecmp(w + 4, adcs) == 0)) {
			*bit = mail_event_bit(i);
			return 0;
		}
	}
	return -1;
}

/*
 * EventFilter: the events that send mail, as AD CS's bit mask (0x9, a
 * decimal number) or names ("Issued, Revoked", "+EXITEVENT_CERTISSUED"
 * as certutil -setreg writes them). Default none, as AD CS.
 */
static int
parse_filter(cm_server_exit *srv, const char *key, int32_t *out, char *err,
    size_t errlen)
{
	const char	*v = NULL;
	char		*copy, *w, *save = NULL;
	int32_t		 bit;
	int		 rc = 0;

	*out = 0;
	if (srv->config_get(srv, key, &v) != CM_OK || v == NULL)
		return 0;
	if ((copy = strdup(v)) == NULL) {
		oom(err, errlen);
		return -1;
	}
	for (w = strtok_r(copy, ",|+ \t", &save); w != NULL && rc == 0;
	    w = strtok_r(NULL, ",|+ \t", &save)) {
		if (filter_word(w, &bit) == -1) {
			snprintf(err, errlen, "%s = \"%s\": \"%s\" is not an "
			    "event (Issued, Pending, Denied, Revoked, "
			    "Unrevoked, CRLIssued, Shutdown, Startup, Imported, "
			    "RetrievePending, all, or a mask such as 0x9)",
			    key, v, w);
			rc = -1;
		} else
			*out |= bit;
	}
	free(copy);
	return rc;
}

/*
 * A list of property names ("Request.RequestID, NotAfter"): AD CS's
 * TitleArg/BodyArg multi-string, comma-separated here.
 */
static int
parse_args(const char *key, const char *v, char ***out, size_t *n,
    char *err, size_t errlen)
{
	const char	*p, *e;
	char		**a = NULL, **na;
	size_t		 k = 0, len, i;

	*out = NULL;
	*n = 0;
	for (p = v; *p != '\0';) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '\0')
			break;
		for (e = p; *e != '\0' && *e != ','; e++)
			;
		len = (size_t)(e - p);
		while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		for (i = 0; i < len; i++)
			if (!isalnum((unsigned char)p[i]) &&
			    strchr("._-", p[i]) == NULL)
				break;
		if (i < len || k >= MAIL_MAXARGS) {
			snprintf(err, errlen, "%s = \"%s\": %s", key, v, k >=
			    MAIL_MAXARGS ? "more than 99 properties" :
			    "expected property names separated by commas "
			    "(Request.RequestID, NotAfter)");
			goto fail;
		}
		if ((na = realloc(a, (k + 1) * sizeof(*a))) == NULL)
			goto nomem;
		a = na;
		if ((a[k] = strndup(p, len)) == NULL)
			goto nomem;
		k++;
		p = e;
	}
	*out = a;
	*n = k;
	return 0;
nomem:
	oom(err, errlen);
fail:
	while (k > 0)
		free(a[--k]);
	free(a);
	return -1;
}

static void
free_args(char **a, size_t n)
{
	while (n > 0)
		free(a[--n]);
	free(a);
}

/*
 * A format string as stored: "\n" and "\t" written as two characters (an
 * INI value is one line) become the control characters, "\\" a backslash.
 */
static char *
unescape(const char *v)
{
	char	*out, *o;

	if ((out = malloc(strlen(v) + 1)) == NULL)
		return NULL;
	for (o = out; *v != '\0'; v++) {
		if (v[0] == '\\' && (v[1] == 'n' || v[1] == 't' ||
		    v[1] == '\\')) {
			*o++ = v[1] == 'n' ? '\n' : v[1] == 't' ? '\t' : '\\';
			v++;
		} else
			*o++ = *v;
	}
	*o = '\0';
	return out;
}

static int
get_str(cm_server_exit *srv, const char *key, char **out, char *err,
    size_t errlen)
{
	if (mu_config(srv, key, NULL, out) == -1) {
		oom(err, errlen);
		return -1;
	}
	return 0;
}

/*
 * A value that may go on in KEY.2, KEY.3, ... (up to KEY.50, to the first
 * one missing), joined by sep: AD CS's BodyFormat and BodyArg are
 * multi-strings, and an INI line holds about 200 characters. *out NULL
 * when KEY is not set. 0, or -1 (no memory).
 */
static int
get_multi(cm_server_exit *srv, const char *key, const char *sep, char **out)
{
	struct mu_buf	 b = { 0 };
	const char	*v = NULL;
	char		 k[80];
	int		 n;

	*out = NULL;
	if (srv->config_get(srv, key, &v) != CM_OK || v == NULL)
		return 0;
	if (mu_buf_str(&b, v) == -1)
		return -1;
	for (n = 2; n <= 50; n++) {
		snprintf(k, sizeof(k), "%s.%d", key, n);
		if (srv->config_get(srv, k, &v) != CM_OK || v == NULL)
			break;
		if (mu_buf_str(&b, sep) == -1 || mu_buf_str(&b, v) == -1) {
			mu_buf_free(&b);
			return -1;
		}
	}
	*out = b.data;
	return 0;
}

/* Event i's format (TitleFormat or BodyFormat) with its argument list. */
static int
read_format(cm_server_exit *srv, int i, const char *fmtname,
    const char *argname, const char *def, const char *defarg, char **fmt,
    char ***args, size_t *nargs, char *err, size_t errlen)
{
	char		 fk[64], ak[64], *v = NULL, *a = NULL;
	int		 rc = -1;

	snprintf(fk, sizeof(fk), "%s.%s", event_key(i), fmtname);
	snprintf(ak, sizeof(ak), "%s.%s", event_key(i), argname);
	if (get_multi(srv, fk, "\\n", &v) == -1 ||
	    get_multi(srv, ak, ",", &a) == -1) {
		oom(err, errlen);
		goto out;
	}
	/* An operator's format takes only the operator's arguments. */
	if ((*fmt = unescape(v != NULL ? v : def)) == NULL) {
		oom(err, errlen);
		goto out;
	}
	if (parse_args(ak, a != NULL ? a : v != NULL ? "" : defarg, args,
	    nargs, err, errlen) == -1)
		goto out;
	rc = mail_fmt_check(fk, *fmt, *nargs, err, errlen);
out:
	free(v);
	free(a);
	return rc;
}

static int
read_tmpl(cm_server_exit *srv, int i, struct mail_tmpl *t, int attach_def,
    char *err, size_t errlen)
{
	static const char *const addr[] = { "From", "To", "Cc" };
	char		 k[64];
	char		**dst[3];
	size_t		 j;

	dst[0] = &t->from;
	dst[1] = &t->to;
	dst[2] = &t->cc;
	for (j = 0; j < 3; j++) {
		snprintf(k, sizeof(k), "%s.%s", event_key(i), addr[j]);
		if (get_str(srv, k, dst[j], err, errlen) == -1)
			return -1;
		/* The section's From, To, Cc serve every event. */
		if (*dst[j] == NULL) {
			snprintf(k, sizeof(k), "%s", addr[j]);
			if (get_str(srv, k, dst[j], err, errlen) == -1)
				return -1;
		}
		if (*dst[j] != NULL &&
		    mail_addr_check(k, *dst[j], err, errlen) == -1)
			return -1;
	}
	if (read_format(srv, i, "TitleFormat", "TitleArg", defaults[i].title,
	    defaults[i].title_arg, &t->title_fmt, &t->title_arg,
	    &t->ntitle_arg, err, errlen) == -1 ||
	    read_format(srv, i, "BodyFormat", "BodyArg", defaults[i].body,
	    defaults[i].body_arg, &t->body_fmt, &t->body_arg, &t->nbody_arg,
	    err, errlen) == -1)
		return -1;
	snprintf(k, sizeof(k), "%s.Attach", event_key(i));
	return mu_config_bool(srv, k, attach_def, &t->attach, err, errlen);
}

/* Settings for the connection itself. */
static int
read_server(cm_server_exit *srv, struct mail_conf *c, char *err,
    size_t errlen)
{
	static const long long ports[MAIL_TLS__MAX] = { 25, 587, 465 };
	int		 e;

	if (get_str(srv, "SMTPServer", &c->server, err, errlen) == -1)
		return -1;
	if (c->server == NULL) {
		snprintf(err, errlen, "SMTPServer: not set (the SMTP relay's "
		    "host name or address)");
		return -1;
	}
	if (!host_ok(c->server)) {
		snprintf(err, errlen, "SMTPServer = \"%s\": not a host name or "
		    "address", c->server);
		return -1;
	}
	if (parse_enum(srv, "tls", mail_tls_names, MAIL_TLS__MAX,
	    MAIL_TLS_STARTTLS, &e, "", err, errlen) == -1)
		return -1;
	c->tls = (enum mail_tls)e;
	if (mu_config_int(srv, "port", ports[c->tls], 1, 65535, &c->port,
	    err, errlen) == -1)
		return -1;
	if (get_str(srv, "ca_file", &c->ca_file, err, errlen) == -1)
		return -1;
	if (c->ca_file != NULL && access(c->ca_file, R_OK) == -1) {
		snprintf(err, errlen, "ca_file = \"%s\": %s", c->ca_file,
		    strerror(errno));
		return -1;
	}
	if (get_str(srv, "helo", &c->helo, err, errlen) == -1)
		return -1;
	if (c->helo != NULL && !host_ok(c->helo)) {
		snprintf(err, errlen, "helo = \"%s\": not a host name",
		    c->helo);
		return -1;
	}
	if (mu_config_ms(srv, "connect_timeout", 10000, &c->connect_timeout_ms,
	    err, errlen) == -1 ||
	    mu_config_ms(srv, "timeout", 60000, &c->timeout_ms, err,
	    errlen) == -1)
		return -1;
	if (c->connect_timeout_ms == 0 || c->timeout_ms == 0) {
		snprintf(err, errlen, "%s = 0: a timeout must be at least 1ms",
		    c->timeout_ms == 0 ? "timeout" : "connect_timeout");
		return -1;
	}
	return 0;
}

static int	 key_known(const char *);

/* SMTPAuthenticate, user, password_file. */
static int
read_auth(cm_server_exit *srv, struct mail_conf *c, char *err,
    size_t errlen)
{
	char	*pf = NULL, why[512];
	int	 rc = -1;

	if (parse_auth(srv, "SMTPAuthenticate", &c->auth, err, errlen) == -1 ||
	    get_str(srv, "user", &c->user, err, errlen) == -1 ||
	    get_str(srv, "password_file", &pf, err, errlen) == -1)
		goto out;
	if (c->auth == MAIL_AUTH_NONE) {
		rc = 0;
		goto out;
	}
	if (c->tls == MAIL_TLS_NONE) {
		snprintf(err, errlen, "SMTPAuthenticate = %s: the password "
		    "would cross the network in clear; set tls = starttls or "
		    "implicit", mail_auth_names[c->auth]);
		goto out;
	}
	if (c->user == NULL || *c->user == '\0') {
		snprintf(err, errlen, "user: not set (SMTPAuthenticate = %s "
		    "needs an account)", mail_auth_names[c->auth]);
		goto out;
	}
	if (pf == NULL) {
		snprintf(err, errlen, "password_file: not set "
		    "(SMTPAuthenticate = %s needs a password)",
		    mail_auth_names[c->auth]);
		goto out;
	}
	if (mu_secret_file(pf, &c->password, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "password_file = %s", why);
		goto out;
	}
	rc = 0;
out:
	free(pf);
	return rc;
}

int
mail_conf_read(cm_server_exit *srv, struct mail_conf *c, char *err,
    size_t errlen)
{
	char		 k[64];
	int		 i, attach;

	memset(c, 0, sizeof(*c));
	/* A misspelt Issued.TitleFormat would silently send the default. */
	if (mu_config_unknown(srv, key_known, MAIL_NAME,
	    "docs/modules/mail.md", err, errlen) == -1 ||
	    read_server(srv, c, err, errlen) == -1 ||
	    read_auth(srv, c, err, errlen) == -1 ||
	    parse_filter(srv, "EventFilter", &c->filter, err, errlen) == -1 ||
	    mu_config_bool(srv, "Attach", 0, &attach, err, errlen) == -1)
		goto fail;
	for (i = 0; i < MAIL_NEVENTS; i++) {
		if (read_tmpl(srv, i, &c->tmpl[i], attach, err, errlen) == -1)
			goto fail;
		if (!(c->filter & mail_event_bit(i)))
			continue;
		/* An event that sends mail needs a sender and a recipient. */
		snprintf(k, sizeof(k), "%s.", event_key(i));
		if (c->tmpl[i].from == NULL) {
			snprintf(err, errlen, "%sFrom: not set (nor From), and "
			    "EventFilter sends %s mail", k, event_key(i));
			goto fail;
		}
		if (c->tmpl[i].to == NULL && c->tmpl[i].cc == NULL) {
			snprintf(err, errlen, "%sTo: not set (nor %sCc, To, "
			    "Cc), and EventFilter sends %s mail", k, k,
			    event_key(i));
			goto fail;
		}
	}
	return 0;
fail:
	mail_conf_free(c);
	return -1;
}

void
mail_conf_free(struct mail_conf *c)
{
	struct mail_tmpl *t;
	int		 i;

	free(c->server);
	free(c->ca_file);
	free(c->user);
	if (c->password != NULL) {
		explicit_bzero(c->password, strlen(c->password));
		free(c->password);
	}
	free(c->helo);
	for (i = 0; i < MAIL_NEVENTS; i++) {
		t = &c->tmpl[i];
		free(t->from);
		free(t->to);
		free(t->cc);
		free(t->title_fmt);
		free(t->body_fmt);
		free_args(t->title_arg, t->ntitle_arg);
		free_args(t->body_arg, t->nbody_arg);
	}
	memset(c, 0, sizeof(*c));
}

/* Is k "sub.N", a continuation (2 to 50) of the multi-string sub? */
static int
multi_key(const char *k, const char *sub)
{
	size_t	 n = strlen(sub);
	char	*end;
	long	 v;

	if (strncasecmp(k, sub, n) != 0 || k[n] != '.' ||
	    !isdigit((unsigned char)k[n + 1]))
		return 0;
	v = strtol(k + n + 1, &end, 10);
	return *end == '\0' && v >= 2 && v <= 50;
}

static const char *const top_keys[] = { "SMTPServer", "port", "tls",
    "ca_file", "SMTPAuthenticate", "user", "password_file", "helo",
    "EventFilter", "connect_timeout", "timeout", "From", "To", "Cc",
    "Attach" };
static const char *const sub_keys[] = { "From", "To", "Cc", "TitleFormat",
    "TitleArg", "BodyFormat", "BodyArg", "Attach" };
#define NTOP	(sizeof(top_keys) / sizeof(top_keys[0]))
#define NSUB	(sizeof(sub_keys) / sizeof(sub_keys[0]))

/*
 * Which setting key is: 1 with *top set (a top_keys index), 0 with *ev and
 * *sub set (an <Event>.<sub_keys> key), or -1 when it is none of ours.
 */
static int
key_lookup(const char *key, size_t *top, int *ev, size_t *sub)
{
	const char	*dot;
	size_t		 i;
	int		 e;

	for (i = 0; i < NTOP; i++)
		if (strcasecmp(key, top_keys[i]) == 0) {
			*top = i;
			return 1;
		}
	if ((dot = strchr(key, '.')) == NULL)
		return -1;
	for (e = 0; e < MAIL_NEVENTS; e++)
		if (strlen(event_key(e)) == (size_t)(dot - key) &&
		    strncasecmp(key, event_key(e), (size_t)(dot - key)) == 0)
			break;
	if (e == MAIL_NEVENTS)
		return -1;
	for (i = 0; i < NSUB; i++)
		if (strcasecmp(dot + 1, sub_keys[i]) == 0 ||
		    (i >= 3 && i <= 6 && multi_key(dot + 1, sub_keys[i]))) {
			*ev = e;
			*sub = i;
			return 0;
		}
	return -1;
}

static int
key_known(const char *key)
{
	size_t	 top, sub;
	int	 ev;

	return key_lookup(key, &top, &ev, &sub) != -1;
}

/*
 * Check one key and its value as `certmint exit set` gives them: the key
 * must be one of the module's, the value one the key takes. Settings that
 * depend on others (a user for SMTPAuthenticate) are checked when the
 * whole section is reread; a format's %N are checked against the
 * argument list of the running settings cur. 0, or -1 with err.
 */
int
mail_conf_check_value(const char *key, const char *value,
    const struct mail_conf *cur, char *err, size_t errlen)
{
	struct mu_one_key o;
	enum mail_auth	 auth;
	char		**args;
	size_t		 ti, i, n;
	int		 b, e, kind;
	long long	 ll;
	int32_t		 f;

	mu_one_key_init(&o, key, value, NULL);
	if ((kind = key_lookup(key, &ti, &e, &i)) == 1) {
		if (strcasecmp(key, "SMTPServer") == 0 ||
		    strcasecmp(key, "helo") == 0) {
			if (host_ok(value))
				return 0;
			snprintf(err, errlen, "%s = \"%s\": not a host name "
			    "or address", key, value);
			return -1;
		}
		if (strcasecmp(key, "tls") == 0)
			return parse_enum(&o.vt, key, mail_tls_names,
			    MAIL_TLS__MAX, 0, &e, "", err, errlen);
		if (strcasecmp(key, "port") == 0)
			return mu_config_int(&o.vt, key, 0, 1, 65535, &ll, err,
			    errlen);
		if (strcasecmp(key, "connect_timeout") == 0 ||
		    strcasecmp(key, "timeout") == 0)
			return mu_config_ms(&o.vt, key, 0, &ll, err, errlen);
		if (strcasecmp(key, "ca_file") == 0) {
			if (access(value, R_OK) == 0)
				return 0;
			snprintf(err, errlen, "ca_file = \"%s\": %s", value,
			    strerror(errno));
			return -1;
		}
		if (strcasecmp(key, "SMTPAuthenticate") == 0)
			return parse_auth(&o.vt, key, &auth, err, errlen);
		if (strcasecmp(key, "EventFilter") == 0)
			return parse_filter(&o.vt, key, &f, err, errlen);
		if (strcasecmp(key, "Attach") == 0)
			return mu_config_bool(&o.vt, key, 0, &b, err, errlen);
		if (strcasecmp(key, "From") == 0 || strcasecmp(key, "To") == 0 ||
		    strcasecmp(key, "Cc") == 0)
			return mail_addr_check(key, value, err, errlen);
		return 0;	/* user, password_file: checked on reread */
	}
	if (kind == 0) {
		if (i < 3)
			return mail_addr_check(key, value, err, errlen);
		if (i == 7)
			return mu_config_bool(&o.vt, key, 0, &b, err, errlen);
		if (i == 4 || i == 6) {
			if (parse_args(key, value, &args, &n, err, errlen) == -1)
				return -1;
			free_args(args, n);
			return 0;
		}
		/* A format: its %N against the list in use. */
		return mail_fmt_check(key, value, i == 3 ?
		    cur->tmpl[e].ntitle_arg : cur->tmpl[e].nbody_arg, err,
		    errlen);
	}
	snprintf(err, errlen, "%s: not a setting of %s (see "
	    "docs/modules/mail.md)", key, MAIL_NAME);
	return -1;
}

/* One line on what the settings do, for configure's report. */
int
mail_conf_summary(const struct mail_conf *c, char *buf, size_t len)
{
	struct mu_buf	 b = { 0 };
	int		 i, n = 0;

	for (i = 0; i < MAIL_NEVENTS; i++)
		if (c->filter & mail_event_bit(i))
			if (mu_buf_printf(&b, "%s%s", n++ ? ", " : "",
			    event_key(i)) == -1)
				break;
	snprintf(buf, len, "EventFilter 0x%x: %s", (unsigned)c->filter,
	    n ? b.data : "no event sends mail (AD CS's default; set "
	    "EventFilter)");
	mu_buf_free(&b);
	return 0;
}
