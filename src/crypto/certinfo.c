/*
 * certinfo.c - read a certificate's recorded properties from its DER (for
 * imports and the CA certificate), and check who issued it.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#include "crypto.h"
#include "der.h"

#define OID_SKI	"2.5.29.14"

static void *
dup_bytes(const void *p, size_t n)
{
	void	*q = malloc(n ? n : 1);

	if (q != NULL)
		memcpy(q, p, n);
	return q;
}

static int
add_ext(struct cert_info *info, const struct der_tlv *ext)
{
	struct der	 d;
	struct der_tlv	 oid, crit, val;
	struct x509_ext	*x;
	int		 present, critical = 0;

	der_init(&d, ext->val, ext->len);
	if (der_expect(&d, DER_OID, &oid) == -1 ||
	    der_optional(&d, DER_BOOLEAN, &crit, &present) == -1 ||
	    (present && der_get_bool(&crit, &critical) == -1) ||
	    der_expect(&d, DER_OCTETSTRING, &val) == -1 || !der_at_end(&d))
		return -1;
	x = reallocarray(info->exts, info->nexts + 1, sizeof(*x));
	if (x == NULL)
		return -1;
	info->exts = x;
	x += info->nexts++;
	memset(x, 0, sizeof(*x));
	x->critical = critical;
	if ((x->oid = der_oid_text(oid.val, oid.len)) == NULL ||
	    (x->value = dup_bytes(val.val, val.len)) == NULL)
		return -1;
	x->len = val.len;
	if (strcmp(x->oid, OID_SKI) == 0 && info->ski == NULL) {
		struct der_tlv	 kid;

		if (der_whole(val.val, val.len, DER_OCTETSTRING, &kid) == -1 ||
		    (info->ski = hex_encode(kid.val, kid.len)) == NULL)
			return -1;
	}
	return 0;
}

static int
parse_tbs(const struct der_tlv *tbs, struct cert_info *info)
{
	struct der	 d, v, e;
	struct der_tlv	 t, serial, nb, na, subject, spki, alg, params, pub,
			 ext;
	const unsigned char *mag, *key;
	size_t		 maglen, keylen;
	int		 present, has_params, unused;

	der_init(&d, tbs->val, tbs->len);
	if (der_optional(&d, DER_CTX_CONS(0), &t, &present) == -1 ||
	    der_expect(&d, DER_INTEGER, &serial) == -1 ||
	    der_get_uint_bytes(&serial, &mag, &maglen) == -1 ||
	    der_expect(&d, DER_SEQUENCE, &t) == -1 ||
	    der_expect(&d, DER_SEQUENCE, &t) == -1)
		return -1;
	if ((info->issuer = dup_bytes(t.raw, t.raw_len)) == NULL)
		return -1;
	info->issuer_len = t.raw_len;
	if ((info->serial = hex_encode(mag, maglen)) == NULL ||
	    der_enter(&d, DER_SEQUENCE, &v) == -1 ||
	    der_read(&v, &nb) == -1 || der_get_time(&nb, &info->not_before)
	    == -1 || der_read(&v, &na) == -1 ||
	    der_get_time(&na, &info->not_after) == -1 ||
	    der_expect(&d, DER_SEQUENCE, &subject) == -1 ||
	    der_expect(&d, DER_SEQUENCE, &spki) == -1)
		return -1;
	if ((info->subject = dup_bytes(subject.raw, subject.raw_len)) == NULL ||
	    (info->subject_dn = name_to_text(subject.raw, subject.raw_len))
	    == NULL)
		return -1;
	info->subject_len = subject.raw_len;
	if (der_spki(spki.raw, spki.raw_len, &alg, &params, &has_params,
	    &pub) == -1 || der_get_bitstring(&pub, &key, &keylen, &unused)
	    == -1 || (info->pk_alg_oid = der_oid_text(alg.val, alg.len))
	    == NULL || (info->pubkey = dup_bytes(key, keylen)) == NULL)
		return -1;
	info->pubkey_len = keylen;
	info->pk_bits = der_spki_bits(&alg, &params, has_params, key, keylen);
	if (has_params) {
		if ((info->pk_params = dup_bytes(params.raw, params.raw_len))
		    == NULL)
			return -1;
		info->pk_params_len = params.raw_len;
	}
	if (der_optional(&d, DER_CTX(1), &t, &present) == -1 ||
	    der_optional(&d, DER_CTX(2), &t, &present) == -1 ||
	    der_optional(&d, DER_CTX_CONS(3), &t, &present) == -1)
		return -1;
	if (present) {
		der_init(&e, t.val, t.len);
		if (der_enter(&e, DER_SEQUENCE, &v) == -1)
			return -1;
		while (!der_at_end(&v))
			if (der_expect(&v, DER_SEQUENCE, &ext) == -1 ||
			    add_ext(info, &ext) == -1)
				return -1;
	}
	return der_at_end(&d) ? 0 : -1;
}

int
cert_info_parse(const unsigned char *in, size_t len, struct cert_info *info,
    char *err, size_t errlen)
{
	unsigned char	*der = NULL, md[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen;
	size_t		 der_len;
	struct der	 d;
	struct der_tlv	 cert, tbs;
	char		*h;

	memset(info, 0, sizeof(*info));
	if (pem_or_der(in, len, "CERTIFICATE", &der, &der_len) == -1) {
		snprintf(err, errlen, "not a certificate (neither DER nor PEM "
		    "\"CERTIFICATE\")");
		return -1;
	}
	if (der_whole(der, der_len, DER_SEQUENCE, &cert) == -1)
		goto bad;
	der_init(&d, cert.val, cert.len);
	if (der_expect(&d, DER_SEQUENCE, &tbs) == -1 ||
	    parse_tbs(&tbs, info) == -1)
		goto bad;
	if (EVP_Digest(der, der_len, md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    (h = hex_encode(md, mdlen)) == NULL) {
		ERR_clear_error();
		goto bad;
	}
	strlcpy_cm(info->hash, h, sizeof(info->hash));
	free(h);
	free(der);
	return 0;
 bad:
	snprintf(err, errlen, "malformed certificate");
	free(der);
	cert_info_free(info);
	return -1;
}

void
cert_info_free(struct cert_info *info)
{
	size_t	 i;

	if (info == NULL)
		return;
	free(info->serial);
	free(info->subject);
	free(info->subject_dn);
	free(info->issuer);
	free(info->pk_alg_oid);
	free(info->pk_params);
	free(info->pubkey);
	free(info->ski);
	for (i = 0; i < info->nexts; i++) {
		free(info->exts[i].oid);
		free(info->exts[i].value);
	}
	free(info->exts);
	memset(info, 0, sizeof(*info));
}

int
cert_check_issued_by(const struct signer *s, const unsigned char *der,
    size_t len, char *err, size_t errlen)
{
	struct cert_info info;
	const unsigned char *p = der;
	X509		*x = NULL;
	int		 rc = -1;

	if (cert_info_parse(der, len, &info, err, errlen) == -1)
		return -1;
	if (info.issuer_len != s->issuer_len ||
	    memcmp(info.issuer, s->issuer, s->issuer_len) != 0) {
		snprintf(err, errlen, "the certificate's issuer is not this CA");
		goto out;
	}
	if ((x = d2i_X509(NULL, &p, (long)len)) == NULL ||
	    X509_verify(x, s->key) != 1) {
		snprintf(err, errlen, "the certificate's signature is not by "
		    "this CA's key");
		goto out;
	}
	rc = 0;
 out:
	ERR_clear_error();
	X509_free(x);
	cert_info_free(&info);
	return rc;
}

#define OID_UPN	"1.3.6.1.4.1.311.20.2.3"

/*
 * The first UPN of a subjectAltName extension value: an otherName of type
 * id-ms-san-upn whose value is [0] EXPLICIT UTF8String.
 */
