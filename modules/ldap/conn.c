/*
 * conn.c - CertMint_LDAP.Exit's side of the directory: connect (ldap://,
 * ldaps://, StartTLS) and simple-bind within the timeouts, write and read
 * entries, escape template values, and say what an LDAP result code means
 * for the event (transient, permanent, or a reason to suspend).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

#include "ldap_exit.h"

/*
 * The server's own words after a failure, if it said any. A client-side
 * code (negative: a timeout, a lost connection) has none: the handle's
 * message would be an earlier operation's.
 */
static void
set_err(LDAP *ld, int rc, const char *what, char *err, size_t errlen)
{
	char	*diag = NULL;

	if (ld != NULL && rc > 0)
		ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &diag);
	snprintf(err, errlen, "%s: %s (%d)%s%s", what, ldap_err2string(rc), rc,
	    diag != NULL && *diag != '\0' ? ": " : "",
	    diag != NULL ? diag : "");
	ldap_memfree(diag);
}

static void
ms_to_tv(long long ms, struct timeval *tv)
{
	tv->tv_sec = (time_t)(ms / 1000);
	tv->tv_usec = (suseconds_t)(ms % 1000) * 1000;
}

/*
 * Options that must be set before the first operation: protocol 3, no
 * referral chasing (a referral would go to a server nobody configured),
 * the connect and operation timeouts (so that an unreachable or silent
 * server costs this module at most those, never the CA), and TLS
 * verification against ca_file. An LDAP result code.
 */
static int
set_options(LDAP *ld, const struct ld_settings *s)
{
	struct timeval	 ctv, otv;
	int		 v3 = LDAP_VERSION3, demand = LDAP_OPT_X_TLS_DEMAND;
	int		 newctx = 0, rc;

	ms_to_tv(s->connect_ms, &ctv);
	ms_to_tv(s->op_ms, &otv);
	if ((rc = ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &v3)) != 0 ||
	    (rc = ldap_set_option(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF)) != 0 ||
	    (rc = ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &ctv)) != 0 ||
	    (rc = ldap_set_option(ld, LDAP_OPT_TIMEOUT, &otv)) != 0 ||
	    (rc = ldap_set_option(ld, LDAP_OPT_X_TLS_REQUIRE_CERT,
	    &demand)) != 0)
		return rc;
	if (s->ca_file != NULL && (rc = ldap_set_option(ld,
	    LDAP_OPT_X_TLS_CACERTFILE, s->ca_file)) != 0)
		return rc;
	/* A context of this handle's own: the options above, not libldap's
	 * process-wide defaults (ldap.conf). */
	return ldap_set_option(ld, LDAP_OPT_X_TLS_NEWCTX, &newctx);
}

/*
 * Connect to s->url (StartTLS if asked) and bind: simply with bind_dn and
 * the password, else anonymously. On success *out is the handle; else an
 * LDAP result code with err saying what failed (never the password).
 */
int
ld_connect(const struct ld_settings *s, LDAP **out, char *err, size_t errlen)
{
	/*
	 * libldap sets up its global options and TLS context on first use
	 * without a lock (ThreadSanitizer: ldap_create): handles are made
	 * one at a time. Binds and operations then run in parallel.
	 */
	static pthread_mutex_t setup_mu = PTHREAD_MUTEX_INITIALIZER;
	struct berval	 cred = { 0, NULL };
	LDAP		*ld = NULL;
	int		 rc;

	*out = NULL;
	pthread_mutex_lock(&setup_mu);
	if ((rc = ldap_initialize(&ld, s->url)) != LDAP_SUCCESS) {
		pthread_mutex_unlock(&setup_mu);
		set_err(NULL, rc, s->url, err, errlen);
		return rc;
	}
	if ((rc = set_options(ld, s)) != LDAP_SUCCESS)
		set_err(ld, rc, "setting options", err, errlen);
	else if (s->starttls && (rc = ldap_start_tls_s(ld, NULL, NULL)) !=
	    LDAP_SUCCESS)
		set_err(ld, rc, "StartTLS", err, errlen);
	pthread_mutex_unlock(&setup_mu);
	if (rc != LDAP_SUCCESS)
		goto fail;
	if (s->password != NULL) {
		cred.bv_val = s->password;
		cred.bv_len = strlen(s->password);
	}
	if ((rc = ldap_sasl_bind_s(ld, s->bind_dn ? s->bind_dn : "",
	    LDAP_SASL_SIMPLE, &cred, NULL, NULL, NULL)) != LDAP_SUCCESS) {
		set_err(ld, rc, s->bind_dn ? "bind" : "anonymous bind", err,
		    errlen);
		goto fail;
	}
	*out = ld;
	return LDAP_SUCCESS;
fail:
	ldap_unbind_ext_s(ld, NULL, NULL);
	return rc;
}

