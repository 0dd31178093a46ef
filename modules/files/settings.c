/*
 * settings.c - CertMint_Files.Exit's settings (docs/modules/files.md):
 * reading and checking each key of the module's section into a struct
 * fcfg, and the manage module's exit set, which judges one value alone.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "files.h"

#define STATE_SUBDIR	".certmint-files"

static const char *const setting_keys[] = {
	"dir", "certs", "cert_format", "cert_name", "on_revoke", "revoked_dir",
	"file_mode", "sync", "crl_dir", "crl_name", "crl_keep", "crl_max_age",
	"latest_link", "aia_dir", "aia_name", NULL
};

/* --- settings ---------------------------------------------------------- */

static int
known_key(const char *key)
{
	size_t	 i;

	for (i = 0; setting_keys[i] != NULL; i++)
		if (strcasecmp(key, setting_keys[i]) == 0)
			return 1;
	return 0;
}

void
cfg_free(struct fcfg *c)
{
	if (c == NULL)
		return;
	free(c->dir);
	free(c->cert_name);
	free(c->revoked_dir);
	free(c->state_dir);
	free(c->crl_dir);
	free(c->crl_name);
	free(c->aia_dir);
	free(c->aia_name);
	free(c);
}

/* Append "key = "value": why" to errs as one line. */
static void
bad(struct mu_buf *errs, const char *key, const char *val, const char *why)
{
	mu_buf_printf(errs, "%s = \"%s\": %s; ", key, val ? val : "", why);
}

/* Drop the "; " after the last problem said. */
void
trim(struct mu_buf *b)
{
	if (b->len >= 2 && strcmp(b->data + b->len - 2, "; ") == 0)
		b->data[b->len -= 2] = '\0';
}

/* What b says, as one line, into report. */
void
report_put(char *report, size_t size, struct mu_buf *b)
{
	trim(b);
	if (size > 0)
		snprintf(report, size, "%s", b->data ? b->data : "out of memory");
}

/* One word of words (index), or -1 with the error said. */
static int
word(cm_server_exit *srv, const char *key, const char *const *words,
    int def, struct mu_buf *errs)
{
	const char	*v = NULL;
	int		 i;

	if (srv->config_get(srv, key, &v) != CM_OK || v == NULL)
		return def;
	for (i = 0; words[i] != NULL; i++)
		if (strcasecmp(v, words[i]) == 0)
			return i;
	mu_buf_printf(errs, "%s = \"%s\": expected one of", key, v);
	for (i = 0; words[i] != NULL; i++)
		mu_buf_printf(errs, "%s %s", i ? "," : "", words[i]);
	mu_buf_str(errs, "; ");
	return -1;
}

/* An absolute directory path (or NULL when unset). */
static int
dir_key(cm_server_exit *srv, const char *key, char **out, struct mu_buf *errs)
{
	if (mu_config(srv, key, NULL, out) == -1)
		return -1;
	if (*out != NULL && (*out)[0] != '/') {
		bad(errs, key, *out, "expected an absolute path");
		return -1;
	}
	return 0;
}

/* "der", "pem", "der,pem": FMT_* bits, 0 when wrong. */
static int
parse_formats(const char *v)
{
	char	*s, *tok, *save = NULL;
	int	 f = 0;

	if ((s = strdup(v)) == NULL)
		return 0;
	for (tok = strtok_r(s, ", ", &save); tok != NULL;
	    tok = strtok_r(NULL, ", ", &save)) {
		if (strcasecmp(tok, "der") == 0)
			f |= FMT_DER;
		else if (strcasecmp(tok, "pem") == 0)
			f |= FMT_PEM;
		else {
			f = 0;
			break;
		}
	}
	free(s);
	return f;
}

/* "90d", "12h", "30m", "45s" or seconds, into seconds; -1 when wrong. */
static long long
parse_age(const char *v)
{
	char		*end;
	long long	 n;

	errno = 0;
	n = strtoll(v, &end, 10);
	if (errno != 0 || end == v || n < 0 || n > 36500LL * 86400)
		return -1;
	switch (*end) {
	case 'd':
		n *= 86400;
		break;
	case 'h':
		n *= 3600;
		break;
	case 'm':
		n *= 60;
		break;
	case 's':
	case '\0':
		break;
	default:
		return -1;
	}
	return *end != '\0' && end[1] != '\0' ? -1 : n;
}

