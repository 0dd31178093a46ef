/*
 * payload.c - what CertMint_Webhook.Exit sends: a CloudEvents 1.0 JSON
 * document in structured mode (docs/modules/webhook.md "The document"),
 * or a Slack or Teams message. Everything comes from the event's snapshot
 * (docs/exit-modules.md "Snapshots"): a retry or a replay sends the event
 * as it was.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/bn.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "webhook.h"

/* The events, in the order of wh_config.text; CloudEvents types. */
static const struct {
	int32_t		 event;
	const char	*type;
	const char	*text;		/* the built-in Slack/Teams text */
} events[WH_NEVENTS] = {
	{ CM_EXITEVENT_CERTISSUED, "org.certmint.certificate.issued",
	    "Certificate issued: %{Subject.CommonName:-(no CN)}, serial "
	    "%{SerialNumber}, request %{Request.RequestID}, valid until "
	    "%{NotAfter}" },
	{ CM_EXITEVENT_CERTPENDING, "org.certmint.request.pending",
	    "Request %{Request.RequestID} from %{Request.RequesterName} is "
	    "pending: %{Request.DistinguishedName}" },
	{ CM_EXITEVENT_CERTDENIED, "org.certmint.request.denied",
	    "Request %{Request.RequestID} (%{Request.DistinguishedName}) was "
	    "denied: %{Request.DispositionMessage}" },
	{ CM_EXITEVENT_CERTREVOKED, "org.certmint.certificate.revoked",
	    "Certificate revoked: %{Subject.CommonName:-(no CN)}, serial "
	    "%{SerialNumber}, reason %{RevokedReason}" },
	{ CM_EXITEVENT_CERTRETRIEVEPENDING, "org.certmint.request.retrieved",
	    "Request %{Request.RequestID} was retrieved by its requester" },
	{ CM_EXITEVENT_CRLISSUED, "org.certmint.crl.issued",
	    "A CRL was published" },
	{ CM_EXITEVENT_SHUTDOWN, "org.certmint.ca.shutdown",
	    "The CA is stopping" },
	{ CM_EXITEVENT_STARTUP, "org.certmint.ca.startup",
	    "The CA started" },
	{ CM_EXITEVENT_CERTUNREVOKED, "org.certmint.certificate.unrevoked",
	    "Certificate released from hold: %{Subject.CommonName:-(no CN)}, "
	    "serial %{SerialNumber}" },
	{ CM_EXITEVENT_CERTIMPORTED, "org.certmint.certificate.imported",
	    "Certificate imported: %{Subject.CommonName:-(no CN)}, serial "
	    "%{SerialNumber}, request %{Request.RequestID}" },
};

/* data members: JSON key, property, a number (else a string). */
struct field {
	const char	*key, *prop;
	int		 number;
};

static const struct field request_fields[] = {
	{ "id", "Request.RequestID", 1 },
	{ "requester", "Request.RequesterName", 0 },
	{ "caller", "Request.CallerName", 0 },
	{ "disposition", "Request.Disposition", 1 },
	{ "disposition_message", "Request.DispositionMessage", 0 },
	{ "submitted", "Request.SubmittedWhen", 0 },
	{ "resolved", "Request.ResolvedWhen", 0 },
	{ "template", "Request.CertificateTemplate", 0 },
	{ "subject", "Request.DistinguishedName", 0 },
	{ NULL, NULL, 0 }
};

static const struct field cert_fields[] = {
	{ "serial", "SerialNumber", 0 },
	{ "subject", "DistinguishedName", 0 },
	{ "common_name", "Subject.CommonName", 0 },
	{ "not_before", "NotBefore", 0 },
	{ "not_after", "NotAfter", 0 },
	{ "sha256", "CertificateHashSHA256", 0 },
	{ "upn", "UPN", 0 },
	{ "revoked_when", "RevokedWhen", 0 },
	{ "revoked_reason", "RevokedReason", 1 },
	{ NULL, NULL, 0 }
};

/* Index of event in events[] (and wh_config.text), or -1. */
int
wh_event_index(int32_t event)
{
	int	 i;

	for (i = 0; i < WH_NEVENTS; i++)
		if (events[i].event == event)
			return i;
	return -1;
}

