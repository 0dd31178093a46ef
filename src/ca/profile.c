/*
 * profile.c - the rules of a certificate's profile (docs/profiles.md),
 * applied after the policy module decided to issue or pend: no policy
 * module waives them. What the CA changes is said in the
 * DispositionMessage; what it cannot issue is refused with the reason.
 */
#include <arpa/inet.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ca.h"

#define OID_CN	"2.5.4.3"

/* Append to d->message what the CA changed, after "Issued". */
static void
profile_note(struct policy_decision *d, const char *note)
{
	size_t	 n = strlen(d->message);

	if (d->vr != CM_VR_INSTANT_OK)
		return;
	snprintf(d->message + n, sizeof(d->message) - n, "%s%s",
	    n ? "; " : "Issued; ", note);
}

/* d->sans, from the request's on first use, then with s added. */
static void
san_add(const struct csr *csr, struct policy_decision *d,
    enum san_type type, const char *value)
{
	size_t	 i;

	if (d->sans == NULL) {
		d->sans = xcalloc(csr->nsans + 1, sizeof(*d->sans));
		for (i = 0; i < csr->nsans; i++) {
			d->sans[i].type = csr->sans[i].type;
			d->sans[i].value = xstrdup(csr->sans[i].value);
			if (csr->sans[i].der == NULL)
				continue;
			if ((d->sans[i].der = malloc(csr->sans[i].der_len)) ==
			    NULL)
				abort();
			memcpy(d->sans[i].der, csr->sans[i].der,
			    csr->sans[i].der_len);
			d->sans[i].der_len = csr->sans[i].der_len;
		}
		d->nsans = csr->nsans;
	} else if ((d->sans = reallocarray(d->sans, d->nsans + 1,
	    sizeof(*d->sans))) == NULL)
		abort();
	memset(&d->sans[d->nsans], 0, sizeof(*d->sans));
	d->sans[d->nsans].type = type;
	d->sans[d->nsans++].value = xstrdup(value);
}

/* Is the DNS name (or e-mail domain) name within one of p's domains? */
static int
in_domains(const struct cm_profile *p, const char *name)
{
	size_t	 i, n, m;

	if (p->ndomains == 0)
		return 1;
	if (strncmp(name, "*.", 2) == 0)
		name += 2;
	n = strlen(name);
	for (i = 0; i < p->ndomains; i++) {
		m = strlen(p->domains[i]);
		if (n == m && strcasecmp(name, p->domains[i]) == 0)
			return 1;
		if (n > m && name[n - m - 1] == '.' &&
		    strcasecmp(name + n - m, p->domains[i]) == 0)
			return 1;
	}
	return 0;
}

/* The SANs as the profile allows them: types, count, domains. */
static int
check_sans(const struct cm_profile *p, const struct csr *csr,
    struct policy_decision *d)
{
	const char	*dom;
	size_t		 i;

	if (csr->nsans > 0 && !(p->honour & HONOUR_SAN))
		return policy_deny(d, "profile %s does not take a "
		    "subjectAltName from the request", p->name);
	if (csr->nsans > (size_t)p->max_sans)
		return policy_deny(d, "profile %s allows at most %d "
		    "subjectAltNames; the request has %zu", p->name,
		    p->max_sans, csr->nsans);
	for (i = 0; i < csr->nsans; i++) {
		if (!(p->san_types & (1u << csr->sans[i].type)))
			return policy_deny(d, "profile %s does not allow the "
			    "subjectAltName %s (%.80s)", p->name,
			    san_type_name(csr->sans[i].type),
			    csr->sans[i].value);
		dom = NULL;
		if (csr->sans[i].type == SAN_DNS)
			dom = csr->sans[i].value;
		else if ((csr->sans[i].type == SAN_EMAIL ||
		    csr->sans[i].type == SAN_UPN) &&
		    (dom = strrchr(csr->sans[i].value, '@')) != NULL)
			dom++;
		if (dom != NULL && !in_domains(p, dom))
			return policy_deny(d, "profile %s does not issue for "
			    "\"%.80s\": not within its domains", p->name,
			    csr->sans[i].value);
	}
	return 0;
}

/*
 * The CNs under the profile's rules: each matches cn_pattern; with cn =
 * san each is a host name among the SANs, or is added to them when it is
 * a host name (the CA/Browser Forum's rule), else refused; with cn = drop
 * they leave the subject.
 */
static int
check_cns(const struct cm_profile *p, const struct csr *csr,
    struct policy_decision *d)
{
	unsigned char	 ip[16];
	char		*cns = NULL, *cn, *next;
	size_t		 i;
	int		 found, isip;

