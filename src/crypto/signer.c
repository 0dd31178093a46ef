/*
 * signer.c - the CA's signing state: key, certificate, issuer name, key
 * identifier, signature algorithm and publication URLs, loaded once.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "ca_limits.h"
#include "crypto.h"
#include "der.h"
#include "../common/profile.h"

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

/*
 * The URLs a base CRL of s's key names for its delta CRL: the CA's
 * [publish] delta_url, then each other one a profile puts in its
 * certificates' Freshest CRL, once each. A base CRL is one file whichever
 * CDP it was fetched from, so it names every location of its delta: the
 * one in a certificate is always among them (RFC 5280 4.2.1.13: the names
 * of one distribution point are ways to the same CRL). None when delta
 * CRLs are off. Returns 0 or -1 (out of memory).
 */
static int
freshest_load(struct signer *s, const struct cm_config *cfg, int idx)
{
	const struct cm_profile *p;
	char		*u, **v;
	size_t		 i, j;

	if (s->delta_url == NULL)
		return 0;
	for (i = 0; i <= cfg->nprofiles; i++) {
		p = i == 0 ? NULL : &cfg->profile_list[i - 1];
		if (p != NULL && (p->delta_url == NULL || *p->delta_url == '\0'))
			continue;
		if ((u = p == NULL ? strdup(s->delta_url) :
		    url_finish(p->delta_url, idx, s->key_idx)) == NULL)
			return -1;
		for (j = 0; j < s->nfreshest && strcmp(s->freshest[j], u); j++)
			;
		if (j < s->nfreshest) {
			free(u);
			continue;
		}
		if ((v = reallocarray(s->freshest, s->nfreshest + 1,
		    sizeof(*v))) == NULL) {
			free(u);
			return -1;
		}
		s->freshest = v;
		s->freshest[s->nfreshest++] = u;
	}
	return 0;
}

/*
 * Load into s the CA certificate certs[idx] and its key, named by cfg. Only
 * the newest's signer (with_chain) reads the parent chain. 0 or -1 with
 * err.
 */
