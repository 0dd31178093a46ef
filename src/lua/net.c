/*
 * net.c - the network capabilities an operator opts in to per script:
 * http_post (allow = http) on the webhook module's POST code
 * (modules/common/httppost.c) and mail (allow = smtp) on the mail
 * module's message and SMTP code (modules/mail). Both block the calling
 * delivery thread, so their timeouts never run past the call's deadline.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/rand.h>

#include "../common/common.h"
#include "httppost.h"
#include "mail.h"
#include "lua_int.h"

#define HTTP_TIMEOUT_MS	10000LL		/* when the call gives none */
#define HTTP_MAX_BODY	(4 << 20)	/* request body */
#define HTTP_KEEP	(1 << 20)	/* response body kept at most */
#define HTTP_HEADERS	32
#define MAIL_TIMEOUT_MS	30000LL
#define MAIL_MAX_RCPT	100
#define MAIL_MAX_TEXT	(1 << 20)	/* subject plus body */

static pthread_once_t	 curl_once = PTHREAD_ONCE_INIT;
static int		 curl_ok;

/* Thread-safe and counted since curl 7.84; never cleaned up. */
static void
curl_init(void)
{
	curl_ok = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
}

static int
net_ready(void)
{
	pthread_once(&curl_once, curl_init);
	return curl_ok;
}

/* An optional string field of the table at idx, NULL when absent. */
static const char *
opt_string(lua_State *L, int idx, const char *key)
{
	const char	*v;

	lua_getfield(L, idx, key);
	if (lua_isnil(L, -1)) {
		lua_pop(L, 1);
		return NULL;
	}
	if ((v = lua_tostring(L, -1)) == NULL)
		luaL_error(L, "%s: give a string", key);
	/* Left on the stack: the string lives until the function returns. */
	return v;
}

/* A header name (an RFC 9110 token) and a value without CR, LF or NUL. */
static int
header_ok(const char *name, const char *value, size_t vlen)
{
	const char	*p;

	if (*name == '\0')
		return 0;
	for (p = name; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) &&
		    strchr("!#$%&'*+-.^_`|~", *p) == NULL)
			return 0;
	return strcspn(value, "\r\n") == vlen;
}

/* opts.headers into *l (with "Expect:": the body goes at once). */
static void
http_headers(lua_State *L, int opts, struct curl_slist **l)
{
	struct curl_slist *n;
	const char	*name, *value = NULL;
	size_t		 vlen;
	int		 count = 0;

	if ((*l = curl_slist_append(NULL, "Expect:")) == NULL)
		luaL_error(L, "http_post: out of memory");
	if (opts == 0)
		return;
	lua_getfield(L, opts, "headers");
	if (lua_isnil(L, -1)) {
		lua_pop(L, 1);
		return;
	}
	luaL_argcheck(L, lua_istable(L, -1), 3, "headers must be a table");
	lua_pushnil(L);
	while (lua_next(L, -2) != 0) {
		if (lua_type(L, -2) != LUA_TSTRING ||
		    (value = lua_tolstring(L, -1, &vlen)) == NULL)
			luaL_error(L, "http_post: headers: give name = "
			    "\"value\" strings");
		name = lua_tostring(L, -2);
		if (!header_ok(name, value, vlen) || ++count > HTTP_HEADERS)
			luaL_error(L, "http_post: header \"%s\": a token name, "
			    "no CR or LF in the value, at most %d headers",
			    name, HTTP_HEADERS);
		lua_pushfstring(L, "%s: %s", name, value);
		n = curl_slist_append(*l, lua_tostring(L, -1));
		lua_pop(L, 2);
		if (n == NULL)
			luaL_error(L, "http_post: out of memory");
		*l = n;
	}
	lua_pop(L, 1);
}

/* The slist is freed even when a check raises an error. */
static int
slist_gc(lua_State *L)
{
	struct curl_slist **l = lua_touserdata(L, 1);

	curl_slist_free_all(*l);
	*l = NULL;
	return 0;
}

static struct curl_slist **
slist_box(lua_State *L)
{
	struct curl_slist **l;

	l = lua_newuserdatauv(L, sizeof(*l), 0);
	*l = NULL;
	if (luaL_newmetatable(L, "certmint.slist")) {
		lua_pushcfunction(L, slist_gc);
		lua_setfield(L, -2, "__gc");
	}
	lua_setmetatable(L, -2);
	return l;
}

/* A malloc'd string owned by the stack: freed when collected. */
static int
str_gc(lua_State *L)
{
	char	**p = lua_touserdata(L, 1);

	free(*p);
	*p = NULL;
	return 0;
}

static char **
str_box(lua_State *L)
{
	char	**p;

	p = lua_newuserdatauv(L, sizeof(*p), 0);
	*p = NULL;
	if (luaL_newmetatable(L, "certmint.strbox")) {
		lua_pushcfunction(L, str_gc);
		lua_setfield(L, -2, "__gc");
	}
	lua_setmetatable(L, -2);
	return p;
}

