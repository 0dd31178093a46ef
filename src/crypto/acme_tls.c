/*
 * acme_tls.c - tls-alpn-01 (RFC 8737): the handshake that fetches the
 * validation certificate, and the check of that certificate.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/common.h"
#include "acme_tls.h"

#define ACME_TLS_ALPN		"acme-tls/1"
#define ACME_ID_OID		"1.3.6.1.5.5.7.1.31"

/* The last OpenSSL error (or what), for err; empties the thread's queue. */
static void
tls_error(const char *what, char *err, size_t errlen)
{
	unsigned long	 e = ERR_peek_last_error();
	char		 buf[200];

	if (e != 0) {
		ERR_error_string_n(e, buf, sizeof(buf));
		snprintf(err, errlen, "%s: %s", what, buf);
	} else
		snprintf(err, errlen, "%s", what);
	ERR_clear_error();
}

/* Poll fd for what SSL_connect wants, until the deadline: 0 or -1. */
static int
tls_wait(int fd, int want, uint64_t deadline_ns)
{
	struct pollfd	 pfd;
	uint64_t	 now;
	int		 r;

	for (;;) {
		if ((now = time_mono_ns()) >= deadline_ns)
			return -1;
		pfd.fd = fd;
		pfd.events = want == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN;
		pfd.revents = 0;
		r = poll(&pfd, 1, (int)((deadline_ns - now) / 1000000) + 1);
		if (r > 0)
			return 0;
		if (r == -1 && errno != EINTR)
			return -1;
	}
}

int
acme_tls_alpn_fetch(int fd, const char *sni, uint64_t deadline_ns,
    unsigned char **der, size_t *derlen, char *err, size_t errlen)
{
	static const unsigned char alpn[] = "\x0a" ACME_TLS_ALPN;
	SSL_CTX			*ctx = NULL;
	SSL			*ssl = NULL;
	X509			*peer;
	const unsigned char	*sel;
	unsigned char		*p;
	unsigned int		 sellen;
	int			 r, e, n, ret = ACME_TLS_EHANDSHAKE;

	*der = NULL;
	*derlen = 0;
	ERR_clear_error();
	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL ||
	    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_alpn_protos(ctx, alpn, sizeof(alpn) - 1) != 0 ||
	    (ssl = SSL_new(ctx)) == NULL || SSL_set_fd(ssl, fd) != 1 ||
	    (sni != NULL && SSL_set_tlsext_host_name(ssl, sni) != 1)) {
		tls_error("TLS setup", err, errlen);
		goto out;
	}
	SSL_set_verify(ssl, SSL_VERIFY_NONE, NULL);
	for (;;) {
		if ((r = SSL_connect(ssl)) == 1)
			break;
		e = SSL_get_error(ssl, r);
		if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
			if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)
				snprintf(err, errlen, "TLS handshake: %s",
				    errno ? strerror(errno) :
				    "connection closed");
			else
				tls_error("TLS handshake", err, errlen);
			goto out;
		}
		if (tls_wait(fd, e, deadline_ns) == -1) {
			snprintf(err, errlen, "TLS handshake timed out");
			goto out;
		}
	}
	SSL_get0_alpn_selected(ssl, &sel, &sellen);
	if (sellen != sizeof(ACME_TLS_ALPN) - 1 ||
	    memcmp(sel, ACME_TLS_ALPN, sellen) != 0) {
		snprintf(err, errlen, "the server did not negotiate ALPN "
		    "\"%s\"", ACME_TLS_ALPN);
		ret = ACME_TLS_EALPN;
		goto out;
	}
	if ((peer = SSL_get0_peer_certificate(ssl)) == NULL ||
	    (n = i2d_X509(peer, NULL)) <= 0 ||
	    (*der = malloc((size_t)n)) == NULL) {
		snprintf(err, errlen, "no peer certificate");
		goto out;
	}
	p = *der;
	*derlen = (size_t)i2d_X509(peer, &p);
	ret = 0;
out:
	ERR_clear_error();
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	return ret;
}

/* How many extensions of nid (or obj) cert has. */
static int
ext_count(const X509 *x, const ASN1_OBJECT *obj)
{
	int	 i = -1, n = 0;

	while ((i = X509_get_ext_by_OBJ(x, obj, i)) >= 0)
		n++;
	return n;
}

