/*
 * fuzz_csr.c - libFuzzer target: csr_parse, and for what it accepts a
 * differential check against OpenSSL and a certificate built from it.
 *
 * Whatever certmint accepts, OpenSSL must parse as a request with the same
 * public key (certmint re-encodes it: the same key, not always the same
 * bytes) and the same extensions, its subject must be one OpenSSL reads
 * as the request's own subject, and the certificate cert_build signs for
 * it must load in OpenSSL with that subject and key and verify with the
 * CA's key. Any difference aborts, which libFuzzer reports as a crash.
 */
/* Before OpenSSL: x509v3.h defines CRL_REASON_* as macros. */
#include "crypto/crypto.h"
#include "fuzz.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>


static struct signer ca;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (fuzz_signer(&ca) == -1)
		abort();
	return 0;
}

static int
strp_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * What OpenSSL reads in a name: one "rdn|oid|UTF-8 value" line per
 * attribute, sorted (members of an RDN have no order), joined; malloc'd.
 * Names, not text forms, are compared: the two print OIDs differently.
 */
static char *
ossl_name_read(const X509_NAME *n)
{
	X509_NAME_ENTRY	*e;
	unsigned char	*u;
	char		 oid[128], **v, *out;
	size_t		 len = 1, o = 0;
	int		 i, k, ulen, cnt = X509_NAME_entry_count(n);

	if ((v = calloc((size_t)cnt + 1, sizeof(*v))) == NULL)
		abort();
	for (i = 0; i < cnt; i++) {
		e = X509_NAME_get_entry(n, i);
		OBJ_obj2txt(oid, sizeof(oid), X509_NAME_ENTRY_get_object(e), 1);
		if ((ulen = ASN1_STRING_to_UTF8(&u,
		    X509_NAME_ENTRY_get_data(e))) < 0)
			fuzz_fail("OpenSSL cannot read a name's value");
		if (asprintf(&v[i], "%d|%s|%.*s\n", X509_NAME_ENTRY_set(e), oid,
		    ulen, u) == -1)
			abort();
		OPENSSL_free(u);
		len += strlen(v[i]);
	}
	qsort(v, (size_t)cnt, sizeof(*v), strp_cmp);
	if ((out = malloc(len)) == NULL)
		abort();
	out[0] = '\0';
	for (k = 0; k < cnt; k++) {
		memcpy(out + o, v[k], strlen(v[k]) + 1);
		o += strlen(v[k]);
		free(v[k]);
	}
	free(v);
	return out;
}

/* ossl_name_read of a DER name, which OpenSSL must read whole. */
static char *
ossl_name_der(const unsigned char *der, size_t len)
{
	const unsigned char *p = der;
	X509_NAME	*n = d2i_X509_NAME(NULL, &p, (long)len);
	char		*s;

	if (n == NULL || p != der + len)
		fuzz_fail("OpenSSL cannot read certmint's subject");
	s = ossl_name_read(n);
	X509_NAME_free(n);
	return s;
}

/* The DER SubjectPublicKeyInfo OpenSSL sees in key; malloc'd. */
static unsigned char *
ossl_spki(EVP_PKEY *key, size_t *len)
{
	unsigned char	*p = NULL;
	int		 n = i2d_PUBKEY(key, &p);

	if (n <= 0)
		fuzz_fail("i2d_PUBKEY");
	*len = (size_t)n;
	return p;
}

/* Each extension certmint kept is one OpenSSL sees, with the same value. */
static void
same_extensions(const struct csr *c, X509_REQ *req)
{
	STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(req);
	const ASN1_OCTET_STRING *v;
	X509_EXTENSION	*x;
	char		 oid[128];
	size_t		 i;
	int		 k, found;

	if ((size_t)(exts ? sk_X509_EXTENSION_num(exts) : 0) != c->nexts)
		fuzz_fail("OpenSSL sees another number of extensions");
	for (i = 0; i < c->nexts; i++) {
		found = 0;
		for (k = 0; k < sk_X509_EXTENSION_num(exts); k++) {
			x = sk_X509_EXTENSION_value(exts, k);
			OBJ_obj2txt(oid, sizeof(oid),
			    X509_EXTENSION_get_object(x), 1);
			if (strcmp(oid, c->exts[i].oid) != 0)
				continue;
			v = X509_EXTENSION_get_data(x);
			if ((size_t)ASN1_STRING_length(v) != c->exts[i].len ||
			    memcmp(ASN1_STRING_get0_data(v), c->exts[i].value,
			    c->exts[i].len) != 0 ||
			    X509_EXTENSION_get_critical(x) != c->exts[i].critical)
				fuzz_fail("extension differs from OpenSSL's");
			found = 1;
		}
		if (!found)
			fuzz_fail("an extension OpenSSL does not see");
	}
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
}

