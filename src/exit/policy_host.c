/*
 * policy_host.c - the active policy module (AD CS's ICertPolicy). The
 * built-in CertMint_Default.Policy runs inline on the CA's fast path; a
 * loadable MyApp.Policy is called through the same server object as exit
 * modules (ICertServerPolicy = the exit getters plus setters for the
 * certificate being built), with the request served from memory because it
 * is not stored yet.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <dlfcn.h>

#include <jansson.h>

#include "exit_host.h"
#include "../lua/luamod.h"

#define DEFAULT_POLICY	"CertMint_Default.Policy"

struct policy_host {
	struct ca	*ca;
	void		*dl;		/* NULL for the built-in policy */
	int		 script;	/* a Lua script: desc is the Lua room's */
	const struct cm_policy *desc;
	void		*state;
	int		 initialized;
	int		 owns;		/* the CA decides with this one */
	pthread_mutex_t	 serial_mu;	/* CM_THREADING_SERIAL modules */
};

/* The server object of one verify_request call. */
struct policy_call {
	struct cm_server_policy pol;
	struct exit_call call;
	struct policy_decision *d;
	const struct cm_config *cfg;	/* the decision's, for its profiles */
};

static int
policy_set_property(cm_server_policy *srv, const char *name,
    const cm_value *v)
{
	struct policy_call *pc = (struct policy_call *)srv;
	const struct cm_profile *p;

	if (name == NULL || v == NULL)
		return CM_E_INVALIDARG;
	if (pc->d == NULL)
		return CM_E_NOCONTEXT;
	if (!strcasecmp(name, "NotBefore") || !strcasecmp(name, "NotAfter")) {
		if (v->type != CM_PROPTYPE_DATE)
			return CM_E_TYPE;
		if (!strcasecmp(name, "NotBefore"))
			pc->d->not_before = v->l;
		else
			pc->d->not_after = v->l;
		return CM_OK;
	}
	if (!strcasecmp(name, "CertificateTemplate") ||
	    !strcasecmp(name, "Profile")) {
		if (v->type != CM_PROPTYPE_STRING || v->data == NULL)
			return CM_E_TYPE;
		/* The profile's own rules apply after the module's verdict. */
		if ((p = profile_find(pc->cfg, v->data)) == NULL)
			return CM_E_INVALIDARG;
		pc->d->profile = p;
		return CM_OK;
	}
	return CM_E_UNSUPPORTED;
}

static int
policy_set_extension(cm_server_policy *srv, const char *oid, int32_t flags,
    const cm_value *v)
{
	struct policy_call *pc = (struct policy_call *)srv;
	struct policy_decision *d = pc->d;
	struct x509_ext	*e;
	const char	*s;

	if (oid == NULL || v == NULL || v->data == NULL || v->len == 0)
		return CM_E_INVALIDARG;
	if (d == NULL)
		return CM_E_NOCONTEXT;
	for (s = oid; *s != '\0'; s++)
		if ((*s < '0' || *s > '9') && *s != '.')
			return CM_E_INVALIDARG;
	if (v->type != CM_PROPTYPE_BINARY)
		return CM_E_TYPE;
	if ((e = reallocarray(d->extra, d->nextra + 1, sizeof(*e))) == NULL)
		return CM_E_NOMEM;
	d->extra = e;
	e = &d->extra[d->nextra];
	e->oid = strdup(oid);
	e->value = malloc(v->len);
	if (e->oid == NULL || e->value == NULL) {
		free(e->oid);
		free(e->value);
		return CM_E_NOMEM;
	}
	memcpy(e->value, v->data, v->len);
	e->len = v->len;
	e->critical = (flags & CM_EXTENSION_CRITICAL_FLAG) != 0;
	d->nextra++;
	return CM_OK;
}

/*
 * A server object for a policy call; d NULL outside verify_request (the
 * setters then answer CM_E_NOCONTEXT).
 */
static void
policy_call_init(struct policy_call *pc, struct ca *ca, const char *name,
    struct policy_decision *d)
{
	memset(pc, 0, sizeof(*pc));
	exit_call_init(&pc->call, ca, name, NULL);
	pc->pol.size = sizeof(pc->pol);
	pc->pol.abi_minor = CM_ABI_MINOR;
	pc->pol.getters = &pc->call.vt;
	pc->pol.set_certificate_property = policy_set_property;
	pc->pol.set_certificate_extension = policy_set_extension;
	pc->d = d;
	pc->cfg = ca_config(ca);
}

