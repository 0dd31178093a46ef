/*
 * webhook.c - CertMint_Webhook.Exit (docs/modules/webhook.md): the module,
 * its settings and its manage module. One POST per event over kept-alive
 * connections (post.c) of a body built from the event's snapshot
 * (payload.c); the HTTP status decides: 2xx done, 410 suspend, 408, 429,
 * 5xx and network errors retry (Retry-After honoured), any other status
 * is permanent.
 *
 * CM_THREADING_CONCURRENT: notifies overlap each other and the manage
 * module's calls. The settings are an immutable struct wh_config swapped
 * under mu by a refresh; each call holds a reference to the one it began
 * with.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include "webhook.h"

#define SECRET_MIN	16		/* bytes of key, as HMAC-SHA256 wants */
#define RETRY_AFTER_MAX	3600		/* s: a longer Retry-After is capped */

struct wh_state {
	pthread_mutex_t	 mu;		/* cfg, ca, not_before */
	struct mu_ref	*cfg;		/* a struct wh_config (CFG) */
	struct wh_ca	 ca;
	int		 have_ca;
	struct timespec	 not_before;	/* CLOCK_MONOTONIC: Retry-After */
	struct hp_pool	*pool;
};

/* Parses one key of the section into cfg; 0, or -1 with err. */
typedef int (*key_parse_fn)(cm_server_exit *, const char *key,
    struct wh_config *, char *err, size_t errlen);

/* The value of key, or NULL when unset or empty. */
static const char *
value(cm_server_exit *srv, const char *key)
{
	const char	*v = NULL;

	if (srv->config_get(srv, key, &v) != CM_OK || v == NULL || *v == '\0')
		return NULL;
	return v;
}

