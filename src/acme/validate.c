/*
 * validate.c - acme_validate(): checks what it is given, sets the
 * deadline and the resolver, hands the check to its challenge's file;
 * and the helpers those share (failing with a problem, quoting what a
 * peer sent, resolving a host, connecting within the deadline).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/common.h"
#include "crypto/crypto.h"
#include "validate_int.h"

/*
 * Mark the result invalid with problem and a detail made of fmt. Only the
 * first failure counts: it is the one that says what went wrong. Returns -1
 * so that callers can `return va_fail(...)`.
 */
int
va_fail(struct va_ctx *v, const char *problem, const char *fmt, ...)
{
	va_list	 ap;

	if (v->res->problem[0] != '\0')
		return -1;
	v->res->valid = 0;
	strlcpy_cm(v->res->problem, problem, sizeof(v->res->problem));
	va_start(ap, fmt);
	vsnprintf(v->res->detail, sizeof(v->res->detail), fmt, ap);
	va_end(ap);
	return -1;
}

/* Milliseconds left before the deadline, 0 once it has passed. */
int
va_remaining_ms(const struct va_ctx *v)
{
	uint64_t	 now = time_mono_ns();

	if (now >= v->deadline_ns)
		return 0;
	return (int)((v->deadline_ns - now + 999999) / 1000000);
}

int
va_expired(const struct va_ctx *v)
{
	return time_mono_ns() >= v->deadline_ns;
}

/*
 * What a peer sent, fit for a detail: printable ASCII as is, the rest as
 * \xNN, cut (with "...") to fit out.
 */
void
va_quote(const unsigned char *p, size_t n, char *out, size_t outlen)
{
	static const char hex[] = "0123456789abcdef";
	size_t		 i, o = 0;

	if (outlen < 8) {
		if (outlen > 0)
			out[0] = '\0';
		return;
	}
	for (i = 0; i < n; i++) {
		if (o + 4 + 4 >= outlen) {
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\' &&
		    p[i] != '"') {
			out[o++] = (char)p[i];
			continue;
		}
		out[o++] = '\\';
		out[o++] = 'x';
		out[o++] = hex[p[i] >> 4];
		out[o++] = hex[p[i] & 0xf];
	}
	out[o] = '\0';
}

/*
 * An IP literal (no port, no brackets) into *ss: 0, or -1 if s is not one.
 * AI_NUMERICHOST: never a lookup.
 */
int
va_parse_ip(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	struct addrinfo	 hints, *ai;

	memset(&hints, 0, sizeof(hints));
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(s, "0", &hints, &ai) != 0)
		return -1;
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	*len = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
}

int
acme_va_deny_parse(struct acme_va_config *cfg, const char *spec, char *err,
    size_t errlen)
{
	struct acme_va_net *net;
	char		 item[80], *slash, *end;
	const char	*p = spec, *q;
	size_t		 n;
	long		 bits;
	int		 max;

	cfg->ndeny = 0;
	while (*p == ' ')
		p++;
	if (strcmp(p, "none") == 0)
		return 0;
	while (*p != '\0') {
		while (*p == ' ' || *p == ',')
			p++;
		if (*p == '\0')
			break;
		for (q = p; *q != '\0' && *q != ','; q++)
			;
		for (n = (size_t)(q - p); n > 0 && p[n - 1] == ' '; n--)
			;
		if (n >= sizeof(item) || cfg->ndeny >= ACME_VA_MAX_DENY) {
			snprintf(err, errlen, "validation_deny: %s",
			    n >= sizeof(item) ? "a network too long" :
			    "more than 64 networks");
			return -1;
		}
		memcpy(item, p, n);
		item[n] = '\0';
		p = q;
		net = &cfg->deny[cfg->ndeny];
		if ((slash = strchr(item, '/')) != NULL)
			*slash++ = '\0';
		if (inet_pton(AF_INET, item, net->addr) == 1) {
			net->family = AF_INET;
			max = 32;
		} else if (inet_pton(AF_INET6, item, net->addr) == 1) {
			net->family = AF_INET6;
			max = 128;
		} else {
			snprintf(err, errlen, "validation_deny: \"%s\" is not "
			    "an address", item);
			return -1;
		}
		bits = max;
		if (slash != NULL) {
			errno = 0;
			bits = strtol(slash, &end, 10);
			if (*slash < '0' || *slash > '9' || *end != '\0' ||
			    errno != 0 || bits > max) {
				snprintf(err, errlen, "validation_deny: \"%s\" "
				    "is not a prefix length (0-%d)", slash, max);
				return -1;
			}
		}
		net->bits = (int)bits;
		cfg->ndeny++;
	}
	return 0;
}