/*
 * Check an AD CS %-token file name template: tokens %1-%4, %6-%9 and %%,
 * no "/". %10 and %11 are LDAP URL suffixes, meaningless in a file name.
 */
static int
check_tokens(const char *tmpl, char *why, size_t whylen)
{
	const char	*p;

	if (*tmpl == '\0' || strchr(tmpl, '/') != NULL || *tmpl == '.') {
		snprintf(why, whylen, "a file name: not empty, no \"/\", not "
		    "starting with \".\"");
		return -1;
	}
	for (p = tmpl; *p != '\0'; p++) {
		if (*p != '%')
			continue;
		p++;
		if (*p == '1' && (p[1] == '0' || p[1] == '1')) {
			snprintf(why, whylen, "%%%.2s is an LDAP URL token, not "
			    "for a file name", p);
			return -1;
		}
		if (*p != '%' && (*p < '1' || *p > '9' || *p == '5')) {
			snprintf(why, whylen, "unknown token \"%%%.1s\" (known: "
			    "%%1 %%2 %%3 %%4 %%6 %%7 %%8 %%9 %%%%)", p);
			return -1;
		}
	}
	return 0;
}

/* A %{Property} template: closed braces, no "/" of its own. */
static int
check_template(const char *tmpl, char *why, size_t whylen)
{
	const char	*p, *end;

	if (*tmpl == '\0' || strchr(tmpl, '/') != NULL || *tmpl == '.') {
		snprintf(why, whylen, "a file name: not empty, no \"/\", not "
		    "starting with \".\"");
		return -1;
	}
	for (p = tmpl; (p = strstr(p, "%{")) != NULL; p = end + 1)
		if ((end = strchr(p, '}')) == NULL || end == p + 2) {
			snprintf(why, whylen, "an unclosed or empty %%{");
			return -1;
		}
	return 0;
}

/* A name template key (checked by check); def when unset. */
static int
name_key(cm_server_exit *srv, const char *key, const char *def,
    int (*check)(const char *, char *, size_t), char **out,
    struct mu_buf *errs)
{
	char	 why[160];

	if (mu_config(srv, key, def, out) == -1)
		return -1;
	if (check(*out, why, sizeof(why)) == -1) {
		bad(errs, key, *out, why);
		return -1;
	}
	return 0;
}

static int
mode_key(cm_server_exit *srv, mode_t *out, struct mu_buf *errs)
{
	const char	*v = NULL;
	char		*end;
	long		 m;

	*out = 0644;
	if (srv->config_get(srv, "file_mode", &v) != CM_OK || v == NULL)
		return 0;
	errno = 0;
	m = strtol(v, &end, 8);
	if (errno != 0 || end == v || *end != '\0' || m < 0 || m > 0777) {
		bad(errs, "file_mode", v, "expected an octal mode such as 0644");
		return -1;
	}
	*out = (mode_t)m;
	return 0;
}

/* The CRL retention and link keys. */
static void
crl_keys(cm_server_exit *srv, struct fcfg *c, struct mu_buf *errs)
{
	const char	*v = NULL;
	char		 err[256];

	if (mu_config_int(srv, "crl_keep", 0, 0, 1000000, &c->crl_keep, err,
	    sizeof(err)) == -1)
		mu_buf_printf(errs, "%s; ", err);
	if (srv->config_get(srv, "crl_max_age", &v) == CM_OK && v != NULL &&
	    (c->crl_max_age = parse_age(v)) < 0)
		bad(errs, "crl_max_age", v, "expected a duration (90d, 12h, "
		    "30m, 45s; 0: any age)");
	if (mu_config_bool(srv, "latest_link", 0, &c->latest_link, err,
	    sizeof(err)) == -1)
		mu_buf_printf(errs, "%s; ", err);
}

