/*
 * mail.c - CertMint_Mail.Exit: AD CS's SMTP exit module for certmint
 * (docs/modules/mail.md). For each event in EventFilter it renders that
 * event's templates and sends one message through the configured relay.
 *
 * Serial: one connection is kept open and reused from one event to the
 * next, and mail leaves in the order the events happened. The host never
 * calls a serial module twice at once, notify and configure included, so
 * the state needs no lock.
 *
 * A notifier sends the event as it was: the properties are those of the
 * event (the host's snapshot), whatever happened since. Failures:
 * transient (a 4xx reply, a network error) are retried by the host with
 * its backoff; a 5xx reply, or an event that has no sender or recipient,
 * is permanent (a dead letter with the cause); a setup that cannot work
 * for any event (AUTH refused, TLS not offered or not trusted) suspends
 * the module until `certmint exit resume`, its events kept.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mail.h"

struct mail {
	struct mail_conf conf;
	struct mail_smtp *smtp;
};

static int
mail_initialize(const char *config, cm_server_exit *srv, void **state,
    int32_t *event_mask)
{
	struct mail	*m;
	char		 err[1024];

	(void)config;
	if ((m = calloc(1, sizeof(*m))) == NULL)
		return CM_E_NOMEM;
	if (mail_smtp_global_init() == -1) {
		srv->log(srv, CM_LOG_ERROR, "libcurl does not initialize");
		free(m);
		return CM_E_FAIL;
	}
	if (mail_conf_read(srv, &m->conf, err, sizeof(err)) == -1) {
		srv->log(srv, CM_LOG_ERROR, "%s", err);
		mail_smtp_global_cleanup();
		free(m);
		return CM_E_INVALIDARG;
	}
	if ((m->smtp = mail_smtp_new()) == NULL) {
		mail_conf_free(&m->conf);
		mail_smtp_global_cleanup();
		free(m);
		return CM_E_NOMEM;
	}
	*state = m;
	/*
	 * Every event: EventFilter is applied in notify, so that `certmint
	 * exit set ... EventFilter` takes effect without a new load.
	 */
	*event_mask = CM_EXITEVENT_ALL;
	return CM_OK;
}

/* A CM_E_* an older server (ABI 1.0) does not know is a plain failure. */
static int
outcome(cm_server_exit *srv, int code)
{
	return srv->abi_minor >= 1 ? code : CM_E_FAIL;
}

static int
mail_notify(void *state, int32_t event, int64_t context, cm_server_exit *srv)
{
	struct mail	*m = state;
	struct mail_msg	 msg;
	enum mail_result res;
	char		 why[1024];

	if (mail_event_index(event) == -1)
		return CM_OK;
	/*
	 * AD CS tells a release from hold as a revocation: without an
	 * Unrevoked filter bit it goes out with the Revoked template.
	 */
	if (event == CM_EXITEVENT_CERTUNREVOKED &&
	    !(m->conf.filter & event) &&
	    (m->conf.filter & CM_EXITEVENT_CERTREVOKED))
		event = CM_EXITEVENT_CERTREVOKED;
	if (!(m->conf.filter & event))
		return CM_OK;
	why[0] = '\0';
	res = mail_msg_build(srv, &m->conf, event, context, &msg, why,
	    sizeof(why));
	if (res == MAIL_SENT) {
		res = mail_smtp_send(m->smtp, &m->conf, &msg, why, sizeof(why));
		if (res == MAIL_SENT)
			srv->log(srv, CM_LOG_DEBUG, "%s mail for context %lld "
			    "sent to %zu recipient(s)",
			    mu_event_adcs_name(event), (long long)context,
			    msg.nrcpt);
		mail_msg_free(&msg);
	}
	switch (res) {
	case MAIL_SENT:
		return CM_OK;
	case MAIL_PERMANENT:
		srv->log(srv, CM_LOG_ERROR, "%s mail not sent, never will be: "
		    "%s", mu_event_adcs_name(event), why);
		return outcome(srv, CM_E_PERMANENT);
	case MAIL_SUSPEND:
		srv->log(srv, CM_LOG_ERROR, "suspending (fix the settings, then "
		    "`certmint exit resume %s`): %s", MAIL_NAME, why);
		return outcome(srv, CM_E_SUSPEND);
	default:
		srv->log(srv, CM_LOG_WARN, "%s mail not sent, will retry: %s",
		    mu_event_adcs_name(event), why);
		return CM_E_FAIL;
	}
}

