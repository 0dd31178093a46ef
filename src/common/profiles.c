/*
 * profiles.c - certificate profiles from the built-ins and the config
 * file's [profile.NAME] sections (profile.h, docs/profiles.md).
 */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"

#define OID_SERVER_AUTH		"1.3.6.1.5.5.7.3.1"
#define OID_CLIENT_AUTH		"1.3.6.1.5.5.7.3.2"
#define OID_CODE_SIGNING	"1.3.6.1.5.5.7.3.3"
#define OID_EMAIL_PROTECTION	"1.3.6.1.5.5.7.3.4"
#define OID_TIME_STAMPING	"1.3.6.1.5.5.7.3.8"
#define OID_OCSP_SIGNING	"1.3.6.1.5.5.7.3.9"
#define OID_EFS			"1.3.6.1.4.1.311.10.3.4"

/* Requested extensions beyond this are refused (the parser's own cap). */
#define DEFAULT_MAX_EXTENSIONS	64
#define DEFAULT_MAX_SANS	256
/* CA/Browser Forum Baseline Requirements 6.3.2 (from 2020-09-01). */
#define TLS_SERVER_MAX_DAYS	398

static const char *const ku_names[] = {
	"digitalSignature", "nonRepudiation", "keyEncipherment",
	"dataEncipherment", "keyAgreement", "keyCertSign", "cRLSign",
	"encipherOnly", "decipherOnly"
};

static const struct {
	const char	*name;
	const char	*oid;
} eku_names[] = {
	{ "serverAuth", OID_SERVER_AUTH },
	{ "clientAuth", OID_CLIENT_AUTH },
	{ "codeSigning", OID_CODE_SIGNING },
	{ "emailProtection", OID_EMAIL_PROTECTION },
	{ "timeStamping", OID_TIME_STAMPING },
	{ "OCSPSigning", OID_OCSP_SIGNING },
	{ "anyExtendedKeyUsage", "2.5.29.37.0" },
	{ "smartcardLogon", "1.3.6.1.4.1.311.20.2.2" },
	{ "efs", OID_EFS },
};

static const char *const honour_names[] = {
	"subjectAltName", "keyUsage", "extendedKeyUsage"
};

/* Keys of a [profile.NAME] section. */
static const char *const profile_keys[] = {
	"base", "description", "validity_days", "max_validity_days",
	"ca_expiry", "key_types", "key_usage", "eku", "ca", "path_len",
	"san_types", "san_required", "host_names", "cn", "subject_required",
	"domains", "cn_pattern", "cdp", "delta_cdp", "aia", "policies",
	"revocation_reasons", "request_extensions", "max_extensions",
	"max_sans", "ocsp_nocheck", "expired_on_crl",
};

const char *
ku_name(int bit)
{
	return bit >= 0 && (size_t)bit < nitems(ku_names) ? ku_names[bit] :
	    "unknown";
}

const char *
eku_name(const char *oid)
{
	size_t	 i;

	for (i = 0; i < nitems(eku_names); i++)
		if (strcmp(eku_names[i].oid, oid) == 0)
			return eku_names[i].name;
	return oid;
}

uint32_t
ku_for_key(uint32_t ku, int rsa, int ec)
{
	if (!rsa)
		ku &= ~(KU_KEY_ENCIPHERMENT | KU_DATA_ENCIPHERMENT);
	if (!ec)
		ku &= ~KU_KEY_AGREEMENT;
	/* Undefined without keyAgreement (RFC 5280 4.2.1.3): they go with it. */
	if (!(ku & KU_KEY_AGREEMENT))
		ku &= ~(KU_ENCIPHER_ONLY | KU_DECIPHER_ONLY);
	return ku;
}

const char *
honour_name(int bit)
{
	return bit >= 0 && (size_t)bit < nitems(honour_names) ?
	    honour_names[bit] : "unknown";
}

int
profile_key_known(const char *key)
{
	size_t	 i;

	for (i = 0; i < nitems(profile_keys); i++)
		if (strcasecmp(profile_keys[i], key) == 0)
			return 1;
	return 0;
}