static int
signer_load_one(struct signer *s, const struct cm_config *cfg,
    const struct ca_cert *certs, int idx, int with_chain, char *err,
    size_t errlen)
{
	struct cert_info info;
	unsigned char	*chain = NULL;
	size_t		 clen = 0, len;
	const unsigned char *p;
	X509		*x = NULL;
	struct buf	 pem = { 0 };
	char		*cpem, *key_path, *cert_path = NULL;

	memset(s, 0, sizeof(*s));
	memset(&info, 0, sizeof(info));
	s->cert_idx = idx;
	s->key_idx = certs[idx].key_idx;
	if ((key_path = path_indexed(cfg->key_file, s->key_idx)) == NULL ||
	    (cert_path = path_indexed(cfg->cert_file, idx)) == NULL)
		goto nomem;
	if (key_load(key_path, &s->key, err, errlen) == -1)
		goto fail;
	s->key_type = key_type_of(s->key);
	if (s->key_type != KEY_ED25519 &&
	    (s->md = EVP_get_digestbyname(cfg->hash)) == NULL) {
		snprintf(err, errlen, "unknown hash \"%s\"", cfg->hash);
		goto fail;
	}
	if (sigalg_der(s, cfg->hash, err, errlen) == -1)
		goto fail;
	s->cert_der_len = certs[idx].len;
	if ((s->cert_der = malloc(s->cert_der_len)) == NULL)
		goto nomem;
	memcpy(s->cert_der, certs[idx].der, s->cert_der_len);
	if (cert_info_parse(s->cert_der, s->cert_der_len, &info, err,
	    errlen) == -1) {
		snprintf(err, errlen, "%s: not a certificate", cert_path);
		goto fail;
	}
	p = s->cert_der;
	if ((x = d2i_X509(NULL, &p, (long)s->cert_der_len)) == NULL ||
	    X509_check_private_key(x, s->key) != 1) {
		ERR_clear_error();
		snprintf(err, errlen, "%s: the certificate is not for the key "
		    "in %s", cert_path, key_path);
		goto fail;
	}
	s->issuer = info.subject;
	s->issuer_len = info.subject_len;
	info.subject = NULL;
	s->not_before = info.not_before;
	s->not_after = info.not_after;
	if (ca_limits_read(x, &s->path_len, &s->eku, &s->neku) == -1)
		goto nomem;
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
	if (with_chain && cfg->chain_file != NULL) {
		if (file_read(cfg->chain_file, &chain, &clen, MAX_CERT_FILE)
		    == 0) {
			if (buf_append(&pem, chain, clen) == -1)
				goto nomem;
		} else if (X509_NAME_cmp(X509_get_subject_name(x),
		    X509_get_issuer_name(x)) != 0)
			/* A subordinate CA without its chain to the root. */
			log_warn("%s: %s: the CA's chain to its root is not "
			    "served (in ca.pem and the REST answers' chain): "
			    "put the parent's chain there, or name it in [ca] "
			    "chain", cfg->chain_file, file_strerror(errno));
	}
	s->chain_pem = buf_steal(&pem);
	signer_prepare(s);
	/* The URLs name this certificate's and this key's files (%4, %8). */
	if ((cfg->cdp_url != NULL && *cfg->cdp_url != '\0' &&
	    (s->cdp_url = url_finish(cfg->cdp_url, idx, s->key_idx)) == NULL) ||
	    (cfg->aia_url != NULL && *cfg->aia_url != '\0' &&
	    (s->aia_url = url_finish(cfg->aia_url, idx, s->key_idx)) == NULL) ||
	    (cfg->delta_enabled && cfg->delta_url != NULL &&
	    *cfg->delta_url != '\0' && (s->delta_url =
	    url_finish(cfg->delta_url, idx, s->key_idx)) == NULL) ||
	    freshest_load(s, cfg, idx) == -1)
		goto nomem;
	X509_free(x);
	free(chain);
	free(key_path);
	free(cert_path);
	cert_info_free(&info);
	return 0;
 nomem:
	snprintf(err, errlen, "out of memory");
 fail:
	ERR_clear_error();
	X509_free(x);
	free(chain);
	free(key_path);
	free(cert_path);
	buf_free(&pem);
	cert_info_free(&info);
	signer_free(s);
	return -1;
}

static void
ca_certs_free(struct ca_cert *certs, int n)
{
	int	 i;

	for (i = 0; certs != NULL && i < n; i++)
		free(certs[i].der);
	free(certs);
}

/*
 * Read every CA certificate: cfg's cert file is index 0, "ca(N).crt"
 * beside it index N, up to the first missing one. Each gets its key's
 * index: the first certificate's with the same public key. 0 or -1 with
 * err.
 */