/*
 * The CA's identity, read once (context 0): its name, and an id made of
 * its first certificate's hash, which no renewal changes, so that event
 * ids stay unique across CAs sending to one receiver. 0 or -1.
 */
int
wh_ca_read(cm_server_exit *srv, struct wh_ca *ca)
{
	unsigned char	 md[SHA256_DIGEST_LENGTH], *der = NULL;
	size_t		 len, i;
	char		*esc;

	memset(ca, 0, sizeof(*ca));
	if (srv->set_context(srv, 0) != CM_OK ||
	    mu_prop_text(srv, "SanitizedCAName", &ca->name) != CM_OK ||
	    mu_prop_binary(srv, "RawCACertificate.0", &der, &len) != CM_OK)
		goto fail;
	SHA256(der, len, md);
	free(der);
	for (i = 0; i < 8; i++)
		snprintf(ca->id + 2 * i, 3, "%02x", md[i]);
	if ((esc = curl_easy_escape(NULL, ca->name, 0)) == NULL)
		goto fail;
	len = strlen("urn:certmint:ca:") + strlen(esc) + 1;
	if ((ca->source = malloc(len)) != NULL)
		snprintf(ca->source, len, "urn:certmint:ca:%s", esc);
	curl_free(esc);
	if (ca->source == NULL)
		goto fail;
	return 0;
 fail:
	wh_ca_free(ca);
	return -1;
}

void
wh_ca_free(struct wh_ca *ca)
{
	free(ca->name);
	free(ca->source);
	memset(ca, 0, sizeof(*ca));
}

/* ,"key":"s" (escaped) into b. 0 or -1. */
static int
json_str(struct mu_buf *b, const char *key, const char *s)
{
	return mu_buf_printf(b, ",\"%s\":\"", key) == -1 ||
	    mu_json_escape(b, s) == -1 || mu_buf_str(b, "\"") == -1 ? -1 : 0;
}

/* Whether s is a decimal integer. */
static int
is_number(const char *s)
{
	if (*s == '-')
		s++;
	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if (!isdigit((unsigned char)*s))
			return 0;
	return 1;
}

/*
 * The fields present of f as JSON members into b (each led by a comma).
 * Returns how many there were, or -1 (no memory).
 */
static int
json_fields(cm_server_exit *srv, const struct field *f, struct mu_buf *b)
{
	char	*v, *p, *q;
	int	 n = 0, rc;

	for (; f->key != NULL; f++) {
		if ((rc = mu_prop_text(srv, f->prop, &v)) == CM_E_NOMEM)
			return -1;
		if (rc != CM_OK)
			continue;
		/* AD CS's "d0 57 9a ..." form: hex without the spaces. */
		if (strcmp(f->key, "sha256") == 0) {
			for (p = q = v; *p != '\0'; p++)
				if (*p != ' ')
					*q++ = *p;
			*q = '\0';
		}
		if (f->number && is_number(v))
			rc = mu_buf_printf(b, ",\"%s\":%s", f->key, v);
		else
			rc = json_str(b, f->key, v);
		free(v);
		if (rc == -1)
			return -1;
		n++;
	}
	return n;
}

/* ,"key":"PEM of the binary property" when present. 0 or -1. */
static int
json_pem(cm_server_exit *srv, const char *key, const char *prop,
    const char *label, struct mu_buf *b)
{
	unsigned char	*der;
	size_t		 len;
	char		*pem;
	int		 rc;

	if ((rc = mu_prop_binary(srv, prop, &der, &len)) != CM_OK)
		return rc == CM_E_NOMEM ? -1 : 0;
	pem = mu_pem(label, der, len);
	free(der);
	if (pem == NULL)
		return -1;
	rc = json_str(b, key, pem);
	free(pem);
	return rc;
}

/* ASN1_TIME as RFC 3339 into buf; "" when it cannot be read. */
static void
asn1_time_text(const ASN1_TIME *t, char *buf, size_t len)
{
	struct tm	 tm;

	buf[0] = '\0';
	if (t != NULL && ASN1_TIME_to_tm(t, &tm) == 1)
		mu_time((int64_t)timegm(&tm), buf, len);
}

