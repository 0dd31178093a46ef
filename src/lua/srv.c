/*
 * srv.c - the srv object of a script's call: the reads of
 * ICertServerExit (cm_server_exit) as Lua values, and for a policy the
 * setters of cm_server_policy. One userdata per state, bound to the C
 * server object for the length of a call; used after it, it raises an
 * error instead of touching freed memory.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "lua_int.h"

#define SRV_META	"certmint.srv"

struct lm_srv {
	cm_server_exit	*g;		/* the getters; NULL: not in a call */
	cm_server_policy *pol;		/* policy calls: the setters */
	int64_t		 ctx;		/* the call's context */
	int64_t		 cur;		/* what set_context last bound */
	int		 cur_valid;
};

static const char *
rc_name(int rc)
{
	switch (rc) {
	case CM_E_PROPERTY_EMPTY:
		return "PROPERTY_EMPTY";
	case CM_E_TYPE:
		return "TYPE";
	case CM_E_INVALIDARG:
		return "INVALIDARG";
	case CM_E_NOMEM:
		return "NOMEM";
	case CM_E_NOCONTEXT:
		return "NOCONTEXT";
	case CM_E_NOTFOUND:
		return "NOTFOUND";
	case CM_E_UNSUPPORTED:
		return "UNSUPPORTED";
	default:
		return "FAIL";
	}
}

static struct lm_srv *
check_srv(lua_State *L)
{
	struct lm_srv	*u = luaL_checkudata(L, 1, SRV_META);

	if (u->g == NULL)
		luaL_error(L, "srv used outside the call it was given to");
	return u;
}

/* Bind the server object to ctx if it is not already. 0 or an rc. */
static int
bind_context(struct lm_srv *u, int64_t ctx)
{
	int	 rc;

	if (u->cur_valid && u->cur == ctx)
		return CM_OK;
	if ((rc = u->g->set_context(u->g, ctx)) != CM_OK)
		return rc;
	u->cur = ctx;
	u->cur_valid = 1;
	return CM_OK;
}

/* nil and the name of rc: what a read that found nothing returns. */
static int
push_fail(lua_State *L, int rc)
{
	lua_pushnil(L);
	lua_pushstring(L, rc_name(rc));
	return 2;
}

static void
push_value(lua_State *L, const cm_value *v)
{
	switch (v->type) {
	case CM_PROPTYPE_LONG:
	case CM_PROPTYPE_DATE:
		lua_pushinteger(L, v->l);
		break;
	default:
		if (v->data == NULL)
			lua_pushliteral(L, "");
		else
			lua_pushlstring(L, v->data, v->len);
	}
}

/*
 * A property by name, whatever its type: the server says CM_E_TYPE for
 * a wrong guess, so the types are tried in turn.
 */
static int
get_prop(lua_State *L, cm_get_property_fn get, int64_t ctx)
{
	static const uint32_t types[] = { CM_PROPTYPE_STRING,
	    CM_PROPTYPE_LONG, CM_PROPTYPE_DATE, CM_PROPTYPE_BINARY };
	static const char *const hints[] = { "string", "long", "date",
	    "binary", NULL };
	struct lm_srv	*u = check_srv(L);
	const char	*name = luaL_checkstring(L, 2);
	cm_value	 v;
	size_t		 i, n = sizeof(types) / sizeof(types[0]);
	int		 rc;

	/* A type given (srv:request_property("RequestID", "long")): one try. */
	i = 0;
	if (!lua_isnoneornil(L, 3)) {
		i = (size_t)luaL_checkoption(L, 3, NULL, hints);
		n = i + 1;
	}
	if ((rc = bind_context(u, ctx)) != CM_OK)
		return push_fail(L, rc);
	for (; i < n; i++) {
		memset(&v, 0, sizeof(v));
		rc = get(u->g, name, types[i], &v);
		if (rc == CM_OK) {
			v.type = types[i];
			push_value(L, &v);
			return 1;
		}
		if (rc != CM_E_TYPE)
			break;
	}
	return push_fail(L, rc);
}

