/*
 * fixture.c - helpers for the crypto fast-path tests (see fixture.h).
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

/* crypto.h first: openssl/x509v3.h defines CRL_REASON_* as macros. */
#include "fixture.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

int
fx_tmpdir(char *out, size_t outsz)
{
	const char	*t = getenv("TMPDIR");

	if (snprintf(out, outsz, "%s/cmfast.XXXXXX", t ? t : "/tmp") >=
	    (int)outsz)
		return -1;
	return mkdtemp(out) == NULL ? -1 : 0;
}

void
fx_rmdir(const char *dir)
{
	if (dir != NULL && strstr(dir, "cmfast.") != NULL)
		fx_run("rm -rf '%s'", dir);
}

char	 fx_dir[256];

int
fx_group_setup(void **state)
{
	(void)state;
	return fx_tmpdir(fx_dir, sizeof(fx_dir));
}

int
fx_group_teardown(void **state)
{
	(void)state;
	fx_rmdir(fx_dir);
	return 0;
}

/*
 * Format a command into a malloc'd string.
 */
static char *
vcmd(const char *fmt, va_list ap)
{
	char	*s = NULL;

	if (vasprintf(&s, fmt, ap) == -1)
		return NULL;
	return s;
}

int
fx_run(const char *fmt, ...)
{
	va_list	 ap;
	char	*cmd;
	int	 rc;

	va_start(ap, fmt);
	cmd = vcmd(fmt, ap);
	va_end(ap);
	if (cmd == NULL)
		return -1;
	rc = system(cmd);
	free(cmd);
	if (rc == -1 || !WIFEXITED(rc))
		return -1;
	return WEXITSTATUS(rc);
}

char *
fx_capture(const char *fmt, ...)
{
	struct buf	 b = { 0 };
	va_list		 ap;
	char		*cmd, *full, chunk[4096];
	FILE		*f;
	size_t		 n;

	va_start(ap, fmt);
	cmd = vcmd(fmt, ap);
	va_end(ap);
	if (cmd == NULL)
		return NULL;
	if (asprintf(&full, "(%s) 2>&1", cmd) == -1) {
		free(cmd);
		return NULL;
	}
	free(cmd);
	f = popen(full, "r");
	free(full);
	if (f == NULL)
		return NULL;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_append(&b, chunk, n);
	pclose(f);
	return buf_steal(&b);
}

int
fx_write(const char *path, const void *p, size_t n)
{
	FILE	*f;
	int	 rc = 0;

	if ((f = fopen(path, "wb")) == NULL)
		return -1;
	if (n && fwrite(p, 1, n, f) != n)
		rc = -1;
	if (fclose(f) != 0)
		rc = -1;
	return rc;
}

unsigned char *
fx_read(const char *path, size_t *len)
{
	unsigned char	*p;

	if (file_read(path, &p, len, 1 << 30) == -1)
		return NULL;
	return p;
}

int
fx_write_pem(const char *path, const char *label, const unsigned char *der,
    size_t len)
{
	struct buf	 b = { 0 };
	char		*s;
	size_t		 i, n;
	int		 rc;

	if ((s = base64_encode(der, len)) == NULL)
		return -1;
	buf_printf(&b, "-----BEGIN %s-----\n", label);
	for (i = 0, n = strlen(s); i < n; i += 64) {
		buf_append(&b, s + i, n - i < 64 ? n - i : 64);
		buf_appendc(&b, '\n');
	}
	buf_printf(&b, "-----END %s-----\n", label);
	free(s);
	rc = fx_write(path, b.data, b.len);
	buf_free(&b);
	return rc;
}

EVP_PKEY *
fx_keygen(enum key_type t)
{
	switch (t) {
	case KEY_EC_P256:
		return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	case KEY_EC_P384:
		return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	case KEY_RSA_2048:
		return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	case KEY_RSA_3072:
		return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)3072);
	case KEY_RSA_4096:
		return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)4096);
	case KEY_ED25519:
		return EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	default:
		return NULL;
	}
}

unsigned char *
fx_spki(EVP_PKEY *k, size_t *len)
{
	unsigned char	*p = NULL;
	int		 n;

	if ((n = i2d_PUBKEY(k, &p)) <= 0)
		return NULL;
	*len = (size_t)n;
	return p;
}

/*
 * Fill an X509_NAME from "CN=a,O=b".
 */
static X509_NAME *
name_from_text(const char *text)
{
	X509_NAME	*n;
	char		*dup, *tok, *save, *eq;

	if ((n = X509_NAME_new()) == NULL || (dup = strdup(text)) == NULL)
		return n;
	for (tok = strtok_r(dup, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		if ((eq = strchr(tok, '=')) == NULL)
			continue;
		*eq++ = '\0';
		X509_NAME_add_entry_by_txt(n, tok, MBSTRING_UTF8,
		    (const unsigned char *)eq, -1, -1, 0);
	}
	free(dup);
	return n;
}

unsigned char *
fx_name(const char *text, size_t *len)
{
	X509_NAME	*n = name_from_text(text);
	unsigned char	*p = NULL;
	int		 l;

	if (n == NULL)
		return NULL;
	l = i2d_X509_NAME(n, &p);
	X509_NAME_free(n);
	if (l <= 0)
		return NULL;
	*len = (size_t)l;
	return p;
}

/*
 * Add a v3 extension from config text to x (issued by itself).
 */
static int
add_ext(X509 *x, int nid, const char *value)
{
	X509V3_CTX	 ctx;
	X509_EXTENSION	*e;
	int		 rc;

	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	if ((e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value)) == NULL)
		return -1;
	rc = X509_add_ext(x, e, -1) == 1 ? 0 : -1;
	X509_EXTENSION_free(e);
	return rc;
}

