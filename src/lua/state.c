/*
 * state.c - one sandboxed lua_State: an environment built from scratch
 * (no io, os.execute, debug, package, binary chunks), a counting allocator
 * that refuses memory over the cap, and a count hook that ends a call
 * over its instruction budget or past its wall-clock deadline.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lualib.h>

#include "../common/common.h"
#include "lua_int.h"

#define SCRIPT_MAX	(1 << 20)	/* bytes of a script file */

/*
 * lua_Alloc counting the state's bytes: an allocation that would pass
 * the cap fails, which Lua raises as a memory error (string.rep bombs,
 * tables grown without end).
 */
static void *
lm_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
	struct lm_state	*s = ud;
	void		*p;

	if (ptr == NULL)
		osize = 0;
	if (nsize == 0) {
		free(ptr);
		s->mem -= (long long)osize;
		return NULL;
	}
	if (nsize > osize && s->mem_max > 0 &&
	    (long long)(nsize - osize) > s->mem_max - s->mem) {
		s->mem_hit = 1;
		return NULL;
	}
	if ((p = realloc(ptr, nsize)) == NULL)
		return NULL;
	s->mem += (long long)nsize - (long long)osize;
	return p;
}

/*
 * The count hook (inherited by coroutines): over budget or past the
 * deadline, raise an error, and from then on raise one at every
 * instruction, so that a pcall cannot swallow it and loop on.
 */
static void
lm_hook(lua_State *L, lua_Debug *ar)
{
	struct lm_state	*s = lm_state_of(L);

	(void)ar;
	if (!s->tripped) {
		s->steps += LM_HOOK_EVERY;
		if (s->lim->max_instructions > 0 &&
		    s->steps > s->lim->max_instructions) {
			snprintf(s->trip, sizeof(s->trip), "instruction budget "
			    "exceeded (max_instructions = %lld)",
			    s->lim->max_instructions);
			s->tripped = 1;
		} else if (time_mono_ns() > s->deadline) {
			snprintf(s->trip, sizeof(s->trip), "time limit "
			    "exceeded (timeout = %lld ms)", s->lim->timeout_ms);
			s->tripped = 1;
		}
		if (!s->tripped)
			return;
		lua_sethook(L, lm_hook, LUA_MASKCOUNT, 1);
	}
	luaL_error(L, "%s", s->trip);
}

void
lm_limits_begin(struct lm_state *s)
{
	s->steps = 0;
	s->tripped = 0;
	s->mem_hit = 0;
	s->deadline = time_mono_ns() +
	    (uint64_t)s->lim->timeout_ms * 1000000u;
	lua_sethook(s->L, lm_hook, LUA_MASKCOUNT, LM_HOOK_EVERY);
}

void
lm_limits_end(struct lm_state *s)
{
	lua_sethook(s->L, NULL, 0, 0);
}

/*
 * load(chunk, name, mode, env): text chunks only, whatever mode says. The
 * real load is the upvalue.
 */
static int
lm_load(lua_State *L)
{
	int	 has_env = !lua_isnone(L, 4);

	lua_settop(L, 4);
	lua_pushliteral(L, "t");
	lua_replace(L, 3);
	if (!has_env)
		lua_settop(L, 3);	/* an env given as nil is not no env */
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_insert(L, 1);
	lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
	return lua_gettop(L);
}

/* collectgarbage: only "collect" (the default), "step" and "count". */
static int
lm_collectgarbage(lua_State *L)
{
	const char	*opt = luaL_optstring(L, 1, "collect");

	if (strcmp(opt, "count") == 0) {
		lua_pushnumber(L, (lua_Number)lua_gc(L, LUA_GCCOUNT) +
		    (lua_Number)lua_gc(L, LUA_GCCOUNTB) / 1024);
		return 1;
	}
	if (strcmp(opt, "collect") == 0) {
		lua_gc(L, LUA_GCCOLLECT);
		lua_pushinteger(L, 0);
		return 1;
	}
	if (strcmp(opt, "step") == 0) {
		lua_pushboolean(L, lua_gc(L, LUA_GCSTEP, 0));
		return 1;
	}
	return luaL_error(L, "collectgarbage(\"%s\") is not available in "
	    "certmint scripts", opt);
}

/* print: to the daemon's log at info level. */
static int
lm_print(lua_State *L)
{
	luaL_Buffer	 b;
	int		 i, n = lua_gettop(L);

	luaL_buffinit(L, &b);
	for (i = 1; i <= n; i++) {
		if (i > 1)
			luaL_addchar(&b, '\t');
		luaL_tolstring(L, i, NULL);
		luaL_addvalue(&b);
	}
	luaL_pushresult(&b);
	log_info("lua: %s", lua_tostring(L, -1));
	return 0;
}

static void
set_nil(lua_State *L, const char *table, const char *field)
{
	if (lua_getglobal(L, table) == LUA_TTABLE) {
		lua_pushnil(L);
		lua_setfield(L, -2, field);
	}
	lua_pop(L, 1);
}

