/*
 * profile.c - the rules of a certificate's profile that no policy module
 * waives, applied after the policy decided to issue or pend (docs/user-
 * guide.md, What the CA refuses).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ca.h"

/* CA/Browser Forum Baseline Requirements 6.3.2 (from 2020-09-01). */
#define TLS_SERVER_MAX_DAYS	398

/* Append to d->message what the CA changed, after "Issued". */
static void
profile_note(struct policy_decision *d, const char *note)
{
	size_t	 n = strlen(d->message);

	snprintf(d->message + n, sizeof(d->message) - n, "%s%s",
	    n ? "; " : "Issued; ", note);
}

/*
 * A TLS server certificate names the hosts it serves in its SANs (DNS
 * names and IP addresses only), and each CN must be one of them: a CN
 * that is a host name and not among the SANs is added to them (the
 * CA/Browser Forum's rule), anything else is refused.
 */
static int
tls_server_names(const struct csr *csr, struct policy_decision *d)
{
	unsigned char	 ip[16];
	char		*cns = NULL, *cn, *next;
	size_t		 i, hosts = 0;
	int		 found, isip;

	for (i = 0; i < csr->nsans; i++) {
		if (csr->sans[i].type != SAN_DNS && csr->sans[i].type != SAN_IP)
			return policy_deny(d, "a tls-server certificate names "
			    "hosts: its subjectAltName %s (%s) is not allowed",
			    san_type_name(csr->sans[i].type),
			    csr->sans[i].value);
		hosts++;
	}
	if (name_get(csr->subject, csr->subject_len, "2.5.4.3", &cns) != 0)
		cns = NULL;
	for (cn = cns; cn != NULL; cn = next) {
		if ((next = strchr(cn, '\n')) != NULL)
			*next++ = '\0';
		for (i = 0, found = 0; i < csr->nsans && !found; i++)
			found = strcasecmp(csr->sans[i].value, cn) == 0;
		if (found)
			continue;
		isip = inet_pton(AF_INET, cn, ip) == 1 ||
		    inet_pton(AF_INET6, cn, ip) == 1;
		if (!isip && dns_name_check((const unsigned char *)cn,
		    strlen(cn), 1) != NULL) {
			policy_deny(d, "the CN \"%.64s\" of a tls-server "
			    "certificate must be a host name among its "
			    "subjectAltNames", cn);
			free(cns);
			return 0;
		}
		if (d->sans == NULL) {
			d->sans = xcalloc(csr->nsans + 1, sizeof(*d->sans));
			for (i = 0; i < csr->nsans; i++) {
				d->sans[i].type = csr->sans[i].type;
				d->sans[i].value = xstrdup(csr->sans[i].value);
			}
			d->nsans = csr->nsans;
		} else if ((d->sans = realloc(d->sans, (d->nsans + 1) *
		    sizeof(*d->sans))) == NULL)
			abort();
		d->sans[d->nsans].type = isip ? SAN_IP : SAN_DNS;
		d->sans[d->nsans++].value = xstrdup(cn);
		hosts++;
	}
	free(cns);
	if (hosts == 0)
		return policy_deny(d, "a tls-server certificate needs a DNS "
		    "name or an IP address (subjectAltName or CN)");
	return 0;
}

/*
 * The rules of the certificate's profile that no policy module waives,
 * applied to its decision to issue or pend (docs/user-guide.md, What the
 * CA refuses): a tls-server certificate names its hosts and lives at most
 * TLS_SERVER_MAX_DAYS; no certificate outlives the CA certificate. What is
 * cut is said in the DispositionMessage.
 */
int
profile_enforce(const struct signer *sg, const struct csr *csr,
    struct policy_decision *d)
{
	char	 note[96], ts[32];

	if (d->vr == CM_VR_INSTANT_BAD)
		return 0;
	if (d->profile == PROFILE_TLS_SERVER) {
		if (tls_server_names(csr, d) != 0 ||
		    d->vr == CM_VR_INSTANT_BAD)
			return 0;
		if (d->not_after - d->not_before >
		    TLS_SERVER_MAX_DAYS * 86400) {
			d->not_after = d->not_before +
			    TLS_SERVER_MAX_DAYS * 86400;
			snprintf(note, sizeof(note), "validity capped to %d "
			    "days (tls-server)", TLS_SERVER_MAX_DAYS);
			if (d->vr == CM_VR_INSTANT_OK)
				profile_note(d, note);
		}
	}
	if (sg->not_after != 0 && d->not_after > sg->not_after) {
		d->not_after = sg->not_after;
		time_format(d->not_after, ts);
		snprintf(note, sizeof(note), "validity capped to the CA "
		    "certificate's notAfter (%s)", ts);
		if (d->vr == CM_VR_INSTANT_OK)
			profile_note(d, note);
	}
	return 0;
}