/* Do the first bits bits of a and b agree? */
static int
prefix_eq(const unsigned char *a, const unsigned char *b, int bits)
{
	int	 full = bits / 8, rest = bits % 8;

	if (memcmp(a, b, (size_t)full) != 0)
		return 0;
	return rest == 0 ||
	    ((a[full] ^ b[full]) & (unsigned char)(0xff << (8 - rest))) == 0;
}

/* Is address a (of family) in a network of the list? */
static int
denied_as(const struct acme_va_config *cfg, int family,
    const unsigned char *a)
{
	int	 i;

	for (i = 0; i < cfg->ndeny; i++)
		if (cfg->deny[i].family == family &&
		    prefix_eq(a, cfg->deny[i].addr, cfg->deny[i].bits))
			return 1;
	return 0;
}

/* The IPv4 address IPv6 address a carries, into v4: 1, or 0 if none. */
static int
v4_embedded(const unsigned char *a, unsigned char v4[4])
{
	static const unsigned char zero[12], nat64[12] = { 0x00, 0x64, 0xff,
	    0x9b };

	if (memcmp(a, zero, 12) == 0 || memcmp(a, nat64, 12) == 0 ||
	    (memcmp(a, zero, 10) == 0 && a[10] == 0xff && a[11] == 0xff)) {
		memcpy(v4, a + 12, 4);
		return 1;
	}
	if (a[0] == 0x20 && a[1] == 0x02) {
		memcpy(v4, a + 2, 4);
		return 1;
	}
	return 0;
}

int
va_addr_denied(const struct acme_va_config *cfg,
    const struct sockaddr_storage *ss)
{
	const unsigned char *a;
	unsigned char	 v4[4];

	if (ss->ss_family != AF_INET6)
		return denied_as(cfg, AF_INET, (const unsigned char *)
		    &((const struct sockaddr_in *)ss)->sin_addr);
	a = ((const struct sockaddr_in6 *)ss)->sin6_addr.s6_addr;
	/*
	 * An IPv6 address that carries an IPv4 one may reach it: judged as
	 * that too. IPv4-mapped ::ffff:a.b.c.d and -compatible ::a.b.c.d
	 * (the last 32 bits), NAT64's 64:ff9b::/96 (the same), 6to4's
	 * 2002:AABB:CCDD::/48.
	 */
	return (v4_embedded(a, v4) && denied_as(cfg, AF_INET, v4)) ||
	    denied_as(cfg, AF_INET6, a);
}

static void
addrs_add(struct va_addrs *as, const struct sockaddr_storage *ss,
    socklen_t len)
{
	const void	*a;

	if (as->n >= (int)nitems(as->a))
		return;
	memcpy(&as->a[as->n], ss, len);
	as->len[as->n] = len;
	if (ss->ss_family == AF_INET6)
		a = &((const struct sockaddr_in6 *)ss)->sin6_addr;
	else
		a = &((const struct sockaddr_in *)ss)->sin_addr;
	inet_ntop(ss->ss_family, a, as->text[as->n], sizeof(as->text[0]));
	as->n++;
}

struct addr_collect {
	struct va_addrs	*as;
	int		 family, n;
};

/* va_rr_fn for A and AAAA: one address per record, VA_MAX_ADDRS at most. */
static int
addr_collect(void *arg, const unsigned char *rd, size_t len)
{
	struct addr_collect	*c = arg;
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*s6 = (struct sockaddr_in6 *)&ss;

	if (c->n >= VA_MAX_ADDRS)
		return 0;
	memset(&ss, 0, sizeof(ss));
	if (c->family == AF_INET && len == 4) {
		s4->sin_family = AF_INET;
		memcpy(&s4->sin_addr, rd, 4);
		addrs_add(c->as, &ss, sizeof(*s4));
	} else if (c->family == AF_INET6 && len == 16) {
		s6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_addr, rd, 16);
		addrs_add(c->as, &ss, sizeof(*s6));
	} else
		return 0;	/* the wrong size: not an address */
	c->n++;
	return 0;
}

/*
 * Drop from as the addresses [acme] validation_deny names. 0 when some
 * are left, else -1 with the result failed ("connection").
 */
