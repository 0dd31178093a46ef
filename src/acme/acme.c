/*
 * acme.c - the ACME server's start, configuration and routing: which
 * directory ([acme] or [acme.NAME]) and which resource a path names, the
 * directory and newNonce, and what every answer carries (Replay-Nonce,
 * Link rel="index", problem documents).
 */
#include <ctype.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "acme_int.h"

struct store *
acme_reader(struct acme *a)
{
	return ca_reader(a->ca);
}

int
acme_write(struct acme *a, int (*fn)(struct store *, void *), void *arg)
{
	return ca_write(a->ca, fn, arg) == 0 ? 0 : -1;
}

json_t *
acme_time(int64_t t)
{
	char	 s[32];

	time_format(t, s);
	return json_string(s);
}

void
acme_url(const struct acme *a, const struct acme_endpoint *ep,
    const char *resource, int64_t id, char *out, size_t len)
{
	if (id > 0)
		snprintf(out, len, "%s%s/%s/%lld", a->base, ep->prefix,
		    resource, (long long)id);
	else if (id == 0 && strcmp(resource, "acct") == 0)
		snprintf(out, len, "%s%s/acct/0", a->base, ep->prefix);
	else
		snprintf(out, len, "%s%s/%s", a->base, ep->prefix, resource);
}

const struct acme_endpoint *
acme_endpoint_named(const struct acme_endpoint *ep, const char *name)
{
	const struct acme_dirs *d = ep->dirs;
	size_t	 i;

	for (i = 0; i < d->neps; i++)
		if (strcmp(d->eps[i].name, name) == 0)
			return &d->eps[i];
	return NULL;
}

void
acme_resp_json(struct acme_resp *r, unsigned int status, json_t *o)
{
	r->status = status;
	r->type = "application/json";
	free(r->body);
	/* One member a line (acme.sh reads the JSON with regexes). */
	r->body = o != NULL ? json_dumps(o, JSON_INDENT(1) |
	    JSON_PRESERVE_ORDER) : NULL;
	r->len = r->body != NULL ? strlen(r->body) : 0;
	json_decref(o);
	if (r->body == NULL) {
		r->status = 500;
		r->type = NULL;
	}
}

void
acme_resp_free(struct acme_resp *r)
{
	free(r->body);
	r->body = NULL;
}

json_t *
acme_problem_json(const char *stored)
{
	if (stored == NULL)
		return NULL;
	return json_loads(stored, 0, NULL);
}

char *
acme_problem_text(unsigned int status, const char *type, const char *detail)
{
	json_t	*o = json_object();
	char	 t[96], *s;

	snprintf(t, sizeof(t), ACME_ERR "%s", type);
	json_object_set_new(o, "type", json_string(t));
	json_object_set_new(o, "detail", json_string(detail));
	json_object_set_new(o, "status", json_integer(status));
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}

static void
resp_problem(struct acme_resp *r, const struct acme_problem *p)
{
	json_t	*o = json_object();
	char	 type[96];

	snprintf(type, sizeof(type), ACME_ERR "%s", p->type);
	json_object_set_new(o, "type", json_string(type));
	json_object_set_new(o, "detail", json_string(p->detail));
	json_object_set_new(o, "status", json_integer(p->status));
	/*
	 * RFC 8555 6.2: badSignatureAlgorithm lists the algorithms taken,
	 * the MACs for an external account binding's inner JWS.
	 */
	if (strcmp(p->type, "badSignatureAlgorithm") == 0)
		json_object_set_new(o, "algorithms", strncmp(p->detail,
		    "external account binding", 24) == 0 ?
		    json_pack("[sss]", "HS256", "HS384", "HS512") :
		    json_pack("[sssss]", "ES256", "ES384", "ES512", "RS256",
		    "EdDSA"));
	acme_resp_json(r, p->status, o);
	r->type = "application/problem+json";
}

static void
add_link(struct acme_resp *r, const char *url, const char *rel)
{
	if (r->nlinks < ACME_LINKS_MAX)
		snprintf(r->links[r->nlinks++], sizeof(r->links[0]),
		    "<%s>;rel=\"%s\"", url, rel);
}

