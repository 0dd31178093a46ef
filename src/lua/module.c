/*
 * module.c - a script as an exit or policy module: the descriptor built
 * from the table the script returns, the instance initialize makes, its
 * pool of states (one per delivering thread, made when a thread first
 * needs one, never used by two threads at once), the entry points, and
 * reload (the old code runs on until the new one has initialized).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../common/common.h"
#include "lua_int.h"

/* While a script is only described: no settings are known yet. */
static const struct lm_limits default_limits = {
	LM_MAX_INSTRUCTIONS, LM_MAX_MEMORY, LM_TIMEOUT_MS, 0, NULL
};

static const char *const manage_names[5] = {
	CM_CMM_PROP_NAME, CM_CMM_PROP_DESCRIPTION, CM_CMM_PROP_COPYRIGHT,
	CM_CMM_PROP_FILEVER, CM_CMM_PROP_PRODUCTVER
};
static const char *const manage_fields[5] = {
	"name", "description", "copyright", "file_version", "product_version"
};

int
luamod_is_script(const char *path)
{
	size_t	 n = strlen(path);

	return n > 4 && strcmp(path + n - 4, ".lua") == 0;
}

/*
 * Field k of the table on top, pushed, by rawget: outside a pcall and the
 * script's limits, a metamethod (__index) that errs would abort the
 * daemon and one that loops would hang it. Its type.
 */
static int
raw_field(lua_State *L, const char *k)
{
	lua_pushstring(L, k);
	return lua_rawget(L, -2);
}

/* The string field of the table on top, copied, or NULL. */
static char *
field_str(lua_State *L, const char *k)
{
	char	*v = NULL;

	if (raw_field(L, k) == LUA_TSTRING)
		v = xstrdup(lua_tostring(L, -1));
	lua_pop(L, 1);
	return v;
}

/*
 * The threading model the table on top asks for: "serial" (default) or
 * "concurrent"; 0 for anything else.
 */
static uint32_t
field_threading(lua_State *L)
{
	const char	*t;
	uint32_t	 r = CM_THREADING_SERIAL;

	if (raw_field(L, "threading") != LUA_TNIL) {
		t = lua_tostring(L, -1);
		if (t != NULL && strcasecmp(t, "concurrent") == 0)
			r = CM_THREADING_CONCURRENT;
		else if (t == NULL || strcasecmp(t, "serial") != 0)
			r = 0;
	}
	lua_pop(L, 1);
	return r;
}

/*
 * The events field of the table on top (names like "CERTISSUED" or the
 * certmint.* numbers) as a mask; all events when absent. -1 on a bad one.
 */
