/*
 * cmd_profile.c - `certmint profile list | show NAME`: the certificate
 * profiles as the config file makes them (read from the file; certmintd
 * need not run). show prints a [profile.NAME] section an operator can
 * paste into the config and change.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char *const cn_rules[] = { "keep", "san", "drop" };

static json_t *
strv_json(char *const *v, size_t n)
{
	json_t	*a = json_array();
	size_t	 i;

	for (i = 0; i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

/* The names of the bits set in mask, name(i) for bit i, joined by ", ". */
static json_t *
mask_json(uint32_t mask, int n, const char *(*name)(int))
{
	json_t	*a = json_array();
	int	 i;

	for (i = 0; i < n; i++)
		if (mask & (1u << i))
			json_array_append_new(a, json_string(name(i)));
	return a;
}

static const char *key_name_i(int i) { return key_type_name((enum key_type)i); }
static const char *san_name_i(int i) { return san_type_name((enum san_type)i); }

static json_t *
profile_json(const struct cm_config *cfg, const struct cm_profile *p)
{
	json_t	*o = json_object(), *eku = json_array();
	size_t	 i;

	for (i = 0; i < p->neku; i++)
		json_array_append_new(eku, json_string(eku_name(p->eku[i])));
	json_object_set_new(o, "name", json_string(p->name));
	json_object_set_new(o, "description",
	    json_string(p->description ? p->description : ""));
	json_object_set_new(o, "builtin", json_boolean(p->builtin >= 0));
	json_object_set_new(o, "allowed", json_boolean(p->allowed));
	json_object_set_new(o, "default", json_boolean(p ==
	    &cfg->profile_list[cfg->default_profile]));
	json_object_set_new(o, "validity_days", json_integer(p->validity_days));
	json_object_set_new(o, "max_validity_days",
	    json_integer(p->max_validity_days));
	json_object_set_new(o, "ca_expiry",
	    json_string(p->expiry == EXPIRY_REFUSE ? "refuse" : "cap"));
	json_object_set_new(o, "key_types", mask_json(p->key_types, KEY__MAX,
	    key_name_i));
	json_object_set_new(o, "key_usage", mask_json(p->key_usage, 9,
	    ku_name));
	json_object_set_new(o, "eku", eku);
	json_object_set_new(o, "ca", json_boolean(p->ca));
	json_object_set_new(o, "path_len", p->path_len < 0 ? json_null() :
	    json_integer(p->path_len));
	json_object_set_new(o, "san_types", mask_json(p->san_types, SAN__MAX,
	    san_name_i));
	json_object_set_new(o, "san_required", json_boolean(p->san_required));
	json_object_set_new(o, "host_names", json_boolean(p->host_names));
	json_object_set_new(o, "cn", json_string(cn_rules[p->cn]));
	json_object_set_new(o, "subject_required",
	    json_boolean(p->subject_required));
	json_object_set_new(o, "domains", strv_json(p->domains, p->ndomains));
	json_object_set_new(o, "cn_pattern", p->cn_pattern ?
	    json_string(p->cn_pattern) : json_null());
	json_object_set_new(o, "cdp", json_string(p->cdp_url ? p->cdp_url :
	    cfg->cdp_url));
	json_object_set_new(o, "delta_cdp", json_string(!cfg->delta_enabled ?
	    "" : p->delta_url ? p->delta_url : cfg->delta_url));
	json_object_set_new(o, "aia", json_string(p->aia_url ? p->aia_url :
	    cfg->aia_url));
	json_object_set_new(o, "policies", strv_json(p->policies,
	    p->npolicies));
	json_object_set_new(o, "revocation_reasons", mask_json(p->reasons, 11,
	    crl_reason_name));
	json_object_set_new(o, "request_extensions", mask_json(p->honour, 3,
	    honour_name));
	json_object_set_new(o, "max_extensions",
	    json_integer(p->max_extensions));
	json_object_set_new(o, "max_sans", json_integer(p->max_sans));
	json_object_set_new(o, "ocsp_nocheck", json_boolean(p->ocsp_nocheck));
	json_object_set_new(o, "expired_on_crl", p->expired_on_crl < 0 ?
	    json_string("forever") : json_integer(p->expired_on_crl));
	return o;
}