/* Split "a, b,c" into a list of strings. 0 or -1. */
static int
split_list(const char *v, char ***out, size_t *n)
{
	char	*copy, *p, *tok, **list = NULL, **nl;

	*out = NULL;
	*n = 0;
	if (v == NULL)
		return 0;
	if ((copy = strdup(v)) == NULL)
		return -1;
	for (p = copy; (tok = strsep(&p, ", \t")) != NULL;) {
		if (*tok == '\0')
			continue;
		if ((nl = reallocarray(list, *n + 1, sizeof(*list))) == NULL ||
		    (nl[*n] = strdup(tok)) == NULL) {
			free(copy);
			*out = nl != NULL ? nl : list;
			return -1;
		}
		list = nl;
		(*n)++;
	}
	free(copy);
	*out = list;
	return 0;
}

/* section's key, else [acme]'s, 0 to 1000000 (0: none). 0 or -1. */
static int
ep_int(const struct cm_config *cfg, const char *section, const char *key,
    int *out, char *err, size_t errlen)
{
	const char	*v;
	char		*end;
	long		 n;

	*out = 0;
	if ((v = config_get(cfg, section, key)) == NULL &&
	    (v = config_get(cfg, "acme", key)) == NULL)
		return 0;
	n = strtol(v, &end, 10);
	if (*v == '\0' || *end != '\0' || n < 0 || n > 1000000) {
		snprintf(err, errlen, "[%s] %s = \"%s\": expected 0 (no "
		    "limit) to 1000000", section, key, v);
		return -1;
	}
	*out = (int)n;
	return 0;
}

/* One endpoint from section (acme or acme.NAME). 0 or -1 with err. */
static int
endpoint_load(const struct cm_config *cfg, const char *section,
    struct acme_endpoint *ep, char *err, size_t errlen)
{
	const char	*v;
	size_t		 i;

	memset(ep, 0, sizeof(*ep));
	if (strcasecmp(section, "acme") != 0) {
		snprintf(ep->name, sizeof(ep->name), "%s", section + 5);
		if (strspn(ep->name, "abcdefghijklmnopqrstuvwxyz"
		    "0123456789-_") != strlen(ep->name) ||
		    strcmp(ep->name, "directory") == 0 ||
		    strncmp(ep->name, "new-", 4) == 0 ||
		    strcmp(ep->name, "acct") == 0 ||
		    strcmp(ep->name, "order") == 0 ||
		    strcmp(ep->name, "authz") == 0 ||
		    strcmp(ep->name, "chall") == 0 ||
		    strcmp(ep->name, "finalize") == 0 ||
		    strcmp(ep->name, "cert") == 0 ||
		    strcmp(ep->name, "revoke-cert") == 0 ||
		    strcmp(ep->name, "key-change") == 0) {
			snprintf(err, errlen, "[%s]: an ACME directory name is "
			    "lowercase letters, digits, '-' and '_', and not "
			    "one of the resource names", section);
			return -1;
		}
		snprintf(ep->prefix, sizeof(ep->prefix), "/acme/%s", ep->name);
	} else
		snprintf(ep->prefix, sizeof(ep->prefix), "/acme");
	if ((v = config_get(cfg, section, "profile")) != NULL)
		snprintf(ep->profile, sizeof(ep->profile), "%s", v);
	else if ((v = config_get(cfg, "acme", "profile")) != NULL)
		snprintf(ep->profile, sizeof(ep->profile), "%s", v);
	if ((v = config_get(cfg, section, "eab")) == NULL)
		v = config_get(cfg, "acme", "eab");
	if (v == NULL || strcasecmp(v, "no") == 0)
		ep->eab_required = 0;
	else if (strcasecmp(v, "required") == 0)
		ep->eab_required = 1;
	else {
		snprintf(err, errlen, "[%s] eab = \"%s\": expected no or "
		    "required", section, v);
		return -1;
	}
	if ((v = config_get(cfg, section, "identifiers")) == NULL)
		v = config_get(cfg, "acme", "identifiers");
	if (split_list(v, &ep->patterns, &ep->npatterns) == -1) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	/* The profiles a client may ask for by name (profiles extension). */
	if ((v = config_get(cfg, section, "profiles")) == NULL)
		v = config_get(cfg, "acme", "profiles");
	if (split_list(v, &ep->profiles, &ep->nprofiles) == -1) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (i = 0; i < ep->nprofiles; i++)
		if (profile_find(cfg, ep->profiles[i]) == NULL) {
			snprintf(err, errlen, "[%s] profiles: no profile "
			    "\"%s\" (certmint profile list)", section,
			    ep->profiles[i]);
			return -1;
		}
	if (ep_int(cfg, section, "orders_per_account_hour",
	    &ep->orders_per_account, err, errlen) == -1 ||
	    ep_int(cfg, section, "orders_per_domain_hour",
	    &ep->orders_per_domain, err, errlen) == -1)
		return -1;
	if (ep->profile[0] != '\0' && profile_find(cfg, ep->profile) == NULL) {
		snprintf(err, errlen, "[%s] profile: no profile \"%s\" "
		    "(certmint profile list)", section, ep->profile);
		return -1;
	}
	return 0;
}

