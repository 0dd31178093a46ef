/*
 * cmd_carenew.c - `certmint ca list` and `certmint ca renew`: the CA's own
 * certificates (docs/ca-renewal.md). A renewal adds CA certificate N as
 * "ca(N).crt" beside ca.crt (and with --new-key its key "ca(N).key"), as
 * AD CS numbers a renewed CA's files; the CA then signs with the newest
 * and keeps publishing a CRL for each older key still valid.
 */

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "../ca/ca.h"
#include "../ca/json.h"
#include "../crypto/crypto.h"
#include "cli.h"

static int
ca_usage(FILE *f)
{
	fprintf(f,
	    "usage: certmint ca list\n"
	    "       certmint ca renew [--new-key [--key-type TYPE]] [--days N]\n"
	    "\n"
	    "list    the CA certificates by index (ca.crt is 0, ca(N).crt N),\n"
	    "        the CRL index of each (its key's) and which one signs.\n"
	    "renew   a new CA certificate for the same subject, with the same\n"
	    "        key or (--new-key) a new one of the same type (or TYPE).\n"
	    "        A root CA signs it itself (valid --days, default the\n"
	    "        current one's lifetime); a subordinate CA writes a request\n"
	    "        ca(N).csr for its parent, then `certmint install-ca-cert`.\n"
	    "        The running certmintd reloads and publishes each key's CRL.\n");
	return f == stdout ? CLI_OK : CLI_USAGE;
}

int
cli_ca_publish(const struct cli *cli, const struct cm_config *cfg)
{
	json_t	*ans;
	char	 err[512];

	if (cli_daemon_running(cfg)) {
		if ((ans = admin_call(cli, "reload", NULL)) == NULL)
			return -1;
		json_decref(ans);
		if ((ans = admin_call(cli, "crl", NULL)) == NULL)
			return -1;
		json_decref(ans);
		printf("certmintd reloaded: it signs with the new certificate "
		    "and has published every key's CRLs.\n");
		return 0;
	}
	if (ca_publish_first_crl(cli->config_path, err, sizeof(err)) == -1) {
		fprintf(stderr, "certmint: %s\n", err);
		return -1;
	}
	printf("CRLs published for every key (certmintd is not running).\n");
	return 0;
}

static int
ca_list(const struct cli *cli, const struct cm_config *cfg)
{
	struct signer	 sg;
	json_t		*a, *o;
	char		 err[512];
	size_t		 i;

	if (signer_load(&sg, cfg, err, sizeof(err)) == -1) {
		fprintf(stderr, "certmint: %s\n", err);
		return CLI_FAIL;
	}
	a = ca_certs_json(&sg);
	signer_free(&sg);
	if (a == NULL) {
		fprintf(stderr, "certmint: out of memory\n");
		return CLI_FAIL;
	}
	if (cli->json)
		print_json(a);
	else {
		printf("%-5s %-9s %-20s %-20s %s\n", "INDEX", "CRL-INDEX",
		    "NOT-AFTER", "STATE", "SERIAL");
		json_array_foreach(a, i, o) {
			printf("%-5lld %-9lld %-20s %-20s %s\n",
			    (long long)json_integer_value(json_object_get(o,
			    "index")), (long long)json_integer_value(
			    json_object_get(o, "crl_index")),
			    json_string_value(json_object_get(o, "not_after")),
			    json_is_true(json_object_get(o, "signing")) ?
			    "signing" : "older",
			    json_string_value(json_object_get(o, "serial")));
		}
	}
	json_decref(a);
	return CLI_OK;
}

/* The lifetime of CA certificate der in days, at least 1. */
static int
lifetime_days(const unsigned char *der, size_t len)
{
	struct cert_info info;
	char		 err[128];
	int64_t		 d;

	if (cert_info_parse(der, len, &info, err, sizeof(err)) == -1)
		return 3650;
	d = (info.not_after - info.not_before + 43200) / 86400;
	cert_info_free(&info);
	return d < 1 ? 1 : d > 36500 ? 36500 : (int)d;
}

/*
 * Is a renewal of index n under way (its request written, the parent's
 * answer not installed)? 1 with a message, 0, or -1.
 */
static int
renewal_pending(const struct cm_config *cfg, int n)
{
	struct stat	 sb;
	char		*base, *csr;
	int		 rc;

	if ((base = path_join(cfg->dir, "ca.csr")) == NULL ||
	    (csr = path_indexed(base, n)) == NULL) {
		free(base);
		return -1;
	}
	rc = lstat(csr, &sb) == 0;
	if (rc)
		fprintf(stderr, "certmint: %s exists: a renewal is waiting for "
		    "the parent CA's certificate (certmint install-ca-cert "
		    "ANSWER); to start over, remove it\n", csr);
	free(base);
	free(csr);
	return rc;
}

