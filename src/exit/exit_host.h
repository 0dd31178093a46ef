/*
 * exit_host.h - the exit-module host: loading and checking modules, the
 * ICertServerExit property engine, and durable, ordered, retried delivery
 * of the events outbox to every module (DESIGN.md section 3).
 */
#ifndef CM_EXIT_HOST_H
#define CM_EXIT_HOST_H

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

#include <certmint/exit.h>
#include <certmint/policy.h>

#include "../ca/ca.h"

/* Event names: "CERTISSUED", ...; 0 for an unknown name. */
const char	*exit_event_name(int32_t event);
int32_t		 exit_event_from_name(const char *);
/*
 * The event bit a module with mask is notified of for event, or 0: a
 * release from hold reaches a CERTREVOKED-only module as CERTREVOKED.
 */
int32_t		 exit_event_for_mask(int32_t mask, int32_t event);
/*
 * What a module's notify returned, as delivery reads it: CM_S_FALSE is a
 * success, as S_FALSE is for ICertExit::Notify.
 */
static inline int
exit_notify_rc(int rc)
{
	return rc == CM_S_FALSE ? CM_OK : rc;
}
/* "CERTISSUED|CRLISSUED" style list of a mask, in buf. */
void		 exit_mask_text(int32_t mask, char *buf, size_t len);

/* loader.c */
struct exit_module {
	char		*name;		/* "MyApp.Exit" */
	char		*path;		/* the .so */
	void		*dl;		/* dlopen handle */
	const struct cm_exit *desc;
	void		*state;		/* from initialize */
	int32_t		 mask;		/* from initialize */
	int		 initialized;
	int		 script;	/* a Lua script: desc is the Lua room's */
};

/*
 * Check and load the module file: mode (not writable by group or others,
 * owned by root or us), the entry symbol, magic, ABI major, descriptor size,
 * name ending in ".Exit" and the mandatory entry points. If want_name is not
 * NULL the declared name must equal it. Does not call initialize. Returns 0
 * or -1 with a message naming what differed.
 */
int	 exit_module_open(const char *path, const char *want_name,
	    struct exit_module *, char *err, size_t errlen);
void	 exit_module_close(struct exit_module *);	/* calls shutdown if initialized */

/*
 * The file of the module name in dir: NAME.lua when there is one, else
 * NAME.so. Returns it malloc'd, NULL when out of memory.
 */
char	*exit_module_file(const char *dir, const char *name);
/*
 * The directory of the module file path (and of the file a link there
 * names), from which certmintd loads it: owned by root or us and not
 * writable by group or others, sticky or not, as the file must be
 * (exit_module_open). 0, or -1 with err naming it and the fix.
 */
int	 exit_module_dir_check(const char *path, char *err, size_t errlen);
int	 exit_path_is_script(const char *path);	/* ends in ".lua" */
/*
 * On reload: a script module whose file changed runs the new version if
 * it compiles and initializes (srv: its initialize's server object), else
 * keeps the old and returns -1 with err. 0 for a .so (kept as loaded).
 */
int	 exit_module_reload(struct exit_module *, cm_server_exit *srv,
	    char *err, size_t errlen);

/*
 * Check a policy module file the same way (name ending in ".Policy"). A
 * script (".lua") gives *dl NULL and a descriptor to free with
 * luamod_policy_free; its initialize wants *state seeded with it.
 */
int	 policy_module_check(const char *path, void **dl,
	    const struct cm_policy **, char *err, size_t errlen);

/*
 * props.c - one server object per module call. The request and certificate
 * are loaded from the database on the first read after set_context; the
 * event limits what is readable (adcs-reference section 3.8).
 */
struct exit_call {
	cm_server_exit	 vt;		/* must be first: modules get &vt */
	struct ca	*ca;
	struct store	*st;		/* this thread's reader */
	const char	*module;	/* for log and config_get */
	const struct db_event *ev;	/* NULL outside notify (initialize, test) */
	int64_t		 context;
	int		 context_set;
	int		 loaded;		/* request read for context */
	int		 cert_loaded;	/* certificate read for context */
	int		 have_req, have_cert;
	struct db_request req;
	int		 req_borrowed;	/* req is not the call's to free */
	int		 req_unstored;	/* req is the policy's, not yet stored */
	const struct db_request *offered;	/* exit_call_offer */
	int		 req_read;	/* the module asked for a request */
	struct db_cert	 cert;
	int32_t		 last_ext_flags;
	int		 last_ext_valid;
	size_t		 ext_cursor, attr_cursor;
	int		 ext_enum, attr_enum;
	void		*arena;		/* values handed out during this call */
	char		 why[256];	/* the call's last error or warning
					   logged: the cause of a failure */
	/* a trace of every call, for `certmint exit test` (NULL: off) */
	void		(*trace)(void *arg, const char *fmt, ...)
			    __attribute__((format(printf, 2, 3)));
	void		*trace_arg;
};

