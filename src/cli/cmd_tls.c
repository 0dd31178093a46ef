/*
 * cmd_tls.c - certmintd's own HTTPS certificate ([server] tls_cert and
 * tls_key): issued by the CA itself at init (cli_tls_issue) and renewed
 * with `certmint tls renew`, through certmintd when it runs (which then
 * reloads it for new connections) or on the files when it does not.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509_vfy.h>

#include "../ca/ca.h"
#include "../crypto/crypto.h"
#include "../server/tls_csr.h"
#include "cli.h"

#define TLS_NAMES_MAX	32
#define TLS_PROFILE	"WebServer"
#define TLS_REQUESTER	"certmint tls"

struct tls_names {
	char	*v[TLS_NAMES_MAX];
	size_t	 n;
};

static void
names_add(struct tls_names *t, const char *name)
{
	size_t	 i;

	if (name == NULL || *name == '\0' || t->n == TLS_NAMES_MAX ||
	    strcmp(name, "0.0.0.0") == 0 || strcmp(name, "::") == 0)
		return;
	for (i = 0; i < t->n; i++)
		if (strcasecmp(t->v[i], name) == 0)
			return;
	t->v[t->n++] = xstrdup(name);
}

/* "a, b,c" into t. */
static void
names_add_list(struct tls_names *t, const char *list)
{
	char	*copy, *tok, *save = NULL;

	if (list == NULL || (copy = strdup(list)) == NULL)
		return;
	for (tok = strtok_r(copy, ", \t", &save); tok != NULL;
	    tok = strtok_r(NULL, ", \t", &save))
		names_add(t, tok);
	free(copy);
}

static void
names_free(struct tls_names *t)
{
	while (t->n > 0)
		free(t->v[--t->n]);
}

/*
 * The names the certificate is for: the host name first (its CN), the
 * listen address, localhost and the loopback addresses, [ca]
 * machine_dns_name and [server] tls_names.
 */
static void
tls_names(const struct cm_config *cfg, struct tls_names *t)
{
	char	 host[256];

	memset(t, 0, sizeof(*t));
	if (gethostname(host, sizeof(host)) == 0) {
		host[sizeof(host) - 1] = '\0';
		/* A name a dNSName can hold, else it would fail the request. */
		if (dns_name_check((const unsigned char *)host, strlen(host),
		    0) == NULL)
			names_add(t, host);
	}
	names_add(t, "localhost");
	names_add(t, cfg->listen_addr);
	names_add(t, "127.0.0.1");
	names_add(t, "::1");
	names_add(t, cfg->machine_dns_name);
	names_add_list(t, cfg->tls_names);
}

/* The certificate's PEM then the chain: what tls_cert holds. */
static char *
cert_file_text(const char *cert_pem, const char *chain_pem)
{
	char	*s;

	if (asprintf(&s, "%s%s", cert_pem, chain_pem != NULL ? chain_pem :
	    "") == -1)
		return NULL;
	return s;
}

/* Through certmintd: submit as an officer, approve if pending. */
static char *
issue_online(const struct cli *cli, const char *csr, char *err,
    size_t errlen)
{
	json_t		*args, *ans, *a, *req;
	const char	*disp, *cert, *chain;
	char		*text = NULL;
	json_int_t	 id;

	args = json_object();
	json_object_set_new(args, "csr", json_string(csr));
	json_object_set_new(args, "requester", json_string(TLS_REQUESTER));
	a = json_object();
	json_object_set_new(a, "CertificateTemplate", json_string(TLS_PROFILE));
	json_object_set_new(args, "attributes", a);
	if ((ans = admin_call(cli, "submit", args)) == NULL) {
		snprintf(err, errlen, "certmintd refused the request");
		return NULL;
	}
	req = json_object_get(ans, "request");
	disp = json_string_value(json_object_get(req, "disposition"));
	if (disp != NULL && strcmp(disp, "pending") == 0) {
		id = json_integer_value(json_object_get(req, "request_id"));
		json_decref(ans);
		args = json_object();
		json_object_set_new(args, "id", json_integer(id));
		if ((ans = admin_call(cli, "resubmit", args)) == NULL) {
			snprintf(err, errlen, "certmintd did not issue request "
			    "%lld", (long long)id);
			return NULL;
		}
		req = json_object_get(ans, "request");
	}
	cert = json_string_value(json_object_get(req, "certificate"));
	chain = json_string_value(json_object_get(req, "chain"));
	if (cert == NULL)
		snprintf(err, errlen, "certmintd issued no certificate");
	else if ((text = cert_file_text(cert, chain)) == NULL)
		snprintf(err, errlen, "out of memory");
	json_decref(ans);
	return text;
}

