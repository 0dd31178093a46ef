/*
 * mail_smtp.c - sending a message with libcurl's SMTP: plain, STARTTLS
 * (required, never opportunistic) or implicit TLS, AUTH PLAIN or LOGIN,
 * and what the server's reply means for the event (transient, permanent,
 * or a setup that is wrong for every event). One easy handle per module
 * state keeps the connection open from one event to the next.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "mail.h"

struct mail_smtp {
	CURL		*curl;
	char		 errbuf[CURL_ERROR_SIZE];
	char		 reply[256];	/* the server's last refusal */
	int		 auth_sent;	/* an AUTH command went out */
};

/* Reading the message for curl's upload. */
struct upload {
	const char	*p;
	size_t		 left;
};

int
mail_smtp_global_init(void)
{
	/* Thread-safe and counted since curl 7.84, as every module needs. */
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

void
mail_smtp_global_cleanup(void)
{
	curl_global_cleanup();
}

struct mail_smtp *
mail_smtp_new(void)
{
	return calloc(1, sizeof(struct mail_smtp));
}

void
mail_smtp_reset(struct mail_smtp *s)
{
	if (s->curl != NULL)
		curl_easy_cleanup(s->curl);	/* sends QUIT */
	s->curl = NULL;
}

void
mail_smtp_free(struct mail_smtp *s)
{
	if (s == NULL)
		return;
	mail_smtp_reset(s);
	free(s);
}

static size_t
upload_read(char *buf, size_t size, size_t n, void *arg)
{
	struct upload	*u = arg;
	size_t		 k = size * n;

	if (k > u->left)
		k = u->left;
	memcpy(buf, u->p, k);
	u->p += k;
	u->left -= k;
	return k;
}

/*
 * Keep the server's last reply line (what it said when it refused) for
 * the cause. Only what the server sends is looked at: the AUTH exchange
 * we send is never copied anywhere.
 */
static int
debug_cb(CURL *curl, curl_infotype type, char *data, size_t n, void *arg)
{
	struct mail_smtp *s = arg;
	size_t		 i;

	(void)curl;
	if (type == CURLINFO_HEADER_OUT && n >= 5 &&
	    strncmp(data, "AUTH ", 5) == 0)
		s->auth_sent = 1;
	/* A refusal (4xx, 5xx), not the QUIT that may follow it. */
	if (type != CURLINFO_HEADER_IN || n < 3 || (data[0] != '4' &&
	    data[0] != '5'))
		return 0;
	while (n > 0 && (data[n - 1] == '\r' || data[n - 1] == '\n'))
		n--;
	if (n >= sizeof(s->reply))
		n = sizeof(s->reply) - 1;
	for (i = 0; i < n; i++)
		s->reply[i] = (unsigned char)data[i] < 0x20 ? ' ' : data[i];
	s->reply[n] = '\0';
	return 0;
}

/* The options every transfer shares: where, how secure, who. */
static int
setup(struct mail_smtp *s, const struct mail_conf *c)
{
	static const char *const login[MAIL_AUTH__MAX] = { NULL, "AUTH=PLAIN",
	    "AUTH=LOGIN" };
	char		 url[512];
	int		 v6 = strchr(c->server, ':') != NULL &&
			    c->server[0] != '[';
	CURLcode	 rc = CURLE_OK;

	if (s->curl == NULL && (s->curl = curl_easy_init()) == NULL)
		return -1;
	snprintf(url, sizeof(url), "%s://%s%s%s:%lld/%s",
	    c->tls == MAIL_TLS_IMPLICIT ? "smtps" : "smtp", v6 ? "[" : "",
	    c->server, v6 ? "]" : "", c->port, c->helo ? c->helo : "");
	s->errbuf[0] = '\0';
	s->reply[0] = '\0';
	s->auth_sent = 0;
#define OPT(o, v) if (rc == CURLE_OK) rc = curl_easy_setopt(s->curl, o, v)
	OPT(CURLOPT_URL, url);
	OPT(CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	OPT(CURLOPT_NOSIGNAL, 1L);
	OPT(CURLOPT_ERRORBUFFER, s->errbuf);
	OPT(CURLOPT_VERBOSE, 1L);	/* for debug_cb only: nothing printed */
	OPT(CURLOPT_DEBUGFUNCTION, debug_cb);
	OPT(CURLOPT_DEBUGDATA, s);
	OPT(CURLOPT_CONNECTTIMEOUT_MS, (long)c->connect_timeout_ms);
	OPT(CURLOPT_TIMEOUT_MS, (long)c->timeout_ms);
	OPT(CURLOPT_USE_SSL, (long)(c->tls == MAIL_TLS_NONE ? CURLUSESSL_NONE :
	    CURLUSESSL_ALL));
	OPT(CURLOPT_SSL_VERIFYPEER, 1L);
	OPT(CURLOPT_SSL_VERIFYHOST, 2L);
	if (c->ca_file != NULL)
		OPT(CURLOPT_CAINFO, c->ca_file);
	if (c->auth != MAIL_AUTH_NONE) {
		OPT(CURLOPT_USERNAME, c->user);
		OPT(CURLOPT_PASSWORD, c->password);
		OPT(CURLOPT_LOGIN_OPTIONS, login[c->auth]);
	}
#undef OPT
	return rc == CURLE_OK ? 0 : -1;
}

/*
 * What a failed transfer means. The reply code decides when there is one
 * (RFC 5321: 4xx try again, 5xx never), except that an authentication
 * refusal, like a TLS or address problem, is the setup's fault and fails
 * every event alike: the module is suspended until an operator fixes it.
 */
static enum mail_result
classify(CURLcode cc, long code)
{
	if (code >= 400 && code < 500)
		return MAIL_TRANSIENT;
	if (code == 530 || code == 534 || code == 535 || code == 538)
		return MAIL_SUSPEND;
	switch (cc) {
	case CURLE_LOGIN_DENIED:
	case CURLE_USE_SSL_FAILED:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_NOT_BUILT_IN:
		return MAIL_SUSPEND;
	default:
		break;
	}
	if (code >= 500)
		return MAIL_PERMANENT;
	return MAIL_TRANSIENT;
}

/* "SMTP host:port: what curl says (server: its last reply)". */
static void
describe(struct mail_smtp *s, const struct mail_conf *c, CURLcode cc,
    char *why, size_t whylen)
{
	snprintf(why, whylen, "SMTP %s:%lld: %s%s%s%s", c->server, c->port,
	    s->errbuf[0] ? s->errbuf : curl_easy_strerror(cc),
	    s->reply[0] ? " (server: \"" : "", s->reply,
	    s->reply[0] ? "\")" : "");
}

enum mail_result
mail_smtp_send(struct mail_smtp *s, const struct mail_conf *c,
    const struct mail_msg *m, char *why, size_t whylen)
{
	struct curl_slist *rcpt = NULL, *l;
	struct upload	 u = { m->text.data, m->text.len };
	char		 addr[300];
	size_t		 i;
	long		 code = 0;
	CURLcode	 cc;

	if (setup(s, c) == -1) {
		snprintf(why, whylen, "SMTP: cannot set up libcurl");
		mail_smtp_reset(s);
		return MAIL_TRANSIENT;
	}
	for (i = 0; i < m->nrcpt; i++) {
		snprintf(addr, sizeof(addr), "<%s>", m->rcpt[i]);
		if ((l = curl_slist_append(rcpt, addr)) == NULL) {
			curl_slist_free_all(rcpt);
			snprintf(why, whylen, "out of memory");
			return MAIL_TRANSIENT;
		}
		rcpt = l;
	}
	snprintf(addr, sizeof(addr), "<%s>", m->from_addr);
	curl_easy_setopt(s->curl, CURLOPT_MAIL_FROM, addr);
	curl_easy_setopt(s->curl, CURLOPT_MAIL_RCPT, rcpt);
	curl_easy_setopt(s->curl, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(s->curl, CURLOPT_READFUNCTION, upload_read);
	curl_easy_setopt(s->curl, CURLOPT_READDATA, &u);
	curl_easy_setopt(s->curl, CURLOPT_INFILESIZE_LARGE,
	    (curl_off_t)m->text.len);
	cc = curl_easy_perform(s->curl);
	curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_setopt(s->curl, CURLOPT_MAIL_RCPT, NULL);
	curl_slist_free_all(rcpt);
	if (cc == CURLE_OK)
		return MAIL_SENT;
	describe(s, c, cc, why, whylen);
	/* A connection in an unknown state is not reused. */
	mail_smtp_reset(s);
	return classify(cc, code);
}

enum mail_result
mail_smtp_check(const struct mail_conf *c, char *report, size_t len)
{
	struct mail_smtp s;
	enum mail_result res = MAIL_SENT;
	long		 code = 0;
	CURLcode	 cc;

	memset(&s, 0, sizeof(s));
	if (setup(&s, c) == -1) {
		snprintf(report, len, "SMTP: cannot set up libcurl");
		mail_smtp_reset(&s);
		return MAIL_TRANSIENT;
	}
	/* Connect, greeting, EHLO, STARTTLS, AUTH: everything but a mail. */
	curl_easy_setopt(s.curl, CURLOPT_CONNECT_ONLY, 1L);
	if ((cc = curl_easy_perform(s.curl)) != CURLE_OK) {
		curl_easy_getinfo(s.curl, CURLINFO_RESPONSE_CODE, &code);
		describe(&s, c, cc, report, len);
		res = classify(cc, code);
	} else if (c->auth != MAIL_AUTH_NONE && !s.auth_sent) {
		/* curl skips AUTH when the server offers none: say so. */
		snprintf(report, len, "SMTPAuthenticate = %s: SMTPServer "
		    "%s:%lld offers no AUTH (server: \"%s\")",
		    mail_auth_names[c->auth], c->server, c->port, s.reply);
		res = MAIL_SUSPEND;
	} else
		snprintf(report, len, "SMTPServer %s:%lld: connected%s, EHLO "
		    "accepted%s%s%s", c->server, c->port,
		    c->tls == MAIL_TLS_STARTTLS ? ", STARTTLS, certificate "
		    "verified" : c->tls == MAIL_TLS_IMPLICIT ? " with TLS, "
		    "certificate verified" : " (no TLS)",
		    c->auth != MAIL_AUTH_NONE ? ", AUTH " : "",
		    c->auth != MAIL_AUTH_NONE ? mail_auth_names[c->auth] : "",
		    c->auth != MAIL_AUTH_NONE ? " accepted" : "");
	mail_smtp_reset(&s);
	return res;
}
