/*
 * json.c - the request and CRL objects of the REST API, the admin socket
 * and `certmint view --json` (docs/admin-protocol.md).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

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

/* A JSON text being written: the buffer, first member or not, failure. */
struct jw {
	struct buf	*b;
	int		 first;
	int		 err;
};

static void
jw_append(struct jw *w, const void *p, size_t n)
{
	if (buf_append(w->b, p, n) == -1)
		w->err = 1;
}

/*
 * Append s as a JSON string: quotes, backslashes and control characters
 * escaped, invalid UTF-8 replaced by U+FFFD (so that what is written always
 * parses).
 */
static void
put_string(struct jw *w, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s, *run;
	size_t		 n, i;
	char		 esc[6] = { '\\', 'u', '0', '0', 0, 0 };

	jw_append(w, "\"", 1);
	while (*p != '\0') {
		/* Copy the longest run that needs nothing. */
		for (run = p; *p >= 0x20 && *p < 0x80 && *p != '"' &&
		    *p != '\\'; p++)
			;
		if (p > run)
			jw_append(w, run, (size_t)(p - run));
		if (*p == '\0')
			break;
		if (*p == '"' || *p == '\\') {
			jw_append(w, "\\", 1);
			jw_append(w, p++, 1);
		} else if (*p < 0x20) {
			if (*p == '\n')
				jw_append(w, "\\n", 2);
			else if (*p == '\r')
				jw_append(w, "\\r", 2);
			else if (*p == '\t')
				jw_append(w, "\\t", 2);
			else {
				esc[4] = hex[*p >> 4];
				esc[5] = hex[*p & 0xf];
				jw_append(w, esc, 6);
			}
			p++;
		} else {
			/* A UTF-8 sequence: its length from the lead byte. */
			n = *p >= 0xf0 && *p <= 0xf4 ? 4 : *p >= 0xe0 &&
			    *p <= 0xef ? 3 : *p >= 0xc2 && *p <= 0xdf ? 2 : 0;
			for (i = 1; n > 0 && i < n; i++)
				if ((p[i] & 0xc0) != 0x80)
					n = 0;
			if (n == 3 && ((p[0] == 0xe0 && p[1] < 0xa0) ||
			    (p[0] == 0xed && p[1] >= 0xa0)))
				n = 0;	/* overlong, or a surrogate */
			if (n == 4 && ((p[0] == 0xf0 && p[1] < 0x90) ||
			    (p[0] == 0xf4 && p[1] >= 0x90)))
				n = 0;	/* overlong, or above U+10FFFF */
			if (n == 0) {
				jw_append(w, "\xef\xbf\xbd", 3);
				p++;
			} else {
				jw_append(w, p, n);
				p += n;
			}
		}
	}
	jw_append(w, "\"", 1);
}

/* Start a member: {"key": for the first, ,"key": after. */
static void
put_key(struct jw *w, const char *key)
{
	jw_append(w, w->first ? "{" : ",", 1);
	w->first = 0;
	put_string(w, key);
	jw_append(w, ":", 1);
}

static void
put_str(struct jw *w, const char *key, const char *v)
{
	if (v == NULL)
		return;
	put_key(w, key);
	put_string(w, v);
}

static void
put_int(struct jw *w, const char *key, int64_t v)
{
	char	 num[32];

	put_key(w, key);
	jw_append(w, num, (size_t)snprintf(num, sizeof(num), "%" PRId64, v));
}

static void
put_time(struct jw *w, const char *key, int64_t t)
{
	char	 text[32];

	if (t == 0)
		return;
	time_format(t, text);
	put_str(w, key, text);
}