static int
ca_renew_files(const struct cli *cli, const struct cm_config *cfg,
    int new_key, enum key_type kt, int64_t days)
{
	struct signer	 sg;
	EVP_PKEY	*key = NULL;
	unsigned char	*der = NULL;
	size_t		 len;
	char		 err[512], *key_path = NULL, *out = NULL, *base = NULL;
	int		 n, sub, key_made = 0, rc = CLI_FAIL;

	if (signer_load(&sg, cfg, err, sizeof(err)) == -1) {
		fprintf(stderr, "certmint: %s\n", err);
		return CLI_FAIL;
	}
	n = sg.ncerts;
	sub = cfg->ca_type == CM_CATYPE_STANDALONE_SUBCA;
	if (n >= SIGNER_MAX_CERTS) {
		fprintf(stderr, "certmint: the CA has %d certificates, the "
		    "most it keeps\n", n);
		goto out;
	}
	if (renewal_pending(cfg, n) != 0)
		goto out;
	if ((key_path = path_indexed(cfg->key_file, n)) == NULL ||
	    (base = path_join(cfg->dir, "ca.csr")) == NULL ||
	    (out = path_indexed(sub ? base : cfg->cert_file, n)) == NULL)
		goto nomem;
	if (new_key) {
		if (kt == KEY__MAX)
			kt = key_type_of(sg.key);
		if (key_generate(kt, &key, err, sizeof(err)) == -1 ||
		    key_write(key_path, key, err, sizeof(err)) == -1) {
			fprintf(stderr, "certmint: %s\n", err);
			goto out;
		}
		key_made = 1;
	} else {
		key = sg.key;
		EVP_PKEY_up_ref(key);
	}
	if (days == 0)
		days = lifetime_days(sg.cert_der, sg.cert_der_len);
	if (ca_renewal(key, sg.cert_der, sg.cert_der_len, (int)days, cfg->hash,
	    sub, &der, &len, err, sizeof(err)) == -1) {
		fprintf(stderr, "certmint: %s\n", err);
		goto out;
	}
	if (cli_write_new(out, sub ? "CERTIFICATE REQUEST" : "CERTIFICATE",
	    der, len, 0644) == -1)
		goto out;
	key_made = 0;		/* kept: the renewal stands */
	if (sub) {
		printf("Renewal request %d written to %s (%s).\n"
		    "Have the parent CA sign it, then run:\n"
		    "  certmint -c %s install-ca-cert ANSWER.pem "
		    "[--chain PARENT-CHAIN.pem]\n", n, out, new_key ?
		    "new key" : "same key", cli->config_path);
		rc = CLI_OK;
		goto out;
	}
	printf("CA certificate %d: %s (%s, valid %lld days)\n", n, out,
	    new_key ? "new key" : "same key", (long long)days);
	rc = cli_ca_publish(cli, cfg) == 0 ? CLI_OK : CLI_FAIL;
	goto out;
 nomem:
	fprintf(stderr, "certmint: out of memory\n");
 out:
	/* A key nothing was signed for goes. */
	if (key_made)
		unlink(key_path);
	signer_free(&sg);
	EVP_PKEY_free(key);
	OPENSSL_free(der);
	free(key_path);
	free(base);
	free(out);
	return rc;
}

static int
ca_renew_cmd(const struct cli *cli, const struct cm_config *cfg, int argc,
    char **argv)
{
	static const struct option opts[] = {
		{ "new-key", no_argument, NULL, 'n' },
		{ "key-type", required_argument, NULL, 'k' },
		{ "days", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	enum key_type	 kt = KEY__MAX;
	int64_t		 days = 0;
	int		 ch, new_key = 0;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'n':
			new_key = 1;
			break;
		case 'k':
			if (cli_key_type(optarg, &kt) == -1)
				return CLI_USAGE;
			break;
		case 'd':
			if (cli_days("--days", optarg, &days) == -1)
				return CLI_USAGE;
			break;
		case 'h':
			return ca_usage(stdout);
		default:
			return ca_usage(stderr);
		}
	}
	if (optind != argc || (kt != KEY__MAX && !new_key))
		return ca_usage(stderr);
	if (days != 0 && cfg->ca_type == CM_CATYPE_STANDALONE_SUBCA) {
		fprintf(stderr, "certmint: --days: the parent CA decides a "
		    "subordinate CA's validity\n");
		return CLI_USAGE;
	}
	return ca_renew_files(cli, cfg, new_key, kt, days);
}

int
cmd_ca(const struct cli *cli, int argc, char **argv)
{
	struct cm_config cfg;
	int		 rc;

	if (argc < 2)
		return ca_usage(stderr);
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)
		return ca_usage(stdout);
	if (strcmp(argv[1], "list") != 0 && strcmp(argv[1], "renew") != 0)
		return ca_usage(stderr);
	if (strcmp(argv[1], "list") == 0 && argc != 2)
		return ca_usage(stderr);
	if (cli_config(cli, &cfg) == -1)
		return CLI_FAIL;
	if (strcmp(argv[1], "list") == 0)
		rc = ca_list(cli, &cfg);
	else
		rc = ca_renew_cmd(cli, &cfg, argc - 1, argv + 1);
	config_free(&cfg);
	return rc;
}
