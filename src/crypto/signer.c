/*
 * signer.c - the CA's signing state: key, certificate, issuer name, key
 * identifier, signature algorithm and publication URLs, loaded once.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "crypto.h"
#include "der.h"

#define MAX_CERT_FILE	(1 << 20)

/* The DER AlgorithmIdentifier of the signature made with key and md. */
static int
sigalg_der(struct signer *s, const char *hash, char *err, size_t errlen)
{
	struct buf	 b = { 0 };
	const char	*oid = NULL;
	int		 rsa = 0;
	size_t		 m;

	if (s->key_type == KEY_ED25519)
		oid = "1.3.101.112";
	else if (s->key_type == KEY_EC_P256 || s->key_type == KEY_EC_P384) {
		if (str_ieq(hash, "sha256"))
			oid = "1.2.840.10045.4.3.2";
		else if (str_ieq(hash, "sha384"))
			oid = "1.2.840.10045.4.3.3";
		else if (str_ieq(hash, "sha512"))
			oid = "1.2.840.10045.4.3.4";
	} else {
		rsa = 1;
		if (str_ieq(hash, "sha256"))
			oid = "1.2.840.113549.1.1.11";
		else if (str_ieq(hash, "sha384"))
			oid = "1.2.840.113549.1.1.12";
		else if (str_ieq(hash, "sha512"))
			oid = "1.2.840.113549.1.1.13";
	}
	if (oid == NULL) {
		snprintf(err, errlen, "hash \"%s\": use sha256, sha384 or "
		    "sha512", hash);
		return -1;
	}
	if (der_open(&b, DER_SEQUENCE, &m) == -1 || der_put_oid(&b, oid) == -1 ||
	    (rsa && der_put_null(&b) == -1) || der_close(&b, m) == -1) {
		buf_free(&b);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	s->sigalg_len = b.len;
	s->sigalg = (unsigned char *)buf_steal(&b);
	return 0;
}

static char *
dup_or_null(const char *s)
{
	return s != NULL && *s != '\0' ? strdup(s) : NULL;
}

int
signer_load(struct signer *s, const struct cm_config *cfg, char *err,
    size_t errlen)
{
	struct cert_info info;
	unsigned char	*file = NULL, *chain = NULL;
	size_t		 flen, clen = 0, len;
	const unsigned char *p;
	X509		*x = NULL;
	struct buf	 pem = { 0 };
	char		*cpem;

	memset(s, 0, sizeof(*s));
	memset(&info, 0, sizeof(info));
	if (key_load(cfg->key_file, &s->key, err, errlen) == -1)
		return -1;
	s->key_type = key_type_of(s->key);
	if (s->key_type != KEY_ED25519 &&
	    (s->md = EVP_get_digestbyname(cfg->hash)) == NULL) {
		snprintf(err, errlen, "unknown hash \"%s\"", cfg->hash);
		goto fail;
	}
	if (sigalg_der(s, cfg->hash, err, errlen) == -1)
		goto fail;
	if (file_read(cfg->cert_file, &file, &flen, MAX_CERT_FILE) == -1) {
		/* A subordinate CA waits for its parent's certificate. */
		if (errno == ENOENT)
			snprintf(err, errlen, "%s: no CA certificate (a "
			    "subordinate CA needs `certmint install-ca-cert` "
			    "first)", cfg->cert_file);
		else
			snprintf(err, errlen, "%s: %s", cfg->cert_file,
			    errno ? strerror(errno) : "cannot read");
		goto fail;
	}
	if (pem_or_der(file, flen, "CERTIFICATE", &s->cert_der,
	    &s->cert_der_len) == -1 ||
	    cert_info_parse(s->cert_der, s->cert_der_len, &info, err,
	    errlen) == -1) {
		snprintf(err, errlen, "%s: not a certificate", cfg->cert_file);
		goto fail;
	}
	p = s->cert_der;
	if ((x = d2i_X509(NULL, &p, (long)s->cert_der_len)) == NULL ||
	    X509_check_private_key(x, s->key) != 1) {
		ERR_clear_error();
		snprintf(err, errlen, "%s: the certificate is not for the key "
		    "in %s", cfg->cert_file, cfg->key_file);
		goto fail;
	}
	s->issuer = info.subject;
	s->issuer_len = info.subject_len;
	info.subject = NULL;
	s->not_after = info.not_after;
	if (info.ski != NULL) {
		if (hex_decode(info.ski, &s->ski, &s->ski_len) == -1)
			goto nomem;
	} else {
		/* RFC 5280 method 1: SHA-1 of the subjectPublicKey bits. */
		if ((s->ski = malloc(20)) == NULL)
			goto nomem;
		if (EVP_Digest(info.pubkey, info.pubkey_len, s->ski, NULL,
		    EVP_sha1(), NULL) != 1)
			goto nomem;
		s->ski_len = 20;
	}

	if ((cpem = pem_encode("CERTIFICATE", s->cert_der, s->cert_der_len))
	    == NULL)
		goto nomem;
	len = strlen(cpem);
	if (buf_append(&pem, cpem, len) == -1) {
		free(cpem);
		goto nomem;
	}
	free(cpem);
	if (cfg->chain_file != NULL &&
	    file_read(cfg->chain_file, &chain, &clen, MAX_CERT_FILE) == 0 &&
	    buf_append(&pem, chain, clen) == -1)
		goto nomem;
	s->chain_pem = buf_steal(&pem);
	signer_prepare(s);
	s->cdp_url = dup_or_null(cfg->cdp_url);
	s->aia_url = dup_or_null(cfg->aia_url);
	if (cfg->delta_enabled)
		s->delta_url = dup_or_null(cfg->delta_url);
	X509_free(x);
	free(file);
	free(chain);
	cert_info_free(&info);
	return 0;
 nomem:
	snprintf(err, errlen, "out of memory");
 fail:
	ERR_clear_error();
	X509_free(x);
	free(file);
	free(chain);
	buf_free(&pem);
	cert_info_free(&info);
	signer_free(s);
	return -1;
}

void
signer_prepare(struct signer *s)
{
	EVP_MD_CTX	*ctx;

	if (s->sign_tmpl != NULL || s->key == NULL ||
	    (ctx = EVP_MD_CTX_new()) == NULL)
		return;
	if (EVP_DigestSignInit(ctx, NULL, s->md, NULL, s->key) != 1) {
		EVP_MD_CTX_free(ctx);
		ERR_clear_error();
		return;
	}
	s->sign_tmpl = ctx;
}

void
signer_free(struct signer *s)
{
	if (s == NULL)
		return;
	EVP_MD_CTX_free(s->sign_tmpl);
	EVP_PKEY_free(s->key);
	free(s->sigalg);
	free(s->cert_der);
	free(s->issuer);
	free(s->ski);
	free(s->chain_pem);
	free(s->cdp_url);
	free(s->aia_url);
	free(s->delta_url);
	memset(s, 0, sizeof(*s));
}