/*
 * ca_policy_ops.verify for a loaded module. The built-in policy's limits
 * and validity are computed first as the defaults the module may change
 * with its setters; the module's verdict is final.
 */
static int
policy_module_verify(void *arg, const struct csr *csr,
    const struct db_request *req, int new_request, struct policy_decision *d)
{
	struct policy_host *ph = arg;
	struct policy_call pc;
	int32_t		 disp = CM_VR_INSTANT_BAD;
	char		 msg[sizeof(d->message)] = "";
	int		 rc;

	if (policy_default_verify(ca_config(ph->ca), ca_signer(ph->ca), csr,
	    req->attrs, req->nattrs, 0, d) == -1)
		return -1;
	d->message[0] = '\0';

	policy_call_init(&pc, ph->ca, ph->desc->name, d);
	exit_call_preload(&pc.call, req);

	if (ph->desc->threading != CM_THREADING_CONCURRENT)
		pthread_mutex_lock(&ph->serial_mu);
	rc = ph->desc->verify_request(ph->state, req->id, new_request, 0,
	    &pc.pol, &disp, msg, sizeof(msg));
	if (ph->desc->threading != CM_THREADING_CONCURRENT)
		pthread_mutex_unlock(&ph->serial_mu);
	exit_call_reset(&pc.call);

	if (rc != CM_OK) {
		log_err("policy module %s: verify_request(%" PRId64 ") returned "
		    "%d", ph->desc->name, req->id, rc);
		policy_decision_free(d);
		return -1;
	}
	msg[sizeof(msg) - 1] = '\0';
	switch (disp) {
	case CM_VR_INSTANT_OK:
		d->vr = CM_VR_INSTANT_OK;
		break;
	case CM_VR_PENDING:
		d->vr = CM_VR_PENDING;
		if (msg[0] == '\0')
			strlcpy_cm(msg, "Taken Under Submission", sizeof(msg));
		break;
	default:
		d->vr = CM_VR_INSTANT_BAD;
		if (msg[0] == '\0')
			strlcpy_cm(msg, "Denied by policy module", sizeof(msg));
		break;
	}
	strlcpy_cm(d->message, msg, sizeof(d->message));
	if (d->vr == CM_VR_INSTANT_OK && d->not_after <= d->not_before) {
		snprintf(d->message, sizeof(d->message), "policy module %s set "
		    "NotAfter before NotBefore", ph->desc->name);
		d->vr = CM_VR_INSTANT_BAD;
	}
	return 0;
}