/* Build the certificate and check it in OpenSSL. */
static void
check_certificate(const struct csr *c, const char *subject_read)
{
	struct cert_template tpl;
	struct cert_info info;
	const unsigned char *p;
	unsigned char	*der = NULL, *spki;
	size_t		 len, spki_len;
	EVP_PKEY	*cakey;
	X509		*x;
	char		*text;
	unsigned char	*sub = NULL;
	int		 sublen;

	memset(&tpl, 0, sizeof(tpl));
	memset(&info, 0, sizeof(info));
	tpl.subject = c->subject;
	tpl.subject_len = c->subject_len;
	tpl.spki = c->spki;
	tpl.spki_len = c->spki_len;
	tpl.sans = c->sans;
	tpl.nsans = c->nsans;
	tpl.profile = profile_builtin(PROFILE_TLS_SERVER);
	tpl.not_before = 1700000000;
	tpl.not_after = 1700000000 + 86400;
	if (serial_generate(tpl.serial) == -1 ||
	    cert_build(&ca, &tpl, &der, &len, &info) == -1)
		fuzz_fail("cert_build refused an accepted request");
	p = der;
	if ((x = d2i_X509(NULL, &p, (long)len)) == NULL || p != der + len)
		fuzz_fail("OpenSSL cannot load the certificate");
	if ((cakey = X509_get0_pubkey(x)) == NULL)
		fuzz_fail("no key in the certificate");
	spki = ossl_spki(cakey, &spki_len);
	if (spki_len != c->spki_len || memcmp(spki, c->spki, spki_len) != 0)
		fuzz_fail("certificate key differs from the request's");
	OPENSSL_free(spki);
	if ((sublen = i2d_X509_NAME(X509_get_subject_name(x), &sub)) <= 0)
		fuzz_fail("i2d_X509_NAME");
	if ((size_t)sublen != c->subject_len ||
	    memcmp(sub, c->subject, c->subject_len) != 0)
		fuzz_fail("certificate subject is not the re-encoded one");
	text = ossl_name_der(sub, (size_t)sublen);
	if (strcmp(text, subject_read) != 0)
		fuzz_fail("certificate subject differs");
	if (X509_verify(x, ca.key) != 1)
		fuzz_fail("certificate does not verify with the CA key");
	free(text);
	OPENSSL_free(sub);
	X509_free(x);
	free(der);
	cert_info_free(&info);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct csr	 c;
	const unsigned char *p;
	unsigned char	*spki;
	size_t		 spki_len;
	X509_REQ	*req;
	EVP_PKEY	*key;
	char		 err[512], *text, *orig;

	if (csr_parse(data, size, &c, err, sizeof(err)) == -1) {
		if (err[0] == '\0')
			fuzz_fail("refused without a reason");
		ERR_clear_error();
		return 0;
	}
	/* PEM input: OpenSSL reads the DER csr_parse decoded. */
	p = c.der;
	if ((req = d2i_X509_REQ(NULL, &p, (long)c.der_len)) == NULL)
		fuzz_fail("OpenSSL cannot parse a request certmint accepted");
	/*
	 * A key OpenSSL cannot read: certmint refuses it too once the
	 * signature is checked (ec_verify checks the point when the
	 * signature parses); only this build skips that, so not a finding.
	 */
	if ((key = X509_REQ_get0_pubkey(req)) == NULL) {
		X509_REQ_free(req);
		csr_free(&c);
		ERR_clear_error();
		return 0;
	}
	spki = ossl_spki(key, &spki_len);
	if (c.key_type != KEY__MAX && (spki_len != c.spki_len ||
	    memcmp(spki, c.spki, spki_len) != 0))
		fuzz_fail("re-encoded key differs from OpenSSL's encoding");
	OPENSSL_free(spki);
	same_extensions(&c, req);
	/* The re-encoded subject says what the request's said. */
	text = ossl_name_der(c.subject, c.subject_len);
	orig = ossl_name_read(X509_REQ_get_subject_name(req));
	if (strcmp(text, orig) != 0)
		fuzz_fail("the re-encoded subject reads differently");
	free(orig);
	/* What the default policy would issue for (it denies the rest). */
	if (c.key_type != KEY__MAX && (c.subject_len > 2 || c.nsans > 0))
		check_certificate(&c, text);
	free(text);
	X509_REQ_free(req);
	csr_free(&c);
	ERR_clear_error();
	return 0;
}
