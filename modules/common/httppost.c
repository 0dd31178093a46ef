/*
 * httppost.c - one HTTP(S) POST over a pooled libcurl handle (httppost.h).
 * Moved out of the webhook module so that Lua's http_post runs the same
 * code: the pool, the options and the response handling.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "httppost.h"

/* Idle easy handles: each one with its live connections. */
struct hp_pool {
	pthread_mutex_t	 mu;
	CURL		**idle;
	size_t		 n, cap;
};

/* The response body being kept. */
struct keep {
	const struct hp_request *req;
	struct hp_response *r;
	size_t		 cap;
};

struct hp_pool *
hp_pool_new(void)
{
	struct hp_pool	*p;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	pthread_mutex_init(&p->mu, NULL);
	return p;
}

void
hp_pool_free(struct hp_pool *p)
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
pool_take(struct hp_pool *p)
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
pool_give(struct hp_pool *p, CURL *h)
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
 * Keep the start of the response body (printable only when asked); the
 * rest is read and dropped, so a huge answer costs no memory.
 */
static size_t
body_keep(char *p, size_t size, size_t n, void *arg)
{
	struct keep	*k = arg;
	struct hp_response *r = k->r;
	size_t		 i, len = size * n, room;
	char		*nb;

	if (k->cap == 0) {
		if ((nb = malloc(k->req->keep + 1)) == NULL)
			return 0;	/* curl fails the transfer */
		r->body = nb;
		k->cap = k->req->keep + 1;
	}
	room = k->req->keep - r->len;
	if (len > room)
		r->truncated = 1;
	for (i = 0; i < len && i < room; i++) {
		r->body[r->len++] = !k->req->printable || (p[i] >= 0x20 &&
		    p[i] < 0x7f) ? p[i] : ' ';
	}
	r->body[r->len] = '\0';
	return len;
}

/* Set h up for one POST of req. 0 or -1. */
static int
setup(CURL *h, const struct hp_request *req, struct keep *k, char *errbuf)
{
	int	 bad = 0;

	curl_easy_reset(h);	/* keeps the live connections */
	bad |= curl_easy_setopt(h, CURLOPT_URL, req->url);
	bad |= curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	bad |= curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	bad |= curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	bad |= curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	bad |= curl_easy_setopt(h, CURLOPT_POST, 1L);
	bad |= curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body ? req->body :
	    "");
	bad |= curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
	    (curl_off_t)req->len);
	bad |= curl_easy_setopt(h, CURLOPT_HTTPHEADER, req->headers);
	if (req->user_agent != NULL)
		bad |= curl_easy_setopt(h, CURLOPT_USERAGENT, req->user_agent);
	bad |= curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
	    (long)req->connect_timeout_ms);
	bad |= curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)req->timeout_ms);
	bad |= curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, body_keep);
	bad |= curl_easy_setopt(h, CURLOPT_WRITEDATA, k);
	bad |= curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	if (req->ca_file != NULL)
		bad |= curl_easy_setopt(h, CURLOPT_CAINFO, req->ca_file);
	if (req->client_cert != NULL) {
		bad |= curl_easy_setopt(h, CURLOPT_SSLCERT, req->client_cert);
		bad |= curl_easy_setopt(h, CURLOPT_SSLKEY, req->client_key);
	}
	return bad ? -1 : 0;
}

int
hp_post(struct hp_pool *pool, const struct hp_request *req,
    struct hp_response *r)
{
	struct keep	 k = { req, r, 0 };
	char		 errbuf[CURL_ERROR_SIZE] = "";
	curl_off_t	 ra = -1;
	CURLcode	 cc;
	CURL		*h;
	long		 conns = 0;
	int		 rc = -1;

	memset(r, 0, sizeof(*r));
	r->retry_after = -1;
	if ((h = pool_take(pool)) == NULL ||
	    setup(h, req, &k, errbuf) == -1) {
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
	rc = 0;
 out:
	if (h != NULL) {
		/* Nothing of this call may outlive it in the idle handle. */
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
		curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
		curl_easy_setopt(h, CURLOPT_WRITEDATA, NULL);
		pool_give(pool, h);
	}
	return rc;
}

void
hp_response_free(struct hp_response *r)
{
	free(r->body);
	r->body = NULL;
	r->len = 0;
}