/*
 * On the files, certmintd stopped: the CA runs here for one request, as
 * certmintd would (its STARTUP, CERTISSUED and SHUTDOWN events are
 * recorded for the exit modules).
 */
static char *
issue_offline(const char *config_path, const char *csr, char *err,
    size_t errlen)
{
	struct db_attr	 attr = { "CertificateTemplate", TLS_PROFILE };
	struct ca	*ca;
	struct ca_result res;
	char		*pem = NULL, *text = NULL;
	int64_t		 id;
	int		 rc;

	if (ca_open(&ca, config_path, err, errlen) == -1)
		return NULL;
	if (ca_start(ca) == -1) {
		snprintf(err, errlen, "cannot start the CA");
		ca_close(ca);
		return NULL;
	}
	rc = ca_submit(ca, (const unsigned char *)csr, strlen(csr), &attr, 1,
	    TLS_REQUESTER, TLS_REQUESTER, &res);
	if (rc == 0 && res.req.disposition == CM_DISP_PENDING) {
		id = res.req.id;
		ca_result_free(&res);
		rc = ca_resubmit(ca, id, TLS_REQUESTER, &res);
	}
	if (rc == 0 && res.has_cert &&
	    (pem = pem_encode("CERTIFICATE", res.cert.raw,
	    res.cert.raw_len)) != NULL)
		text = cert_file_text(pem, ca_signer(ca)->chain_pem);
	else
		snprintf(err, errlen, "the CA did not issue the HTTPS "
		    "certificate: %s", res.error[0] != '\0' ? res.error :
		    "out of memory");
	free(pem);
	ca_result_free(&res);
	ca_close(ca);
	return text;
}

/*
 * Write the key (0600, created new beside it then renamed over) and
 * the certificate. The key goes first: a reload between the two sees a
 * key that is not the certificate's and keeps the old pair.
 */