/*
 * What an LDAP result code means for the event: LD_OK; LD_SUSPEND when
 * every event would fail the same way until the operator acts (wrong
 * password, no rights: retrying only dead-letters the whole queue);
 * LD_PERMANENT when this event's entry or data is wrong (no such entry, a
 * bad DN, a schema violation); LD_RETRY for the rest (server down or busy,
 * timeouts, TLS and network errors).
 */
int
ld_outcome_of(int rc)
{
	switch (rc) {
	case LDAP_SUCCESS:
		return LD_OK;
	case LDAP_INVALID_CREDENTIALS:
	case LDAP_INAPPROPRIATE_AUTH:
	case LDAP_INSUFFICIENT_ACCESS:
	case LDAP_CONFIDENTIALITY_REQUIRED:
	case LDAP_STRONG_AUTH_REQUIRED:
		return LD_SUSPEND;
	case LDAP_NO_SUCH_OBJECT:
	case LDAP_INVALID_DN_SYNTAX:
	case LDAP_OBJECT_CLASS_VIOLATION:
	case LDAP_NAMING_VIOLATION:
	case LDAP_UNDEFINED_TYPE:
	case LDAP_INVALID_SYNTAX:
	case LDAP_CONSTRAINT_VIOLATION:
	case LDAP_NOT_ALLOWED_ON_RDN:
	case LDAP_NOT_ALLOWED_ON_NONLEAF:
	case LDAP_ALREADY_EXISTS:
	case LDAP_INAPPROPRIATE_MATCHING:
	case LDAP_REFERRAL:
	case LDAP_FILTER_ERROR:
	case LDAP_ALIAS_PROBLEM:
	case LDAP_ALIAS_DEREF_PROBLEM:
		return LD_PERMANENT;
	default:
		return LD_RETRY;
	}
}

/* attrs as an LDAPMod array (mods points into attrs). */
static LDAPMod **
mods_of(struct ld_attr *attrs, size_t n, LDAPMod *mods, int add)
{
	LDAPMod	**list;
	size_t	  i;

	if ((list = calloc(n + 1, sizeof(*list))) == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		mods[i].mod_op = (add ? LDAP_MOD_ADD : attrs[i].op) |
		    LDAP_MOD_BVALUES;
		mods[i].mod_type = (char *)attrs[i].name;
		mods[i].mod_bvalues = attrs[i].vals[0] != NULL ||
		    attrs[i].op != LDAP_MOD_DELETE ? attrs[i].vals : NULL;
		list[i] = &mods[i];
	}
	return list;
}

