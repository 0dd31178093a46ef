/*
 * settings.c - CertMint_LDAP.Exit's settings (docs/modules/ldap.md): each
 * key of the module's section read and checked into a struct ld_settings,
 * and the manage module's exit set, which takes any of those keys.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "ldap_exit.h"

static const char *const ld_keys[] = {
	"url", "starttls", "ca_file", "bind_dn", "password_file",
	"connect_timeout", "timeout", "user_dn", "user_base", "user_filter",
	"user_attribute", "user_object_classes", "crl_dn", "ca_dn",
	"crl_object_classes", "ca_object_classes", "create_entries",
	"state_file",
};

void
settings_free(struct ld_settings *s)
{
	if (s->password != NULL)
		explicit_bzero(s->password, strlen(s->password));
	free(s->url);
	free(s->ca_file);
	free(s->bind_dn);
	free(s->password);
	free(s->user_dn);
	free(s->user_base);
	free(s->user_filter);
	free(s->user_attr);
	free(s->user_classes);
	free(s->crl_dn);
	free(s->ca_dn);
	free(s->crl_classes);
	free(s->ca_classes);
	memset(s, 0, sizeof(*s));
}

/* Append "key: why" as a line of the report; counts the errors. */
static void
bad(struct mu_buf *r, int *nbad, const char *fmt, const char *a,
    const char *b)
{
	(*nbad)++;
	mu_buf_printf(r, fmt, a, b);
	mu_buf_str(r, "\n");
}

/* A template's %{...} are closed and named. 0 or -1. */
static int
template_ok(const char *t)
{
	const char	*p, *end;

	for (p = t; (p = strstr(p, "%{")) != NULL; p = end + 1)
		if ((end = strchr(p + 2, '}')) == NULL || end == p + 2)
			return -1;
	return 0;
}

/* A DN that libldap parses (templates: once expanded). 0 or -1. */
static int
dn_ok(const char *dn)
{
	LDAPDN	 ldn = NULL;
	int	 rc;

	rc = ldap_str2dn(dn, &ldn, LDAP_DN_FORMAT_LDAPV3);
	ldap_dnfree(ldn);
	return rc == LDAP_SUCCESS ? 0 : -1;
}

/* Read a string key; a set but empty value counts as unset. */
static void
read_str(cm_server_exit *srv, const char *key, const char *def, char **out,
    int *nomem)
{
	if (mu_config(srv, key, def, out) == -1)
		*nomem = 1;
	else if (*out != NULL && **out == '\0') {
		free(*out);
		*out = def != NULL ? strdup(def) : NULL;
	}
}

/* The URL's every space-separated element is ldap://, ldaps:// or ldapi://. */
static int
url_ok(const char *url, int *ldaps)
{
	LDAPURLDesc	*lud = NULL;

	*ldaps = 0;
	if (ldap_is_ldap_url(url) == 0 && strncasecmp(url, "ldaps://", 8) &&
	    strncasecmp(url, "ldapi://", 8))
		return -1;
	if (ldap_url_parse(url, &lud) != LDAP_URL_SUCCESS)
		return -1;
	*ldaps = strcasecmp(lud->lud_scheme, "ldaps") == 0;
	ldap_free_urldesc(lud);
	return 0;
}

static int
known_key(const char *key)
{
	size_t	 i;

	for (i = 0; i < sizeof(ld_keys) / sizeof(ld_keys[0]); i++)
		if (strcasecmp(key, ld_keys[i]) == 0)
			return 1;
	return 0;
}

/*
 * Read and check every key of the module's section into s (and the state
 * file's path into *state_file). Each problem is a line "key = value:
 * why" of r. Returns the number of problems (0: s is usable).
 */
int
settings_read(cm_server_exit *srv, struct ld_settings *s, char **state_file,
    struct mu_buf *r)
{
	char		 err[512], *pwfile = NULL;
	int		 nbad = 0, nomem = 0, ldaps = 0;

