/*
 * acme_tls.h - the TLS and X.509 half of the tls-alpn-01 challenge
 * (RFC 8737): OpenSSL stays in src/crypto, the networking and the policy
 * in src/acme/validate_tls.c.
 */
#ifndef CM_CRYPTO_ACME_TLS_H
#define CM_CRYPTO_ACME_TLS_H

#include <stddef.h>
#include <stdint.h>

#define ACME_TLS_EHANDSHAKE	(-1)	/* failed or timed out */
#define ACME_TLS_EALPN		(-2)	/* no acme-tls/1 */

/*
 * A TLS (1.2 or later) handshake on fd, a connected non-blocking socket,
 * with SNI sni and "acme-tls/1" the only ALPN protocol offered, done by
 * deadline_ns (CLOCK_MONOTONIC). The certificate is not verified: the
 * challenge is in its content. On success the peer's certificate (DER,
 * caller frees) in *der and *derlen: 0. Else ACME_TLS_EHANDSHAKE or
 * ACME_TLS_EALPN with err.
 */
int	 acme_tls_alpn_fetch(int fd, const char *sni, uint64_t deadline_ns,
	    unsigned char **der, size_t *derlen, char *err, size_t errlen);

/*
 * Is der the validation certificate of key_authz for identifier: one
 * subjectAltName extension with exactly one name, the identifier
 * (dNSName, without case; iPAddress when is_ip), and one acmeIdentifier
 * extension (1.3.6.1.5.5.7.1.31), critical, whose value is an OCTET
 * STRING of SHA-256(key_authz)? 1 if so; 0 if not, with err saying why;
 * -1 when der does not parse.
 */
int	 acme_tls_alpn_cert_check(const unsigned char *der, size_t len,
	    const char *identifier, int is_ip, const char *key_authz,
	    char *err, size_t errlen);

#endif
