/*
 * config.c - load and validate the INI configuration file (its edits are
 * config_edit.c's).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ini.h>

#include "config.h"

struct known_key {
	const char	*section;
	const char	*key;
};

/* Keys of the built-in sections; anything else there is a typo. */
static const struct known_key known_keys[] = {
	{ "ca", "name" }, { "ca", "type" }, { "ca", "key" }, { "ca", "cert" },
	{ "ca", "chain" }, { "ca", "database" }, { "ca", "hash" },
	{ "ca", "machine_dns_name" }, { "ca", "key_type" }, { "ca", "serials" },
	{ "ca", "startup_check" },
	{ "server", "listen" }, { "server", "port" }, { "server", "admin_socket" },
	{ "server", "pid_file" }, { "server", "max_body" }, { "server", "threads" },
	{ "server", "trust_requester_header" },
	{ "server", "max_connections" }, { "server", "max_client_connections" },
	{ "server", "header_timeout" }, { "server", "body_timeout" },
	/* HTTPS and REST authentication (issue 14) */
	{ "server", "tls_port" }, { "server", "tls_cert" }, { "server", "tls_key" },
	{ "server", "tls_names" }, { "server", "plain_api" },
	{ "rest", "anonymous" }, { "rest", "client_profiles" },
	{ "rest", "client_names" },
	{ "publish", "base_url" }, { "publish", "cdp_url" }, { "publish", "aia_url" },
	{ "publish", "delta_url" },
	{ "crl", "period_hours" }, { "crl", "delta" }, { "crl", "delta_period_hours" },
	/* the CRL schedule (issue 11); *_hours are the old names */
	{ "crl", "period" }, { "crl", "overlap" }, { "crl", "delta_period" },
	{ "crl", "delta_overlap" }, { "crl", "publish_on_revoke" },
	{ "policy", "module" }, { "policy", "request_disposition" },
	{ "policy", "pending_first" }, { "policy", "key_types" },
	{ "policy", "san_types" }, { "policy", "profiles" },
	{ "policy", "default_profile" }, { "policy", "validity_days" },
	{ "policy", "max_validity_days" }, { "policy", "backdate_seconds" },
	/* exit module host (issue 3) */
	{ "exit", "active" }, { "exit", "modules_dir" }, { "exit", "max_attempts" },
	{ "exit", "backoff_initial_ms" }, { "exit", "backoff_max_ms" },
	{ "exit", "deadline_ms" }, { "exit", "threads" },
	{ "exit", "stop_deadline_ms" }, { "exit", "nice" },
	{ "exit", "yield_ms" }, { "exit", "yield_above" },
	/* crash quarantine and suspension (issue 9) */
	{ "exit", "crash_attempts" }, { "exit", "suspend_after" },
	{ "exit", "crash_window_s" },
	/* [exit.NAME]: how one module is hosted (issue 9) */
	{ "exit.", "isolation" }, { "exit.", "user" }, { "exit.", "memory_mb" },
	{ "exit.", "cpu_seconds" }, { "exit.", "open_files" },
	/* the ACME server (docs/acme.md); [acme.NAME]: another directory */
	{ "acme", "enabled" }, { "acme", "base_url" }, { "acme", "profile" },
	{ "acme", "eab" }, { "acme", "identifiers" }, { "acme", "http01_port" },
	{ "acme", "tlsalpn01_port" }, { "acme", "resolver" },
	{ "acme", "validation_deny" },
	{ "acme", "validation_timeout_ms" }, { "acme", "max_validations" },
	{ "acme", "challenge_wait_ms" },
	{ "acme", "terms_of_service" }, { "acme", "website" },
	{ "acme", "profiles" }, { "acme", "orders_per_account_hour" },
	{ "acme", "orders_per_domain_hour" },
	{ "acme.", "orders_per_account_hour" },
	{ "acme.", "orders_per_domain_hour" },
	{ "acme.", "profile" }, { "acme.", "eab" }, { "acme.", "identifiers" },
	{ "acme.", "profiles" },
};

static const char *const builtin_sections[] = {
	"ca", "server", "publish", "crl", "policy", "exit", "rest",
	"acme"
};

struct load_state {
	struct cm_config *cfg;
	char		 *err;
	size_t		  errlen;
	int		  failed;
	size_t		  cap;		/* cfg->entries allocated */
};

/* Is section one of a profile or a module (not a built-in one)? */
static int
section_is_other(const char *section)
{
	size_t	 n = strlen(section);

	if (strncasecmp(section, "profile.", 8) == 0 && section[8] != '\0')
		return 1;
	return (n > 5 && strcasecmp(section + n - 5, ".Exit") == 0) ||
	    (n > 7 && strcasecmp(section + n - 7, ".Policy") == 0);
}

