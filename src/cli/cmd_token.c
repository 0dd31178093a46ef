/*
 * cmd_token.c - `certmint token create|list|revoke`: the REST API's
 * tokens (docs/rest-api.md, "Authentication"). They live in the CA's
 * database, written here directly whether certmintd runs or not: it reads
 * them at each request, so a new or revoked token counts at once.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "../store/store.h"
#include "../server/auth.h"
#include "cli.h"

static void
token_usage(FILE *f)
{
	fprintf(f,
	    "usage: certmint token create --name NAME [--profiles P1,P2]\n"
	    "           [--names PATTERN,...] [--expires DAYS]\n"
	    "       certmint token list\n"
	    "       certmint token revoke NAME\n"
	    "\n"
	    "API tokens for the REST API (Authorization: Bearer TOKEN). create\n"
	    "prints the token on stdout, once: only its SHA-256 is kept.\n"
	    "\n"
	    "  --name NAME        1 to 64 of A-Z a-z 0-9 . _ @ -: the requests'\n"
	    "                     RequesterName\n"
	    "  --profiles LIST    the profiles it may request (default: any the\n"
	    "                     policy allows)\n"
	    "  --names LIST       name patterns every CN and subjectAltName must\n"
	    "                     match: www.example.com, *.example.com (any name\n"
	    "                     under it), 192.0.2.7, * (any; the default)\n"
	    "  --expires DAYS     1 to 36500 days (default: never)\n");
}

static struct store *
token_store(const struct cm_config *cfg)
{
	struct store	*st;
	char		 err[512];

	if ((st = store_open(cfg->db_file, 0, err, sizeof(err))) == NULL)
		fprintf(stderr, "certmint: %s\n", err);
	return st;
}

/* Does every profile of list exist in cfg? 0, or -1 having said which. */
static int
profiles_known(const struct cm_config *cfg, const char *list)
{
	char	*copy, *tok, *save = NULL;
	int	 rc = 0;

	if ((copy = strdup(list)) == NULL)
		return -1;
	for (tok = strtok_r(copy, ", \t", &save); tok != NULL && rc == 0;
	    tok = strtok_r(NULL, ", \t", &save))
		if (profile_find(cfg, tok) == NULL) {
			fprintf(stderr, "certmint: --profiles: no profile "
			    "\"%s\" (certmint profile list)\n", tok);
			rc = -1;
		}
	free(copy);
	return rc;
}

static int
token_create(const struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "profiles", required_argument, NULL, 'p' },
		{ "names", required_argument, NULL, 'N' },
		{ "expires", required_argument, NULL, 'e' },
		{ NULL, 0, NULL, 0 }
	};
	struct db_token	 t;
	struct cm_config cfg;
	struct store	*st;
	char		 text[TOKEN_TEXT_LEN + 1], when[32];
	int64_t		 days = 0;
	int		 ch, rc;
	json_t		*o;

	memset(&t, 0, sizeof(t));
	t.profiles = "";
	t.names = "*";
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'n':
			t.name = optarg;
			break;
		case 'p':
			t.profiles = optarg;
			break;
		case 'N':
			t.names = optarg;
			break;
		case 'e':
			if (cli_days("--expires", optarg, &days) == -1)
				return CLI_USAGE;
			break;
		default:
			token_usage(stderr);
			return CLI_USAGE;
		}
	}
	if (optind != argc || t.name == NULL) {
		token_usage(stderr);
		return CLI_USAGE;
	}
	if (!auth_token_name_ok(t.name)) {
		fprintf(stderr, "certmint: --name: 1 to 64 of A-Z a-z 0-9 . _ "
		    "@ -\n");
		return CLI_USAGE;
	}
	if (strspn(t.names, ", \t") == strlen(t.names)) {
		fprintf(stderr, "certmint: --names: at least one pattern\n");
		return CLI_USAGE;
	}
	if (cli_config(cli, &cfg) == -1)
		return CLI_FAIL;
	if (profiles_known(&cfg, t.profiles) == -1 ||
	    (st = token_store(&cfg)) == NULL) {
		config_free(&cfg);
		return CLI_FAIL;
	}
	t.created = time_now();
	t.expires = days > 0 ? t.created + days * 86400 : 0;
	if (auth_token_new(text, t.hash) == -1)
		rc = CM_E_FAIL;
	else
		rc = store_token_add(st, &t);
	store_close(st);
	config_free(&cfg);
	if (rc != 0) {
		OPENSSL_cleanse(text, sizeof(text));
		if (rc == STORE_E_DUPLICATE)
			fprintf(stderr, "certmint: a token named \"%s\" exists "
			    "(certmint token list; a revoked token keeps its "
			    "name): choose another --name\n", t.name);
		else
			fprintf(stderr, "certmint: cannot record the token\n");
		return CLI_FAIL;
	}
	if (cli->json) {
		o = json_object();
		json_object_set_new(o, "name", json_string(t.name));
		json_object_set_new(o, "token", json_string(text));
		print_json(o);
		json_decref(o);
	} else {
		/* The token alone on stdout: TOKEN=$(certmint token create ...). */
		puts(text);
		if (t.expires != 0)
			time_format(t.expires, when);
		fprintf(stderr, "token \"%s\" created (profiles: %s; names: %s; "
		    "expires: %s); shown only now: keep it secret\n", t.name,
		    *t.profiles != '\0' ? t.profiles : "any", t.names,
		    t.expires != 0 ? when : "never");
	}
	OPENSSL_cleanse(text, sizeof(text));
	return CLI_OK;
}