/* os with time, date, clock and difftime only. */
static void
open_os(lua_State *L)
{
	static const char *const keep[] = { "time", "date", "clock",
	    "difftime" };
	size_t	 i;

	luaL_requiref(L, LUA_OSLIBNAME, luaopen_os, 0);	/* not global */
	lua_newtable(L);
	for (i = 0; i < nitems(keep); i++) {
		lua_getfield(L, -2, keep[i]);
		lua_setfield(L, -2, keep[i]);
	}
	lua_setglobal(L, "os");
	lua_pop(L, 1);
}

/* The global environment: nothing a script could leave its sandbox with. */
static int
open_sandbox(lua_State *L)
{
	static const luaL_Reg libs[] = {
		{ LUA_GNAME, luaopen_base },
		{ LUA_STRLIBNAME, luaopen_string },
		{ LUA_TABLIBNAME, luaopen_table },
		{ LUA_MATHLIBNAME, luaopen_math },
		{ LUA_UTF8LIBNAME, luaopen_utf8 },
		{ LUA_COLIBNAME, luaopen_coroutine },
	};
	static const char *const gone[] = { "dofile", "loadfile", "require",
	    "collectgarbage" };
	size_t	 i;

	for (i = 0; i < nitems(libs); i++) {
		luaL_requiref(L, libs[i].name, libs[i].func, 1);
		lua_pop(L, 1);
	}
	for (i = 0; i < nitems(gone); i++) {
		lua_pushnil(L);
		lua_setglobal(L, gone[i]);
	}
	set_nil(L, LUA_STRLIBNAME, "dump");
	lua_getglobal(L, "load");
	lua_pushcclosure(L, lm_load, 1);
	lua_setglobal(L, "load");
	lua_register(L, "collectgarbage", lm_collectgarbage);
	lua_register(L, "print", lm_print);
	open_os(L);
	/* getmetatable("") answers false: strings' metatable stays ours. */
	lua_pushliteral(L, "");
	if (lua_getmetatable(L, -1)) {
		lua_pushboolean(L, 0);
		lua_setfield(L, -2, "__metatable");
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
	lm_lib_open(L);
	lm_state_of(L)->ref_srv = lm_srv_register(L);
	return 0;
}

/* A message for a failed pcall, with the traceback (the message handler). */
static int
lm_traceback(lua_State *L)
{
	const char	*msg = lua_tostring(L, 1);

	if (msg == NULL)
		msg = lua_pushfstring(L, "(error object is a %s value)",
		    luaL_typename(L, 1));
	luaL_traceback(L, L, msg, 1);
	return 1;
}

/*
 * Why the call that returned rc failed, into err: the limit it hit, or
 * the script's error with its traceback. Pops the message.
 */
static void
call_error(struct lm_state *s, int rc, char *err, size_t errlen)
{
	const char	*msg = lua_tostring(s->L, -1);

	if (s->tripped && msg != NULL && strstr(msg, s->trip) != NULL)
		snprintf(err, errlen, "%s", msg);
	else if (s->tripped)
		snprintf(err, errlen, "%s (%s)", s->trip, msg ? msg : "");
	else if (rc == LUA_ERRMEM || s->mem_hit) {
		s->tripped = 1;
		snprintf(s->trip, sizeof(s->trip), "memory limit exceeded "
		    "(max_memory = %lld bytes)", s->mem_max);
		snprintf(err, errlen, "%s", s->trip);
	} else
		snprintf(err, errlen, "%s", msg ? msg : "error");
	lua_pop(s->L, 1);
}

/* Call the function below nargs arguments, under the limits. */
static int
pcall_limited(struct lm_state *s, int nargs, int nres, char *err,
    size_t errlen)
{
	lua_State	*L = s->L;
	int		 base = lua_gettop(L) - nargs, rc;

	lua_pushcfunction(L, lm_traceback);
	lua_insert(L, base);
	lm_limits_begin(s);
	rc = lua_pcall(L, nargs, nres, base);
	lm_limits_end(s);
	/* A limit hit counts even if the script caught its error. */
	if (rc == LUA_OK && !s->mem_hit && !s->tripped) {
		lua_remove(L, base);
		return 0;
	}
	if (rc == LUA_OK) {
		lua_pop(L, nres);
		lua_pushstring(L, s->trip);
	}
	call_error(s, rc, err, errlen);
	lua_remove(L, base);
	return -1;
}

/*
 * The milliseconds a call into C (a network call, a command) may take:
 * what the script asks for (in seconds, at opts[key]) or def, never past
 * the Lua call's own deadline. 0 when the deadline has passed.
 */
long long
lm_timeout(lua_State *L, int opts, const char *key, long long def)
{
	struct lm_state	*s = lm_state_of(L);
	uint64_t	 now = time_mono_ns();
	long long	 ms = def, left;
	lua_Number	 t;

	if (opts != 0) {
		lua_getfield(L, opts, key);
		if (!lua_isnil(L, -1)) {
			t = luaL_checknumber(L, -1);
			if (!(t > 0 && t <= 3600))
				luaL_error(L, "%s: give seconds (0.001 to "
				    "3600)", key);
			ms = (long long)(t * 1000);
			if (ms < 1)
				ms = 1;
		}
		lua_pop(L, 1);
	}
	if (s->deadline != 0) {
		left = now >= s->deadline ? 0 :
		    (long long)((s->deadline - now) / 1000000u);
		if (left < ms)
			ms = left;
	}
	return ms;
}

int
lm_has(struct lm_state *s, const char *fn)
{
	long long	 max = s->mem_max;
	int		 t;

	s->mem_max = 0;		/* as in lm_call */
	lua_rawgeti(s->L, LUA_REGISTRYINDEX, s->ref_mod);
	/* Raw: no metamethod runs outside the limits (lm_call too). */
	lua_pushstring(s->L, fn);
	t = lua_rawget(s->L, -2);
	lua_pop(s->L, 2);
	s->mem_max = max;
	return t == LUA_TFUNCTION;
}

int
lm_call(struct lm_state *s, const char *fn, int nargs, int nres,
    char *err, size_t errlen)
{
	lua_State	*L = s->L;
	long long	 max = s->mem_max;

	/* Outside a pcall a refused allocation would abort: no cap here. */
	s->mem_max = 0;
	lua_rawgeti(L, LUA_REGISTRYINDEX, s->ref_mod);
	lua_pushstring(L, fn);
	lua_rawget(L, -2);
	lua_remove(L, -2);
	lua_insert(L, -1 - nargs);
	s->mem_max = max;
	return pcall_limited(s, nargs, nres, err, errlen);
}

struct lm_state *
lm_state_new(struct lm_inst *inst, const struct lm_limits *lim,
    const char *path, const char *src, size_t srclen, char *err,
    size_t errlen)
{
	struct lm_state	*s;
	lua_State	*L;
	const char	*base = strrchr(path, '/');
	char		 chunk[256];
	int		 rc;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->inst = inst;
	s->lim = lim;
	s->mem_max = lim->max_memory;
	s->ref_mod = s->ref_srv = LUA_NOREF;
	if ((L = lua_newstate(lm_alloc, s)) == NULL) {
		snprintf(err, errlen, "cannot create a Lua state");
		free(s);
		return NULL;
	}
	s->L = L;
	*(struct lm_state **)lua_getextraspace(L) = s;
	/* Opening the libraries may itself hit a tiny memory cap. */
	lua_pushcfunction(L, open_sandbox);
	if (lua_pcall(L, 0, 0, 0) != LUA_OK) {
		snprintf(err, errlen, "%s: cannot set up the sandbox: %s", path,
		    lua_tostring(L, -1));
		goto fail;
	}
	/* Text only ("t"): a bytecode file is refused here. */
	snprintf(chunk, sizeof(chunk), "@%s", base ? base + 1 : path);
	if ((rc = luaL_loadbufferx(L, src, srclen, chunk, "t")) != LUA_OK) {
		snprintf(err, errlen, "%s", lua_tostring(L, -1));
		goto fail;
	}
	if (pcall_limited(s, 0, 1, err, errlen) == -1) {
		if (s->tripped) {	/* a limit's message has no file:line */
			snprintf(chunk, sizeof(chunk), "%.200s", err);
			snprintf(err, errlen, "%s: %s", path, chunk);
		}
		goto fail;
	}
	if (!lua_istable(L, -1)) {
		snprintf(err, errlen, "%s: the script must return a table "
		    "(got %s)", path, luaL_typename(L, -1));
		goto fail;
	}
	s->mem_max = 0;		/* as in lm_call */
	s->ref_mod = luaL_ref(L, LUA_REGISTRYINDEX);
	s->mem_max = lim->max_memory;
	return s;
fail:
	lm_state_free(s);
	return NULL;
}

void
lm_state_free(struct lm_state *s)
{
	if (s == NULL)
		return;
	if (s->L != NULL)
		lua_close(s->L);
	lm_net_free(s);
	free(s);
}

int
lm_read_file(const char *path, int fd, char **src, size_t *len, char *err,
    size_t errlen)
{
	struct stat	 st;
	char		*buf = NULL;
	size_t		 off = 0;
	ssize_t		 n;
	int		 own = fd < 0;

	*src = NULL;
	if (own && (fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || st.st_size > SCRIPT_MAX) {
		snprintf(err, errlen, "%s: %s", path, st.st_size > SCRIPT_MAX ?
		    "larger than 1 MiB" : strerror(errno));
		goto fail;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	/* pread: the fd may be the host's, positioned anywhere. */
	while (off < (size_t)st.st_size) {
		n = pread(fd, buf + off, (size_t)st.st_size - off, (off_t)off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(err, errlen, "%s: %s", path, n == 0 ?
			    "shorter than its size" : strerror(errno));
			goto fail;
		}
		off += (size_t)n;
	}
	buf[off] = '\0';
	if (own)
		close(fd);
	*src = buf;
	*len = off;
	return 0;
fail:
	free(buf);
	if (own)
		close(fd);
	return -1;
}
