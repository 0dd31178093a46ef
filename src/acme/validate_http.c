/*
 * validate_http.c - the http-01 challenge (RFC 8555 §8.3) with libcurl.
 *
 * Redirects are followed here, not by curl, so that each hop is checked
 * (http on port 80 or http01_port, https on 443, as Let's Encrypt allows)
 * and its host resolved through our resolver, then pinned with
 * CURLOPT_RESOLVE: curl never resolves a name itself. The body is capped;
 * every hop gets only the time left of the one deadline.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "common/common.h"
#include "validate_int.h"

#define HTTP_MAX_REDIRECTS	10
#define HTTP_MAX_BODY		8192
#define HTTP_WELL_KNOWN		"/.well-known/acme-challenge/"
#define HTTP_USER_AGENT		"certmint-va/" CM_VERSION

static pthread_once_t	 curl_once = PTHREAD_ONCE_INIT;
static int		 curl_ok;

static void
curl_init_once(void)
{
	curl_ok = curl_global_init(CURL_GLOBAL_ALL) == CURLE_OK;
}

/* One hop: what came back. */
struct http_hop {
	CURL		*curl;
	unsigned char	 body[HTTP_MAX_BODY];
	size_t		 len;
	int		 toobig;
	long		 status;
	char		 ip[64];
	char		 errbuf[CURL_ERROR_SIZE];
};

/*
 * CURLOPT_WRITEFUNCTION: keep the body up to HTTP_MAX_BODY; more aborts
 * the transfer (returning less than given is how curl is told).
 */
static size_t
hop_write(char *p, size_t size, size_t nmemb, void *arg)
{
	struct http_hop	*h = arg;
	size_t		 n = size * nmemb;

	if (n > sizeof(h->body) - h->len) {
		h->toobig = 1;
		return 0;
	}
	memcpy(h->body + h->len, p, n);
	h->len += n;
	return n;
}

/*
 * The parts of url that a hop needs: scheme, host (IPv6 without its
 * brackets) and port. 0, or -1 when url does not parse.
 */
static int
url_parts(const char *url, char *scheme, size_t slen, char *host,
    size_t hlen, int *port)
{
	CURLU	*u;
	char	*s = NULL, *h = NULL, *p = NULL;
	size_t	 n;
	int	 ret = -1;

	if ((u = curl_url()) == NULL)
		return -1;
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &s, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &h, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &p, CURLU_DEFAULT_PORT) !=
	    CURLUE_OK)
		goto out;
	strlcpy_cm(scheme, s, slen);
	n = strlen(h);
	if (h[0] == '[' && n > 2 && h[n - 1] == ']') {
		h[n - 1] = '\0';
		strlcpy_cm(host, h + 1, hlen);
	} else
		strlcpy_cm(host, h, hlen);
	*port = atoi(p);
	ret = 0;
out:
	curl_free(s);
	curl_free(h);
	curl_free(p);
	curl_url_cleanup(u);
	return ret;
}

/* A curl_slist entry "host:port:addr,addr" pinning host to as. */
static struct curl_slist *
pin_addrs(const char *host, int port, const struct va_addrs *as)
{
	struct buf		 b;
	struct curl_slist	*l;
	int			 i;

	memset(&b, 0, sizeof(b));
	if (buf_printf(&b, "%s:%d:", host, port) == -1)
		return NULL;
	for (i = 0; i < as->n; i++) {
		if (buf_printf(&b, "%s%s%s%s", i ? "," : "",
		    strchr(as->text[i], ':') ? "[" : "", as->text[i],
		    strchr(as->text[i], ':') ? "]" : "") == -1) {
			buf_free(&b);
			return NULL;
		}
	}
	l = curl_slist_append(NULL, (char *)b.data);
	buf_free(&b);
	return l;
}

/*
 * Set up h->curl for url, host pinned by pin, with the extra headers hdrs
 * (both may be NULL). 0, or -1 when curl refuses an option.
 */
static int
hop_setup(struct va_ctx *v, struct http_hop *h, const char *url,
    struct curl_slist *pin, struct curl_slist *hdrs)
{
	CURL	*c = h->curl;
	long	 ms = va_remaining_ms(v);

	if (ms < 1)
		ms = 1;		/* 0 would be no timeout at all */

	if (curl_easy_setopt(c, CURLOPT_URL, url) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https") !=
	    CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
	    /* No proxy from the environment between us and the applicant. */
	    curl_easy_setopt(c, CURLOPT_PROXY, "") != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_NOPROXY, "*") != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, ms) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, ms) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE,
	    (curl_off_t)HTTP_MAX_BODY) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, hop_write) !=
	    CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_WRITEDATA, h) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, h->errbuf) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_USERAGENT, HTTP_USER_AGENT) !=
	    CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_HTTP_VERSION,
	    (long)CURL_HTTP_VERSION_1_1) != CURLE_OK ||
	    /* An https redirect proves control by where it leads, not by
	     * its certificate, which may well be self-signed (RFC 8555
	     * §10.2; Let's Encrypt does not verify it either). */
	    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L) != CURLE_OK ||
	    (pin != NULL && curl_easy_setopt(c, CURLOPT_RESOLVE, pin) !=
	    CURLE_OK) ||
	    (hdrs != NULL && curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs) !=
	    CURLE_OK))
		return -1;
	return 0;
}

