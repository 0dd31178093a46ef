/*
 * loadgen - submit the requests of a gencsr file to certmintd over HTTP
 * with C concurrent keep-alive connections, and print
 * "ok=N failed=M seconds=S rate=R p50_ms=.. p99_ms=.." (R: certificates per
 * second; the percentiles are of request latency).
 *
 * With --cfssl it drives a peer instead, `cfssl serve`: the same requests,
 * each sent as POST /api/v1/cfssl/sign with the JSON body
 * {"certificate_request": "<PEM>"} (bodies made before the clock starts),
 * and an answer counts when it is a 200 whose body says "success":true.
 * Everything else (connections, loop, timing) is the same code for both.
 *
 * The benchmark runs client and server on the same cores, so the client
 * must cost little: one epoll loop, plain HTTP/1.1 on non-blocking sockets,
 * one send per request, the response read until its Content-Length. (libcurl
 * multi cost ~95 us of CPU per request here, a third of the server's.)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "csrfile.h"

#define RESP_MAX	65536

enum mode { MODE_CERTMINT, MODE_CFSSL };


struct conn {
	int		 fd;
	char		*out;		/* request being sent */
	size_t		 outlen, outoff;
	char		 in[RESP_MAX];
	size_t		 inlen;
	double		 started;
	int		 busy;
};

static double
now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
cmp_double(const void *a, const void *b)
{
	double	 x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int
connect_to(const struct sockaddr_in *sa)
{
	int	 fd, one = 1;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return -1;
	if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == -1) {
		close(fd);
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	return fd;
}

/*
 * Replace the DER of csr by cfssl's JSON body for it: the PEM, its newlines
 * written as \n (JSON). 0, or -1 if out of memory.
 */
static int
to_cfssl_body(struct csrbuf *csr)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	static const char head[] = "{\"certificate_request\": "
	    "\"-----BEGIN CERTIFICATE REQUEST-----\\n";
	static const char tail[] = "-----END CERTIFICATE REQUEST-----\\n\"}";
	const unsigned char *d = csr->der;
	unsigned char	*body, *p;
	size_t		 i, line = 0;
	unsigned int	 v;

	/* 4 characters per 3 bytes, "\n" (2) after every 64 characters. */
	body = malloc(sizeof(head) + sizeof(tail) + csr->len / 3 * 6 + 16);
	if (body == NULL)
		return -1;
	p = body;
	memcpy(p, head, sizeof(head) - 1);
	p += sizeof(head) - 1;
	for (i = 0; i < csr->len; i += 3) {
		v = (unsigned int)d[i] << 16;
		if (i + 1 < csr->len)
			v |= (unsigned int)d[i + 1] << 8;
		if (i + 2 < csr->len)
			v |= d[i + 2];
		*p++ = b64[v >> 18 & 63];
		*p++ = b64[v >> 12 & 63];
		*p++ = i + 1 < csr->len ? b64[v >> 6 & 63] : '=';
		*p++ = i + 2 < csr->len ? b64[v & 63] : '=';
		if ((line += 4) == 64 || i + 3 >= csr->len) {
			*p++ = '\\';
			*p++ = 'n';
			line = 0;
		}
	}
	memcpy(p, tail, sizeof(tail) - 1);
	p += sizeof(tail) - 1;
	free(csr->der);
	csr->der = body;
	csr->len = (size_t)(p - body);
	return 0;
}

/* Build the request for csr (DER, or cfssl's JSON body) into c->out. */
static void
prepare(struct conn *c, const char *host, const struct csrbuf *csr,
    enum mode mode)
{
	int	 n;

	free(c->out);
	c->out = malloc(512 + csr->len);
	if (c->out == NULL)
		exit(1);
	if (mode == MODE_CFSSL)
		n = snprintf(c->out, 512, "POST /api/v1/cfssl/sign HTTP/1.1\r\n"
		    "Host: %s\r\nContent-Type: application/json\r\n"
		    "Content-Length: %zu\r\n\r\n", host, csr->len);
	else
		n = snprintf(c->out, 512, "POST /api/v1/requests HTTP/1.1\r\n"
		    "Host: %s\r\nContent-Type: application/pkcs10\r\n"
		    "Content-Length: %zu\r\n\r\n", host, csr->len);
	memcpy(c->out + n, csr->der, csr->len);
	c->outlen = (size_t)n + csr->len;
	c->outoff = 0;
	c->inlen = 0;
	c->started = now();
	c->busy = 1;
}

/* Send what is left of the request. 0, or -1 on error. */
static int
flush_out(struct conn *c)
{
	ssize_t	 n;

	while (c->outoff < c->outlen) {
		n = send(c->fd, c->out + c->outoff, c->outlen - c->outoff,
		    MSG_NOSIGNAL);
		if (n == -1)
			return errno == EAGAIN ? 0 : -1;
		c->outoff += (size_t)n;
	}
	return 0;
}

/*
 * Read the response. Returns the HTTP status when complete, 0 when more is
 * needed, -1 on error or a closed connection.
 */
static int
read_in(struct conn *c)
{
	char		*end, *cl;
	size_t		 hdrlen, body;
	ssize_t		 n;

	for (;;) {
		if (c->inlen == sizeof(c->in) - 1)
			return -1;
		n = recv(c->fd, c->in + c->inlen, sizeof(c->in) - 1 - c->inlen,
		    0);
		if (n == 0)
			return -1;
		if (n == -1) {
			if (errno == EAGAIN)
				break;
			return -1;
		}
		c->inlen += (size_t)n;
	}
	c->in[c->inlen] = '\0';
	if ((end = strstr(c->in, "\r\n\r\n")) == NULL)
		return 0;
	hdrlen = (size_t)(end - c->in) + 4;
	if ((cl = strcasestr(c->in, "\r\ncontent-length:")) == NULL ||
	    cl > end)
		return -1;
	body = strtoul(cl + 17, NULL, 10);
	if (c->inlen < hdrlen + body)
		return 0;
	if (c->inlen > hdrlen + body)
		return -1;	/* nothing was pipelined */
	return atoi(c->in + 9);
}