/*
 * A malloc'd copy of n bytes.
 */
static unsigned char *
dup_bytes(const unsigned char *p, size_t n)
{
	unsigned char	*q = malloc(n ? n : 1);

	if (q != NULL && n)
		memcpy(q, p, n);
	return q;
}

int
fx_ca(struct signer *s, enum key_type t, const char *cn, const char *path,
    int with_delta)
{
	X509		*x = NULL;
	X509_NAME	*n = NULL;
	const ASN1_OCTET_STRING *ski;
	unsigned char	*p;
	char		*subj = NULL;
	int		 len, rc = -1;

	memset(s, 0, sizeof(*s));
	s->key_type = t;
	if ((s->key = fx_keygen(t)) == NULL)
		goto out;
	s->md = t == KEY_ED25519 ? NULL : t == KEY_EC_P384 ? EVP_sha384() :
	    EVP_sha256();
	if (asprintf(&subj, "CN=%s,O=certmint tests", cn) == -1)
		goto out;
	if ((x = X509_new()) == NULL || (n = name_from_text(subj)) == NULL)
		goto out;
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 4242);
	X509_gmtime_adj(X509_getm_notBefore(x), -86400);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400L * 365 * 30);
	X509_set_subject_name(x, n);
	X509_set_issuer_name(x, n);
	X509_set_pubkey(x, s->key);
	if (add_ext(x, NID_basic_constraints, "critical,CA:TRUE") == -1 ||
	    add_ext(x, NID_key_usage, "critical,keyCertSign,cRLSign") == -1 ||
	    add_ext(x, NID_subject_key_identifier, "hash") == -1)
		goto out;
	if (X509_sign(x, s->key, s->md) <= 0)
		goto out;

	p = NULL;
	if ((len = i2d_X509_ALGOR(X509_get0_tbs_sigalg(x), &p)) <= 0)
		goto out;
	s->sigalg = p;
	s->sigalg_len = (size_t)len;
	p = NULL;
	if ((len = i2d_X509_NAME(n, &p)) <= 0)
		goto out;
	s->issuer = p;
	s->issuer_len = (size_t)len;
	p = NULL;
	if ((len = i2d_X509(x, &p)) <= 0)
		goto out;
	s->cert_der = p;
	s->cert_der_len = (size_t)len;
	if ((ski = X509_get0_subject_key_id(x)) == NULL)
		goto out;
	s->ski = dup_bytes(ASN1_STRING_get0_data(ski),
	    (size_t)ASN1_STRING_length(ski));
	s->ski_len = (size_t)ASN1_STRING_length(ski);
	s->cdp_url = strdup("http://ca.test/ca.crl");
	s->aia_url = strdup("http://ca.test/ca.crt");
	if (with_delta) {
		s->delta_url = strdup("http://ca.test/delta.crl");
		s->freshest = calloc(1, sizeof(*s->freshest));
		s->freshest[0] = strdup(s->delta_url);
		s->nfreshest = 1;
	}
	s->not_after = time_now() + 86400L * 365 * 30;
	if (path != NULL &&
	    fx_write_pem(path, "CERTIFICATE", s->cert_der, s->cert_der_len) == -1)
		goto out;
	rc = 0;
out:
	if (rc == -1) {
		ERR_print_errors_fp(stderr);
		fx_signer_free(s);
	}
	free(subj);
	X509_NAME_free(n);
	X509_free(x);
	return rc;
}

void
fx_signer_free(struct signer *s)
{
	EVP_PKEY_free(s->key);
	OPENSSL_free(s->sigalg);
	OPENSSL_free(s->issuer);
	OPENSSL_free(s->cert_der);
	free(s->ski);
	free(s->chain_pem);
	free(s->cdp_url);
	free(s->aia_url);
	free(s->delta_url);
	while (s->nfreshest > 0)
		free(s->freshest[--s->nfreshest]);
	free(s->freshest);
	memset(s, 0, sizeof(*s));
}

int
fx_template(struct cert_template *t, const unsigned char *subject,
    size_t subject_len, const unsigned char *spki, size_t spki_len,
    enum profile p)
{
	memset(t, 0, sizeof(*t));
	t->subject = subject;
	t->subject_len = subject_len;
	t->spki = spki;
	t->spki_len = spki_len;
	t->profile = profile_builtin(p);
	t->not_before = time_now() - 60;
	t->not_after = t->not_before + 86400L * 365;
	return serial_generate(t->serial);
}

char *
fx_hexnorm(char *s)
{
	char	*r, *w;

	for (r = w = s; *r; r++) {
		if (*r == ':' || isspace((unsigned char)*r))
			continue;
		*w++ = (char)tolower((unsigned char)*r);
	}
	*w = '\0';
	return s;
}
