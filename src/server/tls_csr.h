/*
 * tls_csr.h - the request for certmintd's own HTTPS certificate (init,
 * certmint tls renew): apart from the CA's headers, as OpenSSL's
 * x509v3.h and profile.h both name KU_* constants.
 */
#ifndef CM_TLS_CSR_H
#define CM_TLS_CSR_H

#include <stddef.h>

#include <openssl/evp.h>

/*
 * A PKCS#10 request (PEM, malloc'd) by key for CN=names[0] with every
 * name as a subjectAltName: an IP address as iPAddress, else dNSName.
 * NULL on failure.
 */
char	*tls_make_csr(EVP_PKEY *key, const char *const *names, size_t n);

#endif /* CM_TLS_CSR_H */
