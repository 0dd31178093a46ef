/*
 * validate_dns.c - the VA's stub resolver and the dns-01 challenge.
 *
 * A query goes over UDP (EDNS0, 1232 bytes) to one recursive resolver,
 * and over TCP when the answer comes back truncated. A reply counts only
 * when its ID, flags and question are ours: anything else on the socket is
 * ignored, not trusted. Names are decoded with compression pointers
 * bounded in number and length; CNAME chains are followed, inside an
 * answer and across queries, DNS_MAX_CNAME links in all. Every wait is
 * bounded by the validation's deadline.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <unistd.h>

#include "common/common.h"
#include "validate_int.h"

#define DNS_HDR		12
#define DNS_UDP_SIZE	1232	/* our EDNS0 buffer (DNS flag day 2020) */
#define DNS_MAX_MSG	65535
#define DNS_MAX_CNAME	8
#define DNS_RETRANSMIT	1000	/* ms before a UDP query goes again */
#define DNS_CLASS_IN	1
#define DNS_T_OPT	41
#define DNS_RCODE_NXDOMAIN	3

static const char *const rcode_names[] = { "NOERROR", "FORMERR", "SERVFAIL",
    "NXDOMAIN", "NOTIMP", "REFUSED" };

static const char *
qtype_name(int t)
{
	switch (t) {
	case DNS_T_A:
		return "A";
	case DNS_T_AAAA:
		return "AAAA";
	case DNS_T_TXT:
		return "TXT";
	case DNS_T_CNAME:
		return "CNAME";
	}
	return "?";
}

/*
 * Is s a DNS name we can put in a query: labels of letters, digits, '-'
 * and '_' (for _acme-challenge), 1 to 63 bytes, 253 in all, no trailing
 * dot? 1 if so.
 */
int
va_dns_name_ok(const char *s)
{
	size_t	 n = strlen(s), label = 0, i;

	if (n == 0 || n > 253)
		return 0;
	for (i = 0; i < n; i++) {
		if (s[i] == '.') {
			if (label == 0)
				return 0;
			label = 0;
			continue;
		}
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' &&
		    s[i] != '_')
			return 0;
		if (++label > 63)
			return 0;
	}
	return label > 0;
}

/*
 * The resolver to ask: spec is "addr", "addr:port" or "[v6]:port"; "" is
 * the first nameserver of /etc/resolv.conf (127.0.0.1 without one, as the
 * C library does). 0, or -1 with the result failed.
 */
int
va_dns_set_resolver(struct va_ctx *v, const char *spec)
{
	char		 host[128], line[256], *p, *end;
	long		 port = 53;
	FILE		*f;

	host[0] = '\0';
	if (spec[0] == '\0') {
		strlcpy_cm(host, "127.0.0.1", sizeof(host));
		if ((f = fopen("/etc/resolv.conf", "re")) != NULL) {
			while (fgets(line, sizeof(line), f) != NULL &&
			    sscanf(line, " nameserver %127s", host) != 1)
				;
			fclose(f);
		}
	} else if (spec[0] == '[') {
		strlcpy_cm(host, spec + 1, sizeof(host));
		if ((p = strchr(host, ']')) == NULL)
			goto bad;
		*p++ = '\0';
		if (*p == ':') {
			port = strtol(p + 1, &end, 10);
			if (*end != '\0')
				goto bad;
		} else if (*p != '\0')
			goto bad;
	} else {
		strlcpy_cm(host, spec, sizeof(host));
		/* One colon: IPv4 and a port. More: a bare IPv6 address. */
		if ((p = strchr(host, ':')) != NULL && strchr(p + 1, ':') ==
		    NULL) {
			*p++ = '\0';
			port = strtol(p, &end, 10);
			if (*end != '\0')
				goto bad;
		}
	}
	if (port < 1 || port > 65535 ||
	    va_parse_ip(host, &v->ns, &v->nslen) == -1)
		goto bad;
	if (v->ns.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&v->ns)->sin6_port = htons(port);
	else
		((struct sockaddr_in *)&v->ns)->sin_port = htons(port);
	snprintf(v->nsname, sizeof(v->nsname), "%s%.48s%s:%ld",
	    v->ns.ss_family == AF_INET6 ? "[" : "", host,
	    v->ns.ss_family == AF_INET6 ? "]" : "", port);
	return 0;
bad:
	return va_fail(v, "serverInternal", "bad resolver address \"%.100s\"",
	    spec[0] ? spec : host);
}