void	 exit_call_init(struct exit_call *, struct ca *, const char *module,
	    const struct db_event *ev);
void	 exit_call_reset(struct exit_call *);	/* frees what the call held */
/*
 * Serve req (borrowed, not yet stored) as the request of the call's
 * context, for a policy module deciding on it.
 */
void	 exit_call_preload(struct exit_call *, const struct db_request *);
/*
 * Offer req (borrowed: it outlives the call), read beforehand with the
 * requests of other events, as the request of context req->id if it is the
 * state at the call's event: the module's first read of it costs no
 * database read then.
 */
void	 exit_call_offer(struct exit_call *, const struct db_request *);

/* policy_host.c: the active policy module ([policy] module). */
struct json_t;
struct policy_host;
/*
 * Load the policy module the config names; the built-in
 * CertMint_Default.Policy needs no file. Hands it to the CA with
 * ca_set_policy. Returns NULL with err when the module cannot be used: the
 * CA must then not start, since it cannot decide on requests.
 */
struct policy_host *policy_host_start(struct ca *, char *err, size_t errlen);
void	 policy_host_stop(struct policy_host *);
/*
 * After a config reload: switch to the policy module now named, if it
 * changed. On failure the running one stays and -1 is returned with err.
 */
int	 policy_host_reload(struct policy_host **, char *err, size_t errlen);
/* Name, description and manage-module properties, for `certmint policy show`. */
int	 policy_host_show(struct policy_host *, struct json_t *obj);
/* The built-in default policy as a module descriptor. */
const struct cm_policy *policy_default_module(void);

/* dispatch.c */
struct exit_host;

struct exit_host *exit_host_new(struct ca *);
/*
 * Load the modules listed in [exit] active (each <modules_dir>/<name>.so),
 * initialize them and start their delivery threads. A module that fails to
 * load is logged and skipped; the CA runs without it. Returns 0 or -1.
 */
int	 exit_host_start(struct exit_host *);
/*
 * Match the loaded modules to the config again (reload). What did not
 * load (or, for a script, reload) is logged and, when failed is not
 * NULL, named in it: "Name.Exit: why; ..." ("" when all did).
 */
int	 exit_host_reload(struct exit_host *, char *failed, size_t len);
/* Deliver what is committed (bounded wait), call shutdown, unload. */
void	 exit_host_stop(struct exit_host *);
void	 exit_host_free(struct exit_host *);

/* Admin views and actions; each returns 0 or -1 with err. */
struct json_t;
int	 exit_host_list(struct exit_host *, struct json_t *array);
int	 exit_host_show(struct exit_host *, const char *name, struct json_t *obj,
	    char *err, size_t errlen);
/*
 * Set a property; note (notelen bytes) says, when not empty, what the
 * caller should know besides (a suspended module's value saved unchecked).
 */
int	 exit_host_set(struct exit_host *, const char *name, const char *prop,
	    const char *value, char *note, size_t notelen, char *err,
	    size_t errlen);
int	 exit_host_configure(struct exit_host *, const char *name, int flags,
	    char *report, size_t reportlen, char *err, size_t errlen);
int	 exit_host_replay(struct exit_host *, const char *name, int64_t from,
	    int dead, int64_t *count, char *err, size_t errlen);

/* harness.c: `certmint exit test`. */
struct exit_test_opts {
	const char	*module_path;
	int32_t		 events;	/* events to deliver; 0: all the module asks for */
	const unsigned char *csr;	/* PEM or DER; NULL: a generated P-256 request */
	size_t		 csr_len;
	const struct db_attr *attrs;	/* added to every submission */
	size_t		 nattrs;
	char *const	*settings;	/* "key=value" for the module's config section */
	size_t		 nsettings;
	const char	*dir;		/* an empty directory for the throwaway CA */
	FILE		*out;
};
/*
 * Load the module, create a throwaway CA in o->dir, perform every action
 * that raises an event and deliver the recorded events to the module,
 * printing each callback. Returns 0 when every notify returned CM_OK, 1 if
 * some did not, -1 with err when the test could not run.
 */
int	 exit_test_run(const struct exit_test_opts *, char *err, size_t errlen);

/* loader.c: the same checks on an open file (the module host's way). */
int	 exit_module_open_fd(int fd, const char *path, const char *want_name,
	    struct exit_module *, char *err, size_t errlen);
/*
 * certmint's own module directory (<libdir>/certmint/modules): modules
 * installed from it run inline unless [exit.NAME] isolation says otherwise.
 */
