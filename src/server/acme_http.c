/*
 * acme_http.c - the ACME server (src/acme) on libmicrohttpd: http.c hands
 * over every request under /acme/ with its whole body; this turns it into
 * an acme_req and the acme_resp into MHD's response and headers, and
 * suspends the connection of an answer that waits (a challenge's, for its
 * validation) until src/acme says it is due. The protocol is src/acme's,
 * testable without MHD.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <microhttpd.h>

#include "../acme/acme.h"
#include "acme_http.h"
#include "server.h"

int
acme_http_start(struct server *srv, char *err, size_t errlen)
{
	return acme_start(srv->ca, &srv->acme, err, errlen);
}

void
acme_http_stop(struct server *srv)
{
	acme_stop(srv->acme);
	srv->acme = NULL;
}

void
acme_http_reload(struct server *srv, json_t *warnings)
{
	char	 err[512], kept[300], *v;

	if (srv->acme == NULL) {
		v = ca_config_value(srv->ca, "acme", "enabled");
		if (v != NULL && (strcasecmp(v, "yes") == 0 ||
		    strcasecmp(v, "true") == 0 || strcmp(v, "1") == 0))
			reload_unapplied(warnings, "acme: [acme] enabled = %s "
			    "takes a restart: ACME stays off until then", v);
		free(v);
		return;
	}
	if (acme_reload(srv->acme, err, sizeof(err), kept, sizeof(kept)) == -1)
		reload_unapplied(warnings, "acme: not reloaded, the running "
		    "settings serve on: %s", err);
	else if (kept[0] != '\0')
		reload_unapplied(warnings, "%s changed: only a restart applies "
		    "that; the running values serve on (the rest of [acme] is "
		    "reloaded)", kept);
}

/* Queue resp as MHD's response on c (resp is freed). */
static enum MHD_Result
send_resp(struct MHD_Connection *c, struct acme_resp *resp)
{
	struct MHD_Response *r;
	enum MHD_Result	 rc;
	char		 ra[16];
	int		 i;

	r = resp->body != NULL ? MHD_create_response_from_buffer(resp->len,
	    resp->body, MHD_RESPMEM_MUST_FREE) :
	    MHD_create_response_from_buffer(0, (void *)"",
	    MHD_RESPMEM_PERSISTENT);
	if (r == NULL) {
		acme_resp_free(resp);
		return MHD_NO;
	}
	resp->body = NULL;	/* MHD's now */
	if (resp->type != NULL)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
		    resp->type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (resp->nonce[0] != '\0')
		MHD_add_response_header(r, "Replay-Nonce", resp->nonce);
	if (resp->location[0] != '\0')
		MHD_add_response_header(r, MHD_HTTP_HEADER_LOCATION,
		    resp->location);
	/* One Link header per relation (acme.sh reads them by line). */
	for (i = 0; i < resp->nlinks; i++)
		MHD_add_response_header(r, MHD_HTTP_HEADER_LINK,
		    resp->links[i]);
	if (resp->retry_after > 0) {
		snprintf(ra, sizeof(ra), "%d", resp->retry_after);
		MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, ra);
	}
	rc = MHD_queue_response(c, resp->status, r);
	MHD_destroy_response(r);
	acme_resp_free(resp);
	return rc;
}

/* A waiting answer is due (any thread): MHD calls the handler again. */
static void
wait_due(void *arg)
{
	MHD_resume_connection(arg);
}

enum MHD_Result
acme_http_answer(struct server *srv, struct MHD_Connection *c,
    const char *url, const char *method, const void *body, size_t len,
    int too_large, struct acme_wait **waitp)
{
	static const char off[] = "{\"type\":\"urn:ietf:params:acme:error:"
	    "malformed\",\"detail\":\"ACME is not enabled on this CA ([acme] "
	    "enabled)\",\"status\":404}";
	struct acme_req	 req;
	struct acme_resp resp;
	struct MHD_Response *r;
	enum MHD_Result	 rc;

	if (srv->acme == NULL) {
		if ((r = MHD_create_response_from_buffer(sizeof(off) - 1,
		    (void *)off, MHD_RESPMEM_PERSISTENT)) == NULL)
			return MHD_NO;
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
		    "application/problem+json");
		rc = MHD_queue_response(c, MHD_HTTP_NOT_FOUND, r);
		MHD_destroy_response(r);
		return rc;
	}
	memset(&req, 0, sizeof(req));
	req.method = method;
	req.path = url;
	req.content_type = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_TYPE);
	req.body = body;
	req.len = len;
	req.too_large = too_large;
	req.can_wait = 1;
	acme_handle(srv->acme, &req, &resp);
	if (resp.wait != NULL) {
		/*
		 * Suspended first: the answer may be due at once. http_stop
		 * waits for it (srv->submitting) after acme_wait_flush.
		 */
		*waitp = resp.wait;
		atomic_fetch_add(&srv->submitting, 1);
		MHD_suspend_connection(c);
		acme_wait_arm(srv->acme, resp.wait, wait_due, c);
		return MHD_YES;
	}
	return send_resp(c, &resp);
}

enum MHD_Result
acme_http_resumed(struct server *srv, struct MHD_Connection *c,
    struct acme_wait **waitp)
{
	struct acme_resp resp;

	acme_wait_answer(srv->acme, *waitp, &resp);
	*waitp = NULL;
	atomic_fetch_sub(&srv->submitting, 1);
	return send_resp(c, &resp);
}

void
acme_http_dropped(struct server *srv, struct acme_wait **waitp)
{
	if (*waitp == NULL)
		return;
	acme_wait_drop(srv->acme, *waitp);
	*waitp = NULL;
	atomic_fetch_sub(&srv->submitting, 1);
}
