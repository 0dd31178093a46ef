/*
 * fuzz_http.c - libFuzzer target: the HTTP request path of certmintd,
 * from what libmicrohttpd hands over to the answer, on a real CA (made
 * once, in a temporary directory removed at exit). It runs the functions
 * http.c runs (src/server/request.c): the route, the body in pieces, the
 * requester, a submission's decoding, ca_submit_start and the writer's
 * commit, the request GETs and every answer.
 *
 * Input, like an HTTP request: "METHOD URL\n", "Name: value\n" header
 * lines, an empty line, the body. The URL's query is split and
 * %-decoded as MHD does. The body arrives in pieces of 1 + size % 700
 * bytes; max_body is 2048. Up to 8 such requests, each but the last
 * ended by "\n--\n"; a '$' in a URL is the id of the input's last
 * request recorded and a '@' the serial of its last certificate issued,
 * so that one input can submit and then read or renew.
 *
 * What must hold (else abort): no answer is a 5xx (nothing here is the
 * CA's fault: every bad input is the client's); every JSON answer is a
 * JSON object, every 4xx one with an "error" message; a certificate
 * issued (201, or a GET of .../certificate) loads in OpenSSL with the
 * request's key and verifies with the CA's; the route agrees with the
 * URL; the requester is the header only when trusted; a renewal is
 * issued for a new key only with Certmint-Renewal-Signature, the old
 * key's signature over the request (checked here with OpenSSL).
 */
/* Before OpenSSL: x509v3.h defines CRL_REASON_* as macros. */
#include "server/request.h"
#include "fuzz.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#define MAX_BODY	2048
#define MAX_ARGS	256
#define MAX_REQUESTS	8
#define SEPARATOR	"\n--\n"

static struct ca *ca;
static char	 dir[256];
static int	 trace;		/* $FUZZ_HTTP_TRACE: print every answer */
static int64_t	 last_id;	/* the input's last request recorded */
static char	 last_serial[130];	/* its last certificate issued */

/* The parts of one request, as MHD would hand them over. */
struct input {
	char		*method;
	char		*path;		/* %-decoded, without the query */
	char		*keys[MAX_ARGS];
	char		*values[MAX_ARGS];	/* may be NULL */
	size_t		 nargs;
	char		*content_type;
	char		*requester;	/* X-Certmint-Requester */
	char		*renewal_sig;	/* Certmint-Renewal-Signature */
	const uint8_t	*body;
	size_t		 body_len;
};