static int32_t
field_events(lua_State *L, char *err, size_t errlen)
{
	int32_t		 mask = 0, e;
	lua_Integer	 i, n;

	if (raw_field(L, "events") == LUA_TNIL) {
		lua_pop(L, 1);
		return CM_EXITEVENT_ALL;
	}
	if (!lua_istable(L, -1)) {
		lua_pop(L, 1);
		snprintf(err, errlen, "events must be a list of event names");
		return -1;
	}
	n = (lua_Integer)lua_rawlen(L, -1);
	for (i = 1; i <= n; i++) {
		lua_rawgeti(L, -1, i);
		if (lua_isinteger(L, -1))
			e = (int32_t)lua_tointeger(L, -1) & CM_EXITEVENT_ALL;
		else if (lua_type(L, -1) == LUA_TSTRING)
			e = lm_event_from_name(lua_tostring(L, -1));
		else
			e = 0;
		if (e == 0) {
			snprintf(err, errlen, "events[%lld]: not an event name "
			    "(CERTISSUED, CRLISSUED, ...)", (long long)i);
			lua_pop(L, 2);
			return -1;
		}
		mask |= e;
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
	return mask;
}


/* Push the script's table of state s. */
static void
push_table(struct lm_state *s)
{
	lua_rawgeti(s->L, LUA_REGISTRYINDEX, s->ref_mod);
}

/*
 * Does the result pair on the stack (first, why) say "not done"? Fills
 * why; a third result "permanent" or "suspend" picks the code. Returns
 * CM_OK or the code. Pops the three results.
 */
static int
results(lua_State *L, char *why, size_t whylen)
{
	const char	*w = lua_tostring(L, -2), *how = lua_tostring(L, -1);
	int		 rc = CM_OK;

	if (lua_isnil(L, -3) && (w != NULL || !lua_isnil(L, -1)))
		rc = CM_E_FAIL;
	else if (lua_isboolean(L, -3) && !lua_toboolean(L, -3))
		rc = CM_E_FAIL;
	if (rc != CM_OK) {
		snprintf(why, whylen, "%s", w ? w : "the script returned "
		    "false");
		if (how != NULL && strcasecmp(how, "permanent") == 0)
			rc = CM_E_PERMANENT;
		else if (how != NULL && strcasecmp(how, "suspend") == 0)
			rc = CM_E_SUSPEND;
	}
	lua_pop(L, 3);
	return rc;
}

/* Parse a size with an optional K, M or G suffix. 0 or -1. */
static int
parse_size(const char *v, long long *out)
{
	char		*end;
	long long	 n;

	errno = 0;
	n = strtoll(v, &end, 10);
	if (errno != 0 || end == v || n < 0)
		return -1;
	if (*end == 'K' || *end == 'k')
		n <<= 10, end++;
	else if (*end == 'M' || *end == 'm')
		n <<= 20, end++;
	else if (*end == 'G' || *end == 'g')
		n <<= 30, end++;
	if (*end != '\0')
		return -1;
	*out = n;
	return 0;
}

/*
 * The module's settings from its section: max_instructions, max_memory,
 * timeout (seconds), allow (file, exec, http, smtp) and allow_dir. 0, or -1 with err.
 */
int
lm_inst_settings(struct lm_inst *in, cm_server_exit *g, char *err,
    size_t errlen)
{
	const char	*v;
	char		*copy, *tok, *save = NULL;
	double		 t;

	in->lim = default_limits;
	if (g->config_get(g, "max_instructions", &v) == CM_OK &&
	    (parse_size(v, &in->lim.max_instructions) == -1 ||
	    in->lim.max_instructions < LM_HOOK_EVERY)) {
		snprintf(err, errlen, "max_instructions = \"%s\": give a "
		    "number of at least %d", v, LM_HOOK_EVERY);
		return -1;
	}
	if (g->config_get(g, "max_memory", &v) == CM_OK &&
	    (parse_size(v, &in->lim.max_memory) == -1 ||
	    in->lim.max_memory < (1 << 20))) {
		snprintf(err, errlen, "max_memory = \"%s\": give bytes (or "
		    "64M) of at least 1M", v);
		return -1;
	}
	if (g->config_get(g, "timeout", &v) == CM_OK) {
		if (sscanf(v, "%lf", &t) != 1 || t <= 0 || t > 3600) {
			snprintf(err, errlen, "timeout = \"%s\": give seconds "
			    "(0.001 to 3600)", v);
			return -1;
		}
		in->lim.timeout_ms = (long long)(t * 1000);
		if (in->lim.timeout_ms < 1)
			in->lim.timeout_ms = 1;
	}
	if (g->config_get(g, "allow", &v) == CM_OK) {
		copy = xstrdup(v);
		for (tok = strtok_r(copy, ", \t", &save); tok != NULL;
		    tok = strtok_r(NULL, ", \t", &save)) {
			if (strcasecmp(tok, "file") == 0)
				in->lim.allow |= LM_ALLOW_FILE;
			else if (strcasecmp(tok, "exec") == 0)
				in->lim.allow |= LM_ALLOW_EXEC;
			else if (strcasecmp(tok, "http") == 0)
				in->lim.allow |= LM_ALLOW_HTTP;
			else if (strcasecmp(tok, "smtp") == 0)
				in->lim.allow |= LM_ALLOW_SMTP;
			else if (strcasecmp(tok, "none") != 0) {
				snprintf(err, errlen, "allow = \"%s\": %s is "
				    "not one of file, exec, http, smtp", v,
				    tok);
				free(copy);
				return -1;
			}
		}
		free(copy);
	}
	if (g->config_get(g, "allow_dir", &v) == CM_OK) {
		if (*v != '/') {
			snprintf(err, errlen, "allow_dir = \"%s\": give an "
			    "absolute path", v);
			return -1;
		}
		in->lim.allow_dir = xstrdup(v);
	}
	if ((in->lim.allow & LM_ALLOW_FILE) && in->lim.allow_dir == NULL) {
		snprintf(err, errlen, "allow = file needs allow_dir");
		return -1;
	}
	return 0;
}

/* initialize(config, srv) of a new state s; 0, or -1 with err. */
static int
state_initialize(struct lm_inst *in, struct lm_state *s, cm_server_exit *g,
    cm_server_policy *pol, char *err, size_t errlen)
{
	char		 why[512];
	int		 rc;

	if (!lm_has(s, "initialize"))
		return 0;
	lua_pushstring(s->L, in->script->name);
	lm_srv_bind(s, g, pol, 0);
	rc = lm_call(s, "initialize", 2, 3, err, errlen);
	lm_srv_unbind(s);
	if (rc == -1)
		return -1;
	if (results(s->L, why, sizeof(why)) != CM_OK) {
		snprintf(err, errlen, "initialize refused: %s", why);
		return -1;
	}
	return 0;
}

struct lm_state *
lm_inst_state(struct lm_inst *in, const char *src, size_t srclen,
    cm_server_exit *g, cm_server_policy *pol, char *err, size_t errlen)
{
	struct lm_state	*s;
	char		*name;

	s = lm_state_new(in, &in->lim, in->script->path, src, srclen, err,
	    errlen);
	if (s == NULL)
		return NULL;
	push_table(s);
	name = field_str(s->L, "name");
	lua_pop(s->L, 1);
	if (name == NULL || strcmp(name, in->script->name) != 0) {
		snprintf(err, errlen, "%s: declares name \"%s\", expected "
		    "\"%s\" (a script keeps its name)", in->script->path,
		    name ? name : "(none)", in->script->name);
		free(name);
		lm_state_free(s);
		return NULL;
	}
	free(name);
	if (state_initialize(in, s, g, pol, err, errlen) == -1) {
		lm_state_free(s);
		return NULL;
	}
	return s;
}

struct lm_state *
lm_inst_take(struct lm_inst *in, cm_server_exit *g, cm_server_policy *pol,
    char *err, size_t errlen)
{
	struct lm_state	*s;
	char		*src;
	size_t		 len;
	unsigned	 gen;

	pthread_mutex_lock(&in->mu);
	if ((s = in->idle) != NULL) {
		in->idle = s->next;
		pthread_mutex_unlock(&in->mu);
		s->next = NULL;
		return s;
	}
	/* A copy: a reload may replace the text meanwhile. */
	src = malloc(in->srclen + 1);
	if (src != NULL)
		memcpy(src, in->src, in->srclen + 1);
	len = in->srclen;
	gen = in->gen;
	pthread_mutex_unlock(&in->mu);
	if (src == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s = lm_inst_state(in, src, len, g, pol, err, errlen);
	free(src);
	if (s != NULL)
		s->gen = gen;
	return s;
}

void
lm_inst_give(struct lm_inst *in, struct lm_state *s, int bad)
{
	pthread_mutex_lock(&in->mu);
	if (!bad && s->gen == in->gen) {
		s->next = in->idle;
		in->idle = s;
		s = NULL;
	}
	pthread_mutex_unlock(&in->mu);
	lm_state_free(s);	/* hit a limit, or code replaced by a reload */
}

static int
manage_get_property(void *state, const char *name, int32_t flags,
    cm_value *out)
{
	struct lm_inst	*in = state;
	size_t		 i;

	for (i = 0; i < nitems(manage_names); i++)
		if (strcasecmp(name, manage_names[i]) == 0 &&
		    in->manage[i] != NULL) {
			out->type = CM_PROPTYPE_STRING;
			out->data = in->manage[i];
			out->len = strlen(in->manage[i]);
			return CM_OK;
		}
	return CM_S_FALSE;
}

const cm_manage_module *
lm_inst_manage(void *state)
{
	return &((struct lm_inst *)state)->mm;
}

void
lm_inst_free(struct lm_inst *in)
{
	struct lm_state	*s;
	size_t		 i;

	if (in == NULL)
		return;
	while ((s = in->idle) != NULL) {
		in->idle = s->next;
		lm_state_free(s);
	}
	for (i = 0; i < nitems(in->manage); i++)
		free(in->manage[i]);
	free(in->description);
	free(in->lim.allow_dir);
	free(in->src);
	pthread_mutex_destroy(&in->mu);
	free(in);
}

/* Description, manage strings and mask from the table of state s. */
static int
inst_describe(struct lm_inst *in, struct lm_state *s, char *err,
    size_t errlen)
{
	lua_State	*L = s->L;
	size_t		 i;

	push_table(s);
	in->description = field_str(L, "description");
	if (in->description == NULL)
		in->description = xstrdup(in->script->name);
	if ((in->mask = field_events(L, err, errlen)) == -1) {
		lua_pop(L, 1);
		return -1;
	}
	in->manage[0] = xstrdup(in->script->name);
	in->manage[1] = xstrdup(in->description);
	if (raw_field(L, "manage") == LUA_TTABLE)
		for (i = 2; i < nitems(manage_fields); i++)
			in->manage[i] = field_str(L, manage_fields[i]);
	lua_pop(L, 2);
	in->mm.size = sizeof(in->mm);
	in->mm.get_property = manage_get_property;
	return 0;
}

struct lm_inst *
lm_inst_new(struct lm_script *sc, cm_server_exit *g, cm_server_policy *pol,
    char *err, size_t errlen)
{
	struct lm_inst	*in;
	struct lm_state	*s;

	if ((in = calloc(1, sizeof(*in))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&in->mu, NULL);
	in->script = sc;
	in->threading = sc->kind == LM_EXIT ? (int)sc->exit.threading :
	    (int)sc->policy.threading;
	if ((in->src = malloc(sc->srclen + 1)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	memcpy(in->src, sc->src, sc->srclen + 1);
	in->srclen = sc->srclen;
	if (lm_inst_settings(in, g, err, errlen) == -1)
		goto fail;
	if ((s = lm_inst_state(in, in->src, in->srclen, g, pol, err,
	    errlen)) == NULL)
		goto fail;
	if (inst_describe(in, s, err, errlen) == -1) {
		lm_state_free(s);
		goto fail;
	}
	in->idle = s;
	return in;
fail:
	lm_inst_free(in);
	return NULL;
}

/* The exit entry points. */

static struct lm_script *
exit_script(const struct cm_exit *d)
{
	return (struct lm_script *)(void *)((char *)d -
	    offsetof(struct lm_script, exit));
}

static struct lm_script *
policy_script(const struct cm_policy *d)
{
	return (struct lm_script *)(void *)((char *)d -
	    offsetof(struct lm_script, policy));
}

/* Log err through srv at level: the host records it as the cause. */
static void
say(cm_server_exit *g, int level, const char *what, const char *err)
{
	g->log(g, level, "%s%s", what, err);
}

static int
lx_initialize(const char *config, cm_server_exit *srv, void **state,
    int32_t *event_mask)
{
	struct lm_script *sc = exit_script(*state);	/* the loader's seed */
	struct lm_inst	*in;
	char		 err[1024];

	if ((in = lm_inst_new(sc, srv, NULL, err, sizeof(err))) == NULL) {
		say(srv, CM_LOG_ERROR, "", err);
		return CM_E_FAIL;
	}
	*state = in;
	*event_mask = in->mask;
	return CM_OK;
}

static int
lx_notify(void *state, int32_t event, int64_t context, cm_server_exit *srv)
{
	struct lm_inst	*in = state;
	struct lm_state	*s;
	char		 err[2048], why[512];
	int		 rc;

	if ((s = lm_inst_take(in, srv, NULL, err, sizeof(err))) == NULL) {
		say(srv, CM_LOG_ERROR, "cannot start a Lua state: ", err);
		return CM_E_FAIL;
	}
	lua_pushinteger(s->L, event);
	lua_pushinteger(s->L, context);
	lm_srv_bind(s, srv, NULL, context);
	rc = lm_call(s, "notify", 3, 3, err, sizeof(err));
	lm_srv_unbind(s);
	if (rc == -1) {
		say(srv, CM_LOG_ERROR, "", err);
		lm_inst_give(in, s, s->tripped);
		return CM_E_FAIL;
	}
	if ((rc = results(s->L, why, sizeof(why))) != CM_OK)
		say(srv, CM_LOG_WARN, "", why);
	lm_inst_give(in, s, 0);
	return rc;
}

static const char *
lx_description(void *state)
{
	return ((struct lm_inst *)state)->description;
}

/*
 * shutdown(): the script's, in each of its states (all idle now: the host
 * calls shutdown after the last notify), then free them.
 */
static void
lx_shutdown(void *state)
{
	struct lm_inst	*in = state;
	struct lm_state	*s;
	char		 err[1024];

	for (s = in->idle; s != NULL; s = s->next)
		if (lm_has(s, "shutdown") &&
		    lm_call(s, "shutdown", 0, 0, err, sizeof(err)) == -1)
			log_err("%s: shutdown: %s", in->script->name, err);
	lm_inst_free(in);
}

static const struct cm_exit exit_template = {
	CM_EXIT_MAGIC, CM_ABI_MAJOR, CM_ABI_MINOR, sizeof(struct cm_exit),
	NULL, 0, lx_initialize, lx_notify, lx_description, lm_inst_manage,
	lx_shutdown
};

/* The policy entry points. */

static int
lp_initialize(const char *config, cm_server_policy *srv, void **state)
{
	struct lm_script *sc = policy_script(*state);	/* seeded by the host */
	struct lm_inst	*in;
	char		 err[1024];

	if ((in = lm_inst_new(sc, srv->getters, srv, err, sizeof(err))) ==
	    NULL) {
		say(srv->getters, CM_LOG_ERROR, "", err);
		return CM_E_FAIL;
	}
	*state = in;
	return CM_OK;
}

/*
 * verify_request(srv, new_request) returns "issue", "pend" or "deny" and
 * a reason. A script that fails (an error, a limit) fails the call: the
 * host then refuses the request with an internal error, as for a C
 * policy module, and the log says why.
 */
static int
lp_verify(void *state, int64_t context, int new_request, int32_t flags,
    cm_server_policy *srv, int32_t *disposition, char *message,
    size_t message_size)
{
	struct lm_inst	*in = state;
	struct lm_state	*s;
	const char	*verdict, *reason;
	char		 err[2048];
	int		 rc = CM_OK;

	if ((s = lm_inst_take(in, srv->getters, srv, err, sizeof(err))) ==
	    NULL) {
		say(srv->getters, CM_LOG_ERROR, "cannot start a Lua state: ",
		    err);
		return CM_E_FAIL;
	}
	lm_srv_bind(s, srv->getters, srv, context);
	lua_pushboolean(s->L, new_request);
	if (lm_call(s, "verify_request", 2, 2, err, sizeof(err)) == -1) {
		lm_srv_unbind(s);
		say(srv->getters, CM_LOG_ERROR, "", err);
		lm_inst_give(in, s, s->tripped);
		return CM_E_FAIL;
	}
	lm_srv_unbind(s);
	verdict = lua_tostring(s->L, -2);
	reason = lua_tostring(s->L, -1);
	if (verdict != NULL && strcasecmp(verdict, "issue") == 0)
		*disposition = CM_VR_INSTANT_OK;
	else if (verdict != NULL && strcasecmp(verdict, "pend") == 0)
		*disposition = CM_VR_PENDING;
	else if (verdict != NULL && strcasecmp(verdict, "deny") == 0)
		*disposition = CM_VR_INSTANT_BAD;
	else {
		snprintf(err, sizeof(err), "verify_request returned %s%s%s: "
		    "expected \"issue\", \"pend\" or \"deny\"", verdict ? "\"" :
		    luaL_typename(s->L, -2), verdict ? verdict : "",
		    verdict ? "\"" : "");
		say(srv->getters, CM_LOG_ERROR, "", err);
		rc = CM_E_FAIL;
	}
	if (rc == CM_OK && reason != NULL)
		snprintf(message, message_size, "%s", reason);
	lua_pop(s->L, 2);
	lm_inst_give(in, s, 0);
	return rc;
}

static const char *
lp_description(void *state)
{
	return ((struct lm_inst *)state)->description;
}

static const struct cm_policy policy_template = {
	CM_POLICY_MAGIC, CM_ABI_MAJOR, CM_ABI_MINOR, sizeof(struct cm_policy),
	NULL, 0, lp_initialize, lp_verify, lp_description, lm_inst_manage,
	lx_shutdown
};

void
lm_script_free(struct lm_script *sc)
{
	if (sc == NULL)
		return;
	free(sc->path);
	free(sc->name);
	free(sc->src);
	free(sc);
}

struct lm_script *
lm_script_open(enum lm_kind kind, const char *path, int fd, char *err,
    size_t errlen)
{
	struct lm_script *sc;
	struct lm_state	*s;
	const char	*entry = kind == LM_EXIT ? "notify" : "verify_request";

	if ((sc = calloc(1, sizeof(*sc))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	sc->kind = kind;
	sc->path = xstrdup(path);
	if (lm_read_file(path, fd, &sc->src, &sc->srclen, err, errlen) == -1)
		goto fail;
	s = lm_state_new(NULL, &default_limits, path, sc->src, sc->srclen,
	    err, errlen);
	if (s == NULL)
		goto fail;
	push_table(s);
	sc->name = field_str(s->L, "name");
	sc->exit = exit_template;
	sc->policy = policy_template;
	sc->exit.name = sc->policy.name = sc->name;
	sc->exit.threading = sc->policy.threading = field_threading(s->L);
	lua_pop(s->L, 1);
	if (!lm_has(s, entry)) {
		snprintf(err, errlen, "%s: the table has no %s function", path,
		    entry);
		lm_state_free(s);
		goto fail;
	}
	lm_state_free(s);
	if (sc->name == NULL) {
		snprintf(err, errlen, "%s: the table has no name "
		    "(\"MyApp.%s\")", path, kind == LM_EXIT ? "Exit" :
		    "Policy");
		goto fail;
	}
	return sc;
fail:
	lm_script_free(sc);
	return NULL;
}

const struct cm_exit *
luamod_exit_open(const char *path, int fd, char *err, size_t errlen)
{
	struct lm_script *sc = lm_script_open(LM_EXIT, path, fd, err, errlen);

	return sc ? &sc->exit : NULL;
}

void
luamod_exit_free(const struct cm_exit *d)
{
	if (d != NULL)
		lm_script_free(exit_script(d));
}

const struct cm_policy *
luamod_policy_open(const char *path, char *err, size_t errlen)
{
	struct lm_script *sc = lm_script_open(LM_POLICY, path, -1, err,
	    errlen);

	return sc ? &sc->policy : NULL;
}

void
luamod_policy_free(const struct cm_policy *d)
{
	if (d != NULL)
		lm_script_free(policy_script(d));
}

int
luamod_exit_reload(void *state, const char *path, cm_server_exit *srv,
    char *err, size_t errlen)
{
	struct lm_inst	*in = state;
	struct lm_state	*s, *old;
	char		*src;
	size_t		 len;
	int		 same;

	if (lm_read_file(path, -1, &src, &len, err, errlen) == -1)
		return -1;
	pthread_mutex_lock(&in->mu);
	same = len == in->srclen && memcmp(src, in->src, len) == 0;
	pthread_mutex_unlock(&in->mu);
	if (same) {
		free(src);
		return 0;
	}
	if ((s = lm_inst_state(in, src, len, srv, NULL, err, errlen)) ==
	    NULL) {
		free(src);
		return -1;
	}
	pthread_mutex_lock(&in->mu);
	free(in->src);
	in->src = src;
	in->srclen = len;
	s->gen = ++in->gen;
	old = in->idle;
	s->next = NULL;
	in->idle = s;
	pthread_mutex_unlock(&in->mu);
	while ((s = old) != NULL) {
		old = s->next;
		lm_state_free(s);
	}
	return 0;
}
