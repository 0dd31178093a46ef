/*
 * ari.c - ACME Renewal Information (RFC 9773): GET
 * <directory>/renewal-info/<b64url(AKI keyIdentifier)>.<b64url(serial)>
 * answers when to renew a certificate: in the last third of its lifetime
 * (from two thirds to five sixths), and at once (a window already past)
 * when it has been revoked. No account, no JWS: the certificate id is
 * public.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acme_int.h"

#define ARI_RETRY_AFTER	21600	/* s: RFC 9773's default poll */

/* Does aki name the key of the CA certificate that signed cert? */
static int
aki_matches(struct acme *a, const struct db_cert *cert,
    const unsigned char *aki, size_t len)
{
	const struct signer *sg;
	int		 ok = 1;

	ca_config_lock(a->ca);
	sg = ca_signer(a->ca);
	/* The newest CA certificate's SKI; an older one's is not kept here. */
	if (cert->ca_idx == sg->cert_idx)
		ok = sg->ski_len == len && memcmp(sg->ski, aki, len) == 0;
	ca_config_unlock(a->ca);
	return ok;
}

int
acme_renewal_info(struct acme *a, const char *certid, struct acme_resp *r,
    struct acme_problem *p)
{
	const char	*dot = strchr(certid, '.');
	unsigned char	*aki = NULL, *serial = NULL;
	size_t		 akilen, seriallen;
	char		*hex = NULL;
	struct db_cert	 cert;
	struct db_request req;
	struct store	*st;
	json_t		*o, *w;
	int64_t		 life, start, end, now = time_now();
	int		 rc = -1, have_cert = 0, revoked = 0;

	if (dot == NULL || b64url_decode(certid, (size_t)(dot - certid), &aki,
	    &akilen) == -1 || akilen == 0 ||
	    b64url_decode(dot + 1, strlen(dot + 1), &serial, &seriallen) ==
	    -1 || seriallen == 0 || seriallen > 21) {
		acme_problem(p, 400, "malformed", "a certificate id is "
		    "base64url(keyIdentifier).base64url(serial)");
		goto out;
	}
	if ((hex = hex_encode(serial, seriallen)) == NULL ||
	    (st = acme_reader(a)) == NULL) {
		acme_problem(p, 500, "serverInternal", "internal error");
		goto out;
	}
	if (store_cert_by_serial(st, hex, &cert) != 0) {
		acme_problem(p, 404, "malformed", "no certificate with serial "
		    "%s", hex);
		goto out;
	}
	have_cert = 1;
	if (!aki_matches(a, &cert, aki, akilen)) {
		acme_problem(p, 404, "malformed", "certificate %s was not "
		    "issued under that key identifier", hex);
		goto out;
	}
	memset(&req, 0, sizeof(req));
	if (store_request_get(st, cert.request_id, &req) == 0) {
		revoked = req.disposition == CM_DISP_REVOKED;
		db_request_free(&req);
	}
	life = cert.not_after - cert.not_before;
	if (revoked) {
		start = now - 86400;
		end = now - 3600;
	} else {
		start = cert.not_before + life / 3 * 2;
		end = cert.not_before + life / 6 * 5;
	}
	o = json_object();
	w = json_object();
	json_object_set_new(w, "start", acme_time(start));
	json_object_set_new(w, "end", acme_time(end));
	json_object_set_new(o, "suggestedWindow", w);
	acme_resp_json(r, 200, o);
	r->retry_after = ARI_RETRY_AFTER;
	rc = 0;
out:
	if (have_cert)
		db_cert_free(&cert);
	free(hex);
	free(aki);
	free(serial);
	return rc;
}