/* Apply attrs to dn. An LDAP result code, err set on failure. */
int
ld_modify(LDAP *ld, const char *dn, struct ld_attr *attrs, size_t n,
    char *err, size_t errlen)
{
	LDAPMod		 mods[16], **list;
	int		 rc;

	if (n > 16 || (list = mods_of(attrs, n, mods, 0)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return LDAP_NO_MEMORY;
	}
	if ((rc = ldap_modify_ext_s(ld, dn, list, NULL, NULL)) != LDAP_SUCCESS)
		set_err(ld, rc, dn, err, errlen);
	free(list);
	return rc;
}

/* Is class one of the space-separated classes (case-insensitive)? */
static int
has_class(const char *classes, const char *class)
{
	size_t	 n = strlen(class);
	const char *p;

	for (p = classes; (p = strcasestr(p, class)) != NULL; p += n)
		if ((p == classes || p[-1] == ' ') &&
		    (p[n] == ' ' || p[n] == '\0'))
			return 1;
	return 0;
}

/*
 * Create dn with the object classes (space-separated), the naming
 * attributes of its RDN, sn for the person classes that require it (the
 * RDN's value, as an operator would write it), and attrs. An LDAP result
 * code, err set on failure.
 */
int
ld_add(LDAP *ld, const char *dn, const char *classes, struct ld_attr *attrs,
    size_t n, char *err, size_t errlen)
{
	struct ld_attr	 all[24];
	struct berval	 ocv[8], *first = NULL;
	LDAPMod		 mods[24], **list = NULL;
	LDAPDN		 ldn = NULL;
	char		*copy = NULL, *tok, *save;
	size_t		 k = 0, i, nc = 0;
	int		 rc, sn = 0;

	memset(all, 0, sizeof(all));
	if ((rc = ldap_str2dn(dn, &ldn, LDAP_DN_FORMAT_LDAPV3)) !=
	    LDAP_SUCCESS || ldn == NULL || ldn[0] == NULL) {
		snprintf(err, errlen, "%s: not a DN", dn);
		rc = LDAP_INVALID_DN_SYNTAX;
		goto out;
	}
	if ((copy = strdup(classes)) == NULL) {
		rc = LDAP_NO_MEMORY;
		goto out;
	}
	all[k].name = "objectClass";
	for (tok = strtok_r(copy, " ", &save); tok != NULL && nc < 7;
	    tok = strtok_r(NULL, " ", &save)) {
		ocv[nc].bv_val = tok;
		ocv[nc].bv_len = strlen(tok);
		all[k].vals[nc] = &ocv[nc];
		nc++;
	}
	k++;
	for (i = 0; ldn[0][i] != NULL && k < 12; i++, k++) {
		all[k].name = ldn[0][i]->la_attr.bv_val;
		all[k].vals[0] = &ldn[0][i]->la_value;
		if (strcasecmp(all[k].name, "sn") == 0)
			sn = 1;
		if (first == NULL)
			first = &ldn[0][i]->la_value;
	}
	if (!sn && first != NULL && (has_class(classes, "person") ||
	    has_class(classes, "organizationalPerson") ||
	    has_class(classes, "inetOrgPerson"))) {
		all[k].name = "sn";
		all[k++].vals[0] = first;
	}
	for (i = 0; i < n && k < 24; i++)
		all[k++] = attrs[i];
	if ((list = mods_of(all, k, mods, 1)) == NULL) {
		rc = LDAP_NO_MEMORY;
		goto out;
	}
	if ((rc = ldap_add_ext_s(ld, dn, list, NULL, NULL)) != LDAP_SUCCESS)
		set_err(ld, rc, dn, err, errlen);
out:
	if (rc == LDAP_NO_MEMORY)
		snprintf(err, errlen, "out of memory");
	free(list);
	free(copy);
	ldap_dnfree(ldn);
	return rc;
}

/*
 * The one entry under base that filter matches, in *dn (free it with
 * ldap_memfree), or *dn NULL when none does. More than one is
 * LDAP_SIZELIMIT_EXCEEDED (err says so): a certificate must not land on
 * the wrong person. An LDAP result code.
 */
int
ld_find(LDAP *ld, const char *base, const char *filter, char **dn,
    char *err, size_t errlen)
{
	static char	 noattr[] = LDAP_NO_ATTRS;
	char		*attrs[] = { noattr, NULL };
	LDAPMessage	*res = NULL, *e;
	int		 rc, count;

	*dn = NULL;
	rc = ldap_search_ext_s(ld, base, LDAP_SCOPE_SUBTREE, filter, attrs, 0,
	    NULL, NULL, NULL, 2, &res);
	count = res != NULL ? ldap_count_entries(ld, res) : 0;
	if (rc == LDAP_SIZELIMIT_EXCEEDED || count > 1) {
		snprintf(err, errlen, "%s under %s matches more than one entry",
		    filter, base);
		rc = LDAP_SIZELIMIT_EXCEEDED;
	} else if (rc != LDAP_SUCCESS)
		set_err(ld, rc, base, err, errlen);
	else if ((e = ldap_first_entry(ld, res)) != NULL &&
	    (*dn = ldap_get_dn(ld, e)) == NULL) {
		snprintf(err, errlen, "out of memory");
		rc = LDAP_NO_MEMORY;
	}
	ldap_msgfree(res);
	return rc;
}

/* Read attrs of the entry dn into *res (ldap_msgfree it). An LDAP code. */
int
ld_read(LDAP *ld, const char *dn, char **attrs, LDAPMessage **res,
    char *err, size_t errlen)
{
	int	 rc;

	*res = NULL;
	rc = ldap_search_ext_s(ld, dn, LDAP_SCOPE_BASE, "(objectClass=*)",
	    attrs, 0, NULL, NULL, NULL, 1, res);
	if (rc != LDAP_SUCCESS) {
		set_err(ld, rc, dn, err, errlen);
		ldap_msgfree(*res);
		*res = NULL;
	}
	return rc;
}

/*
 * Append s escaped as an attribute value of a DN (RFC 4514 2.4): a
 * subject's CN may hold a comma or a plus, which must not add an RDN.
 * 0 or -1.
 */
int
ld_esc_dn(struct mu_buf *b, const char *s)
{
	size_t	 i, n = strlen(s);
	int	 rc = 0;

	for (i = 0; i < n && rc == 0; i++) {
		unsigned char c = (unsigned char)s[i];

		if (strchr(",+\"\\<>;=", c) != NULL ||
		    (i == 0 && (c == ' ' || c == '#')) ||
		    (i == n - 1 && c == ' '))
			rc = mu_buf_printf(b, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			rc = mu_buf_printf(b, "\\%02x", c);
		else
			rc = mu_buf_add(b, &s[i], 1);
	}
	return rc;
}

/* Append s escaped as a filter's assertion value (RFC 4515). 0 or -1. */
int
ld_esc_filter(struct mu_buf *b, const char *s)
{
	const unsigned char *p;
	int	 rc = 0;

	for (p = (const unsigned char *)s; *p != '\0' && rc == 0; p++) {
		if (*p == '*' || *p == '(' || *p == ')' || *p == '\\' ||
		    *p < 0x20 || *p == 0x7f)
			rc = mu_buf_printf(b, "\\%02x", *p);
		else
			rc = mu_buf_add(b, p, 1);
	}
	return rc;
}
