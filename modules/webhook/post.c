/*
 * post.c - the HTTP side of CertMint_Webhook.Exit: Standard Webhooks
 * signatures and one POST over a pooled libcurl handle. Each handle keeps
 * its connections alive, so concurrent notifies reuse a few connections
 * instead of opening one per event.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "webhook.h"

#define BODY_KEEP	200	/* bytes of a response kept for the cause */

/* Idle easy handles: each one with its live connections. */
struct wh_pool {
	pthread_mutex_t	 mu;
	CURL		**idle;
	size_t		 n, cap;
};

/* A new empty pool, or NULL (no memory). */
struct wh_pool *
wh_pool_new(void)
{
	struct wh_pool	*p;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	pthread_mutex_init(&p->mu, NULL);
	return p;
}

void
wh_pool_free(struct wh_pool *p)
{
	size_t	 i;

	if (p == NULL)
		return;
	for (i = 0; i < p->n; i++)
		curl_easy_cleanup(p->idle[i]);
	free(p->idle);
	pthread_mutex_destroy(&p->mu);
	free(p);
}

/* An idle handle of the pool, or a new one; NULL without memory. */
static CURL *
pool_take(struct wh_pool *p)
{
	CURL	*h = NULL;

	pthread_mutex_lock(&p->mu);
	if (p->n > 0)
		h = p->idle[--p->n];
	pthread_mutex_unlock(&p->mu);
	return h != NULL ? h : curl_easy_init();
}

/* Give h back, connections open; dropped if the pool cannot grow. */
static void
pool_give(struct wh_pool *p, CURL *h)
{
	CURL	**v;
	size_t	 cap;

	pthread_mutex_lock(&p->mu);
	if (p->n == p->cap) {
		cap = p->cap ? p->cap * 2 : 8;
		if ((v = realloc(p->idle, cap * sizeof(*v))) == NULL) {
			pthread_mutex_unlock(&p->mu);
			curl_easy_cleanup(h);
			return;
		}
		p->idle = v;
		p->cap = cap;
	}
	p->idle[p->n++] = h;
	pthread_mutex_unlock(&p->mu);
}

/*
 * The webhook-signature header value for id, ts and body: "v1,<base64
 * HMAC-SHA256 of id.ts.body>" per secret, separated by spaces, into
 * header. 0, or -1 (no memory or no secret).
 */
int
wh_sign(const struct wh_config *cfg, const char *id, long long ts,
    const struct mu_buf *body, struct mu_buf *header)
{
	struct mu_buf	 msg = { 0 };
	unsigned char	 mac[EVP_MAX_MD_SIZE];
	unsigned char	 b64[(EVP_MAX_MD_SIZE + 2) / 3 * 4 + 1];
	unsigned int	 maclen;
	size_t		 i;
	int		 rc = -1;

	if (cfg->nsecrets == 0 || mu_buf_printf(&msg, "%s.%lld.", id, ts) ==
	    -1 || mu_buf_add(&msg, body->data, body->len) == -1)
		goto out;
	for (i = 0; i < cfg->nsecrets; i++) {
		if (HMAC(EVP_sha256(), cfg->secrets[i].key,
		    (int)cfg->secrets[i].len, (unsigned char *)msg.data,
		    msg.len, mac, &maclen) == NULL)
			goto out;
		EVP_EncodeBlock(b64, mac, (int)maclen);
		if (mu_buf_printf(header, "%sv1,%s", i ? " " : "",
		    (char *)b64) == -1)
			goto out;
	}
	rc = 0;
 out:
	mu_buf_free(&msg);
	return rc;
}

/* Keep the start of the response body, printable, for the cause. */
static size_t
body_keep(char *p, size_t size, size_t n, void *arg)
{
	struct mu_buf	*b = arg;
	size_t		 i, len = size * n;

	for (i = 0; i < len && b->len < BODY_KEEP; i++)
		if (mu_buf_add(b, (p[i] >= 0x20 && p[i] < 0x7f) ? &p[i] :
		    " ", 1) == -1)
			break;
	return len;
}