/* Did the complete answer in c issue a certificate? */
static int
issued(const struct conn *c, int status, enum mode mode)
{
	const char	*body;

	if (mode == MODE_CERTMINT)
		return status == 201;
	if (status != 200 || (body = strstr(c->in, "\r\n\r\n")) == NULL)
		return 0;
	return strstr(body, "\"success\":true") != NULL;
}

int
main(int argc, char *argv[])
{
	struct csrbuf	*csrs = NULL;
	struct conn	*conns;
	struct epoll_event ev, evs[256];
	struct sockaddr_in sa;
	size_t		 ncsr = 0, next = 0, done = 0, ok = 0;
	double		*lat, t0, t;
	char		 host[300], *p;
	long		 conc, count, i;
	int		 ep, n, k, st, port;
	enum mode	 mode = MODE_CERTMINT;

	if (argc > 1 && strcmp(argv[1], "--cfssl") == 0) {
		mode = MODE_CFSSL;
		argc--;
		argv++;
	}
	if (argc != 5 || strncmp(argv[1], "http://", 7) != 0) {
		fprintf(stderr, "usage: loadgen [--cfssl] http://IPV4:PORT "
		    "CSRFILE CONCURRENCY COUNT\n");
		return 2;
	}
	snprintf(host, sizeof(host), "%s", argv[1] + 7);
	if ((p = strchr(host, '/')) != NULL)
		*p = '\0';
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	if ((p = strchr(host, ':')) == NULL ||
	    (port = atoi(p + 1)) <= 0 || port > 65535) {
		fprintf(stderr, "loadgen: need http://IPV4:PORT\n");
		return 2;
	}
	*p = '\0';
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
		fprintf(stderr, "loadgen: %s: not an IPv4 address\n", host);
		return 2;
	}
	*p = ':';
	sa.sin_port = htons((uint16_t)port);
	conc = strtol(argv[3], NULL, 10);
	count = strtol(argv[4], NULL, 10);
	if (csrfile_read(argv[2], &csrs, &ncsr) == -1)
		return 1;
	if (ncsr == 0 || count <= 0 || conc <= 0)
		return 2;
	for (i = 0; mode == MODE_CFSSL && i < (long)ncsr; i++)
		if (to_cfssl_body(&csrs[i]) == -1)
			return 1;
	if (conc > count)
		conc = count;
	conns = calloc((size_t)conc, sizeof(*conns));
	lat = calloc((size_t)count, sizeof(*lat));
	if (conns == NULL || lat == NULL || (ep = epoll_create1(0)) == -1)
		return 1;

	t0 = now();
	for (i = 0; i < conc; i++) {
		if ((conns[i].fd = connect_to(&sa)) == -1) {
			perror("loadgen: connect");
			return 1;
		}
		ev.events = EPOLLIN | EPOLLOUT | EPOLLET;
		ev.data.ptr = &conns[i];
		epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &ev);
		prepare(&conns[i], argv[1] + 7, &csrs[next++ % ncsr],
		    mode);
		if (flush_out(&conns[i]) == -1)
			return 1;
	}
	while (done < (size_t)count) {
		/* Bounded: a stuck server ends the run after 60 s of silence. */
		if ((n = epoll_wait(ep, evs, 256, 60000)) <= 0) {
			fprintf(stderr, "loadgen: no answer for 60 s\n");
			break;
		}
		for (k = 0; k < n; k++) {
			struct conn	*c = evs[k].data.ptr;

			if (!c->busy)
				continue;
			if ((evs[k].events & EPOLLOUT) && flush_out(c) == -1)
				st = -1;
			else if (evs[k].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
				st = read_in(c);
			else
				continue;
			if (st == 0)
				continue;
			lat[done++] = now() - c->started;
			if (issued(c, st, mode))
				ok++;
			c->busy = 0;
			if (st == -1) {
				/* Start over on a new connection. */
				epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
				close(c->fd);
				if ((c->fd = connect_to(&sa)) == -1)
					continue;
				ev.events = EPOLLIN | EPOLLOUT | EPOLLET;
				ev.data.ptr = c;
				epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
			}
			if (next < (size_t)count) {
				prepare(c, argv[1] + 7, &csrs[next++ % ncsr],
				    mode);
				if (flush_out(c) == -1) {
					lat[done++] = now() - c->started;
					c->busy = 0;
				}
			}
		}
	}
	t = now() - t0;
	qsort(lat, done, sizeof(*lat), cmp_double);
	printf("ok=%zu failed=%zu seconds=%.3f rate=%.0f p50_ms=%.1f "
	    "p99_ms=%.1f\n", ok, (size_t)count - ok, t, (double)ok / t,
	    done ? lat[done / 2] * 1e3 : 0.0,
	    done ? lat[done * 99 / 100] * 1e3 : 0.0);
	for (i = 0; i < conc; i++) {
		close(conns[i].fd);
		free(conns[i].out);
	}
	csrfile_free(csrs, ncsr);
	free(conns);
	free(lat);
	close(ep);
	return 0;
}