/* The problem for a transfer that failed with e. */
static const char *
hop_problem(CURLcode e, const struct http_hop *h)
{
	if (h->toobig || e == CURLE_FILESIZE_EXCEEDED)
		return "incorrectResponse";
	switch (e) {
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
		return "tls";
	default:
		return "connection";
	}
}

/* Is url one a redirect may lead to? 1 if so. */
static int
redirect_ok(struct va_ctx *v, const char *scheme, int port)
{
	if (strcmp(scheme, "http") == 0)
		return port == 80 || port == v->cfg->http01_port;
	if (strcmp(scheme, "https") == 0)
		return port == 443;
	return 0;
}

/*
 * url as a problem document may show it: the challenge URL (hop 0) whole,
 * a redirect's only up to its port. A redirect comes from whoever answers
 * there, and its path or query may be that service's secret.
 */
static void
url_shown(const char *url, int hop, char *out, size_t len)
{
	char	 scheme[16], host[256];
	int	 port;

	if (hop == 0)
		strlcpy_cm(out, url, len);
	else if (url_parts(url, scheme, sizeof(scheme), host, sizeof(host),
	    &port) == -1)
		snprintf(out, len, "a redirect (%d) that is not a URL", hop);
	else
		snprintf(out, len, "%s://%s%s%s:%d/... (redirect %d)", scheme,
		    strchr(host, ':') ? "[" : "", host,
		    strchr(host, ':') ? "]" : "", port, hop);
}

/*
 * One GET of url into h, hop number n (0: the challenge URL itself, sent
 * with Host: the identifier). 0 when a response came back (any status),
 * or -1 with the result failed.
 */
static int
hop_get(struct va_ctx *v, struct http_hop *h, const char *url, int n)
{
	struct va_addrs		 as;
	struct curl_slist	*pin = NULL, *hdrs = NULL;
	char			 scheme[16], host[256], hosthdr[300], *at;
	char			 shown[1100], *ip = NULL;
	CURLcode		 e;
	int			 port, ret = -1;

	url_shown(url, n, shown, sizeof(shown));
	if (url_parts(url, scheme, sizeof(scheme), host, sizeof(host),
	    &port) == -1)
		return va_fail(v, "connection", "%s", shown);
	if (n > 0 && !redirect_ok(v, scheme, port))
		return va_fail(v, "connection", "%s: only http on port 80 or "
		    "%d and https on port 443 are followed", shown,
		    v->cfg->http01_port);
	at = host;
	if (va_parse_ip(host, &as.a[0], &as.len[0]) == 0) {
		if (va_addr_denied(v->cfg, &as.a[0]))
			return va_fail(v, "connection", "%.200s is an address "
			    "where validation does not connect ([acme] "
			    "validation_deny)", host);
	} else {
		if (!va_dns_name_ok(host))
			return va_fail(v, "connection", "%s: not a host name",
			    shown);
		if (va_resolve(v, host, &as) == -1)
			return -1;
		if ((pin = pin_addrs(host, port, &as)) == NULL)
			return va_fail(v, "serverInternal", "out of memory");
		at = as.text[0];
	}
	if (n == 0) {
		snprintf(hosthdr, sizeof(hosthdr), "Host: %s%s%s",
		    strchr(host, ':') ? "[" : "", host,
		    strchr(host, ':') ? "]" : "");
		if ((hdrs = curl_slist_append(NULL, hosthdr)) == NULL) {
			va_fail(v, "serverInternal", "out of memory");
			goto out;
		}
	}
	if (va_expired(v)) {
		va_fail(v, "connection", "fetching %s: timed out", shown);
		goto out;
	}
	if ((h->curl = curl_easy_init()) == NULL ||
	    hop_setup(v, h, url, pin, hdrs) == -1) {
		va_fail(v, "serverInternal", "setting up curl failed");
		goto out;
	}
	e = curl_easy_perform(h->curl);
	/* The address connected to, else (refused) the first one tried. */
	if (curl_easy_getinfo(h->curl, CURLINFO_PRIMARY_IP, &ip) == CURLE_OK &&
	    ip != NULL && ip[0] != '\0')
		strlcpy_cm(h->ip, ip, sizeof(h->ip));
	else
		strlcpy_cm(h->ip, at, sizeof(h->ip));
	if (e != CURLE_OK) {
		va_fail(v, hop_problem(e, h), "fetching %s (%s): %s", shown,
		    h->ip,
		    h->toobig || e == CURLE_FILESIZE_EXCEEDED ?
		    "response body larger than 8192 bytes" :
		    e == CURLE_OPERATION_TIMEDOUT ? "timed out" :
		    h->errbuf[0] ? h->errbuf : curl_easy_strerror(e));
		goto out;
	}
	curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &h->status);
	ret = 0;