/* One key = value line of a JSON value, as the config file writes it. */
static void
print_value(const char *key, const json_t *v)
{
	const json_t	*e;
	size_t		 i;

	printf("%s = ", key);
	if (json_is_array(v)) {
		if (json_array_size(v) == 0)
			printf("none");
		json_array_foreach(v, i, e)
			printf("%s%s", i ? ", " : "", json_string_value(e));
	} else if (json_is_string(v) && *json_string_value(v) == '\0')
		printf("none");
	else if (json_is_string(v))
		/* URLs are %-token templates already (url_expand). */
		printf("%s", json_string_value(v));
	else if (json_is_integer(v))
		printf("%" JSON_INTEGER_FORMAT, json_integer_value(v));
	else if (json_is_boolean(v))
		printf("%s", json_is_true(v) ? "true" : "false");
	else
		printf("none");
	printf("\n");
}

static void
print_section(const json_t *o)
{
	static const char *const skip[] = { "name", "builtin", "allowed",
	    "default" };
	const char	*key;
	json_t		*v;
	size_t		 i;

	printf("# %s%s%s\n", json_is_true(json_object_get(o, "builtin")) ?
	    "built in" : "defined in the config",
	    json_is_true(json_object_get(o, "allowed")) ?
	    ", allowed by [policy] profiles" : ", not in [policy] profiles",
	    json_is_true(json_object_get(o, "default")) ?
	    ", the default profile" : "");
	printf("[profile.%s]\n", json_string_value(json_object_get(o, "name")));
	json_object_foreach((json_t *)o, key, v) {
		for (i = 0; i < nitems(skip); i++)
			if (strcmp(key, skip[i]) == 0)
				break;
		if (i == nitems(skip) && !(strcmp(key, "cn_pattern") == 0 &&
		    json_is_null(v)))
			print_value(key, v);
	}
}

static int
profile_usage(void)
{
	fprintf(stderr, "usage: certmint profile list | show NAME\n");
	return CLI_USAGE;
}

int
cmd_profile(const struct cli *cli, int argc, char **argv)
{
	struct cm_config cfg;
	const struct cm_profile *p;
	json_t		*o, *all;
	size_t		 i;

	if (argc < 2 || (strcmp(argv[1], "list") == 0 && argc != 2) ||
	    (strcmp(argv[1], "show") == 0 && argc != 3) ||
	    (strcmp(argv[1], "list") != 0 && strcmp(argv[1], "show") != 0))
		return profile_usage();
	if (cli_config(cli, &cfg) == -1)
		return CLI_FAIL;
	if (strcmp(argv[1], "show") == 0) {
		if ((p = profile_find(&cfg, argv[2])) == NULL) {
			fprintf(stderr, "certmint: no profile \"%s\" (see "
			    "certmint profile list)\n", argv[2]);
			config_free(&cfg);
			return CLI_FAIL;
		}
		o = profile_json(&cfg, p);
		if (cli->json)
			print_json(o);
		else
			print_section(o);
		json_decref(o);
		config_free(&cfg);
		return CLI_OK;
	}
	all = json_array();
	for (i = 0; i < cfg.nprofiles; i++)
		json_array_append_new(all, profile_json(&cfg,
		    &cfg.profile_list[i]));
	if (cli->json)
		print_json(all);
	else {
		printf("%-16s %-8s %-9s %s\n", "NAME", "ALLOWED", "DAYS",
		    "DESCRIPTION");
		json_array_foreach(all, i, o)
			printf("%-16s %-8s %4d/%-4d %s\n",
			    json_string_value(json_object_get(o, "name")),
			    json_is_true(json_object_get(o, "default")) ?
			    "default" : json_is_true(json_object_get(o,
			    "allowed")) ? "yes" : "no",
			    (int)json_integer_value(json_object_get(o,
			    "validity_days")),
			    (int)json_integer_value(json_object_get(o,
			    "max_validity_days")),
			    json_string_value(json_object_get(o,
			    "description")));
	}
	json_decref(all);
	config_free(&cfg);
	return CLI_OK;
}