static char **
strv_dup(char *const *v, size_t n)
{
	char	**out;
	size_t	  i;

	if (n == 0)
		return NULL;
	out = xcalloc(n, sizeof(*out));
	for (i = 0; i < n; i++)
		out[i] = xstrdup(v[i]);
	return out;
}

static void
strv_free(char **v, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void
strv_add(char ***v, size_t *n, const char *s)
{
	if ((*v = reallocarray(*v, *n + 1, sizeof(**v))) == NULL)
		abort();
	(*v)[(*n)++] = xstrdup(s);
}

static void
profile_free_one(struct cm_profile *p)
{
	free(p->name);
	free(p->description);
	strv_free(p->eku, p->neku);
	strv_free(p->domains, p->ndomains);
	free(p->cn_pattern);
	free(p->cdp_url);
	free(p->delta_url);
	free(p->aia_url);
	strv_free(p->policies, p->npolicies);
	memset(p, 0, sizeof(*p));
}

/* dst = a deep copy of src named name. */
static void
profile_copy(struct cm_profile *dst, const struct cm_profile *src,
    const char *name)
{
	*dst = *src;
	dst->name = xstrdup(name);
	dst->description = src->description ? xstrdup(src->description) : NULL;
	dst->eku = strv_dup(src->eku, src->neku);
	dst->domains = strv_dup(src->domains, src->ndomains);
	dst->cn_pattern = src->cn_pattern ? xstrdup(src->cn_pattern) : NULL;
	dst->cdp_url = src->cdp_url ? xstrdup(src->cdp_url) : NULL;
	dst->delta_url = src->delta_url ? xstrdup(src->delta_url) : NULL;
	dst->aia_url = src->aia_url ? xstrdup(src->aia_url) : NULL;
	dst->policies = strv_dup(src->policies, src->npolicies);
}

/* Every revocation reason (removeFromCRL only undoes a hold). */
#define ALL_REASONS	(((1u << 11) - 1) & ~(1u << 7) & \
			 ~(1u << CRL_REASON_REMOVE))
#define CRL_REASON_REMOVE	8

/*
 * An end-entity profile with the CA-wide defaults (cfg NULL: the built-in
 * [policy] defaults), the start of every profile.
 */
static void
profile_generic(struct cm_profile *p, const struct cm_config *cfg)
{
	memset(p, 0, sizeof(*p));
	p->builtin = -1;
	p->validity_days = cfg ? cfg->validity_days : 365;
	p->max_validity_days = cfg ? cfg->max_validity_days : 825;
	p->expiry = EXPIRY_CAP;
	p->key_types = cfg ? cfg->key_types : (1u << KEY__MAX) - 1;
	p->key_usage = KU_DIGITAL_SIGNATURE;
	p->path_len = -1;
	p->expired_on_crl = -1;
	p->san_types = cfg ? cfg->san_types : SAN_TYPES_DEFAULT;
	p->cn = CN_KEEP;
	p->reasons = ALL_REASONS;
	p->honour = HONOUR_SAN;
	p->max_extensions = DEFAULT_MAX_EXTENSIONS;
	p->max_sans = DEFAULT_MAX_SANS;
}