const char *exit_pkg_modules_dir(void);

/*
 * quarantine.c: the module and event a thread is in notify for, written
 * out by the fatal-signal handler (crash file, stderr) before the process
 * dies of the signal.
 */
struct quarantine_rec {
	const char	*module;	/* NULL outside notify */
	int64_t		 seq;
};
extern _Thread_local struct quarantine_rec quarantine_cur;
/* Install the handlers; fd (-1: none) is the crash file. Returns 0 or -1. */
int	 quarantine_install(int fd, const char *prog);
void	*quarantine_thread_init(void);	/* this thread's sigaltstack */
void	 quarantine_thread_done(void *);
/* Lower the calling thread's priority by nice ([exit] nice). */
void	 exit_thread_nice(int nice);

/* isolate.c: an exit module in its host process (docs: "Isolation"). */
struct modproc;
struct modproc_opts {
	const char	*path;		/* the .so */
	const char	*name;
	const char	*user;		/* when certmintd runs as root */
	int		 nchan;		/* delivering threads */
	int		 memory_mb, cpu_seconds, open_files;
	int		 backoff_initial_ms, backoff_max_ms;	/* restarts */
	int		 nice;		/* [exit] nice: the host process's */
};
/* What the module said at its load, kept so that no view calls into it. */
struct modproc_info {
	int		 threading;
	int32_t		 mask;
	int		 manage;	/* WIRE_MANAGE_* */
	char		*description;
	char		*props[5];	/* Name, Description, Copyright, File
					   Version, Product Version, or NULL */
};
struct modproc	*modproc_new(const struct modproc_opts *);
void	 modproc_free(struct modproc *);	/* after modproc_stop */
/* Start the host and initialize the module. Returns 0 or -1 with err. */
int	 modproc_start(struct modproc *, struct ca *, char *err, size_t errlen);
/*
 * Have the host running, starting it again if it ended and its backoff
 * has passed. Returns 0 when it runs, the ms to wait before the restart
 * is due, or -1 with err when it could not start.
 */
int	 modproc_ensure(struct modproc *, struct ca *, char *err, size_t errlen);
const struct modproc_info *modproc_info(struct modproc *);
pid_t	 modproc_pid(struct modproc *);	/* 0: not running */
/*
 * notify on the channel idx, the module's calls answered by call. Returns
 * 0 with the module's *result; 1 when the host died or was killed at
 * deadline_ms (cause says how; it is reaped and its restart backed off;
 * *death numbers the host, the same for every call it took down); -1
 * when no host runs.
 */
int	 modproc_notify(struct modproc *, int idx, struct exit_call *call,
	    int32_t event, int64_t context, int64_t seq, int deadline_ms,
	    int *result, int *death, char *cause, size_t causelen);
/* One event of modproc_notify_batch. */
struct modproc_event {
	int32_t		 event;
	int64_t		 context;
	int64_t		 seq;
	struct exit_call *call;		/* its server object */
};
/*
 * notify v[0..n) in order, the host running them back to back; it runs
 * none after one that does not return CM_OK. *ndone is how many returned
 * CM_OK; when fewer than n, the next one's result is *result, or (return
 * 1) the host died or was killed in it, as for modproc_notify.
 */
int	 modproc_notify_batch(struct modproc *, int idx,
	    struct modproc_event *v, size_t n, int deadline_ms, size_t *ndone,
	    int *result, int *death, char *cause, size_t causelen);
/* Kill the running host (SIGKILL); why is the cause its notify reports. */
void	 modproc_kill(struct modproc *, const char *why);
/*
 * modproc_kill's why at a suspension: the death the next delivery finds
 * after `exit resume` is then no crash of the module's.
 */
#define MODPROC_SUSPENDED	"killed at its suspension"
/*
 * A reload's settings: the user, limits and backoff of o (the rest is
 * kept), for the next start of the host; a running one keeps its own.
 */
void	 modproc_settings(struct modproc *, const struct modproc_opts *);
/*
 * The manage module, bounded (a host that does not answer in 5 s is
 * restarted). Return 0 with *rc, -1 when no host runs, -2 on timeout.
 */
int	 modproc_set(struct modproc *, const char *prop, const char *value,
	    int *rc);
int	 modproc_configure(struct modproc *, struct ca *, int flags,
	    char *report, size_t len, int *rc);
/* Call shutdown in the host and end it (killed if it does not end). */
void	 modproc_stop(struct modproc *, struct ca *);

/* dispatch.c, continued: crash quarantine and suspension. */
/* Clear a suspended module's suspension and crash record; it delivers again. */
int	 exit_host_resume(struct exit_host *, const char *name, char *err,
	    size_t errlen);

#endif /* CM_EXIT_HOST_H */
