/*
 * lib.c - the certmint table scripts see: event constants, JSON (jansson),
 * pem, hex, sha256, parse_certificate (src/crypto), and the capabilities
 * an operator opts in to per script ([Name.Exit] allow = file,exec):
 * append_file under allow_dir and exec (the command module's runner);
 * http_post and mail (allow = http,smtp) are in net.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "../common/common.h"
#include "../crypto/crypto.h"
#include "../crypto/der.h"
#include "command.h"	/* run_command: modules/command/run.c */
#include "lua_int.h"

#define JSON_DEPTH	64
#define EXEC_ARGS	64
#define EXEC_KEEP	(64 << 10)	/* bytes of each output kept */
#define EXEC_TIMEOUT_MS	30000LL		/* when the call gives none */

static const char *const events[] = {
	"CERTISSUED", "CERTPENDING", "CERTDENIED", "CERTREVOKED",
	"CERTRETRIEVEPENDING", "CRLISSUED", "SHUTDOWN", "STARTUP",
	"CERTUNREVOKED", "CERTIMPORTED"
};

int32_t
lm_event_from_name(const char *s)
{
	size_t	 i;

	if (strncasecmp(s, "EXITEVENT_", 10) == 0)
		s += 10;
	for (i = 0; i < nitems(events); i++)
		if (strcasecmp(s, events[i]) == 0)
			return (int32_t)1 << i;
	return 0;
}

/* The JSON null, a value of its own so that it survives in tables. */
static int json_null_key;

static int	 to_lua(lua_State *, json_t *, int depth);

static int
to_lua_object(lua_State *L, json_t *j, int depth)
{
	const char	*k;
	json_t		*v;
	size_t		 i;

	lua_createtable(L, 0, (int)json_object_size(j));
	json_object_foreach(j, k, v) {
		if (to_lua(L, v, depth + 1) == -1)
			return -1;
		lua_setfield(L, -2, k);
	}
	(void)i;
	return 0;
}

/* Push j as a Lua value. -1 when nested too deep. */
static int
to_lua(lua_State *L, json_t *j, int depth)
{
	json_t		*v;
	size_t		 i;

	if (depth > JSON_DEPTH)
		return -1;
	luaL_checkstack(L, 4, "json");
	switch (json_typeof(j)) {
	case JSON_OBJECT:
		return to_lua_object(L, j, depth);
	case JSON_ARRAY:
		lua_createtable(L, (int)json_array_size(j), 0);
		json_array_foreach(j, i, v) {
			if (to_lua(L, v, depth + 1) == -1)
				return -1;
			lua_rawseti(L, -2, (lua_Integer)i + 1);
		}
		return 0;
	case JSON_STRING:
		lua_pushlstring(L, json_string_value(j), json_string_length(j));
		return 0;
	case JSON_INTEGER:
		lua_pushinteger(L, json_integer_value(j));
		return 0;
	case JSON_REAL:
		lua_pushnumber(L, json_real_value(j));
		return 0;
	case JSON_TRUE:
	case JSON_FALSE:
		lua_pushboolean(L, json_is_true(j));
		return 0;
	default:
		lua_rawgetp(L, LUA_REGISTRYINDEX, &json_null_key);
		return 0;
	}
}

/*
 * What jansson allocated for one call, held by a userdata on the stack:
 * when the memory cap ends the call halfway (a longjmp out of a push),
 * the box becomes garbage and its __gc frees what the call could not.
 */
struct jbox {
	json_t	*j;
	char	*s;
};

static int
jbox_gc(lua_State *L)
{
	struct jbox	*b = lua_touserdata(L, 1);

	json_decref(b->j);
	free(b->s);
	b->j = NULL;
	b->s = NULL;
	return 0;
}

/* A new empty box on the stack's top. */
static struct jbox *
jbox_new(lua_State *L)
{
	struct jbox	*b;

	b = lua_newuserdatauv(L, sizeof(*b), 0);
	memset(b, 0, sizeof(*b));
	if (luaL_newmetatable(L, "certmint.jbox")) {
		lua_pushcfunction(L, jbox_gc);
		lua_setfield(L, -2, "__gc");
	}
	lua_setmetatable(L, -2);
	return b;
}

/* Free what the box holds now, not at the next collection. */
static void
jbox_clear(struct jbox *b)
{
	json_decref(b->j);
	free(b->s);
	b->j = NULL;
	b->s = NULL;
}