	if (name_get(csr->subject, csr->subject_len, OID_CN, &cns) != 0)
		return 0;
	for (cn = cns; cn != NULL; cn = next) {
		if ((next = strchr(cn, '\n')) != NULL)
			*next++ = '\0';
		if (p->cn_pattern != NULL &&
		    fnmatch(p->cn_pattern, cn, FNM_CASEFOLD) != 0) {
			policy_deny(d, "the CN \"%.64s\" does not match profile "
			    "%s's cn_pattern \"%.64s\"", cn, p->name,
			    p->cn_pattern);
			break;
		}
		if (p->cn != CN_SAN)
			continue;
		for (i = 0, found = 0; i < csr->nsans && !found; i++)
			found = strcasecmp(csr->sans[i].value, cn) == 0;
		if (found)
			continue;
		isip = inet_pton(AF_INET, cn, ip) == 1 ||
		    inet_pton(AF_INET6, cn, ip) == 1;
		if (!isip && dns_name_check((const unsigned char *)cn,
		    strlen(cn), 1) != NULL) {
			policy_deny(d, "the CN \"%.64s\" of a %s certificate "
			    "must be a host name among its subjectAltNames",
			    cn, p->name);
			break;
		}
		if (!isip && !in_domains(p, cn)) {
			policy_deny(d, "profile %s does not issue for "
			    "\"%.64s\": not within its domains", p->name, cn);
			break;
		}
		if (d->nsans >= (size_t)p->max_sans && d->sans != NULL) {
			policy_deny(d, "profile %s allows at most %d "
			    "subjectAltNames", p->name, p->max_sans);
			break;
		}
		san_add(csr, d, isip ? SAN_IP : SAN_DNS, cn);
	}
	free(cns);
	if (d->vr == CM_VR_INSTANT_BAD || p->cn != CN_DROP)
		return 0;
	if (name_drop(csr->subject, csr->subject_len, OID_CN, &d->subject,
	    &d->subject_len) == -1)
		return -1;
	profile_note(d, "CN dropped from the subject");
	return 0;
}

/*
 * keyUsage and extendedKeyUsage the request asks for, when honoured; and
 * at least one key usage left for the key's type (RFC 5280 4.2.1.3).
 */
static int
check_usages(const struct cm_profile *p, const struct csr *csr,
    struct policy_decision *d)
{
	char	**eku = NULL;
	size_t	  n = 0, i, j;
	uint32_t  ku, mine;
	int	  rc, rsa, ec;

	rsa = csr->key_type == KEY_RSA_2048 || csr->key_type == KEY_RSA_3072 ||
	    csr->key_type == KEY_RSA_4096;
	ec = csr->key_type == KEY_EC_P256 || csr->key_type == KEY_EC_P384;
	mine = ku_for_key(p->key_usage, rsa, ec);
	if (mine == 0)
		return policy_deny(d, "profile %s gives no key usage to a %s "
		    "key", p->name, key_type_name(csr->key_type));
	if (p->honour & HONOUR_KU) {
		if ((rc = csr_key_usage(csr, &ku)) == -1)
			return policy_deny(d, "the requested keyUsage is "
			    "malformed");
		if (rc == 1 && (ku & ~p->key_usage) != 0)
			return policy_deny(d, "the requested keyUsage asks "
			    "for more than profile %s gives", p->name);
		if (rc == 1 && (ku & mine) == 0)
			return policy_deny(d, "the requested keyUsage leaves "
			    "none a %s key can have", key_type_name(
			    csr->key_type));
		if (rc == 1)
			d->key_usage = ku;
	}
	if (!(p->honour & HONOUR_EKU))
		return 0;
	if ((rc = csr_eku(csr, &eku, &n)) == -1)
		return policy_deny(d, "the requested extendedKeyUsage is "
		    "malformed");
	for (i = 0; i < n && d->vr != CM_VR_INSTANT_BAD; i++) {
		for (j = 0; j < p->neku; j++)
			if (strcmp(eku[i], p->eku[j]) == 0)
				break;
		if (j == p->neku)
			policy_deny(d, "profile %s does not give the "
			    "extendedKeyUsage %s", p->name, eku_name(eku[i]));
	}
	if (d->vr == CM_VR_INSTANT_BAD || n == 0) {
		for (i = 0; i < n; i++)
			free(eku[i]);
		free(eku);
		return 0;
	}
	d->eku = eku;
	d->neku = n;
	return 0;
}

/*
 * Within what this CA's own certificate allows (RFC 5280 4.2.1.9 and
 * 4.2.1.12, which verifiers check along the path): no CA certificate
 * below a pathLenConstraint of 0, and no extendedKeyUsage the CA's
 * certificate does not name. And a CA certificate signs certificates:
 * keyCertSign, without which its pathLenConstraint is forbidden.
 */
static int
check_issuer(const struct cm_profile *p, const struct signer *sg,
    struct policy_decision *d)
{
	char *const	*eku = d->neku > 0 ? d->eku : p->eku;
	size_t		 neku = d->neku > 0 ? d->neku : p->neku, i, j;
	uint32_t	 ku = d->key_usage != 0 ? d->key_usage : p->key_usage;

