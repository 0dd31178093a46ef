/*
 * command.h - CertMint_Command.Exit (docs/modules/command.md): what
 * command.c (the module and its settings) and run.c (running one command)
 * share.
 */
#ifndef CM_COMMAND_H
#define CM_COMMAND_H

#include <stddef.h>

#include "modutil.h"

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
