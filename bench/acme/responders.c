/*
 * responders.c - acmeload's answers to the servers' validators: the
 * http-01 responder, a thread on a loopback port serving
 * /.well-known/acme-challenge/<token> from a table the workers fill, and
 * with -D the DNS responder (every name 127.0.0.1).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "acmeload.h"

#define TABLE_SIZE	4096

static struct tok	*table[TABLE_SIZE];
static pthread_mutex_t	 table_lock = PTHREAD_MUTEX_INITIALIZER;
atomic_long		 nserved;

static unsigned int
tok_hash(const char *s, size_t n)
{
	unsigned int	 h = 2166136261u;

	while (n-- > 0)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h % TABLE_SIZE;
}

void
tok_put(struct tok *t)
{
	unsigned int	 h = tok_hash(t->token, strlen(t->token));

	pthread_mutex_lock(&table_lock);
	t->next = table[h];
	table[h] = t;
	pthread_mutex_unlock(&table_lock);
}

void
tok_del(struct tok *t)
{
	struct tok	**pp;

	pthread_mutex_lock(&table_lock);
	for (pp = &table[tok_hash(t->token, strlen(t->token))]; *pp != NULL;
	    pp = &(*pp)->next)
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	pthread_mutex_unlock(&table_lock);
}

/* Copy the key authorization of token (n bytes) to out; 0, or -1. */
static int
tok_get(const char *token, size_t n, char *out)
{
	struct tok	*t;
	int		 ret = -1;

	pthread_mutex_lock(&table_lock);
	for (t = table[tok_hash(token, n)]; t != NULL; t = t->next)
		if (strlen(t->token) == n && memcmp(t->token, token, n) == 0) {
			memcpy(out, t->keyauth, strlen(t->keyauth) + 1);
			ret = 0;
			break;
		}
	pthread_mutex_unlock(&table_lock);
	return ret;
}

struct rconn {
	int	 fd;
	size_t	 len;
	char	 buf[4096];
};

/*
 * Answer every complete request in c's buffer. 0, or -1 when the
 * connection is to be closed.
 */
static int
responder_serve(struct rconn *c)
{
	static const char	 wk[] = "GET /.well-known/acme-challenge/";
	char			 ka[KEYAUTH_MAX], out[KEYAUTH_MAX + 256];
	char			*end, *sp;
	size_t			 used;
	int			 n, close_after;

	while ((end = memmem(c->buf, c->len, "\r\n\r\n", 4)) != NULL) {
		used = (size_t)(end - c->buf) + 4;
		close_after = memmem(c->buf, used, "HTTP/1.0", 8) != NULL ||
		    strcasestr(c->buf, "\r\nConnection: close") != NULL;
		if (c->len > sizeof(wk) && memcmp(c->buf, wk, sizeof(wk) - 1)
		    == 0 && (sp = memchr(c->buf + sizeof(wk) - 1, ' ', used))
		    != NULL && tok_get(c->buf + sizeof(wk) - 1,
		    (size_t)(sp - c->buf) - (sizeof(wk) - 1), ka) == 0) {
			n = snprintf(out, sizeof(out), "HTTP/1.1 200 OK\r\n"
			    "Content-Type: text/plain\r\nContent-Length: %zu"
			    "\r\n%s\r\n%s", strlen(ka), close_after ?
			    "Connection: close\r\n" : "", ka);
			atomic_fetch_add(&nserved, 1);
		} else
			n = snprintf(out, sizeof(out), "HTTP/1.1 404 Not Found"
			    "\r\nContent-Length: 0\r\n%s\r\n", close_after ?
			    "Connection: close\r\n" : "");
		if (write(c->fd, out, (size_t)n) != n || close_after)
			return -1;
		memmove(c->buf, c->buf + used, c->len - used);
		c->len -= used;
	}
	return c->len == sizeof(c->buf) - 1 ? -1 : 0;
}

