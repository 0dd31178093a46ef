/*
 * settings.c - CertMint_Command.Exit's settings (docs/modules/command.md):
 * each key read and checked into a struct conf, and the manage module's
 * exit set, which judges one value on its own.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "command.h"

#define DEFAULT_PATH	"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:" \
			"/sbin:/bin"

void
strv_free(char **v)
{
	size_t	 i;

	for (i = 0; v != NULL && v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

/* Append s (taken) to the NULL-terminated *v of *n. 0, or -1 (s freed). */
int
strv_push(char ***v, size_t *n, char *s)
{
	char	**nv;

	if (s == NULL || (nv = realloc(*v, (*n + 2) * sizeof(*nv))) == NULL) {
		free(s);
		return -1;
	}
	nv[(*n)++] = s;
	nv[*n] = NULL;
	*v = nv;
	return 0;
}

/* conf_free, as struct mu_ref's free_fn. */
static void
conf_free_ref(void *c)
{
	conf_free(c);
}

void
conf_free(struct conf *c)
{
	if (c == NULL)
		return;
	free(c->command);
	strv_free(c->argv);
	free(c->dir);
	free(c->tmpdir);
	free(c->path);
	strv_free(c->props);
	free(c);
}

/*
 * Split the command into words as sh would quote them, and do nothing
 * else sh does: '...' is literal, "..." takes \" and \\, a backslash
 * outside quotes takes the next character. 0, or -1 with err.
 */
static int
argv_parse(const char *s, char ***out, char *err, size_t errlen)
{
	struct mu_buf	 w = { 0 };
	const char	*cmd = s;
	size_t		 n = 0;
	char		 q = 0;
	int		 inword = 0;

	*out = NULL;
	for (;; s++) {
		if (q == 0 && (*s == '\0' || *s == ' ' || *s == '\t')) {
			if (inword && strv_push(out, &n, strdup(w.data ?
			    w.data : "")) == -1)
				goto nomem;
			w.len = 0;
			inword = 0;
			if (*s == '\0')
				break;
			continue;
		}
		if (*s == '\0') {
			snprintf(err, errlen, "command = \"%.200s\": an unclosed "
			    "%c quote", cmd, q);
			goto fail;
		}
		inword = 1;
		if (q == 0 && (*s == '\'' || *s == '"')) {
			q = *s;
			continue;
		}
		if (q != 0 && *s == q) {
			q = 0;
			continue;
		}
		if (*s == '\\' && s[1] != '\0' && (q == 0 || (q == '"' &&
		    (s[1] == '"' || s[1] == '\\'))))
			s++;
		if (mu_buf_add(&w, s, 1) == -1)
			goto nomem;
	}
	mu_buf_free(&w);
	if (n == 0) {
		snprintf(err, errlen, "command: empty (the program to run and "
		    "its arguments)");
		goto fail;
	}
	return 0;
 nomem:
	snprintf(err, errlen, "out of memory");
 fail:
	mu_buf_free(&w);
	strv_free(*out);
	*out = NULL;
	return -1;
}

/*
 * The next item of a list separated by commas and/or blanks, copied into
 * buf (too long: truncated, and so refused by the caller as unknown).
 * Returns a pointer past it, or NULL at the end.
 */
static const char *
list_next(const char *s, char *buf, size_t len)
{
	size_t	 n;

	s += strspn(s, ", \t");
	if (*s == '\0')
		return NULL;
	n = strcspn(s, ", \t");
	snprintf(buf, len, "%.*s", (int)n, s);
	return s + n;
}

/* events = all | issued, revoked, ... (certmint's or AD CS's names). */
static int
events_parse(const char *v, int32_t *mask, char *err, size_t errlen)
{
	char		 item[64];
	int32_t		 ev;

	*mask = 0;
	while ((v = list_next(v, item, sizeof(item))) != NULL) {
		if (strcasecmp(item, "all") == 0) {
			*mask |= CM_EXITEVENT_ALL;
			continue;
		}
		for (ev = 1; ev <= CM_EXITEVENT_ALL; ev <<= 1)
			if (strcasecmp(item, mu_event_name(ev)) == 0 ||
			    strcasecmp(item, mu_event_adcs_name(ev)) == 0)
				break;
		if (ev > CM_EXITEVENT_ALL) {
			snprintf(err, errlen, "events: \"%s\" is not an event "
			    "(all, issued, pending, denied, revoked, unrevoked, "
			    "retrieved, imported, crl_issued, startup, "
			    "shutdown)", item);
			return -1;
		}
		*mask |= ev;
	}
	if (*mask == 0) {
		snprintf(err, errlen, "events: empty (name at least one event, "
		    "or all)");
		return -1;
	}
	return 0;
}