/*
 * The query for name and qtype, ID id, into q (512 bytes): its length, or
 * -1 when name does not fit.
 */
int
va_dns_query_build(unsigned char *q, uint16_t id, const char *name, int qtype)
{
	size_t		 o = DNS_HDR, n;
	const char	*p = name, *dot;

	memset(q, 0, DNS_HDR);
	q[0] = id >> 8;
	q[1] = id & 0xff;
	q[2] = 0x01;		/* RD */
	q[5] = 1;		/* QDCOUNT */
	q[11] = 1;		/* ARCOUNT: the OPT record */
	while (*p != '\0') {
		dot = strchr(p, '.');
		n = dot ? (size_t)(dot - p) : strlen(p);
		if (n == 0 || n > 63 || o + 1 + n > DNS_HDR + 255)
			return -1;
		q[o++] = (unsigned char)n;
		memcpy(q + o, p, n);
		o += n;
		p += n;
		if (*p == '.')
			p++;
	}
	q[o++] = 0;
	q[o++] = qtype >> 8;
	q[o++] = qtype & 0xff;
	q[o++] = 0;
	q[o++] = DNS_CLASS_IN;
	/* OPT: root name, type 41, class = UDP payload size, TTL 0, no data */
	q[o++] = 0;
	q[o++] = 0;
	q[o++] = DNS_T_OPT;
	q[o++] = DNS_UDP_SIZE >> 8;
	q[o++] = DNS_UDP_SIZE & 0xff;
	memset(q + o, 0, 6);
	o += 6;
	return (int)o;
}

/*
 * Is r (rlen bytes) the reply to q: same ID, QR set, a standard query,
 * one question equal to ours (the name compared without case)? qsec is
 * the length of q's question section. 1 if so.
 */
static int
dns_reply_matches(const unsigned char *q, size_t qsec, const unsigned char *r,
    size_t rlen)
{
	size_t	 i;

	if (rlen < DNS_HDR + qsec)
		return 0;
	if (r[0] != q[0] || r[1] != q[1] || (r[2] & 0x80) == 0 ||
	    (r[2] & 0x78) != 0 || r[4] != 0 || r[5] != 1)
		return 0;
	for (i = 0; i < qsec; i++) {
		if (tolower(r[DNS_HDR + i]) != tolower(q[DNS_HDR + i]))
			return 0;
	}
	return 1;
}