int
acme_profile_offered(const struct acme_endpoint *ep, const char *name)
{
	size_t	 i;

	for (i = 0; i < ep->nprofiles; i++)
		if (strcmp(ep->profiles[i], name) == 0)
			return 1;
	return 0;
}

static int
get_int_key(const struct cm_config *cfg, const char *key, int def, int min,
    int max, int *out, char *err, size_t errlen)
{
	const char	*v = config_get(cfg, "acme", key);
	char		*end;
	long		 n;

	*out = def;
	if (v == NULL)
		return 0;
	n = strtol(v, &end, 10);
	if (*v == '\0' || *end != '\0' || n < min || n > max) {
		snprintf(err, errlen, "[acme] %s = \"%s\": expected %d to %d",
		    key, v, min, max);
		return -1;
	}
	*out = (int)n;
	return 0;
}

static void
dirs_free(struct acme_dirs *d)
{
	size_t	 i, j;

	if (d == NULL)
		return;
	for (i = 0; d->eps != NULL && i < d->neps; i++) {
		for (j = 0; j < d->eps[i].npatterns; j++)
			free(d->eps[i].patterns[j]);
		free(d->eps[i].patterns);
		for (j = 0; j < d->eps[i].nprofiles; j++)
			free(d->eps[i].profiles[j]);
		free(d->eps[i].profiles);
	}
	free(d->eps);
	free(d);
}

/*
 * The directories of cfg: [acme] itself, then each [acme.NAME], and the
 * terms of service. NULL with err.
 */
static struct acme_dirs *
dirs_load(const struct cm_config *cfg, char *err, size_t errlen)
{
	struct acme_dirs *d;
	struct acme_endpoint *ne;
	const char	*v, *sec;
	size_t		 i, j;

	snprintf(err, errlen, "out of memory");
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return NULL;
	d->refs = 1;
	if ((v = config_get(cfg, "acme", "terms_of_service")) != NULL)
		snprintf(d->tos, sizeof(d->tos), "%s", v);
	if ((v = config_get(cfg, "acme", "website")) != NULL)
		snprintf(d->website, sizeof(d->website), "%s", v);
	if (get_int_key(cfg, "challenge_wait_ms", ACME_CHALLENGE_WAIT_MS, 0,
	    60000, &d->challenge_wait_ms, err, errlen) == -1)
		goto fail;
	snprintf(err, errlen, "out of memory");
	if ((d->eps = calloc(1, sizeof(*d->eps))) == NULL)
		goto fail;
	d->neps = 1;
	if (endpoint_load(cfg, "acme", &d->eps[0], err, errlen) == -1)
		goto fail;
	for (i = 0; i < cfg->nentries; i++) {
		sec = cfg->entries[i].section;
		if (strncasecmp(sec, "acme.", 5) != 0)
			continue;
		for (j = 1; j < d->neps; j++)
			if (strcmp(d->eps[j].name, sec + 5) == 0)
				break;
		if (j < d->neps)
			continue;
		if ((ne = reallocarray(d->eps, d->neps + 1, sizeof(*ne))) ==
		    NULL)
			goto fail;
		d->eps = ne;
		if (endpoint_load(cfg, sec, &d->eps[d->neps++], err, errlen) ==
		    -1)
			goto fail;
	}
	for (i = 0; i < d->neps; i++)
		d->eps[i].dirs = d;
	return d;
fail:
	dirs_free(d);
	return NULL;
}