/* The built-in profile b as the config's [policy] defaults make it. */
static void
profile_builtin_init(struct cm_profile *p, enum profile b,
    const struct cm_config *cfg)
{
	profile_generic(p, cfg);
	p->builtin = (int)b;
	p->name = xstrdup(profile_name(b));
	switch (b) {
	case PROFILE_TLS_SERVER:
		p->description = xstrdup("TLS server (CA/Browser Forum rules)");
		p->key_usage = KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT;
		strv_add(&p->eku, &p->neku, OID_SERVER_AUTH);
		p->san_types = (1u << SAN_DNS) | (1u << SAN_IP);
		p->san_required = 1;
		p->host_names = 1;
		p->cn = CN_SAN;
		if (p->max_validity_days > TLS_SERVER_MAX_DAYS)
			p->max_validity_days = TLS_SERVER_MAX_DAYS;
		if (p->validity_days > p->max_validity_days)
			p->validity_days = p->max_validity_days;
		/* A TLS certificate is never put on hold (BR 4.9.13). */
		p->reasons &= ~((1u << 6) | (1u << 2) | (1u << 10));
		break;
	case PROFILE_TLS_CLIENT:
		p->description = xstrdup("TLS client authentication");
		strv_add(&p->eku, &p->neku, OID_CLIENT_AUTH);
		break;
	case PROFILE_EMAIL:
		p->description = xstrdup("S/MIME signing and encryption");
		p->key_usage = KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION |
		    KU_KEY_ENCIPHERMENT | KU_KEY_AGREEMENT;
		strv_add(&p->eku, &p->neku, OID_EMAIL_PROTECTION);
		p->san_types = 1u << SAN_EMAIL;
		p->san_required = 1;
		break;
	case PROFILE_CODE_SIGNING:
		p->description = xstrdup("code signing");
		strv_add(&p->eku, &p->neku, OID_CODE_SIGNING);
		p->subject_required = 1;
		break;
	case PROFILE_SUB_CA:
		p->description = xstrdup("subordinate certification authority");
		p->key_usage = KU_KEY_CERT_SIGN | KU_CRL_SIGN;
		p->ca = 1;
		p->path_len = 0;
		p->subject_required = 1;
		/* A CA lives longer than the leaves it signs. */
		p->validity_days = 5 * 365;
		p->max_validity_days = 10 * 365;
		break;
	case PROFILE_USER:
		p->description = xstrdup("user: TLS client, S/MIME, EFS");
		p->key_usage = KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT;
		strv_add(&p->eku, &p->neku, OID_CLIENT_AUTH);
		strv_add(&p->eku, &p->neku, OID_EMAIL_PROTECTION);
		strv_add(&p->eku, &p->neku, OID_EFS);
		break;
	case PROFILE_MACHINE:
		p->description = xstrdup("machine: TLS client and server");
		p->key_usage = KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT;
		strv_add(&p->eku, &p->neku, OID_CLIENT_AUTH);
		strv_add(&p->eku, &p->neku, OID_SERVER_AUTH);
		p->san_types = (1u << SAN_DNS) | (1u << SAN_IP);
		p->san_required = 1;
		p->host_names = 1;
		p->cn = CN_SAN;
		break;
	case PROFILE_OCSP_SIGNING:
		p->description = xstrdup("OCSP responder (RFC 6960)");
		strv_add(&p->eku, &p->neku, OID_OCSP_SIGNING);
		p->ocsp_nocheck = 1;
		p->subject_required = 1;
		p->validity_days = 14;
		p->max_validity_days = 90;
		break;
	default:
		break;
	}
	if (p->validity_days > p->max_validity_days)
		p->validity_days = p->max_validity_days;
}

static struct cm_profile builtins[PROFILE__MAX];
static pthread_once_t builtins_once = PTHREAD_ONCE_INIT;

static void
builtins_init(void)
{
	int	 i;

	for (i = 0; i < PROFILE__MAX; i++)
		profile_builtin_init(&builtins[i], (enum profile)i, NULL);
}

const struct cm_profile *
profile_builtin(enum profile b)
{
	if ((unsigned)b >= PROFILE__MAX)
		return NULL;
	pthread_once(&builtins_once, builtins_init);
	return &builtins[b];
}

const struct cm_profile *
profile_find(const struct cm_config *cfg, const char *name)
{
	enum profile	 b;
	size_t		 i;

	if (name == NULL)
		return NULL;
	for (i = 0; i < cfg->nprofiles; i++)
		if (strcasecmp(cfg->profile_list[i].name, name) == 0)
			return &cfg->profile_list[i];
	if ((b = profile_from_name(name)) == PROFILE__MAX)
		return NULL;
	for (i = 0; i < cfg->nprofiles; i++)
		if (strcasecmp(cfg->profile_list[i].name,
		    profile_name(b)) == 0)
			return &cfg->profile_list[i];
	return NULL;
}

/* The state of reading one [profile.NAME] section. */
struct pload {
	struct cm_config *cfg;
	struct cm_profile *p;
	const char	*sec;		/* "profile.NAME" */
	char		*err;
	size_t		 errlen;
};

