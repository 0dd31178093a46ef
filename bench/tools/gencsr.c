/*
 * gencsr - write N fresh P-256 PKCS#10 requests (CN=bench-<i>.example,
 * a DNS subjectAltName) to FILE as records of a 4-byte big-endian length
 * and the DER, for loadgen. With --pem DIR also as DIR/<i>.csr (for
 * openssl ca).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

int
main(int argc, char *argv[])
{
	FILE		*out;
	long		 i, n;
	const char	*pemdir = NULL;

	if (argc != 3 && !(argc == 5 && strcmp(argv[3], "--pem") == 0)) {
		fprintf(stderr, "usage: gencsr N FILE [--pem DIR]\n");
		return 2;
	}
	n = strtol(argv[1], NULL, 10);
	if (argc == 5)
		pemdir = argv[4];
	if ((out = fopen(argv[2], "wb")) == NULL) {
		perror(argv[2]);
		return 1;
	}
	for (i = 0; i < n; i++) {
		EVP_PKEY	*key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
		X509_REQ	*req = X509_REQ_new();
		X509_NAME	*name = X509_NAME_new();
		STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
		X509_EXTENSION	*ext;
		unsigned char	*der = NULL, hdr[4];
		char		 cn[64], san[80];
		int		 len;

		snprintf(cn, sizeof(cn), "bench-%ld.example", i);
		snprintf(san, sizeof(san), "DNS:%s", cn);
		X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
		    (unsigned char *)cn, -1, -1, 0);
		X509_REQ_set_subject_name(req, name);
		X509_REQ_set_pubkey(req, key);
		ext = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, san);
		sk_X509_EXTENSION_push(exts, ext);
		X509_REQ_add_extensions(req, exts);
		if (key == NULL || X509_REQ_sign(req, key, EVP_sha256()) <= 0 ||
		    (len = i2d_X509_REQ(req, &der)) <= 0) {
			fprintf(stderr, "gencsr: cannot make request %ld\n", i);
			return 1;
		}
		hdr[0] = (unsigned char)(len >> 24);
		hdr[1] = (unsigned char)(len >> 16);
		hdr[2] = (unsigned char)(len >> 8);
		hdr[3] = (unsigned char)len;
		fwrite(hdr, 1, 4, out);
		fwrite(der, 1, (size_t)len, out);
		if (pemdir != NULL) {
			char	 path[4096];
			FILE	*f;

			snprintf(path, sizeof(path), "%s/%ld.csr", pemdir, i);
			if ((f = fopen(path, "w")) != NULL) {
				PEM_write_X509_REQ(f, req);
				fclose(f);
			}
		}
		OPENSSL_free(der);
		sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
		X509_NAME_free(name);
		X509_REQ_free(req);
		EVP_PKEY_free(key);
	}
	return fclose(out) == 0 ? 0 : 1;
}
