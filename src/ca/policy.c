/*
 * policy.c - the default policy module (CertMint_Default.Policy), after AD
 * CS's standalone policy: RequestDisposition decides issue, pend or deny
 * (optionally from the request's Disposition attribute, optionally pending
 * first), within limits on key types, SAN types, profiles and validity.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "ca.h"

/*
 * The value of request attribute name (AD CS matching), or NULL.
 */
static const char *
attr_find(const struct db_attr *attrs, size_t n, const char *name)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (attr_name_eq(attrs[i].name, name))
			return attrs[i].value;
	return NULL;
}

/*
 * The validity the requester asked for with ValidityPeriod and
 * ValidityPeriodUnits (AD CS attributes), in seconds; 0 if none.
 * Returns -1 when the attributes are malformed.
 */
static int
requested_validity(const struct db_attr *attrs, size_t n, int64_t *secs)
{
	const char	*period = attr_find(attrs, n, "ValidityPeriod");
	const char	*units = attr_find(attrs, n, "ValidityPeriodUnits");
	int64_t		 count, unit;

	*secs = 0;
	if (period == NULL && units == NULL)
		return 0;
	if (period == NULL || units == NULL || parse_int64(units, &count) == -1 ||
	    count <= 0 || count > 100000)
		return -1;
	if (!strcasecmp(period, "Seconds"))
		unit = 1;
	else if (!strcasecmp(period, "Minutes"))
		unit = 60;
	else if (!strcasecmp(period, "Hours"))
		unit = 3600;
	else if (!strcasecmp(period, "Days"))
		unit = 86400;
	else if (!strcasecmp(period, "Weeks"))
		unit = 7 * 86400;
	else if (!strcasecmp(period, "Months"))
		unit = 30 * 86400;
	else if (!strcasecmp(period, "Years"))
		unit = 365 * 86400;
	else
		return -1;
	*secs = count * unit;
	return 0;
}

static void
list_allowed(char *out, size_t len, uint32_t mask, int n,
    const char *(*name)(int))
{
	int	 i;
	size_t	 o = 0;

	out[0] = '\0';
	for (i = 0; i < n && o < len; i++)
		if (mask & (1u << i))
			o += (size_t)snprintf(out + o, len - o, "%s%s",
			    o ? ", " : "", name(i));
}

static const char *key_name_i(int i) { return key_type_name((enum key_type)i); }
static const char *san_name_i(int i) { return san_type_name((enum san_type)i); }

/* The names of the profiles a request may name, for a refusal. */
static void
list_profiles(char *out, size_t len, const struct cm_config *cfg)
{
	size_t	 i, o = 0;

	out[0] = '\0';
	for (i = 0; i < cfg->nprofiles && o < len; i++)
		if (cfg->profile_list[i].allowed)
			o += (size_t)snprintf(out + o, len - o, "%s%s",
			    o ? ", " : "", cfg->profile_list[i].name);
}

int
policy_deny(struct policy_decision *d, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(d->message, sizeof(d->message), fmt, ap);
	va_end(ap);
	d->vr = CM_VR_INSTANT_BAD;
	return 0;
}

void
policy_decision_free(struct policy_decision *d)
{
	size_t	 i;

	for (i = 0; i < d->nextra; i++) {
		free(d->extra[i].oid);
		free(d->extra[i].value);
	}
	free(d->extra);
	d->extra = NULL;
	d->nextra = 0;
	for (i = 0; i < d->nsans; i++) {
		free(d->sans[i].value);
		free(d->sans[i].der);
	}
	free(d->sans);
	d->sans = NULL;
	d->nsans = 0;
	free(d->subject);
	d->subject = NULL;
	d->subject_len = 0;
	for (i = 0; i < d->neku; i++)
		free(d->eku[i]);
	free(d->eku);
	d->eku = NULL;
	d->neku = 0;
}

/*
 * Decide on a request. new_request is 0 when an officer resubmits it, which
 * counts as an approval. Fills d and returns 0; -1 only on internal errors.
 */