/* The SAN check: 1 ok, 0 not (err says why). */
static int
check_san(const X509 *x, const char *identifier, int is_ip, char *err,
    size_t errlen)
{
	GENERAL_NAMES		*gens = NULL;
	const GENERAL_NAME	*g;
	ASN1_OBJECT		*san;
	unsigned char		 ip[16];
	int			 n, iplen, ok = 0;

	san = OBJ_nid2obj(NID_subject_alt_name);
	if ((n = ext_count(x, san)) != 1) {
		snprintf(err, errlen, "%d subjectAltName extensions, not 1", n);
		return 0;
	}
	gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	if (gens == NULL) {
		snprintf(err, errlen, "subjectAltName does not parse");
		return 0;
	}
	if ((n = sk_GENERAL_NAME_num(gens)) != 1) {
		snprintf(err, errlen, "%d subjectAltNames, not exactly 1", n);
		goto out;
	}
	g = sk_GENERAL_NAME_value(gens, 0);
	if (is_ip) {
		iplen = inet_pton(AF_INET, identifier, ip) == 1 ? 4 :
		    inet_pton(AF_INET6, identifier, ip) == 1 ? 16 : 0;
		ok = g->type == GEN_IPADD && iplen > 0 &&
		    ASN1_STRING_length(g->d.ip) == iplen &&
		    memcmp(ASN1_STRING_get0_data(g->d.ip), ip, iplen) == 0;
	} else
		ok = g->type == GEN_DNS && (size_t)ASN1_STRING_length(
		    g->d.dNSName) == strlen(identifier) &&
		    strncasecmp((const char *)ASN1_STRING_get0_data(
		    g->d.dNSName), identifier, strlen(identifier)) == 0;
	if (!ok)
		snprintf(err, errlen, "the subjectAltName is not %s %s",
		    is_ip ? "IP address" : "DNS name", identifier);
out:
	GENERAL_NAMES_free(gens);
	return ok;
}

/* The acmeIdentifier check: 1 ok, 0 not (err says why), -1 error. */
static int
check_acme_id(const X509 *x, const char *key_authz, char *err, size_t errlen)
{
	ASN1_OBJECT		*oid;
	X509_EXTENSION		*ext;
	ASN1_OCTET_STRING	*inner = NULL;
	const ASN1_OCTET_STRING	*val;
	const unsigned char	*p;
	unsigned char		 md[EVP_MAX_MD_SIZE];
	unsigned int		 mdlen;
	int			 n, ok = 0;

	if ((oid = OBJ_txt2obj(ACME_ID_OID, 1)) == NULL)
		return -1;
	if ((n = ext_count(x, oid)) != 1) {
		snprintf(err, errlen, "%d acmeIdentifier extensions, not 1", n);
		goto out;
	}
	ext = X509_get_ext(x, X509_get_ext_by_OBJ(x, oid, -1));
	if (!X509_EXTENSION_get_critical(ext)) {
		snprintf(err, errlen, "the acmeIdentifier extension is not "
		    "critical");
		goto out;
	}
	val = X509_EXTENSION_get_data(ext);
	p = ASN1_STRING_get0_data(val);
	if ((inner = d2i_ASN1_OCTET_STRING(NULL, &p,
	    ASN1_STRING_length(val))) == NULL ||
	    p != ASN1_STRING_get0_data(val) + ASN1_STRING_length(val) ||
	    ASN1_STRING_length(inner) != 32) {
		snprintf(err, errlen, "the acmeIdentifier extension is not an "
		    "OCTET STRING of 32 bytes");
		goto out;
	}
	if (EVP_Digest(key_authz, strlen(key_authz), md, &mdlen, EVP_sha256(),
	    NULL) != 1 || mdlen != 32) {
		ok = -1;
		goto out;
	}
	if (CRYPTO_memcmp(ASN1_STRING_get0_data(inner), md, 32) != 0) {
		snprintf(err, errlen, "the acmeIdentifier extension is not "
		    "SHA-256 of the key authorization");
		goto out;
	}
	ok = 1;
out:
	ASN1_OCTET_STRING_free(inner);
	ASN1_OBJECT_free(oid);
	return ok;
}

int
acme_tls_alpn_cert_check(const unsigned char *der, size_t len,
    const char *identifier, int is_ip, const char *key_authz, char *err,
    size_t errlen)
{
	X509		*x;
	const unsigned char *p = der;
	int		 ok;

	ERR_clear_error();
	if ((x = d2i_X509(NULL, &p, (long)len)) == NULL ||
	    p != der + len) {
		X509_free(x);
		snprintf(err, errlen, "the certificate does not parse");
		ERR_clear_error();
		return -1;
	}
	ok = check_san(x, identifier, is_ip, err, errlen);
	if (ok == 1)
		ok = check_acme_id(x, key_authz, err, errlen);
	X509_free(x);
	ERR_clear_error();
	return ok;
}