int
config_section_reserved(const char *name)
{
	size_t	 i;

	for (i = 0; i < nitems(builtin_sections); i++)
		if (strcasecmp(name, builtin_sections[i]) == 0)
			return 1;
	return (strncasecmp(name, "exit.", 5) == 0 ||
	    strncasecmp(name, "acme.", 5) == 0) ||
	    strncasecmp(name, "profile.", 8) == 0;
}

static int
config_entry_add(void *user, const char *section, const char *name,
    const char *value)
{
	struct load_state *ls = user;
	struct cm_config *cfg = ls->cfg;
	struct cfg_entry *e;
	size_t		  i;
	const char	 *sec = section;
	int		  builtin = 0, known = 0;

	for (i = 0; i < nitems(builtin_sections); i++)
		if (strcasecmp(section, builtin_sections[i]) == 0)
			builtin = 1;
	/* [exit.NAME] sections share one key list, found as "exit.". */
	if (strncasecmp(section, "exit.", 5) == 0 && section[5] != '\0') {
		builtin = 1;
		sec = "exit.";
	}
	if (strncasecmp(section, "acme.", 5) == 0 && section[5] != '\0') {
		builtin = 1;
		sec = "acme.";
	}
	/* A module's section is named after it: MyApp.Exit, MyApp.Policy. */
	if (!builtin && !section_is_other(section)) {
		if (!ls->failed)
			snprintf(ls->err, ls->errlen, "%s: unknown section "
			    "[%s] (known: [ca], [server], [publish], [crl], "
			    "[policy], [exit], [exit.NAME], [rest], [acme], [acme.NAME], "
			    "[profile.NAME], and "
			    "a module's own, e.g. [MyApp.Exit])", cfg->path,
			    section);
		ls->failed = 1;
		return 1;
	}
	/* [profile.NAME]: profiles.c knows the keys. */
	if (strncasecmp(section, "profile.", 8) == 0 &&
	    !profile_key_known(name)) {
		if (!ls->failed)
			snprintf(ls->err, ls->errlen,
			    "%s: unknown key \"%s\" in section [%s] (see "
			    "docs/profiles.md)", cfg->path, name, section);
		ls->failed = 1;
		return 1;
	}
	for (i = 0; builtin && i < nitems(known_keys); i++)
		if (strcasecmp(sec, known_keys[i].section) == 0 &&
		    strcasecmp(name, known_keys[i].key) == 0)
			known = 1;
	if (builtin && !known) {
		if (!ls->failed)
			snprintf(ls->err, ls->errlen,
			    "%s: unknown key \"%s\" in section [%s]",
			    cfg->path, name, section);
		ls->failed = 1;
		return 1;
	}
	/* Doubled when full: a file of many keys loads in linear time. */
	if (cfg->nentries == ls->cap) {
		if ((e = reallocarray(cfg->entries, ls->cap ? ls->cap * 2 : 64,
		    sizeof(*e))) == NULL)
			return 0;
		ls->cap = ls->cap ? ls->cap * 2 : 64;
		cfg->entries = e;
	}
	e = &cfg->entries[cfg->nentries];
	e->section = strdup(section);
	e->key = strdup(name);
	e->value = strdup(value);
	if (e->section == NULL || e->key == NULL || e->value == NULL) {
		free(e->section);
		free(e->key);
		free(e->value);
		return 0;
	}
	cfg->nentries++;
	return 1;
}

const char *
config_get(const struct cm_config *cfg, const char *section, const char *key)
{
	size_t	 i;

	/* config_load refused a key set twice in a section. */
	for (i = cfg->nentries; i-- > 0;)
		if (strcasecmp(cfg->entries[i].section, section) == 0 &&
		    strcasecmp(cfg->entries[i].key, key) == 0)
			return cfg->entries[i].value;
	return NULL;
}

char *
config_keys(const struct cm_config *cfg, const char *section)
{
	size_t	 i, len = 0;
	char	*out, *p;

	for (i = 0; i < cfg->nentries; i++)
		if (strcasecmp(cfg->entries[i].section, section) == 0)
			len += strlen(cfg->entries[i].key) + 1;
	if (len == 0 || (out = p = malloc(len + 1)) == NULL)
		return NULL;
	/* Each key once: config_load refused a key set twice. */
	for (i = 0; i < cfg->nentries; i++)
		if (strcasecmp(cfg->entries[i].section, section) == 0)
			p += sprintf(p, "%s%s", p == out ? "" : "\n",
			    cfg->entries[i].key);
	return out;
}

int
parse_duration(const char *s, int64_t *seconds)
{
	char		*end;
	long long	 v;
	int64_t		 mult = 1;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || v < 0)
		return -1;
	switch (*end) {
	case '\0':
	case 's':
		break;
	case 'm':
		mult = 60;
		break;
	case 'h':
		mult = 3600;
		break;
	case 'd':
		mult = 86400;
		break;
	default:
		return -1;
	}
	if ((*end != '\0' && end[1] != '\0') || v > INT64_MAX / mult)
		return -1;
	*seconds = (int64_t)v * mult;
	return 0;
}