static int
perr(struct pload *pl, const char *key, const char *v, const char *why)
{
	snprintf(pl->err, pl->errlen, "%s: [%s] %s = \"%s\": %s",
	    pl->cfg->path, pl->sec, key, v, why);
	return -1;
}

static int
parse_bool(const char *v, int *out)
{
	if (!strcasecmp(v, "true") || !strcasecmp(v, "yes") ||
	    !strcasecmp(v, "on") || !strcmp(v, "1"))
		*out = 1;
	else if (!strcasecmp(v, "false") || !strcasecmp(v, "no") ||
	    !strcasecmp(v, "off") || !strcmp(v, "0"))
		*out = 0;
	else
		return -1;
	return 0;
}

/* Is s a dotted OID (two arcs at least, first 0-2)? */
static int
oid_text_ok(const char *s)
{
	size_t	 arcs = 0, digits = 0;

	if (s[0] < '0' || s[0] > '2' || s[1] != '.')
		return 0;
	for (; *s != '\0'; s++) {
		if (*s == '.') {
			if (digits == 0)
				return 0;
			arcs++;
			digits = 0;
		} else if (isdigit((unsigned char)*s)) {
			/* No leading zeros; arcs fit 64 bits. */
			if ((digits == 1 && s[-1] == '0') || ++digits > 18)
				return 0;
		} else
			return 0;
	}
	return digits > 0 && arcs >= 1;
}

/* Is s a plausible domain for "domains" (letters, digits, '-', dots)? */
static int
domain_ok(const char *s)
{
	size_t	 n = strlen(s), i;

	if (n == 0 || n > 253 || s[0] == '.' || s[0] == '-' || s[n - 1] == '.')
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' &&
		    !(s[i] == '.' && s[i + 1] != '.'))
			return 0;
	return 1;
}

/*
 * Apply each word of the comma-separated list v to fn. Returns 0, or -1
 * with the error set by fn.
 */
static int
each_word(struct pload *pl, const char *key, const char *v,
    int (*fn)(struct pload *, const char *key, const char *v,
    const char *word))
{
	char	*copy = xstrdup(v), *tok, *save = NULL;
	int	 rc = 0;

	for (tok = strtok_r(copy, ",", &save); tok != NULL && rc == 0;
	    tok = strtok_r(NULL, ",", &save)) {
		tok = str_trim(tok);
		if (*tok != '\0')
			rc = fn(pl, key, v, tok);
	}
	free(copy);
	return rc;
}

static int
word_ku(struct pload *pl, const char *key, const char *v, const char *w)
{
	size_t	 i;

	if (!strcasecmp(w, "contentCommitment"))
		w = "nonRepudiation";
	for (i = 0; i < nitems(ku_names); i++)
		if (!strcasecmp(w, ku_names[i])) {
			pl->p->key_usage |= 1u << i;
			return 0;
		}
	return perr(pl, key, v, "unknown key usage (digitalSignature, "
	    "nonRepudiation, keyEncipherment, dataEncipherment, keyAgreement, "
	    "keyCertSign, cRLSign, encipherOnly, decipherOnly)");
}

static int
word_eku(struct pload *pl, const char *key, const char *v, const char *w)
{
	size_t	 i;

	for (i = 0; i < nitems(eku_names); i++)
		if (!strcasecmp(w, eku_names[i].name)) {
			w = eku_names[i].oid;
			break;
		}
	if (!oid_text_ok(w))
		return perr(pl, key, v, "expected EKU names (serverAuth, "
		    "clientAuth, codeSigning, emailProtection, timeStamping, "
		    "OCSPSigning, ...) or dotted OIDs");
	strv_add(&pl->p->eku, &pl->p->neku, w);
	return 0;
}

static int
word_policy(struct pload *pl, const char *key, const char *v, const char *w)
{
	if (!oid_text_ok(w))
		return perr(pl, key, v, "expected dotted OIDs");
	strv_add(&pl->p->policies, &pl->p->npolicies, w);
	return 0;
}

