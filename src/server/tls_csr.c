/*
 * tls_csr.c - the HTTPS certificate's request (tls_csr.h).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "tls_csr.h"

/* names as a subjectAltName extension, or NULL. */
static X509_EXTENSION *
san_ext(const char *const *names, size_t n)
{
	GENERAL_NAMES	*gens = GENERAL_NAMES_new();
	GENERAL_NAME	*g;
	ASN1_OCTET_STRING *ip;
	ASN1_IA5STRING	*dns;
	X509_EXTENSION	*ext = NULL;
	unsigned char	 addr[16];
	size_t		 i;
	int		 alen;

	for (i = 0; gens != NULL && i < n; i++) {
		if ((g = GENERAL_NAME_new()) == NULL)
			goto out;
		alen = inet_pton(AF_INET, names[i], addr) == 1 ? 4 :
		    inet_pton(AF_INET6, names[i], addr) == 1 ? 16 : 0;
		if (alen != 0) {
			if ((ip = ASN1_OCTET_STRING_new()) == NULL ||
			    !ASN1_OCTET_STRING_set(ip, addr, alen)) {
				ASN1_OCTET_STRING_free(ip);
				GENERAL_NAME_free(g);
				goto out;
			}
			GENERAL_NAME_set0_value(g, GEN_IPADD, ip);
		} else {
			if ((dns = ASN1_IA5STRING_new()) == NULL ||
			    !ASN1_STRING_set(dns, names[i], -1)) {
				ASN1_IA5STRING_free(dns);
				GENERAL_NAME_free(g);
				goto out;
			}
			GENERAL_NAME_set0_value(g, GEN_DNS, dns);
		}
		if (!sk_GENERAL_NAME_push(gens, g)) {
			GENERAL_NAME_free(g);
			goto out;
		}
	}
	if (gens != NULL)
		ext = X509V3_EXT_i2d(NID_subject_alt_name, 0, gens);
out:
	GENERAL_NAMES_free(gens);
	return ext;
}

char *
tls_make_csr(EVP_PKEY *key, const char *const *names, size_t n)
{
	X509_REQ	*req = X509_REQ_new();
	X509_NAME	*subj = X509_NAME_new();
	X509_EXTENSION	*ext = NULL;
	STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
	BIO		*b = NULL;
	BUF_MEM		*mem;
	char		*pem = NULL;

	if (n == 0 || req == NULL || subj == NULL || exts == NULL ||
	    !X509_NAME_add_entry_by_NID(subj, NID_commonName, MBSTRING_UTF8,
	    (const unsigned char *)names[0], -1, -1, 0) ||
	    !X509_REQ_set_subject_name(req, subj) ||
	    !X509_REQ_set_pubkey(req, key) ||
	    (ext = san_ext(names, n)) == NULL ||
	    !sk_X509_EXTENSION_push(exts, ext))
		goto out;
	ext = NULL;	/* the stack's */
	if (!X509_REQ_add_extensions(req, exts) ||
	    X509_REQ_sign(req, key, EVP_PKEY_id(key) == EVP_PKEY_ED25519 ?
	    NULL : EVP_sha256()) <= 0 ||
	    (b = BIO_new(BIO_s_mem())) == NULL ||
	    !PEM_write_bio_X509_REQ(b, req))
		goto out;
	BIO_get_mem_ptr(b, &mem);
	if ((pem = malloc(mem->length + 1)) != NULL) {
		memcpy(pem, mem->data, mem->length);
		pem[mem->length] = '\0';
	}
out:
	BIO_free(b);
	X509_EXTENSION_free(ext);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_NAME_free(subj);
	X509_REQ_free(req);
	return pem;
}