/* The headers of one delivery; NULL without memory. */
static struct curl_slist *
post_headers(const struct wh_config *cfg, const char *id,
    const struct mu_buf *body)
{
	struct curl_slist *l = NULL, *n;
	struct mu_buf	 h[4] = { { 0 } };
	long long	 ts = (long long)time(NULL);
	size_t		 i;
	int		 ok;

	ok = mu_buf_printf(&h[0], "Content-Type: %s",
	    cfg->format == WH_CLOUDEVENTS ?
	    "application/cloudevents+json; charset=utf-8" :
	    "application/json; charset=utf-8") == 0 &&
	    mu_buf_printf(&h[1], "webhook-id: %s", id) == 0 &&
	    mu_buf_printf(&h[2], "webhook-timestamp: %lld", ts) == 0;
	/* Unsigned only where no secret is set (Slack and Teams URLs). */
	if (ok && cfg->nsecrets > 0)
		ok = mu_buf_str(&h[3], "webhook-signature: ") == 0 &&
		    wh_sign(cfg, id, ts, body, &h[3]) == 0;
	/* The body goes at once: no 100-continue round trip. */
	if (ok && (l = curl_slist_append(NULL, "Expect:")) == NULL)
		ok = 0;
	for (i = 0; ok && i < 4; i++) {
		if (h[i].data == NULL)
			continue;
		if ((n = curl_slist_append(l, h[i].data)) == NULL)
			ok = 0;
		else
			l = n;
	}
	for (i = 0; i < 4; i++)
		mu_buf_free(&h[i]);
	if (!ok) {
		curl_slist_free_all(l);
		return NULL;
	}
	return l;
}

/* Set h up for one POST of body to cfg's URL. 0 or -1. */
static int
post_setup(CURL *h, const struct wh_config *cfg, struct curl_slist *hdrs,
    const struct mu_buf *body, struct mu_buf *resp, char *errbuf)
{
	int	 bad = 0;

	curl_easy_reset(h);	/* keeps the live connections */
	bad |= curl_easy_setopt(h, CURLOPT_URL, cfg->url);
	bad |= curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	bad |= curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	bad |= curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	bad |= curl_easy_setopt(h, CURLOPT_POST, 1L);
	bad |= curl_easy_setopt(h, CURLOPT_POSTFIELDS, body->data);
	bad |= curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
	    (curl_off_t)body->len);
	bad |= curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	bad |= curl_easy_setopt(h, CURLOPT_USERAGENT, "certmint-webhook/1");
	bad |= curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
	    (long)cfg->connect_timeout_ms);
	bad |= curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)cfg->timeout_ms);
	bad |= curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, body_keep);
	bad |= curl_easy_setopt(h, CURLOPT_WRITEDATA, resp);
	bad |= curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	if (cfg->ca_file != NULL)
		bad |= curl_easy_setopt(h, CURLOPT_CAINFO, cfg->ca_file);
	if (cfg->client_cert != NULL) {
		bad |= curl_easy_setopt(h, CURLOPT_SSLCERT, cfg->client_cert);
		bad |= curl_easy_setopt(h, CURLOPT_SSLKEY, cfg->client_key);
	}
	return bad ? -1 : 0;
}

/*
 * POST body (its event id is id) to cfg's URL with a handle of pool,
 * signed when cfg has secrets. Fills r: the HTTP status (0 when the
 * request failed: r->error says why), Retry-After. Returns 0 when a
 * response arrived, -1 otherwise.
 */
int
wh_post(struct wh_pool *pool, const struct wh_config *cfg, const char *id,
    const struct mu_buf *body, struct wh_result *r)
{
	struct curl_slist *hdrs = NULL;
	struct mu_buf	 resp = { 0 };
	char		 errbuf[CURL_ERROR_SIZE] = "";
	curl_off_t	 ra = -1;
	CURLcode	 cc;
	CURL		*h;
	long		 conns = 0;
	int		 rc = -1;

	memset(r, 0, sizeof(*r));
	r->retry_after = -1;
	if ((h = pool_take(pool)) == NULL ||
	    (hdrs = post_headers(cfg, id, body)) == NULL ||
	    post_setup(h, cfg, hdrs, body, &resp, errbuf) == -1) {
		snprintf(r->error, sizeof(r->error), "out of memory");
		goto out;
	}
	if ((cc = curl_easy_perform(h)) != CURLE_OK) {
		snprintf(r->error, sizeof(r->error), "%s", errbuf[0] ? errbuf :
		    curl_easy_strerror(cc));
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
	curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &conns);
	if (curl_easy_getinfo(h, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK &&
	    ra > 0)
		r->retry_after = (long long)ra;
	r->connects = (int)conns;
	snprintf(r->error, sizeof(r->error), "%s", resp.data ? resp.data : "");
	rc = 0;
 out:
	if (h != NULL) {
		/* Nothing of this call may outlive it in the idle handle. */
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
		curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
		pool_give(pool, h);
	}
	curl_slist_free_all(hdrs);
	mu_buf_free(&resp);
	return rc;
}