/* A key that is one of names (names[0] the default); its index or -1. */
static int
config_enum(cm_server_exit *srv, const char *key, const char *const *names,
    int n, char *err, size_t errlen)
{
	const char	*v = NULL;
	int		 i;

	if (srv->config_get(srv, key, &v) != CM_OK || v == NULL)
		return 0;
	for (i = 0; i < n; i++)
		if (strcasecmp(v, names[i]) == 0)
			return i;
	snprintf(err, errlen, "%s = \"%s\": expected %s", key, v, names[0]);
	for (i = 1; i < n; i++)
		snprintf(err + strlen(err), errlen - strlen(err), "%s%s",
		    i == n - 1 ? " or " : ", ", names[i]);
	return -1;
}

/*
 * exit_ok, exit_retry, exit_suspend: lists of exit statuses (0-255); a
 * status in two lists is refused. named[] records which key named each.
 */
static int
codes_parse(cm_server_exit *srv, const char *key, const char *def,
    enum action act, struct conf *c, const char **named, char *err,
    size_t errlen)
{
	const char	*v = NULL, *p;
	char		 item[16], *end;
	long		 code;

	if (srv->config_get(srv, key, &v) != CM_OK || v == NULL)
		v = def;
	p = v;
	while ((p = list_next(p, item, sizeof(item))) != NULL) {
		errno = 0;
		code = strtol(item, &end, 10);
		if (errno != 0 || end == item || *end != '\0' || code < 0 ||
		    code > 255) {
			snprintf(err, errlen, "%s = \"%s\": \"%s\" is not an exit "
			    "status (0 to 255)", key, v, item);
			return -1;
		}
		if (named[code] != NULL) {
			snprintf(err, errlen, "%s = \"%s\": exit status %ld is "
			    "also in %s", key, v, code, named[code]);
			return -1;
		}
		named[code] = key;
		c->action[code] = (unsigned char)act;
	}
	return 0;
}

/* An absolute directory path from key (def when unset). */
static int
config_dir(cm_server_exit *srv, const char *key, const char *def,
    char **out, char *err, size_t errlen)
{
	if (mu_config(srv, key, def, out) == -1) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if ((*out)[0] != '/') {
		snprintf(err, errlen, "%s = \"%s\": expected an absolute path",
		    key, *out);
		return -1;
	}
	return 0;
}

/* properties = Name, Name...: names as mu_prop_text takes them. */
static int
props_parse(const char *v, char ***out, char *err, size_t errlen)
{
	char	 item[128];
	size_t	 n = 0, i;

	*out = NULL;
	while ((v = list_next(v, item, sizeof(item))) != NULL) {
		for (i = 0; item[i] != '\0'; i++)
			if (!((item[i] >= 'A' && item[i] <= 'Z') ||
			    (item[i] >= 'a' && item[i] <= 'z') ||
			    (item[i] >= '0' && item[i] <= '9') ||
			    strchr("._-", item[i]) != NULL))
				break;
		if (item[i] != '\0' || i == 0 || i >= sizeof(item) - 1 ||
		    n == PROPS_MAX) {
			snprintf(err, errlen, "properties: \"%s\": %s", item,
			    n == PROPS_MAX ? "more than 32 properties" :
			    "not a property name (Subject.EMail, "
			    "Attribute.Owner, ...)");
			return -1;
		}
		if (strv_push(out, &n, strdup(item)) == -1) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
	}
	return 0;
}

static const char *const keys[] = { "command", "events", "input",
    "input_format", "timeout", "kill_after", "concurrency", "log_output",
    "exit_ok", "exit_retry", "exit_suspend", "exit_other", "directory",
    "tmpdir", "path", "properties" };

/* 1 + key's index in keys, or 0: not one of ours. */
static int
known_key(const char *key)
{
	size_t	 i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strcasecmp(key, keys[i]) == 0)
			return (int)i + 1;
	return 0;
}

/*
 * Read and check every setting (docs/modules/command.md) into a new conf.
 * 0, or -1 with err naming the key and what is wrong with it.
 */