int
san_upn(const unsigned char *san, size_t len, char **upn)
{
	struct der	 names, on, val;
	struct der_tlv	 gn, oid, s;

	*upn = NULL;
	der_init(&names, san, len);
	if (der_enter(&names, DER_SEQUENCE, &names) == -1)
		return -1;
	while (!der_at_end(&names)) {
		if (der_read(&names, &gn) == -1)
			return -1;
		if (gn.tag != DER_CTX_CONS(0))
			continue;
		der_init(&on, gn.val, gn.len);
		if (der_expect(&on, DER_OID, &oid) == -1)
			return -1;
		if (!der_oid_eq(oid.val, oid.len, OID_UPN))
			continue;
		if (der_enter(&on, DER_CTX_CONS(0), &val) == -1 ||
		    der_expect(&val, DER_UTF8STRING, &s) == -1 ||
		    memchr(s.val, '\0', s.len) != NULL)
			return -1;
		if ((*upn = malloc(s.len + 1)) == NULL)
			return -1;
		memcpy(*upn, s.val, s.len);
		(*upn)[s.len] = '\0';
		return 0;
	}
	return 0;
}

/*
 * A thumbprint as AD CS shows it: the digest in lowercase hex, a space
 * between bytes ("d0 57 9a ...").
 */
int
cert_thumbprint(const unsigned char *der, size_t len, int sha256, char *out,
    size_t outlen)
{
	unsigned char	 md[EVP_MAX_MD_SIZE];
	unsigned int	 n, i;
	static const char hex[] = "0123456789abcdef";

	if (EVP_Digest(der, len, md, &n, sha256 ? EVP_sha256() : EVP_sha1(),
	    NULL) != 1 || outlen < (size_t)n * 3)
		return -1;
	for (i = 0; i < n; i++) {
		out[i * 3] = hex[md[i] >> 4];
		out[i * 3 + 1] = hex[md[i] & 0xf];
		out[i * 3 + 2] = i + 1 < n ? ' ' : '\0';
	}
	return 0;
}

