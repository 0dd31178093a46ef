/*
 * props.c - the ICertServerExit callbacks: request, certificate, name and CA
 * properties, extensions and attributes, with AD CS's names and types. One
 * struct exit_call serves one module call; the values it hands out are
 * borrowed until exit_call_reset.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "exit_host.h"
#include "props.h"

#define ENUMEXT_OBJECTID 0x1

struct arena_block {
	struct arena_block *next;
	size_t		 len;
	unsigned char	 data[];
};

/* Name properties (adcs-reference section 3.4): aliases and OID. */
struct name_prop {
	const char	*names[5];
	const char	*oid;
};

static const struct name_prop name_props[] = {
	{ { "CommonName", "CN" }, "2.5.4.3" },
	{ { "Country", "C" }, "2.5.4.6" },
	{ { "DeviceSerialNumber" }, "2.5.4.5" },
	{ { "DomainComponent", "DC" }, "0.9.2342.19200300.100.1.25" },
	{ { "EMail", "E" }, "1.2.840.113549.1.9.1" },
	{ { "GivenName", "G" }, "2.5.4.42" },
	{ { "Initials", "I" }, "2.5.4.43" },
	{ { "Locality", "L" }, "2.5.4.7" },
	{ { "Organization", "Org", "O" }, "2.5.4.10" },
	{ { "OrgUnit", "OrganizationUnit", "OrganizationalUnit", "OU" },
	    "2.5.4.11" },
	{ { "State", "ST", "S" }, "2.5.4.8" },
	{ { "StreetAddress", "Street" }, "2.5.4.9" },
	{ { "SurName", "SN" }, "2.5.4.4" },
	{ { "Title", "T" }, "2.5.4.12" },
	{ { "UnstructuredAddress" }, "1.2.840.113549.1.9.8" },
	{ { "UnstructuredName" }, "1.2.840.113549.1.9.2" },
};

/*
 * Names AD CS knows (adcs-reference section 3) that have no value in
 * certmint: reading one is CM_E_PROPERTY_EMPTY, not an unknown name.
 */
static const char *const empty_request_props[] = {
	"RawArchivedKey", "KeyRecoveryHashes",
	"SignerPolicies", "SignerApplicationPolicies", "Officer",
	"PublishExpiredCertInCRL", "RequesterNameFromOldCertificate",
	"AttestationChallenge", "EndorsementKeyHash",
	"EndorsementCertificateHash", "RawPrecertificate", "CRLPartitionIndex",
	"LinterCertificate", "RequesterCAAccess", "UserDN", "KeyArchived",
	NULL
};

static const char *const empty_cert_props[] = {
	"EnrollmentFlags", "GeneralFlags", "PrivatekeyFlags", "CertificateType",
	"RawSMIMECapabilities", "NameType", NULL
};

/* Certificate properties, readable (or empty) once a certificate exists. */
static const char *const cert_props[] = {
	"RawCertificate", "SerialNumber", "NotBefore", "NotAfter",
	"PublicKeyAlgorithm", "PublicKeyLength", "RawPublicKey",
	"RawPublicKeyAlgorithmParameters", "CertificateHash",
	"CertificateHashSHA256", "SubjectKeyIdentifier", "UPN",
	"DistinguishedName", "RawName", NULL
};

int
in_list(const char *const *list, const char *name)
{
	for (; *list != NULL; list++)
		if (strcasecmp(*list, name) == 0)
			return 1;
	return 0;
}

void *
arena_alloc(struct exit_call *c, size_t len)
{
	struct arena_block *b;

	if ((b = malloc(sizeof(*b) + len + 1)) == NULL)
		return NULL;
	b->next = c->arena;
	b->len = len;
	b->data[len] = '\0';
	c->arena = b;
	return b->data;
}

char *
arena_strdup(struct exit_call *c, const char *s)
{
	size_t	 n = strlen(s);
	char	*p = arena_alloc(c, n);

	if (p != NULL)
		memcpy(p, s, n);
	return p;
}

void *
arena_memdup(struct exit_call *c, const void *p, size_t len)
{
	void	*q = arena_alloc(c, len);

	if (q != NULL && len > 0)
		memcpy(q, p, len);
	return q;
}