/*
 * http_post(url, body [, { headers = {name = value}, timeout = seconds,
 * ca_file = path, max_response = bytes }]): status, body (at most
 * max_response bytes, 1 MiB by default), or nil, why. Only http and
 * https; redirects are not followed. Needs allow = http.
 */
static int
http_post_l(lua_State *L)
{
	struct lm_state	*s = lm_state_of(L);
	struct hp_request req;
	struct hp_response r;
	struct curl_slist **hdrs;
	char		**body;
	const char	*url = luaL_checkstring(L, 1);
	lua_Integer	 keep = HTTP_KEEP;
	int		 opts = lua_istable(L, 3) ? 3 : 0;
	int		 rc;

	if (!(s->lim->allow & LM_ALLOW_HTTP))
		return luaL_error(L, "http_post is not allowed: set allow = "
		    "http in the module's section");
	memset(&req, 0, sizeof(req));
	req.body = luaL_optlstring(L, 2, "", &req.len);
	luaL_argcheck(L, lua_isnoneornil(L, 3) || opts, 3, "give a table");
	if (strncasecmp(url, "http://", 7) != 0 &&
	    strncasecmp(url, "https://", 8) != 0) {
		lua_pushnil(L);
		lua_pushliteral(L, "http_post: only http:// and https:// URLs");
		return 2;
	}
	if (req.len > HTTP_MAX_BODY)
		return luaL_error(L, "http_post: body over %d bytes",
		    HTTP_MAX_BODY);
	if (opts) {
		req.ca_file = opt_string(L, opts, "ca_file");
		lua_getfield(L, opts, "max_response");
		keep = luaL_optinteger(L, -1, HTTP_KEEP);
		lua_pop(L, 1);
		if (keep < 0 || keep > HTTP_KEEP)
			return luaL_error(L, "http_post: max_response: 0 to "
			    "%d bytes", HTTP_KEEP);
	}
	req.keep = (size_t)keep;
	req.url = url;
	req.user_agent = "certmint-lua/1";
	if ((req.timeout_ms = lm_timeout(L, opts, "timeout",
	    HTTP_TIMEOUT_MS)) == 0)
		return luaL_error(L, "http_post: the call's deadline has "
		    "passed");
	req.connect_timeout_ms = req.timeout_ms;
	hdrs = slist_box(L);
	http_headers(L, opts, hdrs);
	req.headers = *hdrs;
	body = str_box(L);
	if (!net_ready() || (s->http == NULL &&
	    (s->http = hp_pool_new()) == NULL))
		return luaL_error(L, "http_post: cannot set up libcurl");
	rc = hp_post(s->http, &req, &r);
	*body = r.body;		/* freed by the box if a push runs out */
	curl_slist_free_all(*hdrs);
	*hdrs = NULL;
	if (rc == -1) {
		lua_pushnil(L);
		lua_pushfstring(L, "http_post: %s", r.error);
		return 2;
	}
	lua_pushinteger(L, r.status);
	lua_pushlstring(L, r.body != NULL ? r.body : "", r.len);
	free(*body);
	*body = NULL;
	return 2;
}

/* A host name or address for the SMTP URL: nothing that changes the URL. */
static int
mail_host_ok(const char *h)
{
	if (*h == '\0' || strlen(h) > 253)
		return 0;
	for (; *h != '\0'; h++)
		if (!isalnum((unsigned char)*h) && strchr(".-:[]", *h) == NULL)
			return 0;
	return 1;
}

/* mail's to: one address or a list of them, into to[]; their count. */
static size_t
mail_rcpts(lua_State *L, int t, const char **to)
{
	lua_Integer	 i, n;

	lua_getfield(L, t, "to");
	if (lua_type(L, -1) == LUA_TSTRING) {
		to[0] = lua_tostring(L, -1);
		return 1;	/* left on the stack */
	}
	if (!lua_istable(L, -1))
		luaL_error(L, "mail: to must be an address or a list of them");
	n = (lua_Integer)lua_rawlen(L, -1);
	if (n < 1 || n > MAIL_MAX_RCPT)
		luaL_error(L, "mail: to must have 1 to %d addresses",
		    MAIL_MAX_RCPT);
	for (i = 1; i <= n; i++) {
		/* Strings held by the table, which the stack holds. */
		if (lua_rawgeti(L, -1, i) != LUA_TSTRING)
			luaL_error(L, "mail: to[%d] is not a string", (int)i);
		to[i - 1] = lua_tostring(L, -1);
		lua_pop(L, 1);
	}
	return (size_t)n;
}

/* "<random>.<time>@<host>": unique, as a script's mails have no event. */
static void
mail_msgid(char *buf, size_t len)
{
	unsigned char	 r[8];
	char		 host[256];
	size_t		 i;

	if (RAND_bytes(r, sizeof(r)) != 1)
		memset(r, 0, sizeof(r));
	if (gethostname(host, sizeof(host)) == -1)
		host[0] = '\0';
	host[sizeof(host) - 1] = '\0';
	for (i = 0; host[i] != '\0'; i++)
		if (!isalnum((unsigned char)host[i]) && host[i] != '.' &&
		    host[i] != '-')
			host[i] = '-';
	snprintf(buf, len, "%02x%02x%02x%02x%02x%02x%02x%02x.%lld.lua@%s",
	    r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7],
	    (long long)time(NULL), host[0] ? host : "localhost");
}

