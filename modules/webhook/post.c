/*
 * post.c - the HTTP side of CertMint_Webhook.Exit: Standard Webhooks
 * signatures and one POST over a pooled libcurl handle (modules/common/
 * httppost.c, shared with Lua's http_post). Each handle keeps its
 * connections alive, so concurrent notifies reuse a few connections
 * instead of opening one per event.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "webhook.h"

#define BODY_KEEP	200	/* bytes of a response kept for the cause */

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

/*
 * POST body (its event id is id) to cfg's URL with a handle of pool,
 * signed when cfg has secrets. Fills r: the HTTP status (0 when the
 * request failed: r->error says why), Retry-After. Returns 0 when a
 * response arrived, -1 otherwise.
 */
int
wh_post(struct hp_pool *pool, const struct wh_config *cfg, const char *id,
    const struct mu_buf *body, struct wh_result *r)
{
	struct hp_request req;
	struct hp_response resp;
	struct curl_slist *hdrs;
	int		 rc;

	memset(r, 0, sizeof(*r));
	r->retry_after = -1;
	if ((hdrs = post_headers(cfg, id, body)) == NULL) {
		snprintf(r->error, sizeof(r->error), "out of memory");
		return -1;
	}
	memset(&req, 0, sizeof(req));
	req.url = cfg->url;
	req.headers = hdrs;
	req.body = body->data;
	req.len = body->len;
	req.user_agent = "certmint-webhook/1";
	req.ca_file = cfg->ca_file;
	req.client_cert = cfg->client_cert;
	req.client_key = cfg->client_key;
	req.connect_timeout_ms = cfg->connect_timeout_ms;
	req.timeout_ms = cfg->timeout_ms;
	req.keep = BODY_KEEP;
	req.printable = 1;
	rc = hp_post(pool, &req, &resp);
	r->status = resp.status;
	r->retry_after = resp.retry_after;
	r->connects = resp.connects;
	/* curl's error, or the start of the body for the cause. */
	snprintf(r->error, sizeof(r->error), "%s", rc == -1 ? resp.error :
	    resp.body != NULL ? resp.body : "");
	hp_response_free(&resp);
	curl_slist_free_all(hdrs);
	return rc;
}
