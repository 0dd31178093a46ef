/*
 * json.c - the request and CRL objects of the REST API, the admin socket
 * and `certmint view --json` (docs/admin-protocol.md).
 */
#include <stdlib.h>
#include <string.h>

#include "../crypto/crypto.h"
#include "json.h"

const char *
disposition_name(int32_t d)
{
	switch (d) {
	case CM_DISP_ACTIVE:
		return "active";
	case CM_DISP_PENDING:
		return "pending";
	case CM_DISP_FOREIGN:
		return "foreign";
	case CM_DISP_CA_CERT:
		return "ca-cert";
	case CM_DISP_ISSUED:
		return "issued";
	case CM_DISP_REVOKED:
		return "revoked";
	case CM_DISP_ERROR:
		return "failed";
	case CM_DISP_DENIED:
		return "denied";
	default:
		return "unknown";
	}
}

static void
set_time(json_t *o, const char *key, int64_t t)
{
	char	 buf[32];

	if (t == 0)
		return;
	time_format(t, buf);
	json_object_set_new(o, key, json_string(buf));
}

static void
set_str(json_t *o, const char *key, const char *s)
{
	if (s != NULL)
		json_object_set_new(o, key, json_string(s));
}

json_t *
request_to_json(const struct db_request *r, const struct db_cert *c,
    int with_pem, const char *chain_pem)
{
	json_t	*o;
	char	*pem;

	if ((o = json_object()) == NULL)
		return NULL;
	json_object_set_new(o, "request_id", json_integer(r->id));
	json_object_set_new(o, "disposition",
	    json_string(disposition_name(r->disposition)));
	json_object_set_new(o, "disposition_code", json_integer(r->disposition));
	json_object_set_new(o, "status_code", json_integer(r->status_code));
	set_str(o, "message", r->disposition_message);
	set_str(o, "requester", r->requester_name);
	set_str(o, "caller", r->caller_name);
	set_str(o, "subject", r->request_dn);
	set_str(o, "profile", r->profile);
	set_time(o, "submitted", r->submitted_when);
	set_time(o, "resolved", r->resolved_when);
	if (c != NULL) {
		set_str(o, "serial", c->serial);
		set_time(o, "not_before", c->not_before);
		set_time(o, "not_after", c->not_after);
		set_str(o, "certificate_subject", c->subject_dn);
		set_str(o, "certificate_hash", c->hash);
	}
	if (r->disposition == CM_DISP_REVOKED) {
		set_time(o, "revoked", r->revoked_when);
		if (r->revoked_effective_when != 0 &&
		    r->revoked_effective_when != r->revoked_when)
			set_time(o, "revoked_effective", r->revoked_effective_when);
		json_object_set_new(o, "revoked_reason",
		    json_integer(r->revoked_reason));
		json_object_set_new(o, "revoked_reason_name",
		    json_string(crl_reason_name(r->revoked_reason)));
	}
	if (with_pem && c != NULL && c->raw != NULL) {
		if ((pem = pem_encode("CERTIFICATE", c->raw, c->raw_len)) != NULL)
			json_object_set_new(o, "certificate", json_string(pem));
		free(pem);
		set_str(o, "chain", chain_pem);
	}
	return o;
}

json_t *
crl_to_json(const struct db_crl *c)
{
	json_t	*o;

	if ((o = json_object()) == NULL)
		return NULL;
	json_object_set_new(o, "number", json_integer(c->number));
	json_object_set_new(o, "delta", json_boolean(c->base_number >= 0));
	if (c->base_number >= 0)
		json_object_set_new(o, "base_number", json_integer(c->base_number));
	set_time(o, "this_update", c->this_update);
	set_time(o, "next_update", c->next_update);
	json_object_set_new(o, "count", json_integer(c->count));
	json_object_set_new(o, "row_id", json_integer(c->row_id));
	return o;
}