static int
va_addrs_allowed(struct va_ctx *v, const char *host, struct va_addrs *as)
{
	char	 first[INET6_ADDRSTRLEN];
	int	 i, n = 0;

	snprintf(first, sizeof(first), "%s", as->n > 0 ? as->text[0] : "");
	for (i = 0; i < as->n; i++) {
		if (va_addr_denied(v->cfg, &as->a[i]))
			continue;
		if (n != i) {
			as->a[n] = as->a[i];
			as->len[n] = as->len[i];
			memcpy(as->text[n], as->text[i], sizeof(as->text[n]));
		}
		n++;
	}
	as->n = n;
	if (n > 0)
		return 0;
	return va_fail(v, "connection", "%.200s is %s, where validation does "
	    "not connect ([acme] validation_deny)", host, first);
}

/*
 * The addresses of host (a DNS name, or an IP literal which is its own
 * address) into *as: AAAA then A through the resolver. 0, or -1 with the
 * result failed ("dns") when there is none or the resolver fails.
 */
int
va_resolve(struct va_ctx *v, const char *host, struct va_addrs *as)
{
	struct addr_collect	 c;
	struct sockaddr_storage	 ss;
	struct acme_va_result	 fail6;
	uint64_t		 deadline;
	socklen_t		 len;
	int			 n6, n4, nx6, nx4, r6, r4;

	memset(as, 0, sizeof(*as));
	if (va_parse_ip(host, &ss, &len) == 0) {
		addrs_add(as, &ss, len);
		return va_addrs_allowed(v, host, as);
	}
	/*
	 * AAAA with half the time, then A: a resolver that drops AAAA
	 * queries must not cost the A answer. Either failing is fine as long
	 * as the other gives an address (so Let's Encrypt does too).
	 */
	c.as = as;
	c.family = AF_INET6;
	c.n = 0;
	deadline = v->deadline_ns;
	v->deadline_ns = time_mono_ns() + (uint64_t)va_remaining_ms(v) *
	    1000000 / 2;
	r6 = va_dns_lookup(v, host, DNS_T_AAAA, addr_collect, &c, &n6, &nx6);
	v->deadline_ns = deadline;
	fail6 = *v->res;
	memset(v->res, 0, sizeof(*v->res));
	c.family = AF_INET;
	c.n = 0;
	r4 = va_dns_lookup(v, host, DNS_T_A, addr_collect, &c, &n4, &nx4);
	if (as->n > 0) {
		memset(v->res, 0, sizeof(*v->res));
		return va_addrs_allowed(v, host, as);
	}
	if (r4 == -1)
		return -1;
	if (r6 == -1) {
		*v->res = fail6;
		return -1;
	}
	if (as->n == 0)
		return va_fail(v, "dns", "%s: no A or AAAA record for %s "
		    "(resolver %s)", nx4 ? "NXDOMAIN" : "NOERROR", host,
		    v->nsname);
	return 0;
}

/*
 * Wait until fd is ready for events, or the deadline. 0 when ready, -1 on
 * timeout (errno ETIMEDOUT) or error.
 */
int
va_wait_fd(struct va_ctx *v, int fd, short events)
{
	struct pollfd	 pfd;
	int		 ms, r;

	for (;;) {
		if ((ms = va_remaining_ms(v)) == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		pfd.fd = fd;
		pfd.events = events;
		pfd.revents = 0;
		r = poll(&pfd, 1, ms);
		if (r > 0)
			return 0;
		if (r == -1 && errno != EINTR)
			return -1;
	}
}

/* Connect fd (non-blocking) to ss by the deadline: 0, or -1 with errno. */
static int
connect_one(struct va_ctx *v, int fd, const struct sockaddr_storage *ss,
    socklen_t len)
{
	socklen_t	 elen = sizeof(int);
	int		 e = 0;

	if (connect(fd, (const struct sockaddr *)ss, len) == 0)
		return 0;
	if (errno != EINPROGRESS)
		return -1;
	if (va_wait_fd(v, fd, POLLOUT) == -1)
		return -1;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &elen) == -1)
		return -1;
	if (e != 0) {
		errno = e;
		return -1;
	}
	return 0;
}

/*
 * A TCP connection, non-blocking, to the first address of as (those of
 * what, for the detail) that answers on port; its index in *idx. Each
 * address gets its share of the time left, so that one that drops packets
 * cannot starve the next. The fd, or -1 with the result failed
 * ("connection").
 */