int
policy_default_verify(const struct cm_config *cfg, const struct signer *sg,
    const struct csr *csr, const struct db_attr *attrs, size_t nattrs,
    int new_request, struct policy_decision *d)
{
	const struct cm_profile *prof;
	const char	*v;
	char		 allowed[256];
	int64_t		 want, max, now = time_now();
	size_t		 i;
	int		 disp;

	memset(d, 0, sizeof(*d));
	d->profile = &cfg->profile_list[cfg->default_profile];

	if (csr->key_type == KEY__MAX || !(cfg->key_types & (1u << csr->key_type))) {
		list_allowed(allowed, sizeof(allowed), cfg->key_types, KEY__MAX,
		    key_name_i);
		d->status = STATUS_BAD_ALGID;
		return policy_deny(d, "key type %s is not allowed (allowed: %s)",
		    csr->key_type == KEY__MAX ? csr->key_desc :
		    key_type_name(csr->key_type), allowed);
	}
	for (i = 0; i < csr->nsans; i++)
		if (!(cfg->san_types & (1u << csr->sans[i].type))) {
			list_allowed(allowed, sizeof(allowed), cfg->san_types,
			    SAN__MAX, san_name_i);
			return policy_deny(d, "subjectAltName type %s (%s) is not "
			    "allowed (allowed: %s)",
			    san_type_name(csr->sans[i].type), csr->sans[i].value,
			    allowed);
		}
	if (csr->subject_len <= 2 && csr->nsans == 0)
		return policy_deny(d, "request has neither a subject nor a "
		    "subjectAltName");

	if ((v = attr_find(attrs, nattrs, "CertificateTemplate")) != NULL ||
	    (v = attr_find(attrs, nattrs, "Profile")) != NULL) {
		if ((prof = profile_find(cfg, v)) == NULL || !prof->allowed) {
			list_profiles(allowed, sizeof(allowed), cfg);
			return policy_deny(d, "profile \"%.64s\" is not "
			    "allowed (allowed: %s)", v, allowed);
		}
		d->profile = prof;
	}

	/* The profile's validity unless the requester asks for less. */
	if (requested_validity(attrs, nattrs, &want) == -1)
		return policy_deny(d, "malformed ValidityPeriod/ValidityPeriodUnits "
		    "attributes");
	max = (int64_t)d->profile->max_validity_days * 86400;
	if (want == 0)
		want = (int64_t)d->profile->validity_days * 86400;
	if (want > max)
		want = max;
	d->not_before = now - cfg->backdate_seconds;
	d->not_after = now + want;
	/* profile_enforce cuts it to the CA certificate's life, or refuses. */
	if (sg != NULL && sg->not_after != 0 && sg->not_after <= now)
		return policy_deny(d, "the CA certificate has expired");

	if (!new_request) {
		d->vr = CM_VR_INSTANT_OK;
		return 0;
	}
	switch (cfg->request_disposition & REQDISP_MASK) {
	case REQDISP_ISSUE:
		disp = CM_VR_INSTANT_OK;
		break;
	case REQDISP_DENY:
		return policy_deny(d, "Denied by policy module");
	case REQDISP_USEREQUESTATTRIBUTE:
		v = attr_find(attrs, nattrs, "Disposition");
		if (v != NULL && strcasecmp(v, "deny") == 0)
			return policy_deny(d, "Denied by request attribute");
		disp = v != NULL && strcasecmp(v, "pending") == 0 ?
		    CM_VR_PENDING : CM_VR_INSTANT_OK;
		break;
	case REQDISP_PENDING:
	default:
		disp = CM_VR_PENDING;
		break;
	}
	if (cfg->request_disposition & REQDISP_PENDINGFIRST)
		disp = CM_VR_PENDING;
	d->vr = disp;
	if (disp == CM_VR_PENDING)
		snprintf(d->message, sizeof(d->message), "Taken Under Submission");
	return 0;
}
