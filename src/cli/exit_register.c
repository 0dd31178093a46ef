/*
 * exit_register.c - the parts of `certmint exit register` that protect the
 * CLI and decide where a module starts: the module file is checked in a
 * child process (a constructor that crashes kills the child, not us), and
 * the module's cursor is written before the config names it, so that the
 * daemon, reading the cursor when it loads the module (dispatch.c
 * slot_start), starts it where the officer said.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../exit/exit_host.h"
#include "../store/store.h"
#include "cli.h"

#define CHECK_SECONDS	30	/* for the child to load the module */

/* What the checking child tells its parent, in one write. */
struct load_report {
	int		 ok;
	int		 threading;
	char		 name[256];
	char		 err[1024];
};

/* In the child: load the module, write the report, never return. */
static void __attribute__((noreturn))
check_child(const char *path, int fd)
{
	static const int deadly[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT };
	struct load_report r;
	struct exit_module mod;
	struct sigaction sa;
	struct rlimit	 none = { 0, 0 };
	size_t		 i;

	/*
	 * A crash must end the child by its own signal, for the parent to
	 * name: no sanitizer handler turning it into an exit status or
	 * SIGABRT, and no core file.
	 */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (i = 0; i < nitems(deadly); i++)
		sigaction(deadly[i], &sa, NULL);
	setrlimit(RLIMIT_CORE, &none);
	/* A constructor that never returns must not hang the CLI. */
	alarm(CHECK_SECONDS);
	memset(&r, 0, sizeof(r));
	memset(&mod, 0, sizeof(mod));
	if (exit_module_open(path, NULL, &mod, r.err, sizeof(r.err)) == 0) {
		r.ok = 1;
		r.threading = mod.desc->threading;
		snprintf(r.name, sizeof(r.name), "%s", mod.name);
	}
	/* No exit_module_close: the module's code has run enough here. */
	_exit(write(fd, &r, sizeof(r)) == (ssize_t)sizeof(r) ? 0 : 1);
}

/* Read the whole report; 0, or -1 if the child wrote less. */
static int
read_report(int fd, struct load_report *r)
{
	size_t		 off = 0;
	ssize_t		 n;

	while (off < sizeof(*r)) {
		if ((n = read(fd, (char *)r + off, sizeof(*r) - off)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			return -1;
		off += (size_t)n;
	}
	return 0;
}

/*
 * Check the module file at path as the daemon will load it
 * (exit_module_open), in a child process. Fills name and *threading.
 * Returns 0, or -1 with err saying why the module is refused ("FILE crashed
 * while loading (SIGSEGV)" when loading it killed the child).
 */
int
exit_register_check(const char *path, char *name, size_t namelen,
    int *threading, char *err, size_t errlen)
{
	struct load_report r;
	const char	*sig;
	pid_t		 pid;
	int		 p[2], status, got;

	if (pipe2(p, O_CLOEXEC) == -1) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return -1;
	}
	fflush(NULL);
	if ((pid = fork()) == -1) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		close(p[0]);
		/* A module's kill(0, ...) reaches this check, not the CLI. */
		(void)setsid();
		check_child(path, p[1]);
	}
	close(p[1]);
	got = read_report(p[0], &r);
	close(p[0]);
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR) {
			snprintf(err, errlen, "waitpid: %s", strerror(errno));
			return -1;
		}
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM) {
		snprintf(err, errlen, "%s did not finish loading within %d s",
		    path, CHECK_SECONDS);
		return -1;
	}
	if (WIFSIGNALED(status)) {
		if ((sig = sigabbrev_np(WTERMSIG(status))) != NULL)
			snprintf(err, errlen, "%s crashed while loading (SIG%s)",
			    path, sig);
		else
			snprintf(err, errlen, "%s crashed while loading (signal "
			    "%d)", path, WTERMSIG(status));
		return -1;
	}
	if (got == -1) {
		snprintf(err, errlen, "%s: loading it ended the check without "
		    "an answer (exit status %d)", path, WIFEXITED(status) ?
		    WEXITSTATUS(status) : -1);
		return -1;
	}
	if (!r.ok) {
		r.err[sizeof(r.err) - 1] = '\0';
		snprintf(err, errlen, "%s", r.err);
		return -1;
	}
	r.name[sizeof(r.name) - 1] = '\0';
	snprintf(name, namelen, "%s", r.name);
	*threading = r.threading;
	return 0;
}

/*
 * Parse the argument of --from: "newest", "cursor" or an event number
 * (1 or more; whether it exists is seen in the database). Returns 0 with
 * *from set (REGISTER_FROM_NEWEST, REGISTER_FROM_CURSOR or the number),
 * or -1 with err.
 */