struct policy_host *
policy_host_start(struct ca *ca, char *err, size_t errlen)
{
	struct policy_host *ph;
	struct policy_call pc;
	const char	*name = ca_config(ca)->policy_module;
	char		*dir = NULL, *path = NULL;
	int		 rc;

	if ((ph = calloc(1, sizeof(*ph))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	ph->ca = ca;
	pthread_mutex_init(&ph->serial_mu, NULL);
	if (name == NULL || *name == '\0' || !strcasecmp(name, DEFAULT_POLICY)) {
		ph->desc = policy_default_module();
		ph->state = ca;
		ph->owns = 1;
		ca_set_policy(ca, NULL);
		return ph;
	}
	dir = ca_config_value(ca, "exit", "modules_dir");
	path = path_join(ca_config(ca)->dir, dir ? dir : "modules");
	free(dir);
	dir = path;
	path = dir ? exit_module_file(dir, name) : NULL;
	if (path == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (exit_module_dir_check(path, err, errlen) == -1 ||
	    policy_module_check(path, &ph->dl, &ph->desc, err, errlen) == -1)
		goto fail;
	if (ph->dl == NULL) {
		/* A script: its initialize finds it here (src/lua/luamod.h). */
		ph->script = 1;
		ph->state = (void *)ph->desc;
	}
	if (strcmp(ph->desc->name, name) != 0) {
		snprintf(err, errlen, "%s declares the name \"%s\", not \"%s\"",
		    path, ph->desc->name, name);
		goto fail;
	}
	policy_call_init(&pc, ca, ph->desc->name, NULL);
	rc = ph->desc->initialize(ca_config(ca)->ca_name, &pc.pol, &ph->state);
	exit_call_reset(&pc.call);
	if (rc != CM_OK) {
		snprintf(err, errlen, "policy module %s: initialize returned %d",
		    name, rc);
		goto fail;
	}
	ph->initialized = 1;
	ph->owns = 1;
	ca_set_policy(ca, &(struct ca_policy_ops){ policy_module_verify, ph });
	log_info("policy module %s loaded: %s", name,
	    ph->desc->get_description(ph->state));
	free(dir);
	free(path);
	return ph;
fail:
	free(dir);
	free(path);
	policy_host_stop(ph);
	return NULL;
}

int
policy_host_reload(struct policy_host **php, char *err, size_t errlen)
{
	struct policy_host *old = *php, *ph;
	const char	*want = ca_config(old->ca)->policy_module;

	if (want == NULL || *want == '\0')
		want = DEFAULT_POLICY;
	/* A script is started again: its file may have changed. */
	if (strcmp(want, old->desc->name) == 0 && !old->script)
		return 0;
	/* The new module takes over before the old one unloads. */
	if ((ph = policy_host_start(old->ca, err, errlen)) == NULL)
		return -1;
	old->owns = 0;
	policy_host_stop(old);
	*php = ph;
	return 0;
}

void
policy_host_stop(struct policy_host *ph)
{
	if (ph == NULL)
		return;
	if (ph->owns)
		ca_set_policy(ph->ca, NULL);
	if (ph->initialized && ph->desc->shutdown != NULL)
		ph->desc->shutdown(ph->state);
	if (ph->script)
		luamod_policy_free(ph->desc);
	else if (ph->dl != NULL)
		dlclose(ph->dl);
	pthread_mutex_destroy(&ph->serial_mu);
	free(ph);
}

/*
 * Add the manage-module string property name to obj under key.
 */
static void
show_prop(const cm_manage_module *m, void *state, const char *name,
    json_t *obj, const char *key)
{
	cm_value	 v;

	memset(&v, 0, sizeof(v));
	if (m->get_property(state, name, 0, &v) == CM_OK &&
	    v.type == CM_PROPTYPE_STRING && v.data != NULL)
		json_object_set_new(obj, key, json_string(v.data));
}

int
policy_host_show(struct policy_host *ph, json_t *obj)
{
	const cm_manage_module *m = NULL;

	json_object_set_new(obj, "name", json_string(ph->desc->name));
	json_object_set_new(obj, "builtin", json_boolean(ph->dl == NULL &&
	    !ph->script));
	json_object_set_new(obj, "description",
	    json_string(ph->desc->get_description(ph->state)));
	json_object_set_new(obj, "threading", json_string(ph->desc->threading ==
	    CM_THREADING_CONCURRENT ? "concurrent" : "serial"));
	if (ph->desc->get_manage_module != NULL)
		m = ph->desc->get_manage_module(ph->state);
	if (m != NULL && m->get_property != NULL) {
		show_prop(m, ph->state, CM_CMM_PROP_COPYRIGHT, obj, "copyright");
		show_prop(m, ph->state, CM_CMM_PROP_FILEVER, obj, "file_version");
		show_prop(m, ph->state, CM_CMM_PROP_PRODUCTVER, obj,
		    "product_version");
	}
	return 0;
}

/*
 * The built-in policy as a module descriptor: what `certmint policy show`
 * reports. Deciding goes through policy_default_verify directly, which is
 * the same function without the getter round trips.
 */
static const char *
default_description(void *state)
{
	return "certmint default policy: RequestDisposition issue, pending, "
	    "deny or by request attribute, within the [policy] limits";
}

static int
default_get_property(void *state, const char *name, int32_t flags,
    cm_value *out)
{
	const char	*s = NULL;

	if (!strcasecmp(name, CM_CMM_PROP_NAME))
		s = DEFAULT_POLICY;
	else if (!strcasecmp(name, CM_CMM_PROP_DESCRIPTION))
		s = default_description(state);
	else if (!strcasecmp(name, CM_CMM_PROP_COPYRIGHT))
		s = "Copyright (c) the certmint authors, ISC license";
	else if (!strcasecmp(name, CM_CMM_PROP_FILEVER) ||
	    !strcasecmp(name, CM_CMM_PROP_PRODUCTVER))
		s = CM_VERSION;
	if (s == NULL)
		return CM_E_PROPERTY_EMPTY;
	out->type = CM_PROPTYPE_STRING;
	out->data = s;
	out->len = strlen(s);
	return CM_OK;
}

static const cm_manage_module default_manage = {
	sizeof(cm_manage_module), default_get_property, NULL, NULL
};

static const cm_manage_module *
default_manage_module(void *state)
{
	return &default_manage;
}

/*
 * The built-in module's state is the CA itself: policy_host_start sets it,
 * since the limits live in the CA's [policy] section.
 */
static int
default_initialize(const char *config, cm_server_policy *srv, void **state)
{
	return CM_OK;
}

static int
default_set_date(cm_server_policy *srv, const char *name, int64_t t)
{
	cm_value	 v = { CM_PROPTYPE_DATE, t, NULL, 0 };

	return srv->set_certificate_property(srv, name, &v);
}

/*
 * The default policy through the ABI, for hosts that only have the
 * server object: reads RawRequest and the attributes with the getters and
 * decides as policy_default_verify does.
 */
static int
default_verify_request(void *state, int64_t context, int new_request,
    int32_t flags, cm_server_policy *srv, int32_t *disposition,
    char *message, size_t message_size)
{
	struct ca	*ca = state;
	cm_server_exit	*g = srv->getters;
	struct policy_decision d;
	struct db_attr	*attrs = NULL;
	struct csr	 csr;
	cm_value	 raw, v;
	const char	*name, *val;
	char		 err[256];
	size_t		 n = 0;
	int		 rc = CM_E_FAIL;

	memset(&csr, 0, sizeof(csr));
	memset(&d, 0, sizeof(d));
	if (ca == NULL)
		return CM_E_NOCONTEXT;
	if ((rc = g->set_context(g, context)) != CM_OK ||
	    (rc = g->get_request_property(g, "RawRequest", CM_PROPTYPE_BINARY,
	    &raw)) != CM_OK)
		return rc;
	if (csr_parse(raw.data, raw.len, &csr, err, sizeof(err)) == -1) {
		*disposition = CM_VR_INSTANT_BAD;
		snprintf(message, message_size, "%s", err);
		return CM_OK;
	}
	if (g->enumerate_attributes_setup(g, 0) == CM_OK) {
		while (g->enumerate_attributes(g, &name) == CM_OK &&
		    n < 256) {
			if (g->get_request_attribute(g, name, &val) != CM_OK)
				continue;
			attrs = reallocarray(attrs, n + 1, sizeof(*attrs));
			if (attrs == NULL)
				goto out;
			attrs[n].name = (char *)name;
			attrs[n].value = (char *)val;
			n++;
		}
		g->enumerate_attributes_close(g);
	}
	if (policy_default_verify(ca_config(ca), ca_signer(ca), &csr, attrs, n,
	    new_request, &d) == -1)
		goto out;
	*disposition = d.vr;
	snprintf(message, message_size, "%s", d.message);
	rc = CM_OK;
	if (d.vr != CM_VR_INSTANT_BAD) {
		v.type = CM_PROPTYPE_STRING;
		v.data = d.profile->name;
		v.len = strlen(v.data);
		if ((rc = default_set_date(srv, "NotBefore", d.not_before)) ==
		    CM_OK && (rc = default_set_date(srv, "NotAfter",
		    d.not_after)) == CM_OK)
			rc = srv->set_certificate_property(srv,
			    "CertificateTemplate", &v);
	}
out:
	free(attrs);	/* names and values belong to the server object */
	csr_free(&csr);
	policy_decision_free(&d);
	return rc;
}

static const struct cm_policy default_policy = {
	CM_POLICY_MAGIC, CM_ABI_MAJOR, CM_ABI_MINOR, sizeof(struct cm_policy),
	DEFAULT_POLICY, CM_THREADING_CONCURRENT,
	default_initialize, default_verify_request, default_description,
	default_manage_module, NULL
};

const struct cm_policy *
policy_default_module(void)
{
	return &default_policy;
}