static const char *
mail_get_description(void *state)
{
	(void)state;
	return "Mail exit module: mails the events in EventFilter through an "
	    "SMTP relay (AD CS's SMTP exit module)";
}

static int
mail_get_property(void *state, const char *name, int32_t flags,
    cm_value *out)
{
	(void)state;
	(void)flags;
	return mu_manage_info(name, "CertMint Mail Exit Module",
	    "Sends an e-mail per CA event, from AD CS style templates, over "
	    "SMTP with STARTTLS or TLS", out);
}

/*
 * `certmint exit set CertMint_Mail.Exit KEY VALUE`: a key of the module
 * with a value it takes is accepted (the host saves it and has the module
 * reread its section); an unknown key is CM_S_FALSE.
 */
static int
mail_set_property(void *state, const char *name, int32_t flags,
    const cm_value *value)
{
	struct mail	*m = state;
	char		 err[512], *v;
	int		 rc;

	(void)flags;
	if (value->type != CM_PROPTYPE_STRING)
		return CM_E_TYPE;
	if ((v = strndup(value->data, value->len)) == NULL)
		return CM_E_NOMEM;
	rc = mail_conf_check_value(name, v, &m->conf, err, sizeof(err));
	free(v);
	if (rc == 0)
		return CM_OK;
	return strstr(err, "not a setting") != NULL ? CM_S_FALSE :
	    CM_E_INVALIDARG;
}

/*
 * configure: with CM_CMM_REFRESHONLY reread the section (the running
 * settings stay when the new ones are wrong); without, check the section
 * as it is now and test the server (EHLO, STARTTLS, AUTH), changing
 * nothing.
 */
static int
mail_configure(void *state, cm_server_exit *srv, int32_t flags,
    char *report, size_t size)
{
	struct mail	*m = state;
	struct mail_conf c;
	char		 err[1024], sum[512];
	enum mail_result res;

	if (mail_conf_read(srv, &c, err, sizeof(err)) == -1) {
		snprintf(report, size, "%s", err);
		return CM_E_INVALIDARG;
	}
	mail_conf_summary(&c, sum, sizeof(sum));
	if (flags & CM_CMM_REFRESHONLY) {
		mail_conf_free(&m->conf);
		m->conf = c;
		/* A connection made with the old settings is not reused. */
		mail_smtp_reset(m->smtp);
		snprintf(report, size, "reread; %s", sum);
		return CM_OK;
	}
	res = mail_smtp_check(&c, err, sizeof(err));
	snprintf(report, size, "%s; %s", err, sum);
	mail_conf_free(&c);
	return res == MAIL_SENT ? CM_OK : CM_E_FAIL;
}

static const cm_manage_module mail_manage = {
	sizeof(cm_manage_module),
	mail_get_property,
	mail_set_property,
	mail_configure,
};

static const cm_manage_module *
mail_get_manage_module(void *state)
{
	(void)state;
	return &mail_manage;
}

static void
mail_shutdown(void *state)
{
	struct mail	*m = state;

	mail_smtp_free(m->smtp);
	mail_conf_free(&m->conf);
	free(m);
	mail_smtp_global_cleanup();
}

static const struct cm_exit mail_exit = {
	CM_EXIT_MAGIC, CM_ABI_MAJOR, CM_ABI_MINOR, sizeof(struct cm_exit),
	MAIL_NAME,
	CM_THREADING_SERIAL,
	mail_initialize,
	mail_notify,
	mail_get_description,
	mail_get_manage_module,
	mail_shutdown,
};

CM_EXIT_MODULE(mail_exit)