static int
json_decode_l(lua_State *L)
{
	size_t		 len;
	const char	*s = luaL_checklstring(L, 1, &len);
	struct jbox	*b;
	json_error_t	 e;
	int		 rc;

	b = jbox_new(L);	/* stack index 2 */
	b->j = json_loadb(s, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
	if (b->j == NULL) {
		lua_pushnil(L);
		lua_pushfstring(L, "json: line %d: %s", e.line, e.text);
		return 2;
	}
	rc = lua_checkstack(L, 2 * JSON_DEPTH + 8) ? to_lua(L, b->j, 0) : -1;
	jbox_clear(b);
	if (rc == -1)
		return luaL_error(L, "json: nested deeper than %d", JSON_DEPTH);
	return 1;
}

/*
 * Lua value at idx as JSON (NULL with *why): a table with keys 1..n is
 * an array, one with string keys an object, an empty table an object.
 */
static json_t *
from_lua(lua_State *L, int idx, int depth, const char **why)
{
	json_t		*j, *v;
	lua_Integer	 n, i;
	size_t		 len;
	const char	*s;

	if (depth > JSON_DEPTH) {
		*why = "nested too deep (or a cycle)";
		return NULL;
	}
	idx = lua_absindex(L, idx);
	switch (lua_type(L, idx)) {
	case LUA_TNIL:
		return json_null();
	case LUA_TBOOLEAN:
		return json_boolean(lua_toboolean(L, idx));
	case LUA_TNUMBER:
		if (lua_isinteger(L, idx))
			return json_integer(lua_tointeger(L, idx));
		return json_real(lua_tonumber(L, idx));
	case LUA_TSTRING:
		s = lua_tolstring(L, idx, &len);
		if ((j = json_stringn(s, len)) == NULL)
			*why = "a string that is not UTF-8";
		return j;
	case LUA_TLIGHTUSERDATA:
		lua_rawgetp(L, LUA_REGISTRYINDEX, &json_null_key);
		if (lua_rawequal(L, -1, idx)) {
			lua_pop(L, 1);
			return json_null();
		}
		lua_pop(L, 1);
		break;
	case LUA_TTABLE:
		if (!lua_checkstack(L, 4)) {
			*why = "nested too deep";
			return NULL;
		}
		n = (lua_Integer)lua_rawlen(L, idx);
		if (n > 0) {
			j = json_array();
			for (i = 1; i <= n; i++) {
				lua_rawgeti(L, idx, i);
				v = from_lua(L, -1, depth + 1, why);
				lua_pop(L, 1);
				if (v == NULL || json_array_append_new(j, v)) {
					json_decref(j);
					return NULL;
				}
			}
			return j;
		}
		j = json_object();
		lua_pushnil(L);
		while (lua_next(L, idx) != 0) {
			if (lua_type(L, -2) != LUA_TSTRING) {
				*why = "a table with keys that are neither "
				    "1..n nor strings";
				lua_pop(L, 2);
				json_decref(j);
				return NULL;
			}
			s = lua_tolstring(L, -2, &len);
			v = from_lua(L, -1, depth + 1, why);
			if (v == NULL || json_object_setn_new(j, s, len, v) ==
			    -1) {
				lua_pop(L, 2);
				json_decref(j);
				if (v != NULL && *why == NULL)
					*why = "a key that is not UTF-8";
				return NULL;
			}
			lua_pop(L, 1);
		}
		return j;
	default:
		break;
	}
	*why = "a value JSON cannot hold (function, userdata, thread)";
	return NULL;
}

static int
json_encode_l(lua_State *L)
{
	const char	*why = NULL;
	struct jbox	*b;

	luaL_checkany(L, 1);
	lua_settop(L, 1);
	b = jbox_new(L);
	if ((b->j = from_lua(L, 1, 0, &why)) == NULL)
		return luaL_error(L, "json.encode: %s", why ? why :
		    "out of memory");
	b->s = json_dumps(b->j, JSON_ENCODE_ANY | JSON_COMPACT |
	    JSON_SORT_KEYS);
	if (b->s == NULL)
		return luaL_error(L, "json.encode: out of memory");
	lua_pushstring(L, b->s);	/* may run out: the box frees */
	jbox_clear(b);
	return 1;
}

/* pem(der [, label]): label defaults to "CERTIFICATE". */
static int
pem_l(lua_State *L)
{
	size_t		 len;
	const char	*der = luaL_checklstring(L, 1, &len);
	const char	*label = luaL_optstring(L, 2, "CERTIFICATE");
	char		*s;

	if ((s = pem_encode(label, (const unsigned char *)der, len)) == NULL)
		return luaL_error(L, "pem: out of memory");
	lua_pushstring(L, s);
	free(s);
	return 1;
}

static int
hex_l(lua_State *L)
{
	static const char digits[] = "0123456789abcdef";
	size_t		 len, i;
	const unsigned char *p = (const unsigned char *)luaL_checklstring(L, 1,
	    &len);
	luaL_Buffer	 b;
	char		*o;

	o = luaL_buffinitsize(L, &b, len * 2);
	for (i = 0; i < len; i++) {
		o[2 * i] = digits[p[i] >> 4];
		o[2 * i + 1] = digits[p[i] & 0xf];
	}
	luaL_pushresultsize(&b, len * 2);
	return 1;
}

/* sha256(data): lowercase hex. */
static int
sha256_l(lua_State *L)
{
	size_t		 len;
	const char	*p = luaL_checklstring(L, 1, &len);
	char		 out[65];

	if (sha256_hex(p, len, out) == -1)
		return luaL_error(L, "sha256 failed");
	lua_pushstring(L, out);
	return 1;
}

/* The DNS, e-mail, URI and IP names of a subjectAltName value, into t. */
static void
push_sans(lua_State *L, const unsigned char *p, size_t len)
{
	struct der	 d, g;
	struct der_tlv	 t;
	lua_Integer	 n = 0;
	char		 ip[64];
	size_t		 i, o;

	lua_newtable(L);
	der_init(&d, p, len);
	if (der_enter(&d, DER_SEQUENCE, &g) == -1)
		return;
	while (!der_at_end(&g) && der_read(&g, &t) == 0) {
		switch (t.tag) {
		case DER_CTX(1):
		case DER_CTX(2):
		case DER_CTX(6):
			lua_pushlstring(L, (const char *)t.val, t.len);
			break;
		case DER_CTX(7):
			o = 0;
			ip[0] = '\0';
			for (i = 0; i < t.len && t.len == 4; i++)
				o += (size_t)snprintf(ip + o, sizeof(ip) - o,
				    "%s%u", i ? "." : "", t.val[i]);
			for (i = 0; i + 1 < t.len && t.len == 16; i += 2)
				o += (size_t)snprintf(ip + o, sizeof(ip) - o,
				    "%s%x", i ? ":" : "",
				    (t.val[i] << 8) | t.val[i + 1]);
			lua_pushstring(L, ip);
			break;
		default:
			continue;
		}
		lua_rawseti(L, -2, ++n);
	}
}

/* parse_san(der): the names of a subjectAltName extension value. */
static int
parse_san_l(lua_State *L)
{
	size_t		 len;
	const char	*p = luaL_checklstring(L, 1, &len);

	push_sans(L, (const unsigned char *)p, len);
	return 1;
}

/*
 * parse_certificate(der or pem): { subject, issuer, serial, not_before,
 * not_after, sans, sha256, key_algorithm, key_bits }, or nil, why.
 */
static int
parse_certificate_l(lua_State *L)
{
	size_t		 len, i;
	const char	*p = luaL_checklstring(L, 1, &len);
	struct cert_info ci;
	char		 err[256], *issuer;

	memset(&ci, 0, sizeof(ci));
	if (cert_info_parse((const unsigned char *)p, len, &ci, err,
	    sizeof(err)) == -1) {
		lua_pushnil(L);
		lua_pushstring(L, err);
		return 2;
	}
	/* Nothing below raises before cert_info_free but memory errors. */
	issuer = name_to_text(ci.issuer, ci.issuer_len);
	lua_createtable(L, 0, 10);
	lua_pushstring(L, ci.subject_dn ? ci.subject_dn : "");
	lua_setfield(L, -2, "subject");
	lua_pushstring(L, issuer ? issuer : "");
	lua_setfield(L, -2, "issuer");
	free(issuer);
	lua_pushstring(L, ci.serial ? ci.serial : "");
	lua_setfield(L, -2, "serial");
	lua_pushinteger(L, ci.not_before);
	lua_setfield(L, -2, "not_before");
	lua_pushinteger(L, ci.not_after);
	lua_setfield(L, -2, "not_after");
	lua_pushstring(L, ci.hash);
	lua_setfield(L, -2, "sha256");
	lua_pushstring(L, ci.pk_alg_oid ? ci.pk_alg_oid : "");
	lua_setfield(L, -2, "key_algorithm");
	lua_pushinteger(L, ci.pk_bits);
	lua_setfield(L, -2, "key_bits");
	for (i = 0; i < ci.nexts; i++)
		if (strcmp(ci.exts[i].oid, "2.5.29.17") == 0)
			break;
	if (i < ci.nexts)
		push_sans(L, ci.exts[i].value, ci.exts[i].len);
	else
		lua_newtable(L);
	lua_setfield(L, -2, "sans");
	cert_info_free(&ci);
	return 1;
}

static const struct lm_limits *
limits(lua_State *L)
{
	return lm_state_of(L)->lim;
}

/*
 * The file under allow_dir that rel names: relative, no "..", no
 * symbolic link on the way (O_NOFOLLOW on each directory). Returns an
 * open descriptor for appending, or -1 with why.
 */
static int
open_under(const char *dir, const char *rel, char *why, size_t whylen)
{
	char		 buf[PATH_MAX], *p, *slash;
	int		 fd, next;

	if (*rel == '\0' || *rel == '/' || strlen(rel) >= sizeof(buf)) {
		snprintf(why, whylen, "give a path relative to allow_dir");
		return -1;
	}
	snprintf(buf, sizeof(buf), "%s", rel);
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		snprintf(why, whylen, "allow_dir %s: %s", dir, strerror(errno));
		return -1;
	}
	for (p = buf; (slash = strchr(p, '/')) != NULL; p = slash + 1) {
		*slash = '\0';
		if (strcmp(p, "..") == 0 || strcmp(p, ".") == 0 || *p == '\0')
			goto bad;
		next = openat(fd, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);
		close(fd);
		if ((fd = next) == -1) {
			snprintf(why, whylen, "%s: %s", rel, strerror(errno));
			return -1;
		}
	}
	if (strcmp(p, "..") == 0 || strcmp(p, ".") == 0 || *p == '\0')
		goto bad;
	next = openat(fd, p, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW |
	    O_CLOEXEC, 0640);
	if (next == -1)
		snprintf(why, whylen, "%s: %s", rel, strerror(errno));
	close(fd);
	return next;
bad:
	close(fd);
	snprintf(why, whylen, "%s: no \".\", \"..\" or empty parts", rel);
	return -1;
}

