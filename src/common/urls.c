/*
 * urls.c - the URL templates of CRL distribution points, freshest CRLs
 * and AIA ([publish], a profile's cdp, delta_cdp, aia): AD CS's %1-%11
 * tokens filled from the config (url_expand), then the CA certificate's
 * and key's indexes (url_finish). The tokens are docs/profiles.md's.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

/* Append to out the CA name made safe for a URL path (RFC 3986). */
static void
put_url_name(struct buf *out, const char *s, size_t max)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t		 n;
	unsigned char	 c;

	for (n = 0; *s != '\0' && n < max; s++, n++) {
		c = (unsigned char)*s;
		if (isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~')
			buf_append(out, s, 1);
		else {
			buf_append(out, "%%", 2);	/* for url_finish */
			buf_append(out, &hex[c >> 4], 1);
			buf_append(out, &hex[c & 15], 1);
		}
	}
}

/* n bytes of s into a template: "%" doubled for url_finish. */
static void
put_literal(struct buf *out, const char *s, size_t n)
{
	for (; n > 0; s++, n--)
		buf_append(out, *s == '%' ? "%%" : s, *s == '%' ? 2 : 1);
}

char *
url_finish(const char *url, int cert_idx, int key_idx)
{
	struct buf	 out = { 0 };
	const char	*p;
	char		 sfx[16];

	for (p = url; *p != '\0'; p++) {
		if (*p != '%' || (p[1] != '%' && p[1] != '4' && p[1] != '8')) {
			buf_append(&out, p, 1);
			continue;
		}
		p++;
		sfx[0] = '\0';
		if (*p == '%')
			strlcpy_cm(sfx, "%", sizeof(sfx));
		else if (*p == '4' && cert_idx > 0)
			snprintf(sfx, sizeof(sfx), "(%d)", cert_idx);
		else if (*p == '8' && key_idx > 0)
			snprintf(sfx, sizeof(sfx), "(%d)", key_idx);
		buf_append(&out, sfx, strlen(sfx));
	}
	if (buf_append(&out, "", 1) == -1) {
		buf_free(&out);
		return NULL;
	}
	return buf_steal(&out);
}

char *
url_expand(const struct cm_config *cfg, const char *tmpl, int delta,
    char *err, size_t errlen)
{
	struct buf	 out = { 0 };
	const char	*p, *dot, *host = cfg->machine_dns_name;
	int		 tok;

	for (p = tmpl; *p != '\0'; p++) {
		if (*p != '%') {
			buf_append(&out, p, 1);
			continue;
		}
		if (p[1] == '%') {
			buf_append(&out, "%%", 2);	/* for url_finish */
			p++;
			continue;
		}
		if (!isdigit((unsigned char)p[1]))
			goto bad;
		tok = p[1] - '0';
		p++;
		if (tok == 1 && p[1] >= '0' && p[1] <= '1') {
			tok = 10 + p[1] - '0';
			p++;
		}
		switch (tok) {
		case 1:		/* ServerDNSName */
			put_literal(&out, host, strlen(host));
			break;
		case 2:		/* ServerShortName */
			dot = strchr(host, '.');
			put_literal(&out, host, dot ? (size_t)(dot - host) :
			    strlen(host));
			break;
		case 3:		/* SanitizedCaName */
			put_url_name(&out, cfg->ca_name, (size_t)-1);
			break;
		case 7:		/* SanitizedShortName: at most 32 */
			put_url_name(&out, cfg->ca_name, 32);
			break;
		case 4:		/* CertificateName: "(n)" after a renewal */
		case 8:		/* CRLNameSuffix: "(n)" after a new key */
			/* The signing CA certificate's: url_finish. */
			buf_append(&out, p - 1, 2);
			break;
		case 6:		/* ConfigurationContainer: no directory */
			break;
		case 9:		/* DeltaCRLAllowed */
			if (delta)
				buf_append(&out, "+", 1);
			break;
		case 10:	/* CDPObjectClass */
			buf_append(&out, "?certificateRevocationList?base?"
			    "objectClass=cRLDistributionPoint", 64);
			break;
		case 11:	/* CAObjectClass */
			buf_append(&out, "?cACertificate?base?objectClass="
			    "certificationAuthority", 54);
			break;
		default:
			p--;
			goto bad;
		}
	}
	if (buf_append(&out, "", 1) == -1)
		goto nomem;
	return buf_steal(&out);
bad:
	/* The token as far as it is one: "%5" of "%5." (%1x is %1, "x"). */
	snprintf(err, errlen, "\"%s\": unknown token \"%%%.1s\" (known: %%1 "
	    "%%2 %%3 %%4 %%6 %%7 %%8 %%9 %%10 %%11 %%%%)", tmpl, p + 1);
	buf_free(&out);
	return NULL;
nomem:
	snprintf(err, errlen, "out of memory");
	buf_free(&out);
	return NULL;
}