int
request_json_text(struct buf *b, const struct db_request *r,
    const struct db_cert *c, int with_pem, const char *chain_pem,
    const char *error)
{
	struct jw	 w = { b, 1, 0 };
	char		*pem;

	put_int(&w, "request_id", r->id);
	put_str(&w, "disposition", disposition_name(r->disposition));
	put_int(&w, "disposition_code", r->disposition);
	put_int(&w, "status_code", r->status_code);
	put_str(&w, "message", r->disposition_message);
	put_str(&w, "requester", r->requester_name);
	put_str(&w, "caller", r->caller_name);
	put_str(&w, "subject", r->request_dn);
	put_str(&w, "profile", r->profile);
	put_time(&w, "submitted", r->submitted_when);
	put_time(&w, "resolved", r->resolved_when);
	if (c != NULL) {
		put_str(&w, "serial", c->serial);
		put_time(&w, "not_before", c->not_before);
		put_time(&w, "not_after", c->not_after);
		put_str(&w, "certificate_subject", c->subject_dn);
		put_str(&w, "certificate_hash", c->hash);
	}
	if (r->disposition == CM_DISP_REVOKED) {
		put_time(&w, "revoked", r->revoked_when);
		if (r->revoked_effective_when != 0 &&
		    r->revoked_effective_when != r->revoked_when)
			put_time(&w, "revoked_effective",
			    r->revoked_effective_when);
		put_int(&w, "revoked_reason", r->revoked_reason);
		put_str(&w, "revoked_reason_name",
		    crl_reason_name(r->revoked_reason));
	}
	if (with_pem && c != NULL && c->raw != NULL) {
		if ((pem = pem_encode("CERTIFICATE", c->raw, c->raw_len)) ==
		    NULL)
			w.err = 1;
		else
			put_str(&w, "certificate", pem);
		free(pem);
		put_str(&w, "chain", chain_pem);
	}
	put_str(&w, "error", error);
	jw_append(&w, "}\n", 2);
	return w.err ? -1 : 0;
}

json_t *
json_string_lossy(const char *s)
{
	struct buf	 b = { 0 };
	struct jw	 w = { &b, 1, 0 };
	json_t		*o;

	if (s == NULL)
		return NULL;
	if ((o = json_string(s)) != NULL)
		return o;
	/* Invalid UTF-8: put_string writes U+FFFD for it, read that back. */
	put_string(&w, s);
	if (!w.err)
		o = json_loadb((const char *)b.data, b.len, JSON_DECODE_ANY,
		    NULL);
	buf_free(&b);
	return o;
}

json_t *
request_to_json(const struct db_request *r, const struct db_cert *c,
    int with_pem, const char *chain_pem)
{
	struct buf	 b = { 0 };
	json_t		*o = NULL;

	if (request_json_text(&b, r, c, with_pem, chain_pem, NULL) == 0)
		o = json_loadb((const char *)b.data, b.len, 0, NULL);
	buf_free(&b);
	return o;
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
	json_object_set_new(o, "crl_index", json_integer(c->key_idx));
	return o;
}

json_t *
ca_certs_json(const struct signer *sg)
{
	struct cert_info info;
	json_t		*a, *o;
	char		 err[128], *fp;
	unsigned char	 md[32];
	int		 i;

	if ((a = json_array()) == NULL)
		return NULL;
	for (i = 0; i < sg->ncerts; i++) {
		if (cert_info_parse(sg->certs[i].der, sg->certs[i].len, &info,
		    err, sizeof(err)) == -1 || (o = json_object()) == NULL)
			continue;
		json_object_set_new(o, "index", json_integer(i));
		json_object_set_new(o, "crl_index",
		    json_integer(sg->certs[i].key_idx));
		json_object_set_new(o, "serial", json_string(info.serial));
		json_object_set_new(o, "subject",
		    json_string_lossy(info.subject_dn));
		set_time(o, "not_before", info.not_before);
		set_time(o, "not_after", info.not_after);
		json_object_set_new(o, "signing", json_boolean(i ==
		    sg->cert_idx));
		SHA256(sg->certs[i].der, sg->certs[i].len, md);
		if ((fp = hex_encode(md, sizeof(md))) != NULL)
			json_object_set_new(o, "sha256", json_string(fp));
		free(fp);
		cert_info_free(&info);
		json_array_append_new(a, o);
	}
	return a;
}
