/*
 * key.c - CA keys and CA certificates: generate, store (0600, never
 * overwritten), load; self-signed roots, subordinate CA requests and the
 * installation of a parent CA's answer. Not on the hot path: this uses
 * OpenSSL's object APIs.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "crypto.h"

/* After crypto.h: x509v3.h's CRL_REASON_* macros equal its enum values. */
#include <openssl/x509v3.h>

static int
ossl_fail(char *err, size_t errlen, const char *what)
{
	unsigned long	 e = ERR_peek_last_error();
	char		 buf[256];

	ERR_error_string_n(e, buf, sizeof(buf));
	snprintf(err, errlen, "%s%s%s", what, e ? ": " : "", e ? buf : "");
	ERR_clear_error();
	return -1;
}

int
key_generate(enum key_type t, EVP_PKEY **out, char *err, size_t errlen)
{
	*out = NULL;
	switch (t) {
	case KEY_EC_P256:
		*out = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
		break;
	case KEY_EC_P384:
		*out = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
		break;
	case KEY_RSA_2048:
		*out = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
		break;
	case KEY_RSA_3072:
		*out = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)3072);
		break;
	case KEY_RSA_4096:
		*out = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)4096);
		break;
	case KEY_ED25519:
		*out = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
		break;
	default:
		snprintf(err, errlen, "unsupported key type");
		return -1;
	}
	return *out == NULL ? ossl_fail(err, errlen, "key generation failed")
	    : 0;
}

int
key_write(const char *path, EVP_PKEY *key, char *err, size_t errlen)
{
	BIO	*bio;
	char	*pem;
	long	 len;
	int	 rc = -1;

	if ((bio = BIO_new(BIO_s_secmem())) == NULL ||
	    PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) != 1 ||
	    (len = BIO_get_mem_data(bio, &pem)) <= 0) {
		BIO_free(bio);
		return ossl_fail(err, errlen, "cannot write the key");
	}
	/* Created 0600 from the first instant; never over another file. */
	if (file_write_new(path, pem, (size_t)len, 0600) == -1)
		snprintf(err, errlen, "%s: %s", path, errno == EEXIST ?
		    "something is already there; not overwriting it" :
		    strerror(errno));
	else
		rc = 0;
	BIO_free(bio);
	return rc;
}

