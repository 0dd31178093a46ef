/*
 * mail_msg.c - one event's message: AD CS's templates rendered ("%1" takes
 * the first property of the argument list, a property that cannot be read
 * prints "???"), the recipients resolved (an address, or a property such
 * as Subject.EMail or RequesterEmail), and an RFC 5322 message with Date,
 * a Message-ID stable per event (receivers drop redeliveries by it), UTF-8
 * MIME and an optional PEM attachment.
 *
 * Everything a requester controls (names, e-mail addresses) is treated as
 * hostile: control characters never reach a header, addresses are checked
 * character by character, and the body is base64 when it is not plain
 * ASCII text, so nothing in it can end the message or a MIME part.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "mail.h"

#define MISSING		"???"	/* AD CS's wszREGEXITPROPNOTFOUND */
#define SAN_OID		"2.5.29.17"

/* The event being rendered. */
struct ev {
	cm_server_exit	*srv;
	int32_t		 event;
	int64_t		 ctx;
	int64_t		 seq;
};

/* A property name as the templates take it: letters, digits, . _ - */
static int
name_ok(const char *p, size_t n)
{
	size_t	 i;

	if (n == 0 || n > 120)
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)p[i]) && strchr("._-", p[i]) == NULL)
			return 0;
	return 1;
}

/*
 * An address (addr-spec) this module sends to: dot-atom local part and a
 * host name, ASCII only. Stricter than RFC 5322 on purpose: the value may
 * come from a certificate request.
 */
static int
addr_ok(const char *a, size_t n)
{
	const char	*at = memchr(a, '@', n);
	size_t		 i;

	if (at == NULL || at == a || at == a + n - 1 || n > 254 ||
	    memchr(at + 1, '@', n - (size_t)(at - a) - 1) != NULL)
		return 0;
	for (i = 0; a + i < at; i++)
		if (!isalnum((unsigned char)a[i]) &&
		    strchr("!#$%&'*+/=?^_`{|}~.-", a[i]) == NULL)
			return 0;
	if (a[0] == '.' || at[-1] == '.')
		return 0;
	for (i = (size_t)(at - a) + 1; i < n; i++)
		if (!isalnum((unsigned char)a[i]) && strchr(".-", a[i]) == NULL)
			return 0;
	return 1;
}

/* Split "Name <addr>" into its parts; a bare address has no name. */
static int
split_mailbox(const char *item, size_t n, const char **name, size_t *nlen,
    const char **addr, size_t *alen)
{
	const char	*lt = memchr(item, '<', n);

	*name = NULL;
	*nlen = 0;
	if (lt == NULL) {
		*addr = item;
		*alen = n;
		return addr_ok(item, n) ? 0 : -1;
	}
	if (item[n - 1] != '>')
		return -1;
	*name = item;
	*nlen = (size_t)(lt - item);
	while (*nlen > 0 && item[*nlen - 1] == ' ')
		(*nlen)--;
	*addr = lt + 1;
	*alen = n - (size_t)(lt - item) - 2;
	return addr_ok(*addr, *alen) ? 0 : -1;
}

/* Next comma-separated item of *p, trimmed; 0 at the end. */
static int
next_item(const char **p, const char **item, size_t *n)
{
	const char	*s = *p, *e;

	while (*s == ' ' || *s == '\t' || *s == ',')
		s++;
	if (*s == '\0')
		return 0;
	for (e = s; *e != '\0' && *e != ','; e++)
		;
	*p = e;
	*item = s;
	*n = (size_t)(e - s);
	while (*n > 0 && (s[*n - 1] == ' ' || s[*n - 1] == '\t'))
		(*n)--;
	return 1;
}

/* A property item of a recipient list: "Subject.EMail" or "%{...}". */
static int
prop_item(const char *item, size_t n, const char **name, size_t *nlen)
{
	if (n > 3 && item[0] == '%' && item[1] == '{' && item[n - 1] == '}') {
		item += 2;
		n -= 3;
	}
	*name = item;
	*nlen = n;
	return name_ok(item, n) ? 0 : -1;
}