static int
write_pair(const struct cm_config *cfg, EVP_PKEY *key, const char *text,
    char *err, size_t errlen)
{
	char	*tmp;
	int	 rc = -1;

	if (asprintf(&tmp, "%s.new", cfg->tls_key) == -1) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	unlink(tmp);
	if (key_write(tmp, key, err, errlen) == -1)
		goto out;
	if (rename(tmp, cfg->tls_key) == -1) {
		snprintf(err, errlen, "%s: %s", cfg->tls_key, strerror(errno));
		unlink(tmp);
		goto out;
	}
	if (file_write_atomic(cfg->tls_cert, text, strlen(text), 0644) == -1) {
		snprintf(err, errlen, "%s: %s", cfg->tls_cert, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	free(tmp);
	return rc;
}

int
cli_tls_issue(const struct cli *cli, const struct cm_config *cfg, int online,
    char *err, size_t errlen)
{
	struct tls_names names;
	EVP_PKEY	*key = NULL;
	char		*csr = NULL, *text = NULL;
	int		 rc = -1;

	tls_names(cfg, &names);
	if (key_generate(KEY_EC_P256, &key, err, errlen) == -1)
		goto out;
	if ((csr = tls_make_csr(key, (const char *const *)names.v,
	    names.n)) == NULL) {
		snprintf(err, errlen, "cannot make the HTTPS certificate's "
		    "request");
		goto out;
	}
	text = online ? issue_online(cli, csr, err, errlen) :
	    issue_offline(cli->config_path, csr, err, errlen);
	if (text == NULL || write_pair(cfg, key, text, err, errlen) == -1)
		goto out;
	rc = 0;
out:
	names_free(&names);
	EVP_PKEY_free(key);
	free(csr);
	free(text);
	return rc;
}

/*
 * Does the HTTPS certificate in tls_cert (with the chain after it) verify
 * against ca.crt alone, as every snippet of the docs trusts it (curl
 * --cacert ca.crt)? After a root's new-key renewal it does not: it is
 * issued under the new root, which such clients have not added. 1 when
 * it verifies, 0 when not, -1 when it cannot be told.
 */
static int
trusted_by_ca_crt(const struct cm_config *cfg)
{
	STACK_OF(X509)	*chain = NULL;
	X509_STORE	*store = NULL;
	X509_STORE_CTX	*ctx = NULL;
	X509		*leaf = NULL, *x;
	BIO		*b = NULL;
	int		 rc = -1;

	if ((store = X509_STORE_new()) == NULL ||
	    X509_STORE_load_file(store, cfg->cert_file) != 1 ||
	    (b = BIO_new_file(cfg->tls_cert, "r")) == NULL ||
	    (leaf = PEM_read_bio_X509(b, NULL, NULL, NULL)) == NULL ||
	    (chain = sk_X509_new_null()) == NULL)
		goto out;
	while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL)
		if (!sk_X509_push(chain, x)) {
			X509_free(x);
			goto out;
		}
	ERR_clear_error();	/* the end of the file */
	if ((ctx = X509_STORE_CTX_new()) == NULL ||
	    X509_STORE_CTX_init(ctx, store, leaf, chain) != 1)
		goto out;
	rc = X509_verify_cert(ctx) == 1;
out:
	X509_STORE_CTX_free(ctx);
	sk_X509_pop_free(chain, X509_free);
	X509_free(leaf);
	BIO_free(b);
	X509_STORE_free(store);
	ERR_clear_error();
	return rc;
}

static void
tls_usage(FILE *f)
{
	fprintf(f,
	    "usage: certmint tls renew\n"
	    "\n"
	    "Issue certmintd's HTTPS certificate anew from this CA: a new key\n"
	    "([server] tls_key, mode 0600) and certificate ([server] tls_cert)\n"
	    "for the host name, the listen address, localhost, 127.0.0.1, ::1,\n"
	    "[ca] machine_dns_name and [server] tls_names, profile WebServer.\n"
	    "A running certmintd issues it and reloads it: new connections get\n"
	    "it at once, no restart. Run it from cron before the certificate\n"
	    "expires (openssl x509 -enddate -noout -in tls.crt).\n");
}

int
cmd_tls(const struct cli *cli, int argc, char **argv)
{
	struct cm_config cfg;
	json_t		*ans;
	char		 err[512];
	int		 online, rc = CLI_FAIL;

	if (argc == 2 && (strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0)) {
		tls_usage(stdout);
		return CLI_OK;
	}
	if (argc != 2 || strcmp(argv[1], "renew") != 0) {
		tls_usage(stderr);
		return CLI_USAGE;
	}
	if (cli_config(cli, &cfg) == -1)
		return CLI_FAIL;
	online = cli_daemon_running(&cfg);
	if (cli_tls_issue(cli, &cfg, online, err, sizeof(err)) == -1) {
		fprintf(stderr, "certmint: %s\n", err);
		goto out;
	}
	printf("HTTPS certificate renewed: %s (key %s)\n", cfg.tls_cert,
	    cfg.tls_key);
	if (cfg.ca_type == CM_CATYPE_STANDALONE_ROOTCA &&
	    trusted_by_ca_crt(&cfg) == 0)
		fprintf(stderr, "certmint: note: it is issued under the CA's "
		    "new root key (certmint ca list), which clients that trust "
		    "only %s do not trust: give them ca.pem (%s/ca.pem), which "
		    "holds every CA certificate (docs/ca-renewal.md)\n",
		    cfg.cert_file, cfg.base_url);
	if (online) {
		if ((ans = admin_call(cli, "reload", NULL)) == NULL)
			goto out;
		json_decref(ans);
		printf("certmintd reloaded it: new connections get it\n");
	}
	rc = CLI_OK;
out:
	config_free(&cfg);
	return rc;
}