/*
 * ,"key":{"number":..,"this_update":..,"next_update":..[,"pem":..]} for
 * the CRL in the CA property prop, when there is one. 0 or -1.
 */
static int
json_crl(cm_server_exit *srv, const struct wh_config *cfg, const char *key,
    const char *prop, struct mu_buf *b)
{
	const unsigned char *p;
	unsigned char	*der;
	ASN1_INTEGER	*num;
	X509_CRL	*crl;
	BIGNUM		*bn = NULL;
	size_t		 len;
	char		 tu[32], nu[32], *dec = NULL, *pem = NULL;
	int		 rc;

	if ((rc = mu_prop_binary(srv, prop, &der, &len)) != CM_OK)
		return rc == CM_E_NOMEM ? -1 : 0;
	p = der;
	if ((crl = d2i_X509_CRL(NULL, &p, (long)len)) == NULL) {
		free(der);
		return 0;
	}
	if ((num = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL,
	    NULL)) != NULL) {
		if ((bn = ASN1_INTEGER_to_BN(num, NULL)) != NULL)
			dec = BN_bn2dec(bn);
		ASN1_INTEGER_free(num);
		BN_free(bn);
	}
	asn1_time_text(X509_CRL_get0_lastUpdate(crl), tu, sizeof(tu));
	asn1_time_text(X509_CRL_get0_nextUpdate(crl), nu, sizeof(nu));
	X509_CRL_free(crl);
	if (cfg->include_pem)
		pem = mu_pem("X509 CRL", der, len);
	free(der);
	rc = mu_buf_printf(b, ",\"%s\":{\"number\":%s", key, dec ? dec :
	    "null") == 0 && json_str(b, "this_update", tu) == 0 &&
	    json_str(b, "next_update", nu) == 0 &&
	    (pem == NULL || json_str(b, "pem", pem) == 0) &&
	    mu_buf_str(b, "}") == 0 ? 0 : -1;
	OPENSSL_free(dec);
	free(pem);
	return rc;
}

/* ,"key":{fields} when at least one is present. 0 or -1. */
static int
json_object(cm_server_exit *srv, const char *key, const struct field *f,
    const char *pem_prop, int include_pem, struct mu_buf *b)
{
	struct mu_buf	 o = { 0 };
	int		 n, rc = -1;

	if ((n = json_fields(srv, f, &o)) == -1)
		goto out;
	if (n > 0 && include_pem && pem_prop != NULL &&
	    json_pem(srv, "pem", pem_prop, "CERTIFICATE", &o) == -1)
		goto out;
	/* o starts with a comma: the object's first member drops it. */
	rc = n == 0 ? 0 : mu_buf_printf(b, ",\"%s\":{%s}", key, o.data + 1);
 out:
	mu_buf_free(&o);
	return rc;
}

/* The "data" object of a CloudEvent into b. 0 or -1. */
static int
ce_data(cm_server_exit *srv, const struct wh_config *cfg,
    const struct wh_ca *ca, int32_t event, int64_t context, int64_t seq,
    struct mu_buf *b)
{
	if (mu_buf_printf(b, "{\"event\":\"%s\",\"sequence\":%" PRId64,
	    mu_event_name(event), seq) == -1 || json_str(b, "ca", ca->name))
		return -1;
	if (context != 0) {
		if (srv->set_context(srv, context) != CM_OK ||
		    json_object(srv, "request", request_fields, NULL, 0, b) ==
		    -1 || json_object(srv, "certificate", cert_fields,
		    "RawCertificate", cfg->include_pem, b) == -1)
			return -1;
	} else if (event == CM_EXITEVENT_CRLISSUED) {
		if (srv->set_context(srv, 0) != CM_OK ||
		    json_crl(srv, cfg, "crl", "RawCRL", b) == -1 ||
		    json_crl(srv, cfg, "delta_crl", "RawDeltaCRL", b) == -1)
			return -1;
	}
	return mu_buf_str(b, "}");
}

/* The event's EventSequence; -1 if unreadable. */
static int64_t
event_seq(cm_server_exit *srv)
{
	cm_value	 v;

	memset(&v, 0, sizeof(v));
	if (srv->get_request_property(srv, "EventSequence", CM_PROPTYPE_LONG,
	    &v) != CM_OK)
		return -1;
	return v.l;
}