int
mail_addr_check(const char *key, const char *list, char *err,
    size_t errlen)
{
	const char	*p = list, *item, *a, *nm;
	size_t		 n, al, nl;

	while (next_item(&p, &item, &n)) {
		if (memchr(item, '@', n) != NULL) {
			if (split_mailbox(item, n, &nm, &nl, &a, &al) == 0 &&
			    memchr(item, '"', n) == NULL)
				continue;
			snprintf(err, errlen, "%s = \"%s\": \"%.*s\" is not an "
			    "address (user@example.com or Name "
			    "<user@example.com>)", key, list, (int)n, item);
			return -1;
		}
		if (prop_item(item, n, &nm, &nl) == -1) {
			snprintf(err, errlen, "%s = \"%s\": \"%.*s\" is neither "
			    "an address nor a property name (Subject.EMail, "
			    "RequesterEmail)", key, list, (int)n, item);
			return -1;
		}
	}
	return 0;
}

int
mail_fmt_check(const char *key, const char *fmt, size_t nargs, char *err,
    size_t errlen)
{
	const char	*p, *end;
	int		 n;

	for (p = fmt; *p != '\0'; p++) {
		if (*p != '%')
			continue;
		if (p[1] == '%') {
			p++;
			continue;
		}
		if (p[1] == '{') {
			if ((end = strchr(p + 2, '}')) == NULL ||
			    !name_ok(p + 2, strcspn(p + 2, ":}"))) {
				snprintf(err, errlen, "%s: \"%.20s\": an "
				    "unclosed %%{ or a bad property name", key,
				    p);
				return -1;
			}
			p = end;
			continue;
		}
		if (!isdigit((unsigned char)p[1]))
			continue;
		n = p[1] - '0';
		if (isdigit((unsigned char)p[2]))
			n = n * 10 + p[2] - '0';
		if (n == 0 || (size_t)n > nargs) {
			/* Issued.BodyFormat.2: its list is Issued.BodyArg. */
			end = strstr(key, "Format");
			snprintf(err, errlen, "%s uses %%%d, but its argument "
			    "list (%.*sArg) names %zu propert%s", key, n,
			    end != NULL ? (int)(end - key) : 0, key, nargs,
			    nargs == 1 ? "y" : "ies");
			return -1;
		}
		p += n > 9 ? 2 : 1;
	}
	return 0;
}

/*
 * Call get on the event's context; a CA property (SanitizedCAName,
 * MachineDNSName) asked in a request event is read at context 0, so that
 * every template may name it.
 */
static int
with_ca_fallback(struct ev *e, const char *name,
    int (*get)(cm_server_exit *, const char *, void *, void *), void *a,
    void *b)
{
	int	 rc;

	rc = get(e->srv, name, a, b);
	if ((rc == CM_E_NOCONTEXT || rc == CM_E_INVALIDARG) && e->ctx != 0) {
		e->srv->set_context(e->srv, 0);
		rc = get(e->srv, name, a, b);
		e->srv->set_context(e->srv, e->ctx);
	}
	return rc;
}

static int
get_text(cm_server_exit *srv, const char *name, void *a, void *b)
{
	(void)b;
	return mu_prop_text(srv, name, a);
}

static int
get_binary(cm_server_exit *srv, const char *name, void *a, void *b)
{
	return mu_prop_binary(srv, name, a, b);
}

/* The PEM label of a binary property shown as PEM, else NULL. */
static const char *
pem_label(const char *name)
{
	if (strncasecmp(name, "Request.", 8) == 0)
		name += 8;
	if (strcasecmp(name, "RawCertificate") == 0 ||
	    strcasecmp(name, "RawOldCertificate") == 0 ||
	    strncasecmp(name, "RawCACertificate", 16) == 0)
		return "CERTIFICATE";
	if (strcasecmp(name, "RawRequest") == 0)
		return "CERTIFICATE REQUEST";
	if (strncasecmp(name, "RawCRL", 6) == 0 ||
	    strncasecmp(name, "RawDeltaCRL", 11) == 0)
		return "X509 CRL";
	return NULL;
}

