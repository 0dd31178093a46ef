/*
 * validate_tls.c - the tls-alpn-01 challenge (RFC 8737): resolve, connect
 * to tlsalpn01_port, handshake offering only acme-tls/1 with the
 * identifier as SNI, and check the certificate (src/crypto/acme_tls.c).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/common.h"
#include "crypto/acme_tls.h"
#include "validate_int.h"

/*
 * The SNI for an IP identifier, its reverse-mapping name (RFC 8738 §6):
 * "1.0.0.127.in-addr.arpa", or the 32 nibbles of an IPv6 address under
 * "ip6.arpa". 0 or -1.
 */
static int
reverse_name(const char *ip, char *out, size_t outlen)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char	 a[16];
	size_t		 o = 0;
	int		 i;

	if (inet_pton(AF_INET, ip, a) == 1) {
		snprintf(out, outlen, "%u.%u.%u.%u.in-addr.arpa", a[3], a[2],
		    a[1], a[0]);
		return 0;
	}
	if (inet_pton(AF_INET6, ip, a) != 1 || outlen < 16 * 4 + 9)
		return -1;
	for (i = 15; i >= 0; i--) {
		out[o++] = hex[a[i] & 0xf];
		out[o++] = '.';
		out[o++] = hex[a[i] >> 4];
		out[o++] = '.';
	}
	memcpy(out + o, "ip6.arpa", 9);
	return 0;
}

int
va_tlsalpn01(struct va_ctx *v)
{
	const struct acme_check	*c = v->chk;
	struct va_addrs		 as;
	unsigned char		*der = NULL;
	size_t			 derlen;
	char			 sni[128], err[256];
	int			 fd, idx, r, ret = -1;

	if (c->is_ip) {
		if (reverse_name(c->identifier, sni, sizeof(sni)) == -1)
			return va_fail(v, "malformed", "\"%s\" is not an IP "
			    "address", c->identifier);
	} else
		strlcpy_cm(sni, c->identifier, sizeof(sni));
	if (va_resolve(v, c->identifier, &as) == -1)
		return -1;
	if ((fd = va_connect(v, c->identifier, &as, v->cfg->tlsalpn01_port,
	    &idx)) == -1)
		return -1;
	r = acme_tls_alpn_fetch(fd, sni, v->deadline_ns, &der, &derlen, err,
	    sizeof(err));
	close(fd);
	if (r != 0) {
		va_fail(v, "tls", "tls-alpn-01 to %s (%s) port %d, SNI %s: %s",
		    c->identifier, as.text[idx], v->cfg->tlsalpn01_port, sni,
		    err);
		goto out;
	}
	r = acme_tls_alpn_cert_check(der, derlen, c->identifier, c->is_ip,
	    c->key_authz, err, sizeof(err));
	if (r == 1)
		ret = 0;
	else
		va_fail(v, r == 0 ? "incorrectResponse" : "tls", "tls-alpn-01 "
		    "certificate from %s (%s) port %d: %s", c->identifier,
		    as.text[idx], v->cfg->tlsalpn01_port, err);
out:
	free(der);
	return ret;
}