/* Remove d and the files in it (a CA's key, config, database). */
static void
remove_tree(const char *d)
{
	struct dirent	*e;
	DIR		*dp;
	char		 path[512];

	if ((dp = opendir(d)) == NULL)
		return;
	while ((e = readdir(dp)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", d, e->d_name);
		unlink(path);
	}
	closedir(dp);
	rmdir(d);
}

/* At exit: close the CA and remove its directory. */
static void
remove_ca(void)
{
	ca_close(ca);
	ca = NULL;
	if (dir[0] != '\0')
		remove_tree(dir);
	dir[0] = '\0';
}

/*
 * Remove the directories in tmp of runs that crashed (a crash ends
 * without exit handlers): each is named after its process, now gone.
 */
static void
remove_stale(const char *tmp)
{
	struct dirent	*e;
	DIR		*dp;
	char		 path[512];
	long		 pid;

	if ((dp = opendir(tmp)) == NULL)
		return;
	while ((e = readdir(dp)) != NULL) {
		if (sscanf(e->d_name, "cm-fuzz-http.%ld.", &pid) != 1 ||
		    pid <= 0 || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		snprintf(path, sizeof(path), "%s/%s", tmp, e->d_name);
		remove_tree(path);
	}
	closedir(dp);
}

/* A file in dir with that text. */
static void
put_file(const char *name, const char *text)
{
	char	 path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (file_write_atomic(path, text, strlen(text), 0600) == -1)
		abort();
}

/*
 * A root CA as `certmint init` makes one (an EC P-256 key, a self-signed
 * certificate, a config), with a small max_body and the requester header
 * trusted, on tmpfs when there is one: every submission is a commit.
 */
static void
make_ca(void)
{
	EVP_PKEY	*key = NULL;
	struct store	*st;
	unsigned char	*der = NULL;
	size_t		 len;
	char		 err[512], path[512], *pem;
	const char	*tmp = getenv("TMPDIR");

	if (access("/dev/shm", W_OK) == 0)
		tmp = "/dev/shm";
	else if (tmp == NULL)
		tmp = "/tmp";
	remove_stale(tmp);
	snprintf(dir, sizeof(dir), "%s/cm-fuzz-http.%ld.XXXXXX", tmp,
	    (long)getpid());
	if (mkdtemp(dir) == NULL)
		abort();
	atexit(remove_ca);	/* libFuzzer ends with exit() */
	snprintf(path, sizeof(path), "%s/ca.key", dir);
	if (key_generate(KEY_EC_P256, &key, err, sizeof(err)) == -1 ||
	    key_write(path, key, err, sizeof(err)) == -1 ||
	    ca_selfsign(key, "CN=fuzz http CA", 3650, "sha256", &der, &len,
	    err, sizeof(err)) == -1 ||
	    (pem = pem_encode("CERTIFICATE", der, len)) == NULL) {
		fprintf(stderr, "fuzz_http: %s\n", err);
		abort();
	}
	put_file("ca.crt", pem);
	free(pem);
	OPENSSL_free(der);
	EVP_PKEY_free(key);
	put_file("certmint.conf",
	    "[ca]\nname = fuzz http CA\ntype = root\nkey_type = ec-p256\n"
	    "key = ca.key\ncert = ca.crt\nchain = chain.pem\n"
	    "database = certmint.db\nhash = sha256\n"
	    "[server]\nmax_body = 2048\ntrust_requester_header = true\n"
	    "[publish]\nbase_url = http://127.0.0.1:8080\n"
	    "[crl]\nperiod_hours = 168\ndelta = no\n"
	    "[policy]\nrequest_disposition = issue\npending_first = no\n"
	    "default_profile = tls-server\nvalidity_days = 365\n");
	/* The database, as `certmint init` creates it: ca_open will not. */
	snprintf(path, sizeof(path), "%s/certmint.db", dir);
	if ((st = store_open(path, STORE_CREATE, err, sizeof(err))) == NULL) {
		fprintf(stderr, "fuzz_http: %s\n", err);
		abort();
	}
	store_close(st);
	snprintf(path, sizeof(path), "%s/certmint.conf", dir);
	if (ca_open(&ca, path, err, sizeof(err)) == -1 || ca_start(ca) == -1) {
		fprintf(stderr, "fuzz_http: %s\n", err);
		abort();
	}
	if (ca_max_body(ca) != MAX_BODY)
		fuzz_fail("max_body is not the config's");
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_init("fuzz_http", CM_LOG_ERROR);
	trace = getenv("FUZZ_HTTP_TRACE") != NULL;
	make_ca();
	return 0;
}

/* A NUL-terminated copy of n bytes (a NUL in them ends the string). */
static char *
copy(const uint8_t *p, size_t n)
{
	char	*s;

	if ((s = malloc(n + 1)) == NULL)
		abort();
	memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* %-decode s in place, '+' as a space in a query (MHD's unescaping). */
static char *
unescape(char *s, int query)
{
	char	*r = s, *w = s;
	int	 hi, lo;

	while (*r != '\0') {
		if (*r == '%' && (hi = hexval(r[1])) >= 0 &&
		    (lo = hexval(r[2])) >= 0) {
			*w++ = (char)(hi << 4 | lo);
			r += 3;
		} else if (*r == '+' && query) {
			*w++ = ' ';
			r++;
		} else
			*w++ = *r++;
	}
	*w = '\0';
	return s;
}

/* Split the query of in->path into in's arguments. */
static void
split_query(struct input *in)
{
	char	*q, *arg, *eq;

	if ((q = strchr(in->path, '?')) == NULL)
		return;
	*q++ = '\0';
	while ((arg = strsep(&q, "&")) != NULL && in->nargs < MAX_ARGS) {
		if (*arg == '\0')
			continue;
		if ((eq = strchr(arg, '=')) != NULL)
			*eq++ = '\0';
		in->keys[in->nargs] = unescape(arg, 1);
		in->values[in->nargs] = eq != NULL ? unescape(eq, 1) : NULL;
		in->nargs++;
	}
}

/* The next line of [*p, end): its length without "\n" or "\r\n". */
static size_t
next_line(const uint8_t **p, const uint8_t *end, const uint8_t **line)
{
	const uint8_t	*nl = memchr(*p, '\n', (size_t)(end - *p));
	size_t		 n;

	*line = *p;
	n = nl != NULL ? (size_t)(nl - *p) : (size_t)(end - *p);
	*p = nl != NULL ? nl + 1 : end;
	if (n > 0 && (*line)[n - 1] == '\r')
		n--;
	return n;
}

/* Keep the first of each header, as MHD_lookup_connection_value does. */
static void
header(struct input *in, const uint8_t *line, size_t n)
{
	const uint8_t	*colon = memchr(line, ':', n);
	char		*name, *value;

	if (colon == NULL)
		return;
	name = copy(line, (size_t)(colon - line));
	value = copy(colon + 1, n - (size_t)(colon - line) - 1);
	/* MHD drops the blanks around a value. */
	if (strcasecmp(name, "Content-Type") == 0 && in->content_type == NULL)
		in->content_type = strdup(str_trim(value));
	else if (strcasecmp(name, "X-Certmint-Requester") == 0 &&
	    in->requester == NULL)
		in->requester = strdup(str_trim(value));
	else if (strcasecmp(name, RENEWAL_SIG_HEADER) == 0 &&
	    in->renewal_sig == NULL)
		in->renewal_sig = strdup(str_trim(value));
	free(name);
	free(value);
}

/*
 * A copy of url, its first '$' replaced by last_id, then its first '@' by
 * last_serial.
 */
static char *
url_with_id(const char *url)
{
	const char	*d = strchr(url, '$');
	char		*s, *t;

	if (d == NULL)
		s = strdup(url);
	else if (asprintf(&s, "%.*s%" PRId64 "%s", (int)(d - url), url,
	    last_id, d + 1) == -1)
		s = NULL;
	if (s == NULL)
		abort();
	if ((d = strchr(s, '@')) == NULL)
		return s;
	if (asprintf(&t, "%.*s%s%s", (int)(d - s), s, last_serial, d + 1) == -1)
		abort();
	free(s);
	return t;
}

static void
parse_input(struct input *in, const uint8_t *data, size_t size)
{
	const uint8_t	*p = data, *end = data + size, *line;
	size_t		 n;
	char		*sp;

	memset(in, 0, sizeof(*in));
	n = next_line(&p, end, &line);
	in->method = copy(line, n);
	if ((sp = strchr(in->method, ' ')) != NULL)
		*sp++ = '\0';
	in->path = url_with_id(sp != NULL ? sp : "/");
	split_query(in);
	unescape(in->path, 0);
	while (p < end && (n = next_line(&p, end, &line)) > 0)
		header(in, line, n);
	in->body = p;
	in->body_len = (size_t)(end - p);
}

static void
input_free(struct input *in)
{
	free(in->method);
	free(in->path);
	free(in->content_type);
	free(in->requester);
	free(in->renewal_sig);
}

/* http_args_walk over in's arguments, as http.c walks MHD's. */
static void
walk_args(void *ctx, http_arg_fn fn, void *arg)
{
	struct input	*in = ctx;
	size_t		 i;

	for (i = 0; i < in->nargs; i++)
		fn(arg, in->keys[i], in->values[i]);
}

/* The writer's commit of a submission: http.c resumes, this wakes. */
struct commit_wait {
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	int		 done;
};

static void
committed(void *arg)
{
	struct commit_wait *w = arg;

	pthread_mutex_lock(&w->mu);
	w->done = 1;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

/*
 * A certificate (DER) the CA gave out: OpenSSL loads it, its key is the
 * request's (raw, the request as certmint read it), the CA's key
 * verifies it.
 */
static void
check_issued(const unsigned char *der, size_t len, const unsigned char *raw,
    size_t raw_len)
{
	const unsigned char *p = der;
	X509		*x;
	X509_REQ	*req;
	EVP_PKEY	*key, *rkey;

	if ((x = d2i_X509(NULL, &p, (long)len)) == NULL || p != der + len)
		fuzz_fail("OpenSSL cannot load an issued certificate");
	p = raw;
	if ((req = d2i_X509_REQ(NULL, &p, (long)raw_len)) == NULL)
		fuzz_fail("OpenSSL cannot parse a request certmint issued for");
	/*
	 * A key OpenSSL cannot read (an EC point off the curve) is refused
	 * by the signature check, which this build skips (fuzz/README.md):
	 * not a finding, and the certificate's key cannot be read either.
	 */
	if ((rkey = X509_REQ_get0_pubkey(req)) != NULL) {
		if ((key = X509_get0_pubkey(x)) == NULL)
			fuzz_fail("OpenSSL cannot read an issued certificate's "
			    "key");
		if (EVP_PKEY_eq(key, rkey) != 1)
			fuzz_fail("issued certificate's key is not the "
			    "request's");
	}
	if (X509_verify(x, ca_signer(ca)->key) != 1)
		fuzz_fail("issued certificate does not verify with the CA key");
	X509_REQ_free(req);
	X509_free(x);
}

/* The first certificate of a PEM text; d2i'd and checked as issued. */
static void
check_issued_pem(const char *pem, size_t len, const unsigned char *raw,
    size_t raw_len)
{
	BIO		*b = BIO_new_mem_buf(pem, (int)len);
	X509		*x;
	unsigned char	*der = NULL;
	int		 n;

	if (b == NULL || (x = PEM_read_bio_X509(b, NULL, NULL, NULL)) == NULL)
		fuzz_fail("an issued certificate's PEM does not load");
	if ((n = i2d_X509(x, &der)) <= 0)
		fuzz_fail("i2d_X509");
	check_issued(der, (size_t)n, raw, raw_len);
	OPENSSL_free(der);
	X509_free(x);
	BIO_free(b);
}

/*
 * What every answer must be. raw: the request's DER when known (a
 * submission certmint parsed, or the request row of a GET).
 */
static void
check_answer(const struct http_answer *a, int rc, const unsigned char *raw,
    size_t raw_len)
{
	json_t		*o;
	const char	*e, *pem;

	if (rc == -1)
		fuzz_fail("no answer (out of memory?)");
	if (trace)
		fprintf(stderr, "fuzz_http: %u %.*s\n", a->status,
		    a->len > 200 ? 200 : (int)a->len, a->data);
	if (a->status < 200 || a->status >= 500) {
		fprintf(stderr, "fuzz: status %u: %.*s\n", a->status,
		    (int)a->len, a->data);
		fuzz_fail("a bad request got no 2xx/4xx answer");
	}
	if (a->data == NULL || a->type == NULL)
		fuzz_fail("an answer without a body");
	if (strcmp(a->type, "application/json") != 0) {
		if (strcmp(a->type, "application/pem-certificate-chain") != 0 ||
		    a->status != 200)
			fuzz_fail("an answer of an unexpected type");
		if (raw == NULL)
			fuzz_fail("a certificate without its request");
		check_issued_pem(a->data, a->len, raw, raw_len);
		return;
	}
	if ((o = json_loadb(a->data, a->len, 0, NULL)) == NULL ||
	    !json_is_object(o)) {
		fprintf(stderr, "fuzz: %.*s\n", (int)a->len, a->data);
		fuzz_fail("a JSON answer is not a JSON object");
	}
	e = json_string_value(json_object_get(o, "error"));
	if (a->status >= 400 && (e == NULL || e[0] == '\0')) {
		fprintf(stderr, "fuzz: status %u: %.*s\n", a->status,
		    (int)a->len, a->data);
		fuzz_fail("a refusal without a message");
	}
	if (a->status == 201) {
		if ((pem = json_string_value(json_object_get(o,
		    "certificate"))) == NULL || raw == NULL)
			fuzz_fail("201 without a certificate");
		check_issued_pem(pem, strlen(pem), raw, raw_len);
	}
	json_decref(o);
}

/*
 * A renewal issued (res): the request names the old certificate, and its
 * key is the old certificate's or sig (base64) is the old key's signature
 * over the request's DER, as OpenSSL verifies it.
 */
static void
check_renewal(const struct ca_result *res, const char *sig)
{
	struct db_cert	 old;
	const unsigned char *p;
	const char	*serial = NULL;
	unsigned char	*raw = NULL;
	size_t		 i, len;
	EVP_MD_CTX	*ctx;
	EVP_PKEY	*k;
	X509		*x;
	int		 id, ok;

	for (i = 0; i < res->req.nattrs; i++)
		if (strcasecmp(res->req.attrs[i].name, "RenewalOf") == 0)
			serial = res->req.attrs[i].value;
	if (serial == NULL || !res->has_cert)
		fuzz_fail("a renewal issued without RenewalOf");
	if (store_cert_by_serial(ca_reader(ca), serial, &old) != 0)
		fuzz_fail("a renewal of a certificate not in the database");
	if (cert_same_key(old.raw, old.raw_len, res->cert.raw,
	    res->cert.raw_len) == 1) {
		db_cert_free(&old);
		return;
	}
	if (sig == NULL || base64_decode(sig, strlen(sig), &raw, &len) == -1)
		fuzz_fail("a renewal for a new key without a signature");
	p = old.raw;
	if ((x = d2i_X509(NULL, &p, (long)old.raw_len)) == NULL ||
	    (k = X509_get0_pubkey(x)) == NULL ||
	    (ctx = EVP_MD_CTX_new()) == NULL)
		fuzz_fail("OpenSSL cannot read a renewed certificate's key");
	id = EVP_PKEY_get_base_id(k);
	ok = EVP_DigestVerifyInit(ctx, NULL, id == EVP_PKEY_ED25519 ||
	    id == EVP_PKEY_ED448 ? NULL : EVP_sha256(), NULL, k) == 1 &&
	    EVP_DigestVerify(ctx, raw, len, res->req.raw_request,
	    res->req.raw_request_len) == 1;
	if (!ok)
		fuzz_fail("a renewal for a new key whose signature is not the "
		    "old key's");
	EVP_MD_CTX_free(ctx);
	X509_free(x);
	free(raw);
	db_cert_free(&old);
}

/*
 * POST /api/v1/requests (renew NULL) or a renewal: the body in pieces,
 * then as handle_submit.
 */
static void
submit(struct input *in, const struct http_target *renew)
{
	struct http_body body = { { NULL, 0, 0 }, 0 };
	struct http_submission s;
	struct http_answer a;
	struct ca_result res;
	struct ca_pending *pending;
	struct commit_wait w = { PTHREAD_MUTEX_INITIALIZER,
			    PTHREAD_COND_INITIALIZER, 0 };
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6 };
	struct sockaddr_in sin = { .sin_family = AF_INET };
	const struct sockaddr *client;
	const char	*who;
	char		 whobuf[64];
	size_t		 off, piece = 1 + in->body_len % 700;
	int		 rc, started;

	for (off = 0; off < in->body_len; off += piece)
		if (http_body_add(&body, in->body + off, in->body_len - off <
		    piece ? in->body_len - off : piece, MAX_BODY) == -1)
			abort();
	if (body.too_large != (in->body_len > MAX_BODY) ||
	    (!body.too_large && (body.data.len != in->body_len ||
	    (in->body_len > 0 &&
	    memcmp(body.data.data, in->body, in->body_len) != 0))))
		fuzz_fail("the body read is not the body sent");

	/* The client: 127.0.0.1 or ::1, by the length's parity. */
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin6.sin6_addr = in6addr_loopback;
	client = in->body_len % 2 ? (const struct sockaddr *)&sin6 :
	    (const struct sockaddr *)&sin;
	who = http_requester(0, in->requester, client, whobuf, sizeof(whobuf));
	if (strcmp(who, in->body_len % 2 ? "::1" : "127.0.0.1") != 0)
		fuzz_fail("an untrusted header named the requester");
	who = http_requester(1, in->requester, client, whobuf, sizeof(whobuf));

	switch (http_submission_decode(&s, in->content_type, &body,
	    ca_max_body(ca), walk_args, in)) {
	case SUBMIT_UNSUPPORTED:
		rc = http_answer_error(&a, 415, s.msg, 0);
		check_answer(&a, rc, NULL, 0);
		http_answer_free(&a);
		goto out;
	case SUBMIT_REFUSED:
		if (s.status != CA_E_BADREQ && s.status != CA_E_TOOLARGE)
			fuzz_fail("a refusal of another class");
		break;
	case SUBMIT_CSR:
		/* An empty body is NULL: csr_parse refuses it. */
		if (s.data == NULL && s.len != 0)
			fuzz_fail("a submission without a request");
		break;
	default:
		fuzz_fail("an unknown kind of submission");
	}
	/*
	 * A renewal from an authenticated requester (a token) when the
	 * X-Certmint-Requester header is sent, as a token names who.
	 */
	started = renew != NULL ? http_renewal_start(ca, renew->serial, &s,
	    in->renewal_sig, who, in->requester != NULL, &pending, &res) :
	    http_submission_start(ca, &s, who, &pending, &res);
	if (started == CA_RENEW_UNPROVEN && (in->requester != NULL ||
	    res.has_request || res.status == CA_OK))
		fuzz_fail("a renewal refused unproven was recorded, or not "
		    "refused");
	if (started == 1) {
		if (ca_submit_queue(ca, pending, committed, &w) == 0) {
			pthread_mutex_lock(&w.mu);
			while (!w.done)
				pthread_cond_wait(&w.cv, &w.mu);
			pthread_mutex_unlock(&w.mu);
		}
		ca_submit_finish(ca, pending, &res);
	}
	ca_config_lock(ca);
	rc = http_answer_result(&a, &res, 1, ca_signer(ca)->chain_pem);
	ca_config_unlock(ca);
	check_answer(&a, rc, res.has_request ? res.req.raw_request : NULL,
	    res.has_request ? res.req.raw_request_len : 0);
	if (res.has_request)
		last_id = res.req.id;
	if (res.has_cert)
		snprintf(last_serial, sizeof(last_serial), "%s",
		    res.cert.serial);
	if (s.kind == SUBMIT_REFUSED && a.status != http_status(s.status))
		fuzz_fail("a refused body was answered otherwise");
	if (renew != NULL && a.status < 300 && a.status != 201 &&
	    a.status != 202)
		fuzz_fail("a renewal answered neither issued nor pending");
	if (renew != NULL && a.status == 201)
		check_renewal(&res, in->renewal_sig);
	http_answer_free(&a);
	ca_result_free(&res);
out:
	http_submission_free(&s);
	http_body_free(&body);
}

/* GET /api/v1/requests/ID[/certificate] on the CA's own rows. */
static void
get_request(int64_t id, int want_cert)
{
	struct http_answer a;
	struct ca_result res;
	int		 rc;

	rc = http_answer_request(&a, ca, id, want_cert);
	/* A certificate's request: the row it was issued for. */
	if (ca_get(ca, id, &res) == 0) {
		check_answer(&a, rc, res.req.raw_request,
		    res.req.raw_request_len);
		if (want_cert && a.status == 200 &&
		    res.req.disposition != CM_DISP_ISSUED &&
		    res.req.disposition != CM_DISP_REVOKED)
			fuzz_fail("a certificate for a request not issued");
	} else {
		check_answer(&a, rc, NULL, 0);
		if (a.status != 404)
			fuzz_fail("an unknown request is not a 404");
	}
	ca_result_free(&res);
	http_answer_free(&a);
}

static const char *const fixed[ROUTE__MAX] = {
	[ROUTE_CA_CERT] = "/ca.crt", [ROUTE_CA_PEM] = "/ca.pem",
	[ROUTE_CRL] = "/ca.crl", [ROUTE_DELTA_CRL] = "/delta.crl",
	[ROUTE_CA_INFO] = "/api/v1/ca", [ROUTE_HEALTH] = "/health",
};
/* The indexed publication URLs: "/ca(N).crt" is indexed[ROUTE_CA_CERT]. */
static const char *const indexed[ROUTE__MAX] = {
	[ROUTE_CA_CERT] = "/ca(%d).crt", [ROUTE_CRL] = "/ca(%d).crl",
	[ROUTE_DELTA_CRL] = "/delta(%d).crl",
};

/*
 * The route of a URL as docs/rest-api.md writes it (a GET of an id in
 * plain digits or of an indexed publication URL, a renewal of a serial in
 * lowercase hex), or ROUTE__MAX for any other: what http_route must find.
 */
static enum http_route
documented_route(const char *method, const char *path, struct http_target *t)
{
	const char	*p = path + sizeof(API_REQUESTS);
	char		 url[64];
	size_t		 n;
	int		 r, i;

	memset(t, 0, sizeof(*t));
	if (strcmp(method, "POST") == 0 && strcmp(path, API_REQUESTS) == 0)
		return ROUTE_SUBMIT;
	if (strcmp(method, "POST") == 0 && strncmp(path, API_CERTIFICATES "/",
	    sizeof(API_CERTIFICATES)) == 0) {
		p = path + sizeof(API_CERTIFICATES);
		n = strspn(p, "0123456789abcdef");
		if (n == 0 || n >= sizeof(t->serial) || strcmp(p + n, API_RENEW))
			return ROUTE__MAX;
		memcpy(t->serial, p, n);
		t->serial[n] = '\0';
		return ROUTE_RENEW;
	}
	if (strcmp(method, "GET") != 0)
		return ROUTE__MAX;
	for (r = 0; r < ROUTE__MAX; r++)
		if (fixed[r] != NULL && strcmp(path, fixed[r]) == 0)
			return (enum http_route)r;
	/* N as printed back: no sign, no leading zero. */
	for (r = 0; r < ROUTE__MAX; r++) {
		if (indexed[r] == NULL)
			continue;
		n = (size_t)(strchr(indexed[r], '(') - indexed[r]) + 1;
		if (strncmp(path, indexed[r], n) != 0)
			continue;
		i = (int)strtol(path + n, NULL, 10);
		if (strspn(path + n, "0123456789") > 4 || i < 1 ||
		    i > HTTP_INDEX_MAX)
			continue;
		snprintf(url, sizeof(url), indexed[r], i);
		if (strcmp(path, url) == 0) {
			t->index = i;
			return (enum http_route)r;
		}
	}
	if (strncmp(path, API_REQUESTS "/", sizeof(API_REQUESTS)) != 0 ||
	    *p < '1' || *p > '9' || (n = strspn(p, "0123456789")) > 18)
		return ROUTE__MAX;
	for (; n > 0; n--, p++)
		t->id = t->id * 10 + (*p - '0');
	if (*p == '\0')
		return ROUTE_REQUEST;
	if (strcmp(p, "/certificate") == 0)
		return ROUTE_REQUEST_CERT;
	t->id = 0;
	return ROUTE__MAX;
}

/*
 * Does route with t fit path and method: the URL it stands for, with the
 * method it is for?
 */
static int
route_fits(enum http_route route, const struct http_target *t,
    const char *method, const char *path)
{
	int	 get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
	char	 url[64], serial[130];

	if ((unsigned)route >= ROUTE__MAX)
		return 0;
	if (t->index != 0) {
		if (indexed[route] == NULL || !get || t->index < 1 ||
		    t->index > HTTP_INDEX_MAX)
			return 0;
		snprintf(url, sizeof(url), indexed[route], t->index);
		return strcmp(path, url) == 0;
	}
	if (fixed[route] != NULL)
		return get && strcmp(path, fixed[route]) == 0;
	switch (route) {
	case ROUTE_REQUEST:
	case ROUTE_REQUEST_CERT:
		return get && t->id > 0 && strncmp(path, API_REQUESTS "/",
		    sizeof(API_REQUESTS)) == 0;
	case ROUTE_SUBMIT:
		return strcmp(method, "POST") == 0 &&
		    strcmp(path, API_REQUESTS) == 0;
	case ROUTE_RENEW:
		/* The serial is the path's, as certmint stores serials. */
		return strcmp(method, "POST") == 0 && strncmp(path,
		    API_CERTIFICATES "/", sizeof(API_CERTIFICATES)) == 0 &&
		    strlen(path) > sizeof(API_CERTIFICATES) + strlen(API_RENEW) &&
		    strcmp(path + strlen(path) - strlen(API_RENEW),
		    API_RENEW) == 0 && hex_normalize(t->serial, serial,
		    sizeof(serial)) == 0 && strcmp(serial, t->serial) == 0;
	case ROUTE_NOT_ALLOWED:
		return !get || strncmp(path, API_CERTIFICATES "/",
		    sizeof(API_CERTIFICATES)) == 0;
	default:
		return 1;
	}
}

/* One request of the input: route it and answer it. */
static void
run_request(const uint8_t *data, size_t size)
{
	struct input	 in;
	struct http_target t, doc_t;
	enum http_route	 route, doc;

	parse_input(&in, data, size);
	route = http_route(in.method, in.path, &t);
	if (!route_fits(route, &t, in.method, in.path) ||
	    (route != ROUTE_RENEW && t.serial[0] != '\0') ||
	    (route != ROUTE_REQUEST && route != ROUTE_REQUEST_CERT && t.id != 0))
		fuzz_fail("a route that is not the URL's");
	doc = documented_route(in.method, in.path, &doc_t);
	if (doc != ROUTE__MAX && (doc != route || doc_t.id != t.id ||
	    doc_t.index != t.index || strcmp(doc_t.serial, t.serial) != 0))
		fuzz_fail("a documented URL misses its route");
	if (route == ROUTE_SUBMIT)
		submit(&in, NULL);
	else if (route == ROUTE_RENEW)
		submit(&in, &t);
	else if (route == ROUTE_REQUEST || route == ROUTE_REQUEST_CERT)
		get_request(t.id, route == ROUTE_REQUEST_CERT);
	input_free(&in);
	ERR_clear_error();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t	*p = data, *end = data + size, *sep;
	int		 n;

	/* Up to MAX_REQUESTS requests, each ended by SEPARATOR. */
	last_id = 0;
	last_serial[0] = '\0';
	for (n = 0; n < MAX_REQUESTS && p <= end; n++) {
		sep = memmem(p, (size_t)(end - p), SEPARATOR,
		    sizeof(SEPARATOR) - 1);
		run_request(p, sep != NULL ? (size_t)(sep - p) :
		    (size_t)(end - p));
		if (sep == NULL)
			break;
		p = sep + sizeof(SEPARATOR) - 1;
	}
	return 0;
}