static int
srv_request_property(lua_State *L)
{
	struct lm_srv	*u = check_srv(L);

	return get_prop(L, u->g->get_request_property, u->ctx);
}

static int
srv_certificate_property(lua_State *L)
{
	struct lm_srv	*u = check_srv(L);

	return get_prop(L, u->g->get_certificate_property, u->ctx);
}

/* A CA property: read at context 0, as the C ABI asks. */
static int
srv_ca_property(lua_State *L)
{
	struct lm_srv	*u = check_srv(L);

	return get_prop(L, u->g->get_certificate_property, 0);
}

static int
srv_request_attribute(lua_State *L)
{
	struct lm_srv	*u = check_srv(L);
	const char	*name = luaL_checkstring(L, 2), *v = NULL;
	int		 rc;

	if ((rc = bind_context(u, u->ctx)) != CM_OK ||
	    (rc = u->g->get_request_attribute(u->g, name, &v)) != CM_OK)
		return push_fail(L, rc);
	lua_pushstring(L, v ? v : "");
	return 1;
}

/* certificate_extension(oid): the DER value and the flags, or nil. */
static int
srv_certificate_extension(lua_State *L)
{
	struct lm_srv	*u = check_srv(L);
	const char	*oid = luaL_checkstring(L, 2);
	cm_value	 v;
	int32_t		 flags = 0;
	int		 rc;

	memset(&v, 0, sizeof(v));
	if ((rc = bind_context(u, u->ctx)) != CM_OK ||
	    (rc = u->g->get_certificate_extension(u->g, oid,
	    CM_PROPTYPE_BINARY, &v)) != CM_OK)
		return push_fail(L, rc);
	v.type = CM_PROPTYPE_BINARY;
	push_value(L, &v);
	if (u->g->get_certificate_extension_flags(u->g, &flags) != CM_OK)
		flags = 0;
	lua_pushinteger(L, flags);
	return 2;
}

/* A list of what the enumeration gives (extension OIDs, attribute names). */
static int
enumerate(lua_State *L, int ext)
{
	struct lm_srv	*u = check_srv(L);
	cm_server_exit	*g = u->g;
	const char	*name;
	lua_Integer	 n = 0;
	int		 rc;

	if ((rc = bind_context(u, u->ctx)) != CM_OK)
		return push_fail(L, rc);
	rc = ext ? g->enumerate_extensions_setup(g, 0) :
	    g->enumerate_attributes_setup(g, 0);
	if (rc != CM_OK)
		return push_fail(L, rc);
	lua_newtable(L);
	while ((ext ? g->enumerate_extensions(g, &name) :
	    g->enumerate_attributes(g, &name)) == CM_OK && name != NULL) {
		lua_pushstring(L, name);
		lua_rawseti(L, -2, ++n);
	}
	if (ext)
		g->enumerate_extensions_close(g);
	else
		g->enumerate_attributes_close(g);
	return 1;
}

static int
srv_extensions(lua_State *L)
{
	return enumerate(L, 1);
}

static int
srv_attributes(lua_State *L)
{
	return enumerate(L, 0);
}

/*
 * log(msg [, level]): level "error", "warn", "info" (default) or "debug".
 * An error or warning is what the host records as a failure's cause.
 */
static int
srv_log(lua_State *L)
{
	static const char *const levels[] = { "error", "warn", "info",
	    "debug", NULL };
	struct lm_srv	*u = check_srv(L);
	const char	*msg = luaL_checkstring(L, 2);
	int		 level = luaL_checkoption(L, 3, "info", levels);

	u->g->log(u->g, level, "%s", msg);
	return 0;
}

static int
srv_config(lua_State *L)
{
	struct lm_srv	*u = check_srv(L);
	const char	*v = NULL;
	int		 rc;

	if ((rc = u->g->config_get(u->g, luaL_checkstring(L, 2), &v)) !=
	    CM_OK || v == NULL)
		return push_fail(L, rc);
	lua_pushstring(L, v);
	return 1;
}

static int
srv_context(lua_State *L)
{
	lua_pushinteger(L, check_srv(L)->ctx);
	return 1;
}

