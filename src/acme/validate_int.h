/*
 * validate_int.h - what the VA's files (validate*.c) share. Not for the
 * rest of the ACME room: that uses validate.h.
 */
#ifndef CM_ACME_VALIDATE_INT_H
#define CM_ACME_VALIDATE_INT_H

#include <netinet/in.h>
#include <stdint.h>
#include <sys/socket.h>

#include "validate.h"

#define VA_MAX_ADDRS	8	/* per family: more says nothing new */

/* One validation in progress. */
struct va_ctx {
	const struct acme_va_config	*cfg;
	const struct acme_check		*chk;
	struct acme_va_result		*res;
	uint64_t			 deadline_ns;	/* monotonic */
	struct sockaddr_storage		 ns;	/* the resolver */
	socklen_t			 nslen;
	char				 nsname[64];	/* in details */
};

/* Addresses of a name, IPv6 first (as Let's Encrypt dials). */
struct va_addrs {
	int			 n;
	struct sockaddr_storage	 a[2 * VA_MAX_ADDRS];
	socklen_t		 len[2 * VA_MAX_ADDRS];
	char			 text[2 * VA_MAX_ADDRS][INET6_ADDRSTRLEN];
};

/* validate.c */
int	 va_fail(struct va_ctx *, const char *problem, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
int	 va_remaining_ms(const struct va_ctx *);
int	 va_expired(const struct va_ctx *);
void	 va_quote(const unsigned char *, size_t, char *out, size_t outlen);
int	 va_parse_ip(const char *, struct sockaddr_storage *, socklen_t *);
int	 va_resolve(struct va_ctx *, const char *host, struct va_addrs *);
/* 1 when [acme] validation_deny names the address (IPv4-mapped as IPv4). */
int	 va_addr_denied(const struct acme_va_config *,
	    const struct sockaddr_storage *);
int	 va_connect(struct va_ctx *, const char *what,
	    const struct va_addrs *, int port,
	    int *idx);
int	 va_wait_fd(struct va_ctx *, int fd, short events);
int	 va_sha256_b64url(const char *, char out[44]);

/* validate_dns.c: our stub resolver. */
#define DNS_T_A		1
#define DNS_T_CNAME	5
#define DNS_T_TXT	16
#define DNS_T_AAAA	28
typedef int	 va_rr_fn(void *arg, const unsigned char *rdata, size_t len);
int	 va_dns_lookup(struct va_ctx *, const char *name, int qtype,
	    va_rr_fn *each, void *arg, int *count, int *nxdomain);
int	 va_dns_set_resolver(struct va_ctx *, const char *spec);
#define DNS_MAX_NAME	1025	/* 255 wire bytes, each escaped \DDD */
#define DNS_READ_BAD	(-1)
#define DNS_READ_LOOP	(-2)
int	 va_dns_reply_read(const unsigned char *r, size_t rlen, size_t qsec,
	    int qtype, char *target, int *hops, va_rr_fn *each, void *arg,
	    int *count, int *followed);
/* Not static for fuzz/fuzz_dns.c, which reads replies to its queries. */
int	 va_dns_query_build(unsigned char *q, uint16_t id, const char *name,
	    int qtype);
int	 va_dns_name_ok(const char *);

/* validate_http.c, validate_dns.c, validate_tls.c: one per challenge. */
int	 va_http01(struct va_ctx *);
int	 va_dns01(struct va_ctx *);
int	 va_tlsalpn01(struct va_ctx *);

#endif
