/*
 * tls.c - the HTTPS listener's certificate (tls.h). libmicrohttpd asks
 * for it in each handshake (MHD_OPTION_HTTPS_CERT_CALLBACK), so that a
 * reload swaps it for the next connection without restarting the
 * listener and without touching the connections open, whose suspended
 * submissions the writer still resumes.
 */
#include <sys/stat.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>
#include <gnutls/abstract.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "tls.h"

#define TLS_CHAIN_MAX	8
#define TLS_FILE_MAX	(1 << 20)

/* One certificate and key as loaded. */
struct tls_cred {
	gnutls_pcert_st	 pcerts[TLS_CHAIN_MAX];
	unsigned int	 npcerts;
	gnutls_privkey_t key;
	unsigned char	*cert_pem;	/* the file as read: to see a change */
	size_t		 cert_len;
	unsigned char	*key_pem;
	size_t		 key_len;
	struct tls_cred	*older;
};

/*
 * GnuTLS's certificate callback has no argument of ours: one HTTPS
 * listener per process, its state here. A handshake may still use a
 * replaced certificate, and GnuTLS does not say when it is done with it:
 * the replaced ones are kept (older) until tls_free, a few hundred bytes
 * per renewal.
 */
static pthread_mutex_t	 tls_mu = PTHREAD_MUTEX_INITIALIZER;
static struct tls_cred	*tls_cur;
static char		*tls_trust;
static struct MHD_OptionItem tls_options[4];

static void
cred_free(struct tls_cred *c)
{
	unsigned int	 i;

	if (c == NULL)
		return;
	for (i = 0; i < c->npcerts; i++)
		gnutls_pcert_deinit(&c->pcerts[i]);
	if (c->key != NULL)
		gnutls_privkey_deinit(c->key);
	free(c->cert_pem);
	if (c->key_pem != NULL)
		explicit_bzero(c->key_pem, c->key_len);
	free(c->key_pem);
	free(c);
}

/*
 * Does the key fit the first certificate? Checked with OpenSSL, which
 * says so in one call. 0, or -1 with err.
 */
static int
cred_check(const struct tls_cred *c, const char *certf, char *err,
    size_t errlen)
{
	BIO		*b;
	X509		*x = NULL;
	EVP_PKEY	*k = NULL;
	int		 ok;

	if ((b = BIO_new_mem_buf(c->cert_pem, (int)c->cert_len)) != NULL)
		x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	BIO_free(b);
	if ((b = BIO_new_mem_buf(c->key_pem, (int)c->key_len)) != NULL)
		k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
	BIO_free(b);
	ok = x != NULL && k != NULL && X509_check_private_key(x, k) == 1;
	X509_free(x);
	EVP_PKEY_free(k);
	if (!ok)
		snprintf(err, errlen, "%s: the key ([server] tls_key) is not "
		    "the certificate's", certf);
	return ok ? 0 : -1;
}

static struct tls_cred *
cred_load(const struct cm_config *cfg, char *err, size_t errlen)
{
	struct tls_cred	*c;
	struct stat	 sb;
	gnutls_datum_t	 d;
	int		 rc;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	/*
	 * As the CA key (ssh's rule): a key that others can read or change
	 * is no longer this server's alone. It is root's or ours (checked),
	 * so nobody else can change its mode before it is read.
	 */
	if (stat(cfg->tls_key, &sb) == 0 && file_check_mode(&sb,
	    cfg->tls_key, "the HTTPS key ([server] tls_key)", 1, err,
	    errlen) == -1)
		goto fail;
	if (file_read(cfg->tls_cert, &c->cert_pem, &c->cert_len,
	    TLS_FILE_MAX) == -1 || file_read(cfg->tls_key, &c->key_pem,
	    &c->key_len, TLS_FILE_MAX) == -1) {
		snprintf(err, errlen, "%s: %s (make it with `certmint tls "
		    "renew`)", c->cert_pem == NULL ? cfg->tls_cert :
		    cfg->tls_key, file_strerror(errno));
		goto fail;
	}
	d.data = c->cert_pem;
	d.size = (unsigned int)c->cert_len;
	c->npcerts = TLS_CHAIN_MAX;
	if ((rc = gnutls_pcert_list_import_x509_raw(c->pcerts, &c->npcerts, &d,
	    GNUTLS_X509_FMT_PEM, 0)) < 0) {
		c->npcerts = 0;
		snprintf(err, errlen, "%s: %s", cfg->tls_cert,
		    gnutls_strerror(rc));
		goto fail;
	}
	d.data = c->key_pem;
	d.size = (unsigned int)c->key_len;
	if ((rc = gnutls_privkey_init(&c->key)) < 0 ||
	    (rc = gnutls_privkey_import_x509_raw(c->key, &d,
	    GNUTLS_X509_FMT_PEM, NULL, 0)) < 0) {
		snprintf(err, errlen, "%s: %s", cfg->tls_key,
		    gnutls_strerror(rc));
		goto fail;
	}
	if (cred_check(c, cfg->tls_cert, err, errlen) == -1)
		goto fail;
	return c;
fail:
	cred_free(c);
	return NULL;
}

