/*
 * harness.c - `certmint exit test`: run one exit module outside the daemon
 * against a throwaway CA. The CA performs every action that raises an event
 * (issue, pend, resubmit, retrieve, deny, revoke, hold and release, CRL,
 * import, startup, shutdown), so the module reads real rows through the
 * same server object the daemon gives it; every callback and its result is
 * printed.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "exit_host.h"

/* After crypto.h: x509v3.h's CRL_REASON_* macros equal its enum values. */
#include <openssl/x509v3.h>

static void harness_trace(void *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static void
harness_trace(void *arg, const char *fmt, ...)
{
	FILE	*out = arg;
	va_list	 ap;

	if (fmt == NULL)
		return;
	fputs("    ", out);
	va_start(ap, fmt);
	vfprintf(out, fmt, ap);
	va_end(ap);
	fputc('\n', out);
}

/*
 * A P-256 request for CN=test.example.com with a DNS subjectAltName, DER.
 * Returns 0 or -1.
 */
static int
harness_csr(unsigned char **der, size_t *len)
{
	EVP_PKEY	*key = NULL;
	X509_REQ	*req = NULL;
	X509_NAME	*name;
	X509_EXTENSION	*ext = NULL;
	STACK_OF(X509_EXTENSION) *exts = NULL;
	unsigned char	*p;
	int		 n, rc = -1;
	char		 err[128];

	*der = NULL;
	if (key_generate(KEY_EC_P256, &key, err, sizeof(err)) == -1 ||
	    (req = X509_REQ_new()) == NULL ||
	    (name = X509_REQ_get_subject_name(req)) == NULL ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
	    (const unsigned char *)"test.example.com", -1, -1, 0) ||
	    !X509_REQ_set_pubkey(req, key) ||
	    (ext = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name,
	    "DNS:test.example.com")) == NULL ||
	    (exts = sk_X509_EXTENSION_new_null()) == NULL ||
	    !sk_X509_EXTENSION_push(exts, ext))
		goto out;
	ext = NULL;
	if (!X509_REQ_add_extensions(req, exts) ||
	    !X509_REQ_sign(req, key, EVP_sha256()) ||
	    (n = i2d_X509_REQ(req, NULL)) <= 0 ||
	    (*der = malloc((size_t)n)) == NULL)
		goto out;
	p = *der;
	i2d_X509_REQ(req, &p);
	*len = (size_t)n;
	rc = 0;
out:
	X509_EXTENSION_free(ext);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_REQ_free(req);
	EVP_PKEY_free(key);
	return rc;
}

/*
 * Create the throwaway CA in dir: key, self-signed certificate and a config
 * whose policy decides by the request's Disposition attribute, with the
 * module's own section filled from settings ("key=value").
 */
static int
harness_ca(const struct exit_test_opts *o, const char *module, char *conf,
    size_t conflen, char *err, size_t errlen)
{
	EVP_PKEY	*key = NULL;
	unsigned char	*der = NULL;
	char		*pem = NULL, *path = NULL;
	struct buf	 b;
	struct store	*st;
	size_t		 len, i;
	int		 rc = -1;

	memset(&b, 0, sizeof(b));
	if (key_generate(KEY_EC_P256, &key, err, errlen) == -1 ||
	    (path = path_join(o->dir, "ca.key")) == NULL ||
	    key_write(path, key, err, errlen) == -1 ||
	    ca_selfsign(key, "CN=certmint exit test CA", 30, "sha256", &der,
	    &len, err, errlen) == -1)
		goto out;
	free(path);
	if ((pem = pem_encode("CERTIFICATE", der, len)) == NULL ||
	    (path = path_join(o->dir, "ca.crt")) == NULL ||
	    file_write_atomic(path, pem, strlen(pem), 0644) == -1) {
		snprintf(err, errlen, "cannot write the test CA certificate");
		goto out;
	}
	buf_printf(&b, "; written by certmint exit test\n"
	    "[ca]\nname = certmint exit test CA\n"
	    "[server]\nport = 0\n"
	    "[policy]\nrequest_disposition = attribute\n"
	    "[%s]\n", module);
	for (i = 0; i < o->nsettings; i++) {
		const char *eq = strchr(o->settings[i], '=');

		if (eq == NULL || eq == o->settings[i]) {
			snprintf(err, errlen, "--set \"%s\": expected KEY=VALUE",
			    o->settings[i]);
			goto out;
		}
		buf_printf(&b, "%.*s = %s\n", (int)(eq - o->settings[i]),
		    o->settings[i], eq + 1);
	}
	free(path);
	if ((path = path_join(o->dir, "certmint.conf")) == NULL ||
	    b.data == NULL || file_write_atomic(path, b.data, b.len, 0600) == -1) {
		snprintf(err, errlen, "cannot write the test CA configuration");
		goto out;
	}
	strlcpy_cm(conf, path, conflen);
	/* As certmint init does: the CA never creates its database. */
	free(path);
	if ((path = path_join(o->dir, "certmint.db")) == NULL ||
	    (st = store_open(path, STORE_CREATE, err, errlen)) == NULL)
		goto out;
	store_close(st);
	rc = 0;
out:
	EVP_PKEY_free(key);
	free(der);
	free(pem);
	free(path);
	buf_free(&b);
	return rc;
}