/* Is [acme] enabled on? 1, 0, or -1 with err. */
static int
acme_enabled(const struct cm_config *cfg, char *err, size_t errlen)
{
	const char	*v = config_get(cfg, "acme", "enabled");

	if (v == NULL || strcasecmp(v, "no") == 0 || strcasecmp(v, "false") ==
	    0 || strcmp(v, "0") == 0)
		return 0;
	if (strcasecmp(v, "yes") != 0 && strcasecmp(v, "true") != 0 &&
	    strcmp(v, "1") != 0) {
		snprintf(err, errlen, "[acme] enabled = \"%s\": expected yes "
		    "or no", v);
		return -1;
	}
	return 1;
}

/*
 * [acme] base_url when the config does not say: [publish] base_url if
 * it is https://, else the HTTPS listener at its host, else (no HTTPS)
 * [publish] base_url as it is.
 */
static void
default_base(const struct cm_config *cfg, char *base, size_t baselen)
{
	const char	*h = cfg->base_url, *e;

	if (strncasecmp(h, "https://", 8) == 0 || cfg->tls_port <= 0 ||
	    strncasecmp(h, "http://", 7) != 0) {
		snprintf(base, baselen, "%s", h);
		return;
	}
	h += 7;
	if (*h == '[')
		e = strchr(h, ']') != NULL ? strchr(h, ']') + 1 : h + strlen(h);
	else
		e = h + strcspn(h, ":/");
	snprintf(base, baselen, "https://%.*s:%d", (int)(e - h), h,
	    cfg->tls_port);
}

/*
 * What only a restart changes: base (the URLs clients and the database
 * hold) and the VA's settings (its threads are started with them). 0 or
 * -1 with err.
 */
static int
fixed_load(const struct cm_config *cfg, char *base, size_t baselen,
    struct acme_va_config *va, char *err, size_t errlen)
{
	const char	*v;
	size_t		 i;

	memset(va, 0, sizeof(*va));
	if ((v = config_get(cfg, "acme", "base_url")) != NULL)
		snprintf(base, baselen, "%s", v);
	else
		default_base(cfg, base, baselen);
	for (i = strlen(base); i > 0 && base[i - 1] == '/'; i--)
		base[i - 1] = '\0';
	/* The plain port would answer every ACME URL 403. */
	if (strncasecmp(base, "http://", 7) == 0 && !cfg->plain_api) {
		snprintf(err, errlen, "[acme] base_url %s is plain HTTP, where "
		    "certmintd serves only CRLs and CA certificates ([server] "
		    "plain_api = no): set base_url to the https:// URL clients "
		    "reach [server] tls_port at", base);
		return -1;
	}
	if ((v = config_get(cfg, "acme", "resolver")) != NULL)
		snprintf(va->resolver, sizeof(va->resolver), "%s", v);
	if ((v = config_get(cfg, "acme", "validation_deny")) == NULL)
		v = ACME_VA_DENY_DEFAULT;
	if (acme_va_deny_parse(va, v, err, errlen) == -1)
		return -1;
	if (get_int_key(cfg, "http01_port", 80, 1, 65535, &va->http01_port,
	    err, errlen) == -1 || get_int_key(cfg, "tlsalpn01_port", 443, 1,
	    65535, &va->tlsalpn01_port, err, errlen) == -1 ||
	    get_int_key(cfg, "validation_timeout_ms", 10000, 100, 120000,
	    &va->timeout_ms, err, errlen) == -1 ||
	    get_int_key(cfg, "max_validations", 16, 1, 4096,
	    &va->max_parallel, err, errlen) == -1)
		return -1;
	return 0;
}

/* Read the config; 1 if ACME is on, 0 if off, -1 with err. */
static int
acme_configure(struct acme *a, const struct cm_config *cfg, char *err,
    size_t errlen)
{
	int	 on;

	if ((on = acme_enabled(cfg, err, errlen)) <= 0)
		return on;
	if (fixed_load(cfg, a->base, sizeof(a->base), &a->va, err, errlen) ==
	    -1 || (a->dirs = dirs_load(cfg, err, errlen)) == NULL)
		return -1;
	return 1;
}

static void
acme_free(struct acme *a)
{
	dirs_free(a->dirs);
	acme_keycache_free(a->keys);
	acme_psl_free(a);
	pthread_mutex_destroy(&a->dirs_mu);
	acme_idset_free(&a->finalizing);
	acme_idset_free(&a->validating);
	free(a);
}