static int
word_domain(struct pload *pl, const char *key, const char *v, const char *w)
{
	if (!domain_ok(w))
		return perr(pl, key, v, "expected domain names (example.com)");
	strv_add(&pl->p->domains, &pl->p->ndomains, w);
	return 0;
}

static int
word_key(struct pload *pl, const char *key, const char *v, const char *w)
{
	enum key_type	 t;

	if (!strcasecmp(w, "all")) {
		pl->p->key_types = (1u << KEY__MAX) - 1;
		return 0;
	}
	if ((t = key_type_from_name(w)) == KEY__MAX)
		return perr(pl, key, v, "unknown key type (ec-p256, ec-p384, "
		    "rsa-2048, rsa-3072, rsa-4096, ed25519)");
	pl->p->key_types |= 1u << t;
	return 0;
}

static int
word_san(struct pload *pl, const char *key, const char *v, const char *w)
{
	enum san_type	 t;

	if (!strcasecmp(w, "all")) {
		pl->p->san_types = (1u << SAN__MAX) - 1;
		return 0;
	}
	if ((t = san_type_from_name(w)) == SAN__MAX)
		return perr(pl, key, v, "unknown subjectAltName type");
	pl->p->san_types |= 1u << t;
	return 0;
}

static int
word_reason(struct pload *pl, const char *key, const char *v, const char *w)
{
	int	 r;

	if (!strcasecmp(w, "all")) {
		pl->p->reasons = ALL_REASONS;
		return 0;
	}
	if ((r = crl_reason_parse(w)) == -1 || r == CRL_REASON_REMOVE)
		return perr(pl, key, v, "unknown revocation reason");
	pl->p->reasons |= 1u << r;
	return 0;
}

static int
word_honour(struct pload *pl, const char *key, const char *v, const char *w)
{
	size_t	 i;

	for (i = 0; i < nitems(honour_names); i++)
		if (!strcasecmp(w, honour_names[i])) {
			pl->p->honour |= 1u << i;
			return 0;
		}
	return perr(pl, key, v, "expected subjectAltName, keyUsage or "
	    "extendedKeyUsage (other requested extensions are never copied)");
}

static int
set_int(struct pload *pl, const char *key, const char *v, int min, int max,
    int *out)
{
	int64_t	 n;
	char	 why[64];

	if (parse_int64(v, &n) == -1 || n < min || n > max) {
		snprintf(why, sizeof(why), "expected an integer from %d to %d",
		    min, max);
		return perr(pl, key, v, why);
	}
	*out = (int)n;
	return 0;
}

static int
set_bool(struct pload *pl, const char *key, const char *v, int *out)
{
	if (parse_bool(v, out) == -1)
		return perr(pl, key, v, "expected true or false");
	return 0;
}

/* A URL key: "none" or "" for no extension, else a %-token template. */
static int
set_url(struct pload *pl, const char *key, const char *v, int delta,
    char **out)
{
	char	 why[256];

	free(*out);
	if (*v == '\0' || !strcasecmp(v, "none")) {
		*out = xstrdup("");
		return 0;
	}
	if ((*out = url_expand(pl->cfg, v, delta, why, sizeof(why))) == NULL)
		return perr(pl, key, v, why);
	return 0;
}