static int
get_str(struct cm_config *cfg, const char *sec, const char *key,
    const char *def, char **out)
{
	const char	*v = config_get(cfg, sec, key);

	*out = strdup(v != NULL ? v : def);
	return *out == NULL ? -1 : 0;
}

static int
get_path(struct cm_config *cfg, const char *sec, const char *key,
    const char *def, char **out)
{
	const char	*v = config_get(cfg, sec, key);

	*out = path_join(cfg->dir, v != NULL ? v : def);
	return *out == NULL ? -1 : 0;
}

static int
get_int(struct cm_config *cfg, const char *sec, const char *key, int def,
    int min, int max, int *out, char *err, size_t errlen)
{
	const char	*v = config_get(cfg, sec, key);
	int64_t		 n;

	if (v == NULL) {
		*out = def;
		return 0;
	}
	if (parse_int64(v, &n) == -1 || n < min || n > max) {
		snprintf(err, errlen, "%s: [%s] %s = \"%s\": expected an integer "
		    "from %d to %d", cfg->path, sec, key, v, min, max);
		return -1;
	}
	*out = (int)n;
	return 0;
}

static int
get_bool(struct cm_config *cfg, const char *sec, const char *key, int def,
    int *out, char *err, size_t errlen)
{
	const char	*v = config_get(cfg, sec, key);

	if (v == NULL)
		*out = def;
	else if (!strcasecmp(v, "true") || !strcasecmp(v, "yes") ||
	    !strcasecmp(v, "on") || !strcmp(v, "1"))
		*out = 1;
	else if (!strcasecmp(v, "false") || !strcasecmp(v, "no") ||
	    !strcasecmp(v, "off") || !strcmp(v, "0"))
		*out = 0;
	else {
		snprintf(err, errlen, "%s: [%s] %s = \"%s\": expected true or false",
		    cfg->path, sec, key, v);
		return -1;
	}
	return 0;
}

/*
 * Parse a comma-separated list of names into a bit mask, using lookup to map
 * each name to a bit index (n = unknown). "all" sets every bit.
 */
static int
get_mask(struct cm_config *cfg, const char *sec, const char *key,
    uint32_t def, int n, int (*lookup)(const char *), uint32_t *out,
    char *err, size_t errlen)
{
	const char	*v = config_get(cfg, sec, key);
	char		*copy, *tok, *save = NULL;
	uint32_t	 mask = 0;
	int		 bit;

	if (v == NULL) {
		*out = def;
		return 0;
	}
	if ((copy = strdup(v)) == NULL)
		return -1;
	for (tok = strtok_r(copy, ", \t", &save); tok != NULL;
	    tok = strtok_r(NULL, ", \t", &save)) {
		if (strcasecmp(tok, "all") == 0) {
			mask |= (1u << n) - 1;
			continue;
		}
		if ((bit = lookup(tok)) >= n) {
			snprintf(err, errlen, "%s: [%s] %s: unknown name \"%s\"",
			    cfg->path, sec, key, tok);
			free(copy);
			return -1;
		}
		mask |= 1u << bit;
	}
	free(copy);
	*out = mask;
	return 0;
}

static int lookup_key(const char *s) { return (int)key_type_from_name(s); }
static int lookup_san(const char *s) { return (int)san_type_from_name(s); }

static int
parse_disposition(struct cm_config *cfg, char *err, size_t errlen)
{
	const char	*v = config_get(cfg, "policy", "request_disposition");
	int64_t		 n;
	int		 pf;

	cfg->request_disposition = REQDISP_ISSUE;
	if (v == NULL)
		;
	else if (strcasecmp(v, "issue") == 0)
		cfg->request_disposition = REQDISP_ISSUE;
	else if (strcasecmp(v, "pending") == 0)
		cfg->request_disposition = REQDISP_PENDING;
	else if (strcasecmp(v, "deny") == 0)
		cfg->request_disposition = REQDISP_DENY;
	else if (strcasecmp(v, "attribute") == 0)
		cfg->request_disposition = REQDISP_USEREQUESTATTRIBUTE;
	else if (parse_int64_c(v, &n) == 0 && (n & REQDISP_MASK) <= 3 &&
	    (n & ~(int64_t)(REQDISP_MASK | REQDISP_PENDINGFIRST)) == 0)
		cfg->request_disposition = (int)n;
	else {
		snprintf(err, errlen, "%s: [policy] request_disposition = \"%s\": "
		    "expected issue, pending, deny, attribute or a REQDISP_* number",
		    cfg->path, v);
		return -1;
	}
	if (get_bool(cfg, "policy", "pending_first", 0, &pf, err, errlen) == -1)
		return -1;
	if (pf)
		cfg->request_disposition |= REQDISP_PENDINGFIRST;
	return 0;
}

