/*
 * acmeload - complete ACME orders (RFC 8555) as fast as a server gives them:
 * new order -> authorization -> http-01 challenge -> poll the order until
 * ready (unless the challenge answered valid, as lego does) -> finalize
 * with a CSR -> poll the order until valid (unless finalize answered
 * valid) -> download the certificate, by W workers, each a thread with its
 * own account and one keep-alive connection (TLS with OpenSSL, or plain
 * HTTP). The http-01 answers come from a responder inside this process: a
 * thread on a loopback port serving /.well-known/acme-challenge/<token>
 * from a table the workers fill. With -D, a DNS responder on that UDP port
 * answers 127.0.0.1 for every name, for the servers' validators. Accounts
 * and one warm-up order per worker happen before the clock starts.
 * The responders are responders.c's, the HTTP client http.c's.
 *
 * Usage: acmeload [-k] [-C CAFILE] [-w WORKERS] [-n COUNT] [-T SECONDS]
 *                 [-r PORT] [-D PORT] [-d DOMAIN] [-o DIR] [-P PID]...
 *                 DIRECTORY_URL
 * Prints one line: "ok=N failed=M seconds=S rate=R p50_ms=.. p99_ms=..
 * requests_per_order=.. polls_per_order=.. connects=.. stuck=0|1
 * bad_nonces=.. challenge_fetches=.. loader_cpu_us=.. server_cpu_us=..
 * loader_sys_us=.. server_sys_us=.." (R: orders per second; the
 * percentiles are of a whole order; CPU per order, -P: the processes
 * whose CPU counts as the server's, summed; *_sys_us: the kernel's part
 * of it; connects: TCP connections made on the clock; stuck: a request
 * went unanswered for IO_TIMEOUT seconds, and then the rate is up to the
 * last completed order). Exits non-zero when an order failed. Names are
 * w<worker>-<n>.<DOMAIN>. The first 5 certificates go to DIR/cert-<i>.pem
 * (-o).
 *
 * Polling does not honour Retry-After (certmint and pebble send seconds):
 * a worker polls after 1 ms, doubling to 20 ms, so that the figure is the
 * server's rate, not the clients' patience. A badNonce is retried with the
 * fresh nonce, as clients do.
 *
 * The load generator shares the two cores with the server, so it must cost
 * little: its own HTTP/1.1 on blocking sockets (libcurl cost a third of
 * certmintd's CPU in bench/issue), jansson for the JSON it reads, one
 * ECDSA P-256 signature per request and one per CSR (the certificate key
 * is made once per worker, before the clock).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "acmeload.h"

#define MAX_PIDS	4
#define SAMPLES		5
#define POLL_MAX	2000	/* polls of one order, then it has failed */

/* ---- options and shared state ---------------------------------------- */

static const char	*cafile, *domain = "bench.test", *sampledir;
int		 debug, insecure, nworkers = 32, resp_port, dns_port;
static long		 count = 1000;
static double		 maxsecs = 60;
static pid_t		 pids[MAX_PIDS];
static int		 npids;

/* The server's origin, from the directory URL: every URL must be on it. */
char		 origin[256], host[200];
int		 port, use_tls;
SSL_CTX		*ssl_ctx;
static EVP_MD		*sha256_md;	/* fetched once */
static char		 url_nonce[512], url_account[512], url_order[512];

static pthread_barrier_t setup_done, go;
atomic_long		 next_order, nok, nfailed, nrequests, npolls, nbadnonce,
			 nconnects;
atomic_int		 setup_failed, nerrors, stuck;
static double		*latency;
static double		 deadline;