/* The responder thread: one epoll loop over the listener and its clients. */
static void *
responder(void *arg)
{
	struct epoll_event	 ev, evs[64];
	struct rconn		*c;
	int			 lfd = *(int *)arg, ep, i, n, fd;
	ssize_t			 r;

	if ((ep = epoll_create1(0)) == -1)
		return NULL;
	ev.events = EPOLLIN;
	ev.data.ptr = NULL;
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	for (;;) {
		if ((n = epoll_wait(ep, evs, 64, -1)) == -1) {
			if (errno == EINTR)
				continue;
			return NULL;
		}
		for (i = 0; i < n; i++) {
			if ((c = evs[i].data.ptr) == NULL) {
				if ((fd = accept(lfd, NULL, NULL)) == -1)
					continue;
				if ((c = calloc(1, sizeof(*c))) == NULL) {
					close(fd);
					continue;
				}
				c->fd = fd;
				ev.events = EPOLLIN;
				ev.data.ptr = c;
				epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
				continue;
			}
			r = read(c->fd, c->buf + c->len,
			    sizeof(c->buf) - 1 - c->len);
			if (r > 0) {
				c->len += (size_t)r;
				c->buf[c->len] = '\0';
			}
			if (r <= 0 || responder_serve(c) == -1) {
				close(c->fd);	/* also leaves the epoll set */
				free(c);
			}
		}
	}
}

/*
 * A socket of type (SOCK_STREAM, listening, or SOCK_DGRAM) on
 * 127.0.0.1:lport into *fd, and a thread running fn(fd); 0, or -1 (told
 * on stderr under what).
 */
static int
serve_loopback(int type, int lport, void *(*fn)(void *), int *fd,
    const char *what)
{
	struct sockaddr_in	 sa;
	pthread_t		 t;
	int			 one = 1;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)lport);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((*fd = socket(AF_INET, type, 0)) == -1 ||
	    setsockopt(*fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(*fd, (struct sockaddr *)&sa, sizeof(sa)) == -1 ||
	    (type == SOCK_STREAM && listen(*fd, 1024) == -1)) {
		perror(what);
		return -1;
	}
	if (pthread_create(&t, NULL, fn, fd) != 0)
		return -1;
	pthread_detach(t);
	return 0;
}

/* Listen on 127.0.0.1:resp_port and start the responder; 0, or -1. */
int
responder_start(void)
{
	static int	 lfd;

	return serve_loopback(SOCK_STREAM, resp_port, responder, &lfd,
	    "acmeload: responder");
}

/* ---- the DNS responder (-D) -------------------------------------------- */

/*
 * Answer one DNS query q (n bytes) into a (512 bytes): every name is
 * 127.0.0.1, an A record; any other type gets an empty NOERROR answer (no
 * AAAA: the validators then connect over IPv4). The reply's length, or 0
 * for a datagram that is not a one-question query (dropped).
 */
static size_t
dns_answer(const unsigned char *q, size_t n, unsigned char *a)
{
	static const unsigned char rr[] = {
		0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 1
	};
	size_t		 o = 12;
	int		 qtype;

	if (n < 12 + 5 || (q[2] & 0x80) != 0 || (q[2] & 0x78) != 0 ||
	    q[4] != 0 || q[5] != 1)
		return 0;
	while (o < n && q[o] != 0) {
		if ((q[o] & 0xc0) != 0)
			return 0;
		o += 1 + q[o];
	}
	if (o + 5 > n || o + 5 + sizeof(rr) > 512)
		return 0;
	o += 5;		/* the root label, type, class */
	qtype = q[o - 4] << 8 | q[o - 3];
	memcpy(a, q, o);
	a[2] = (unsigned char)(0x84 | (q[2] & 0x01));	/* QR AA, RD kept */
	a[3] = 0x80;					/* RA, NOERROR */
	memset(a + 6, 0, 6);				/* AN NS AR */
	if (qtype == 1 && q[o - 2] == 0 && q[o - 1] == 1) {
		a[7] = 1;
		memcpy(a + o, rr, sizeof(rr));
		o += sizeof(rr);
	}
	return o;
}

static void *
dns_responder(void *arg)
{
	struct sockaddr_storage	 from;
	socklen_t		 fromlen;
	unsigned char		 q[512], a[512];
	int			 fd = *(int *)arg;
	ssize_t			 n;
	size_t			 alen;

	for (;;) {
		fromlen = sizeof(from);
		n = recvfrom(fd, q, sizeof(q), 0, (struct sockaddr *)&from,
		    &fromlen);
		if (n <= 0)
			continue;
		if ((alen = dns_answer(q, (size_t)n, a)) > 0)
			sendto(fd, a, alen, 0, (struct sockaddr *)&from,
			    fromlen);
	}
	return NULL;
}

/* Serve DNS on 127.0.0.1:dns_port (UDP), unless 0; 0, or -1. */
int
dns_start(void)
{
	static int	 fd;

	return dns_port == 0 ? 0 : serve_loopback(SOCK_DGRAM, dns_port,
	    dns_responder, &fd, "acmeload: DNS responder");
}