/* append_file(path, data): true, or nil, why. Needs allow = file. */
static int
append_file_l(lua_State *L)
{
	const struct lm_limits *lim = limits(L);
	const char	*rel = luaL_checkstring(L, 1), *data;
	size_t		 len, off = 0;
	ssize_t		 n;
	char		 why[PATH_MAX + 64];
	int		 fd;

	data = luaL_checklstring(L, 2, &len);
	if (!(lim->allow & LM_ALLOW_FILE) || lim->allow_dir == NULL)
		return luaL_error(L, "append_file is not allowed: set allow = "
		    "file and allow_dir in the module's section");
	if ((fd = open_under(lim->allow_dir, rel, why, sizeof(why))) == -1) {
		lua_pushnil(L);
		lua_pushstring(L, why);
		return 2;
	}
	while (off < len) {
		if ((n = write(fd, data + off, len - off)) == -1) {
			if (errno == EINTR)
				continue;
			close(fd);
			lua_pushnil(L);
			lua_pushfstring(L, "%s: %s", rel, strerror(errno));
			return 2;
		}
		off += (size_t)n;
	}
	close(fd);
	lua_pushboolean(L, 1);
	return 1;
}

/*
 * exec(argv [, { stdin =, timeout = seconds }]): runs argv[1] (an
 * absolute path, no shell) and returns { status, stdout, stderr } or
 * nil, why. A command killed at its timeout is status nil, timeout true.
 * Needs allow = exec.
 */