/*
 * The CloudEvents envelope of data into b: id, source, type, subject
 * (the serial number, else the request id), time. 0 or -1.
 */
static int
ce_envelope(cm_server_exit *srv, const struct wh_config *cfg,
    const struct wh_ca *ca, int32_t event, int64_t context, const char *id,
    const struct mu_buf *data, struct mu_buf *b)
{
	char	*time = NULL, *subject = NULL;
	int	 rc = -1;

	if (mu_prop_text(srv, "EventTime", &time) == CM_E_NOMEM)
		goto out;
	if (context != 0 && (srv->set_context(srv, context) != CM_OK ||
	    (mu_prop_text(srv, "SerialNumber", &subject) != CM_OK &&
	    mu_prop_text(srv, "Request.RequestID", &subject) == CM_E_NOMEM)))
		goto out;
	if (mu_buf_str(b, "{\"specversion\":\"1.0\"") == -1 ||
	    json_str(b, "id", id) == -1 ||
	    json_str(b, "source", cfg->source ? cfg->source : ca->source) ||
	    json_str(b, "type", events[wh_event_index(event)].type) == -1 ||
	    (subject != NULL && json_str(b, "subject", subject) == -1) ||
	    (time != NULL && json_str(b, "time", time) == -1) ||
	    json_str(b, "datacontenttype", "application/json") == -1 ||
	    mu_buf_str(b, ",\"data\":") == -1 ||
	    mu_buf_add(b, data->data, data->len) == -1 ||
	    mu_buf_str(b, "}") == -1)
		goto out;
	rc = 0;
 out:
	free(time);
	free(subject);
	return rc;
}

/* A Slack or Teams message of text into b. 0 or -1. */
static int
chat_body(enum wh_format format, const char *text, struct mu_buf *b)
{
	if (format == WH_SLACK)
		return mu_buf_str(b, "{\"text\":\"") == -1 ||
		    mu_json_escape(b, text) == -1 ||
		    mu_buf_str(b, "\"}") == -1 ? -1 : 0;
	/* Teams Workflows' incoming webhook: one Adaptive Card. */
	return mu_buf_str(b, "{\"type\":\"message\",\"attachments\":[{"
	    "\"contentType\":\"application/vnd.microsoft.card.adaptive\","
	    "\"content\":{\"$schema\":\"http://adaptivecards.io/schemas/"
	    "adaptive-card.json\",\"type\":\"AdaptiveCard\",\"version\":"
	    "\"1.4\",\"body\":[{\"type\":\"TextBlock\",\"wrap\":true,"
	    "\"text\":\"") == -1 || mu_json_escape(b, text) == -1 ||
	    mu_buf_str(b, "\"}]}}]}") == -1 ? -1 : 0;
}

/*
 * A value in a Slack message: its control characters are "<", ">" and
 * "&" (https://api.slack.com/reference/surfaces/formatting#escaping), so
 * that a CN "<!channel> <https://evil.example|Renew>" pings no one and
 * links nowhere.
 */
static int
slack_esc(struct mu_buf *b, const char *s)
{
	int	 rc = 0;

	for (; *s != '\0' && rc == 0; s++)
		rc = *s == '<' ? mu_buf_str(b, "&lt;") : *s == '>' ?
		    mu_buf_str(b, "&gt;") : *s == '&' ? mu_buf_str(b, "&amp;") :
		    mu_buf_add(b, s, 1);
	return rc;
}

/*
 * A value in a Teams Adaptive Card's markdown: the characters of its
 * links, emphasis and code escaped with a backslash (CommonMark), so that
 * "[Renew](https://evil.example)" is text.
 */
static int
teams_esc(struct mu_buf *b, const char *s)
{
	int	 rc = 0;

	for (; *s != '\0' && rc == 0; s++) {
		if (strchr("\\`*_[](){}<>#~!|", *s) != NULL)
			rc = mu_buf_add(b, "\\", 1);
		if (rc == 0)
			rc = mu_buf_add(b, s, 1);
	}
	return rc;
}

