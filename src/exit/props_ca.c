/*
 * props_ca.c - the CA properties of ICertServerExit (context 0): the CA
 * certificates, CRLs and CA settings as they were at the event
 * (docs/exit-modules.md, Snapshots and Porting), with AD CS's names and
 * ".N" CA-certificate indexes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "props.h"

static const char *const empty_ca_props[] = {
	"ConfigDN", "DomainDN", "LogLevel", "SessionCount",
	"TemplateChangeSequenceNumber", "VolatileMode", NULL
};

/*
 * Split "Name.N" into the name and N; N is -1 without a suffix.
 */
static int
split_index(const char *name, char *base, size_t len, long *index)
{
	const char	*dot = strrchr(name, '.');
	char		*end;
	long		 n;

	*index = -1;
	if (dot != NULL && dot[1] != '\0') {
		n = strtol(dot + 1, &end, 10);
		if (*end == '\0' && n >= 0) {
			*index = n;
			snprintf(base, len, "%.*s", (int)(dot - name), name);
			return 0;
		}
	}
	snprintf(base, len, "%s", name);
	return 0;
}

/*
 * AD CS's sanitized CA name: characters outside a safe set become !xxxx.
 */
static char *
sanitized_name(struct exit_call *c, const char *name)
{
	struct buf	 b = { 0 };
	const unsigned char *p;
	char		*s;

	for (p = (const unsigned char *)name; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == ' ' || *p == '-' ||
		    *p == '.' || *p == '_')
			buf_appendc(&b, *p);
		else
			buf_printf(&b, "!%04x", *p);
	}
	s = arena_strdup(c, b.data ? (char *)b.data : "");
	buf_free(&b);
	return s;
}

/*
 * The CA certificate of index idx (the newest if idx < 0) in use by the
 * event, how many there were then and (key_idx not NULL) its key's index.
 * 0, CM_E_INVALIDARG for an index beyond them, or CM_E_PROPERTY_EMPTY.
 * *der is in the call's arena.
 */
static int
cacert_key_at(struct exit_call *c, long idx, const unsigned char **der,
    size_t *len, int *count, int *key_idx)
{
	unsigned char	*raw = NULL;
	int		 rc;

	if (idx > INT32_MAX)
		return CM_E_INVALIDARG;
	if (c->st == NULL)
		c->st = ca_reader(c->ca);
	if (c->st == NULL)
		return CM_E_PROPERTY_EMPTY;
	rc = store_cacert_at(c->st, event_seq(c), (int)idx, &raw, len, count,
	    key_idx);
	if (rc == CM_E_NOTFOUND)
		return idx >= 0 ? CM_E_INVALIDARG : CM_E_PROPERTY_EMPTY;
	if (rc != 0)
		return CM_E_PROPERTY_EMPTY;
	*der = arena_memdup(c, raw, *len);
	free(raw);
	return *der != NULL ? 0 : CM_E_NOMEM;
}

static int
cacert_at(struct exit_call *c, long idx, const unsigned char **der,
    size_t *len, int *count)
{
	return cacert_key_at(c, idx, der, len, count, NULL);
}

int
cacert_property(struct exit_call *c, long idx, uint32_t type, cm_value *out)
{
	const unsigned char *der;
	size_t		 len;
	int		 count, rc;

	if (type != CM_PROPTYPE_BINARY)
		return CM_E_TYPE;
	if ((rc = cacert_at(c, idx, &der, &len, &count)) != 0)
		return rc;
	return set_binary(out, type, der, len);
}

/* CertState: valid until the certificate's notAfter at the event's time. */
static int
cert_state(struct exit_call *c, long idx, uint32_t type, cm_value *out)
{
	struct cert_info info;
	const unsigned char *der;
	size_t		 len;
	char		 err[128];
	int		 count, rc, state;

	if ((rc = cacert_at(c, idx, &der, &len, &count)) != 0)
		return rc;
	if (cert_info_parse(der, len, &info, err, sizeof(err)) == -1)
		return set_long(out, type, CM_CA_DISP_ERROR);
	state = info.not_after > event_time(c) ? CM_CA_DISP_VALID :
	    CM_CA_DISP_INVALID;
	cert_info_free(&info);
	return set_long(out, type, state);
}

/* "" for index 0, else "(N)": AD CS's CertSuffix and CRLSuffix. */
static int
suffix_property(struct exit_call *c, long idx, uint32_t type, cm_value *out)
{
	char	 buf[32];

	if (idx <= 0)
		return set_string(out, type, "");
	snprintf(buf, sizeof(buf), "(%ld)", idx);
	return type != CM_PROPTYPE_STRING ? CM_E_TYPE :
	    set_string(out, type, arena_strdup(c, buf));
}

/* The newest base (delta) CRL of key key_idx published by the event's time. */
static int
crl_property(struct exit_call *c, int delta, int key_idx, uint32_t type,
    cm_value *out)
{
	struct db_crl	 crl;
	void		*copy;
	int		 rc;

	if (type != CM_PROPTYPE_BINARY)
		return CM_E_TYPE;
	if (c->st == NULL)
		c->st = ca_reader(c->ca);
	if (c->st == NULL || store_crl_at(c->st, delta, key_idx, event_seq(c),
	    &crl) != 0)
		return CM_E_PROPERTY_EMPTY;
	if ((copy = arena_memdup(c, crl.raw, crl.raw_len)) == NULL) {
		db_crl_free(&crl);
		return CM_E_NOMEM;
	}
	rc = set_binary(out, type, copy, crl.raw_len);
	db_crl_free(&crl);
	return rc;
}