/* The current directories, held until acme_dirs_release. */
static struct acme_dirs *
dirs_hold(struct acme *a)
{
	struct acme_dirs *d;

	pthread_mutex_lock(&a->dirs_mu);
	d = a->dirs;
	d->refs++;
	pthread_mutex_unlock(&a->dirs_mu);
	return d;
}

void
acme_dirs_release(struct acme *a, struct acme_dirs *d)
{
	int	 last;

	pthread_mutex_lock(&a->dirs_mu);
	last = --d->refs == 0;
	pthread_mutex_unlock(&a->dirs_mu);
	if (last)
		dirs_free(d);
}

int
acme_reload(struct acme *a, char *err, size_t errlen, char *kept,
    size_t keptlen)
{
	struct acme_dirs *d = NULL, *old;
	struct acme_va_config va;
	char		 base[sizeof(a->base)], fixed[256];
	size_t		 neps;
	int		 on;

	fixed[0] = '\0';
	kept[0] = '\0';
	ca_config_lock(a->ca);
	if ((on = acme_enabled(ca_config(a->ca), err, errlen)) == 1 &&
	    fixed_load(ca_config(a->ca), base, sizeof(base), &va, err,
	    errlen) == 0)
		d = dirs_load(ca_config(a->ca), err, errlen);
	ca_config_unlock(a->ca);
	if (on == 0) {
		snprintf(err, errlen, "[acme] enabled = no takes a restart; "
		    "ACME serves on unchanged");
		return -1;
	}
	if (d == NULL)
		return -1;
	if (strcmp(base, a->base) != 0)
		snprintf(fixed, sizeof(fixed), ", base_url");
	if (strcmp(va.resolver, a->va.resolver) != 0 ||
	    va.http01_port != a->va.http01_port ||
	    va.tlsalpn01_port != a->va.tlsalpn01_port ||
	    va.timeout_ms != a->va.timeout_ms ||
	    va.max_parallel != a->va.max_parallel || va.ndeny != a->va.ndeny ||
	    memcmp(va.deny, a->va.deny, sizeof(va.deny[0]) *
	    (size_t)va.ndeny) != 0)
		snprintf(fixed + strlen(fixed), sizeof(fixed) - strlen(fixed),
		    ", resolver, http01_port, tlsalpn01_port, "
		    "validation_timeout_ms, max_validations or validation_deny");
	neps = d->neps;		/* d is the next reload's to free */
	pthread_mutex_lock(&a->dirs_mu);
	old = a->dirs;
	a->dirs = d;
	pthread_mutex_unlock(&a->dirs_mu);
	acme_dirs_release(a, old);
	log_info("acme: reloaded %zu director%s (identifiers, profiles, eab, "
	    "rate limits, terms of service, challenge_wait_ms)", neps,
	    neps == 1 ? "y" : "ies");
	if (fixed[0] != '\0')
		snprintf(kept, keptlen, "[acme] %s", fixed + 2);
	return 0;
}

