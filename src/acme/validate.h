/*
 * validate.h - the ACME validation authority (VA): proves control of an
 * identifier by http-01 (RFC 8555 §8.3), dns-01 (§8.4) and tls-alpn-01
 * (RFC 8737), for DNS names and IP literals (RFC 8738).
 *
 * acme_validate() makes one attempt and blocks, at most timeout_ms in all
 * (DNS, connect, redirects, TLS, body); the pool runs it off the HTTP
 * threads, max_parallel at once. Name resolution goes through our own
 * DNS client to `resolver` (or the first nameserver of /etc/resolv.conf),
 * never through getaddrinfo: that would not be bounded in time, and a CA
 * must not trust /etc/hosts for a name it certifies.
 */
#ifndef CM_ACME_VALIDATE_H
#define CM_ACME_VALIDATE_H

#include <stddef.h>
#include <stdint.h>

enum acme_chall { ACME_HTTP01, ACME_DNS01, ACME_TLSALPN01 };

/* From the [acme] settings; the core fills it. */
/* A network validation never connects to: [acme] validation_deny. */
struct acme_va_net {
	int		 family;	/* AF_INET, AF_INET6 */
	unsigned char	 addr[16];
	int		 bits;
};
#define ACME_VA_MAX_DENY	64
/*
 * What nobody's identifier may lead the validator to: this host
 * (loopback), the unspecified addresses, link-local (a cloud's metadata
 * service at 169.254.169.254; Alibaba's 100.100.100.200 and AWS's IPv6
 * fd00:ec2::254 too), multicast and the reserved 240/4. Private
 * networks are allowed: a company CA validates its own names there.
 */
#define ACME_VA_DENY_DEFAULT	"0.0.0.0/8, 127.0.0.0/8, 169.254.0.0/16, " \
	"100.100.100.200/32, 224.0.0.0/3, ::/128, ::1/128, fe80::/10, " \
	"fd00:ec2::254/128, ff00::/8"

struct acme_va_config {
	int	 http01_port;		/* default 80; tests: a loopback port */
	int	 tlsalpn01_port;	/* default 443 */
	char	 resolver[128];		/* "127.0.0.1:8053"; "": resolv.conf */
	int	 timeout_ms;		/* per attempt, default 10000 */
	int	 max_parallel;		/* validations in flight, default 16 */
	struct acme_va_net deny[ACME_VA_MAX_DENY];
	int	 ndeny;
};

/*
 * Parse spec, comma-separated networks (ADDRESS/BITS, or an address
 * alone), or "none", into cfg->deny. 0, or -1 with err.
 */
int	 acme_va_deny_parse(struct acme_va_config *cfg, const char *spec,
	    char *err, size_t errlen);

struct acme_check {
	enum acme_chall type;
	/* a DNS name (no "*.": the core strips it) or an IP literal */
	char	 identifier[256];
	int	 is_ip;			/* RFC 8738 */
	char	 token[128];
	char	 key_authz[256];	/* token "." b64url(JWK thumbprint) */
	int64_t	 account;		/* who asked: the pool's turns */
};

struct acme_va_result {
	int	 valid;			/* 1 valid, 0 invalid */
	/* RFC 8555 type suffix: "connection", "unauthorized", "dns",
	 * "incorrectResponse", "tls", ... (below) */
	char	 problem[64];
	/* human-readable: what was fetched and what came back */
	char	 detail[512];
};

/*
 * Problem types acme_validate() gives (suffixes of urn:ietf:params:acme:
 * error:): "dns" (resolution failed, no record, garbage answer),
 * "connection" (refused, timed out, bad or too many redirects),
 * "unauthorized" (HTTP status other than 200), "incorrectResponse"
 * (body, TXT value or certificate not what the challenge requires, or too
 * big), "tls" (handshake failed or acme-tls/1 not negotiated), "malformed"
 * (a check the core should never have built: bad token or identifier),
 * "serverInternal" (out of memory and the like).
 */

/* Blocking, one attempt, bounded by timeout_ms. Thread-safe. */
void	 acme_validate(const struct acme_va_config *,
	    const struct acme_check *, struct acme_va_result *);

/*
 * Bounded pool: runs validations off the HTTP threads, max_parallel at
 * once, calls done(arg, check, result) from a pool thread (check and
 * result are borrowed for the call). One account's checks run at most
 * ACME_VPOOL_PER_ACCOUNT(max_parallel) at once, the others waiting in
 * order behind those of other accounts: responders that never answer
 * hold up their own account's validations, not everyone's. submit copies the check; it returns
 * 0, or -1 when the pool is stopping or ACME_VPOOL_MAX_QUEUED checks wait
 * already (the core leaves the challenge "processing" and retries later).
 */
#define ACME_VPOOL_MAX_QUEUED	65536
#define ACME_VPOOL_PER_ACCOUNT(max_parallel) (((max_parallel) + 1) / 2)
struct acme_vpool;
typedef void	 acme_va_done_fn(void *arg, const struct acme_check *,
		    const struct acme_va_result *);
typedef void	 acme_va_dropped_fn(void *arg, const struct acme_check *);

struct acme_vpool *acme_vpool_start(const struct acme_va_config *, char *err,
	    size_t);
int	 acme_vpool_submit(struct acme_vpool *, const struct acme_check *,
	    void (*done)(void *, const struct acme_check *,
	    const struct acme_va_result *), void *arg);
/* Waits for running checks, drops queued (their done is never called). */
void	 acme_vpool_stop(struct acme_vpool *);
/*
 * The same, calling dropped(arg, check) for each queued check it drops, so
 * that the caller can free arg; dropped may be NULL.
 */
void	 acme_vpool_stop_cb(struct acme_vpool *, acme_va_dropped_fn *dropped);

#endif
