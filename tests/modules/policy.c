/*
 * policy.c - Test.Policy, a loadable policy module (AD CS's ICertPolicy)
 * for tests/integration/policy.sh. It decides from the request attribute
 * "Decision":
 *
 *   deny     VR_INSTANT_BAD, message "Test.Policy denies <Request.CommonName>"
 *   pending  VR_PENDING, message "Test.Policy: waiting for an officer"
 *   error    returns CM_E_FAIL (the CA must record an internal failure)
 *   other    VR_INSTANT_OK
 *
 * A resubmission (new_request 0) is an officer's approval: VR_INSTANT_OK
 * (the CA then records AD CS's "Resubmitted by <officer>").
 * Every issued certificate gets, through the setters, profile tls-client
 * (or the one the attribute "PickProfile" names: CM_E_INVALIDARG for an
 * unknown one is answered as a denial naming it),
 * a validity of 3 days, and the extension 1.3.6.1.4.1.55555.1.1 (a
 * UTF8String "<policy config value 'tag'>/<RequestID>"). Its config
 * section may set "tag" (default "test").
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <certmint/policy.h>

#define EXT_OID	"1.3.6.1.4.1.55555.1.1"

static int	 initialized;

static int
tp_initialize(const char *config, cm_server_policy *srv, void **state)
{
	(void)config;
	(void)srv;
	initialized = 1;
	*state = &initialized;
	return CM_OK;
}

static int
tp_verify(void *state, int64_t context, int new_request, int32_t flags,
    cm_server_policy *srv, int32_t *disposition, char *message,
    size_t message_size)
{
	cm_server_exit	*g = srv->getters;
	const char	*decision = NULL, *tag = NULL, *pick = NULL;
	cm_value	 v, cn;
	unsigned char	 ext[128];
	char		 text[100];
	size_t		 n;
	int64_t		 now = (int64_t)time(NULL);

	(void)state;
	(void)flags;
	if (g->set_context(g, context) != CM_OK)
		return CM_E_FAIL;
	if (g->get_request_attribute(g, "Decision", &decision) != CM_OK)
		decision = "";
	if (new_request && strcmp(decision, "error") == 0)
		return CM_E_FAIL;
	if (new_request && strcmp(decision, "deny") == 0) {
		if (g->get_request_property(g, "Request.CommonName",
		    CM_PROPTYPE_STRING, &cn) != CM_OK)
			cn.data = "?";
		snprintf(message, message_size, "Test.Policy denies %s",
		    (const char *)cn.data);
		*disposition = CM_VR_INSTANT_BAD;
		return CM_OK;
	}
	if (new_request && strcmp(decision, "pending") == 0) {
		snprintf(message, message_size, "Test.Policy: waiting for an "
		    "officer");
		*disposition = CM_VR_PENDING;
		return CM_OK;
	}

	/* Issue, and shape the certificate with the setters. */
	if (g->get_request_attribute(g, "PickProfile", &pick) != CM_OK)
		pick = "tls-client";
	v.type = CM_PROPTYPE_STRING;
	v.data = pick;
	v.len = strlen(v.data);
	switch (srv->set_certificate_property(srv, "CertificateTemplate", &v)) {
	case CM_OK:
		break;
	case CM_E_INVALIDARG:
		snprintf(message, message_size, "Test.Policy: no profile %s",
		    pick);
		*disposition = CM_VR_INSTANT_BAD;
		return CM_OK;
	default:
		return CM_E_FAIL;
	}
	v.type = CM_PROPTYPE_DATE;
	v.l = now - 60;
	v.data = NULL;
	v.len = 0;
	if (srv->set_certificate_property(srv, "NotBefore", &v) != CM_OK)
		return CM_E_FAIL;
	v.l = now + 3 * 86400;
	if (srv->set_certificate_property(srv, "NotAfter", &v) != CM_OK)
		return CM_E_FAIL;
	/* An unknown property is refused, not ignored. */
	if (srv->set_certificate_property(srv, "Subject.Flavour", &v) !=
	    CM_E_UNSUPPORTED)
		return CM_E_FAIL;

	if (g->config_get(g, "tag", &tag) != CM_OK || tag == NULL)
		tag = "test";
	if (g->get_request_property(g, "RequestID", CM_PROPTYPE_LONG, &v) !=
	    CM_OK)
		return CM_E_FAIL;
	n = (size_t)snprintf(text, sizeof(text), "%s/%lld", tag, (long long)v.l);
	if (n >= sizeof(text) || n > 127 - 2)
		return CM_E_FAIL;
	ext[0] = 0x0c;		/* UTF8String */
	ext[1] = (unsigned char)n;
	memcpy(ext + 2, text, n);
	v.type = CM_PROPTYPE_BINARY;
	v.data = ext;
	v.len = n + 2;
	if (srv->set_certificate_extension(srv, EXT_OID, 0, &v) != CM_OK)
		return CM_E_FAIL;
	snprintf(message, message_size, "Issued by Test.Policy");
	*disposition = CM_VR_INSTANT_OK;
	return CM_OK;
}

static const char *
tp_description(void *state)
{
	(void)state;
	return "certmint test policy module";
}

static void
tp_shutdown(void *state)
{
	(void)state;
	initialized = 0;
}

static const struct cm_policy test_policy = {
	CM_POLICY_MAGIC, CM_ABI_MAJOR, CM_ABI_MINOR, sizeof(struct cm_policy),
	"Test.Policy", CM_THREADING_SERIAL,
	tp_initialize, tp_verify, tp_description, NULL, tp_shutdown
};

CM_POLICY_MODULE(test_policy)