int
acme_start(struct ca *ca, struct acme **out, char *err, size_t errlen)
{
	struct acme	*a;
	int		 on;

	*out = NULL;
	if ((a = calloc(1, sizeof(*a))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	a->ca = ca;
	pthread_mutex_init(&a->dirs_mu, NULL);
	acme_idset_init(&a->finalizing);
	acme_idset_init(&a->validating);
	ca_config_lock(ca);
	on = acme_configure(a, ca_config(ca), err, errlen);
	ca_config_unlock(ca);
	if (on <= 0) {
		acme_free(a);
		return on;
	}
	acme_psl_load(a);
	if ((a->keys = acme_keycache_new()) == NULL) {
		snprintf(err, errlen, "out of memory");
		acme_free(a);
		return -1;
	}
	if (nonce_start(a, err, errlen) == -1) {
		nonce_stop(a);
		acme_free(a);
		return -1;
	}
	if ((a->pool = acme_vpool_start(&a->va, err, errlen)) == NULL) {
		nonce_stop(a);
		acme_free(a);
		return -1;
	}
	if (acme_waits_start(a, err, errlen) == -1) {
		acme_vpool_stop(a->pool);
		acme_waits_stop(a);
		nonce_stop(a);
		acme_free(a);
		return -1;
	}
	*out = a;
	acme_resume_finalize(a);
	acme_resume_validations(a);
	log_info("acme: serving %zu director%s at %s/acme/", a->dirs->neps,
	    a->dirs->neps == 1 ? "y" : "ies", a->base);
	return 0;
}

void
acme_stop(struct acme *a)
{
	if (a == NULL)
		return;
	/* Checks cut short stay "processing": the next start runs them. */
	acme_vpool_stop_cb(a->pool, acme_va_dropped);
	acme_waits_stop(a);	/* after the pool: no result comes now */
	nonce_stop(a);
	acme_free(a);
}

int
acme_path(const char *path)
{
	return strncmp(path, ACME_PREFIX, strlen(ACME_PREFIX)) == 0;
}

static void
directory(struct acme *a, const struct acme_endpoint *ep, struct acme_resp *r)
{
	json_t	*o = json_object(), *meta = json_object();
	char	 u[700];

	acme_url(a, ep, "new-nonce", -1, u, sizeof(u));
	json_object_set_new(o, "newNonce", json_string(u));
	acme_url(a, ep, "new-account", -1, u, sizeof(u));
	json_object_set_new(o, "newAccount", json_string(u));
	acme_url(a, ep, "new-order", -1, u, sizeof(u));
	json_object_set_new(o, "newOrder", json_string(u));
	acme_url(a, ep, "revoke-cert", -1, u, sizeof(u));
	json_object_set_new(o, "revokeCert", json_string(u));
	acme_url(a, ep, "key-change", -1, u, sizeof(u));
	json_object_set_new(o, "keyChange", json_string(u));
	acme_url(a, ep, "renewal-info", -1, u, sizeof(u));
	json_object_set_new(o, "renewalInfo", json_string(u));
	if (ep->nprofiles > 0) {
		const struct cm_profile *prof;
		json_t	*profs = json_object();
		size_t	 i;

		ca_config_lock(a->ca);
		for (i = 0; i < ep->nprofiles; i++) {
			prof = profile_find(ca_config(a->ca), ep->profiles[i]);
			json_object_set_new(profs, ep->profiles[i], json_string(
			    prof != NULL && prof->description != NULL ?
			    prof->description : ep->profiles[i]));
		}
		ca_config_unlock(a->ca);
		json_object_set_new(meta, "profiles", profs);
	}
	if (ep->dirs->tos[0] != '\0')
		json_object_set_new(meta, "termsOfService",
		    json_string(ep->dirs->tos));
	if (ep->dirs->website[0] != '\0')
		json_object_set_new(meta, "website",
		    json_string(ep->dirs->website));
	json_object_set_new(meta, "externalAccountRequired",
	    json_boolean(ep->eab_required));
	json_object_set_new(o, "meta", meta);
	acme_resp_json(r, 200, o);
}

int64_t
acme_id_parse(const char *p, const char **end)
{
	int64_t	 v = 0;
	int	 n;

	if (*p < '1' || *p > '9')
		return -1;
	for (n = 0; n < 18 && *p >= '0' && *p <= '9'; n++, p++)
		v = v * 10 + (*p - '0');
	if (*p >= '0' && *p <= '9')
		return -1;
	*end = p;
	return v;
}

/*
 * The endpoint and the resource of path ("/acme/[NAME/]resource[/id]
 * [/orders]"): 0, or -1 (not found).
 */
static int
route(const struct acme_dirs *d, const char *path,
    const struct acme_endpoint **ep,
    char *res, size_t reslen, int64_t *id, int *orders)
{
	const char	*p = path + strlen(ACME_PREFIX), *slash, *end;
	char		 seg[64];
	size_t		 n;
	int64_t		 v;

	*ep = &d->eps[0];
	*id = 0;
	*orders = 0;
	if ((slash = strchr(p, '/')) != NULL && (n = (size_t)(slash - p)) <
	    sizeof(seg)) {
		memcpy(seg, p, n);
		seg[n] = '\0';
		if (seg[0] != '\0' && acme_endpoint_named(*ep, seg) != NULL) {
			*ep = acme_endpoint_named(*ep, seg);
			p = slash + 1;
		}
	}
	if ((slash = strchr(p, '/')) == NULL) {
		snprintf(res, reslen, "%s", p);
		return strlen(p) < reslen ? 0 : -1;
	}
	n = (size_t)(slash - p);
	if (n >= reslen)
		return -1;
	memcpy(res, p, n);
	res[n] = '\0';
	p = slash + 1;
	if ((v = acme_id_parse(p, &end)) == -1)
		return -1;
	*id = v;
	if (strcmp(end, "/orders") == 0 && strcmp(res, "acct") == 0)
		*orders = 1;
	else if (*end != '\0')
		return -1;
	return 0;
}

/* The resources read and changed with POST: each by name, with an id or not. */
enum acme_res {
	RES_NONE, RES_NEW_ACCOUNT, RES_NEW_ORDER, RES_REVOKE, RES_KEY_CHANGE,
	RES_ACCT, RES_ORDER, RES_AUTHZ, RES_CHALL, RES_FINALIZE, RES_CERT
};

static enum acme_res
resource_of(const char *res, int64_t id)
{
	static const struct {
		const char	*name;
		int		 with_id;
		enum acme_res	 r;
	} t[] = {
		{ "new-account", 0, RES_NEW_ACCOUNT },
		{ "new-order", 0, RES_NEW_ORDER },
		{ "revoke-cert", 0, RES_REVOKE },
		{ "key-change", 0, RES_KEY_CHANGE },
		{ "acct", 1, RES_ACCT }, { "order", 1, RES_ORDER },
		{ "authz", 1, RES_AUTHZ }, { "chall", 1, RES_CHALL },
		{ "finalize", 1, RES_FINALIZE }, { "cert", 1, RES_CERT },
	};
	size_t	 i;

	for (i = 0; i < nitems(t); i++)
		if (t[i].with_id == (id > 0) && strcmp(res, t[i].name) == 0)
			return t[i].r;
	return RES_NONE;
}

static int
dispatch(struct acme *a, const struct acme_req *req, struct acme_resp *r,
    const struct acme_endpoint **epp, int *is_dir, struct acme_problem *p)
{
	const struct acme_endpoint *ep;
	char		 res[32], url[700];
	int64_t		 id;
	int		 orders, get, post;
	enum acme_res	 which;
	const char	*ari;
	size_t		 i;

	get = strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD")
	    == 0;
	post = strcmp(req->method, "POST") == 0;
	if ((ari = strstr(req->path, "/renewal-info/")) != NULL) {
		char	 stem[128];

		/* GET <prefix>/renewal-info/CERTID, no JWS (RFC 9773). */
		snprintf(stem, sizeof(stem), "%.*s", (int)(ari - req->path),
		    req->path);
		for (i = 0; i < (*epp)->dirs->neps; i++)
			if (strcmp((*epp)->dirs->eps[i].prefix, stem) == 0)
				*epp = &(*epp)->dirs->eps[i];
		if (strcmp((*epp)->prefix, stem) != 0)
			return acme_problem(p, 404, "malformed", "no such ACME "
			    "resource");
		if (!get)
			return acme_problem(p, 405, "malformed", "renewal "
			    "information is read with GET");
		return acme_renewal_info(a, ari + 14, r, p);
	}
	if (route((*epp)->dirs, req->path, &ep, res, sizeof(res), &id, &orders) == -1)
		return acme_problem(p, 404, "malformed", "no such ACME "
		    "resource");
	*epp = ep;
	snprintf(url, sizeof(url), "%s%s", a->base, req->path);
	if (id == 0 && strcmp(res, "directory") == 0) {
		if (!get)
			return acme_problem(p, 405, "malformed", "the "
			    "directory is read with GET");
		directory(a, ep, r);
		*is_dir = 1;
		return 0;
	}
	if (id == 0 && strcmp(res, "new-nonce") == 0) {
		if (!get && !post)
			return acme_problem(p, 405, "malformed", "HEAD or GET "
			    "a nonce");
		/* RFC 8555 7.2: 200 for HEAD, 204 for GET. */
		r->status = strcmp(req->method, "HEAD") == 0 ? 200 : 204;
		return 0;
	}
	/* A resource that is not there is 404 whatever the method. */
	if ((which = resource_of(res, id)) == RES_NONE)
		return acme_problem(p, 404, "malformed", "no such ACME "
		    "resource");
	if (!post)
		return acme_problem(p, 405, "malformed", "ACME resources are "
		    "read with POST-as-GET");
	switch (which) {
	case RES_NEW_ACCOUNT:
		return acme_new_account(a, ep, req, url, r, p);
	case RES_NEW_ORDER:
		return acme_new_order(a, ep, req, url, r, p);
	case RES_REVOKE:
		return acme_revoke(a, ep, req, url, r, p);
	case RES_KEY_CHANGE:
		return acme_key_change(a, ep, req, url, r, p);
	case RES_ACCT:
		return acme_account(a, ep, req, url, id, orders, r, p);
	case RES_ORDER:
		return acme_order(a, ep, req, url, id, r, p);
	case RES_AUTHZ:
		return acme_authz(a, ep, req, url, id, r, p);
	case RES_CHALL:
		return acme_chall(a, ep, req, url, id, r, p);
	case RES_FINALIZE:
		return acme_finalize(a, ep, req, url, id, r, p);
	case RES_CERT:
		return acme_cert(a, ep, req, url, id, r, p);
	case RES_NONE:
		break;
	}
	return acme_problem(p, 404, "malformed", "no such ACME resource");
}

/*
 * What every answer but a directory served (directory) carries, errors
 * included: a fresh nonce (6.5) and a Link to the directory. The directory
 * has neither: RFC 8555 asks nonces of POST answers and newNonce, Let's
 * Encrypt sends none there, and Ruby's acme-client 2.0.9 (Debian 12) fails
 * on its first call when the directory has one.
 */
static void
answer_end(struct acme *a, const struct acme_endpoint *ep,
    struct acme_resp *r, int directory)
{
	char	 u[700];

	if (directory)
		return;
	if (nonce_new(a, r->nonce) == -1)
		r->nonce[0] = '\0';
	acme_url(a, ep, "directory", -1, u, sizeof(u));
	add_link(r, u, "index");
}

void
acme_handle(struct acme *a, const struct acme_req *req, struct acme_resp *r)
{
	struct acme_dirs *d = dirs_hold(a);
	const struct acme_endpoint *ep = &d->eps[0];
	struct acme_problem p;
	int		 is_dir = 0;

	memset(r, 0, sizeof(*r));
	memset(&p, 0, sizeof(p));
	if (dispatch(a, req, r, &ep, &is_dir, &p) == -1)
		resp_problem(r, &p);
	else if (r->wait != NULL) {
		/* The wait holds d (for ep) until its answer. */
		acme_wait_set_dirs(r->wait, d);
		return;
	}
	answer_end(a, ep, r, is_dir);
	acme_dirs_release(a, d);
}

void
acme_wait_answer(struct acme *a, struct acme_wait *w, struct acme_resp *r)
{
	const struct acme_endpoint *ep;
	struct acme_dirs *d;
	struct acme_problem p;
	int64_t		 id = acme_wait_chall(w, &ep, &d);

	memset(r, 0, sizeof(*r));
	memset(&p, 0, sizeof(p));
	if (acme_chall_held(a, ep, id, r, &p) == -1)
		resp_problem(r, &p);
	answer_end(a, ep, r, 0);
	acme_wait_drop(a, w);		/* lets go of d */
}

enum pattern_kind { PAT_ANY, PAT_DNS, PAT_IP };

/*
 * What identifiers a pattern of [acme] identifiers is for. One with a
 * colon (IPv6) or of digits, dots and glob characters alone ("192.0.2.*")
 * is an address's: it must not let through a DNS name that merely starts
 * so ("192.0.2.attacker.example"). One with a letter or a hyphen is a
 * name's; one of glob characters alone ("*") is for both.
 */
static enum pattern_kind
pattern_kind(const char *p)
{
	int	 digit = 0;

	if (strchr(p, ':') != NULL)
		return PAT_IP;
	for (; *p != '\0'; p++) {
		if (*p >= '0' && *p <= '9')
			digit = 1;
		else if (strchr(".*?[]!", *p) == NULL)
			return PAT_DNS;
	}
	return digit ? PAT_IP : PAT_ANY;
}

int
acme_identifier_allowed(const struct acme_endpoint *ep, int ip,
    const char *value)
{
	enum pattern_kind k;
	size_t		 i;

	if (ep->npatterns == 0)
		return 1;
	for (i = 0; i < ep->npatterns; i++) {
		k = pattern_kind(ep->patterns[i]);
		if ((k == PAT_ANY || k == (ip ? PAT_IP : PAT_DNS)) &&
		    fnmatch(ep->patterns[i], value, FNM_CASEFOLD) == 0)
			return 1;
	}
	return 0;
}

void
acme_add_link(struct acme_resp *r, const char *url, const char *rel)
{
	add_link(r, url, rel);
}