int
conf_load(cm_server_exit *srv, struct conf **out, char *err, size_t errlen)
{
	static const char *const inputs[] = { "stdin", "file", "none" };
	static const char *const formats[] = { "der", "pem" };
	static const char *const others[] = { "permanent", "retry",
	    "suspend" };
	static const enum action other_act[] = { ACT_PERMANENT, ACT_RETRY,
	    ACT_SUSPEND };
	const char	*named[256] = { 0 };
	struct conf	*c;
	char		*v = NULL;
	int		 i;

	*out = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		goto nomem;
	c->ref.refs = 1;
	c->ref.free_fn = conf_free_ref;
	if (mu_config_unknown(srv, known_key, "CertMint_Command.Exit",
	    "docs/modules/command.md", err, errlen) == -1)
		goto fail;
	if (mu_config(srv, "command", NULL, &c->command) == -1)
		goto nomem;
	if (c->command == NULL) {
		snprintf(err, errlen, "command: not set (the program to run "
		    "and its arguments)");
		goto fail;
	}
	if (argv_parse(c->command, &c->argv, err, errlen) == -1)
		goto fail;
	if (mu_config(srv, "events", "all", &v) == -1)
		goto nomem;
	if (events_parse(v, &c->events, err, errlen) == -1)
		goto fail;
	if ((i = config_enum(srv, "input", inputs, 3, err, errlen)) == -1)
		goto fail;
	c->input = (enum input)i;
	if ((c->pem = config_enum(srv, "input_format", formats, 2, err,
	    errlen)) == -1)
		goto fail;
	if (mu_config_ms(srv, "timeout", 3000, &c->timeout_ms, err,
	    errlen) == -1 || mu_config_ms(srv, "kill_after", 1000,
	    &c->kill_after_ms, err, errlen) == -1 ||
	    mu_config_int(srv, "concurrency", 4, 1, 256, &c->concurrency, err,
	    errlen) == -1 ||
	    mu_config_int(srv, "log_output", 4096, 0, 65536, &c->log_output,
	    err, errlen) == -1)
		goto fail;
	if (c->timeout_ms == 0) {
		snprintf(err, errlen, "timeout = 0: expected a duration above 0");
		goto fail;
	}
	if ((i = config_enum(srv, "exit_other", others, 3, err, errlen)) == -1)
		goto fail;
	memset(c->action, other_act[i], sizeof(c->action));
	if (codes_parse(srv, "exit_ok", "0", ACT_OK, c, named, err,
	    errlen) == -1 ||
	    codes_parse(srv, "exit_retry", "75", ACT_RETRY, c, named, err,
	    errlen) == -1 ||
	    codes_parse(srv, "exit_suspend", "", ACT_SUSPEND, c, named, err,
	    errlen) == -1)
		goto fail;
	if (config_dir(srv, "directory", "/", &c->dir, err, errlen) == -1 ||
	    config_dir(srv, "tmpdir", "/tmp", &c->tmpdir, err, errlen) == -1)
		goto fail;
	if (mu_config(srv, "path", DEFAULT_PATH, &c->path) == -1)
		goto nomem;
	free(v);
	v = NULL;
	if (mu_config(srv, "properties", "", &v) == -1)
		goto nomem;
	if (props_parse(v, &c->props, err, errlen) == -1)
		goto fail;
	free(v);
	v = NULL;
	if (c->props == NULL && (c->props = calloc(1, sizeof(char *))) == NULL)
		goto nomem;
	*out = c;
	return 0;
 nomem:
	snprintf(err, errlen, "out of memory");
 fail:
	free(v);
	conf_free(c);
	return -1;
}

/* What the keys other than the one checked say (mu_one_key_init). */
static const char *
one_key_default(const char *key)
{
	if (strcmp(key, "command") == 0)
		return "/bin/true";	/* required; not the one checked */
	if (strncmp(key, "exit_", 5) == 0 && strcmp(key, "exit_other"))
		return "";	/* the other lists' defaults must not clash */
	return NULL;
}

/*
 * certmint exit set CertMint_Command.Exit KEY VALUE: accept a key of
 * ours whose value reads well on its own (what it means together with
 * the others, the refresh that follows and configure check).
 */
int
cmd_set_property(void *state, const char *name, int32_t flags,
    const cm_value *value)
{
	struct mu_one_key o;
	struct conf	*c;
	char		 err[512], *v;
	size_t		 i;
	int		 rc, k;

	if ((k = known_key(name)) == 0)
		return CM_S_FALSE;
	i = (size_t)k - 1;
	if (value->type != CM_PROPTYPE_STRING ||
	    (v = strndup(value->data, value->len)) == NULL)
		return CM_E_INVALIDARG;
	mu_one_key_init(&o, keys[i], v, one_key_default);
	rc = conf_load(&o.vt, &c, err, sizeof(err)) == 0 ? CM_OK :
	    CM_E_INVALIDARG;
	conf_free(c);
	free(v);
	return rc;
}
