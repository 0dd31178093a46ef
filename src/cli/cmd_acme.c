/*
 * cmd_acme.c - `certmint acme accounts|orders|eab create`: views of the
 * ACME server's accounts and orders, and External Account Binding keys
 * (docs/acme.md). All work on the CA's database directly, whether
 * certmintd runs or not: the server reads EAB keys at each newAccount.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../crypto/crypto.h"
#include "../store/store_acme.h"
#include "cli.h"

static void
acme_usage(FILE *f)
{
	fprintf(f,
	    "usage: certmint acme accounts [--limit N]\n"
	    "       certmint acme orders [--limit N]\n"
	    "       certmint acme eab create [--directory NAME] [--kid KID]\n"
	    "\n"
	    "accounts, orders: the newest first (default 100).\n"
	    "eab create: a key for External Account Binding ([acme] eab =\n"
	    "required), for the [acme] directory or [acme.NAME]: prints the\n"
	    "key id and the HMAC key (base64url, no padding), as certbot's\n"
	    "--eab-kid/--eab-hmac-key and lego's --kid/--hmac take them. A\n"
	    "key binds one account.\n");
}

static struct store *
acme_store(const struct cli *cli, struct cm_config *cfg)
{
	struct store	*st;
	char		 err[512];

	if (cli_config(cli, cfg) == -1)
		return NULL;
	if ((st = store_open(cfg->db_file, 0, err, sizeof(err))) == NULL) {
		fprintf(stderr, "certmint: %s\n", err);
		config_free(cfg);
	}
	return st;
}

struct list_out {
	json_t	*arr;		/* --json */
	int	 header;
	int64_t	 rows;
};

/*
 * A column's value as JSON: counts and ids as numbers, identifiers and
 * contacts (stored as JSON) parsed.
 */
static json_t *
list_value(const char *col, const char *v)
{
	json_t	*j;

	if (strcmp(col, "id") == 0 || strcmp(col, "account") == 0 ||
	    strcmp(col, "orders") == 0 || strcmp(col, "request_id") == 0)
		return json_integer(strtoll(v, NULL, 10));
	if ((strcmp(col, "identifiers") == 0 || strcmp(col, "contact") == 0) &&
	    (j = json_loads(v, 0, NULL)) != NULL)
		return j;
	return json_string(v);
}

static void
list_row(void *arg, const char *const *cols, const char *const *vals, int n)
{
	struct list_out	*lo = arg;
	json_t		*o;
	int		 i;

	if (lo->arr != NULL) {
		o = json_object();
		for (i = 0; i < n; i++)
			json_object_set_new(o, cols[i], list_value(cols[i],
			    vals[i]));
		json_array_append_new(lo->arr, o);
		return;
	}
	if (!lo->header) {
		for (i = 0; i < n; i++)
			printf("%s%s", i > 0 ? "\t" : "", cols[i]);
		printf("\n");
		lo->header = 1;
	}
	for (i = 0; i < n; i++)
		printf("%s%s", i > 0 ? "\t" : "", term_safe(vals[i]));
	printf("\n");
	lo->rows++;
}

static int
acme_list(const struct cli *cli, const char *what, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "limit", required_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 }
	};
	struct cm_config cfg;
	struct store	*st;
	struct list_out	 lo = { NULL, 0, 0 };
	int64_t		 limit = 100;
	int		 ch, rc;

	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		/* 0: no limit, as view's --limit. */
		if (ch != 'l' || parse_int64(optarg, &limit) == -1 ||
		    limit < 0) {
			acme_usage(stderr);
			return CLI_USAGE;
		}
	}
	if (optind != argc) {
		acme_usage(stderr);
		return CLI_USAGE;
	}
	if ((st = acme_store(cli, &cfg)) == NULL)
		return CLI_FAIL;
	if (cli->json)
		lo.arr = json_array();
	rc = store_acme_list(st, what, limit == 0 ? -1 : limit, list_row, &lo);
	store_close(st);
	config_free(&cfg);
	if (rc != 0) {
		json_decref(lo.arr);
		fprintf(stderr, "certmint: cannot read the ACME %s (is ACME's "
		    "schema there? start certmintd once)\n", what);
		return CLI_FAIL;
	}
	if (lo.arr != NULL) {
		print_json(lo.arr);
		json_decref(lo.arr);
	} else
		printf("(%lld %s)\n", (long long)lo.rows, lo.rows == 1 ? "row" :
		    "rows");
	return CLI_OK;
}