static int
exec_l(lua_State *L)
{
	const struct lm_limits *lim = limits(L);
	struct run_spec	 sp;
	struct run_result res;
	char		*argv[EXEC_ARGS + 1];
	static char *const envp[] = { "PATH=/usr/bin:/bin", "LANG=C", NULL };
	size_t		 inlen = 0;
	lua_Integer	 n, i;

	if (!(lim->allow & LM_ALLOW_EXEC))
		return luaL_error(L, "exec is not allowed: set allow = exec in "
		    "the module's section");
	luaL_checktype(L, 1, LUA_TTABLE);
	n = (lua_Integer)lua_rawlen(L, 1);
	if (n < 1 || n > EXEC_ARGS)
		return luaL_error(L, "exec: argv must have 1 to %d strings",
		    EXEC_ARGS);
	memset(&sp, 0, sizeof(sp));
	luaL_checkstack(L, (int)n + 8, "exec");
	for (i = 1; i <= n; i++) {
		lua_rawgeti(L, 1, i);
		/* Kept on the stack: the strings live until we return. */
		argv[i - 1] = (char *)luaL_checkstring(L, -1);
	}
	argv[n] = NULL;
	if (argv[0][0] != '/')
		return luaL_error(L, "exec: argv[1] must be an absolute path");
	if (lua_istable(L, 2)) {
		lua_getfield(L, 2, "stdin");
		sp.input = (const unsigned char *)lua_tolstring(L, -1, &inlen);
	}
	/* Never past the call's deadline: a C call cannot be interrupted. */
	if ((sp.timeout_ms = lm_timeout(L, lua_istable(L, 2) ? 2 : 0,
	    "timeout", EXEC_TIMEOUT_MS)) == 0)
		return luaL_error(L, "exec: the call's deadline has passed");
	sp.file = argv[0];
	sp.argv = argv;
	sp.envp = envp;
	sp.dir = "/";
	sp.input_len = inlen;
	sp.kill_after_ms = 500;	/* SIGTERM, then SIGKILL */
	sp.keep = EXEC_KEEP;
	memset(&res, 0, sizeof(res));
	run_command(&sp, &res);
	if (res.end == RUN_FAILED) {
		lua_pushnil(L);
		lua_pushstring(L, res.why);
		run_result_free(&res);
		return 2;
	}
	lua_createtable(L, 0, 4);
	if (res.end == RUN_EXITED)
		lua_pushinteger(L, res.status);
	else
		lua_pushnil(L);
	lua_setfield(L, -2, "status");
	lua_pushboolean(L, res.end == RUN_TIMEOUT);
	lua_setfield(L, -2, "timeout");
	lua_pushlstring(L, res.out.data ? res.out.data : "", res.out.len);
	lua_setfield(L, -2, "stdout");
	lua_pushlstring(L, res.err.data ? res.err.data : "", res.err.len);
	lua_setfield(L, -2, "stderr");
	run_result_free(&res);
	return 1;
}