int
va_connect(struct va_ctx *v, const char *what, const struct va_addrs *as,
    int port, int *idx)
{
	struct sockaddr_storage	 ss;
	uint64_t		 deadline = v->deadline_ns, share;
	int			 i, fd, err = 0;

	for (i = 0; i < as->n; i++) {
		memcpy(&ss, &as->a[i], as->len[i]);
		if (ss.ss_family == AF_INET6)
			((struct sockaddr_in6 *)&ss)->sin6_port = htons(port);
		else
			((struct sockaddr_in *)&ss)->sin_port = htons(port);
		fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0);
		if (fd == -1) {
			err = errno;
			continue;
		}
		share = (uint64_t)va_remaining_ms(v) * 1000000 /
		    (uint64_t)(as->n - i);
		v->deadline_ns = time_mono_ns() + share;
		if (connect_one(v, fd, &ss, as->len[i]) == 0) {
			v->deadline_ns = deadline;
			*idx = i;
			return fd;
		}
		err = errno;
		v->deadline_ns = deadline;
		close(fd);
	}
	return va_fail(v, "connection", "connecting to %s (%s%s) port %d: %s",
	    what, as->n > 1 ? "every address, last " : "",
	    as->n > 0 ? as->text[as->n - 1] : "no address", port,
	    err == ETIMEDOUT ? "timed out" : strerror(err));
}

/*
 * base64url(SHA-256(s)) without padding, as dns-01 wants it: 0 or -1.
 */
int
va_sha256_b64url(const char *s, char out[44])
{
	unsigned char	 md[32];
	char		 hex[65], *b64;
	size_t		 i, n;

	if (sha256_hex(s, strlen(s), hex) == -1)
		return -1;
	for (i = 0; i < 32; i++) {
		unsigned int	 x;

		if (sscanf(hex + 2 * i, "%2x", &x) != 1)
			return -1;
		md[i] = (unsigned char)x;
	}
	if ((b64 = base64_encode(md, sizeof(md))) == NULL)
		return -1;
	for (i = n = 0; b64[i] != '\0' && n < 43; i++) {
		if (b64[i] == '=')
			break;
		out[n++] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' : b64[i];
	}
	out[n] = '\0';
	free(b64);
	return n == 43 ? 0 : -1;
}

/* A token is base64url (RFC 8555 §8.1): nothing that could leave a path. */
static int
token_ok(const char *t)
{
	size_t	 n = strlen(t);

	if (n == 0 || n >= 128)
		return 0;
	return strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789-_") == n;
}

/* Is the check one the core may hand over? 0, or -1 with the result. */
static int
check_ok(struct va_ctx *v)
{
	const struct acme_check	*c = v->chk;
	struct in6_addr		 a6;

	if (memchr(c->identifier, '\0', sizeof(c->identifier)) == NULL ||
	    memchr(c->token, '\0', sizeof(c->token)) == NULL ||
	    memchr(c->key_authz, '\0', sizeof(c->key_authz)) == NULL)
		return va_fail(v, "malformed", "check not NUL-terminated");
	if (c->is_ip ? inet_pton(AF_INET, c->identifier, &a6) != 1 &&
	    inet_pton(AF_INET6, c->identifier, &a6) != 1 :
	    !va_dns_name_ok(c->identifier))
		return va_fail(v, "malformed", "\"%.255s\" is not %s",
		    c->identifier, c->is_ip ? "an IP address" : "a DNS name");
	if (c->is_ip && c->type == ACME_DNS01)
		return va_fail(v, "malformed", "no dns-01 for an IP address "
		    "(RFC 8738 §7)");
	if (!token_ok(c->token))
		return va_fail(v, "malformed", "token is not base64url");
	if (strncmp(c->key_authz, c->token, strlen(c->token)) != 0 ||
	    c->key_authz[strlen(c->token)] != '.')
		return va_fail(v, "malformed", "key authorization does not "
		    "start with the token and a dot");
	return 0;
}

void
acme_validate(const struct acme_va_config *cfg, const struct acme_check *chk,
    struct acme_va_result *res)
{
	struct va_ctx	 v;
	int		 timeout, r = -1;

	memset(res, 0, sizeof(*res));
	memset(&v, 0, sizeof(v));
	v.cfg = cfg;
	v.chk = chk;
	v.res = res;
	timeout = cfg->timeout_ms > 0 ? cfg->timeout_ms : 10000;
	v.deadline_ns = time_mono_ns() + (uint64_t)timeout * 1000000;
	if (check_ok(&v) == -1)
		return;
	if (va_dns_set_resolver(&v, cfg->resolver) == -1)
		return;
	switch (chk->type) {
	case ACME_HTTP01:
		r = va_http01(&v);
		break;
	case ACME_DNS01:
		r = va_dns01(&v);
		break;
	case ACME_TLSALPN01:
		r = va_tlsalpn01(&v);
		break;
	default:
		va_fail(&v, "malformed", "unknown challenge type %d",
		    (int)chk->type);
		return;
	}
	if (r == 0 && res->problem[0] == '\0')
		res->valid = 1;
	else if (res->problem[0] == '\0')
		va_fail(&v, "serverInternal", "validation failed");
}