	memset(s, 0, sizeof(*s));
	*state_file = NULL;
	if (mu_config_unknown(srv, known_key, "CertMint_LDAP.Exit",
	    "docs/modules/ldap.md", err, sizeof(err)) == -1)
		bad(r, &nbad, "%s%s", err, "");
	read_str(srv, "url", NULL, &s->url, &nomem);
	read_str(srv, "ca_file", NULL, &s->ca_file, &nomem);
	read_str(srv, "bind_dn", NULL, &s->bind_dn, &nomem);
	read_str(srv, "password_file", NULL, &pwfile, &nomem);
	read_str(srv, "user_dn", NULL, &s->user_dn, &nomem);
	read_str(srv, "user_base", NULL, &s->user_base, &nomem);
	read_str(srv, "user_filter", NULL, &s->user_filter, &nomem);
	read_str(srv, "user_attribute", "userCertificate;binary",
	    &s->user_attr, &nomem);
	read_str(srv, "user_object_classes", "inetOrgPerson pkiUser",
	    &s->user_classes, &nomem);
	read_str(srv, "crl_dn", NULL, &s->crl_dn, &nomem);
	read_str(srv, "ca_dn", s->crl_dn, &s->ca_dn, &nomem);
	read_str(srv, "crl_object_classes", "cRLDistributionPoint pkiCA",
	    &s->crl_classes, &nomem);
	read_str(srv, "ca_object_classes", s->crl_classes, &s->ca_classes,
	    &nomem);
	read_str(srv, "state_file", NULL, state_file, &nomem);
	if (nomem) {
		bad(r, &nbad, "%s%s", "out of memory", "");
		goto out;
	}
	if (s->url == NULL)
		bad(r, &nbad, "url: %s%s", "not set (ldap://host:port, "
		    "ldaps://host:port)", "");
	else if (url_ok(s->url, &ldaps) == -1)
		bad(r, &nbad, "url = \"%s\": %s", s->url,
		    "not an ldap://, ldaps:// or ldapi:// URL");
	if (mu_config_bool(srv, "starttls", 0, &s->starttls, err,
	    sizeof(err)) == -1)
		bad(r, &nbad, "%s%s", err, "");
	else if (s->starttls && ldaps)
		bad(r, &nbad, "starttls: %s%s", "an ldaps:// URL is TLS "
		    "already; use ldap:// with starttls", "");
	if (s->ca_file != NULL && access(s->ca_file, R_OK) == -1)
		bad(r, &nbad, "ca_file = \"%s\": %s", s->ca_file,
		    strerror(errno));
	if (s->bind_dn != NULL && dn_ok(s->bind_dn) == -1)
		bad(r, &nbad, "bind_dn = \"%s\": %s", s->bind_dn, "not a DN");
	if (s->bind_dn != NULL && pwfile == NULL)
		bad(r, &nbad, "password_file: %s%s", "not set (bind_dn needs "
		    "a password)", "");
	else if (pwfile != NULL && s->bind_dn == NULL)
		bad(r, &nbad, "password_file: %s%s", "set without bind_dn", "");
	else if (pwfile != NULL && mu_secret_file(pwfile, &s->password, err,
	    sizeof(err)) == -1)
		bad(r, &nbad, "password_file: %s%s", err, "");
	if (mu_config_ms(srv, "connect_timeout", 5000, &s->connect_ms, err,
	    sizeof(err)) == -1 || mu_config_ms(srv, "timeout", 10000,
	    &s->op_ms, err, sizeof(err)) == -1)
		bad(r, &nbad, "%s%s", err, "");
	else if (s->connect_ms == 0 || s->op_ms == 0)
		bad(r, &nbad, "%s%s", s->connect_ms == 0 ? "connect_timeout" :
		    "timeout", ": must be more than 0");
	if (mu_config_bool(srv, "create_entries", 0, &s->create, err,
	    sizeof(err)) == -1)
		bad(r, &nbad, "%s%s", err, "");
	if (s->user_dn != NULL && template_ok(s->user_dn) == -1)
		bad(r, &nbad, "user_dn = \"%s\": %s", s->user_dn,
		    "an unclosed or empty %{");
	if (s->user_filter != NULL && template_ok(s->user_filter) == -1)
		bad(r, &nbad, "user_filter = \"%s\": %s", s->user_filter,
		    "an unclosed or empty %{");
	if (s->user_filter != NULL && s->user_base == NULL)
		bad(r, &nbad, "user_base: %s%s", "not set (user_filter "
		    "searches under it)", "");
	if (s->user_base != NULL && dn_ok(s->user_base) == -1)
		bad(r, &nbad, "user_base = \"%s\": %s", s->user_base,
		    "not a DN");
	if (s->user_filter == NULL && s->user_base != NULL)
		bad(r, &nbad, "user_filter: %s%s", "not set (user_base is)",
		    "");
	if (s->crl_dn != NULL && template_ok(s->crl_dn) == -1)
		bad(r, &nbad, "crl_dn = \"%s\": %s", s->crl_dn,
		    "an unclosed or empty %{");
	if (s->ca_dn != NULL && template_ok(s->ca_dn) == -1)
		bad(r, &nbad, "ca_dn = \"%s\": %s", s->ca_dn,
		    "an unclosed or empty %{");
	if (strchr(s->user_attr, ' ') != NULL)
		bad(r, &nbad, "user_attribute = \"%s\": %s", s->user_attr,
		    "one attribute name");
	if (s->user_dn == NULL && s->user_filter == NULL &&
	    s->crl_dn == NULL && s->ca_dn == NULL)
		bad(r, &nbad, "user_dn, user_filter, crl_dn, ca_dn: %s%s",
		    "none set: nothing to publish", "");
out:
	free(pwfile);
	return nbad;
}

/* `certmint exit set`: any key of docs/modules/ldap.md; configure checks. */
int
ld_set_property(void *state, const char *name, int32_t flags,
    const cm_value *value)
{
	size_t	 i;

	(void)state;
	(void)flags;
	(void)value;
	for (i = 0; i < sizeof(ld_keys) / sizeof(ld_keys[0]); i++)
		if (strcmp(name, ld_keys[i]) == 0)
			return CM_OK;
	return CM_E_INVALIDARG;
}