/* gnutls_certificate_retrieve_function2: the current certificate. */
static int
cert_callback(gnutls_session_t s, const gnutls_datum_t *req_ca_dn,
    int nreqs, const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length,
    gnutls_pcert_st **pcert, unsigned int *pcert_length,
    gnutls_privkey_t *pkey)
{
	(void)s;
	(void)req_ca_dn;
	(void)nreqs;
	(void)pk_algos;
	(void)pk_algos_length;
	pthread_mutex_lock(&tls_mu);
	*pcert = tls_cur->pcerts;
	*pcert_length = tls_cur->npcerts;
	*pkey = tls_cur->key;
	pthread_mutex_unlock(&tls_mu);
	return 0;
}

int
tls_init(const struct cm_config *cfg, const char *ca_pem, char *err,
    size_t errlen)
{
	struct tls_cred	*c;

	if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES ||
	    MHD_is_feature_supported(MHD_FEATURE_HTTPS_CERT_CALLBACK) !=
	    MHD_YES) {
		snprintf(err, errlen, "this libmicrohttpd has no TLS: set "
		    "[server] tls_port = 0 (and serve HTTPS from a proxy)");
		return -1;
	}
	if ((c = cred_load(cfg, err, errlen)) == NULL)
		return -1;
	if ((tls_trust = strdup(ca_pem)) == NULL) {
		cred_free(c);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	tls_cur = c;
	/* TLS 1.2 and 1.3 only (RFC 8996 retired 1.0 and 1.1). */
	tls_options[0] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_PRIORITIES,
	    0, (void *)"NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2" };
	tls_options[1] = (struct MHD_OptionItem){
	    MHD_OPTION_HTTPS_CERT_CALLBACK, 0, (void *)cert_callback };
	/* A client may then present a certificate (REST authentication). */
	tls_options[2] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_TRUST,
	    0, tls_trust };
	tls_options[3] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };
	return 0;
}

struct MHD_OptionItem *
tls_mhd_options(void)
{
	return tls_options;
}

int
tls_reload(const struct cm_config *cfg, char *err, size_t errlen)
{
	struct tls_cred	*c;

	if (tls_cur == NULL)
		return 0;
	if ((c = cred_load(cfg, err, errlen)) == NULL)
		return -1;
	pthread_mutex_lock(&tls_mu);
	if (c->cert_len == tls_cur->cert_len && c->key_len ==
	    tls_cur->key_len && memcmp(c->cert_pem, tls_cur->cert_pem,
	    c->cert_len) == 0 && memcmp(c->key_pem, tls_cur->key_pem,
	    c->key_len) == 0) {
		pthread_mutex_unlock(&tls_mu);
		cred_free(c);
		return 0;
	}
	c->older = tls_cur;
	tls_cur = c;
	pthread_mutex_unlock(&tls_mu);
	return 1;
}

void
tls_free(void)
{
	struct tls_cred	*c, *next;

	for (c = tls_cur; c != NULL; c = next) {
		next = c->older;
		cred_free(c);
	}
	tls_cur = NULL;
	free(tls_trust);
	tls_trust = NULL;
}

int
tls_peer_cert(struct MHD_Connection *c, const unsigned char **der,
    size_t *len)
{
	const union MHD_ConnectionInfo *ci;
	const gnutls_datum_t *peers;
	unsigned int	 n = 0;

	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	if (ci == NULL || ci->tls_session == NULL ||
	    (peers = gnutls_certificate_get_peers(ci->tls_session, &n)) ==
	    NULL || n == 0)
		return 0;
	*der = peers[0].data;
	*len = peers[0].size;
	return 1;
}