int
cert_same_key(const unsigned char *a, size_t alen, const unsigned char *b,
    size_t blen)
{
	const unsigned char *p;
	X509		*x = NULL, *y = NULL;
	int		 rc = -1;

	p = a;
	if ((x = d2i_X509(NULL, &p, (long)alen)) == NULL)
		goto out;
	p = b;
	if ((y = d2i_X509(NULL, &p, (long)blen)) == NULL)
		goto out;
	rc = EVP_PKEY_eq(X509_get0_pubkey(x), X509_get0_pubkey(y)) == 1;
out:
	ERR_clear_error();
	X509_free(x);
	X509_free(y);
	return rc;
}

int
sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char	 md[EVP_MAX_MD_SIZE];
	unsigned int	 n, i;
	static const char hex[] = "0123456789abcdef";

	if (EVP_Digest(data, len, md, &n, EVP_sha256(), NULL) != 1 || n != 32)
		return -1;
	for (i = 0; i < n; i++) {
		out[i * 2] = hex[md[i] >> 4];
		out[i * 2 + 1] = hex[md[i] & 0xf];
	}
	out[64] = '\0';
	return 0;
}

int
spki_cert_same_key(const unsigned char *spki, size_t spkilen,
    const unsigned char *cert, size_t certlen)
{
	const unsigned char *p;
	EVP_PKEY	*k = NULL;
	X509		*x = NULL;
	int		 rc = -1;

	p = spki;
	if ((k = d2i_PUBKEY(NULL, &p, (long)spkilen)) == NULL)
		goto out;
	p = cert;
	if ((x = d2i_X509(NULL, &p, (long)certlen)) == NULL)
		goto out;
	rc = EVP_PKEY_eq(k, X509_get0_pubkey(x)) == 1;
out:
	ERR_clear_error();
	EVP_PKEY_free(k);
	X509_free(x);
	return rc;
}

int
cert_verify_data(const unsigned char *cert, size_t certlen,
    const unsigned char *data, size_t len, const unsigned char *sig,
    size_t siglen)
{
	const unsigned char *p = cert;
	const EVP_MD	*md = EVP_sha256();
	EVP_MD_CTX	*ctx = NULL;
	EVP_PKEY	*k;
	X509		*x;
	int		 rc = -1, id;

	if ((x = d2i_X509(NULL, &p, (long)certlen)) == NULL ||
	    (k = X509_get0_pubkey(x)) == NULL)
		goto out;
	/* EdDSA signs the message itself: no digest first. */
	id = EVP_PKEY_get_base_id(k);
	if (id == EVP_PKEY_ED25519 || id == EVP_PKEY_ED448)
		md = NULL;
	rc = 0;
	if ((ctx = EVP_MD_CTX_new()) != NULL &&
	    EVP_DigestVerifyInit(ctx, NULL, md, NULL, k) == 1 &&
	    EVP_DigestVerify(ctx, sig, siglen, data, len) == 1)
		rc = 1;
out:
	ERR_clear_error();
	EVP_MD_CTX_free(ctx);
	X509_free(x);
	return rc;
}
