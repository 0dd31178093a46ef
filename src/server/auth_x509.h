/*
 * auth_x509.h - what auth.c reads of a client certificate with OpenSSL's
 * x509v3.h, apart: its KU_* names clash with profile.h's.
 */
#ifndef CM_AUTH_X509_H
#define CM_AUTH_X509_H

#include <stddef.h>

/* Is the certificate (DER) for TLS client authentication? 1 or 0. */
int	 auth_cert_for_client(const unsigned char *der, size_t len);
/*
 * Its own names: the subject's CNs, its DNS and IP subjectAltNames,
 * comma-separated (malloc'd; "" for none, NULL when out of memory).
 */
char	*auth_cert_names(const unsigned char *der, size_t len);

#endif /* CM_AUTH_X509_H */
