/*
 * keeper.c - the first process of an isolated module's host, which
 * forks the process that loads the module and stays its parent, a child
 * subreaper (PR_SET_CHILD_SUBREAPER) that runs no module code. Whatever
 * the module starts, even in a session of its own (setsid, a daemon's
 * double fork), stays below the keeper: an orphan is reparented to it,
 * not to init. When the module's process ends (its shutdown, a crash, a
 * kill by certmintd) the keeper kills and reaps every process left below
 * it, then ends as the module's process ended (its exit status, or the
 * same signal), so that certmintd reads why the module ended from the
 * keeper's status as it did from the host's.
 *
 * certmintd stops a host by SIGTERM to the keeper, which kills the
 * module's process at once (SIGKILL) and then the rest; at the keeper's
 * parent-death signal (SIGCONT) it does the same, so a kill -9 of
 * certmintd leaves nothing of the module running. A SIGKILL of the
 * keeper itself still kills the module's process (its parent-death
 * signal) and what is in the host's process group (certmintd kills the
 * group), but a process in a session of its own then goes to init.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "isolate.h"

/* How long the keeper goes on killing what keeps forking. */
#define KEEPER_KILL_MS	2000

/* SIGKILL every process whose parent is the keeper. */
static void
kill_children(pid_t self)
{
	DIR		*d;
	struct dirent	*de;
	char		 path[64], buf[512], *p;
	long		 pid, ppid;
	ssize_t		 n;
	int		 fd;

	if ((d = opendir("/proc")) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		pid = strtol(de->d_name, NULL, 10);
		snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
			continue;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		/* "pid (comm) S ppid ...": comm may hold anything, even ')'. */
		if ((p = strrchr(buf, ')')) == NULL ||
		    sscanf(p + 1, " %*c %ld", &ppid) != 1 || ppid != self)
			continue;
		(void)kill((pid_t)pid, SIGKILL);
	}
	closedir(d);
}

/*
 * Kill and reap everything below the keeper, for at most KEEPER_KILL_MS.
 * A process killed here leaves its children to the keeper, so each round
 * finds the next generation. Returns how many were reaped, -1 when some
 * still ran at the end.
 */
static int
kill_tree(void)
{
	struct timespec	 nap = { 0, 1000000L };
	uint64_t	 end = time_mono_ns() + KEEPER_KILL_MS * 1000000ull;
	pid_t		 self = getpid();
	int		 killed = 0;

	for (;;) {
		while (waitpid(-1, NULL, WNOHANG) > 0)
			killed++;
		if (waitpid(-1, NULL, WNOHANG) == -1 && errno == ECHILD)
			return killed;
		if (time_mono_ns() >= end)
			return -1;
		kill_children(self);
		nanosleep(&nap, NULL);
	}
}

/* End as status says the module's process ended. */
static void __attribute__((noreturn))
end_as(int status)
{
	struct sigaction sa;
	struct rlimit	 none = { 0, 0 };
	sigset_t	 set;
	int		 sig;

	if (!WIFSIGNALED(status))
		_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 1);
	sig = WTERMSIG(status);
	(void)setrlimit(RLIMIT_CORE, &none);	/* the module's dumped, if any */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	(void)sigaction(sig, &sa, NULL);
	sigemptyset(&set);
	sigaddset(&set, sig);
	(void)sigprocmask(SIG_UNBLOCK, &set, NULL);
	(void)raise(sig);
	_exit(128 + sig);
}

static void __attribute__((noreturn))
keeper_main(pid_t module, pid_t ppid, const sigset_t *set)
{
	int	 status = 0, st, sig, killed;
	pid_t	 r;

	for (;;) {
		sig = sigwaitinfo(set, NULL);
		/* SIGCONT: the parent-death signal, or someone's job control. */
		if (sig == SIGTERM || (sig == SIGCONT && getppid() != ppid))
			(void)kill(module, SIGKILL);
		while ((r = waitpid(-1, &st, WNOHANG)) > 0)
			if (r == module) {
				status = st;
				module = 0;
			}
		if (module == 0)
			break;
	}
	if ((killed = kill_tree()) > 0)
		log_warn("killed %d process%s the module left running",
		    killed, killed == 1 ? "" : "es");
	else if (killed == -1)
		log_warn("processes the module left still run after %d ms of "
		    "killing them", KEEPER_KILL_MS);
	end_as(status);
}

/*
 * Split the host into its keeper and the process that goes on to load
 * the module. Returns 0 in the latter (with the daemon's pid ppid checked
 * through the keeper), -1 with err when the keeper could not be made; the
 * keeper never returns. Call before any module code runs and before the
 * host starts a thread.
 */
int
keeper_start(pid_t ppid, char *err, size_t errlen)
{
	sigset_t	 set, old;
	pid_t		 pid, keeper = getpid();

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGCONT);
	if (sigprocmask(SIG_BLOCK, &set, &old) == -1 ||
	    prctl(PR_SET_CHILD_SUBREAPER, 1) == -1) {
		snprintf(err, errlen, "cannot become a subreaper: %s",
		    strerror(errno));
		return -1;
	}
	if ((pid = fork()) == -1) {
		snprintf(err, errlen, "cannot fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		(void)sigprocmask(SIG_SETMASK, &old, NULL);
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 ||
		    getppid() != keeper)
			_exit(0);
		return 0;
	}
	/* The keeper: only stderr (its log lines) besides its signals. */
	closefrom(STDERR_FILENO + 1);
	if (dup2(STDERR_FILENO, STDOUT_FILENO) == -1)
		(void)close(STDOUT_FILENO);
	/*
	 * SIGCONT, which also wakes a keeper someone stopped (SIGSTOP, or a
	 * module stopping its own process group): a pending SIGTERM would
	 * wait for a SIGCONT that may never come.
	 */
	if (prctl(PR_SET_PDEATHSIG, SIGCONT) == -1 || getppid() != ppid)
		(void)kill(pid, SIGKILL);	/* the daemon is gone already */
	keeper_main(pid, ppid, &set);
}
