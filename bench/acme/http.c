/*
 * http.c - acmeload's HTTP/1.1 client: one keep-alive connection per
 * worker (TLS with OpenSSL, or plain), blocking sockets, its own parser of
 * what ACME servers answer (status, Location, Replay-Nonce, Connection,
 * Content-Length or chunked bodies).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "acmeload.h"

void
conn_close(struct conn *c)
{
	if (c->ssl != NULL) {
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->fd != -1)
		close(c->fd);
	c->fd = -1;
	c->len = 0;
}

/* Connect (and handshake, resuming the last session); 0, or -1. */
static int
conn_open(struct conn *c)
{
	struct sockaddr_in	 sa;
	struct timeval		 tmo = { IO_TIMEOUT, 0 };
	int			 one = 1;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
		return -1;
	if ((c->fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return -1;
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) == -1) {
		conn_close(c);
		return -1;
	}
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/* A server that stops answering ends the run instead of hanging it. */
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof(tmo));
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tmo, sizeof(tmo));
	atomic_fetch_add(&nconnects, 1);
	if (!use_tls)
		return 0;
	if ((c->ssl = SSL_new(ssl_ctx)) == NULL)
		goto err;
	SSL_set_fd(c->ssl, c->fd);
	if (c->sess != NULL)
		SSL_set_session(c->ssl, c->sess);
	if (SSL_connect(c->ssl) != 1)
		goto err;
	SSL_SESSION_free(c->sess);
	c->sess = SSL_get1_session(c->ssl);
	return 0;
err:
	fail_msg("TLS handshake with %s failed: %s", origin,
	    ERR_error_string(ERR_get_error(), NULL));
	conn_close(c);
	return -1;
}

static int
conn_write(struct conn *c, const char *p, size_t n)
{
	ssize_t	 r;

	while (n > 0) {
		r = c->ssl != NULL ? SSL_write(c->ssl, p, (int)n) :
		    write(c->fd, p, n);
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

/* Read more into c->buf; the bytes read, 0 at EOF, -1 on error. */
static ssize_t
conn_fill(struct conn *c)
{
	ssize_t	 r;
	char	*nb;

	if (c->cap - c->len < 16384) {
		if ((nb = realloc(c->buf, c->cap * 2 + 32768)) == NULL)
			return -1;
		c->buf = nb;
		c->cap = c->cap * 2 + 32768;
	}
	r = c->ssl != NULL ? SSL_read(c->ssl, c->buf + c->len,
	    (int)(c->cap - c->len - 1)) : read(c->fd, c->buf + c->len,
	    c->cap - c->len - 1);
	if (r < 0 && c->ssl != NULL &&
	    SSL_get_error(c->ssl, (int)r) == SSL_ERROR_ZERO_RETURN)
		r = 0;
	if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) &&
	    !atomic_exchange(&stuck, 1))
		fail_msg("no answer from %s in %d s: the server is stuck",
		    origin, IO_TIMEOUT);
	if (r > 0)
		c->len += (size_t)r;
	return r;
}

static void
header_value(const char *h, const char *end, const char *name, char *out,
    size_t outlen)
{
	const char	*p = h, *eol;
	size_t		 nl = strlen(name), n;

	while (p < end && (eol = memmem(p, (size_t)(end - p), "\r\n", 2))) {
		if ((size_t)(eol - p) > nl + 1 && strncasecmp(p, name, nl) == 0
		    && p[nl] == ':') {
			p += nl + 1;
			while (*p == ' ' || *p == '\t')
				p++;
			n = (size_t)(eol - p);
			if (n >= outlen)
				n = outlen - 1;
			memcpy(out, p, n);
			out[n] = '\0';
			return;
		}
		p = eol + 2;
	}
}

/*
 * Read one response into r. 0; 1 when the connection ended before any
 * byte of it (the caller may reconnect and resend); -1 on error.
 */
