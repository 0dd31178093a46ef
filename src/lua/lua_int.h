/*
 * lua_int.h - what the files of src/lua share: the script (the descriptor
 * the host holds), the instance (what initialize returns), one sandboxed
 * lua_State with its limits, and the srv object scripts call.
 */
#ifndef CM_LUA_INT_H
#define CM_LUA_INT_H

#include <pthread.h>
#include <stdint.h>

#include <lua.h>
#include <lauxlib.h>

#include "luamod.h"

/* Defaults of the per-call limits (docs/lua.md "Limits"). */
#define LM_MAX_INSTRUCTIONS	10000000LL
#define LM_MAX_MEMORY		(64LL << 20)
#define LM_TIMEOUT_MS		5000LL
#define LM_HOOK_EVERY		1000	/* instructions between hook calls */

/* Opt-in capabilities ([Name.Exit] allow = file,exec,http,smtp). */
#define LM_ALLOW_FILE	0x1
#define LM_ALLOW_EXEC	0x2
#define LM_ALLOW_HTTP	0x4
#define LM_ALLOW_SMTP	0x8

enum lm_kind { LM_EXIT, LM_POLICY };

/* A script file: the host's descriptor is inside. */
struct lm_script {
	struct cm_exit	 exit;		/* LM_EXIT: what the host holds */
	struct cm_policy policy;	/* LM_POLICY */
	enum lm_kind	 kind;
	char		*path;
	char		*name;
	char		*src;		/* the text read at open */
	size_t		 srclen;
};

struct lm_limits {
	long long	 max_instructions;
	long long	 max_memory;
	long long	 timeout_ms;
	unsigned	 allow;		/* LM_ALLOW_* */
	char		*allow_dir;	/* for append_file, NULL: none */
};

struct lm_inst;
struct hp_pool;
struct mail_smtp;

/* One lua_State and its accounting; used by one thread at a time. */
struct lm_state {
	lua_State	*L;
	struct lm_inst	*inst;		/* NULL: only describing a script */
	const struct lm_limits *lim;
	unsigned	 gen;		/* of inst's code */
	long long	 mem, mem_max;
	int		 mem_hit;	/* an allocation was refused */
	long long	 steps;		/* instructions in this call */
	uint64_t	 deadline;	/* time_mono_ns */
	int		 tripped;	/* a limit ended the call */
	char		 trip[160];
	int		 ref_mod;	/* registry: the script's table */
	int		 ref_srv;	/* registry: the srv object */
	struct hp_pool	*http;		/* http_post's handles, NULL: none yet */
	struct mail_smtp *smtp;		/* mail's connection, NULL: none yet */
	struct lm_state	*next;
};

/* What initialize returns: a script running, with its states. */
struct lm_inst {
	struct lm_script *script;	/* borrowed from the descriptor */
	pthread_mutex_t	 mu;
	char		*src;		/* the code running (reload swaps it) */
	size_t		 srclen;
	unsigned	 gen;
	struct lm_state	*idle;		/* states of gen not in a call */
	struct lm_limits lim;
	char		*description;
	char		*manage[5];	/* Name, Description, Copyright, ... */
	cm_manage_module mm;
	int32_t		 mask;
	int		 threading;
};

/* The lm_state of a lua_State or of one of its coroutines. */
static inline struct lm_state *
lm_state_of(lua_State *L)
{
	return *(struct lm_state **)lua_getextraspace(L);
}

/*
 * The milliseconds a call into C (network, command) may take: opts[key]
 * seconds (opts 0: none given) or def ms, never past the Lua call's
 * deadline; 0 when it has passed. state.c.
 */
long long	 lm_timeout(lua_State *L, int opts, const char *key,
		    long long def);

/* state.c */
/*
 * A new sandboxed state for inst (NULL: default limits) that has run src
 * and holds the table it returned. Returns NULL with err (file:line).
 */
struct lm_state *lm_state_new(struct lm_inst *, const struct lm_limits *,
	    const char *path, const char *src, size_t srclen, char *err,
	    size_t errlen);
void	 lm_state_free(struct lm_state *);
/* Arm and disarm the per-call limits around a call into the script. */
void	 lm_limits_begin(struct lm_state *);
void	 lm_limits_end(struct lm_state *);
/*
 * Call the script's table field fn with the nargs values on the stack
 * (under the limits); nres results are left on the stack. Returns 0, or
 * -1 with err (the message and traceback, or which limit was hit).
 */
int	 lm_call(struct lm_state *, const char *fn, int nargs, int nres,
	    char *err, size_t errlen);
/* Has the script's table a function fn? */
int	 lm_has(struct lm_state *, const char *fn);
/* Read the script file (or fd) whole. 0, or -1 with err. */
int	 lm_read_file(const char *path, int fd, char **src, size_t *len,
	    char *err, size_t errlen);

/* srv.c: the srv object handed to scripts. */
/* Its metatable and the state's srv object (returns its registry ref). */
int	 lm_srv_register(lua_State *);
/* Push the state's srv object bound to this call (NULL pol: an exit call). */
void	 lm_srv_bind(struct lm_state *, cm_server_exit *, cm_server_policy *,
	    int64_t context);
void	 lm_srv_unbind(struct lm_state *);

/* lib.c: the certmint table. */
void	 lm_lib_open(lua_State *);
/* An event bit by name ("CERTISSUED"), 0 for none. */
int32_t	 lm_event_from_name(const char *);

/* net.c: http_post and mail, added to the certmint table on the top. */
void	 lm_net_open(lua_State *);
void	 lm_net_free(struct lm_state *);

/* module.c: an instance (what initialize returns) and its states. */
int	 lm_inst_settings(struct lm_inst *, cm_server_exit *, char *err,
	    size_t errlen);
/* A state of the instance for this call: idle, or new (initialized). */
struct lm_state *lm_inst_take(struct lm_inst *, cm_server_exit *,
	    cm_server_policy *, char *err, size_t errlen);
/* Give it back after the call; bad: a limit was hit, discard it. */
void	 lm_inst_give(struct lm_inst *, struct lm_state *, int bad);
/* A new state of the instance running initialize(config, srv). */
struct lm_state *lm_inst_state(struct lm_inst *, const char *src,
	    size_t srclen, cm_server_exit *, cm_server_policy *, char *err,
	    size_t errlen);
void	 lm_inst_free(struct lm_inst *);
struct lm_inst *lm_inst_new(struct lm_script *, cm_server_exit *,
	    cm_server_policy *, char *err, size_t errlen);
const cm_manage_module *lm_inst_manage(void *state);
/* Read and describe a script: the descriptor's container. */
struct lm_script *lm_script_open(enum lm_kind, const char *path, int fd,
	    char *err, size_t errlen);
void	 lm_script_free(struct lm_script *);

#endif /* CM_LUA_INT_H */
