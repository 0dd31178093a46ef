/*
 * fixture.h - helpers for the crypto fast-path tests: temporary
 * directories, files, the openssl command line, keys, names and a test CA
 * made with the OpenSSL X509 API, filled into a struct signer by hand.
 */
#ifndef CM_TEST_FIXTURE_H
#define CM_TEST_FIXTURE_H

#include <stddef.h>

#include "crypto/crypto.h"

/* A fresh directory under $TMPDIR; removed by fx_rmdir. 0 or -1. */
int	 fx_tmpdir(char *out, size_t outsz);
void	 fx_rmdir(const char *);

/*
 * cmocka group setup and teardown: fx_dir is a fresh directory for the
 * group's tests, removed at the end.
 */
extern char	 fx_dir[256];
int	 fx_group_setup(void **state);
int	 fx_group_teardown(void **state);

/* Run a shell command (printf-style); returns its exit status or -1. */
int	 fx_run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Run a command and return its stdout and stderr, malloc'd; NULL on error. */
char	*fx_capture(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

int	 fx_write(const char *path, const void *, size_t);
unsigned char *fx_read(const char *path, size_t *len);
/* Write DER as PEM with the given label. 0 or -1. */
int	 fx_write_pem(const char *path, const char *label,
	    const unsigned char *, size_t);

/* A new key of the given type. NULL on error. */
EVP_PKEY *fx_keygen(enum key_type);
/* DER SubjectPublicKeyInfo of key, malloc'd. */
unsigned char *fx_spki(EVP_PKEY *, size_t *len);
/*
 * DER Name from "CN=a,O=b" (attributes left to right, UTF8String),
 * malloc'd; "" gives the empty name.
 */
unsigned char *fx_name(const char *, size_t *len);

/*
 * A self-signed CA of the given key type with subject cn, written as PEM
 * to path, and a signer for it (URLs set to http://ca.test/...; delta URL
 * only when with_delta). 0 or -1.
 */
int	 fx_ca(struct signer *, enum key_type, const char *cn, const char *path,
	    int with_delta);
void	 fx_signer_free(struct signer *);

/*
 * A certificate template for subject and spki (borrowed), with the
 * profile, a fresh serial, valid from a minute ago for a year. 0 or -1.
 */
int	 fx_template(struct cert_template *, const unsigned char *subject,
	    size_t subject_len, const unsigned char *spki, size_t spki_len,
	    enum profile);

/* Remove ':' and lowercase, in place (openssl's "AB:CD" to "abcd"). */
char	*fx_hexnorm(char *);

#endif /* CM_TEST_FIXTURE_H */