/*
 * The Slack/Teams text of the event: "[CA] " and its template, whose
 * markup is the operator's; what the values bring in is escaped.
 */
static int
chat_text(cm_server_exit *srv, const struct wh_config *cfg,
    const struct wh_ca *ca, int32_t event, int64_t context, struct mu_buf *b)
{
	int		(*esc)(struct mu_buf *, const char *);
	const char	*tmpl;
	char		*text, err[256];
	int		 i = wh_event_index(event), rc;

	esc = cfg->format == WH_SLACK ? slack_esc : teams_esc;
	tmpl = cfg->text[i] != NULL ? cfg->text[i] : events[i].text;
	if (srv->set_context(srv, context) != CM_OK ||
	    mu_expand_quoted(srv, tmpl, "???", esc, &text, err,
	    sizeof(err)) == -1)
		return -1;
	rc = mu_buf_str(b, "[") == -1 || esc(b, ca->name) == -1 ||
	    mu_buf_printf(b, "] %s", text) == -1 ? -1 : 0;
	free(text);
	return rc;
}

/*
 * The body of event (context) as cfg's format says into body, and its
 * stable id into *id ("<CA id>-<EventSequence>": the same at every retry,
 * replay and redelivery, so that a receiver drops duplicates). 0 or -1.
 */
int
wh_body(cm_server_exit *srv, const struct wh_config *cfg,
    const struct wh_ca *ca, int32_t event, int64_t context, char **id,
    struct mu_buf *body)
{
	struct mu_buf	 data = { 0 };
	int64_t		 seq;
	int		 rc = -1;

	*id = NULL;
	if (wh_event_index(event) == -1 || (seq = event_seq(srv)) == -1)
		return -1;
	if (mu_buf_printf(&data, "%s-%" PRId64, ca->id, seq) == -1)
		return -1;
	*id = data.data;
	memset(&data, 0, sizeof(data));
	if (cfg->format != WH_CLOUDEVENTS) {
		if (chat_text(srv, cfg, ca, event, context, &data) == 0)
			rc = chat_body(cfg->format, data.data, body);
	} else if (ce_data(srv, cfg, ca, event, context, seq, &data) == 0)
		rc = ce_envelope(srv, cfg, ca, event, context, *id, &data, body);
	mu_buf_free(&data);
	if (rc == -1) {
		free(*id);
		*id = NULL;
	}
	return rc;
}

/*
 * The test delivery of `certmint exit configure`: an event of type
 * org.certmint.webhook.test (or a chat message) that no CA event has, so
 * that receivers can tell it apart. 0 or -1.
 */
int
wh_test_body(const struct wh_config *cfg, const struct wh_ca *ca, char **id,
    struct mu_buf *body)
{
	struct mu_buf	 b = { 0 };
	char		 now[32];
	int		 rc;

	mu_time((int64_t)time(NULL), now, sizeof(now));
	if (mu_buf_printf(&b, "%s-test-%lld", ca->id,
	    (long long)time(NULL)) == -1)
		return -1;
	*id = b.data;
	memset(&b, 0, sizeof(b));
	if (cfg->format != WH_CLOUDEVENTS) {
		if (mu_buf_printf(&b, "[%s] certmint webhook test (certmint "
		    "exit configure)", ca->name) == -1)
			rc = -1;
		else
			rc = chat_body(cfg->format, b.data, body);
		mu_buf_free(&b);
	} else
		rc = mu_buf_str(body, "{\"specversion\":\"1.0\"") == -1 ||
		    json_str(body, "id", *id) == -1 ||
		    json_str(body, "source", cfg->source ? cfg->source :
		    ca->source) == -1 ||
		    json_str(body, "type", "org.certmint.webhook.test") == -1 ||
		    json_str(body, "time", now) == -1 ||
		    json_str(body, "datacontenttype", "application/json") ==
		    -1 || mu_buf_str(body, ",\"data\":{\"test\":true") == -1 ||
		    json_str(body, "ca", ca->name) == -1 ||
		    mu_buf_str(body, "}}") == -1 ? -1 : 0;
	if (rc == -1) {
		free(*id);
		*id = NULL;
	}
	return rc;
}