/* The first rfc822Name of a DER subjectAltName value, copied. */
static char *
san_email(const unsigned char *der, size_t len)
{
	const unsigned char *p = der;
	GENERAL_NAMES	*gens;
	GENERAL_NAME	*g;
	char		*out = NULL;
	int		 i;

	if ((gens = d2i_GENERAL_NAMES(NULL, &p, (long)len)) == NULL)
		return NULL;
	for (i = 0; i < sk_GENERAL_NAME_num(gens) && out == NULL; i++) {
		g = sk_GENERAL_NAME_value(gens, i);
		if (g->type == GEN_EMAIL)
			out = strndup((const char *)ASN1_STRING_get0_data(
			    g->d.rfc822Name), (size_t)ASN1_STRING_length(
			    g->d.rfc822Name));
	}
	GENERAL_NAMES_free(gens);
	return out;
}

/*
 * RequesterEmail: the requester's address as AD CS's module finds it, the
 * first e-mail of the subjectAltName (the certificate's, or the request's
 * for a pending or denied one), else the subject's EMail.
 */
static int
requester_email(struct ev *e, char **out)
{
	static const char *const names[] = { "Subject.EMail", "Request.EMail" };
	cm_value	 v;
	size_t		 i;

	memset(&v, 0, sizeof(v));
	*out = NULL;
	if (e->ctx == 0)
		return CM_E_PROPERTY_EMPTY;
	if (e->srv->get_certificate_extension(e->srv, SAN_OID,
	    CM_PROPTYPE_BINARY, &v) == CM_OK &&
	    (*out = san_email(v.data, v.len)) != NULL)
		return CM_OK;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (mu_prop_text(e->srv, names[i], out) == CM_OK) {
			(*out)[strcspn(*out, "\n")] = '\0';
			return CM_OK;
		}
	return CM_E_PROPERTY_EMPTY;
}

/*
 * Property name of the event as text: PEM for certificates, requests and
 * CRLs, mu_prop_text's form for the rest; "Event" is the event's AD CS
 * name. CM_OK with *out, or the CM_E_* of the read.
 */
static int
prop_value(struct ev *e, const char *name, char **out)
{
	const char	*label;
	unsigned char	*der;
	size_t		 len;
	int		 rc;

	*out = NULL;
	if (strcasecmp(name, "Event") == 0)
		return (*out = strdup(mu_event_adcs_name(e->event))) == NULL ?
		    CM_E_NOMEM : CM_OK;
	if (strcasecmp(name, "RequesterEmail") == 0)
		return requester_email(e, out);
	if ((label = pem_label(name)) != NULL) {
		rc = with_ca_fallback(e, name, get_binary, &der, &len);
		if (rc != CM_OK)
			return rc;
		*out = mu_pem(label, der, len);
		free(der);
		return *out == NULL ? CM_E_NOMEM : CM_OK;
	}
	return with_ca_fallback(e, name, get_text, out, NULL);
}

/*
 * Render fmt: "%N" is the Nth property of args, "%{Name}" (or
 * "%{Name:-default}") a property by name, "%%" a percent sign. One pass:
 * a value is never expanded again, whatever it contains.
 */
static int
render(struct ev *e, const char *fmt, char *const *args, size_t nargs,
    struct mu_buf *b)
{
	const char	*p, *end, *dflt;
	char		 name[128], *v, *sep;
	size_t		 n;
	int		 k, rc = 0;

	for (p = fmt; *p != '\0' && rc == 0; p++) {
		if (p[0] != '%' || p[1] == '\0') {
			rc = mu_buf_add(b, p, 1);
			continue;
		}
		if (p[1] == '%') {
			rc = mu_buf_add(b, "%", 1);
			p++;
			continue;
		}
		dflt = MISSING;
		if (p[1] == '{' && (end = strchr(p + 2, '}')) != NULL &&
		    (n = (size_t)(end - p - 2)) > 0 && n < sizeof(name)) {
			memcpy(name, p + 2, n);
			name[n] = '\0';
			if ((sep = strstr(name, ":-")) != NULL) {
				*sep = '\0';
				dflt = sep + 2;
			}
			p = end;
		} else if (isdigit((unsigned char)p[1])) {
			k = p[1] - '0';
			p++;
			if (isdigit((unsigned char)p[1])) {
				k = k * 10 + p[1] - '0';
				p++;
			}
			if (k == 0 || (size_t)k > nargs) {
				rc = mu_buf_str(b, MISSING);
				continue;
			}
			snprintf(name, sizeof(name), "%s", args[k - 1]);
		} else {
			rc = mu_buf_add(b, p, 1);
			continue;
		}
		if ((k = prop_value(e, name, &v)) == CM_OK) {
			rc = mu_buf_str(b, v);
			free(v);
		} else if (k == CM_E_NOMEM)
			rc = -1;
		else
			rc = mu_buf_str(b, dflt);
	}
	return rc;
}