int
key_load(const char *path, EVP_PKEY **out, char *err, size_t errlen)
{
	struct stat	 sb;
	FILE		*f;
	int		 fd;

	*out = NULL;
	if ((fd = file_open_regular(path, O_RDONLY, 0)) == -1 ||
	    (f = fdopen(fd, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, errno == EINVAL ||
		    errno == EISDIR ? "the CA key is not a regular file" :
		    strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	/* As ssh does: a key others can read is no longer the CA's alone. */
	if (fstat(fileno(f), &sb) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		fclose(f);
		return -1;
	}
	if (file_check_mode(&sb, path, "the CA key", 1, err, errlen) == -1) {
		fclose(f);
		return -1;
	}
	*out = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (*out == NULL)
		return ossl_fail(err, errlen, "cannot read the CA key");
	if (key_type_of(*out) == KEY__MAX) {
		EVP_PKEY_free(*out);
		*out = NULL;
		snprintf(err, errlen, "%s: unsupported key type", path);
		return -1;
	}
	return 0;
}

enum key_type
key_type_of(EVP_PKEY *key)
{
	char	 group[64];
	size_t	 len;

	switch (EVP_PKEY_get_base_id(key)) {
	case EVP_PKEY_RSA:
		switch (EVP_PKEY_get_bits(key)) {
		case 2048:
			return KEY_RSA_2048;
		case 3072:
			return KEY_RSA_3072;
		case 4096:
			return KEY_RSA_4096;
		}
		return KEY__MAX;
	case EVP_PKEY_EC:
		if (EVP_PKEY_get_utf8_string_param(key,
		    OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), &len)
		    != 1) {
			ERR_clear_error();
			return KEY__MAX;
		}
		if (strcmp(group, "prime256v1") == 0 ||
		    strcmp(group, "P-256") == 0)
			return KEY_EC_P256;
		if (strcmp(group, "secp384r1") == 0 ||
		    strcmp(group, "P-384") == 0)
			return KEY_EC_P384;
		return KEY__MAX;
	case EVP_PKEY_ED25519:
		return KEY_ED25519;
	}
	return KEY__MAX;
}

/*
 * "CN=x,O=y" (backslash escapes a comma) as an X509_NAME, read as RFC
 * 4514 writes a name, and as certmint prints one: its last attribute is
 * the name's first (C=, O=, then CN=).
 */
static X509_NAME *
parse_subject(const char *s, char *err, size_t errlen)
{
	X509_NAME	*n;
	char		*copy, *p, *q, *field, *eq;
	int		 count = 0;

	if ((n = X509_NAME_new()) == NULL || (copy = strdup(s)) == NULL) {
		X509_NAME_free(n);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	for (p = copy; *p != '\0'; p = q) {
		field = p;
		for (q = p; *q != '\0' && *q != ','; q++)
			if (*q == '\\' && q[1] != '\0')
				memmove(q, q + 1, strlen(q));
		if (*q == ',')
			*q++ = '\0';
		field = str_trim(field);
		if (*field == '\0')
			continue;
		if ((eq = strchr(field, '=')) == NULL || eq == field) {
			snprintf(err, errlen, "subject \"%s\": \"%s\" is not "
			    "TYPE=value", s, field);
			goto fail;
		}
		*eq++ = '\0';
		if (X509_NAME_add_entry_by_txt(n, str_trim(field),
		    MBSTRING_UTF8, (unsigned char *)str_trim(eq), -1, 0, 0)
		    != 1) {
			ERR_clear_error();
			snprintf(err, errlen, "subject \"%s\": unknown "
			    "attribute \"%s\"", s, field);
			goto fail;
		}
		count++;
	}
	if (count == 0) {
		snprintf(err, errlen, "empty subject");
		goto fail;
	}
	free(copy);
	return n;
 fail:
	free(copy);
	X509_NAME_free(n);
	return NULL;
}

static const EVP_MD *
pick_md(EVP_PKEY *key, const char *hash)
{
	if (EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519)
		return NULL;
	return EVP_get_digestbyname(hash ? hash : "sha256");
}

static int
add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION	*e;
	int		 rc;

	if ((e = X509V3_EXT_conf_nid(NULL, ctx, nid, value)) == NULL)
		return -1;
	rc = X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
	return rc == 1 ? 0 : -1;
}

static int
to_der(X509 *x, unsigned char **der, size_t *len)
{
	int	 n;

	*der = NULL;
	if ((n = i2d_X509(x, der)) <= 0)
		return -1;
	*len = (size_t)n;
	return 0;
}

/* A self-signed CA certificate for key named name. */
static int
selfsign_name(EVP_PKEY *key, const X509_NAME *name, int days,
    const char *hash, unsigned char **der, size_t *len, char *err,
    size_t errlen)
{
	X509		*x = NULL;
	X509V3_CTX	 ctx;
	unsigned char	 serial[SERIAL_LEN];
	BIGNUM		*bn = NULL;
	int		 rc = -1;

	*der = NULL;
	if (serial_generate(serial) == -1 ||
	    (bn = BN_bin2bn(serial, SERIAL_LEN, NULL)) == NULL ||
	    (x = X509_new()) == NULL || X509_set_version(x, 2) != 1 ||
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL ||
	    X509_set_subject_name(x, name) != 1 ||
	    X509_set_issuer_name(x, name) != 1 ||
	    X509_gmtime_adj(X509_getm_notBefore(x), -300) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(x), days, 0, NULL) == NULL ||
	    X509_set_pubkey(x, key) != 1) {
		ossl_fail(err, errlen, "cannot build the CA certificate");
		goto out;
	}
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	if (add_ext(x, &ctx, NID_basic_constraints, "critical,CA:TRUE") ||
	    add_ext(x, &ctx, NID_key_usage,
	    "critical,keyCertSign,cRLSign,digitalSignature") ||
	    add_ext(x, &ctx, NID_subject_key_identifier, "hash") ||
	    add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always") ||
	    X509_sign(x, key, pick_md(key, hash)) <= 0 ||
	    to_der(x, der, len) == -1) {
		ossl_fail(err, errlen, "cannot sign the CA certificate");
		goto out;
	}
	rc = 0;
 out:
	BN_free(bn);
	X509_free(x);
	return rc;
}

int
ca_selfsign(EVP_PKEY *key, const char *subject, int days, const char *hash,
    unsigned char **der, size_t *len, char *err, size_t errlen)
{
	X509_NAME	*name;
	int		 rc;

	*der = NULL;
	if ((name = parse_subject(subject, err, errlen)) == NULL)
		return -1;
	rc = selfsign_name(key, name, days, hash, der, len, err, errlen);
	X509_NAME_free(name);
	return rc;
}

/* A PKCS#10 request for a CA key named name. */
static int
csr_name(EVP_PKEY *key, const X509_NAME *name, const char *hash,
    unsigned char **der, size_t *len, char *err, size_t errlen)
{
	X509_REQ	*req = NULL;
	STACK_OF(X509_EXTENSION) *exts = NULL;
	X509_EXTENSION	*e;
	int		 n, rc = -1;

	*der = NULL;
	if ((req = X509_REQ_new()) == NULL ||
	    X509_REQ_set_version(req, 0) != 1 ||
	    X509_REQ_set_subject_name(req, name) != 1 ||
	    X509_REQ_set_pubkey(req, key) != 1 ||
	    (exts = sk_X509_EXTENSION_new_null()) == NULL)
		goto fail;
	if ((e = X509V3_EXT_conf_nid(NULL, NULL, NID_basic_constraints,
	    "critical,CA:TRUE")) == NULL || !sk_X509_EXTENSION_push(exts, e))
		goto fail;
	if ((e = X509V3_EXT_conf_nid(NULL, NULL, NID_key_usage,
	    "critical,keyCertSign,cRLSign,digitalSignature")) == NULL ||
	    !sk_X509_EXTENSION_push(exts, e))
		goto fail;
	if (X509_REQ_add_extensions(req, exts) != 1 ||
	    X509_REQ_sign(req, key, pick_md(key, hash)) <= 0 ||
	    (n = i2d_X509_REQ(req, der)) <= 0)
		goto fail;
	*len = (size_t)n;
	rc = 0;
	goto out;
 fail:
	ossl_fail(err, errlen, "cannot build the CA request");
 out:
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_REQ_free(req);
	return rc;
}

int
ca_make_csr(EVP_PKEY *key, const char *subject, const char *hash,
    unsigned char **der, size_t *len, char *err, size_t errlen)
{
	X509_NAME	*name;
	int		 rc;

	*der = NULL;
	if ((name = parse_subject(subject, err, errlen)) == NULL)
		return -1;
	rc = csr_name(key, name, hash, der, len, err, errlen);
	X509_NAME_free(name);
	return rc;
}

int
ca_renewal(EVP_PKEY *key, const unsigned char *old, size_t oldlen,
    int days, const char *hash, int csr, unsigned char **der, size_t *len,
    char *err, size_t errlen)
{
	const unsigned char *p = old;
	X509		*x;
	int		 rc;

	*der = NULL;
	if ((x = d2i_X509(NULL, &p, (long)oldlen)) == NULL)
		return ossl_fail(err, errlen, "cannot read the CA certificate");
	rc = csr ? csr_name(key, X509_get_subject_name(x), hash, der, len, err,
	    errlen) : selfsign_name(key, X509_get_subject_name(x), days, hash,
	    der, len, err, errlen);
	X509_free(x);
	return rc;
}

/* Every certificate in PEM or DER input, appended to sk. */
static int
read_certs(const unsigned char *in, size_t len, STACK_OF(X509) *sk)
{
	BIO	*b;
	X509	*x;
	int	 n = 0;

	if (len > 0 && in[0] == 0x30) {
		const unsigned char *p = in;

		if ((x = d2i_X509(NULL, &p, (long)len)) == NULL)
			return -1;
		if (!sk_X509_push(sk, x)) {
			X509_free(x);
			return -1;
		}
		return 1;
	}
	if ((b = BIO_new_mem_buf(in, (int)len)) == NULL)
		return -1;
	while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
		if (!sk_X509_push(sk, x)) {
			X509_free(x);
			break;
		}
		n++;
	}
	ERR_clear_error();
	BIO_free(b);
	return n;
}

