/*
 * revoke.c - revokeCert (RFC 8555 7.6): by the account that ordered the
 * certificate or one that holds valid authorizations for all its names
 * (kid), or by the certificate's own key (jwk), through ca_revoke as the
 * REST API does.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "acme_int.h"

/*
 * Does the account hold a valid, unexpired authorization for every name
 * of the certificate (its subjectAltNames; a CN must be one of them)?
 * 1; 0 with why naming the first it does not; -1 (database).
 */
static int
names_held(struct store *st, const struct cert_info *info, int64_t account,
    char *why, size_t whylen)
{
	struct san	*sans = NULL;
	size_t		 n = 0, i, k;
	char		*cn = NULL, err[128], value[256];
	const char	*v;
	int		 rc = 1, r, wild;

	for (i = 0; i < info->nexts; i++)
		if (strcmp(info->exts[i].oid, "2.5.29.17") == 0)
			break;
	if (i == info->nexts || san_list_parse(info->exts[i].value,
	    info->exts[i].len, &sans, &n, err, sizeof(err)) == -1 || n == 0) {
		snprintf(why, whylen, "it has no subjectAltName to hold");
		san_list_free(sans, n);
		return 0;
	}
	if (name_get(info->subject, info->subject_len, "2.5.4.3", &cn) == 0) {
		for (k = 0; k < n; k++)
			if (strcasecmp(sans[k].value, cn) == 0)
				break;
		if (k == n) {
			snprintf(why, whylen, "its CN %.64s is not among its "
			    "subjectAltNames", cn);
			rc = 0;
		}
	}
	for (i = 0; rc == 1 && i < n; i++) {
		if (sans[i].type != SAN_DNS && sans[i].type != SAN_IP) {
			snprintf(why, whylen, "it names a %s, which ACME does "
			    "not authorize", san_type_name(sans[i].type));
			rc = 0;
			break;
		}
		/* As an authorization holds it: lower case, no "*.". */
		wild = sans[i].type == SAN_DNS &&
		    strncmp(sans[i].value, "*.", 2) == 0;
		v = sans[i].value + (wild ? 2 : 0);
		for (k = 0; v[k] != '\0' && k < sizeof(value) - 1; k++)
			value[k] = (char)tolower((unsigned char)v[k]);
		value[k] = '\0';
		r = store_acme_authz_held(st, account, sans[i].type == SAN_IP ?
		    "ip" : "dns", value, wild, time_now());
		if (r == CM_E_FAIL)
			rc = -1;
		else if (r != 0) {
			snprintf(why, whylen, "no valid authorization for %.200s",
			    sans[i].value);
			rc = 0;
		}
	}
	free(cn);
	san_list_free(sans, n);
	return rc;
}

int
acme_revoke(struct acme *a, const struct acme_endpoint *ep,
    const struct acme_req *req, const char *url, struct acme_resp *r,
    struct acme_problem *p)
{
	struct acme_jws	 j;
	struct acme_order_row o;
	struct db_cert	 cert;
	struct cert_info info;
	struct ca_result res;
	struct store	*st;
	unsigned char	*der = NULL, *spki = NULL;
	size_t		 len, spkilen;
	const char	*s;
	json_t		*reason;
	char		 who[720], err[128], why[300];
	int		 rc = -1, have_cert = 0, have_info = 0, code = 0, held;

	memset(&o, 0, sizeof(o));
	memset(&info, 0, sizeof(info));
	if (acme_jws_read(a, ep, req, url, -1, &j, p) == -1)
		return -1;
	s = j.payload != NULL ? json_string_value(json_object_get(j.payload,
	    "certificate")) : NULL;
	if (s == NULL || b64url_decode(s, strlen(s), &der, &len) == -1) {
		acme_problem(p, 400, "malformed", "revokeCert needs "
		    "{\"certificate\": base64url DER}");
		goto out;
	}
	reason = json_object_get(j.payload, "reason");
	if (reason != NULL) {
		if (!json_is_integer(reason) ||
		    json_integer_value(reason) < 0 ||
		    json_integer_value(reason) > 10 ||
		    json_integer_value(reason) == 7 ||
		    json_integer_value(reason) == 8) {
			acme_problem(p, 400, "badRevocationReason", "reason "
			    "must be an RFC 5280 code (0-10 but 7 and 8)");
			goto out;
		}
		code = (int)json_integer_value(reason);
	}
	if (cert_info_parse(der, len, &info, err, sizeof(err)) == -1) {
		acme_problem(p, 400, "malformed", "certificate: %s", err);
		goto out;
	}
	have_info = 1;
	if ((st = acme_reader(a)) == NULL) {
		acme_db_error(p);
		goto out;
	}
	if (store_cert_by_serial(st, info.serial, &cert) != 0) {
		acme_problem(p, 404, "malformed", "this CA did not issue that "
		    "certificate");
		goto out;
	}
	have_cert = 1;
	if (cert.raw_len != len || memcmp(cert.raw, der, len) != 0) {
		acme_problem(p, 404, "malformed", "this CA did not issue that "
		    "certificate");
		goto out;
	}
	if (j.has_jwk) {
		/* Signed by the certificate's own key (RFC 8555 7.6). */
		if (jwk_spki(&j.jwk, &spki, &spkilen) == -1 ||
		    spki_cert_same_key(spki, spkilen, cert.raw, cert.raw_len) !=
		    1) {
			acme_problem(p, 403, "unauthorized", "the JWS key is "
			    "not the certificate's");
			goto out;
		}
		snprintf(who, sizeof(who), "acme (certificate key)");
	} else {
		/*
		 * The account that ordered it, or one that holds
		 * authorizations for all its names (which anyone who can
		 * validate them can get: how a lost account key is got
		 * round).
		 */
		if ((store_acme_order_by_serial(st, info.serial, &o) != 0 ||
		    o.account_id != j.account.id) && (held = names_held(st,
		    &info, j.account.id, why, sizeof(why))) != 1) {
			if (held == -1)
				acme_db_error(p);
			else
				acme_problem(p, 403, "unauthorized", "this "
				    "account did not order that certificate, "
				    "and holds no authorization for all its "
				    "names (%s)", why);
			goto out;
		}
		acme_url(a, ep, "acct", j.account.id, who, sizeof(who));
	}
	if (ca_revoke(a->ca, info.serial, code, 0, who, &res) == -1) {
		if (res.status == CA_E_CONFLICT)
			acme_problem(p, 400, "alreadyRevoked", "%s", res.error);
		else if (res.status == CA_E_BADREQ)
			acme_problem(p, 400, "badRevocationReason", "%s",
			    res.error);
		else
			acme_problem(p, 500, "serverInternal", "%s", res.error);
		ca_result_free(&res);
		goto out;
	}
	ca_result_free(&res);
	log_info("acme: certificate %s revoked by %s", info.serial, who);
	r->status = 200;
	rc = 0;
out:
	if (have_cert)
		db_cert_free(&cert);
	if (have_info)
		cert_info_free(&info);
	free(spki);
	free(der);
	acme_order_row_free(&o);
	acme_jws_free(&j);
	return rc;
}