static struct lm_srv *
check_policy(lua_State *L)
{
	struct lm_srv	*u = check_srv(L);

	if (u->pol == NULL)
		luaL_error(L, "only a policy module can set what the "
		    "certificate holds");
	return u;
}

/*
 * set_certificate_property(name, value): an integer is a date (NotBefore,
 * NotAfter, Unix seconds), a string a string (CertificateTemplate).
 * Returns true, or nil and why.
 */
static int
srv_set_certificate_property(lua_State *L)
{
	struct lm_srv	*u = check_policy(L);
	const char	*name = luaL_checkstring(L, 2);
	cm_value	 v;
	size_t		 len;
	int		 rc;

	memset(&v, 0, sizeof(v));
	if (lua_isinteger(L, 3)) {
		v.type = CM_PROPTYPE_DATE;
		v.l = lua_tointeger(L, 3);
	} else {
		v.type = CM_PROPTYPE_STRING;
		v.data = luaL_checklstring(L, 3, &len);
		v.len = len;
	}
	if ((rc = u->pol->set_certificate_property(u->pol, name, &v)) !=
	    CM_OK)
		return push_fail(L, rc);
	lua_pushboolean(L, 1);
	return 1;
}

/* set_certificate_extension(oid, der [, critical]): true, or nil, why. */
static int
srv_set_certificate_extension(lua_State *L)
{
	struct lm_srv	*u = check_policy(L);
	const char	*oid = luaL_checkstring(L, 2);
	cm_value	 v;
	size_t		 len;
	int		 rc;

	memset(&v, 0, sizeof(v));
	v.type = CM_PROPTYPE_BINARY;
	v.data = luaL_checklstring(L, 3, &len);
	v.len = len;
	if ((rc = u->pol->set_certificate_extension(u->pol, oid,
	    lua_toboolean(L, 4) ? CM_EXTENSION_CRITICAL_FLAG : 0, &v)) !=
	    CM_OK)
		return push_fail(L, rc);
	lua_pushboolean(L, 1);
	return 1;
}

int
lm_srv_register(lua_State *L)
{
	struct lm_srv	*u;

	static const luaL_Reg methods[] = {
		{ "request_property", srv_request_property },
		{ "certificate_property", srv_certificate_property },
		{ "ca_property", srv_ca_property },
		{ "request_attribute", srv_request_attribute },
		{ "certificate_extension", srv_certificate_extension },
		{ "extensions", srv_extensions },
		{ "attributes", srv_attributes },
		{ "log", srv_log },
		{ "config", srv_config },
		{ "context", srv_context },
		{ "set_certificate_property", srv_set_certificate_property },
		{ "set_certificate_extension", srv_set_certificate_extension },
		{ NULL, NULL }
	};

	luaL_newmetatable(L, SRV_META);
	luaL_newlib(L, methods);
	lua_setfield(L, -2, "__index");
	lua_pushboolean(L, 0);
	lua_setfield(L, -2, "__metatable");
	lua_pop(L, 1);
	/* The state's one srv object, made now: a call must not allocate. */
	u = lua_newuserdatauv(L, sizeof(*u), 0);
	memset(u, 0, sizeof(*u));
	luaL_setmetatable(L, SRV_META);
	return luaL_ref(L, LUA_REGISTRYINDEX);
}

void
lm_srv_bind(struct lm_state *s, cm_server_exit *g, cm_server_policy *pol,
    int64_t context)
{
	lua_State	*L = s->L;
	struct lm_srv	*u;

	lua_rawgeti(L, LUA_REGISTRYINDEX, s->ref_srv);
	u = lua_touserdata(L, -1);
	u->g = g;
	u->pol = pol;
	u->ctx = context;
	/* A new server object starts at context 0 (props.c). */
	u->cur = 0;
	u->cur_valid = 1;
}

void
lm_srv_unbind(struct lm_state *s)
{
	struct lm_srv	*u;

	if (s->ref_srv == LUA_NOREF)
		return;
	lua_rawgeti(s->L, LUA_REGISTRYINDEX, s->ref_srv);
	u = lua_touserdata(s->L, -1);
	memset(u, 0, sizeof(*u));
	lua_pop(s->L, 1);
}