int
ca_check_install(EVP_PKEY *key, const unsigned char *in, size_t inlen,
    const unsigned char *chain_in, size_t chain_len,
    unsigned char **cert_der, size_t *cert_len, char **chain_pem,
    char *err, size_t errlen)
{
	STACK_OF(X509)	*all = NULL, *untrusted = NULL;
	X509_STORE	*store = NULL;
	X509_STORE_CTX	*ctx = NULL;
	X509		*ca, *x;
	struct buf	 pem = { 0 };
	int		 i, rc = -1, roots = 0;

	*cert_der = NULL;
	*chain_pem = NULL;
	if ((all = sk_X509_new_null()) == NULL ||
	    (untrusted = sk_X509_new_null()) == NULL ||
	    (store = X509_STORE_new()) == NULL ||
	    (ctx = X509_STORE_CTX_new()) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	if (read_certs(in, inlen, all) <= 0) {
		snprintf(err, errlen, "no certificate in the CA's answer");
		goto out;
	}
	if (chain_in != NULL && read_certs(chain_in, chain_len, all) < 0) {
		snprintf(err, errlen, "cannot read the chain file");
		goto out;
	}
	ca = sk_X509_value(all, 0);
	if (X509_check_ca(ca) < 1) {
		snprintf(err, errlen, "the certificate is not a CA "
		    "certificate (basicConstraints CA:TRUE missing)");
		goto out;
	}
	if (EVP_PKEY_eq(X509_get0_pubkey(ca), key) != 1) {
		snprintf(err, errlen, "the certificate is not for this CA's "
		    "key");
		goto out;
	}
	for (i = 1; i < sk_X509_num(all); i++) {
		x = sk_X509_value(all, i);
		if (X509_check_issued(x, x) == X509_V_OK) {
			X509_STORE_add_cert(store, x);
			roots++;
		} else
			sk_X509_push(untrusted, x);
	}
	if (roots == 0) {
		snprintf(err, errlen, "the chain does not reach a self-signed "
		    "root; give the parent's chain with --chain");
		goto out;
	}
	if (X509_STORE_CTX_init(ctx, store, ca, untrusted) != 1 ||
	    X509_verify_cert(ctx) != 1) {
		snprintf(err, errlen, "the chain does not verify: %s",
		    X509_verify_cert_error_string(
		    X509_STORE_CTX_get_error(ctx)));
		goto out;
	}
	if (to_der(ca, cert_der, cert_len) == -1)
		goto fail;
	for (i = 1; i < sk_X509_num(all); i++) {
		unsigned char	*d = NULL;
		size_t		 dl;
		char		*p;

		if (to_der(sk_X509_value(all, i), &d, &dl) == -1)
			goto fail;
		p = pem_encode("CERTIFICATE", d, dl);
		OPENSSL_free(d);
		if (p == NULL || buf_append(&pem, p, strlen(p)) == -1) {
			free(p);
			goto fail;
		}
		free(p);
	}
	if (pem.data == NULL && buf_append(&pem, "", 0) == -1)
		goto fail;
	*chain_pem = buf_steal(&pem);
	rc = 0;
	goto out;
 fail:
	snprintf(err, errlen, "out of memory");
	OPENSSL_free(*cert_der);
	*cert_der = NULL;
 out:
	ERR_clear_error();
	buf_free(&pem);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	sk_X509_free(untrusted);
	sk_X509_pop_free(all, X509_free);
	return rc;
}