static int
cert_keys(cm_server_exit *srv, struct fcfg *c, struct mu_buf *errs)
{
	static const char *const certs[] = { "all", "certfile", "none", NULL };
	static const char *const revoke[] = { "keep", "move", "mark", "delete",
	    NULL };
	const char	*v = NULL;

	c->certs = word(srv, "certs", certs, CERTS_ALL, errs);
	c->on_revoke = word(srv, "on_revoke", revoke, REVOKE_KEEP, errs);
	c->formats = FMT_DER;
	if (srv->config_get(srv, "cert_format", &v) == CM_OK && v != NULL &&
	    (c->formats = parse_formats(v)) == 0)
		bad(errs, "cert_format", v, "expected der, pem or der,pem");
	if (name_key(srv, "cert_name", "%{SerialNumber}", check_template,
	    &c->cert_name, errs) == -1 && c->cert_name == NULL)
		return -1;
	if (dir_key(srv, "revoked_dir", &c->revoked_dir, errs) == -1 &&
	    c->revoked_dir == NULL)
		return -1;
	if (c->revoked_dir == NULL && c->dir != NULL &&
	    asprintf(&c->revoked_dir, "%s/revoked", c->dir) == -1) {
		c->revoked_dir = NULL;
		return -1;
	}
	if (c->dir != NULL && asprintf(&c->state_dir, "%s/%s", c->dir,
	    STATE_SUBDIR) == -1) {
		c->state_dir = NULL;
		return -1;
	}
	return 0;
}

/*
 * Read and check every key of the module's section (srv's config_get)
 * into *out. Each problem is a line of errs naming the key; *out is made
 * only when there is none. 0, or -1 (problems, or no memory).
 */
int
cfg_read(cm_server_exit *srv, struct fcfg **out, struct mu_buf *errs)
{
	struct fcfg	*c;
	char		 err[256];
	size_t		 before = errs->len;

	*out = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return -1;
	if (mu_config_unknown(srv, known_key, "CertMint_Files.Exit",
	    "docs/modules/files.md", err, sizeof(err)) == -1)
		mu_buf_printf(errs, "%s; ", err);
	if (dir_key(srv, "dir", &c->dir, errs) == -1 && c->dir == NULL)
		goto fail;
	if (dir_key(srv, "crl_dir", &c->crl_dir, errs) == -1 &&
	    c->crl_dir == NULL)
		goto fail;
	if (dir_key(srv, "aia_dir", &c->aia_dir, errs) == -1 &&
	    c->aia_dir == NULL)
		goto fail;
	if (cert_keys(srv, c, errs) == -1)
		goto fail;
	if (name_key(srv, "crl_name", "%3%8%9.crl", check_tokens, &c->crl_name,
	    errs) == -1 && c->crl_name == NULL)
		goto fail;
	if (name_key(srv, "aia_name", "%1_%3%4.crt", check_tokens,
	    &c->aia_name, errs) == -1 && c->aia_name == NULL)
		goto fail;
	crl_keys(srv, c, errs);
	mode_key(srv, &c->mode, errs);
	if (mu_config_bool(srv, "sync", 1, &c->sync, err, sizeof(err)) == -1)
		mu_buf_printf(errs, "%s; ", err);
	if (c->dir == NULL && c->crl_dir == NULL && c->aia_dir == NULL)
		mu_buf_str(errs, "dir, crl_dir, aia_dir: none is set: nothing "
		    "to publish; ");
	if (errs->len != before)
		goto fail;
	*out = c;
	return 0;
fail:
	cfg_free(c);
	return -1;
}

/* --- the manage module ------------------------------------------------- */

/*
 * exit set: a known key with a value it takes (the server then saves it
 * and refreshes); CM_S_FALSE for a key this module does not have.
 */
int
files_set_property(void *state, const char *name, int32_t flags,
    const cm_value *value)
{
	struct mu_one_key o;
	struct mu_buf	 errs = { 0 };
	struct fcfg	*c;
	size_t		 i;
	int		 rc;

	(void)state;
	(void)flags;
	for (i = 0; setting_keys[i] != NULL; i++)
		if (strcasecmp(name, setting_keys[i]) == 0)
			break;
	if (setting_keys[i] == NULL)
		return CM_S_FALSE;
	if (value->type != CM_PROPTYPE_STRING || value->data == NULL)
		return CM_E_TYPE;
	mu_one_key_init(&o, setting_keys[i], value->data, NULL);
	/* Alone, only "nothing to publish" may be said of a good value. */
	rc = cfg_read(&o.vt, &c, &errs) == 0 || (errs.data != NULL &&
	    strncmp(errs.data, "dir, crl_dir, aia_dir:", 22) == 0) ? CM_OK :
	    CM_E_INVALIDARG;
	cfg_free(c);
	mu_buf_free(&errs);
	return rc;
}