/* Send all of p on a non-blocking stream within the deadline: 0 or -1. */
static int
send_all(struct va_ctx *v, int fd, const unsigned char *p, size_t n)
{
	ssize_t	 w;

	while (n > 0) {
		w = send(fd, p, n, MSG_NOSIGNAL);
		if (w == -1 && (errno == EAGAIN || errno == EINTR)) {
			if (va_wait_fd(v, fd, POLLOUT) == -1)
				return -1;
			continue;
		}
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Read exactly n bytes from a non-blocking stream: 0, or -1 (EOF too). */
static int
recv_all(struct va_ctx *v, int fd, unsigned char *p, size_t n)
{
	ssize_t	 r;

	while (n > 0) {
		r = recv(fd, p, n, 0);
		if (r == -1 && (errno == EAGAIN || errno == EINTR)) {
			if (va_wait_fd(v, fd, POLLIN) == -1)
				return -1;
			continue;
		}
		if (r == 0)
			errno = ECONNRESET;
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

/* The query q over TCP, its reply in r (DNS_MAX_MSG): its length or -1. */
static int
dns_tcp(struct va_ctx *v, const unsigned char *q, size_t qlen, size_t qsec,
    unsigned char *r, const char *what)
{
	struct va_addrs	 as;
	unsigned char	 len[2];
	size_t		 rlen;
	int		 fd, idx, ret = -1;

	memset(&as, 0, sizeof(as));
	memcpy(&as.a[0], &v->ns, v->nslen);
	as.len[0] = v->nslen;
	as.n = 1;
	strlcpy_cm(as.text[0], v->nsname, sizeof(as.text[0]));
	if ((fd = va_connect(v, "the resolver", &as, ntohs(v->ns.ss_family ==
	    AF_INET6 ? ((struct sockaddr_in6 *)&v->ns)->sin6_port :
	    ((struct sockaddr_in *)&v->ns)->sin_port), &idx)) == -1) {
		/* va_connect said "connection": it is a DNS failure here. */
		strlcpy_cm(v->res->problem, "dns", sizeof(v->res->problem));
		return -1;
	}
	len[0] = qlen >> 8;
	len[1] = qlen & 0xff;
	if (send_all(v, fd, len, 2) == -1 || send_all(v, fd, q, qlen) == -1 ||
	    recv_all(v, fd, len, 2) == -1) {
		va_fail(v, "dns", "%s over TCP to %s: %s", what, v->nsname,
		    errno == ETIMEDOUT ? "timed out" : strerror(errno));
		goto out;
	}
	rlen = (size_t)len[0] << 8 | len[1];
	if (recv_all(v, fd, r, rlen) == -1) {
		va_fail(v, "dns", "%s over TCP to %s: %s", what, v->nsname,
		    errno == ETIMEDOUT ? "timed out" : strerror(errno));
		goto out;
	}
	if (!dns_reply_matches(q, qsec, r, rlen)) {
		va_fail(v, "dns", "%s over TCP to %s: the reply is not one to "
		    "our query", what, v->nsname);
		goto out;
	}
	ret = (int)rlen;
out:
	close(fd);
	return ret;
}

/*
 * The query q over UDP, sent again each DNS_RETRANSMIT ms, and over TCP
 * when the reply is truncated; the reply in r (DNS_MAX_MSG): its length,
 * or -1 with the result failed.
 */
static int
dns_exchange(struct va_ctx *v, const unsigned char *q, size_t qlen,
    size_t qsec, unsigned char *r, const char *what)
{
	struct pollfd	 pfd;
	uint64_t	 resend = 0, now;
	ssize_t		 n;
	int		 fd, ms, wait, ignored = 0, ret = -1;

	fd = socket(v->ns.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd == -1 || connect(fd, (struct sockaddr *)&v->ns, v->nslen) ==
	    -1) {
		va_fail(v, "dns", "%s: socket to %s: %s", what, v->nsname,
		    strerror(errno));
		goto out;
	}
	for (;;) {
		if ((ms = va_remaining_ms(v)) == 0) {
			va_fail(v, "dns", "%s: no answer from %s in time%s",
			    what, v->nsname, ignored ? " (only replies that "
			    "were not to our query)" : "");
			goto out;
		}
		if ((now = time_mono_ns()) >= resend) {
			/* ECONNREFUSED comes back here from the last try. */
			if (send(fd, q, qlen, 0) == -1 && errno != EAGAIN &&
			    errno != ECONNREFUSED) {
				va_fail(v, "dns", "%s: sending to %s: %s", what,
				    v->nsname, strerror(errno));
				goto out;
			}
			resend = now + DNS_RETRANSMIT * 1000000ull;
		}
		/* now < resend here: the wait is positive and bounded */
		wait = (int)((resend - now) / 1000000) + 1;
		pfd.fd = fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, wait < ms ? wait : ms) <= 0)
			continue;
		n = recv(fd, r, DNS_MAX_MSG, 0);
		if (n == -1)
			continue;	/* refused: the resolver may come up */
		if (!dns_reply_matches(q, qsec, r, (size_t)n)) {
			ignored++;
			continue;
		}
		if (r[2] & 0x02) {	/* TC: the whole answer is over TCP */
			ret = dns_tcp(v, q, qlen, qsec, r, what);
			goto out;
		}
		ret = (int)n;
		goto out;
	}
out:
	if (fd != -1)
		close(fd);
	return ret;
}

/*
 * The name at *off in message m (len bytes) into out (DNS_MAX_NAME),
 * lowercase, labels joined by '.', bytes other than letters, digits, '-'
 * and '_' as \DDD (so that a label with a dot in it cannot pass for two).
 * *off moves past the name where it started. Pointers may only go
 * backwards and 128 labels at most are read: 0, or -1 on a bad name.
 */
static int
dns_name_read(const unsigned char *m, size_t len, size_t *off, char *out)
{
	size_t	 p = *off, o = 0, wire = 0, i, jump_from = 0;
	int	 jumped = 0, labels = 0;

	for (;;) {
		if (p >= len || ++labels > 128)
			return -1;
		if ((m[p] & 0xc0) == 0xc0) {
			if (p + 1 >= len)
				return -1;
			if (!jumped)
				*off = p + 2;
			jumped = 1;
			jump_from = p;
			p = (size_t)(m[p] & 0x3f) << 8 | m[p + 1];
			if (p >= jump_from)
				return -1;
			continue;
		}
		if (m[p] & 0xc0)
			return -1;
		if (m[p] == 0)
			break;
		/* 255 octets in all with the root's (RFC 1035 3.1) */
		if (p + 1 + m[p] > len || (wire += 1 + m[p]) > 254)
			return -1;
		if (o > 0)
			out[o++] = '.';
		for (i = 0; i < m[p]; i++) {
			unsigned char	 c = m[p + 1 + i];

			if (isalnum(c) || c == '-' || c == '_')
				out[o++] = (char)tolower(c);
			else
				o += (size_t)snprintf(out + o, 5, "\\%03u", c);
		}
		p += 1 + m[p];
	}
	out[o] = '\0';
	if (!jumped)
		*off = p + 1;
	return 0;
}

/* One resource record of the answer section. */
struct dns_rr {
	char		 owner[DNS_MAX_NAME];
	int		 type;
	size_t		 rdoff, rdlen;
};

/*
 * Walk the answer section of r (rlen bytes; the question section is qsec
 * bytes), handing each record to fn; fn returns 0 to go on, 1 to stop.
 * 0, or -1 when the section is malformed.
 */
static int
dns_answers(const unsigned char *r, size_t rlen, size_t qsec,
    int (*fn)(void *, const unsigned char *, size_t, struct dns_rr *),
    void *arg)
{
	struct dns_rr	 rr;
	size_t		 off = DNS_HDR + qsec;
	unsigned int	 an, i, class;

	an = (unsigned int)r[6] << 8 | r[7];
	for (i = 0; i < an; i++) {
		if (dns_name_read(r, rlen, &off, rr.owner) == -1 ||
		    off + 10 > rlen)
			return -1;
		rr.type = r[off] << 8 | r[off + 1];
		class = (unsigned int)r[off + 2] << 8 | r[off + 3];
		rr.rdlen = (size_t)r[off + 8] << 8 | r[off + 9];
		rr.rdoff = off + 10;
		if (rr.rdoff + rr.rdlen > rlen)
			return -1;
		off = rr.rdoff + rr.rdlen;
		if (class != DNS_CLASS_IN)
			continue;
		if (fn(arg, r, rlen, &rr) == 1)
			break;
	}
	return 0;
}

struct cname_walk {
	char	 target[DNS_MAX_NAME];
	int	 found, bad;
};

/* dns_answers callback: the CNAME whose owner is the target, if any. */
static int
cname_find(void *arg, const unsigned char *r, size_t rlen, struct dns_rr *rr)
{
	struct cname_walk	*w = arg;
	size_t			 off = rr->rdoff;
	char			 next[DNS_MAX_NAME];

	if (rr->type != DNS_T_CNAME || strcmp(rr->owner, w->target) != 0)
		return 0;
	if (dns_name_read(r, rlen, &off, next) == -1 ||
	    off != rr->rdoff + rr->rdlen) {
		w->bad = 1;
		return 1;
	}
	strlcpy_cm(w->target, next, sizeof(w->target));
	w->found = 1;
	return 1;
}

struct rr_collect {
	const char	*target;
	int		 qtype, count;
	va_rr_fn	*each;
	void		*arg;
};

static int
rr_collect(void *arg, const unsigned char *r, size_t rlen, struct dns_rr *rr)
{
	struct rr_collect	*c = arg;

	(void)rlen;
	if (rr->type != c->qtype || strcmp(rr->owner, c->target) != 0)
		return 0;
	c->count++;
	return c->each(c->arg, r + rr->rdoff, rr->rdlen) == 0 ? 0 : 1;
}

/*
 * Read the reply r (rlen bytes, its question section qsec bytes, already
 * matched to our query) for qtype records at target: first follow the
 * CNAMEs from target, rewriting it (DNS_MAX_NAME bytes) and counting them
 * in *hops (*followed 1 if any here), then hand each record of qtype at
 * the end of the chain to each(arg, ...), *count of them, unless the
 * reply is an error. Returns the reply's RCODE, DNS_READ_BAD when r is
 * malformed, DNS_READ_LOOP past
 * DNS_MAX_CNAME CNAMEs. Pure: the fuzz target's entry.
 */
int
va_dns_reply_read(const unsigned char *r, size_t rlen, size_t qsec,
    int qtype, char *target, int *hops, va_rr_fn *each, void *arg,
    int *count, int *followed)
{
	struct cname_walk	 w;
	struct rr_collect	 c;

	*count = 0;
	*followed = 0;
	if (rlen < DNS_HDR + qsec)
		return DNS_READ_BAD;
	strlcpy_cm(w.target, target, sizeof(w.target));
	w.bad = 0;
	do {
		w.found = 0;
		if (dns_answers(r, rlen, qsec, cname_find, &w) == -1 || w.bad)
			return DNS_READ_BAD;
		*followed |= w.found;
		if (w.found && ++*hops > DNS_MAX_CNAME)
			return DNS_READ_LOOP;
	} while (w.found);
	strlcpy_cm(target, w.target, DNS_MAX_NAME);
	/* An error's records say nothing: NXDOMAIN with a TXT is no TXT. */
	if ((r[3] & 0x0f) != 0)
		return r[3] & 0x0f;
	c.target = target;
	c.qtype = qtype;
	c.count = 0;
	c.each = each;
	c.arg = arg;
	if (dns_answers(r, rlen, qsec, rr_collect, &c) == -1)
		return DNS_READ_BAD;
	*count = c.count;
	return 0;
}

/*
 * Look name up (qtype), following CNAMEs, and hand the data of each record
 * of qtype at the end of the chain to each(arg, rdata, len). *count is the
 * number of records, *nxdomain 1 when the name does not exist. 0 (also
 * when there is no record), or -1 with the result failed ("dns").
 */
int
va_dns_lookup(struct va_ctx *v, const char *name, int qtype, va_rr_fn *each,
    void *arg, int *count, int *nxdomain)
{
	unsigned char		 q[512], *r = NULL;
	char			 target[DNS_MAX_NAME];
	char			 what[DNS_MAX_NAME + 64];
	uint16_t		 id;
	int			 qlen, rlen, hops = 0, followed, rcode, i;
	int			 ret = -1;
	size_t			 qsec;

	*count = 0;
	*nxdomain = 0;
	if ((r = malloc(DNS_MAX_MSG)) == NULL)
		return va_fail(v, "serverInternal", "out of memory");
	strlcpy_cm(target, name, sizeof(target));
	for (;;) {
		for (i = 0; target[i] != '\0'; i++)
			target[i] = (char)tolower((unsigned char)target[i]);
		snprintf(what, sizeof(what), "%s %s", qtype_name(qtype),
		    target);
		if (getrandom(&id, sizeof(id), 0) != sizeof(id))
			id = (uint16_t)time_mono_ns();
		if (!va_dns_name_ok(target) ||
		    (qlen = va_dns_query_build(q, id, target, qtype)) == -1) {
			va_fail(v, "dns", "%s: not a name we can look up",
			    what);
			goto out;
		}
		qsec = (size_t)qlen - DNS_HDR - 11;
		if ((rlen = dns_exchange(v, q, (size_t)qlen, qsec, r,
		    what)) == -1)
			goto out;
		rcode = va_dns_reply_read(r, (size_t)rlen, qsec, qtype,
		    target, &hops, each, arg, count, &followed);
		if (rcode == DNS_READ_BAD) {
			va_fail(v, "dns", "%s: malformed answer from %s", what,
			    v->nsname);
			goto out;
		}
		if (rcode == DNS_READ_LOOP) {
			va_fail(v, "dns", "looking up %s %s: more than %d "
			    "CNAMEs", qtype_name(qtype), name, DNS_MAX_CNAME);
			goto out;
		}
		if (rcode == DNS_RCODE_NXDOMAIN) {
			*nxdomain = 1;
			ret = 0;
			goto out;
		}
		if (rcode != 0) {
			va_fail(v, "dns", "%s: %s from %s", what,
			    rcode < (int)nitems(rcode_names) ?
			    rcode_names[rcode] : "error", v->nsname);
			goto out;
		}
		/*
		 * A chain that ends, without data, at a name the answer says
		 * nothing more of: ask for that name.
		 */
		if (*count > 0 || !followed) {
			ret = 0;
			goto out;
		}
	}
out:
	free(r);
	return ret;
}

/* What dns01_match looks for, and what it saw. */
struct txt_match {
	char	 want[44];
	int	 found;
	char	 seen[160];	/* the first value, quoted, for details */
};

/*
 * va_rr_fn for TXT: does the record (its strings joined, as RFC 8555
 * wants one value) equal the digest? A value that is not even the right
 * size is still quoted in the detail.
 */
static int
dns01_match(void *arg, const unsigned char *rd, size_t len)
{
	struct txt_match	*m = arg;
	unsigned char		 val[256];
	size_t			 o = 0, p = 0, n;

	while (p < len) {
		n = rd[p];
		p++;
		if (p + n > len)
			return 0;	/* malformed: not ours */
		memcpy(val + o, rd + p, n < sizeof(val) - o ? n :
		    sizeof(val) - o);
		o += n < sizeof(val) - o ? n : sizeof(val) - o;
		p += n;
	}
	if (o == strlen(m->want) && memcmp(val, m->want, o) == 0) {
		m->found = 1;
		return 1;
	}
	if (m->seen[0] == '\0')
		va_quote(val, o, m->seen, sizeof(m->seen));
	return 0;
}

/*
 * dns-01 (RFC 8555 §8.4): a TXT record at _acme-challenge.<identifier>
 * equal to base64url(SHA-256(key authorization)). 0 or -1.
 */
int
va_dns01(struct va_ctx *v)
{
	struct txt_match	 m;
	char			 name[300];
	int			 n, nx;

	memset(&m, 0, sizeof(m));
	if (va_sha256_b64url(v->chk->key_authz, m.want) == -1)
		return va_fail(v, "serverInternal", "hashing the key "
		    "authorization failed");
	snprintf(name, sizeof(name), "_acme-challenge.%s",
	    v->chk->identifier);
	if (va_dns_lookup(v, name, DNS_T_TXT, dns01_match, &m, &n, &nx) == -1)
		return -1;
	if (m.found)
		return 0;
	if (n == 0)
		return va_fail(v, "dns", "no TXT record at %s (%s from %s)",
		    name, nx ? "NXDOMAIN" : "NOERROR", v->nsname);
	return va_fail(v, "incorrectResponse", "TXT records at %s: %d, none "
	    "is \"%s\" (one is \"%s\")", name, n, m.want, m.seen);
}