static int
dup_value(cm_server_exit *srv, const char *key, char **out, char *err,
    size_t errlen)
{
	const char	*v = value(srv, key);

	free(*out);
	*out = NULL;
	if (v != NULL && (*out = strdup(v)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

/* url: http:// or https://, with a host; url_safe for the logs. */
static int
parse_url(cm_server_exit *srv, const char *key, struct wh_config *cfg,
    char *err, size_t errlen)
{
	const char	*v = value(srv, key);
	char		*scheme = NULL, *host = NULL, *port = NULL;
	CURLU		*u;
	size_t		 n;
	int		 rc = -1;

	if (v == NULL)
		return 0;	/* required: wh_config_load says so */
	if ((u = curl_url()) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (curl_url_set(u, CURLUPART_URL, v, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) !=
	    CURLUE_OK) {
		snprintf(err, errlen, "%s: not a URL with a host", key);
		goto out;
	}
	if (strcasecmp(scheme, "https") != 0 && strcasecmp(scheme, "http") !=
	    0) {
		snprintf(err, errlen, "%s: scheme \"%s\": expected https (or "
		    "http)", key, scheme);
		goto out;
	}
	free(cfg->url);
	free(cfg->url_safe);
	cfg->url_safe = NULL;
	/* The path may hold a token (Slack, Teams): never logged. */
	n = strlen(scheme) + strlen(host) + strlen(port) + 5;
	if ((cfg->url = strdup(v)) == NULL ||
	    (cfg->url_safe = malloc(n)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	snprintf(cfg->url_safe, n, "%s://%s:%s", scheme, host, port);
	rc = 0;
 out:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return rc;
}

/*
 * One secret into s: "whsec_<base64>" is decoded (Standard Webhooks'
 * form), anything else is used as it is. 0 or -1 with err.
 */
static int
secret_key(const char *path, const char *text, struct wh_secret *s,
    char *err, size_t errlen)
{
	size_t	 n, pad = 0;
	int	 len;

	if (strncmp(text, "whsec_", 6) != 0) {
		s->len = strlen(text);
		if ((s->key = (unsigned char *)strdup(text)) == NULL)
			goto nomem;
	} else {
		text += 6;
		n = strlen(text);
		if (n % 4 != 0 || n == 0) {
			snprintf(err, errlen, "%s: whsec_ secret is not base64",
			    path);
			return -1;
		}
		pad = (text[n - 1] == '=') + (n > 1 && text[n - 2] == '=');
		if ((s->key = malloc(n / 4 * 3 + 1)) == NULL)
			goto nomem;
		if ((len = EVP_DecodeBlock(s->key, (const unsigned char *)text,
		    (int)n)) < 0) {
			snprintf(err, errlen, "%s: whsec_ secret is not base64",
			    path);
			return -1;
		}
		s->len = (size_t)len - pad;
	}
	if (s->len < SECRET_MIN) {
		snprintf(err, errlen, "%s: the secret is %zu bytes; at least "
		    "%d are needed", path, s->len, SECRET_MIN);
		return -1;
	}
	return 0;
 nomem:
	snprintf(err, errlen, "out of memory");
	return -1;
}

/* secret_file: one or more files, comma-separated, a secret each. */
static int
parse_secrets(cm_server_exit *srv, const char *key, struct wh_config *cfg,
    char *err, size_t errlen)
{
	const char	*v = value(srv, key);
	struct wh_secret *s;
	char		*list, *path, *last, *text, why[512];
	int		 rc = -1;

	if (v == NULL)
		return 0;
	if ((list = strdup(v)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (path = strtok_r(list, ", \t", &last); path != NULL;
	    path = strtok_r(NULL, ", \t", &last)) {
		if ((s = realloc(cfg->secrets, (cfg->nsecrets + 1) *
		    sizeof(*s))) == NULL) {
			snprintf(err, errlen, "out of memory");
			goto out;
		}
		cfg->secrets = s;
		s = &cfg->secrets[cfg->nsecrets++];
		memset(s, 0, sizeof(*s));
		if (mu_secret_file(path, &text, why, sizeof(why)) == -1) {
			snprintf(err, errlen, "%s: %s", key, why);
			goto out;
		}
		rc = secret_key(path, text, s, why, sizeof(why));
		explicit_bzero(text, strlen(text));
		free(text);
		if (rc == -1) {
			snprintf(err, errlen, "%s: %s", key, why);
			goto out;
		}
		rc = -1;
	}
	rc = 0;
 out:
	free(list);
	return rc;
}

/* A file the module must read (ca_file, client_cert). */
static int
parse_file(cm_server_exit *srv, const char *key, struct wh_config *cfg,
    char *err, size_t errlen)
{
	char	**out = strcmp(key, "ca_file") == 0 ? &cfg->ca_file :
		    &cfg->client_cert;
	int	 fd;

	if (dup_value(srv, key, out, err, errlen) == -1)
		return -1;
	if (*out == NULL)
		return 0;
	if ((fd = open(*out, O_RDONLY | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "%s: %s: %s", key, *out, strerror(errno));
		return -1;
	}
	close(fd);
	return 0;
}

/* client_key_file: a private key, kept as mu_secret_file keeps secrets. */
static int
parse_key(cm_server_exit *srv, const char *key, struct wh_config *cfg,
    char *err, size_t errlen)
{
	struct stat	 sb;
	int		 fd;

	if (dup_value(srv, key, &cfg->client_key, err, errlen) == -1)
		return -1;
	if (cfg->client_key == NULL)
		return 0;
	if ((fd = open(cfg->client_key, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) ==
	    -1) {
		snprintf(err, errlen, "%s: %s: %s", key, cfg->client_key,
		    strerror(errno));
		return -1;
	}
	if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode) ||
	    (sb.st_mode & 077) != 0) {
		snprintf(err, errlen, "%s: %s: must be a regular file that "
		    "group and others have no access to (chmod 600)", key,
		    cfg->client_key);
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static int
parse_ms(cm_server_exit *srv, const char *key, struct wh_config *cfg,
    char *err, size_t errlen)
{
	long long	*out, def;

	if (strcmp(key, "connect_timeout") == 0) {
		out = &cfg->connect_timeout_ms;
		def = 2000;
	} else if (strcmp(key, "timeout") == 0) {
		out = &cfg->timeout_ms;
		def = 4000;
	} else {
		out = &cfg->retry_after_wait_ms;
		def = 1000;
	}
	if (mu_config_ms(srv, key, def, out, err, errlen) == -1)
		return -1;
	if (*out == 0 && out != &cfg->retry_after_wait_ms) {
		snprintf(err, errlen, "%s = 0: expected a positive duration",
		    key);
		return -1;
	}
	return 0;
}

/* events: "all" or a list of issued, pending, ... (mu_event_name). */
static int
parse_events(cm_server_exit *srv, const char *key, struct wh_config *cfg,
    char *err, size_t errlen)
{
	const char	*v = value(srv, key);
	char		*list, *name, *last;
	int32_t		 bit;
	int		 rc = 0;

	cfg->events = CM_EXITEVENT_ALL;
	if (v == NULL || strcasecmp(v, "all") == 0)
		return 0;
	if ((list = strdup(v)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	cfg->events = 0;
	for (name = strtok_r(list, ", \t", &last); name != NULL && rc == 0;
	    name = strtok_r(NULL, ", \t", &last)) {
		for (bit = 1; bit & CM_EXITEVENT_ALL; bit <<= 1)
			if (strcasecmp(name, mu_event_name(bit)) == 0)
				break;
		if (!(bit & CM_EXITEVENT_ALL)) {
			snprintf(err, errlen, "%s: unknown event \"%s\" "
			    "(expected all, or some of issued, pending, "
			    "denied, revoked, retrieved, crl_issued, shutdown, "
			    "startup, unrevoked, imported)", key, name);
			rc = -1;
		}
		cfg->events |= bit;
	}
	free(list);
	return rc;
}

static int
parse_format(cm_server_exit *srv, const char *key, struct wh_config *cfg,
    char *err, size_t errlen)
{
	static const char *const names[WH_FORMAT__MAX] = {
		"cloudevents", "slack", "teams"
	};
	const char	*v = value(srv, key);
	int		 i;

	cfg->format = WH_CLOUDEVENTS;
	if (v == NULL)
		return 0;
	for (i = 0; i < WH_FORMAT__MAX; i++)
		if (strcasecmp(v, names[i]) == 0) {
			cfg->format = (enum wh_format)i;
			return 0;
		}
	snprintf(err, errlen, "%s = \"%s\": expected cloudevents, slack or "
	    "teams", key, v);
	return -1;
}

/* text_<event>: a %{Property} template (a Slack/Teams message). */
static int
parse_text(cm_server_exit *srv, const char *key, struct wh_config *cfg,
    char *err, size_t errlen)
{
	const char	*p, *end;
	int32_t		 bit;
	int		 i;

	for (bit = 1; bit & CM_EXITEVENT_ALL; bit <<= 1)
		if (strcmp(key + 5, mu_event_name(bit)) == 0)
			break;
	i = wh_event_index(bit);
	if (dup_value(srv, key, &cfg->text[i], err, errlen) == -1)
		return -1;
	/* What mu_expand refuses, refused now rather than at each event. */
	for (p = cfg->text[i]; p != NULL && (p = strchr(p, '%')) != NULL;
	    p++) {
		if (p[1] == '%') {
			p++;
			continue;
		}
		if (p[1] != '{')
			continue;
		if ((end = strchr(p + 2, '}')) == NULL || end == p + 2 ||
		    end - p - 2 >= 128) {
			snprintf(err, errlen, "%s: an unclosed, empty or too "
			    "long %%{Property}", key);
			return -1;
		}
	}
	return 0;
}

static int
parse_source(cm_server_exit *srv, const char *key, struct wh_config *cfg,
    char *err, size_t errlen)
{
	return dup_value(srv, key, &cfg->source, err, errlen);
}

static int
parse_pem(cm_server_exit *srv, const char *key, struct wh_config *cfg,
    char *err, size_t errlen)
{
	return mu_config_bool(srv, key, 1, &cfg->include_pem, err, errlen);
}

/* Every key of the section (docs/modules/webhook.md "Settings"). */
static const struct {
	const char	*key;
	key_parse_fn	 parse;
} keys[] = {
	{ "url", parse_url },
	{ "secret_file", parse_secrets },
	{ "ca_file", parse_file },
	{ "client_cert", parse_file },
	{ "client_key_file", parse_key },
	{ "connect_timeout", parse_ms },
	{ "timeout", parse_ms },
	{ "retry_after_wait", parse_ms },
	{ "events", parse_events },
	{ "format", parse_format },
	{ "source", parse_source },
	{ "include_pem", parse_pem },
	{ "text_issued", parse_text },
	{ "text_pending", parse_text },
	{ "text_denied", parse_text },
	{ "text_revoked", parse_text },
	{ "text_retrieved", parse_text },
	{ "text_crl_issued", parse_text },
	{ "text_shutdown", parse_text },
	{ "text_startup", parse_text },
	{ "text_unrevoked", parse_text },
	{ "text_imported", parse_text },
};
#define NKEYS	(sizeof(keys) / sizeof(keys[0]))

static int
known_key(const char *key)
{
	size_t	 i;

	for (i = 0; i < NKEYS; i++)
		if (strcasecmp(key, keys[i].key) == 0)
			return 1;
	return 0;
}

/* wh_config_free, as struct mu_ref's free_fn. */
static void
config_free_ref(void *cfg)
{
	wh_config_free(cfg);
}

void
wh_config_free(struct wh_config *cfg)
{
	size_t	 i;

	if (cfg == NULL)
		return;
	for (i = 0; i < cfg->nsecrets; i++) {
		if (cfg->secrets[i].key != NULL)
			explicit_bzero(cfg->secrets[i].key,
			    cfg->secrets[i].len);
		free(cfg->secrets[i].key);
	}
	free(cfg->secrets);
	for (i = 0; i < WH_NEVENTS; i++)
		free(cfg->text[i]);
	free(cfg->url);
	free(cfg->url_safe);
	free(cfg->ca_file);
	free(cfg->client_cert);
	free(cfg->client_key);
	free(cfg->source);
	free(cfg);
}

/*
 * The module's section as a new wh_config (refs 1): every key checked,
 * then what they say together. NULL with err naming the key and why.
 */
static struct wh_config *
wh_config_load(cm_server_exit *srv, char *err, size_t errlen)
{
	struct wh_config *cfg;
	size_t		 i;

	err[0] = '\0';
	if ((cfg = calloc(1, sizeof(*cfg))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	cfg->ref.refs = 1;
	cfg->ref.free_fn = config_free_ref;
	if (mu_config_unknown(srv, known_key, WH_NAME,
	    "docs/modules/webhook.md", err, errlen) == -1)
		goto fail;
	for (i = 0; i < NKEYS; i++)
		if (keys[i].parse(srv, keys[i].key, cfg, err, errlen) == -1)
			goto fail;
	if (cfg->url == NULL)
		snprintf(err, errlen, "url: not set (the receiver's https:// "
		    "URL)");
	else if (cfg->format == WH_CLOUDEVENTS && cfg->nsecrets == 0)
		snprintf(err, errlen, "secret_file: not set (format "
		    "cloudevents signs every delivery)");
	else if ((cfg->client_cert == NULL) != (cfg->client_key == NULL))
		snprintf(err, errlen, "%s: not set (client_cert and "
		    "client_key_file go together)", cfg->client_cert ?
		    "client_key_file" : "client_cert");
	else if (cfg->connect_timeout_ms > cfg->timeout_ms)
		snprintf(err, errlen, "connect_timeout: %lld ms is longer than "
		    "timeout (%lld ms)", cfg->connect_timeout_ms,
		    cfg->timeout_ms);
	else
		return cfg;
 fail:
	wh_config_free(cfg);
	return NULL;
}

/* The settings s->cfg points to (their first member). */
#define CFG(r)	((struct wh_config *)(void *)(r))

static struct wh_config *
config_hold(struct wh_state *s)
{
	return CFG(mu_ref_hold(&s->mu, &s->cfg));
}

static void
config_release(struct wh_state *s, struct wh_config *cfg)
{
	mu_ref_release(&s->mu, &cfg->ref);
}

/* Make cfg the running settings (it holds its reference). */
static void
config_swap(struct wh_state *s, struct wh_config *cfg)
{
	mu_ref_swap(&s->mu, &s->cfg, &cfg->ref);
}

/*
 * The CA's identity into ca (a copy), read on the first call that can.
 * 0, or -1 when the CA's properties cannot be read.
 */
static int
ca_get(struct wh_state *s, cm_server_exit *srv, struct wh_ca *ca)
{
	struct wh_ca	 fresh;
	int		 rc = 0;

	pthread_mutex_lock(&s->mu);
	if (!s->have_ca) {
		pthread_mutex_unlock(&s->mu);
		if (wh_ca_read(srv, &fresh) == -1)
			return -1;
		pthread_mutex_lock(&s->mu);
		if (!s->have_ca) {
			s->ca = fresh;
			s->have_ca = 1;
		} else
			wh_ca_free(&fresh);
	}
	*ca = s->ca;
	ca->name = strdup(s->ca.name);
	ca->source = strdup(s->ca.source);
	if (ca->name == NULL || ca->source == NULL) {
		wh_ca_free(ca);
		rc = -1;
	}
	pthread_mutex_unlock(&s->mu);
	return rc;
}

static long long
mono_ms_until(const struct timespec *t)
{
	struct timespec	 now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long long)(t->tv_sec - now.tv_sec) * 1000 +
	    (t->tv_nsec - now.tv_nsec) / 1000000;
}

/*
 * Honour the receiver's last Retry-After: wait for it when it ends
 * within retry_after_wait, else 0 tells not to send yet (*left ms).
 * Returns 1 when the request may go.
 */
static int
retry_after_ok(struct wh_state *s, const struct wh_config *cfg,
    long long *left)
{
	struct timespec	 ts;

	pthread_mutex_lock(&s->mu);
	*left = mono_ms_until(&s->not_before);
	pthread_mutex_unlock(&s->mu);
	if (*left <= 0)
		return 1;
	if (*left > cfg->retry_after_wait_ms)
		return 0;
	ts.tv_sec = *left / 1000;
	ts.tv_nsec = (*left % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
	return 1;
}

static void
retry_after_set(struct wh_state *s, long long seconds)
{
	struct timespec	 t;

	if (seconds > RETRY_AFTER_MAX)
		seconds = RETRY_AFTER_MAX;
	clock_gettime(CLOCK_MONOTONIC, &t);
	t.tv_sec += seconds;
	pthread_mutex_lock(&s->mu);
	if (t.tv_sec > s->not_before.tv_sec)
		s->not_before = t;
	pthread_mutex_unlock(&s->mu);
}

/*
 * What the outcome r of a delivery to cfg's URL means for the event:
 * CM_OK, CM_E_SUSPEND (410), CM_E_FAIL (a retry) or CM_E_PERMANENT; the
 * cause logged first, as the host records it.
 */
static int
outcome(struct wh_state *s, cm_server_exit *srv, const struct wh_config *cfg,
    const char *id, int sent, const struct wh_result *r)
{
	long	 st = r->status;
	char	 ra[64];

	if (!sent) {
		srv->log(srv, CM_LOG_WARN, "%s: POST of %s failed: %s",
		    cfg->url_safe, id, r->error);
		return CM_E_FAIL;
	}
	if (st >= 200 && st < 300)
		return CM_OK;
	if (st == 410) {
		srv->log(srv, CM_LOG_ERROR, "%s: HTTP 410 Gone for %s: the "
		    "endpoint is gone; suspended until `certmint exit resume`",
		    cfg->url_safe, id);
		return CM_E_SUSPEND;
	}
	if (st == 408 || st == 429 || st >= 500) {
		ra[0] = '\0';
		if (r->retry_after > 0) {
			retry_after_set(s, r->retry_after);
			snprintf(ra, sizeof(ra), ", not before Retry-After %lld "
			    "s", r->retry_after);
		}
		srv->log(srv, CM_LOG_WARN, "%s: HTTP %ld for %s (retried%s)%s"
		    "%.120s", cfg->url_safe, st, id, ra, r->error[0] ? ": " : "",
		    r->error);
		return CM_E_FAIL;
	}
	srv->log(srv, CM_LOG_ERROR, "%s: HTTP %ld for %s (permanent)%s%.120s",
	    cfg->url_safe, st, id, r->error[0] ? ": " : "", r->error);
	return CM_E_PERMANENT;
}

static int
wh_notify(void *state, int32_t event, int64_t context, cm_server_exit *srv)
{
	struct wh_state	*s = state;
	struct wh_config *cfg = config_hold(s);
	struct wh_result r;
	struct mu_buf	 body = { 0 };
	struct wh_ca	 ca;
	long long	 left;
	char		*id = NULL;
	int		 rc = CM_E_FAIL, sent;

	if (!(event & cfg->events)) {
		config_release(s, cfg);
		return CM_OK;
	}
	if (ca_get(s, srv, &ca) == -1) {
		srv->log(srv, CM_LOG_WARN, "cannot read the CA's name and "
		    "certificate (SanitizedCAName, RawCACertificate.0)");
		config_release(s, cfg);
		return CM_E_FAIL;
	}
	if (wh_body(srv, cfg, &ca, event, context, &id, &body) == -1) {
		srv->log(srv, CM_LOG_WARN, "cannot build the body of event "
		    "0x%x, request %lld", (unsigned)event, (long long)context);
		goto out;
	}
	if (!retry_after_ok(s, cfg, &left)) {
		srv->log(srv, CM_LOG_WARN, "%s: not sending %s before the "
		    "receiver's Retry-After (%lld ms left)", cfg->url_safe, id,
		    left);
		goto out;
	}
	sent = wh_post(s->pool, cfg, id, &body, &r) == 0;
	rc = outcome(s, srv, cfg, id, sent, &r);
 out:
	free(id);
	mu_buf_free(&body);
	wh_ca_free(&ca);
	config_release(s, cfg);
	return rc;
}

static int
wh_initialize(const char *config, cm_server_exit *srv, void **state,
    int32_t *event_mask)
{
	struct wh_state	*s;
	struct wh_config *cfg;
	char		 err[512];

	(void)config;
	if ((cfg = wh_config_load(srv, err, sizeof(err))) == NULL) {
		srv->log(srv, CM_LOG_ERROR, "[%s] %s", WH_NAME, err);
		return CM_E_INVALIDARG;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		free(s);
		wh_config_free(cfg);
		return CM_E_NOMEM;
	}
	if ((s->pool = hp_pool_new()) == NULL) {
		curl_global_cleanup();
		free(s);
		wh_config_free(cfg);
		return CM_E_NOMEM;
	}
	pthread_mutex_init(&s->mu, NULL);
	s->cfg = &cfg->ref;
	/* Every event: `events` is then a setting a refresh can change. */
	*event_mask = CM_EXITEVENT_ALL;
	*state = s;
	srv->log(srv, CM_LOG_INFO, "posting to %s", cfg->url_safe);
	return CM_OK;
}

static const char *
wh_get_description(void *state)
{
	(void)state;
	return "Webhook exit module: a signed CloudEvents POST (or a Slack "
	    "or Teams message) per event";
}

static int
wh_get_property(void *state, const char *name, int32_t flags,
    cm_value *out)
{
	(void)state;
	(void)flags;
	return mu_manage_info(name, "CertMint Webhook Exit Module",
	    "POSTs each CA event as a signed CloudEvents 1.0 document "
	    "(Standard Webhooks)", out);
}

/*
 * `certmint exit set CertMint_Webhook.Exit KEY VALUE`: check the value as
 * the section would have it; the host then saves it and refreshes.
 */
static int
wh_set_property(void *state, const char *name, int32_t flags,
    const cm_value *v)
{
	struct mu_one_key k;
	struct wh_config *cfg;
	char		 err[512], *val;
	size_t		 i;
	int		 rc;

	(void)state;
	(void)flags;
	for (i = 0; i < NKEYS; i++)
		if (strcasecmp(name, keys[i].key) == 0)
			break;
	if (i == NKEYS)
		return CM_S_FALSE;
	if (v->type != CM_PROPTYPE_STRING ||
	    (val = strndup(v->data, v->len)) == NULL)
		return CM_E_INVALIDARG;
	mu_one_key_init(&k, keys[i].key, val, NULL);
	err[0] = '\0';
	if ((cfg = calloc(1, sizeof(*cfg))) == NULL)
		rc = CM_E_NOMEM;
	else
		rc = keys[i].parse(&k.vt, keys[i].key, cfg, err, sizeof(err)) ==
		    0 ? CM_OK : CM_E_INVALIDARG;
	wh_config_free(cfg);
	free(val);
	return rc;
}

/* A test delivery with cfg for `exit configure`; the report says how. */
static int
configure_test(struct wh_state *s, cm_server_exit *srv,
    const struct wh_config *cfg, char *report, size_t size)
{
	struct hp_pool	*pool;
	struct wh_result r;
	struct mu_buf	 body = { 0 };
	struct wh_ca	 ca;
	char		*id = NULL;
	int		 rc = CM_E_FAIL;

	if (ca_get(s, srv, &ca) == -1) {
		snprintf(report, size, "cannot read the CA's name and "
		    "certificate");
		return CM_E_FAIL;
	}
	/* A pool of its own: the test says whether a new connection works. */
	if ((pool = hp_pool_new()) == NULL ||
	    wh_test_body(cfg, &ca, &id, &body) == -1) {
		snprintf(report, size, "out of memory");
		goto out;
	}
	if (wh_post(pool, cfg, id, &body, &r) == -1)
		snprintf(report, size, "url: test delivery to %s failed: %s",
		    cfg->url_safe, r.error);
	else if (r.status < 200 || r.status >= 300)
		snprintf(report, size, "url: test delivery to %s answered HTTP "
		    "%ld%s%.200s", cfg->url_safe, r.status, r.error[0] ? ": " :
		    "", r.error);
	else {
		snprintf(report, size, "url: test delivery to %s: HTTP %ld; "
		    "format %s, %zu signing secret%s, events 0x%x",
		    cfg->url_safe, r.status, cfg->format == WH_SLACK ? "slack" :
		    cfg->format == WH_TEAMS ? "teams" : "cloudevents",
		    cfg->nsecrets, cfg->nsecrets == 1 ? "" : "s",
		    (unsigned)cfg->events);
		rc = CM_OK;
	}
 out:
	free(id);
	mu_buf_free(&body);
	hp_pool_free(pool);
	wh_ca_free(&ca);
	return rc;
}

/*
 * configure: with CM_CMM_REFRESHONLY load the section and run with it
 * (the running settings stay when it is wrong); else check the section
 * and POST a test event (org.certmint.webhook.test) with it.
 */
static int
wh_configure(void *state, cm_server_exit *srv, int32_t flags, char *report,
    size_t size)
{
	struct wh_state	*s = state;
	struct wh_config *cfg;
	char		 err[512];
	int		 rc;

	if ((cfg = wh_config_load(srv, err, sizeof(err))) == NULL) {
		snprintf(report, size, "%s", err);
		return CM_E_INVALIDARG;
	}
	if (flags & CM_CMM_REFRESHONLY) {
		snprintf(report, size, "posting to %s", cfg->url_safe);
		config_swap(s, cfg);
		return CM_OK;
	}
	rc = configure_test(s, srv, cfg, report, size);
	wh_config_free(cfg);
	return rc;
}

static const cm_manage_module wh_manage = {
	sizeof(cm_manage_module),
	wh_get_property,
	wh_set_property,
	wh_configure,
};

static const cm_manage_module *
wh_get_manage_module(void *state)
{
	(void)state;
	return &wh_manage;
}

static void
wh_shutdown(void *state)
{
	struct wh_state	*s = state;

	hp_pool_free(s->pool);
	if (s->cfg != NULL)
		config_release(s, CFG(s->cfg));
	wh_ca_free(&s->ca);
	pthread_mutex_destroy(&s->mu);
	free(s);
	curl_global_cleanup();
}

static const struct cm_exit webhook_exit = {
	CM_EXIT_MAGIC, CM_ABI_MAJOR, CM_ABI_MINOR, sizeof(struct cm_exit),
	WH_NAME,
	CM_THREADING_CONCURRENT,
	wh_initialize, wh_notify, wh_get_description, wh_get_manage_module,
	wh_shutdown,
};
CM_EXIT_MODULE(webhook_exit)