/* The message box: freed when collected if a check raises an error. */
static int
msg_gc(lua_State *L)
{
	mail_msg_free(lua_touserdata(L, 1));
	return 0;
}

/*
 * mail{ server =, port =, tls = "none"|"starttls"|"tls", ca_file =,
 * helo =, timeout = seconds, from =, to = address or { ... }, subject =,
 * body = }: true, or nil, why. The message is the mail module's (Date,
 * Message-ID, UTF-8 MIME), sent by its SMTP code. Needs allow = smtp.
 */
static int
mail_l(lua_State *L)
{
	static const char *const tls[] = { "none", "starttls", "tls", NULL };
	struct lm_state	*s = lm_state_of(L);
	struct mail_conf c;
	struct mail_msg	*m;
	const char	*to[MAIL_MAX_RCPT], *from, *subject, *body, *v;
	char		 msgid[320], why[512];
	size_t		 nto, slen, blen, i;
	enum mail_result res;

	if (!(s->lim->allow & LM_ALLOW_SMTP))
		return luaL_error(L, "mail is not allowed: set allow = smtp in "
		    "the module's section");
	luaL_checktype(L, 1, LUA_TTABLE);
	memset(&c, 0, sizeof(c));
	if ((c.server = (char *)opt_string(L, 1, "server")) == NULL ||
	    !mail_host_ok(c.server))
		return luaL_error(L, "mail: server: give a host name or "
		    "address");
	c.tls = MAIL_TLS_STARTTLS;	/* never plain text unless asked */
	if ((v = opt_string(L, 1, "tls")) != NULL) {
		for (i = 0; tls[i] != NULL && strcmp(v, tls[i]) != 0; i++)
			;
		if (tls[i] == NULL)
			return luaL_error(L, "mail: tls = \"%s\": give none, "
			    "starttls or tls", v);
		c.tls = (enum mail_tls)i;
	}
	lua_getfield(L, 1, "port");
	c.port = luaL_optinteger(L, -1, c.tls == MAIL_TLS_IMPLICIT ? 465 : 25);
	if (c.port < 1 || c.port > 65535)
		return luaL_error(L, "mail: port: 1 to 65535");
	c.ca_file = (char *)opt_string(L, 1, "ca_file");
	if ((c.helo = (char *)opt_string(L, 1, "helo")) != NULL &&
	    !mail_host_ok(c.helo))
		return luaL_error(L, "mail: helo: give a host name");
	if ((from = opt_string(L, 1, "from")) == NULL)
		return luaL_error(L, "mail: from: give an address");
	subject = opt_string(L, 1, "subject");
	body = opt_string(L, 1, "body");
	slen = subject != NULL ? strlen(subject) : 0;
	blen = body != NULL ? strlen(body) : 0;
	if (slen + blen > MAIL_MAX_TEXT)
		return luaL_error(L, "mail: subject and body over %d bytes",
		    MAIL_MAX_TEXT);
	nto = mail_rcpts(L, 1, to);
	if ((c.timeout_ms = lm_timeout(L, 1, "timeout",
	    MAIL_TIMEOUT_MS)) == 0)
		return luaL_error(L, "mail: the call's deadline has passed");
	c.connect_timeout_ms = c.timeout_ms;
	m = lua_newuserdatauv(L, sizeof(*m), 0);
	memset(m, 0, sizeof(*m));
	if (luaL_newmetatable(L, "certmint.mailmsg")) {
		lua_pushcfunction(L, msg_gc);
		lua_setfield(L, -2, "__gc");
	}
	lua_setmetatable(L, -2);
	mail_msgid(msgid, sizeof(msgid));
	res = mail_msg_plain(from, to, nto, subject ? subject : "",
	    body ? body : "", msgid, m, why, sizeof(why));
	if (res == MAIL_SENT) {
		if (!net_ready() || (s->smtp == NULL &&
		    (s->smtp = mail_smtp_new()) == NULL))
			return luaL_error(L, "mail: cannot set up libcurl");
		res = mail_smtp_send(s->smtp, &c, m, why, sizeof(why));
	}
	mail_msg_free(m);
	if (res != MAIL_SENT) {
		lua_pushnil(L);
		lua_pushfstring(L, "mail: %s", why);
		return 2;
	}
	lua_pushboolean(L, 1);
	return 1;
}

/* Add http_post and mail to the certmint table on the stack's top. */
void
lm_net_open(lua_State *L)
{
	lua_pushcfunction(L, http_post_l);
	lua_setfield(L, -2, "http_post");
	lua_pushcfunction(L, mail_l);
	lua_setfield(L, -2, "mail");
}

/* What a state's network calls keep between calls. */
void
lm_net_free(struct lm_state *s)
{
	hp_pool_free(s->http);
	mail_smtp_free(s->smtp);
	s->http = NULL;
	s->smtp = NULL;
}