out:
	curl_slist_free_all(pin);
	curl_slist_free_all(hdrs);
	return ret;
}

/* Is p, n bytes, made of what a key authorization is (base64url, ".")? */
static int
keyauth_like(const unsigned char *p, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (!((p[i] >= 'A' && p[i] <= 'Z') || (p[i] >= 'a' &&
		    p[i] <= 'z') || (p[i] >= '0' && p[i] <= '9') ||
		    p[i] == '-' || p[i] == '_' || p[i] == '.'))
			return 0;
	return 1;
}

/* Trailing whitespace off, as §8.3 says the body is compared. */
static size_t
trimmed_len(const unsigned char *p, size_t n)
{
	while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t' ||
	    p[n - 1] == '\r' || p[n - 1] == '\n'))
		n--;
	return n;
}

/*
 * http-01: GET http://<identifier>:<http01_port>/.well-known/acme-
 * challenge/<token>, redirects followed, must answer 200 with the key
 * authorization (trailing whitespace aside). 0 or -1.
 */
int
va_http01(struct va_ctx *v)
{
	const struct acme_check	*c = v->chk;
	struct http_hop		*h;
	char			 url[1024], *next, seen[160], shown[1100];
	size_t			 n;
	int			 hop, ret = -1;

	pthread_once(&curl_once, curl_init_once);
	if (!curl_ok)
		return va_fail(v, "serverInternal", "curl_global_init failed");
	if ((h = calloc(1, sizeof(*h))) == NULL)
		return va_fail(v, "serverInternal", "out of memory");
	snprintf(url, sizeof(url), "http://%s%s%s:%d" HTTP_WELL_KNOWN "%s",
	    c->is_ip && strchr(c->identifier, ':') ? "[" : "", c->identifier,
	    c->is_ip && strchr(c->identifier, ':') ? "]" : "",
	    v->cfg->http01_port, c->token);
	for (hop = 0; ; hop++) {
		url_shown(url, hop, shown, sizeof(shown));
		if (hop > HTTP_MAX_REDIRECTS) {
			va_fail(v, "connection", "more than %d redirects from "
			    "http://%s:%d" HTTP_WELL_KNOWN "%s, last to %s",
			    HTTP_MAX_REDIRECTS, c->identifier,
			    v->cfg->http01_port, c->token, shown);
			goto out;
		}
		curl_easy_cleanup(h->curl);
		memset(h, 0, sizeof(*h));
		if (hop_get(v, h, url, hop) == -1)
			goto out;
		if (h->status < 300 || h->status > 399)
			break;
		next = NULL;
		if (curl_easy_getinfo(h->curl, CURLINFO_REDIRECT_URL, &next) !=
		    CURLE_OK || next == NULL) {
			va_fail(v, "unauthorized", "fetching %s (%s): HTTP %ld "
			    "without a Location", shown, h->ip, h->status);
			goto out;
		}
		if (strlcpy_cm(url, next, sizeof(url)) >= sizeof(url)) {
			va_fail(v, "connection", "fetching %s: redirect to a "
			    "URL of more than %zu bytes", shown, sizeof(url));
			goto out;
		}
	}
	/*
	 * What came back is quoted only when it could be a key
	 * authorization: the URL may be anyone's (a name, a redirect), and
	 * the problem document would hand its body to the client.
	 */
	n = trimmed_len(h->body, h->len);
	if (h->status != 200) {
		va_fail(v, "unauthorized", "fetching %s (%s): HTTP %ld, not "
		    "200 (%zu bytes of body)", shown, h->ip, h->status, h->len);
		goto out;
	}
	if (n != strlen(c->key_authz) || memcmp(h->body, c->key_authz, n) !=
	    0) {
		if (keyauth_like(h->body, n) && n > strlen(c->token) &&
		    memcmp(h->body, c->token, strlen(c->token)) == 0 &&
		    h->body[strlen(c->token)] == '.') {
			va_quote(h->body, n, seen, sizeof(seen));
			va_fail(v, "incorrectResponse", "fetching %s (%s): the "
			    "body is \"%s\", not the key authorization "
			    "\"%s\"", shown, h->ip, seen, c->key_authz);
		} else
			va_fail(v, "incorrectResponse", "fetching %s (%s): the "
			    "body (%zu bytes, not shown: not this token's key "
			    "authorization) is not the key authorization \"%s\"",
			    shown, h->ip, h->len, c->key_authz);
		goto out;
	}
	ret = 0;
out:
	curl_easy_cleanup(h->curl);
	free(h);
	return ret;
}