static int
is_ascii_text(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s >= 0x7f)
			return 0;
	return 1;
}

/* Control characters (a requester's CR LF above all) become spaces. */
static void
flatten(char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = ' ';
}

static int
b64(struct mu_buf *b, const unsigned char *p, size_t n)
{
	unsigned char	 out[4 * 48 / 3 + 1];
	size_t		 k;

	while (n > 0) {
		k = n > 48 ? 48 : n;
		EVP_EncodeBlock(out, p, (int)k);
		if (mu_buf_str(b, (char *)out) == -1)
			return -1;
		p += k;
		n -= k;
	}
	return 0;
}

/*
 * A header's text as RFC 2047 encoded words where it is not plain short
 * ASCII, folded, never splitting a UTF-8 sequence.
 */
static int
header_text(struct mu_buf *b, const char *s)
{
	size_t	 n = strlen(s), k;

	if (is_ascii_text(s) && n < 900)
		return mu_buf_str(b, s);
	while (n > 0) {
		k = n > 45 ? 45 : n;
		while (k < n && k > 1 && ((unsigned char)s[k] & 0xc0) == 0x80)
			k--;
		if (mu_buf_str(b, "=?UTF-8?B?") == -1 ||
		    b64(b, (const unsigned char *)s, k) == -1 ||
		    mu_buf_str(b, "?=") == -1)
			return -1;
		s += k;
		n -= k;
		if (n > 0 && mu_buf_str(b, "\r\n ") == -1)
			return -1;
	}
	return 0;
}

/* "Name <addr>" for a header: the name quoted or encoded. */
static int
header_mailbox(struct mu_buf *b, const char *name, size_t nlen,
    const char *addr, size_t alen)
{
	char	*nm;
	size_t	 i;
	int	 rc, plain = 1;

	if (nlen == 0)
		return mu_buf_add(b, addr, alen);
	if ((nm = strndup(name, nlen)) == NULL)
		return -1;
	flatten(nm);
	for (i = 0; i < nlen; i++)
		if ((unsigned char)nm[i] >= 0x7f || nm[i] == '"' ||
		    nm[i] == '\\')
			plain = 0;
	if (plain)
		rc = mu_buf_printf(b, "\"%s\"", nm);
	else
		rc = header_text(b, nm);
	free(nm);
	if (rc == 0)
		rc = mu_buf_printf(b, " <%.*s>", (int)alen, addr);
	return rc;
}

/* Recipients gathered from To and Cc. */
struct rcpts {
	char		**addr;
	size_t		 n;
};

static int
rcpt_add(struct rcpts *r, const char *a, size_t n)
{
	char	**na;
	size_t	 i;

	for (i = 0; i < r->n; i++)
		if (strlen(r->addr[i]) == n && strncasecmp(r->addr[i], a, n) == 0)
			return 0;
	if ((na = realloc(r->addr, (r->n + 1) * sizeof(*na))) == NULL)
		return -1;
	r->addr = na;
	if ((r->addr[r->n] = strndup(a, n)) == NULL)
		return -1;
	r->n++;
	return 0;
}

/*
 * One address list (From, To or Cc) resolved into the header b and the
 * envelope r: each item an address, or a property whose values (one a
 * line) are addresses. A value that is not an address is skipped and
 * logged. Returns the number of mailboxes, or -1 (no memory).
 */
static int
resolve_list(struct ev *e, const char *key, const char *list,
    struct mu_buf *b, struct rcpts *r, int max)
{
	const char	*p = list, *item, *nm, *a, *line;
	char		 name[128], *v;
	size_t		 n, nl, al, ll;
	int		 count = 0, rc;