/* Apply key = v to pl->p. Returns 0 or -1 with the error. */
static int
profile_set(struct pload *pl, const char *key, const char *v)
{
	struct cm_profile *p = pl->p;

#define IS(k) (strcasecmp(key, k) == 0)
	if (IS("base"))
		return 0;	/* read before the others */
	if (IS("description")) {
		free(p->description);
		p->description = xstrdup(v);
		return 0;
	}
	if (IS("validity_days"))
		return set_int(pl, key, v, 1, 36600, &p->validity_days);
	if (IS("max_validity_days"))
		return set_int(pl, key, v, 1, 36600, &p->max_validity_days);
	if (IS("ca_expiry")) {
		if (!strcasecmp(v, "cap"))
			p->expiry = EXPIRY_CAP;
		else if (!strcasecmp(v, "refuse"))
			p->expiry = EXPIRY_REFUSE;
		else
			return perr(pl, key, v, "expected cap or refuse");
		return 0;
	}
	if (IS("key_types")) {
		p->key_types = 0;
		return each_word(pl, key, v, word_key);
	}
	if (IS("key_usage")) {
		p->key_usage = 0;
		return each_word(pl, key, v, word_ku);
	}
	if (IS("eku")) {
		strv_free(p->eku, p->neku);
		p->eku = NULL;
		p->neku = 0;
		return strcasecmp(v, "none") == 0 ? 0 :
		    each_word(pl, key, v, word_eku);
	}
	if (IS("ca"))
		return set_bool(pl, key, v, &p->ca);
	if (IS("path_len")) {
		if (!strcasecmp(v, "none")) {
			p->path_len = -1;
			return 0;
		}
		return set_int(pl, key, v, 0, 100, &p->path_len);
	}
	if (IS("san_types")) {
		p->san_types = 0;
		return strcasecmp(v, "none") == 0 ? 0 :
		    each_word(pl, key, v, word_san);
	}
	if (IS("san_required"))
		return set_bool(pl, key, v, &p->san_required);
	if (IS("host_names"))
		return set_bool(pl, key, v, &p->host_names);
	if (IS("subject_required"))
		return set_bool(pl, key, v, &p->subject_required);
	if (IS("ocsp_nocheck"))
		return set_bool(pl, key, v, &p->ocsp_nocheck);
	if (IS("expired_on_crl")) {
		if (!strcasecmp(v, "forever")) {
			p->expired_on_crl = -1;
			return 0;
		}
		if (parse_duration(v, &p->expired_on_crl) == -1 ||
		    p->expired_on_crl < 0)
			return perr(pl, key, v, "expected forever or a duration "
			    "(0, 90d, 12h)");
		return 0;
	}
	if (IS("cn")) {
		if (!strcasecmp(v, "keep"))
			p->cn = CN_KEEP;
		else if (!strcasecmp(v, "san"))
			p->cn = CN_SAN;
		else if (!strcasecmp(v, "drop"))
			p->cn = CN_DROP;
		else
			return perr(pl, key, v, "expected keep, san or drop");
		return 0;
	}
	if (IS("domains")) {
		strv_free(p->domains, p->ndomains);
		p->domains = NULL;
		p->ndomains = 0;
		return strcasecmp(v, "none") == 0 ? 0 :
		    each_word(pl, key, v, word_domain);
	}
	if (IS("cn_pattern")) {
		free(p->cn_pattern);
		p->cn_pattern = *v ? xstrdup(v) : NULL;
		return 0;
	}
	if (IS("cdp")) {
		/*
		 * One template with %9 names the delta CRL too; and no CRL
		 * pointer means no delta pointer either (a freshestCRL
		 * without the base's CDP points at half of the status).
		 */
		if ((strstr(v, "%9") != NULL || *v == '\0' ||
		    !strcasecmp(v, "none")) && config_get(pl->cfg, pl->sec,
		    "delta_cdp") == NULL &&
		    set_url(pl, "cdp", v, 1, &p->delta_url) == -1)
			return -1;
		return set_url(pl, key, v, 0, &p->cdp_url);
	}
	if (IS("delta_cdp"))
		return set_url(pl, key, v, 1, &p->delta_url);
	if (IS("aia"))
		return set_url(pl, key, v, 0, &p->aia_url);
	if (IS("policies")) {
		strv_free(p->policies, p->npolicies);
		p->policies = NULL;
		p->npolicies = 0;
		return strcasecmp(v, "none") == 0 ? 0 :
		    each_word(pl, key, v, word_policy);
	}
	if (IS("revocation_reasons")) {
		p->reasons = 0;
		return strcasecmp(v, "none") == 0 ? 0 :
		    each_word(pl, key, v, word_reason);
	}
	if (IS("request_extensions")) {
		p->honour = 0;
		return strcasecmp(v, "none") == 0 ? 0 :
		    each_word(pl, key, v, word_honour);
	}
	if (IS("max_extensions"))
		return set_int(pl, key, v, 0, DEFAULT_MAX_EXTENSIONS,
		    &p->max_extensions);
	if (IS("max_sans"))
		return set_int(pl, key, v, 0, DEFAULT_MAX_SANS, &p->max_sans);
#undef IS
	return perr(pl, key, v, "unknown key");
}