static int
eab_create(const struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "directory", required_argument, NULL, 'd' },
		{ "kid", required_argument, NULL, 'k' },
		{ NULL, 0, NULL, 0 }
	};
	struct acme_eab_row e;
	struct cm_config cfg;
	struct store	*st;
	unsigned char	 rnd[12];	/* kid in hex: never a leading '-' */
	char		*kid = NULL, *key = NULL;
	const char	*dir = "";
	int		 ch, rc;
	json_t		*o;

	memset(&e, 0, sizeof(e));
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			dir = optarg;
			break;
		case 'k':
			if (strlen(optarg) == 0 || strlen(optarg) >=
			    sizeof(e.kid) || strspn(optarg, "ABCDEFGHIJKLM"
			    "NOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			    "0123456789-_.") !=
			    strlen(optarg)) {
				fprintf(stderr, "certmint: --kid: 1 to 127 of "
				    "A-Z a-z 0-9 - _ .\n");
				return CLI_USAGE;
			}
			snprintf(e.kid, sizeof(e.kid), "%s", optarg);
			break;
		default:
			acme_usage(stderr);
			return CLI_USAGE;
		}
	}
	if (optind != argc) {
		acme_usage(stderr);
		return CLI_USAGE;
	}
	if ((st = acme_store(cli, &cfg)) == NULL)
		return CLI_FAIL;
	if (*dir != '\0') {
		char	 sec[128];

		snprintf(sec, sizeof(sec), "acme.%s", dir);
		if (config_get(&cfg, sec, "eab") == NULL &&
		    config_get(&cfg, sec, "profile") == NULL &&
		    config_get(&cfg, sec, "identifiers") == NULL)
			fprintf(stderr, "certmint: warning: no [%s] in %s\n",
			    sec, cfg.path);
	}
	snprintf(e.endpoint, sizeof(e.endpoint), "%s", dir);
	e.keylen = 32;
	e.created = time_now();
	/*
	 * Nor a key whose text begins with '-' (base64url 62: its first six
	 * bits): certbot and lego would read `--eab-hmac-key -...` as an
	 * option (acme_certbot.sh failed once in 64 runs).
	 */
	do
		rc = random_fill(e.key, e.keylen);
	while (rc == 0 && e.key[0] >> 2 == 62);
	if (rc == -1 ||
	    (e.kid[0] == '\0' && (random_fill(rnd, sizeof(rnd)) == -1 ||
	    (kid = hex_encode(rnd, sizeof(rnd))) == NULL)) ||
	    (key = b64url_encode(e.key, e.keylen)) == NULL)
		rc = CM_E_FAIL;
	else {
		if (kid != NULL)
			snprintf(e.kid, sizeof(e.kid), "%s", kid);
		if ((rc = store_begin(st)) == 0) {
			if ((rc = store_acme_eab_insert(st, &e)) == 0)
				rc = store_commit(st);
			else
				store_rollback(st);
		}
	}
	store_close(st);
	config_free(&cfg);
	free(kid);
	if (rc != 0) {
		free(key);
		fprintf(stderr, "certmint: %s\n", rc == STORE_E_DUPLICATE ?
		    "that key id exists" : "cannot record the EAB key (start "
		    "certmintd once with [acme] for its schema)");
		return CLI_FAIL;
	}
	if (cli->json) {
		o = json_object();
		json_object_set_new(o, "kid", json_string(e.kid));
		json_object_set_new(o, "hmac_key", json_string(key));
		json_object_set_new(o, "directory", json_string(dir));
		print_json(o);
		json_decref(o);
	} else
		printf("kid: %s\nhmac_key: %s\n", e.kid, key);
	free(key);
	return CLI_OK;
}

int
cmd_acme(const struct cli *cli, int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "accounts") == 0)
		return acme_list(cli, "accounts", argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "orders") == 0)
		return acme_list(cli, "orders", argc - 1, argv + 1);
	if (argc >= 3 && strcmp(argv[1], "eab") == 0 &&
	    strcmp(argv[2], "create") == 0)
		return eab_create(cli, argc - 2, argv + 2);
	if (argc == 2 && (strcmp(argv[1], "help") == 0 ||
	    strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		acme_usage(stdout);
		return CLI_OK;
	}
	acme_usage(stderr);
	return CLI_USAGE;
}