/* Say what an action did, or why it failed. */
static void
harness_step(FILE *out, const char *what, int rc, const struct ca_result *r)
{
	if (rc == 0)
		fprintf(out, "  %s: request %" PRId64 " %s\n", what,
		    r->req.id, r->error[0] ? r->error : "ok");
	else
		fprintf(out, "  %s: %s\n", what, r->error);
}

/*
 * Run the actions that raise every event. Returns 0 or -1 (an action the
 * test needs failed).
 */
static int
harness_actions(struct ca *ca, const struct exit_test_opts *o,
    const unsigned char *csr, size_t csrlen, FILE *out)
{
	struct db_attr	*attrs;
	struct ca_result r;
	struct cert_template tpl;
	struct csr	 parsed;
	unsigned char	*der = NULL;
	char		*serial = NULL, err[256];
	size_t		 len, i, n = o->nattrs;
	int64_t		 pending;
	int		 rc, ret = -1;

	memset(&parsed, 0, sizeof(parsed));
	if ((attrs = calloc(n + 1, sizeof(*attrs))) == NULL)
		return -1;
	if (n > 0)
		memcpy(attrs, o->attrs, n * sizeof(*attrs));

	/*
	 * The certificate held and released below: a tls-client one unless
	 * the caller chose a template (tls-server certificates take no hold).
	 */
	for (i = 0; i < n; i++)
		if (attr_name_eq(attrs[i].name, "CertificateTemplate"))
			break;
	attrs[n].name = "CertificateTemplate";
	attrs[n].value = "tls-client";
	rc = ca_submit(ca, csr, csrlen, attrs, i < n ? n : n + 1, "exit-test",
	    "exit-test", &r);
	harness_step(out, "submit (issue)", rc, &r);
	if (rc == -1 || !r.has_cert)
		goto fail;
	serial = xstrdup(r.cert.serial);
	ca_result_free(&r);

	attrs[n].name = "Disposition";
	attrs[n].value = "pending";
	rc = ca_submit(ca, csr, csrlen, attrs, n + 1, "exit-test", "exit-test",
	    &r);
	harness_step(out, "submit (pending)", rc, &r);
	pending = r.req.id;
	ca_result_free(&r);
	rc = ca_resubmit(ca, pending, "exit-test", &r);
	harness_step(out, "resubmit", rc, &r);
	ca_result_free(&r);
	rc = ca_retrieve(ca, pending, &r);
	harness_step(out, "retrieve", rc, &r);
	ca_result_free(&r);

	attrs[n].value = "deny";
	rc = ca_submit(ca, csr, csrlen, attrs, n + 1, "exit-test", "exit-test",
	    &r);
	harness_step(out, "submit (deny)", rc, &r);
	ca_result_free(&r);

	rc = ca_revoke(ca, serial, CRL_REASON_CERTIFICATE_HOLD, 0, "exit-test",
	    &r);
	harness_step(out, "revoke (certificateHold)", rc, &r);
	ca_result_free(&r);
	rc = ca_unrevoke(ca, serial, "exit-test", &r);
	harness_step(out, "unrevoke", rc, &r);
	ca_result_free(&r);
	rc = ca_revoke(ca, serial, CRL_REASON_KEY_COMPROMISE, 0, "exit-test",
	    &r);
	harness_step(out, "revoke (keyCompromise)", rc, &r);
	ca_result_free(&r);
	rc = ca_publish_crl(ca, 0, &r);
	fprintf(out, "  crl: %s\n", rc == 0 ? "published" : r.error);
	ca_result_free(&r);

	/* A certificate of this CA that its database does not know. */
	memset(&tpl, 0, sizeof(tpl));
	if (csr_parse(csr, csrlen, &parsed, err, sizeof(err)) == -1 ||
	    serial_generate(tpl.serial) == -1)
		goto fail;
	tpl.subject = parsed.subject;
	tpl.subject_len = parsed.subject_len;
	tpl.spki = parsed.spki;
	tpl.spki_len = parsed.spki_len;
	tpl.sans = parsed.sans;
	tpl.nsans = parsed.nsans;
	tpl.profile = profile_builtin(PROFILE_TLS_SERVER);
	tpl.not_before = time_now() - 60;
	tpl.not_after = time_now() + 86400;
	if (cert_build(ca_signer(ca), &tpl, &der, &len, NULL) == -1)
		goto fail;
	rc = ca_import(ca, der, len, "exit-test", &r);
	harness_step(out, "import", rc, &r);
	ca_result_free(&r);
	ret = 0;
fail:
	if (ret == -1)
		ca_result_free(&r);
	csr_free(&parsed);
	free(der);
	free(serial);
	free(attrs);
	return ret;
}