	while (count < max && next_item(&p, &item, &n)) {
		if (memchr(item, '@', n) != NULL) {
			if (split_mailbox(item, n, &nm, &nl, &a, &al) == -1)
				continue;	/* checked when read */
			if ((count > 0 && mu_buf_str(b, ",\r\n ") == -1) ||
			    header_mailbox(b, nm, nl, a, al) == -1 ||
			    rcpt_add(r, a, al) == -1)
				return -1;
			count++;
			continue;
		}
		if (prop_item(item, n, &nm, &nl) == -1 || nl >= sizeof(name))
			continue;
		memcpy(name, nm, nl);
		name[nl] = '\0';
		if ((rc = prop_value(e, name, &v)) == CM_E_NOMEM)
			return -1;
		if (rc != CM_OK) {
			e->srv->log(e->srv, CM_LOG_INFO, "%s: %s is empty in "
			    "this event", key, name);
			continue;
		}
		for (line = v; *line != '\0' && count < max; line += ll) {
			ll = strcspn(line, "\n");
			if (!addr_ok(line, ll))
				e->srv->log(e->srv, CM_LOG_INFO, "%s: %s "
				    "holds \"%.*s\", not an address: skipped",
				    key, name, ll > 100 ? 100 : (int)ll, line);
			else if ((count > 0 && mu_buf_str(b, ",\r\n ") == -1) ||
			    mu_buf_add(b, line, ll) == -1 ||
			    rcpt_add(r, line, ll) == -1) {
				free(v);
				return -1;
			} else
				count++;
			if (line[ll] == '\n')
				ll++;
		}
		free(v);
	}
	return count;
}