/*
 * A [publish] URL: key's value, else (for the delta CRL) the value of
 * also when it has %9, else base_url and suffix; AD CS's %-tokens
 * expanded (delta: %9 is "+"). Returns 0 or -1 with err.
 */
static int
publish_url(struct cm_config *cfg, const char *key, const char *also,
    const char *suffix, int delta, char **out, char *err, size_t errlen)
{
	const char	*v = config_get(cfg, "publish", key);
	char		 why[256];

	if (v == NULL && also != NULL &&
	    (v = config_get(cfg, "publish", also)) != NULL &&
	    strstr(v, "%9") == NULL)
		v = NULL;
	if (v == NULL) {
		struct buf	 b = { 0 };
		const char	*p;

		/* A template for url_finish: base_url's "%" doubled. */
		for (p = cfg->base_url; *p != '\0'; p++)
			buf_append(&b, *p == '%' ? "%%" : p, *p == '%' ? 2 : 1);
		if (buf_append(&b, suffix, strlen(suffix) + 1) == -1) {
			buf_free(&b);
			*out = NULL;
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		*out = buf_steal(&b);
		return 0;
	}
	if ((*out = url_expand(cfg, v, delta, why, sizeof(why))) == NULL) {
		snprintf(err, errlen, "%s: [publish] %s: %s", cfg->path, key,
		    why);
		return -1;
	}
	return 0;
}

/*
 * With delta CRLs on, a certificate's Freshest CRL URL that is its CDP
 * would send a relying party to the base CRL for the delta (or the delta
 * for the base): the [publish] pair and each profile's, as certificates
 * get them. Returns 0, or -1 with err naming where to fix it.
 */
static int
crl_urls_check(const struct cm_config *cfg, char *err, size_t errlen)
{
	const struct cm_profile *p;
	const char	*cdp, *delta;
	size_t		 i;

	if (!cfg->delta_enabled)
		return 0;
	if (*cfg->cdp_url != '\0' &&
	    strcmp(cfg->cdp_url, cfg->delta_url) == 0) {
		snprintf(err, errlen, "%s: [publish] delta_url is cdp_url "
		    "(\"%s\"): a delta CRL needs a URL of its own (%%9 in "
		    "cdp_url, or another delta_url)", cfg->path, cfg->cdp_url);
		return -1;
	}
	for (i = 0; i < cfg->nprofiles; i++) {
		p = &cfg->profile_list[i];
		cdp = p->cdp_url != NULL ? p->cdp_url : cfg->cdp_url;
		delta = p->delta_url != NULL ? p->delta_url : cfg->delta_url;
		if (*cdp != '\0' && strcmp(cdp, delta) == 0) {
			snprintf(err, errlen, "%s: [profile.%s]: its freshest "
			    "CRL URL is its cdp (\"%s\"): a delta CRL needs a "
			    "URL of its own (%%9 in cdp, or another delta_cdp)",
			    cfg->path, p->name, cdp);
			return -1;
		}
	}
	return 0;
}

/*
 * A duration key of [crl] ("7d", "12h", "90s"), key_hours its old name in
 * hours; setting both is an error, not a choice made for the operator.
 * Returns 0 with *out (def when neither is set), or -1 with err.
 */
static int
get_duration(struct cm_config *cfg, const char *key, int64_t def,
    int64_t max, int64_t *out, char *err, size_t errlen)
{
	char		 old[64];
	const char	*v = config_get(cfg, "crl", key), *h;
	int64_t		 n = 0;

	snprintf(old, sizeof(old), "%s_hours", key);
	h = config_get(cfg, "crl", old);
	if (v != NULL && h != NULL) {
		snprintf(err, errlen, "%s: [crl] sets both %s and %s (its old "
		    "name, in hours): keep one", cfg->path, key, old);
		return -1;
	}
	*out = def;
	if (v != NULL && (parse_duration(v, &n) == -1 || n < 1 || n > max)) {
		snprintf(err, errlen, "%s: [crl] %s = \"%s\": expected a duration "
		    "from 1s to %" PRId64 "d (e.g. 7d, 12h, 30m, 90s)", cfg->path,
		    key, v, max / 86400);
		return -1;
	}
	if (h != NULL && (parse_int64(h, &n) == -1 || n < 1 ||
	    n > max / 3600)) {
		snprintf(err, errlen, "%s: [crl] %s = \"%s\": expected an "
		    "integer from 1 to %" PRId64, cfg->path, old, h, max / 3600);
		return -1;
	}
	if (v != NULL)
		parse_duration(v, out);
	else if (h != NULL)
		*out = n * 3600;
	return 0;
}

/*
 * A CRL's period and overlap. The overlap defaults to a tenth of the
 * period but at least an hour (AD CS's CRLOverlapPeriod): the time that
 * a late publication, a retried failure or a client's clock may take.
 * Returns 0 or -1 with err.
 */
static int
crl_times(struct cm_config *cfg, const char *pkey, const char *okey,
    int64_t def, int64_t max, int64_t *period, int64_t *overlap, char *err,
    size_t errlen)
{
	if (get_duration(cfg, pkey, def, max, period, err, errlen) == -1)
		return -1;
	def = *period / 10 > 3600 ? *period / 10 : 3600;
	return get_duration(cfg, okey, def, max, overlap, err, errlen);
}

/*
 * [sec] key = one of names (NULL-terminated, case aside; the first is the
 * default): *out its index. 0, or -1 with err listing them.
 */
static int
get_choice(struct cm_config *cfg, const char *sec, const char *key,
    const char *const names[], int *out, char *err, size_t errlen)
{
	const char	*v = config_get(cfg, sec, key);
	size_t		 n;
	int		 i;

	for (i = 0; names[i] != NULL; i++)
		if (v == NULL || strcasecmp(v, names[i]) == 0) {
			*out = i;
			return 0;
		}
	n = (size_t)snprintf(err, errlen, "%s: [%s] %s = \"%s\": expected",
	    cfg->path, sec, key, v);
	for (i = 0; names[i] != NULL && n < errlen; i++)
		n += (size_t)snprintf(err + n, errlen - n, "%s %s", i == 0 ?
		    "" : names[i + 1] == NULL ? " or" : ",", names[i]);
	return -1;
}

static int
config_interpret(struct cm_config *cfg, char *err, size_t errlen)
{
	/* In the order of the CM_* values they stand for (config.h). */
	static const char *const serials[] = { "ordered", "random", NULL };
	static const char *const checks[] = { "auto", "full", "background",
	    NULL };
	static const char *const types[] = { "root", "subordinate", NULL };
	static const char *const anonymous[] = { "no", "pending", "issue",
	    NULL };
	const char	*v;
	char		*s;
	int64_t		 n;
	int		 i;
	int		 maxbody;

	if (get_str(cfg, "ca", "name", "certmint CA", &cfg->ca_name) == -1 ||
	    get_path(cfg, "ca", "key", "ca.key", &cfg->key_file) == -1 ||
	    get_path(cfg, "ca", "cert", "ca.crt", &cfg->cert_file) == -1 ||
	    get_path(cfg, "ca", "chain", "chain.pem", &cfg->chain_file) == -1 ||
	    get_path(cfg, "ca", "database", "certmint.db", &cfg->db_file) == -1 ||
	    get_str(cfg, "ca", "hash", "sha256", &cfg->hash) == -1 ||
	    get_str(cfg, "ca", "machine_dns_name", "localhost",
	    &cfg->machine_dns_name) == -1 ||
	    get_str(cfg, "server", "listen", "127.0.0.1", &cfg->listen_addr) == -1 ||
	    get_path(cfg, "server", "admin_socket", "admin.sock",
	    &cfg->admin_socket) == -1 ||
	    get_path(cfg, "server", "pid_file", "certmintd.pid", &cfg->pid_file) == -1 ||
	    get_path(cfg, "server", "tls_cert", "tls.crt", &cfg->tls_cert) == -1 ||
	    get_path(cfg, "server", "tls_key", "tls.key", &cfg->tls_key) == -1 ||
	    get_str(cfg, "server", "tls_names", "", &cfg->tls_names) == -1 ||
	    get_str(cfg, "rest", "client_profiles", "", &cfg->client_profiles) == -1 ||
	    get_str(cfg, "rest", "client_names", "", &cfg->client_names) == -1 ||
	    get_str(cfg, "policy", "module", "CertMint_Default.Policy",
	    &cfg->policy_module) == -1)
		goto nomem;
	if (strcasecmp(cfg->hash, "sha256") && strcasecmp(cfg->hash, "sha384") &&
	    strcasecmp(cfg->hash, "sha512")) {
		snprintf(err, errlen, "%s: [ca] hash = \"%s\": expected sha256, "
		    "sha384 or sha512", cfg->path, cfg->hash);
		return -1;
	}
	if (get_choice(cfg, "ca", "serials", serials, &cfg->serials_random,
	    err, errlen) == -1 ||
	    get_choice(cfg, "ca", "startup_check", checks,
	    &cfg->startup_check, err, errlen) == -1 ||
	    get_choice(cfg, "ca", "type", types, &i, err, errlen) == -1)
		return -1;
	cfg->ca_type = i == 0 ? CM_CATYPE_STANDALONE_ROOTCA :
	    CM_CATYPE_STANDALONE_SUBCA;
	if (get_int(cfg, "server", "port", 8080, 0, 65535, &cfg->listen_port,
	    err, errlen) == -1 ||
	    get_int(cfg, "server", "tls_port", 0, 0, 65535, &cfg->tls_port,
	    err, errlen) == -1 ||
	    get_bool(cfg, "server", "plain_api", 0, &cfg->plain_api, err,
	    errlen) == -1 ||
	    get_choice(cfg, "rest", "anonymous", anonymous, &cfg->anonymous,
	    err, errlen) == -1 ||
	    get_int(cfg, "server", "max_body", 65536, 1024, 64 << 20, &maxbody,
	    err, errlen) == -1 ||
	    get_int(cfg, "server", "threads", 0, 0, 256, &cfg->threads,
	    err, errlen) == -1 ||
	    get_bool(cfg, "crl", "delta", 0, &cfg->delta_enabled, err, errlen) == -1 ||
	    get_bool(cfg, "crl", "publish_on_revoke", 0, &cfg->crl_on_revoke,
	    err, errlen) == -1 ||
	    crl_times(cfg, "period", "overlap", 168 * 3600, 3660 * 86400,
	    &cfg->crl_period, &cfg->crl_overlap, err, errlen) == -1 ||
	    crl_times(cfg, "delta_period", "delta_overlap", 86400, 366 * 86400,
	    &cfg->delta_period, &cfg->delta_overlap, err, errlen) == -1 ||
	    get_bool(cfg, "server", "trust_requester_header", 0,
	    &cfg->trust_requester_header, err, errlen) == -1 ||
	    get_int(cfg, "server", "max_connections", 1000, 16, 100000,
	    &cfg->max_connections, err, errlen) == -1 ||
	    get_int(cfg, "server", "max_client_connections", 256, 1, 100000,
	    &cfg->max_client_connections, err, errlen) == -1 ||
	    get_int(cfg, "server", "header_timeout", 10, 1, 3600,
	    &cfg->header_timeout, err, errlen) == -1 ||
	    get_int(cfg, "server", "body_timeout", 30, 1, 3600,
	    &cfg->body_timeout, err, errlen) == -1 ||
	    get_int(cfg, "policy", "validity_days", 365, 1, 36600,
	    &cfg->validity_days, err, errlen) == -1 ||
	    get_int(cfg, "policy", "max_validity_days", 825, 1, 36600,
	    &cfg->max_validity_days, err, errlen) == -1 ||
	    get_int(cfg, "policy", "backdate_seconds", 300, 0, 86400,
	    &cfg->backdate_seconds, err, errlen) == -1 ||
	    parse_disposition(cfg, err, errlen) == -1 ||
	    get_mask(cfg, "policy", "key_types", (1u << KEY__MAX) - 1, KEY__MAX,
	    lookup_key, &cfg->key_types, err, errlen) == -1 ||
	    get_mask(cfg, "policy", "san_types", SAN_TYPES_DEFAULT, SAN__MAX,
	    lookup_san, &cfg->san_types, err, errlen) == -1)
		return -1;
	cfg->max_body = (size_t)maxbody;
	/* One port, two listeners: the second would find it taken. */
	if (cfg->tls_port != 0 && cfg->tls_port == cfg->listen_port) {
		snprintf(err, errlen, "%s: [server] tls_port and port are both "
		    "%d: HTTPS needs a port of its own", cfg->path, cfg->tls_port);
		return -1;
	}
	if (cfg->validity_days > cfg->max_validity_days) {
		snprintf(err, errlen, "%s: [policy] validity_days (%d) exceeds "
		    "max_validity_days (%d)", cfg->path, cfg->validity_days,
		    cfg->max_validity_days);
		return -1;
	}

	if ((v = config_get(cfg, "publish", "base_url")) == NULL) {
		char	 def[300];

		/* An IPv6 address in brackets (RFC 3986 3.2.2). */
		snprintf(def, sizeof(def), "http://%s%s%s:%d",
		    strchr(cfg->listen_addr, ':') ? "[" : "", cfg->listen_addr,
		    strchr(cfg->listen_addr, ':') ? "]" : "", cfg->listen_port);
		cfg->base_url = strdup(def);
	} else
		cfg->base_url = strdup(v);
	if (cfg->base_url == NULL)
		goto nomem;
	/* Trailing slashes would double up in the URLs below. */
	s = cfg->base_url + strlen(cfg->base_url);
	while (s > cfg->base_url && s[-1] == '/')
		*--s = '\0';
	/* %8, %4: "(N)" after a renewal (url_finish). */
	if (publish_url(cfg, "cdp_url", NULL, "/ca%8.crl", 0, &cfg->cdp_url,
	    err, errlen) == -1 ||
	    publish_url(cfg, "aia_url", NULL, "/ca%4.crt", 0, &cfg->aia_url,
	    err, errlen) == -1 ||
	    publish_url(cfg, "delta_url", "cdp_url", "/delta%8.crl", 1,
	    &cfg->delta_url, err, errlen) == -1 ||
	    profiles_load(cfg, err, errlen) == -1 ||
	    crl_urls_check(cfg, err, errlen) == -1)
		return -1;
	(void)n;
	return 0;
nomem:
	snprintf(err, errlen, "out of memory");
	return -1;
}

static int
entry_cmp(const void *a, const void *b)
{
	const struct cfg_entry *x = *(const struct cfg_entry *const *)a;
	const struct cfg_entry *y = *(const struct cfg_entry *const *)b;
	int	 c;

	if ((c = strcasecmp(x->section, y->section)) != 0 ||
	    (c = strcasecmp(x->key, y->key)) != 0)
		return c;
	return (x > y) - (x < y);	/* one array: file order */
}

/*
 * A key set twice in one section: libinih hands over both and the last
 * would silently win (an "anonymous = issue" appended under a forgotten
 * "anonymous = no"). Sorted, so that a large file costs n log n. 0, or
 * -1 with err naming the key that comes second in the file.
 */
static int
entries_dup(const struct cm_config *cfg, char *err, size_t errlen)
{
	const struct cfg_entry **v, *dup = NULL;
	size_t	 i;

	if (cfg->nentries < 2)
		return 0;
	if ((v = calloc(cfg->nentries, sizeof(*v))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (i = 0; i < cfg->nentries; i++)
		v[i] = &cfg->entries[i];
	qsort(v, cfg->nentries, sizeof(*v), entry_cmp);
	for (i = 1; i < cfg->nentries; i++)
		if (strcasecmp(v[i]->section, v[i - 1]->section) == 0 &&
		    strcasecmp(v[i]->key, v[i - 1]->key) == 0 &&
		    (dup == NULL || v[i] < dup))
			dup = v[i];
	free(v);
	if (dup == NULL)
		return 0;
	snprintf(err, errlen, "%s: \"%s\" is set twice in [%s] (a key may be "
	    "set once in a section; a line that starts with a space or a tab "
	    "continues the line before it)", cfg->path, dup->key, dup->section);
	return -1;
}

/*
 * Lines libinih would misread: longer than CONFIG_MAX_LINE (it reads the
 * rest as the next line: a "syntax error" far from the cause), or with a
 * NUL (it cuts the value there). f is left at its start. *unended gets
 * the number of the last line when it has no newline (a file cut short
 * ends so), else 0. 0, or -1 with err.
 */
static int
lines_check(FILE *f, const char *path, int *unended, char *err,
    size_t errlen)
{
	int	 c, line = 1;
	size_t	 col = 0;

	while ((c = getc(f)) != EOF) {
		if (c == '\n') {
			line++;
			col = 0;
			continue;
		}
		if (c == '\0') {
			snprintf(err, errlen, "%s:%d: a NUL byte", path, line);
			return -1;
		}
		if (++col > CONFIG_MAX_LINE && c != '\r') {
			snprintf(err, errlen, "%s:%d: longer than %d characters "
			    "(the most a line may have)", path, line,
			    CONFIG_MAX_LINE);
			return -1;
		}
	}
	if (ferror(f) || fseek(f, 0, SEEK_SET) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	*unended = col > 0 ? line : 0;
	return 0;
}

/*
 * The config file at path, opened for reading: a regular file of 1 byte
 * to CONFIG_MAX_SIZE (what reads forever, /dev/zero, or as nothing, a
 * directory, is refused). *sb gets its stat. NULL with err otherwise.
 */
static FILE *
config_open(const char *path, struct stat *sb, char *err, size_t errlen)
{
	FILE	*f;
	int	 fd;

	/*
	 * O_NONBLOCK: opening a FIFO for reading waits for a writer, before
	 * any check could refuse it. Cleared for the regular file read.
	 */
	if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) == -1 ||
	    fstat(fd, sb) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		if (fd != -1)
			close(fd);
		return NULL;
	}
	if (!S_ISREG(sb->st_mode) || sb->st_size == 0 ||
	    sb->st_size > CONFIG_MAX_SIZE) {
		snprintf(err, errlen, "%s: %s", path, !S_ISREG(sb->st_mode) ?
		    "not a regular file" : sb->st_size == 0 ? "is empty" :
		    "larger than 16 MB");
		close(fd);
		return NULL;
	}
	(void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	if ((f = fdopen(fd, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
	}
	return f;
}

struct peek {
	const char	*sec, *key;
	char		*val;
};

static int
peek_entry(void *user, const char *sec, const char *key, const char *val)
{
	struct peek	*p = user;

	if (strcmp(sec, p->sec) == 0 && strcmp(key, p->key) == 0) {
		free(p->val);
		p->val = strdup(val);
	}
	return 1;	/* go on, whatever else the file holds */
}

char *
config_peek_path(const char *path, const char *sec, const char *key,
    const char *def)
{
	struct peek	 p = { sec, key, NULL };
	struct stat	 sb;
	char		*dir, *out = NULL, err[256];
	FILE		*f;

	if ((f = config_open(path, &sb, err, sizeof(err))) == NULL)
		return NULL;
	(void)ini_parse_file(f, peek_entry, &p);
	fclose(f);
	if ((dir = path_dirname(path)) != NULL)
		out = path_join(dir, p.val != NULL ? p.val : def);
	free(dir);
	free(p.val);
	return out;
}

/* Load cfg from f, the text of the file at path (for messages, dir). */
static int
config_load_from(FILE *f, const char *path, struct cm_config *cfg,
    char *err, size_t errlen)
{
	struct load_state ls = { cfg, err, errlen, 0, 0 };
	int		 rc, unended = 0;

	if (lines_check(f, path, &unended, err, errlen) == -1)
		return -1;
	rc = ini_parse_file(f, config_entry_add, &ls);
	if (ls.failed)
		return -1;
	if (rc > 0) {
		snprintf(err, errlen, "%s:%d: syntax error (expected [section] or "
		    "key = value)", path, rc);
		return -1;
	}
	if (rc < 0) {
		snprintf(err, errlen, "%s: cannot parse (out of memory)", path);
		return -1;
	}
	if (entries_dup(cfg, err, errlen) == -1 ||
	    config_interpret(cfg, err, errlen) == -1)
		return -1;
	cfg->unended_line = unended;
	return 0;
}

/* A cm_config for path, nothing loaded yet. 0 or -1 (err). */
static int
config_init(struct cm_config *cfg, const char *path, char *err,
    size_t errlen)
{
	memset(cfg, 0, sizeof(*cfg));
	if ((cfg->path = strdup(path)) == NULL ||
	    (cfg->dir = path_dirname(path)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

int
config_load(const char *path, struct cm_config *cfg, char *err, size_t errlen)
{
	struct stat	 sb;
	FILE		*f = NULL;
	int		 rc;

	if (config_init(cfg, path, err, errlen) == -1 ||
	    (f = config_open(path, &sb, err, errlen)) == NULL)
		goto fail;
	cfg->file_uid = sb.st_uid;
	cfg->file_mode = sb.st_mode;
	rc = config_load_from(f, path, cfg, err, errlen);
	fclose(f);
	if (rc == 0)
		return 0;
fail:
	config_free(cfg);
	return -1;
}

int
config_text_loads(const char *path, const void *text, size_t len, char *err,
    size_t errlen)
{
	struct cm_config cfg;
	FILE		*f;
	int		 rc = -1;

	if (config_init(&cfg, path, err, errlen) == 0) {
		/* fmemopen of 0 bytes fails: an empty text is an empty file. */
		if ((f = len > 0 ? fmemopen((void *)text, len, "r") :
		    fopen("/dev/null", "r")) == NULL)
			snprintf(err, errlen, "%s", strerror(errno));
		else {
			rc = config_load_from(f, path, &cfg, err, errlen);
			fclose(f);
		}
	}
	config_free(&cfg);
	return rc;
}

int
config_check_mode(const struct cm_config *cfg, char *err, size_t errlen)
{
	struct stat	 sb;

	memset(&sb, 0, sizeof(sb));
	sb.st_uid = cfg->file_uid;
	sb.st_mode = cfg->file_mode;
	return file_check_mode(&sb, cfg->path, "the config file", 0, err,
	    errlen);
}

void
config_free(struct cm_config *cfg)
{
	size_t	 i;

	for (i = 0; i < cfg->nentries; i++) {
		free(cfg->entries[i].section);
		free(cfg->entries[i].key);
		free(cfg->entries[i].value);
	}
	free(cfg->entries);
	free(cfg->path);
	free(cfg->dir);
	free(cfg->ca_name);
	free(cfg->key_file);
	free(cfg->cert_file);
	free(cfg->chain_file);
	free(cfg->db_file);
	free(cfg->hash);
	free(cfg->machine_dns_name);
	free(cfg->listen_addr);
	free(cfg->admin_socket);
	free(cfg->pid_file);
	free(cfg->tls_cert);
	free(cfg->tls_key);
	free(cfg->tls_names);
	free(cfg->client_profiles);
	free(cfg->client_names);
	free(cfg->base_url);
	free(cfg->cdp_url);
	free(cfg->aia_url);
	free(cfg->delta_url);
	free(cfg->policy_module);
	profiles_free(cfg);
	memset(cfg, 0, sizeof(*cfg));
}