int
exit_register_from(const char *arg, int64_t *from, char *err, size_t errlen)
{
	if (strcmp(arg, "newest") == 0)
		*from = REGISTER_FROM_NEWEST;
	else if (strcmp(arg, "cursor") == 0)
		*from = REGISTER_FROM_CURSOR;
	else if (parse_int64(arg, from) == -1 || *from < 1) {
		snprintf(err, errlen, "--from %s: give newest, cursor or an "
		    "event number (events are numbered from 1)", arg);
		return -1;
	}
	return 0;
}

static int
cursor_write(struct store *st, const char *module, int64_t seq, char *err,
    size_t errlen)
{
	if (store_cursor_set(st, module, seq) == 0)
		return 0;
	snprintf(err, errlen, "cannot write the cursor of %s", module);
	return -1;
}

/* Decide and write the cursor of module in st; see exit_register_cursor. */
static int
decide_cursor(struct store *st, const char *module, int64_t from,
    char *msg, size_t msglen, char *err, size_t errlen)
{
	struct db_stats	 stats;
	int64_t		 old = -1, newest;
	int		 rc;

	if (store_stats(st, &stats) != 0 ||
	    ((rc = store_cursor_get(st, module, &old)) != 0 &&
	    rc != CM_E_NOTFOUND)) {
		snprintf(err, errlen, "cannot read the database");
		return -1;
	}
	newest = stats.last_event_seq;
	if (from == REGISTER_FROM_DEFAULT)
		from = old >= 0 ? REGISTER_FROM_CURSOR : REGISTER_FROM_NEWEST;
	if (from == REGISTER_FROM_CURSOR) {
		if (old < 0) {
			snprintf(err, errlen, "%s has no old cursor to resume "
			    "from: give --from newest or --from SEQ", module);
			return -1;
		}
		snprintf(msg, msglen, "%s resumes from its old cursor (event %"
		    PRId64 "): %" PRId64 " events to deliver", module, old,
		    newest > old ? newest - old : 0);
		return 0;	/* the row is there already */
	}
	if (from == REGISTER_FROM_NEWEST) {
		if (old < 0) {
			/* No row: the daemon starts it at the newest event. */
			snprintf(msg, msglen, "%s starts with the next event "
			    "(newest is %" PRId64 ")", module, newest);
			return 0;
		}
		snprintf(msg, msglen, "%s starts with the next event (newest is %"
		    PRId64 "), skipping the %" PRId64 " events after its old "
		    "cursor (event %" PRId64 ")", module, newest,
		    newest > old ? newest - old : 0, old);
		return cursor_write(st, module, newest, err, errlen);
	}
	if (from < 1 || from > newest + 1) {
		snprintf(err, errlen, "--from %" PRId64 ": no such event (events "
		    "are numbered from 1 and the newest is %" PRId64 ": give 1 "
		    "to %" PRId64 ")", from, newest, newest + 1);
		return -1;
	}
	snprintf(msg, msglen, "%s starts at event %" PRId64 ": %" PRId64
	    " events to deliver", module, from, newest - from + 1);
	return cursor_write(st, module, from - 1, err, errlen);
}

/*
 * Start of `exit register`: open the CA's database, lock it (BEGIN
 * IMMEDIATE: the newest event cannot move under the check) and write
 * module's cursor as from asks: REGISTER_FROM_DEFAULT (resume from the
 * cursor if the module has one, else start with the next event),
 * REGISTER_FROM_NEWEST, REGISTER_FROM_CURSOR or an event number (deliver
 * from it on). What it does is said in msg. On success *stp holds the
 * open transaction: exit_register_done commits it once the config names
 * the module, or rolls it back. Returns 0, or -1 with err (nothing
 * changed).
 */
int
exit_register_cursor(const char *db_file, const char *module, int64_t from,
    struct store **stp, char *msg, size_t msglen, char *err, size_t errlen)
{
	struct store	*st;

	msg[0] = '\0';
	*stp = NULL;
	if ((st = store_open(db_file, 0, err, errlen)) == NULL)
		return -1;
	if (store_begin(st) != 0) {
		snprintf(err, errlen, "%s: cannot lock the database", db_file);
		store_close(st);
		return -1;
	}
	if (decide_cursor(st, module, from, msg, msglen, err, errlen) == -1) {
		store_rollback(st);
		store_close(st);
		return -1;
	}
	*stp = st;
	return 0;
}

/* Commit (ok) or roll back the cursor written, and close. 0 or -1. */
int
exit_register_done(struct store *st, int ok)
{
	int	 rc;

	if (st == NULL)
		return 0;
	rc = ok ? store_commit(st) : store_rollback(st);
	store_close(st);
	return rc == 0 ? 0 : -1;
}