static int
token_print(void *arg, const struct db_token *t)
{
	json_t	*list = arg, *o;
	char	 created[32], expires[32], revoked[32];
	int64_t	 now = time_now();

	time_format(t->created, created);
	time_format(t->expires, expires);
	time_format(t->revoked, revoked);
	if (list != NULL) {
		o = json_object();
		json_object_set_new(o, "name", json_string(t->name));
		json_object_set_new(o, "profiles", json_string(t->profiles));
		json_object_set_new(o, "names", json_string(t->names));
		json_object_set_new(o, "created", json_string(created));
		json_object_set_new(o, "expires", t->expires != 0 ?
		    json_string(expires) : json_null());
		json_object_set_new(o, "revoked", t->revoked != 0 ?
		    json_string(revoked) : json_null());
		json_array_append_new(list, o);
		return 0;
	}
	printf("%-20s %-8s created %s  %s%s\n    profiles: %s\n    names: "
	    "%s\n", term_safe(t->name), t->revoked != 0 ? "revoked" :
	    t->expires != 0 && t->expires <= now ? "expired" : "active",
	    created, t->expires != 0 ? "expires " : "never expires",
	    t->expires != 0 ? expires : "", *t->profiles != '\0' ?
	    term_safe(t->profiles) : "any", term_safe(t->names));
	return 0;
}

static int
token_list(const struct cli *cli)
{
	struct cm_config cfg;
	struct store	*st;
	json_t		*list = cli->json ? json_array() : NULL;
	int		 rc;

	if (cli_config(cli, &cfg) == -1)
		return CLI_FAIL;
	if ((st = token_store(&cfg)) == NULL) {
		config_free(&cfg);
		json_decref(list);
		return CLI_FAIL;
	}
	rc = store_token_each(st, token_print, list);
	store_close(st);
	config_free(&cfg);
	if (list != NULL && rc == 0)
		print_json(list);
	json_decref(list);
	if (rc != 0)
		fprintf(stderr, "certmint: cannot read the tokens\n");
	return rc == 0 ? CLI_OK : CLI_FAIL;
}

static int
token_revoke(const struct cli *cli, const char *name)
{
	struct cm_config cfg;
	struct store	*st;
	int		 rc;

	if (cli_config(cli, &cfg) == -1)
		return CLI_FAIL;
	if ((st = token_store(&cfg)) == NULL) {
		config_free(&cfg);
		return CLI_FAIL;
	}
	rc = store_token_revoke(st, name, time_now());
	store_close(st);
	config_free(&cfg);
	if (rc == CM_E_NOTFOUND)
		fprintf(stderr, "certmint: no active token \"%s\" (token "
		    "list)\n", term_safe(name));
	else if (rc != 0)
		fprintf(stderr, "certmint: cannot revoke the token\n");
	else
		printf("token \"%s\" revoked: refused from the next request "
		    "on\n", name);
	return rc == 0 ? CLI_OK : CLI_FAIL;
}

int
cmd_token(const struct cli *cli, int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "create") == 0)
		return token_create(cli, argc - 1, argv + 1);
	if (argc == 2 && strcmp(argv[1], "list") == 0)
		return token_list(cli);
	if (argc == 3 && strcmp(argv[1], "revoke") == 0)
		return token_revoke(cli, argv[2]);
	if (argc == 2 && (strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0)) {
		token_usage(stdout);
		return CLI_OK;
	}
	token_usage(stderr);
	return CLI_USAGE;
}