/*
 * The properties that take a CA-certificate index (".N"; none: the
 * newest). Each key's CRLs are signed by its newest certificate, whose
 * index owns them (AD CS): CRLIndex.N is the index of the first
 * certificate with N's key, CRLState.N is CM_CA_DISP_ERROR ("handled by
 * another CA certificate") and RawCRL.N empty for the others.
 */
static int
indexed_ca_property(struct exit_call *c, const char *name, long idx,
    uint32_t type, cm_value *out, int *handled)
{
	const unsigned char *der, *next;
	size_t		 len, nlen;
	int		 count, ncount, rc, key, nkey, owner;

	*handled = 1;
	if (!strcasecmp(name, "RawCACertificate"))
		return cacert_property(c, idx, type, out);
	if (!strcasecmp(name, "CertState"))
		return cert_state(c, idx, type, out);
	if (!strcasecmp(name, "CertSuffix"))
		return suffix_property(c, idx, type, out);
	if (strcasecmp(name, "RawCRL") && strcasecmp(name, "RawDeltaCRL") &&
	    strcasecmp(name, "CRLIndex") && strcasecmp(name, "CRLState") &&
	    strcasecmp(name, "CRLSuffix") &&
	    strcasecmp(name, "LocalizedTimePeriodUnits")) {
		*handled = 0;
		return CM_E_INVALIDARG;
	}
	if (!strcasecmp(name, "LocalizedTimePeriodUnits"))
		return CM_E_PROPERTY_EMPTY;
	if ((rc = cacert_key_at(c, idx, &der, &len, &count, &key)) != 0)
		return rc;
	if (idx < 0)
		idx = count - 1;
	/* Keys are contiguous: the next certificate tells. */
	owner = idx == count - 1 || cacert_key_at(c, idx + 1, &next, &nlen,
	    &ncount, &nkey) != 0 || nkey != key;
	if (!strcasecmp(name, "CRLIndex"))
		return set_long(out, type, key);
	if (!strcasecmp(name, "CRLSuffix"))
		return suffix_property(c, key, type, out);
	if (!strcasecmp(name, "CRLState"))
		return owner ? cert_state(c, idx, type, out) :
		    set_long(out, type, CM_CA_DISP_ERROR);
	if (!owner)
		return CM_E_PROPERTY_EMPTY;
	return crl_property(c, !strcasecmp(name, "RawDeltaCRL"), key, type,
	    out);
}

static int
ca_property_locked(struct exit_call *c, const char *full, uint32_t type,
    cm_value *out)
{
	const struct cm_config *cfg = ca_config(c->ca);
	const unsigned char *der;
	char		 name[128], *sane;
	size_t		 len;
	long		 idx;
	int		 count, handled, rc;

	split_index(full, name, sizeof(name), &idx);
	rc = indexed_ca_property(c, name, idx, type, out, &handled);
	if (handled)
		return rc;
	if (idx >= 0)		/* the names below take no index */
		return CM_E_INVALIDARG;
	if (in_list(empty_ca_props, name))
		return CM_E_PROPERTY_EMPTY;
	if (!strcasecmp(name, "CAType"))
		return set_long(out, type, cfg->ca_type);
	if (!strcasecmp(name, "CertCount")) {
		if ((rc = cacert_at(c, -1, &der, &len, &count)) != 0)
			return rc;
		return set_long(out, type, count);
	}
	if (!strcasecmp(name, "SanitizedCAName"))
		return type != CM_PROPTYPE_STRING ? CM_E_TYPE :
		    set_string(out, type, sanitized_name(c, cfg->ca_name));
	/* AD CS shortens longer names with a hash of its own. */
	if (!strcasecmp(name, "SanitizedShortName")) {
		if (type != CM_PROPTYPE_STRING)
			return CM_E_TYPE;
		if ((sane = sanitized_name(c, cfg->ca_name)) == NULL)
			return CM_E_NOMEM;
		return strlen(sane) > 51 ? CM_E_PROPERTY_EMPTY :
		    set_string(out, type, sane);
	}
	if (!strcasecmp(name, "MachineDNSName"))
		/* A copy: a reload frees the config once the call returns. */
		return set_string(out, type, cfg->machine_dns_name == NULL ?
		    NULL : arena_strdup(c, cfg->machine_dns_name));
	if (!strcasecmp(name, "ModuleRegistryLocation"))
		return set_string(out, type, c->module);
	if (!strcasecmp(name, "fDeltaCRLsDisabled"))
		return set_long(out, type, !cfg->delta_enabled);
	if (!strcasecmp(name, "fUseDS") || !strcasecmp(name, "fServerUpgraded"))
		return set_long(out, type, 0);
	return CM_E_INVALIDARG;
}

/* ca_property_locked under the config read lock (ca_reload swaps it). */
int
ca_property(struct exit_call *c, const char *full, uint32_t type, cm_value *out)
{
	int	 rc;

	ca_config_lock(c->ca);
	rc = ca_property_locked(c, full, type, out);
	ca_config_unlock(c->ca);
	return rc;
}