static int
read_response(struct conn *c, struct resp *r, int head)
{
	char		*hend, v[64], *p, *e;
	size_t		 hlen, cl = 0, need, bcap = 0, sz;
	int		 chunked, has_cl;
	ssize_t		 n;

	while ((hend = c->len ? memmem(c->buf, c->len, "\r\n\r\n", 4) : NULL)
	    == NULL)
		if ((n = conn_fill(c)) <= 0)
			return c->len == 0 && n == 0 ? 1 : -1;
	hlen = (size_t)(hend - c->buf) + 4;
	if (debug)
		fprintf(stderr, "--- %.*s", (int)hlen, c->buf);
	if (sscanf(c->buf, "HTTP/1.%*d %d", &r->status) != 1)
		return -1;
	r->location[0] = r->nonce[0] = v[0] = '\0';
	header_value(c->buf, hend + 2, "Location", r->location,
	    sizeof(r->location));
	header_value(c->buf, hend + 2, "Replay-Nonce", r->nonce,
	    sizeof(r->nonce));
	header_value(c->buf, hend + 2, "Connection", v, sizeof(v));
	r->close = strcasecmp(v, "close") == 0;
	v[0] = '\0';
	header_value(c->buf, hend + 2, "Transfer-Encoding", v, sizeof(v));
	chunked = strcasecmp(v, "chunked") == 0;
	v[0] = '\0';
	header_value(c->buf, hend + 2, "Content-Length", v, sizeof(v));
	has_cl = v[0] != '\0';
	if (has_cl && !head)
		cl = strtoul(v, NULL, 10);
	r->body = NULL;
	r->blen = 0;
	if (!chunked || head) {
		/* Content-Length, or none (a 204, HEAD-like answers: empty). */
		while (c->len < hlen + cl)
			if (conn_fill(c) <= 0)
				return -1;
		if ((r->body = malloc(cl + 1)) == NULL)
			return -1;
		memcpy(r->body, c->buf + hlen, cl);
		r->body[cl] = '\0';
		r->blen = cl;
		need = hlen + cl;
	} else {
		need = hlen;
		for (;;) {
			while ((e = memmem(c->buf + need, c->len - need, "\r\n",
			    2)) == NULL)
				if (conn_fill(c) <= 0)
					return -1;
			sz = strtoul(c->buf + need, &p, 16);
			need = (size_t)(e - c->buf) + 2;
			while (c->len < need + sz + 2)
				if (conn_fill(c) <= 0)
					return -1;
			if (r->blen + sz + 1 > bcap) {
				bcap = (r->blen + sz + 1) * 2;
				if ((p = realloc(r->body, bcap)) == NULL)
					return -1;
				r->body = p;
			}
			memcpy(r->body + r->blen, c->buf + need, sz);
			r->blen += sz;
			r->body[r->blen] = '\0';
			need += sz + 2;
			if (sz == 0)
				break;	/* no trailers from these servers */
		}
	}
	memmove(c->buf, c->buf + need, c->len - need);
	c->len -= need;
	return 0;
}

/*
 * One request on c (reconnecting when the server closed the kept-alive
 * connection). path is the part of a URL after the origin. 0, or -1.
 */
int
http_do(struct conn *c, const char *method, const char *path,
    const char *body, size_t blen, struct resp *r)
{
	char	 head[1024], *req = head;
	int	 n, tries, got, ret;

	n = snprintf(head, sizeof(head), "%s %s HTTP/1.1\r\nHost: %s\r\n"
	    "User-Agent: certmint-acmeload\r\n%s"
	    "Content-Length: %zu\r\n\r\n", method, path, origin +
	    (use_tls ? 8 : 7), body != NULL ?
	    "Content-Type: application/jose+json\r\n" : "", blen);
	if (n < 0 || (size_t)n >= sizeof(head))
		return -1;
	/*
	 * Head and body in one write, as clients do (Go's net/http buffers
	 * them, Python's http.client joins them): one TLS record, one
	 * segment for the server to wake up for.
	 */
	if (blen > 0) {
		if ((req = malloc((size_t)n + blen)) == NULL)
			return -1;
		memcpy(req, head, (size_t)n);
		memcpy(req + n, body, blen);
	}
	ret = -1;
	for (tries = 0; tries < 2; tries++) {
		if (c->fd == -1 && conn_open(c) == -1)
			break;
		if (conn_write(c, req, (size_t)n + blen) == -1) {
			conn_close(c);
			continue;
		}
		got = read_response(c, r, strcmp(method, "HEAD") == 0);
		if (got == 0) {
			atomic_fetch_add(&nrequests, 1);
			if (r->close)
				conn_close(c);
			ret = 0;
			break;
		}
		conn_close(c);
		if (got == -1)
			break;	/* 1: closed before the answer, sent again */
	}
	if (req != head)
		free(req);
	return ret;
}