static int
ca_certs_read(const struct cm_config *cfg, struct ca_cert **out, int *nout,
    char *err, size_t errlen)
{
	struct ca_cert	*certs = NULL, *c;
	struct cert_info *info = NULL, *ni;
	unsigned char	*file;
	size_t		 flen;
	char		*path;
	int		 n, j, rc = -1;

	for (n = 0; n < SIGNER_MAX_CERTS; n++) {
		if ((path = path_indexed(cfg->cert_file, n)) == NULL)
			goto nomem;
		if (file_read(path, &file, &flen, MAX_CERT_FILE) == -1) {
			if (errno == ENOENT && n > 0) {
				free(path);
				break;
			}
			/* A subordinate CA waits for its parent's certificate. */
			if (errno == ENOENT)
				snprintf(err, errlen, "%s: no CA certificate (a "
				    "subordinate CA needs `certmint "
				    "install-ca-cert` first)", path);
			else
				snprintf(err, errlen, "%s: %s", path,
				    errno ? file_strerror(errno) : "cannot read");
			free(path);
			goto out;
		}
		if ((c = realloc(certs, (n + 1) * sizeof(*c))) == NULL ||
		    (certs = c, (ni = realloc(info, (n + 1) *
		    sizeof(*ni))) == NULL)) {
			free(file);
			free(path);
			goto nomem;
		}
		info = ni;
		c = &certs[n];
		memset(c, 0, sizeof(*c));
		memset(&info[n], 0, sizeof(info[n]));
		if (pem_or_der(file, flen, "CERTIFICATE", &c->der, &c->len)
		    == -1 || cert_info_parse(c->der, c->len, &info[n], err,
		    errlen) == -1) {
			snprintf(err, errlen, "%s: not a certificate", path);
			free(file);
			free(path);
			n++;
			goto out;
		}
		free(file);
		free(path);
		c->not_after = info[n].not_after;
		for (j = 0; j < n; j++)
			if (info[j].pubkey_len == info[n].pubkey_len &&
			    memcmp(info[j].pubkey, info[n].pubkey,
			    info[n].pubkey_len) == 0)
				break;
		c->key_idx = j < n ? certs[j].key_idx : n;
	}
	*out = certs;
	*nout = n;
	certs = NULL;
	rc = 0;
	goto out;
 nomem:
	snprintf(err, errlen, "out of memory");
 out:
	for (j = 0; info != NULL && j < n; j++)
		cert_info_free(&info[j]);
	free(info);
	if (rc == -1)
		ca_certs_free(certs, n);
	return rc;
}

int
signer_load(struct signer *s, const struct cm_config *cfg, char *err,
    size_t errlen)
{
	struct ca_cert	*certs;
	struct signer	*o;
	int64_t		 now = time_now(), last;
	int		 n, i, k, m;

	memset(s, 0, sizeof(*s));
	if (ca_certs_read(cfg, &certs, &n, err, errlen) == -1)
		return -1;
	if (signer_load_one(s, cfg, certs, n - 1, 1, err, errlen) == -1) {
		ca_certs_free(certs, n);
		return -1;
	}
	s->certs = certs;
	s->ncerts = n;
	/*
	 * An older key signs the CRL of the certificates it signed, as its
	 * newest certificate (AD CS's CRL index), while any of its
	 * certificates is valid: after, all it signed have expired. Not only
	 * the newest: a renewal with the same key that its parent cut short
	 * ends before the certificate it renewed.
	 */
	for (k = s->key_idx - 1; k >= 0; k--) {
		for (m = -1, last = 0, i = 0; i < n; i++)
			if (certs[i].key_idx == k) {
				m = i;
				if (certs[i].not_after > last)
					last = certs[i].not_after;
			}
		if (m < 0 || last <= now)
			continue;
		if ((o = reallocarray(s->older, s->nolder + 1,
		    sizeof(*o))) == NULL) {
			snprintf(err, errlen, "out of memory");
			signer_free(s);
			return -1;
		}
		s->older = o;
		if (signer_load_one(&s->older[s->nolder], cfg, certs, m, 0, err,
		    errlen) == -1) {
			signer_free(s);
			return -1;
		}
		s->nolder++;
	}
	return 0;
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
	size_t	 i;

	if (s == NULL)
		return;
	for (i = 0; i < s->neku; i++)
		free(s->eku[i]);
	free(s->eku);
	EVP_MD_CTX_free(s->sign_tmpl);
	EVP_PKEY_free(s->key);
	free(s->sigalg);
	free(s->cert_der);
	free(s->issuer);
	free(s->ski);
	free(s->chain_pem);
	for (i = 0; i < s->nolder; i++)
		signer_free(&s->older[i]);
	free(s->older);
	ca_certs_free(s->certs, s->ncerts);
	free(s->cdp_url);
	free(s->aia_url);
	free(s->delta_url);
	for (i = 0; i < s->nfreshest; i++)
		free(s->freshest[i]);
	free(s->freshest);
	memset(s, 0, sizeof(*s));
}