/* monotonic(): seconds (with a fraction) of a clock that never goes back. */
static int
monotonic_l(lua_State *L)
{
	lua_pushnumber(L, (lua_Number)time_mono_ns() / 1e9);
	return 1;
}

/* event_name(event): "CERTISSUED", ... */
static int
event_name_l(lua_State *L)
{
	lua_Integer	 e = luaL_checkinteger(L, 1);
	size_t		 i;

	for (i = 0; i < nitems(events); i++)
		if (e == (lua_Integer)1 << i) {
			lua_pushstring(L, events[i]);
			return 1;
		}
	lua_pushliteral(L, "UNKNOWN");
	return 1;
}

void
lm_lib_open(lua_State *L)
{
	static const luaL_Reg fns[] = {
		{ "event_name", event_name_l },
		{ "monotonic", monotonic_l },
		{ "pem", pem_l },
		{ "hex", hex_l },
		{ "sha256", sha256_l },
		{ "parse_certificate", parse_certificate_l },
		{ "parse_san", parse_san_l },
		{ "append_file", append_file_l },
		{ "exec", exec_l },
		{ NULL, NULL }
	};
	static const luaL_Reg jfns[] = {
		{ "encode", json_encode_l },
		{ "decode", json_decode_l },
		{ NULL, NULL }
	};
	size_t	 i;

	luaL_newlib(L, fns);
	lm_net_open(L);
	for (i = 0; i < nitems(events); i++) {
		lua_pushinteger(L, (lua_Integer)1 << i);
		lua_setfield(L, -2, events[i]);
	}
	luaL_newlib(L, jfns);
	/* json.null: a light userdata no script can forge. */
	lua_pushlightuserdata(L, &json_null_key);
	lua_pushvalue(L, -1);
	lua_rawsetp(L, LUA_REGISTRYINDEX, &json_null_key);
	lua_setfield(L, -2, "null");
	lua_setfield(L, -2, "json");
	lua_setglobal(L, "certmint");
}