struct harness_run {
	const struct exit_test_opts *o;
	struct ca	*ca;
	struct exit_module *mod;
	int		 delivered, failed;
};

/*
 * Deliver one recorded event to the module, printing every callback.
 */
static int
harness_deliver(void *arg, const struct db_event *ev)
{
	struct harness_run *h = arg;
	struct exit_call call;
	struct db_event	 evm;
	FILE		*out = h->o->out;
	int64_t		 context;
	int32_t		 want = h->o->events ? h->o->events : CM_EXITEVENT_ALL;
	int32_t		 bit;
	int		 rc;

	if ((bit = exit_event_for_mask(h->mod->mask & want, ev->event)) == 0)
		return 0;
	evm = *ev;
	evm.event = bit;
	ev = &evm;
	context = (ev->event == CM_EXITEVENT_CRLISSUED ||
	    ev->event == CM_EXITEVENT_STARTUP ||
	    ev->event == CM_EXITEVENT_SHUTDOWN) ? 0 : ev->context;
	fprintf(out, "\nnotify(%s, context %" PRId64 ")  [EventSequence %"
	    PRId64 "]\n", exit_event_name(ev->event), context, ev->seq);
	exit_call_init(&call, h->ca, h->mod->name, ev);
	call.trace = harness_trace;
	call.trace_arg = out;
	rc = h->mod->desc->notify(h->mod->state, ev->event, context, &call.vt);
	exit_call_reset(&call);
	fprintf(out, "  -> %d%s\n", rc, rc == CM_OK ? " (CM_OK)" :
	    rc == CM_S_FALSE ? " (CM_S_FALSE: a success)" :
	    rc == CM_E_PERMANENT ? " (CM_E_PERMANENT: the daemon would "
	    "dead-letter it at once)" : rc == CM_E_SUSPEND ? " (CM_E_SUSPEND: "
	    "the daemon would suspend the module)" :
	    " (failure: the daemon would retry)");
	rc = exit_notify_rc(rc);
	h->delivered++;
	if (rc != CM_OK)
		h->failed++;
	return 0;
}

/*
 * Print the description and the manage-module properties.
 */
