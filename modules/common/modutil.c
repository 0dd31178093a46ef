/*
 * modutil.c - helpers of the bundled exit modules (modutil.h). Only the
 * public SDK and libc.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "modutil.h"

#define SECRET_MAX	4096
#define MU_VERSION	"1.0"	/* of the bundled modules */

int
mu_buf_add(struct mu_buf *b, const void *p, size_t n)
{
	size_t	 cap;
	char	*d;

	if (n >= SIZE_MAX / 2 - b->len)
		return -1;
	if (b->len + n + 1 > b->cap) {
		cap = b->cap ? b->cap : 256;
		while (cap < b->len + n + 1)
			cap *= 2;
		if ((d = realloc(b->data, cap)) == NULL)
			return -1;
		b->data = d;
		b->cap = cap;
	}
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int
mu_buf_str(struct mu_buf *b, const char *s)
{
	return mu_buf_add(b, s, strlen(s));
}

int
mu_buf_printf(struct mu_buf *b, const char *fmt, ...)
{
	va_list	 ap;
	char	 small[256], *big;
	int	 n, rc;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	if ((size_t)n < sizeof(small))
		return mu_buf_add(b, small, (size_t)n);
	if ((big = malloc((size_t)n + 1)) == NULL)
		return -1;
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	rc = mu_buf_add(b, big, (size_t)n);
	free(big);
	return rc;
}

int
mu_config_unknown(cm_server_exit *srv, int (*known)(const char *key),
    const char *name, const char *doc, char *err, size_t errlen)
{
	const char	*keys, *p, *nl;
	char		 key[256];
	size_t		 n;

	if (srv->size < offsetof(cm_server_exit, config_get) +
	    sizeof(srv->config_get) || srv->config_get == NULL ||
	    srv->config_get(srv, "*", &keys) != CM_OK || keys == NULL)
		return 0;
	for (p = keys; *p != '\0'; p = *nl ? nl + 1 : nl) {
		if ((nl = strchr(p, '\n')) == NULL)
			nl = p + strlen(p);
		n = (size_t)(nl - p) < sizeof(key) ? (size_t)(nl - p) :
		    sizeof(key) - 1;
		memcpy(key, p, n);
		key[n] = '\0';
		if (n > 0 && !known(key)) {
			snprintf(err, errlen, "%s: not a setting of %s (see %s)",
			    key, name, doc);
			return -1;
		}
	}
	return 0;
}

uint32_t
mu_hash(const char *s)
{
	uint32_t	 h = 2166136261u;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

void
mu_buf_free(struct mu_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

int
mu_config(cm_server_exit *srv, const char *key, const char *def, char **out)
{
	const char	*v = NULL;

	*out = NULL;
	if (srv->config_get(srv, key, &v) != CM_OK || v == NULL)
		v = def;
	if (v == NULL)
		return 0;
	return (*out = strdup(v)) == NULL ? -1 : 0;
}

int
mu_config_int(cm_server_exit *srv, const char *key, long long def,
    long long min, long long max, long long *out, char *err, size_t errlen)
{
	const char	*v = NULL;
	char		*end;
	long long	 n;

	*out = def;
	if (srv->config_get(srv, key, &v) != CM_OK || v == NULL)
		return 0;
	errno = 0;
	n = strtoll(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || n < min || n > max) {
		snprintf(err, errlen, "%s = \"%s\": expected a number from %lld "
		    "to %lld", key, v, min, max);
		return -1;
	}
	*out = n;
	return 0;
}

int
mu_config_bool(cm_server_exit *srv, const char *key, int def, int *out,
    char *err, size_t errlen)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };
	const char	*v = NULL;
	size_t		 i;

	*out = def;
	if (srv->config_get(srv, key, &v) != CM_OK || v == NULL)
		return 0;
	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(v, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(v, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	snprintf(err, errlen, "%s = \"%s\": expected true or false", key, v);
	return -1;
}

int
mu_config_ms(cm_server_exit *srv, const char *key, long long def,
    long long *out, char *err, size_t errlen)
{
	const char	*v = NULL;
	char		*end;
	long long	 n, mult = 1000;

	*out = def;
	if (srv->config_get(srv, key, &v) != CM_OK || v == NULL)
		return 0;
	errno = 0;
	n = strtoll(v, &end, 10);
	if (strcmp(end, "ms") == 0)
		mult = 1;
	else if (strcmp(end, "m") == 0)
		mult = 60000;
	else if (*end != '\0' && strcmp(end, "s") != 0)
		n = -1;
	if (errno != 0 || end == v || n < 0 || n > 86400000LL / mult) {
		snprintf(err, errlen, "%s = \"%s\": expected a duration (500ms, "
		    "10s, 2m; at most a day)", key, v);
		return -1;
	}
	*out = n * mult;
	return 0;
}

int
mu_secret_file(const char *path, char **out, char *err, size_t errlen)
{
	struct stat	 sb;
	char		 buf[SECRET_MAX + 1];
	ssize_t		 n;
	size_t		 len = 0;
	int		 fd;

	*out = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		close(fd);
		return -1;
	}
	/* As ssh does with a key: a secret others can read is not secret. */
	if ((sb.st_mode & 077) != 0) {
		snprintf(err, errlen, "%s: mode %03o: group and others must "
		    "have no access to a secret (chmod 600)", path,
		    (unsigned)(sb.st_mode & 0777));
		close(fd);
		return -1;
	}
	while (len < SECRET_MAX && (n = read(fd, buf + len,
	    SECRET_MAX - len)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			close(fd);
			return -1;
		}
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	if (buf[0] == '\0') {
		snprintf(err, errlen, "%s: empty", path);
		return -1;
	}
	if ((*out = strdup(buf)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	explicit_bzero(buf, sizeof(buf));
	return 0;
}

void
mu_time(int64_t t, char *buf, size_t len)
{
	struct tm	 tm;
	time_t		 tt = (time_t)t;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "%" PRId64, t);
}

/* Property name of the event's request, certificate, or an attribute. */
static int
get_prop(cm_server_exit *srv, const char *name, uint32_t type, cm_value *v)
{
	int	 rc;

	memset(v, 0, sizeof(*v));
	rc = srv->get_certificate_property(srv, name, type, v);
	if (rc == CM_E_INVALIDARG || rc == CM_E_NOCONTEXT) {
		memset(v, 0, sizeof(*v));
		rc = srv->get_request_property(srv, name, type, v);
	}
	return rc;
}

int
mu_prop_text(cm_server_exit *srv, const char *name, char **out)
{
	static const uint32_t types[] = { CM_PROPTYPE_STRING, CM_PROPTYPE_LONG,
	    CM_PROPTYPE_DATE, CM_PROPTYPE_BINARY };
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p;
	const char	*a;
	cm_value	 v;
	char		 buf[32];
	size_t		 i, k;
	int		 rc = CM_E_PROPERTY_EMPTY;

	*out = NULL;
	if (strncasecmp(name, "Attribute.", 10) == 0) {
		if ((rc = srv->get_request_attribute(srv, name + 10, &a)) !=
		    CM_OK)
			return rc;
		return (*out = strdup(a)) == NULL ? CM_E_NOMEM : CM_OK;
	}
	for (k = 0; k < sizeof(types) / sizeof(types[0]); k++) {
		if ((rc = get_prop(srv, name, types[k], &v)) == CM_E_TYPE)
			continue;
		if (rc != CM_OK)
			return rc;
		switch (types[k]) {
		case CM_PROPTYPE_STRING:
			*out = strndup(v.data, v.len);
			break;
		case CM_PROPTYPE_LONG:
			snprintf(buf, sizeof(buf), "%" PRId64, v.l);
			*out = strdup(buf);
			break;
		case CM_PROPTYPE_DATE:
			mu_time(v.l, buf, sizeof(buf));
			*out = strdup(buf);
			break;
		default:
			if ((*out = malloc(v.len * 2 + 1)) == NULL)
				break;
			for (i = 0, p = v.data; i < v.len; i++) {
				(*out)[2 * i] = hex[p[i] >> 4];
				(*out)[2 * i + 1] = hex[p[i] & 15];
			}
			(*out)[2 * v.len] = '\0';
			break;
		}
		return *out == NULL ? CM_E_NOMEM : CM_OK;
	}
	return rc;
}

int
mu_prop_binary(cm_server_exit *srv, const char *name, unsigned char **out,
    size_t *len)
{
	cm_value	 v;
	int		 rc;

	*out = NULL;
	*len = 0;
	if ((rc = get_prop(srv, name, CM_PROPTYPE_BINARY, &v)) != CM_OK)
		return rc;
	if ((*out = malloc(v.len ? v.len : 1)) == NULL)
		return CM_E_NOMEM;
	memcpy(*out, v.data, v.len);
	*len = v.len;
	return CM_OK;
}

/*
 * mu_expand and mu_expand_esc: with strict, a property that is absent and
 * has no default is an error (CM_E_PROPERTY_EMPTY); esc, when not NULL,
 * appends each value escaped.
 */
static int
expand(cm_server_exit *srv, const char *tmpl, const char *missing,
    int strict, int (*esc)(struct mu_buf *, const char *), char **out,
    char *err, size_t errlen)
{
	struct mu_buf	 b = { 0 };
	const char	*p, *end, *dflt;
	char		 name[128], *val;
	size_t		 n;
	int		 rc = 0, found;

	*out = NULL;
	for (p = tmpl; *p != '\0' && rc == 0; p++) {
		if (p[0] == '%' && p[1] == '%') {
			rc = mu_buf_add(&b, "%", 1);
			p++;
			continue;
		}
		if (p[0] != '%' || p[1] != '{') {
			rc = mu_buf_add(&b, p, 1);
			continue;
		}
		if ((end = strchr(p + 2, '}')) == NULL ||
		    (n = (size_t)(end - p - 2)) == 0 || n >= sizeof(name)) {
			snprintf(err, errlen, "\"%s\": an unclosed or empty %%{",
			    tmpl);
			mu_buf_free(&b);
			return -1;
		}
		memcpy(name, p + 2, n);
		name[n] = '\0';
		dflt = missing;
		if ((val = strstr(name, ":-")) != NULL) {
			*val = '\0';
			dflt = val + 2;
		}
		found = val != NULL;
		if (mu_prop_text(srv, name, &val) != CM_OK) {
			if (strict && !found) {
				snprintf(err, errlen, "%%{%s} is empty for this "
				    "event", name);
				mu_buf_free(&b);
				return CM_E_PROPERTY_EMPTY;
			}
			val = strdup(dflt ? dflt : "");
		}
		if (val == NULL)
			rc = -1;
		else
			rc = esc ? esc(&b, val) : mu_buf_str(&b, val);
		free(val);
		p = end;
	}
	if (rc == 0 && mu_buf_add(&b, "", 0) == 0) {
		*out = b.data;
		return 0;
	}
	mu_buf_free(&b);
	snprintf(err, errlen, "out of memory");
	return -1;
}

int
mu_expand(cm_server_exit *srv, const char *tmpl, const char *missing,
    char **out, char *err, size_t errlen)
{
	return expand(srv, tmpl, missing, 0, NULL, out, err, errlen) == 0 ?
	    0 : -1;
}

int
mu_expand_quoted(cm_server_exit *srv, const char *tmpl, const char *missing,
    int (*esc)(struct mu_buf *, const char *), char **out, char *err,
    size_t errlen)
{
	return expand(srv, tmpl, missing, 0, esc, out, err, errlen) == 0 ?
	    0 : -1;
}

int
mu_expand_esc(cm_server_exit *srv, const char *tmpl,
    int (*esc)(struct mu_buf *, const char *), char **out, char *err,
    size_t errlen)
{
	return expand(srv, tmpl, NULL, 1, esc, out, err, errlen);
}

static int
one_key_get(cm_server_exit *srv, const char *key, const char **value)
{
	struct mu_one_key *o = (struct mu_one_key *)srv;

	*value = NULL;
	if (strcasecmp(key, o->key) == 0)
		*value = o->value;
	else if (o->dflt != NULL)
		*value = o->dflt(key);
	return *value != NULL ? CM_OK : CM_E_PROPERTY_EMPTY;
}

void
mu_one_key_init(struct mu_one_key *o, const char *key, const char *value,
    const char *(*dflt)(const char *))
{
	memset(o, 0, sizeof(*o));
	o->vt.size = sizeof(o->vt);
	o->vt.config_get = one_key_get;
	o->key = key;
	o->value = value;
	o->dflt = dflt;
}

int
mu_manage_info(const char *prop, const char *title, const char *description,
    cm_value *out)
{
	const char *const props[][2] = {
		{ CM_CMM_PROP_NAME, title },
		{ CM_CMM_PROP_DESCRIPTION, description },
		{ CM_CMM_PROP_COPYRIGHT, "Copyright (c) 2026 the certmint "
		    "authors, ISC license" },
		{ CM_CMM_PROP_FILEVER, MU_VERSION },
		{ CM_CMM_PROP_PRODUCTVER, MU_VERSION },
	};
	size_t	 i;

	for (i = 0; i < sizeof(props) / sizeof(props[0]); i++)
		if (strcasecmp(prop, props[i][0]) == 0) {
			memset(out, 0, sizeof(*out));
			out->type = CM_PROPTYPE_STRING;
			out->data = props[i][1];
			out->len = strlen(props[i][1]);
			return CM_OK;
		}
	return CM_S_FALSE;
}

static const struct {
	int32_t		 event;
	const char	*name, *adcs;
} events[] = {
	{ CM_EXITEVENT_CERTISSUED, "issued", "Issued" },
	{ CM_EXITEVENT_CERTPENDING, "pending", "Pending" },
	{ CM_EXITEVENT_CERTDENIED, "denied", "Denied" },
	{ CM_EXITEVENT_CERTREVOKED, "revoked", "Revoked" },
	{ CM_EXITEVENT_CERTRETRIEVEPENDING, "retrieved", "RetrievePending" },
	{ CM_EXITEVENT_CRLISSUED, "crl_issued", "CRLIssued" },
	{ CM_EXITEVENT_SHUTDOWN, "shutdown", "Shutdown" },
	{ CM_EXITEVENT_STARTUP, "startup", "Startup" },
	{ CM_EXITEVENT_CERTUNREVOKED, "unrevoked", "Unrevoked" },
	{ CM_EXITEVENT_CERTIMPORTED, "imported", "Imported" },
};

const char *
mu_event_name(int32_t event)
{
	size_t	 i;

	for (i = 0; i < sizeof(events) / sizeof(events[0]); i++)
		if (events[i].event == event)
			return events[i].name;
	return "unknown";
}

const char *
mu_event_adcs_name(int32_t event)
{
	size_t	 i;

	for (i = 0; i < sizeof(events) / sizeof(events[0]); i++)
		if (events[i].event == event)
			return events[i].adcs;
	return "Unknown";
}

/*
 * The length of the UTF-8 sequence at p (a lead byte of 0x80 or more):
 * 2 to 4, with its code point in *cp, or 0 when it is no well-formed one
 * (RFC 3629: no overlong form, no surrogate, nothing past U+10FFFF).
 */
static size_t
utf8_len(const unsigned char *p, unsigned int *cp)
{
	unsigned int	 c;
	size_t		 n, i;

	if (*p >= 0xc2 && *p <= 0xdf)
		n = 2, c = *p & 0x1f;
	else if (*p >= 0xe0 && *p <= 0xef)
		n = 3, c = *p & 0x0f;
	else if (*p >= 0xf0 && *p <= 0xf4)
		n = 4, c = *p & 0x07;
	else
		return 0;
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (p[i] & 0x3f);
	}
	if ((n == 3 && (c < 0x800 || (c >= 0xd800 && c <= 0xdfff))) ||
	    (n == 4 && (c < 0x10000 || c > 0x10ffff)))
		return 0;
	*cp = c;
	return n;
}

int
mu_plain_text(const char *s)
{
	const unsigned char *p;
	unsigned int	 c;
	size_t		 n;

	for (p = (const unsigned char *)s; *p != '\0'; p += n) {
		n = 1;
		if (*p < 0x20 || *p == 0x7f)
			return 0;
		if (*p < 0x80)
			continue;
		if ((n = utf8_len(p, &c)) == 0)
			return 0;
		if ((c >= 0x80 && c <= 0x9f) || c == 0x61c || c == 0xad ||
		    (c >= 0x200b && c <= 0x200f) ||
		    (c >= 0x2028 && c <= 0x202e) ||
		    (c >= 0x2060 && c <= 0x2069) || c == 0xfeff ||
		    (c >= 0xfff9 && c <= 0xfffb))
			return 0;
	}
	return 1;
}

int
mu_json_escape(struct mu_buf *b, const char *s)
{
	const unsigned char *p;
	unsigned int	 c;
	size_t		 n;
	int		 rc = 0;

	for (p = (const unsigned char *)s; *p != '\0' && rc == 0; p += n) {
		n = 1;
		if (*p == '"' || *p == '\\')
			rc = mu_buf_printf(b, "\\%c", *p);
		else if (*p == '\n')
			rc = mu_buf_str(b, "\\n");
		else if (*p < 0x20 || *p == 0x7f)
			rc = mu_buf_printf(b, "\\u%04x", *p);
		else if (*p < 0x80)
			rc = mu_buf_add(b, p, 1);
		else if ((n = utf8_len(p, &c)) > 0)
			rc = mu_buf_add(b, p, n);
		else {
			/* Not UTF-8: JSON is, so the byte is U+FFFD. */
			n = 1;
			rc = mu_buf_str(b, "\\ufffd");
		}
	}
	return rc;
}

char *
mu_pem(const char *label, const unsigned char *der, size_t len)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	struct mu_buf	 b = { 0 };
	char		 q[4];
	size_t		 i, col = 0;
	uint32_t	 v;

	if (mu_buf_printf(&b, "-----BEGIN %s-----\n", label) == -1)
		return NULL;
	for (i = 0; i < len; i += 3) {
		v = (uint32_t)der[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)der[i + 1] << 8;
		if (i + 2 < len)
			v |= der[i + 2];
		q[0] = b64[(v >> 18) & 63];
		q[1] = b64[(v >> 12) & 63];
		q[2] = i + 1 < len ? b64[(v >> 6) & 63] : '=';
		q[3] = i + 2 < len ? b64[v & 63] : '=';
		if (mu_buf_add(&b, q, 4) == -1)
			goto fail;
		if ((col += 4) == 64) {
			col = 0;
			if (mu_buf_add(&b, "\n", 1) == -1)
				goto fail;
		}
	}
	if ((col != 0 && mu_buf_add(&b, "\n", 1) == -1) ||
	    mu_buf_printf(&b, "-----END %s-----\n", label) == -1)
		goto fail;
	return b.data;
fail:
	mu_buf_free(&b);
	return NULL;
}

struct mu_ref *
mu_ref_hold(pthread_mutex_t *mu, struct mu_ref *const *cur)
{
	struct mu_ref	*r;

	pthread_mutex_lock(mu);
	if ((r = *cur) != NULL)
		r->refs++;
	pthread_mutex_unlock(mu);
	return r;
}

void
mu_ref_release(pthread_mutex_t *mu, struct mu_ref *r)
{
	int	 last;

	if (r == NULL)
		return;
	pthread_mutex_lock(mu);
	last = --r->refs == 0;
	pthread_mutex_unlock(mu);
	if (last)
		r->free_fn(r);
}

void
mu_ref_swap(pthread_mutex_t *mu, struct mu_ref **cur, struct mu_ref *r)
{
	struct mu_ref	*old;

	pthread_mutex_lock(mu);
	old = *cur;
	*cur = r;
	pthread_mutex_unlock(mu);
	mu_ref_release(mu, old);
}
