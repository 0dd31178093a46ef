/*
 * luamod.h - exit and policy modules written in Lua (docs/lua.md), as the
 * exit-module host sees them. A script becomes a heap-allocated module
 * descriptor whose entry points run the script; the host then treats it
 * as any .so (registration, cursor, retries, replay, exit test).
 *
 * One contract differs from a .so: initialize must find its script, and
 * the descriptor's functions have no argument for it. So the loader seeds
 * the module's state with the descriptor itself before initialize
 * (*state == desc on entry); initialize replaces it with the running
 * instance.
 */
#ifndef CM_LUAMOD_H
#define CM_LUAMOD_H

#include <stddef.h>

#include <certmint/exit.h>
#include <certmint/policy.h>

/* Does path name a Lua script (ends in ".lua")? 1 or 0. */
int	 luamod_is_script(const char *path);

/*
 * Read the script at path (from fd when fd >= 0), run it in a sandbox and
 * describe it from the table it returns: name, threading, description.
 * Returns a descriptor to free with luamod_exit_free, or NULL with err
 * (file:line of a compile or run error).
 */
const struct cm_exit *luamod_exit_open(const char *path, int fd, char *err,
	    size_t errlen);
void	 luamod_exit_free(const struct cm_exit *);

/*
 * Reload: if the file at path differs from the running text, compile it
 * and run its initialize in a new state; only if that works it replaces
 * the old code (states busy in a call finish on the old one). state is
 * what initialize returned. Returns 0 (also when nothing changed), or -1
 * with err: the old version keeps running.
 */
int	 luamod_exit_reload(void *state, const char *path,
	    cm_server_exit *srv, char *err, size_t errlen);

/* The same for a policy script (name ending in ".Policy"). */
const struct cm_policy *luamod_policy_open(const char *path, char *err,
	    size_t errlen);
void	 luamod_policy_free(const struct cm_policy *);

#endif /* CM_LUAMOD_H */