/* RFC 5322 date of now, in UTC; English names whatever the locale. */
static int
header_date(struct mu_buf *b)
{
	static const char *const day[] = { "Sun", "Mon", "Tue", "Wed", "Thu",
	    "Fri", "Sat" };
	static const char *const mon[] = { "Jan", "Feb", "Mar", "Apr", "May",
	    "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm	 tm;
	time_t		 now = time(NULL);

	gmtime_r(&now, &tm);
	return mu_buf_printf(b, "Date: %s, %02d %s %04d %02d:%02d:%02d +0000\r\n",
	    day[tm.tm_wday], tm.tm_mday, mon[tm.tm_mon], tm.tm_year + 1900,
	    tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/*
 * Message-ID: the same for every delivery of one event of one CA, so
 * that a receiver drops the duplicates that at-least-once delivery and a
 * replay make: the event's sequence, its name, the first CA
 * certificate's SHA-256 (which database) and the CA's host name.
 */
static int
header_message_id(struct ev *e, struct mu_buf *b)
{
	unsigned char	 md[EVP_MAX_MD_SIZE], *der = NULL;
	unsigned int	 mdlen = 0;
	size_t		 len, i;
	char		*host = NULL, *h;
	int		 rc;

	e->srv->set_context(e->srv, 0);
	if (mu_prop_binary(e->srv, "RawCACertificate.0", &der, &len) != CM_OK ||
	    EVP_Digest(der, len, md, &mdlen, EVP_sha256(), NULL) != 1)
		mdlen = 0;
	if (mu_prop_text(e->srv, "MachineDNSName", &host) != CM_OK)
		host = NULL;
	e->srv->set_context(e->srv, e->ctx);
	for (h = host; h != NULL && *h != '\0'; h++)
		if (!isalnum((unsigned char)*h) && *h != '.' && *h != '-')
			*h = '-';
	rc = mu_buf_printf(b, "Message-ID: <%" PRId64 ".%s.", e->seq,
	    mu_event_name(e->event));
	for (i = 0; i < 8 && i < mdlen && rc == 0; i++)
		rc = mu_buf_printf(b, "%02x", md[i]);
	if (rc == 0)
		rc = mu_buf_printf(b, "@%s>\r\n", host != NULL && *host != '\0' ?
		    host : "localhost");
	free(der);
	free(host);
	return rc;
}

/* Body text with CRLF line ends; 0 if it may go as 7bit. */
static int
body_lines(const char *s, struct mu_buf *out, int *plain)
{
	size_t	 col = 0;

	*plain = 1;
	for (; *s != '\0'; s++) {
		if (*s == '\r')
			continue;
		if (*s == '\n') {
			if (mu_buf_add(out, "\r\n", 2) == -1)
				return -1;
			col = 0;
			continue;
		}
		if ((unsigned char)*s >= 0x7f || ++col > 900)
			*plain = 0;
		if (mu_buf_add(out, s, 1) == -1)
			return -1;
	}
	if (col > 0 && mu_buf_add(out, "\r\n", 2) == -1)
		return -1;
	return 0;
}

static int
base64_lines(struct mu_buf *b, const char *p, size_t n)
{
	size_t	 k;

	while (n > 0) {
		k = n > 57 ? 57 : n;	/* 76 characters a line */
		if (b64(b, (const unsigned char *)p, k) == -1 ||
		    mu_buf_str(b, "\r\n") == -1)
			return -1;
		p += k;
		n -= k;
	}
	return 0;
}

/*
 * The attachment for the event, when asked: the certificate, the CSR of
 * a pending or denied request, or the CRL. 0 with *pem NULL when there
 * is nothing to attach.
 */
static int
attachment(struct ev *e, char **pem, char *file, size_t flen)
{
	const char	*prop = "RawCertificate", *label = "CERTIFICATE";
	unsigned char	*der;
	size_t		 len, i;
	char		*serial = NULL;
	int		 rc;

	*pem = NULL;
	if (e->event == CM_EXITEVENT_CRLISSUED) {
		prop = "RawCRL";
		label = "X509 CRL";
		snprintf(file, flen, "crl-%" PRId64 ".pem", e->seq);
	} else if (e->ctx == 0)
		return 0;
	else if (e->event == CM_EXITEVENT_CERTPENDING ||
	    e->event == CM_EXITEVENT_CERTDENIED) {
		prop = "RawRequest";
		label = "CERTIFICATE REQUEST";
		snprintf(file, flen, "request-%" PRId64 ".csr", e->ctx);
	} else {
		if (mu_prop_text(e->srv, "SerialNumber", &serial) != CM_OK)
			return 0;
		for (i = 0; serial[i] != '\0'; i++)
			if (!isxdigit((unsigned char)serial[i]))
				serial[i] = '-';
		snprintf(file, flen, "%.64s.pem", serial);
		free(serial);
	}
	rc = with_ca_fallback(e, prop, get_binary, &der, &len);
	if (rc == CM_E_NOMEM)
		return -1;
	if (rc != CM_OK)
		return 0;
	*pem = mu_pem(label, der, len);
	free(der);
	return *pem == NULL ? -1 : 0;
}

/* Headers and body of the message into m->text. */
static int
compose(struct ev *e, const struct mail_tmpl *t, const char *from_hdr,
    const char *to_hdr, const char *cc_hdr, const char *title,
    const char *body, struct mu_buf *m)
{
	struct mu_buf	 lines = { 0 };
	char		*pem = NULL, file[96], boundary[64];
	int		 plain, rc = -1;

	if (body_lines(body, &lines, &plain) == -1 ||
	    (t->attach && attachment(e, &pem, file, sizeof(file)) == -1))
		goto out;
	snprintf(boundary, sizeof(boundary), "=_certmint_%" PRId64, e->seq);
	if (header_date(m) == -1 ||
	    mu_buf_printf(m, "From: %s\r\n", from_hdr) == -1 ||
	    (*to_hdr != '\0' && mu_buf_printf(m, "To: %s\r\n", to_hdr) == -1) ||
	    (*cc_hdr != '\0' && mu_buf_printf(m, "Cc: %s\r\n", cc_hdr) == -1) ||
	    mu_buf_str(m, "Subject: ") == -1 || header_text(m, title) == -1 ||
	    mu_buf_str(m, "\r\n") == -1 || header_message_id(e, m) == -1 ||
	    mu_buf_printf(m, "MIME-Version: 1.0\r\nAuto-Submitted: "
	    "auto-generated\r\nX-Certmint-Event: %s\r\n"
	    "X-Certmint-Event-Sequence: %" PRId64 "\r\n",
	    mu_event_adcs_name(e->event), e->seq) == -1 ||
	    (e->ctx != 0 && mu_buf_printf(m, "X-Certmint-Request-ID: %" PRId64
	    "\r\n", e->ctx) == -1))
		goto out;
	if (pem != NULL) {
		/* Base64 text cannot hold the boundary ("=_" is not in it). */
		if (mu_buf_printf(m, "Content-Type: multipart/mixed; "
		    "boundary=\"%s\"\r\n\r\nThis is a MIME message.\r\n"
		    "--%s\r\n", boundary, boundary) == -1)
			goto out;
		plain = 0;
	}
	if (mu_buf_printf(m, "Content-Type: text/plain; charset=UTF-8\r\n"
	    "Content-Transfer-Encoding: %s\r\n\r\n", plain ? "7bit" :
	    "base64") == -1)
		goto out;
	if ((plain ? mu_buf_add(m, lines.data ? lines.data : "", lines.len) :
	    base64_lines(m, lines.data ? lines.data : "", lines.len)) == -1)
		goto out;
	if (pem != NULL && (mu_buf_printf(m, "--%s\r\nContent-Type: "
	    "application/x-pem-file; name=\"%s\"\r\nContent-Disposition: "
	    "attachment; filename=\"%s\"\r\nContent-Transfer-Encoding: "
	    "base64\r\n\r\n", boundary, file, file) == -1 ||
	    base64_lines(m, pem, strlen(pem)) == -1 ||
	    mu_buf_printf(m, "--%s--\r\n", boundary) == -1))
		goto out;
	rc = 0;
out:
	mu_buf_free(&lines);
	free(pem);
	return rc;
}

enum mail_result
mail_msg_build(cm_server_exit *srv, const struct mail_conf *c, int32_t event,
    int64_t context, struct mail_msg *msg, char *why, size_t whylen)
{
	const struct mail_tmpl *t;
	struct ev	 e = { srv, event, context, 0 };
	struct mu_buf	 from = { 0 }, to = { 0 }, cc = { 0 }, title = { 0 },
			 body = { 0 };
	struct rcpts	 env = { 0 }, rc_from = { 0 };
	cm_value	 v;
	enum mail_result res = MAIL_TRANSIENT;
	int		 n;

	memset(msg, 0, sizeof(*msg));
	t = &c->tmpl[mail_event_index(event)];
	memset(&v, 0, sizeof(v));
	srv->set_context(srv, context);
	if (srv->get_request_property(srv, "EventSequence", CM_PROPTYPE_LONG,
	    &v) == CM_OK)
		e.seq = v.l;
	if ((n = resolve_list(&e, "From", t->from ? t->from : "", &from,
	    &rc_from, 1)) == -1)
		goto out;
	if (n == 0) {
		snprintf(why, whylen, "%s.From = \"%s\": no sender address in "
		    "this event", mu_event_adcs_name(event), t->from ?
		    t->from : "");
		res = MAIL_PERMANENT;
		goto out;
	}
	if (resolve_list(&e, "To", t->to ? t->to : "", &to, &env, 100) == -1 ||
	    resolve_list(&e, "Cc", t->cc ? t->cc : "", &cc, &env, 100) == -1)
		goto out;
	if (env.n == 0) {
		snprintf(why, whylen, "%s: no recipient in this event (To = "
		    "\"%s\", Cc = \"%s\")", mu_event_adcs_name(event),
		    t->to ? t->to : "", t->cc ? t->cc : "");
		res = MAIL_PERMANENT;
		goto out;
	}
	if (render(&e, t->title_fmt, t->title_arg, t->ntitle_arg,
	    &title) == -1 || mu_buf_add(&title, "", 0) == -1 ||
	    render(&e, t->body_fmt, t->body_arg, t->nbody_arg, &body) == -1 ||
	    mu_buf_add(&body, "", 0) == -1 || mu_buf_add(&to, "", 0) == -1 ||
	    mu_buf_add(&cc, "", 0) == -1)
		goto out;
	flatten(title.data);
	if (compose(&e, t, from.data, to.data, cc.data, title.data, body.data,
	    &msg->text) == -1)
		goto out;
	msg->from_addr = rc_from.addr[0];
	rc_from.addr[0] = NULL;
	msg->rcpt = env.addr;
	msg->nrcpt = env.n;
	env.addr = NULL;
	env.n = 0;
	res = MAIL_SENT;
out:
	if (res == MAIL_TRANSIENT)
		snprintf(why, whylen, "out of memory building the message");
	while (env.n > 0)
		free(env.addr[--env.n]);
	free(env.addr);
	while (rc_from.n > 0)
		free(rc_from.addr[--rc_from.n]);
	free(rc_from.addr);
	mu_buf_free(&from);
	mu_buf_free(&to);
	mu_buf_free(&cc);
	mu_buf_free(&title);
	mu_buf_free(&body);
	if (res != MAIL_SENT)
		mail_msg_free(msg);
	return res;
}

void
mail_msg_free(struct mail_msg *m)
{
	size_t	 i;

	free(m->from_addr);
	for (i = 0; i < m->nrcpt; i++)
		free(m->rcpt[i]);
	free(m->rcpt);
	mu_buf_free(&m->text);
	memset(m, 0, sizeof(*m));
}

/* A "Name <addr>" or bare address into the header b and the envelope r. */
static int
plain_mailbox(const char *key, const char *item, struct mu_buf *b,
    struct rcpts *r, char *why, size_t whylen)
{
	const char	*nm, *a;
	size_t		 nl, al, n = strlen(item);

	if (n == 0 || split_mailbox(item, n, &nm, &nl, &a, &al) == -1) {
		snprintf(why, whylen, "%s \"%.100s\" is not an address", key,
		    item);
		return 1;
	}
	if ((b->len > 0 && mu_buf_str(b, ",\r\n ") == -1) ||
	    header_mailbox(b, nm, nl, a, al) == -1 || rcpt_add(r, a, al) == -1)
		return -1;
	return 0;
}

/*
 * A message not tied to an event (Lua's certmint.mail): from and each of
 * to[] an address or "Name <address>", with the Date, header encoding and
 * UTF-8 MIME body of the event messages; msgid is the Message-ID without
 * its brackets. MAIL_SENT when m is built, MAIL_PERMANENT for a bad
 * address (why), MAIL_TRANSIENT without memory.
 */
enum mail_result
mail_msg_plain(const char *from, const char *const *to, size_t nto,
    const char *subject, const char *body, const char *msgid,
    struct mail_msg *msg, char *why, size_t whylen)
{
	struct mu_buf	 fh = { 0 }, th = { 0 }, lines = { 0 };
	struct rcpts	 env = { 0 }, rf = { 0 };
	char		*title = NULL;
	enum mail_result res = MAIL_TRANSIENT;
	size_t		 i;
	int		 rc, plain;

	memset(msg, 0, sizeof(*msg));
	snprintf(why, whylen, "out of memory building the message");
	if ((rc = plain_mailbox("from", from, &fh, &rf, why, whylen)) != 0)
		goto bad;
	for (i = 0; i < nto; i++)
		if ((rc = plain_mailbox("to", to[i], &th, &env, why,
		    whylen)) != 0)
			goto bad;
	if (env.n == 0) {
		snprintf(why, whylen, "no recipient");
		rc = 1;
		goto bad;
	}
	if ((title = strdup(subject)) == NULL ||
	    mu_buf_add(&fh, "", 0) == -1 || mu_buf_add(&th, "", 0) == -1 ||
	    body_lines(body, &lines, &plain) == -1)
		goto out;
	flatten(title);
	if (header_date(&msg->text) == -1 ||
	    mu_buf_printf(&msg->text, "From: %s\r\nTo: %s\r\nSubject: ",
	    fh.data, th.data) == -1 || header_text(&msg->text, title) == -1 ||
	    mu_buf_printf(&msg->text, "\r\nMessage-ID: <%s>\r\nMIME-Version: "
	    "1.0\r\nAuto-Submitted: auto-generated\r\nContent-Type: "
	    "text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: %s\r\n"
	    "\r\n", msgid, plain ? "7bit" : "base64") == -1 ||
	    (plain ? mu_buf_add(&msg->text, lines.data ? lines.data : "",
	    lines.len) : base64_lines(&msg->text, lines.data ? lines.data :
	    "", lines.len)) == -1)
		goto out;
	msg->from_addr = rf.addr[0];
	rf.addr[0] = NULL;
	msg->rcpt = env.addr;
	msg->nrcpt = env.n;
	env.addr = NULL;
	env.n = 0;
	res = MAIL_SENT;
	goto out;
bad:
	if (rc == 1)
		res = MAIL_PERMANENT;
out:
	while (env.n > 0)
		free(env.addr[--env.n]);
	free(env.addr);
	while (rf.n > 0)
		free(rf.addr[--rf.n]);
	free(rf.addr);
	mu_buf_free(&fh);
	mu_buf_free(&th);
	mu_buf_free(&lines);
	free(title);
	if (res != MAIL_SENT)
		mail_msg_free(msg);
	return res;
}