/* Is the profile as a whole sensible? Returns 0 or -1 with err. */
static int
profile_check(struct pload *pl)
{
	struct cm_profile *p = pl->p;
	const char	*why = NULL;

	if (p->validity_days > p->max_validity_days)
		why = "validity_days exceeds max_validity_days";
	else if (p->ca && !(p->key_usage & KU_KEY_CERT_SIGN))
		why = "a CA profile (ca = true) needs keyCertSign in key_usage";
	else if (!p->ca && (p->key_usage & (KU_KEY_CERT_SIGN | KU_CRL_SIGN)))
		why = "keyCertSign and cRLSign need ca = true";
	else if (!p->ca && p->path_len != -1)
		why = "path_len needs ca = true";
	else if ((p->key_usage & (KU_ENCIPHER_ONLY | KU_DECIPHER_ONLY)) &&
	    !(p->key_usage & KU_KEY_AGREEMENT))
		why = "encipherOnly and decipherOnly need keyAgreement in "
		    "key_usage";
	else if (p->key_usage == 0)
		why = "key_usage is empty";
	else if (p->key_types == 0)
		why = "key_types is empty";
	else if (p->san_required && p->san_types == 0)
		why = "san_required with no san_types";
	else if (p->host_names && (p->san_types &
	    ~((1u << SAN_DNS) | (1u << SAN_IP))))
		why = "host_names allows only the san_types dns and ip";
	else if (p->cn == CN_SAN && !p->host_names)
		why = "cn = san needs host_names = true";
	if (why == NULL)
		return 0;
	snprintf(pl->err, pl->errlen, "%s: [%s]: %s", pl->cfg->path, pl->sec,
	    why);
	return -1;
}

/* The profile called name, added (a copy of base) if it is new. */
static struct cm_profile *
profile_slot(struct cm_config *cfg, const char *name,
    const struct cm_profile *base)
{
	struct cm_profile *p;

	if ((p = (struct cm_profile *)profile_find(cfg, name)) != NULL)
		return p;
	cfg->profile_list = reallocarray(cfg->profile_list,
	    cfg->nprofiles + 1, sizeof(*cfg->profile_list));
	if (cfg->profile_list == NULL)
		abort();
	p = &cfg->profile_list[cfg->nprofiles++];
	profile_copy(p, base, name);
	p->builtin = -1;
	return p;
}

/* Read one [profile.NAME] section into the profiles. */
static int
profile_section(struct cm_config *cfg, const char *sec, char *err,
    size_t errlen)
{
	struct pload	 pl = { cfg, NULL, sec, err, errlen };
	struct cm_profile generic, *base;
	const char	*name = sec + 8, *v;
	size_t		 i;
	int		 rc;

	if (*name == '\0' || strlen(name) > 64) {
		snprintf(err, errlen, "%s: [%s]: a profile needs a name of 1 "
		    "to 64 characters", cfg->path, sec);
		return -1;
	}
	for (i = 0; name[i] != '\0'; i++)
		if (!isalnum((unsigned char)name[i]) && name[i] != '-' &&
		    name[i] != '_' && name[i] != ' ' && name[i] != '.') {
			snprintf(err, errlen, "%s: [%s]: a profile name has "
			    "letters, digits, '-', '_', '.' and spaces only",
			    cfg->path, sec);
			return -1;
		}
	profile_generic(&generic, cfg);
	base = &generic;
	if ((v = config_get(cfg, sec, "base")) != NULL &&
	    (base = (struct cm_profile *)profile_find(cfg, v)) == NULL) {
		snprintf(err, errlen, "%s: [%s] base = \"%s\": no such profile "
		    "(define it above, or use a built-in)", cfg->path, sec, v);
		return -1;
	}
	/* profile_slot may move the list: copy the base first. */
	if (base != &generic) {
		profile_copy(&generic, base, base->name);
		base = &generic;
		if (profile_find(cfg, name) != NULL) {
			profile_free_one(&generic);
			snprintf(err, errlen, "%s: [%s]: base is for new "
			    "profiles; %s exists", cfg->path, sec, name);
			return -1;
		}
	}
	pl.p = profile_slot(cfg, name, base);
	if (base == &generic && generic.name != NULL)
		profile_free_one(&generic);
	for (i = 0; i < cfg->nentries; i++)
		if (strcasecmp(cfg->entries[i].section, sec) == 0 &&
		    (rc = profile_set(&pl, cfg->entries[i].key,
		    cfg->entries[i].value)) != 0)
			return rc;
	return profile_check(&pl);
}