static void
trace(struct exit_call *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
trace(struct exit_call *c, const char *fmt, ...)
{
	char	 msg[1024];
	va_list	 ap;

	if (c->trace == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	c->trace(c->trace_arg, "%s", msg);
}

static const char *
rc_name(int rc)
{
	switch (rc) {
	case CM_OK:
		return "CM_OK";
	case CM_S_FALSE:
		return "CM_S_FALSE";
	case CM_E_PROPERTY_EMPTY:
		return "CM_E_PROPERTY_EMPTY";
	case CM_E_TYPE:
		return "CM_E_TYPE";
	case CM_E_INVALIDARG:
		return "CM_E_INVALIDARG";
	case CM_E_NOCONTEXT:
		return "CM_E_NOCONTEXT";
	case CM_E_NOMEM:
		return "CM_E_NOMEM";
	default:
		return "error";
	}
}

static const char *
type_name(uint32_t t)
{
	switch (t) {
	case CM_PROPTYPE_LONG:
		return "LONG";
	case CM_PROPTYPE_DATE:
		return "DATE";
	case CM_PROPTYPE_BINARY:
		return "BINARY";
	case CM_PROPTYPE_STRING:
		return "STRING";
	default:
		return "?";
	}
}

/*
 * Record what a getter returned in the trace.
 */
static int
traced(struct exit_call *c, const char *fn, const char *name, uint32_t type,
    int rc, const cm_value *v)
{
	char	 ts[32];

	if (c->trace == NULL)
		return rc;
	if (rc != CM_OK || v == NULL)
		trace(c, "%s(\"%s\", %s) -> %s", fn, name, type_name(type),
		    rc_name(rc));
	else if (v->type == CM_PROPTYPE_LONG)
		trace(c, "%s(\"%s\", LONG) -> %lld", fn, name, (long long)v->l);
	else if (v->type == CM_PROPTYPE_DATE) {
		time_format(v->l, ts);
		trace(c, "%s(\"%s\", DATE) -> %s", fn, name, ts);
	} else if (v->type == CM_PROPTYPE_STRING)
		trace(c, "%s(\"%s\", STRING) -> \"%.200s\"", fn, name,
		    (const char *)v->data);
	else
		trace(c, "%s(\"%s\", BINARY) -> %zu bytes", fn, name, v->len);
	return rc;
}

int
set_long(cm_value *v, uint32_t want, int64_t l)
{
	if (want != CM_PROPTYPE_LONG)
		return CM_E_TYPE;
	v->type = CM_PROPTYPE_LONG;
	v->l = l;
	v->data = NULL;
	v->len = 0;
	return CM_OK;
}

int
set_date(cm_value *v, uint32_t want, int64_t t)
{
	if (want != CM_PROPTYPE_DATE)
		return CM_E_TYPE;
	if (t == 0)
		return CM_E_PROPERTY_EMPTY;
	v->type = CM_PROPTYPE_DATE;
	v->l = t;
	v->data = NULL;
	v->len = 0;
	return CM_OK;
}

int
set_string(cm_value *v, uint32_t want, const char *s)
{
	if (want != CM_PROPTYPE_STRING)
		return CM_E_TYPE;
	if (s == NULL)
		return CM_E_PROPERTY_EMPTY;
	v->type = CM_PROPTYPE_STRING;
	v->l = 0;
	v->data = s;
	v->len = strlen(s);
	return CM_OK;
}

int
set_binary(cm_value *v, uint32_t want, const void *p, size_t len)
{
	if (want != CM_PROPTYPE_BINARY)
		return CM_E_TYPE;
	if (p == NULL)
		return CM_E_PROPERTY_EMPTY;
	v->type = CM_PROPTYPE_BINARY;
	v->l = 0;
	v->data = p;
	v->len = len;
	return CM_OK;
}

void
exit_call_reset(struct exit_call *c)
{
	struct arena_block *b, *next;

	for (b = c->arena; b != NULL; b = next) {
		next = b->next;
		free(b);
	}
	c->arena = NULL;
	if (c->have_req && !c->req_borrowed)
		db_request_free(&c->req);
	c->req_borrowed = c->req_unstored = 0;
	if (c->have_cert)
		db_cert_free(&c->cert);
	c->have_req = c->have_cert = c->loaded = c->cert_loaded = 0;
	c->last_ext_valid = 0;
	c->ext_enum = c->attr_enum = 0;
}

void
exit_call_preload(struct exit_call *c, const struct db_request *req)
{
	c->req = *req;
	c->have_req = 1;
	c->req_borrowed = 1;
	c->req_unstored = 1;
	c->have_cert = 0;
	c->loaded = 1;
	c->cert_loaded = 1;	/* not issued yet */
	c->context = req->id;
	c->context_set = 1;
}

/* The event whose state a call reads; 0 (now) outside notify. */
int64_t
event_seq(const struct exit_call *c)
{
	return c->ev != NULL ? c->ev->seq : 0;
}

int64_t
event_time(const struct exit_call *c)
{
	return c->ev != NULL ? c->ev->time : time_now();
}

void
exit_call_offer(struct exit_call *c, const struct db_request *req)
{
	/* As store_request_get_at: unchanged since the event. */
	if (req != NULL && req->id != 0 && c->ev != NULL &&
	    c->ev->seq > req->history_seq)
		c->offered = req;
}

/*
 * Read the request of the current context once, as it was when the event
 * committed (docs/exit-modules.md, Snapshots): the one offered when it is
 * that, else from the database.
 */
static void
load_context(struct exit_call *c)
{
	if (c->loaded || c->context == 0)
		return;
	c->loaded = 1;
	c->req_read = 1;
	if (c->offered != NULL && c->offered->id == c->context) {
		c->req = *c->offered;
		c->have_req = 1;
		c->req_borrowed = 1;
		return;
	}
	if (c->st == NULL)
		c->st = ca_reader(c->ca);
	if (c->st == NULL)
		return;
	if (store_request_get_at(c->st, c->context, event_seq(c), &c->req) == 0)
		c->have_req = 1;
}

/*
 * Read the certificate of the current context once, when a certificate
 * property is asked for: most notifies read only request properties.
 */
static void
load_cert(struct exit_call *c)
{
	load_context(c);
	if (c->cert_loaded || !c->have_req)
		return;
	c->cert_loaded = 1;
	if (c->st == NULL && (c->st = ca_reader(c->ca)) == NULL)
		return;
	if (store_cert_get(c->st, c->context, &c->cert) == 0)
		c->have_cert = 1;
}

/*
 * Can this event see a certificate? Not CERTPENDING or CERTDENIED
 * (adcs-reference section 3.8), nor any event of a request that had none
 * yet: a pending request retrieved before it was issued.
 */
static int
event_has_cert(const struct exit_call *c)
{
	if (c->have_req && !c->req_unstored &&
	    c->req.disposition != CM_DISP_ISSUED &&
	    c->req.disposition != CM_DISP_REVOKED)
		return 0;
	if (c->ev == NULL)
		return 1;
	return c->ev->event != CM_EXITEVENT_CERTPENDING &&
	    c->ev->event != CM_EXITEVENT_CERTDENIED;
}

static int
cb_set_context(cm_server_exit *srv, int64_t context)
{
	struct exit_call *c = (struct exit_call *)srv;

	if (context < 0)
		return traced(c, "set_context", "", 0, CM_E_INVALIDARG, NULL);
	if (context != c->context) {
		if (c->have_req && !c->req_borrowed)
			db_request_free(&c->req);
		c->req_borrowed = c->req_unstored = 0;
		if (c->have_cert)
			db_cert_free(&c->cert);
		c->have_req = c->have_cert = c->loaded = c->cert_loaded = 0;
		c->last_ext_valid = 0;
		c->ext_enum = c->attr_enum = 0;
	}
	c->context = context;
	c->context_set = 1;
	trace(c, "set_context(%lld) -> CM_OK", (long long)context);
	return CM_OK;
}

/*
 * Properties of the event itself, readable in every context.
 */
static int
event_property(struct exit_call *c, const char *name, uint32_t type,
    cm_value *out, int *handled)
{
	*handled = 1;
	if (strcasecmp(name, "EventSequence") == 0)
		return c->ev ? set_long(out, type, c->ev->seq) : CM_E_PROPERTY_EMPTY;
	if (strcasecmp(name, "EventTime") == 0)
		return c->ev ? set_date(out, type, c->ev->time) : CM_E_PROPERTY_EMPTY;
	if (strcasecmp(name, "EventType") == 0)
		return c->ev ? set_long(out, type, c->ev->event) : CM_E_PROPERTY_EMPTY;
	*handled = 0;
	return CM_E_INVALIDARG;
}

static const struct name_prop *
find_name_prop(const char *name)
{
	size_t	 i, k;

	for (i = 0; i < nitems(name_props); i++) {
		if (strcmp(name, name_props[i].oid) == 0)
			return &name_props[i];
		for (k = 0; k < nitems(name_props[i].names) &&
		    name_props[i].names[k] != NULL; k++)
			if (strcasecmp(name, name_props[i].names[k]) == 0)
				return &name_props[i];
	}
	return NULL;
}

/*
 * A name property (CommonName, OU, 2.5.4.3...) of a DER name.
 */
static int
name_property(struct exit_call *c, const unsigned char *der, size_t len,
    const struct name_prop *np, uint32_t type, cm_value *out)
{
	char	*values, *copy;
	int	 rc;

	if (type != CM_PROPTYPE_STRING)
		return CM_E_TYPE;
	if (der == NULL || (rc = name_get(der, len, np->oid, &values)) != 0)
		return CM_E_PROPERTY_EMPTY;
	copy = arena_strdup(c, values);
	free(values);
	if (copy == NULL)
		return CM_E_NOMEM;
	return set_string(out, type, copy);
}

static char *
attributes_text(struct exit_call *c)
{
	struct buf	 b = { 0 };
	char		*s;
	size_t		 i;

	for (i = 0; i < c->req.nattrs; i++)
		buf_printf(&b, "%s:%s\n", c->req.attrs[i].name,
		    c->req.attrs[i].value);
	if (b.data == NULL)
		return arena_strdup(c, "");
	s = arena_strdup(c, (char *)b.data);
	buf_free(&b);
	return s;
}

/*
 * RawOldCertificate: the certificate a renewal replaces, which its
 * RenewalOf attribute names (certmint renew); empty for other requests.
 */
static int
old_cert_property(struct exit_call *c, uint32_t type, cm_value *out)
{
	struct db_cert	 old;
	const char	*serial = NULL;
	const void	*der;
	size_t		 i;

	for (i = 0; i < c->req.nattrs && serial == NULL; i++)
		if (attr_name_eq(c->req.attrs[i].name, "RenewalOf"))
			serial = c->req.attrs[i].value;
	if (serial == NULL)
		return CM_E_PROPERTY_EMPTY;
	if (type != CM_PROPTYPE_BINARY)
		return CM_E_TYPE;
	if (c->st == NULL)
		c->st = ca_reader(c->ca);
	if (c->st == NULL || store_cert_by_serial(c->st, serial, &old) != 0)
		return CM_E_PROPERTY_EMPTY;
	der = arena_memdup(c, old.raw, old.raw_len);
	i = old.raw_len;
	db_cert_free(&old);
	return der != NULL ? set_binary(out, type, der, i) : CM_E_NOMEM;
}

static int
request_property(struct exit_call *c, const char *name, uint32_t type,
    cm_value *out)
{
	const struct db_request *r = &c->req;
	const struct name_prop *np;
	int		 handled, rc;

	rc = event_property(c, name, type, out, &handled);
	if (handled)
		return rc;
	if (!c->context_set)
		return CM_E_NOCONTEXT;
	if (c->context == 0)
		return CM_E_NOCONTEXT;
	/* "Request.X" is the request's column X (AD CS's wszPROPREQUESTDOT). */
	if (strncasecmp(name, "Request.", 8) == 0)
		name += 8;
	load_context(c);
	if (!c->have_req)
		return CM_E_PROPERTY_EMPTY;
	if (!strcasecmp(name, "RequestID"))
		return set_long(out, type, r->id);
	if (!strcasecmp(name, "RawRequest"))
		return set_binary(out, type, r->raw_request, r->raw_request_len);
	if (!strcasecmp(name, "RawOldCertificate"))
		return old_cert_property(c, type, out);
	if (!strcasecmp(name, "RequestType"))
		return set_long(out, type, r->request_type);
	if (!strcasecmp(name, "RequestFlags"))
		return set_long(out, type, r->request_flags);
	if (!strcasecmp(name, "StatusCode"))
		return set_long(out, type, r->status_code);
	if (!strcasecmp(name, "Disposition"))
		return set_long(out, type, r->disposition);
	if (!strcasecmp(name, "DispositionMessage"))
		return set_string(out, type, r->disposition_message);
	if (!strcasecmp(name, "SubmittedWhen"))
		return set_date(out, type, r->submitted_when);
	if (!strcasecmp(name, "ResolvedWhen"))
		return set_date(out, type, r->resolved_when);
	if (!strcasecmp(name, "RevokedWhen"))
		return set_date(out, type, r->revoked_when);
	if (!strcasecmp(name, "RevokedEffectiveWhen"))
		return set_date(out, type, r->revoked_effective_when);
	if (!strcasecmp(name, "RevokedReason"))
		return r->revoked_reason < 0 ? (type == CM_PROPTYPE_LONG ?
		    CM_E_PROPERTY_EMPTY : CM_E_TYPE) :
		    set_long(out, type, r->revoked_reason);
	if (!strcasecmp(name, "RequesterName"))
		return set_string(out, type, r->requester_name);
	if (!strcasecmp(name, "CallerName"))
		return set_string(out, type, r->caller_name);
	if (!strcasecmp(name, "RequestAttributes"))
		return type != CM_PROPTYPE_STRING ? CM_E_TYPE :
		    set_string(out, type, attributes_text(c));
	if (!strcasecmp(name, "CertificateTemplate"))
		return set_string(out, type, r->profile);
	if (!strcasecmp(name, "RawCACertificate"))
		return cacert_property(c, -1, type, out);
	if (!strcasecmp(name, "DistinguishedName"))
		return set_string(out, type, r->request_dn);
	if (!strcasecmp(name, "RawName"))
		return set_binary(out, type, r->request_raw_name,
		    r->request_raw_name_len);
	if (strncasecmp(name, "Subject.", 8) == 0)
		name += 8;
	if ((np = find_name_prop(name)) != NULL)
		return name_property(c, r->request_raw_name,
		    r->request_raw_name_len, np, type, out);
	/* Checked last: the names modules read first are above. */
	return in_list(empty_request_props, name) ? CM_E_PROPERTY_EMPTY :
	    CM_E_INVALIDARG;
}

static int
cb_get_request_property(cm_server_exit *srv, const char *name, uint32_t type,
    cm_value *out)
{
	struct exit_call *c = (struct exit_call *)srv;

	if (name == NULL || out == NULL)
		return CM_E_INVALIDARG;
	return traced(c, "get_request_property", name, type,
	    request_property(c, name, type, out), out);
}

static int
cb_get_request_attribute(cm_server_exit *srv, const char *name,
    const char **value)
{
	struct exit_call *c = (struct exit_call *)srv;
	size_t		 i;
	int		 rc = CM_E_PROPERTY_EMPTY;

	if (name == NULL || value == NULL)
		return CM_E_INVALIDARG;
	*value = NULL;
	if (!c->context_set || c->context == 0)
		rc = CM_E_NOCONTEXT;
	else {
		load_context(c);
		for (i = 0; c->have_req && i < c->req.nattrs; i++)
			if (attr_name_eq(c->req.attrs[i].name, name)) {
				*value = c->req.attrs[i].value;
				rc = CM_OK;
				break;
			}
	}
	if (rc == CM_OK)
		trace(c, "get_request_attribute(\"%s\") -> \"%s\"", name, *value);
	else
		trace(c, "get_request_attribute(\"%s\") -> %s", name, rc_name(rc));
	return rc;
}

/* The UPN of the certificate's subjectAltName, if it has one. */
static int
upn_property(struct exit_call *c, uint32_t type, cm_value *out)
{
	char	*upn, *copy;
	size_t	 i;

	if (type != CM_PROPTYPE_STRING)
		return CM_E_TYPE;
	for (i = 0; i < c->req.nexts; i++) {
		if (strcmp(c->req.exts[i].oid, "2.5.29.17") != 0)
			continue;
		if (san_upn(c->req.exts[i].value, c->req.exts[i].len,
		    &upn) == -1 || upn == NULL)
			return CM_E_PROPERTY_EMPTY;
		copy = arena_strdup(c, upn);
		free(upn);
		return copy != NULL ? set_string(out, type, copy) : CM_E_NOMEM;
	}
	return CM_E_PROPERTY_EMPTY;
}

static int
thumbprint_property(struct exit_call *c, int sha256, uint32_t type,
    cm_value *out)
{
	char	 hex[100], *copy;

	if (type != CM_PROPTYPE_STRING)
		return CM_E_TYPE;
	if (cert_thumbprint(c->cert.raw, c->cert.raw_len, sha256, hex,
	    sizeof(hex)) == -1 || (copy = arena_strdup(c, hex)) == NULL)
		return CM_E_NOMEM;
	return set_string(out, type, copy);
}

/*
 * A name no request or certificate has: CM_E_NOCONTEXT when it is a CA
 * property, which wants context 0 (as documented), else CM_E_INVALIDARG.
 * Asked of the CA itself, on this error path only.
 */
static int
unknown_property(struct exit_call *c, const char *name, uint32_t type)
{
	cm_value	 v;

	memset(&v, 0, sizeof(v));
	return ca_property(c, name, type, &v) == CM_E_INVALIDARG ?
	    CM_E_INVALIDARG : CM_E_NOCONTEXT;
}

static int
certificate_property(struct exit_call *c, const char *name, uint32_t type,
    cm_value *out)
{
	const struct db_cert *ct = &c->cert;
	const struct name_prop *np;
	int		 handled, rc;

	rc = event_property(c, name, type, out, &handled);
	if (handled)
		return rc;
	if (!c->context_set)
		return CM_E_NOCONTEXT;
	if (c->context == 0)
		return ca_property(c, name, type, out);
	/* Request columns by their AD CS names, as in SMTP templates. */
	if (strncasecmp(name, "Request.", 8) == 0)
		return request_property(c, name, type, out);
	load_context(c);
	if (!strcasecmp(name, "RequestID"))
		return c->have_req ? set_long(out, type, c->req.id) :
		    CM_E_PROPERTY_EMPTY;
	if (!strcasecmp(name, "CertificateTemplate"))
		return c->have_req ? set_string(out, type, c->req.profile) :
		    CM_E_PROPERTY_EMPTY;
	load_cert(c);
	if (strncasecmp(name, "Subject.", 8) == 0)
		name += 8;
	if (!c->have_cert || !event_has_cert(c))
		/* Known names are empty; unknown ones stay errors. */
		return find_name_prop(name) != NULL ||
		    in_list(cert_props, name) ||
		    in_list(empty_cert_props, name) ? CM_E_PROPERTY_EMPTY :
		    unknown_property(c, name, type);
	if (!strcasecmp(name, "RawCertificate"))
		return set_binary(out, type, ct->raw, ct->raw_len);
	if (!strcasecmp(name, "SerialNumber"))
		return set_string(out, type, ct->serial);
	if (!strcasecmp(name, "NotBefore"))
		return set_date(out, type, ct->not_before);
	if (!strcasecmp(name, "NotAfter"))
		return set_date(out, type, ct->not_after);
	if (!strcasecmp(name, "PublicKeyAlgorithm"))
		return set_string(out, type, ct->public_key_algorithm);
	if (!strcasecmp(name, "PublicKeyLength"))
		return set_long(out, type, ct->public_key_length);
	if (!strcasecmp(name, "RawPublicKey"))
		return set_binary(out, type, ct->raw_public_key,
		    ct->raw_public_key_len);
	if (!strcasecmp(name, "RawPublicKeyAlgorithmParameters"))
		return set_binary(out, type, ct->raw_public_key_params,
		    ct->raw_public_key_params_len);
	if (!strcasecmp(name, "CertificateHash"))
		return thumbprint_property(c, 0, type, out);
	if (!strcasecmp(name, "CertificateHashSHA256"))
		return thumbprint_property(c, 1, type, out);
	if (!strcasecmp(name, "SubjectKeyIdentifier"))
		return set_string(out, type, ct->ski);
	if (!strcasecmp(name, "UPN"))
		return upn_property(c, type, out);
	if (!strcasecmp(name, "DistinguishedName"))
		return set_string(out, type, ct->subject_dn);
	if (!strcasecmp(name, "RawName"))
		return set_binary(out, type, ct->raw_name, ct->raw_name_len);
	if ((np = find_name_prop(name)) != NULL)
		return name_property(c, ct->raw_name, ct->raw_name_len, np, type,
		    out);
	return in_list(empty_cert_props, name) ? CM_E_PROPERTY_EMPTY :
	    unknown_property(c, name, type);
}

static int
cb_get_certificate_property(cm_server_exit *srv, const char *name,
    uint32_t type, cm_value *out)
{
	struct exit_call *c = (struct exit_call *)srv;

	if (name == NULL || out == NULL)
		return CM_E_INVALIDARG;
	return traced(c, "get_certificate_property", name, type,
	    certificate_property(c, name, type, out), out);
}

/*
 * Decode a DER string or INTEGER extension value for STRING/LONG reads.
 */
static int
ext_value(struct exit_call *c, const struct db_ext *e, uint32_t type,
    cm_value *out)
{
	const unsigned char *p = e->value;
	size_t		 len, i, hdr = 2;
	int64_t		 l;
	char		*s;

	if (type == CM_PROPTYPE_BINARY)
		return set_binary(out, type, e->value, e->len);
	if (e->len < 2)
		return CM_E_TYPE;
	len = p[1];
	if (len == 0x81 && e->len >= 3) {
		len = p[2];
		hdr = 3;
	} else if (len == 0x82 && e->len >= 4) {
		len = (size_t)p[2] << 8 | p[3];
		hdr = 4;
	} else if (len & 0x80)
		return CM_E_TYPE;
	if (hdr + len != e->len)
		return CM_E_TYPE;
	if (type == CM_PROPTYPE_STRING && (p[0] == 0x16 || p[0] == 0x0c ||
	    p[0] == 0x13)) {
		if ((s = arena_alloc(c, len)) == NULL)
			return CM_E_NOMEM;
		memcpy(s, p + hdr, len);
		return set_string(out, type, s);
	}
	if (type == CM_PROPTYPE_LONG && p[0] == 0x02 && len >= 1 && len <= 8) {
		l = (p[hdr] & 0x80) ? -1 : 0;
		for (i = 0; i < len; i++)
			l = (int64_t)((uint64_t)l << 8 | p[hdr + i]);
		return set_long(out, type, l);
	}
	return CM_E_TYPE;
}

static int
cb_get_certificate_extension(cm_server_exit *srv, const char *oid,
    uint32_t type, cm_value *out)
{
	struct exit_call *c = (struct exit_call *)srv;
	size_t		 i;
	int		 rc = CM_E_PROPERTY_EMPTY;

	if (oid == NULL || out == NULL)
		return CM_E_INVALIDARG;
	c->last_ext_valid = 0;
	if (!c->context_set || c->context == 0)
		rc = CM_E_NOCONTEXT;
	else {
		load_context(c);
		for (i = 0; c->have_req && i < c->req.nexts; i++)
			if (strcmp(c->req.exts[i].oid, oid) == 0) {
				c->last_ext_flags = c->req.exts[i].flags;
				c->last_ext_valid = 1;
				rc = ext_value(c, &c->req.exts[i], type, out);
				break;
			}
	}
	return traced(c, "get_certificate_extension", oid, type, rc, out);
}

static int
cb_get_certificate_extension_flags(cm_server_exit *srv, int32_t *flags)
{
	struct exit_call *c = (struct exit_call *)srv;

	if (flags == NULL || !c->last_ext_valid)
		return CM_E_INVALIDARG;
	*flags = c->last_ext_flags;
	trace(c, "get_certificate_extension_flags() -> 0x%x", (unsigned)*flags);
	return CM_OK;
}

static int
cb_enum_ext_setup(cm_server_exit *srv, int32_t flags)
{
	struct exit_call *c = (struct exit_call *)srv;

	if (flags & ~ENUMEXT_OBJECTID)
		return CM_E_INVALIDARG;
	if (!c->context_set || c->context == 0)
		return CM_E_NOCONTEXT;
	load_context(c);
	c->ext_cursor = 0;
	c->ext_enum = 1;
	return CM_OK;
}

static int
cb_enum_ext_next(cm_server_exit *srv, const char **oid)
{
	struct exit_call *c = (struct exit_call *)srv;

	if (oid == NULL || !c->ext_enum)
		return CM_E_INVALIDARG;
	if (!c->have_req || c->ext_cursor >= c->req.nexts) {
		*oid = NULL;
		return CM_S_FALSE;
	}
	*oid = c->req.exts[c->ext_cursor++].oid;
	trace(c, "enumerate_extensions() -> \"%s\"", *oid);
	return CM_OK;
}

static int
cb_enum_ext_close(cm_server_exit *srv)
{
	((struct exit_call *)srv)->ext_enum = 0;
	return CM_OK;
}

static int
cb_enum_attr_setup(cm_server_exit *srv, int32_t flags)
{
	struct exit_call *c = (struct exit_call *)srv;

	if (flags != 0)
		return CM_E_INVALIDARG;
	if (!c->context_set || c->context == 0)
		return CM_E_NOCONTEXT;
	load_context(c);
	c->attr_cursor = 0;
	c->attr_enum = 1;
	return CM_OK;
}

static int
cb_enum_attr_next(cm_server_exit *srv, const char **name)
{
	struct exit_call *c = (struct exit_call *)srv;

	if (name == NULL || !c->attr_enum)
		return CM_E_INVALIDARG;
	if (!c->have_req || c->attr_cursor >= c->req.nattrs) {
		*name = NULL;
		return CM_S_FALSE;
	}
	*name = c->req.attrs[c->attr_cursor++].name;
	trace(c, "enumerate_attributes() -> \"%s\"", *name);
	return CM_OK;
}

static int
cb_enum_attr_close(cm_server_exit *srv)
{
	((struct exit_call *)srv)->attr_enum = 0;
	return CM_OK;
}

static void
cb_log(cm_server_exit *srv, int level, const char *fmt, ...)
{
	struct exit_call *c = (struct exit_call *)srv;
	char		 msg[1024];
	va_list		 ap;

	if (fmt == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	logmsg(level, "exit module %s: %s", c->module, msg);
	trace(c, "log(%d, \"%s\")", level, msg);
	if (level <= CM_LOG_WARN)
		snprintf(c->why, sizeof(c->why), "%.255s", msg);
}

static int
cb_config_get(cm_server_exit *srv, const char *key, const char **value)
{
	struct exit_call *c = (struct exit_call *)srv;
	char		*v;

	if (key == NULL || value == NULL)
		return CM_E_INVALIDARG;
	*value = NULL;
	/* "*": the keys set (SDK 1.2), for a module to name misspelt ones. */
	v = strcmp(key, "*") == 0 ? ca_config_keys(c->ca, c->module) :
	    ca_config_value(c->ca, c->module, key);
	if (v == NULL) {
		trace(c, "config_get(\"%s\") -> CM_E_PROPERTY_EMPTY", key);
		return CM_E_PROPERTY_EMPTY;
	}
	*value = arena_strdup(c, v);
	free(v);
	if (*value == NULL)
		return CM_E_NOMEM;
	trace(c, "config_get(\"%s\") -> \"%s\"", key, *value);
	return CM_OK;
}

void
exit_call_init(struct exit_call *c, struct ca *ca, const char *module,
    const struct db_event *ev)
{
	memset(c, 0, sizeof(*c));
	c->vt.size = sizeof(c->vt);
	c->vt.abi_minor = CM_ABI_MINOR;
	c->vt.set_context = cb_set_context;
	c->vt.get_request_property = cb_get_request_property;
	c->vt.get_request_attribute = cb_get_request_attribute;
	c->vt.get_certificate_property = cb_get_certificate_property;
	c->vt.get_certificate_extension = cb_get_certificate_extension;
	c->vt.get_certificate_extension_flags = cb_get_certificate_extension_flags;
	c->vt.enumerate_extensions_setup = cb_enum_ext_setup;
	c->vt.enumerate_extensions = cb_enum_ext_next;
	c->vt.enumerate_extensions_close = cb_enum_ext_close;
	c->vt.enumerate_attributes_setup = cb_enum_attr_setup;
	c->vt.enumerate_attributes = cb_enum_attr_next;
	c->vt.enumerate_attributes_close = cb_enum_attr_close;
	c->vt.log = cb_log;
	c->vt.config_get = cb_config_get;
	c->ca = ca;
	c->module = module;
	c->ev = ev;
	/* A new ICertServerExit starts at context 0 (the CA). */
	c->context = 0;
	c->context_set = 1;
}