	if (p->ca && !(ku & KU_KEY_CERT_SIGN))
		return policy_deny(d, "a CA certificate (profile %s) needs the "
		    "keyUsage keyCertSign", p->name);
	if (p->ca && sg->path_len == 0)
		return policy_deny(d, "this CA's certificate allows no CA "
		    "below it (pathLenConstraint 0): profile %s issues CA "
		    "certificates", p->name);
	if (sg->eku == NULL)
		return 0;
	for (i = 0; i < neku; i++) {
		for (j = 0; j < sg->neku; j++)
			if (strcmp(eku[i], sg->eku[j]) == 0)
				break;
		if (j == sg->neku)
			return policy_deny(d, "this CA's certificate does not "
			    "allow the extendedKeyUsage %s", eku_name(eku[i]));
	}
	return 0;
}

/* Validity within the profile's maximum and the CA certificate's life. */
static int
check_validity(const struct cm_profile *p, const struct signer *sg,
    struct policy_decision *d)
{
	char	 note[128], ts[32];
	int64_t	 max = (int64_t)p->max_validity_days * 86400;

	/*
	 * A clock more than a day behind the CA certificate's start: what it
	 * signs would start long before its issuer, and may have ended in
	 * truth already (a clock a year behind). A step of minutes or hours
	 * is left to the serials' own guard (docs/design.md).
	 */
	if (sg->not_before != 0 && time_now() < sg->not_before - 86400) {
		time_format(sg->not_before, ts);
		return policy_deny(d, "the clock is more than a day before the "
		    "CA certificate's notBefore (%s): is it right?", ts);
	}

	if (d->not_after - d->not_before > max) {
		d->not_after = d->not_before + max;
		snprintf(note, sizeof(note), "validity capped to %d days "
		    "(profile %s)", p->max_validity_days, p->name);
		profile_note(d, note);
	}
	if (sg->not_after == 0 || d->not_after <= sg->not_after)
		return 0;
	time_format(sg->not_after, ts);
	if (p->expiry == EXPIRY_REFUSE)
		return policy_deny(d, "the certificate would outlive the CA "
		    "certificate (notAfter %s), and profile %s refuses to cut "
		    "it", ts, p->name);
	d->not_after = sg->not_after;
	snprintf(note, sizeof(note), "validity capped to the CA "
	    "certificate's notAfter (%s)", ts);
	profile_note(d, note);
	return 0;
}

/*
 * The rules of d->profile that no policy module waives, applied to its
 * decision to issue or pend: key type, requested extensions, SANs, CNs,
 * subject, usages, validity (docs/profiles.md). d may become a refusal or
 * get its SANs, subject, usages or validity changed, with a note in its
 * message. Returns 0, or -1 on an internal error.
 */
int
profile_enforce(const struct signer *sg, const struct csr *csr,
    struct policy_decision *d)
{
	const struct cm_profile *p = d->profile;

	if (d->vr == CM_VR_INSTANT_BAD)
		return 0;
	if (p == NULL)
		return policy_deny(d, "no certificate profile");
	if (csr->key_type == KEY__MAX ||
	    !(p->key_types & (1u << csr->key_type))) {
		d->status = STATUS_BAD_ALGID;
		return policy_deny(d, "profile %s does not allow key type %s",
		    p->name, csr->key_type == KEY__MAX ? csr->key_desc :
		    key_type_name(csr->key_type));
	}
	if (csr->nexts > (size_t)p->max_extensions)
		return policy_deny(d, "profile %s allows at most %d requested "
		    "extensions; the request has %zu", p->name,
		    p->max_extensions, csr->nexts);
	if (check_sans(p, csr, d) != 0 || d->vr == CM_VR_INSTANT_BAD)
		return 0;
	if (check_cns(p, csr, d) != 0)
		return -1;
	if (d->vr == CM_VR_INSTANT_BAD)
		return 0;
	if (p->subject_required && (d->subject != NULL ? d->subject_len :
	    csr->subject_len) <= 2)
		return policy_deny(d, "profile %s needs a subject name",
		    p->name);
	if (p->san_required && (d->sans != NULL ? d->nsans : csr->nsans) == 0)
		return policy_deny(d, "profile %s needs a subjectAltName (%s)",
		    p->name, p->host_names ? "a DNS name or an IP address, "
		    "or a CN that is one" : "of a type it allows");
	if ((d->subject != NULL ? d->subject_len : csr->subject_len) <= 2 &&
	    (d->sans != NULL ? d->nsans : csr->nsans) == 0)
		return policy_deny(d, "the certificate would name no one: no "
		    "subject and no subjectAltName");
	if (check_usages(p, csr, d) != 0 || d->vr == CM_VR_INSTANT_BAD)
		return 0;
	if (check_issuer(p, sg, d) != 0 || d->vr == CM_VR_INSTANT_BAD)
		return 0;
	return check_validity(p, sg, d);
}