static void
harness_describe(struct exit_module *m, FILE *out)
{
	static const char *const props[] = {
		CM_CMM_PROP_NAME, CM_CMM_PROP_DESCRIPTION, CM_CMM_PROP_COPYRIGHT,
		CM_CMM_PROP_FILEVER, CM_CMM_PROP_PRODUCTVER
	};
	const cm_manage_module *mm = NULL;
	char		 mask[256];
	cm_value	 v;
	size_t		 i;
	int		 rc;

	exit_mask_text(m->mask, mask, sizeof(mask));
	fprintf(out, "\nget_description() -> \"%s\"\nevent mask: 0x%x %s\n",
	    m->desc->get_description(m->state), (unsigned)m->mask, mask);
	if (m->desc->get_manage_module != NULL)
		mm = m->desc->get_manage_module(m->state);
	if (mm == NULL || mm->get_property == NULL) {
		fprintf(out, "manage module: none\n");
		return;
	}
	for (i = 0; i < sizeof(props) / sizeof(props[0]); i++) {
		memset(&v, 0, sizeof(v));
		rc = mm->get_property(m->state, props[i], 0, &v);
		if (rc == CM_OK && v.type == CM_PROPTYPE_STRING && v.data != NULL)
			fprintf(out, "manage get_property(\"%s\") -> \"%s\"\n",
			    props[i], (const char *)v.data);
		else
			fprintf(out, "manage get_property(\"%s\") -> %d\n",
			    props[i], rc);
	}
}

int
exit_test_run(const struct exit_test_opts *o, char *err, size_t errlen)
{
	struct exit_module mod;
	struct exit_call call;
	struct harness_run h;
	struct ca	*ca = NULL;
	unsigned char	*csr = NULL;
	size_t		 csrlen;
	char		 conf[4096];
	int		 rc, ret = -1, started = 0;

	memset(&mod, 0, sizeof(mod));
	memset(&h, 0, sizeof(h));
	if (exit_module_open(o->module_path, NULL, &mod, err, errlen) == -1)
		return -1;
	fprintf(o->out, "module %s (%s), ABI %u.%u, %s threading\n", mod.name,
	    o->module_path, mod.desc->abi_major, mod.desc->abi_minor,
	    mod.desc->threading == CM_THREADING_CONCURRENT ? "concurrent" :
	    "serial");
	if (o->csr != NULL) {
		if ((csr = malloc(o->csr_len)) == NULL)
			goto out;
		memcpy(csr, o->csr, o->csr_len);
		csrlen = o->csr_len;
	} else if (harness_csr(&csr, &csrlen) == -1) {
		snprintf(err, errlen, "cannot make a test request");
		goto out;
	}
	if (harness_ca(o, mod.name, conf, sizeof(conf), err, errlen) == -1 ||
	    ca_open(&ca, conf, err, errlen) == -1)
		goto out;

	fprintf(o->out, "\ninitialize(\"%s\")\n", ca_config(ca)->ca_name);
	exit_call_init(&call, ca, mod.name, NULL);
	call.trace = harness_trace;
	call.trace_arg = o->out;
	rc = mod.desc->initialize(ca_config(ca)->ca_name, &call.vt, &mod.state,
	    &mod.mask);
	exit_call_reset(&call);
	fprintf(o->out, "  -> %d\n", rc);
	if (rc != CM_OK) {
		snprintf(err, errlen, "%s: initialize returned %d", mod.name, rc);
		goto out;
	}
	mod.initialized = 1;
	harness_describe(&mod, o->out);

	if (ca_start(ca) == -1) {
		snprintf(err, errlen, "cannot start the test CA");
		goto out;
	}
	started = 1;
	fprintf(o->out, "\nCA actions in %s:\n", o->dir);
	if (harness_actions(ca, o, csr, csrlen, o->out) == -1) {
		snprintf(err, errlen, "the test CA could not act on the request "
		    "(see above)");
		goto out;
	}
	ca_stop(ca);

	h.o = o;
	h.ca = ca;
	h.mod = &mod;
	if (ca_reader(ca) == NULL || store_events_after(ca_reader(ca), 0, 1000,
	    harness_deliver, &h) != 0) {
		snprintf(err, errlen, "cannot read the test CA's events");
		goto out;
	}
	fprintf(o->out, "\nshutdown()\n%d events delivered, %d failed\n",
	    h.delivered, h.failed);
	ret = h.failed ? 1 : 0;
out:
	if (ca != NULL) {
		if (started)
			ca_stop(ca);
		ca_close(ca);
	}
	exit_module_close(&mod);
	free(csr);
	return ret;
}
