/*
 * ca_limits.h - what a CA certificate lets its CA issue (ca_limits.c, a
 * file of its own: OpenSSL's x509v3.h names KU_* and CRL_REASON_* as
 * crypto.h and profile.h do).
 */
#ifndef CM_CA_LIMITS_H
#define CM_CA_LIMITS_H

#include <stddef.h>

#include <openssl/x509.h>

/*
 * x's pathLenConstraint (-1: none) into *path_len, and its
 * extendedKeyUsage as dotted OIDs into *eku (malloc'd, *neku of them;
 * NULL when it has none, or anyExtendedKeyUsage). 0 or -1 (memory).
 */
int	 ca_limits_read(X509 *x, long *path_len, char ***eku, size_t *neku);

#endif /* CM_CA_LIMITS_H */