double
now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
sleep_ms(int ms)
{
	struct timespec	 ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* Print the first few failures in full: they are what a report needs. */
void
fail_msg(const char *fmt, ...)
{
	va_list	 ap;

	if (atomic_fetch_add(&nerrors, 1) >= 10)
		return;
	va_start(ap, fmt);
	fputs("acmeload: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static void
b64url(const unsigned char *in, size_t len, char *out)
{
	static const char a[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t		 i;
	unsigned int	 v;

	for (i = 0; i + 2 < len; i += 3) {
		v = (unsigned int)in[i] << 16 | in[i + 1] << 8 | in[i + 2];
		*out++ = a[v >> 18 & 63];
		*out++ = a[v >> 12 & 63];
		*out++ = a[v >> 6 & 63];
		*out++ = a[v & 63];
	}
	if (len - i == 1) {
		v = (unsigned int)in[i] << 16;
		*out++ = a[v >> 18 & 63];
		*out++ = a[v >> 12 & 63];
	} else if (len - i == 2) {
		v = (unsigned int)in[i] << 16 | in[i + 1] << 8;
		*out++ = a[v >> 18 & 63];
		*out++ = a[v >> 12 & 63];
		*out++ = a[v >> 6 & 63];
	}
	*out = '\0';
}

/* ---- JWS ------------------------------------------------------------- */

struct worker {
	int		 id;
	struct conn	 conn;
	EVP_PKEY	*acct_key, *cert_key;
	EVP_PKEY_CTX	*sign_ctx;
	char		**csrs;		/* made before the clock, by seq */
	long		 ncsrs;
	char		 jwk[256], thumb[64];
	char		 kid[512];
	char		 nonce[256];
	double		 last_ok;	/* when its last order completed */
	pthread_t	 thread;
};

/* The path of url on our origin; NULL when url is elsewhere. */
static const char *
url_path(const char *url)
{
	size_t	 n = strlen(origin);

	if (strncmp(url, origin, n) != 0 || (url[n] != '/' && url[n] != '\0'))
		return NULL;
	return url[n] ? url + n : "/";
}

/* The JWK (RFC 7638 member order) and its thumbprint; 0, or -1. */
static int
make_jwk(struct worker *w)
{
	BIGNUM		*x = NULL, *y = NULL;
	unsigned char	 bx[32], by[32], md[32];
	char		 ex[48], ey[48];
	int		 ret = -1;

	if (!EVP_PKEY_get_bn_param(w->acct_key, OSSL_PKEY_PARAM_EC_PUB_X, &x) ||
	    !EVP_PKEY_get_bn_param(w->acct_key, OSSL_PKEY_PARAM_EC_PUB_Y, &y) ||
	    BN_bn2binpad(x, bx, 32) != 32 || BN_bn2binpad(y, by, 32) != 32)
		goto out;
	b64url(bx, 32, ex);
	b64url(by, 32, ey);
	snprintf(w->jwk, sizeof(w->jwk),
	    "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}", ex,
	    ey);
	SHA256((unsigned char *)w->jwk, strlen(w->jwk), md);
	b64url(md, 32, w->thumb);
	ret = 0;
out:
	BN_free(x);
	BN_free(y);
	return ret;
}

/*
 * ES256 over data into out (base64url of r||s) with w's signing context,
 * made once: a fresh EVP_DigestSignInit per request costs more than the
 * signature in OpenSSL 3.0 (fetches, locks). 0, or -1.
 */
static int
es256(struct worker *w, const char *data, size_t len, char *out)
{
	ECDSA_SIG	*sig = NULL;
	unsigned char	 md[32], der[80], raw[64];
	const unsigned char *p = der;
	size_t		 dlen = sizeof(der);
	int		 ret = -1;

	/* SHA256() fetches the digest on every call in OpenSSL 3.0. */
	if (EVP_Digest(data, len, md, NULL, sha256_md, NULL) != 1)
		return -1;
	if (EVP_PKEY_sign(w->sign_ctx, der, &dlen, md, sizeof(md)) != 1 ||
	    (sig = d2i_ECDSA_SIG(NULL, &p, (long)dlen)) == NULL ||
	    BN_bn2binpad(ECDSA_SIG_get0_r(sig), raw, 32) != 32 ||
	    BN_bn2binpad(ECDSA_SIG_get0_s(sig), raw + 32, 32) != 32)
		goto out;
	b64url(raw, 64, out);
	ret = 0;
out:
	ECDSA_SIG_free(sig);
	return ret;
}

static int
is_problem(const struct resp *r, const char *type)
{
	return r->status == 400 && r->body != NULL && strstr(r->body, type);
}

/*
 * POST a JWS of payload (NULL: POST-as-GET) to url, signed with the
 * account key (kid, or the jwk when w has no kid yet), retrying badNonce.
 * The response's nonce becomes w's. 0, or -1 (r->body may still be set).
 */
static int
acme_post(struct worker *w, const char *url, const char *payload,
    struct resp *r)
{
	char		 prot[2048], p64[2800], *pl64, *body, sig[96];
	const char	*path;
	size_t		 plen = payload ? strlen(payload) : 0, n;
	int		 tries;
	struct resp	 nr;

	r->body = NULL;
	r->status = 0;		/* not the previous step's */
	if ((path = url_path(url)) == NULL) {
		fail_msg("URL %s is not on %s", url, origin);
		return -1;
	}
	if ((pl64 = malloc(plen * 4 / 3 + 4)) == NULL ||
	    (body = malloc(plen * 4 / 3 + 4096)) == NULL) {
		free(pl64);
		return -1;
	}
	b64url((const unsigned char *)(payload ? payload : ""), plen, pl64);
	for (tries = 0; tries < 5; tries++) {
		if (w->nonce[0] == '\0') {
			memset(&nr, 0, sizeof(nr));
			if (http_do(&w->conn, "HEAD", url_path(url_nonce),
			    NULL, 0, &nr) == -1)
				break;
			snprintf(w->nonce, sizeof(w->nonce), "%s", nr.nonce);
			free(nr.body);
		}
		if (w->kid[0] != '\0')
			snprintf(prot, sizeof(prot), "{\"alg\":\"ES256\","
			    "\"kid\":\"%s\",\"nonce\":\"%s\",\"url\":\"%s\"}",
			    w->kid, w->nonce, url);
		else
			snprintf(prot, sizeof(prot), "{\"alg\":\"ES256\","
			    "\"jwk\":%s,\"nonce\":\"%s\",\"url\":\"%s\"}",
			    w->jwk, w->nonce, url);
		b64url((unsigned char *)prot, strlen(prot), p64);
		n = (size_t)sprintf(body, "%s.%s", p64, pl64);
		if (es256(w, body, n, sig) == -1)
			break;
		n = (size_t)sprintf(body, "{\"protected\":\"%s\",\"payload\":"
		    "\"%s\",\"signature\":\"%s\"}", p64, pl64, sig);
		free(r->body);
		r->body = NULL;
		w->nonce[0] = '\0';
		if (http_do(&w->conn, "POST", path, body, n, r) == -1)
			break;
		snprintf(w->nonce, sizeof(w->nonce), "%s", r->nonce);
		if (!is_problem(r, "badNonce")) {
			free(pl64);
			free(body);
			return 0;
		}
		atomic_fetch_add(&nbadnonce, 1);
	}
	free(pl64);
	free(body);
	return -1;
}

/* ---- one order ------------------------------------------------------- */

/* A CSR for name (CN and SAN), base64url DER, signed with w's cert key. */
static char *
make_csr(struct worker *w, const char *name)
{
	X509_REQ		*req;
	X509_NAME		*subj;
	X509_EXTENSION		*ext;
	STACK_OF(X509_EXTENSION) *exts = NULL;
	unsigned char		*der = NULL;
	char			 san[300], *out = NULL;
	int			 n;

	if ((req = X509_REQ_new()) == NULL)
		return NULL;
	subj = X509_REQ_get_subject_name(req);
	snprintf(san, sizeof(san), "DNS:%s", name);
	if (!X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_ASC,
	    (const unsigned char *)name, -1, -1, 0) ||
	    (ext = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, san))
	    == NULL)
		goto out;
	exts = sk_X509_EXTENSION_new_null();
	sk_X509_EXTENSION_push(exts, ext);
	if (!X509_REQ_add_extensions(req, exts) ||
	    !X509_REQ_set_pubkey(req, w->cert_key) ||
	    !X509_REQ_sign(req, w->cert_key, EVP_sha256()) ||
	    (n = i2d_X509_REQ(req, &der)) <= 0)
		goto out;
	if ((out = malloc((size_t)n * 4 / 3 + 4)) != NULL)
		b64url(der, (size_t)n, out);
out:
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	OPENSSL_free(der);
	X509_REQ_free(req);
	return out;
}

static const char *
jstr(json_t *j, const char *key)
{
	const char	*s = json_string_value(json_object_get(j, key));

	return s != NULL ? s : "";
}

static json_t *
parse(const struct resp *r)
{
	return r->body != NULL ? json_loads(r->body, 0, NULL) : NULL;
}

/*
 * Poll the object at url (an authorization or an order, POST-as-GET)
 * until its status leaves "pending" and "processing"; its last JSON, or
 * NULL.
 */
static json_t *
poll_status(struct worker *w, const char *url, const char *step)
{
	struct resp	 r;
	json_t		*o;
	const char	*st;
	int		 i, ms = 1;

	for (i = 0; i < POLL_MAX; i++) {
		sleep_ms(ms);
		ms = ms * 2 > 20 ? 20 : ms * 2;
		atomic_fetch_add(&npolls, 1);
		if (acme_post(w, url, NULL, &r) == -1 || r.status != 200 ||
		    (o = parse(&r)) == NULL) {
			fail_msg("%s: poll %s: %d %s", step, url, r.status,
			    r.body ? r.body : "");
			free(r.body);
			return NULL;
		}
		free(r.body);
		st = jstr(o, "status");
		if (strcmp(st, "pending") != 0 && strcmp(st, "processing") != 0)
			return o;
		json_decref(o);
		if (now() > deadline + 30)
			break;
	}
	fail_msg("%s: %s still pending after %d polls", step, url, i);
	return NULL;
}

/*
 * One whole order for name, finalized with csr (base64url DER; NULL: made
 * now); the certificate chain (PEM), or NULL.
 */
static char *
do_order(struct worker *w, const char *name, const char *precsr)
{
	struct resp	 r = { 0 };
	json_t		*o = NULL, *a = NULL, *ch, *cr;
	struct tok	*t = NULL;
	char		 ourl[512], aurl[512], fin[512], payload[600];
	char		*csr = NULL;
	char		*cert = NULL;
	const char	*chalurl = NULL;
	size_t		 i;
	int		 chall_valid;

	/* new order */
	snprintf(payload, sizeof(payload), "{\"identifiers\":[{\"type\":"
	    "\"dns\",\"value\":\"%s\"}]}", name);
	if (acme_post(w, url_order, payload, &r) == -1 || r.status != 201 ||
	    (o = parse(&r)) == NULL || r.location[0] == '\0') {
		fail_msg("newOrder %s: %d %s", name, r.status, r.body ?
		    r.body : "");
		goto out;
	}
	snprintf(ourl, sizeof(ourl), "%s", r.location);
	snprintf(fin, sizeof(fin), "%s", jstr(o, "finalize"));
	free(r.body);
	r.body = NULL;

	/* its authorization, and the http-01 challenge in it */
	snprintf(aurl, sizeof(aurl), "%s", json_string_value(json_array_get(
	    json_object_get(o, "authorizations"), 0)) != NULL ?
	    json_string_value(json_array_get(json_object_get(o,
	    "authorizations"), 0)) : "");
	if (acme_post(w, aurl, NULL, &r) == -1 || r.status != 200 ||
	    (a = parse(&r)) == NULL) {
		fail_msg("authz %s: %d %s", name, r.status, r.body ? r.body :
		    "");
		goto out;
	}
	free(r.body);
	r.body = NULL;
	json_array_foreach(json_object_get(a, "challenges"), i, ch)
		if (strcmp(jstr(ch, "type"), "http-01") == 0) {
			if ((t = calloc(1, sizeof(*t))) == NULL)
				goto out;
			snprintf(t->token, sizeof(t->token), "%s",
			    jstr(ch, "token"));
			snprintf(t->keyauth, sizeof(t->keyauth), "%s.%s",
			    t->token, w->thumb);
			chalurl = jstr(ch, "url");
			break;
		}
	if (t == NULL) {
		fail_msg("authz %s: no http-01 challenge", name);
		goto out;
	}
	tok_put(t);
	if (acme_post(w, chalurl, "{}", &r) == -1 || r.status != 200 ||
	    (cr = parse(&r)) == NULL) {
		fail_msg("challenge %s: %d %s", name, r.status, r.body ?
		    r.body : "");
		goto out;
	}
	free(r.body);
	r.body = NULL;
	/*
	 * A challenge that answers "valid" has made the order's only
	 * authorization valid: finalize at once, as lego does.
	 */
	chall_valid = strcmp(jstr(cr, "status"), "valid") == 0;
	json_decref(cr);

	/*
	 * Poll the order until ready, then finalize. (certbot polls the
	 * authorization instead; against pebble 2.4.0 that deadlocks within
	 * a second at 32 workers: its authorization handler holds the
	 * authorization's write lock while it takes the store's read lock,
	 * and reading an order holds the store's read lock while it takes
	 * the authorizations'; a waiting store writer closes the cycle.
	 * Polling the order makes the cycle rarer, not impossible.)
	 */
	json_decref(o);
	o = NULL;
	if (!chall_valid) {
		if ((o = poll_status(w, ourl, "ready")) == NULL)
			goto out;
		if (strcmp(jstr(o, "status"), "ready") != 0) {
			fail_msg("order %s for %s is %s, not ready", ourl,
			    name, jstr(o, "status"));
			goto out;
		}
	}
	if (precsr == NULL && (csr = make_csr(w, name)) == NULL)
		goto out;
	{
		char	*fp;

		if ((fp = malloc(strlen(precsr ? precsr : csr) + 16)) == NULL)
			goto out;
		sprintf(fp, "{\"csr\":\"%s\"}", precsr ? precsr : csr);
		if (acme_post(w, fin, fp, &r) == -1 || r.status != 200) {
			fail_msg("finalize %s: %d %s", name, r.status,
			    r.body ? r.body : "");
			free(fp);
			goto out;
		}
		free(fp);
	}
	json_decref(o);
	if ((o = parse(&r)) == NULL)
		goto out;
	free(r.body);
	r.body = NULL;
	if (strcmp(jstr(o, "status"), "valid") != 0) {
		json_decref(o);
		if ((o = poll_status(w, ourl, "valid")) == NULL)
			goto out;
	}
	if (strcmp(jstr(o, "status"), "valid") != 0) {
		fail_msg("order %s for %s is %s after finalize", ourl, name,
		    jstr(o, "status"));
		goto out;
	}

	/* the certificate */
	if (acme_post(w, jstr(o, "certificate"), NULL, &r) == -1 ||
	    r.status != 200 || r.body == NULL ||
	    strncmp(r.body, "-----BEGIN CERTIFICATE-----", 27) != 0) {
		fail_msg("certificate %s: %d %s", name, r.status, r.body ?
		    r.body : "");
		goto out;
	}
	cert = r.body;
	r.body = NULL;
out:
	if (t != NULL) {
		tok_del(t);
		free(t);
	}
	free(r.body);
	free(csr);
	json_decref(o);
	json_decref(a);
	return cert;
}

static EVP_PKEY *
p256(void)
{
	return EVP_EC_gen("P-256");
}

/* The account: keys, then newAccount; 0, or -1. */
static int
worker_setup(struct worker *w)
{
	struct resp	 r;
	char		 name[256];
	long		 seq;

	w->conn.fd = -1;
	if ((w->acct_key = p256()) == NULL || (w->cert_key = p256()) == NULL ||
	    make_jwk(w) == -1 ||
	    (w->sign_ctx = EVP_PKEY_CTX_new(w->acct_key, NULL)) == NULL ||
	    EVP_PKEY_sign_init(w->sign_ctx) != 1)
		return -1;
	if (acme_post(w, url_account, "{\"termsOfServiceAgreed\":true}", &r)
	    == -1 || (r.status != 201 && r.status != 200) ||
	    r.location[0] == '\0') {
		fail_msg("newAccount: %d %s", r.status, r.body ? r.body : "");
		free(r.body);
		return -1;
	}
	snprintf(w->kid, sizeof(w->kid), "%s", r.location);
	free(r.body);
	/*
	 * The CSRs of this worker's share of the orders, and a quarter more
	 * (workers do not finish evenly); beyond that they are made on the
	 * clock.
	 */
	w->ncsrs = count / nworkers + count / nworkers / 4 + 1;
	if ((w->csrs = calloc((size_t)w->ncsrs, sizeof(*w->csrs))) == NULL)
		return -1;
	for (seq = 0; seq < w->ncsrs; seq++) {
		snprintf(name, sizeof(name), "w%d-%ld.%s", w->id, seq, domain);
		if ((w->csrs[seq] = make_csr(w, name)) == NULL)
			return -1;
	}
	return 0;
}

static void
save_sample(long i, const char *pem)
{
	char	 path[1024];
	FILE	*f;

	snprintf(path, sizeof(path), "%s/cert-%ld.pem", sampledir, i);
	if ((f = fopen(path, "w")) != NULL) {
		fputs(pem, f);
		fclose(f);
	}
}

static void *
worker_run(void *arg)
{
	struct worker	*w = arg;
	char		 name[256], *cert;
	double		 t0;
	long		 i, seq = 0;
	int		 ok;

	ok = worker_setup(w) == 0;
	if (ok) {
		/* one order before the clock: connection and caches warm */
		snprintf(name, sizeof(name), "w%d-warm.%s", w->id, domain);
		if ((cert = do_order(w, name, NULL)) == NULL)
			ok = 0;
		free(cert);
	}
	if (!ok)
		atomic_store(&setup_failed, 1);
	pthread_barrier_wait(&setup_done);
	pthread_barrier_wait(&go);
	if (!ok || atomic_load(&setup_failed))
		return NULL;
	while ((i = atomic_fetch_add(&next_order, 1)) < count &&
	    now() < deadline && !atomic_load(&stuck)) {
		snprintf(name, sizeof(name), "w%d-%ld.%s", w->id, seq++,
		    domain);
		t0 = now();
		if ((cert = do_order(w, name, seq - 1 < w->ncsrs ?
		    w->csrs[seq - 1] : NULL)) != NULL) {
			w->last_ok = now();
			latency[atomic_fetch_add(&nok, 1)] = w->last_ok - t0;
			if (sampledir != NULL && i < SAMPLES)
				save_sample(i, cert);
			free(cert);
		} else
			atomic_fetch_add(&nfailed, 1);
	}
	return NULL;
}

/* ---- main ------------------------------------------------------------ */

static double
cpu_pids(double *sys)
{
	char		 path[64], buf[1024], *p;
	unsigned long	 ut, st;
	double		 s = 0, hz = (double)sysconf(_SC_CLK_TCK);
	FILE		*f;
	int		 i;

	for (i = 0; i < npids; i++) {
		snprintf(path, sizeof(path), "/proc/%d/stat", (int)pids[i]);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		if (fgets(buf, sizeof(buf), f) != NULL &&
		    (p = strrchr(buf, ')')) != NULL &&
		    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
		    "%lu %lu", &ut, &st) == 2) {
			s += (double)(ut + st) / hz;
			*sys += (double)st / hz;
		}
		fclose(f);
	}
	return s;
}

/* This process's CPU seconds; *sys gets the kernel's part of them. */
static double
cpu_self(double *sys)
{
	struct rusage	 ru;

	getrusage(RUSAGE_SELF, &ru);
	*sys = (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + *sys;
}

static int
cmp_double(const void *a, const void *b)
{
	double	 x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Fetch the directory and keep its three URLs; 0, or -1. */
static int
directory(const char *url)
{
	struct conn	 c = { .fd = -1 };
	struct resp	 r = { 0 };
	json_t		*d = NULL;
	int		 ret = -1;

	if (http_do(&c, "GET", url_path(url), NULL, 0, &r) == -1 ||
	    r.status != 200 || (d = parse(&r)) == NULL) {
		fprintf(stderr, "acmeload: directory %s: %d %s\n", url,
		    r.status, r.body ? r.body : "(no answer)");
		goto out;
	}
	snprintf(url_nonce, sizeof(url_nonce), "%s", jstr(d, "newNonce"));
	snprintf(url_account, sizeof(url_account), "%s",
	    jstr(d, "newAccount"));
	snprintf(url_order, sizeof(url_order), "%s", jstr(d, "newOrder"));
	if (url_path(url_nonce) && url_path(url_account) && url_path(url_order))
		ret = 0;
	else
		fprintf(stderr, "acmeload: directory URLs not on %s\n", origin);
out:
	json_decref(d);
	free(r.body);
	conn_close(&c);
	SSL_SESSION_free(c.sess);
	free(c.buf);
	return ret;
}

/* Split the directory URL into origin, host and port; 0, or -1. */
static int
parse_url(const char *url)
{
	const char	*p, *slash;
	char		*colon;

	if (strncmp(url, "https://", 8) == 0)
		use_tls = 1;
	else if (strncmp(url, "http://", 7) != 0)
		return -1;
	p = url + (use_tls ? 8 : 7);
	slash = strchr(p, '/');
	if (slash == NULL || (size_t)(slash - url) >= sizeof(origin) ||
	    (size_t)(slash - p) >= sizeof(host))
		return -1;
	memcpy(origin, url, (size_t)(slash - url));
	origin[slash - url] = '\0';
	memcpy(host, p, (size_t)(slash - p));
	host[slash - p] = '\0';
	port = use_tls ? 443 : 80;
	if ((colon = strrchr(host, ':')) != NULL) {
		*colon = '\0';
		port = atoi(colon + 1);
	}
	return 0;
}

static int
usage(void)
{
	fprintf(stderr, "usage: acmeload [-k] [-C CAFILE] [-w WORKERS] "
	    "[-n COUNT] [-T SECONDS] [-r PORT] [-D PORT] [-d DOMAIN] "
	    "[-o DIR] [-P PID]... DIRECTORY_URL\n");
	return 2;
}

int
main(int argc, char *argv[])
{
	struct worker	*ws;
	double		 t0, t1, c0, c1, s0, s1, secs, k0, k1, ks0 = 0, ks1 = 0;
	long		 ok, i;
	int		 ch;

	while ((ch = getopt(argc, argv, "kC:w:n:T:r:D:d:o:P:")) != -1)
		switch (ch) {
		case 'k': insecure = 1; break;
		case 'C': cafile = optarg; break;
		case 'w': nworkers = atoi(optarg); break;
		case 'n': count = atol(optarg); break;
		case 'T': maxsecs = atof(optarg); break;
		case 'r': resp_port = atoi(optarg); break;
		case 'D': dns_port = atoi(optarg); break;
		case 'd': domain = optarg; break;
		case 'o': sampledir = optarg; break;
		case 'P':
			if (npids < MAX_PIDS)
				pids[npids++] = (pid_t)atoi(optarg);
			break;
		default: return usage();
		}
	if (optind + 1 != argc || nworkers < 1 || count < 1 || resp_port <= 0 ||
	    dns_port < 0 || dns_port > 65535 ||
	    parse_url(argv[optind]) == -1)
		return usage();
	signal(SIGPIPE, SIG_IGN);
	debug = getenv("ACMELOAD_DEBUG") != NULL;
	if ((sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL)) == NULL) {
		fprintf(stderr, "acmeload: no SHA-256 in libcrypto\n");
		return 1;
	}
	if (use_tls) {
		if ((ssl_ctx = SSL_CTX_new(TLS_client_method())) == NULL)
			return 1;
		if (!insecure) {
			if (cafile == NULL || SSL_CTX_load_verify_locations(
			    ssl_ctx, cafile, NULL) != 1) {
				fprintf(stderr, "acmeload: -C CAFILE or -k\n");
				return 2;
			}
			SSL_CTX_set_verify(ssl_ctx, SSL_VERIFY_PEER, NULL);
			X509_VERIFY_PARAM_set1_ip_asc(
			    SSL_CTX_get0_param(ssl_ctx), host);
		}
	}
	if (sampledir != NULL && mkdir(sampledir, 0755) == -1 &&
	    errno != EEXIST) {
		perror(sampledir);
		return 1;
	}
	if (responder_start() == -1 || dns_start() == -1 ||
	    directory(argv[optind]) == -1)
		return 1;
	if ((ws = calloc((size_t)nworkers, sizeof(*ws))) == NULL ||
	    (latency = calloc((size_t)count, sizeof(*latency))) == NULL)
		return 1;
	deadline = now() + 600;	/* for the warm-up's polls */
	pthread_barrier_init(&setup_done, NULL, (unsigned)nworkers + 1);
	pthread_barrier_init(&go, NULL, (unsigned)nworkers + 1);
	for (i = 0; i < nworkers; i++) {
		ws[i].id = (int)i;
		if (pthread_create(&ws[i].thread, NULL, worker_run, &ws[i])
		    != 0)
			return 1;
	}
	pthread_barrier_wait(&setup_done);
	if (atomic_load(&setup_failed))
		fprintf(stderr, "acmeload: a worker's account or warm-up "
		    "order failed\n");
	atomic_store(&nrequests, 0);
	atomic_store(&npolls, 0);
	atomic_store(&nbadnonce, 0);
	atomic_store(&nserved, 0);
	atomic_store(&nconnects, 0);
	c0 = cpu_self(&k0);
	s0 = cpu_pids(&ks0);
	t0 = now();
	deadline = t0 + maxsecs;
	pthread_barrier_wait(&go);
	for (i = 0; i < nworkers; i++)
		pthread_join(ws[i].thread, NULL);
	t1 = now();
	c1 = cpu_self(&k1);
	s1 = cpu_pids(&ks1);
	if (atomic_load(&setup_failed))
		return 1;
	ok = atomic_load(&nok);
	secs = t1 - t0;
	/*
	 * A server that got stuck is measured until it stopped: up to its
	 * last completed order, not through the time-outs after it.
	 */
	if (atomic_load(&stuck)) {
		for (secs = 0, i = 0; i < nworkers; i++)
			if (ws[i].last_ok - t0 > secs)
				secs = ws[i].last_ok - t0;
		if (secs <= 0)
			secs = t1 - t0;
	}
	qsort(latency, (size_t)ok, sizeof(*latency), cmp_double);
	printf("ok=%ld failed=%ld seconds=%.2f rate=%.0f p50_ms=%.1f "
	    "p99_ms=%.1f requests_per_order=%.2f polls_per_order=%.2f "
	    "connects=%ld stuck=%d bad_nonces=%ld challenge_fetches=%ld "
	    "loader_cpu_us=%.0f server_cpu_us=%.0f loader_sys_us=%.0f "
	    "server_sys_us=%.0f\n", ok,
	    atomic_load(&nfailed), secs,
	    ok / secs, ok ? latency[ok / 2] * 1e3 : 0,
	    ok ? latency[ok * 99 / 100] * 1e3 : 0,
	    ok ? (double)atomic_load(&nrequests) / ok : 0,
	    ok ? (double)atomic_load(&npolls) / ok : 0,
	    atomic_load(&nconnects), atomic_load(&stuck),
	    atomic_load(&nbadnonce),
	    atomic_load(&nserved),
	    ok ? (c1 - c0) / ok * 1e6 : 0, ok && npids ? (s1 - s0) / ok * 1e6 :
	    0, ok ? (k1 - k0) / ok * 1e6 : 0, ok && npids ? (ks1 - ks0) / ok *
	    1e6 : 0);
	for (i = 0; i < nworkers; i++) {
		conn_close(&ws[i].conn);
		SSL_SESSION_free(ws[i].conn.sess);
		free(ws[i].conn.buf);
		EVP_PKEY_free(ws[i].acct_key);
		EVP_PKEY_free(ws[i].cert_key);
		EVP_PKEY_CTX_free(ws[i].sign_ctx);
		for (ok = 0; ok < ws[i].ncsrs; ok++)
			free(ws[i].csrs[ok]);
		free(ws[i].csrs);
	}
	free(ws);
	free(latency);
	SSL_CTX_free(ssl_ctx);
	EVP_MD_free(sha256_md);
	return atomic_load(&nfailed) > 0 || ok == 0;
}