/* Does a certificate of profile p sign for the CA (certificates, CRLs, OCSP)? */
static int
signs_for_ca(const struct cm_profile *p)
{
	size_t	 i;

	for (i = 0; i < p->neku; i++)
		if (strcmp(p->eku[i], OID_OCSP_SIGNING) == 0)
			return 1;
	return p->ca;
}

/* [policy] profiles and default_profile, once every profile is known. */
static int
profiles_policy(struct cm_config *cfg, char *err, size_t errlen)
{
	const char	*v = config_get(cfg, "policy", "profiles");
	const struct cm_profile *p;
	char		*copy, *tok, *save = NULL;
	size_t		 i;

	/* By default every profile that cannot sign for the CA. */
	for (i = 0; i < cfg->nprofiles; i++)
		cfg->profile_list[i].allowed = v == NULL &&
		    !signs_for_ca(&cfg->profile_list[i]);
	if (v != NULL) {
		copy = xstrdup(v);
		for (tok = strtok_r(copy, ",", &save); tok != NULL;
		    tok = strtok_r(NULL, ",", &save)) {
			tok = str_trim(tok);
			if (*tok == '\0')
				continue;
			if (strcasecmp(tok, "all") == 0) {
				for (i = 0; i < cfg->nprofiles; i++)
					cfg->profile_list[i].allowed = 1;
				continue;
			}
			if ((p = profile_find(cfg, tok)) == NULL) {
				snprintf(err, errlen, "%s: [policy] profiles: "
				    "unknown profile \"%s\"", cfg->path, tok);
				free(copy);
				return -1;
			}
			((struct cm_profile *)p)->allowed = 1;
		}
		free(copy);
	}
	v = config_get(cfg, "policy", "default_profile");
	if ((p = profile_find(cfg, v ? v : "WebServer")) == NULL) {
		snprintf(err, errlen, "%s: [policy] default_profile = \"%s\": "
		    "unknown profile", cfg->path, v);
		return -1;
	}
	cfg->default_profile = (int)(p - cfg->profile_list);
	return 0;
}

int
profiles_load(struct cm_config *cfg, char *err, size_t errlen)
{
	size_t	 i, j;
	int	 seen;

	cfg->profile_list = xcalloc(PROFILE__MAX, sizeof(*cfg->profile_list));
	for (i = 0; i < PROFILE__MAX; i++)
		profile_builtin_init(&cfg->profile_list[i], (enum profile)i,
		    cfg);
	cfg->nprofiles = PROFILE__MAX;
	/* Sections in the order they first appear: a base comes first. */
	for (i = 0; i < cfg->nentries; i++) {
		if (strncasecmp(cfg->entries[i].section, "profile.", 8) != 0)
			continue;
		for (j = 0, seen = 0; j < i && !seen; j++)
			seen = strcasecmp(cfg->entries[j].section,
			    cfg->entries[i].section) == 0;
		if (!seen && profile_section(cfg, cfg->entries[i].section,
		    err, errlen) == -1)
			return -1;
	}
	return profiles_policy(cfg, err, errlen);
}

void
profiles_free(struct cm_config *cfg)
{
	size_t	 i;

	for (i = 0; i < cfg->nprofiles; i++)
		profile_free_one(&cfg->profile_list[i]);
	free(cfg->profile_list);
	cfg->profile_list = NULL;
	cfg->nprofiles = 0;
}
