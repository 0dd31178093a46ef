/*
 * command.h - CertMint_Command.Exit (docs/modules/command.md): what
 * command.c (the module), settings.c (its settings) and run.c (running one
 * command) share.
 */
#ifndef CM_COMMAND_H
#define CM_COMMAND_H

#include <stddef.h>

#include "modutil.h"

#define PROPS_MAX	32	/* extra properties (the properties key) */

enum input { IN_STDIN, IN_FILE, IN_NONE };
/* What an exit status means; ACT__MAX: not named by any exit_* key. */
enum action { ACT_OK, ACT_RETRY, ACT_PERMANENT, ACT_SUSPEND, ACT__MAX };

/* The settings, immutable once read; a refresh swaps in a new one. */
struct conf {
	struct mu_ref	 ref;		/* first (mu_ref_hold); under cmd.lock */
	char		*command;	/* as configured */
	char	       **argv;		/* command split into words */
	int32_t		 events;
	enum input	 input;
	int		 pem;
	long long	 timeout_ms, kill_after_ms, concurrency, log_output;
	unsigned char	 action[256];	/* enum action per exit status */
	char		*dir, *tmpdir, *path;
	char	       **props;		/* extra properties for the environment */
};

/* settings.c */
void	 strv_free(char **v);
/* Append s (taken) to the NULL-terminated *v of *n. 0, or -1 (s freed). */
int	 strv_push(char ***v, size_t *n, char *s);
/* Read and check every setting into a new conf. 0, or -1 with err. */
int	 conf_load(cm_server_exit *srv, struct conf **out, char *err,
	    size_t errlen);
void	 conf_free(struct conf *c);
/* exit set: a key of ours whose value reads well on its own. */
int	 cmd_set_property(void *state, const char *name, int32_t flags,
	    const cm_value *value);

/* run.c */

/* How one run of the command ended. */
enum run_end {
	RUN_EXITED,		/* status is its exit code */
	RUN_SIGNALED,		/* status is the signal that killed it */
	RUN_TIMEOUT,		/* still running at the timeout: killed */
	RUN_FAILED,		/* not started: why says so */
};

/* What to run and how. */
struct run_spec {
	const char	*file;		/* the executable's path */
	char *const	*argv;
	char *const	*envp;
	const char	*dir;		/* its working directory */
	const unsigned char *input;	/* its stdin; NULL: /dev/null */
	size_t		 input_len;
	long long	 timeout_ms;	/* then SIGTERM to its group */
	long long	 kill_after_ms;	/* then SIGKILL */
	size_t		 keep;		/* bytes of each output kept */
};

struct run_result {
	enum run_end	 end;
	int		 status;
	int		 killed;	/* SIGKILL was sent to the group */
	long long	 ms;		/* from start to end */
	struct mu_buf	 out, err;	/* the first keep bytes of each */
	size_t		 out_total, err_total;
	char		 why[200];	/* RUN_FAILED */
};

/* Run sp to its end; fills res (free with run_result_free). Returns 0. */
int	 run_command(const struct run_spec *sp, struct run_result *res);
void	 run_result_free(struct run_result *res);

#endif /* CM_COMMAND_H */
