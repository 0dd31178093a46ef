/*
 * isolate.c - the daemon's side of a module host process: start it
 * (certmintd --module-host, see modhost.c), hand it events and answer its
 * server calls from a real struct exit_call, notice when it dies or
 * overruns its deadline, reap it and start it again with backoff. The
 * daemon never dlopens an isolated module.
 *
 * One socketpair for control (initialize, manage module, shutdown) and one
 * per delivering thread of the slot; each is used by one daemon thread at
 * a time. A restart waits until no thread is inside a transaction (they all
 * see the old child's sockets close once it is reaped).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "isolate.h"

#define HELLO_MS	30000	/* exec, dynamic linking, sanitizer start-up */
#define CTL_MS		5000	/* an admin call into the host at most */
#define STOP_WAIT_MS	2000	/* shutdown() and exit at most */
#define OUT_WAIT_STOP_MS 1000	/* a stopped host's last output at most */
#define OUT_WAIT_CRASH_MS 200	/* a crashed host's, before "ended" */

extern char	**environ;


/* What the parent thread forks and execs. */
struct fork_req {
	int		*child;		/* the child ends, fds 3.. in the host */
	int		 nfd;
	int		 devnull;
	int		 out;		/* the host's stdout and stderr, or -1 */
	char		**argv, **env;
	int		 error;
};

struct modproc {
	pthread_mutex_t	 fork_mu;	/* the parent thread's request */
	pthread_cond_t	 fork_cv;
	pthread_t	 parent;
	int		 parent_running, fork_quit;
	struct fork_req	*fork_req;
	pid_t		 fork_pid;
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;		/* busy went down */
	pthread_mutex_t	 ctl_mu;	/* one control transaction at a time */
	struct modproc_opts o;
	pid_t		 pid;		/* 0: not running */
	int		 gen;		/* children started */
	int		 busy;		/* threads in a transaction */
	int		 cause_set;	/* we killed it and said why */
	char		 cause[200];	/* why the last child ended */
	uint64_t	 next_start_ns;	/* no restart before (backoff) */
	int64_t		 backoff_ms;
	atomic_int	 backoff_dirty;
	struct wire_chan ctl;
	struct hostout	*out;		/* the host's output, read into the log */
	struct wire_chan *chan;
	struct chan_state *cstate;	/* per channel */
	/* what the module said at its load */
	struct modproc_info info;
};

struct modproc *
modproc_new(const struct modproc_opts *o)
{
	struct modproc	*p = xcalloc(1, sizeof(*p));
	int		 i;

	pthread_mutex_init(&p->fork_mu, NULL);
	pthread_cond_init(&p->fork_cv, NULL);
	pthread_mutex_init(&p->mu, NULL);
	pthread_mutex_init(&p->ctl_mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	p->o = *o;
	p->o.path = xstrdup(o->path);
	p->o.name = xstrdup(o->name);
	p->o.user = xstrdup(o->user);
	p->chan = xcalloc((size_t)o->nchan, sizeof(*p->chan));
	p->cstate = xcalloc((size_t)o->nchan, sizeof(*p->cstate));
	wire_init(&p->ctl, -1);
	for (i = 0; i < o->nchan; i++)
		wire_init(&p->chan[i], -1);
	p->backoff_ms = o->backoff_initial_ms;
	return p;
}

static void
info_free(struct modproc_info *in)
{
	size_t	 i;

	free(in->description);
	for (i = 0; i < nitems(in->props); i++)
		free(in->props[i]);
	memset(in, 0, sizeof(*in));
}

void
modproc_free(struct modproc *p)
{
	int	 i;

	if (p == NULL)
		return;
	if (p->parent_running) {
		pthread_mutex_lock(&p->fork_mu);
		p->fork_quit = 1;
		pthread_cond_broadcast(&p->fork_cv);
		pthread_mutex_unlock(&p->fork_mu);
		pthread_join(p->parent, NULL);
	}
	pthread_mutex_destroy(&p->fork_mu);
	pthread_cond_destroy(&p->fork_cv);
	wire_close(&p->ctl);
	for (i = 0; i < p->o.nchan; i++) {
		wire_close(&p->chan[i]);
		free(p->cstate[i].blob);
		free(p->cstate[i].batch);
	}
	free(p->chan);
	free(p->cstate);
	hostout_release(p->out, 0);
	info_free(&p->info);
	free((char *)p->o.path);
	free((char *)p->o.name);
	free((char *)p->o.user);
	pthread_mutex_destroy(&p->mu);
	pthread_mutex_destroy(&p->ctl_mu);
	pthread_cond_destroy(&p->cv);
	free(p);
}

const struct modproc_info *
modproc_info(struct modproc *p)
{
	return &p->info;
}

pid_t
modproc_pid(struct modproc *p)
{
	pid_t	 pid;

	pthread_mutex_lock(&p->mu);
	pid = p->pid;
	pthread_mutex_unlock(&p->mu);
	return pid;
}

/*
 * The environment of the host process. Under AddressSanitizer an address
 * space limit makes its allocator fail rather than abort, so that a module
 * that runs out of memory meets a NULL from malloc as it would without it;
 * and a module that calls exit() ends its host without a leak check of
 * what it left (the host itself ends with _exit).
 */
static char **
host_environ(char **extra)
{
	size_t		 n = 0, i, k = 0;
	char		**env;

	while (environ[n] != NULL)
		n++;
	env = xcalloc(n + 2, sizeof(*env));
	*extra = NULL;
	for (i = 0; i < n; i++) {
#if defined(__SANITIZE_ADDRESS__)
		if (strncmp(environ[i], "ASAN_OPTIONS=", 13) == 0) {
			size_t	 len = strlen(environ[i]) + 64;

			*extra = xcalloc(1, len);
			snprintf(*extra, len, "%s:allocator_may_return_null=1:"
			    "detect_leaks=0", environ[i]);
			env[k++] = *extra;
			continue;
		}
#endif
		env[k++] = environ[i];
	}
#if defined(__SANITIZE_ADDRESS__)
	if (*extra == NULL)
		env[k++] = *extra = xstrdup("ASAN_OPTIONS="
		    "allocator_may_return_null=1:detect_leaks=0");
#endif
	env[k] = NULL;
	return env;
}

/*
 * Fork and exec (on the parent thread): the child ends of the channels
 * become fds 3 (control), 4, ... Returns the pid, or -1 with r->error.
 */
static pid_t
fork_exec(struct fork_req *r)
{
	int	 i, tmp;
	pid_t	 pid;

	if ((pid = fork()) == -1) {
		r->error = errno;
		return -1;
	}
	if (pid == 0) {
		/* Only async-signal-safe calls until exec. */
		struct sigaction sa;
		sigset_t	 none;

		/* Not the daemon's blocked signals nor its ignored SIGPIPE. */
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = SIG_DFL;
		sigaction(SIGPIPE, &sa, NULL);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		for (i = 0; i < r->nfd; i++) {
			/* Above every target first, so that none is overwritten. */
			if ((tmp = fcntl(r->child[i], F_DUPFD_CLOEXEC,
			    3 + r->nfd)) == -1)
				_exit(127);
			r->child[i] = tmp;
		}
		if (r->out != -1 && (r->out = fcntl(r->out, F_DUPFD_CLOEXEC,
		    3 + r->nfd)) == -1)
			_exit(127);
		for (i = 0; i < r->nfd; i++)
			if (dup2(r->child[i], 3 + i) == -1)
				_exit(127);
		if (r->devnull != -1)
			dup2(r->devnull, STDIN_FILENO);
		if (r->out != -1 && (dup2(r->out, STDOUT_FILENO) == -1 ||
		    dup2(r->out, STDERR_FILENO) == -1))
			_exit(127);
		execve("/proc/self/exe", r->argv, r->env);
		_exit(127);
	}
	return pid;
}

/*
 * The module's parent thread: forks its hosts. PR_SET_PDEATHSIG kills a
 * host when the *thread* that forked it ends, so hosts are forked by this
 * thread, which lives as long as the modproc, not by the thread of a
 * reload or of an admin command, which ends with it.
 */
static void *
parent_main(void *arg)
{
	struct modproc	*p = arg;

	exit_thread_nice(p->o.nice);	/* the host process inherits it */
	pthread_mutex_lock(&p->fork_mu);
	for (;;) {
		while (p->fork_req == NULL && !p->fork_quit)
			pthread_cond_wait(&p->fork_cv, &p->fork_mu);
		if (p->fork_req == NULL)
			break;
		p->fork_pid = fork_exec(p->fork_req);
		p->fork_req = NULL;
		pthread_cond_broadcast(&p->fork_cv);
	}
	pthread_mutex_unlock(&p->fork_mu);
	return NULL;
}

/* Have the parent thread fork r. Returns the pid or -1 (r->error). */
static pid_t
parent_fork(struct modproc *p, struct fork_req *r)
{
	pid_t	 pid;

	pthread_mutex_lock(&p->fork_mu);
	if (!p->parent_running) {
		if ((r->error = pthread_create(&p->parent, NULL, parent_main,
		    p)) != 0) {
			pthread_mutex_unlock(&p->fork_mu);
			return -1;
		}
		p->parent_running = 1;
	}
	p->fork_req = r;
	pthread_cond_broadcast(&p->fork_cv);
	while (p->fork_req != NULL)
		pthread_cond_wait(&p->fork_cv, &p->fork_mu);
	pid = p->fork_pid;
	pthread_mutex_unlock(&p->fork_mu);
	return pid;
}

/*
 * Start the host with the channels (fork_exec). Call with p->mu held.
 * Returns 0 or -1 with err.
 */
static int
spawn(struct modproc *p, char *err, size_t errlen)
{
	struct fork_req	 req;
	struct hostout	*out;
	int		 nfd = p->o.nchan + 1, sv[2], i, devnull, wout = -1;
	int		*child = xcalloc((size_t)nfd, sizeof(int));
	char		 nchan[16], mem[16], cpu[16], files[16], ppid[16];
	char		*extra, **env;
	char		*argv[12];
	pid_t		 pid;

	for (i = 0; i < nfd; i++)
		child[i] = -1;
	for (i = 0; i < nfd; i++) {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1) {
			snprintf(err, errlen, "socketpair: %s", strerror(errno));
			goto fail;
		}
		wire_init(i == 0 ? &p->ctl : &p->chan[i - 1], sv[0]);
		child[i] = sv[1];
	}
	snprintf(nchan, sizeof(nchan), "%d", p->o.nchan);
	snprintf(mem, sizeof(mem), "%d", p->o.memory_mb);
	snprintf(cpu, sizeof(cpu), "%d", p->o.cpu_seconds);
	snprintf(files, sizeof(files), "%d", p->o.open_files);
	snprintf(ppid, sizeof(ppid), "%d", (int)getpid());
	argv[0] = "certmintd";
	argv[1] = "--module-host";
	argv[2] = (char *)p->o.path;
	argv[3] = (char *)p->o.name;
	argv[4] = nchan;
	argv[5] = (char *)p->o.user;
	argv[6] = mem;
	argv[7] = cpu;
	argv[8] = files;
	argv[9] = ppid;
	argv[10] = NULL;
	env = host_environ(&extra);
	devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if ((out = hostout_new(p->o.name, &wout)) == NULL)
		log_warn("exit module %s: no pipe for its host's output (%s): "
		    "it goes to certmintd's stderr as it is", p->o.name,
		    strerror(errno));
	req.child = child;
	req.nfd = nfd;
	req.devnull = devnull;
	req.out = wout;
	req.argv = argv;
	req.env = env;
	pid = parent_fork(p, &req);
	free(env);
	free(extra);
	if (devnull != -1)
		close(devnull);
	if (wout != -1)
		close(wout);
	if (pid == -1) {
		snprintf(err, errlen, "fork: %s", strerror(req.error));
		hostout_release(out, 0);
		goto fail;
	}
	/* The previous host's reader goes on by itself to its end. */
	hostout_release(p->out, 0);
	p->out = out;
	if (out != NULL)
		hostout_set_pid(out, pid);
	for (i = 0; i < nfd; i++)
		close(child[i]);
	free(child);
	p->pid = pid;
	p->gen++;
	p->cause_set = 0;
	p->cause[0] = '\0';
	return 0;
fail:
	for (i = 0; i < nfd; i++)
		if (child[i] != -1)
			close(child[i]);
	free(child);
	wire_close(&p->ctl);
	for (i = 0; i < p->o.nchan; i++)
		wire_close(&p->chan[i]);
	return -1;
}


/* How long a host's keeper gets to kill what its module left (keeper.c). */
#define KEEPER_WAIT_MS	3000

/*
 * Stop a host: its keeper (keeper.c) kills the module's process and
 * everything below it, and ends. Should it not within KEEPER_WAIT_MS, or
 * have been killed itself, what is still in the host's process group (the
 * keeper called setsid: its group is its pid) is killed. Before the host
 * is reaped: until then the pid cannot name another group.
 */
static void
kill_group(pid_t pid)
{
	struct timespec	 nap = { 0, 1000000L };
	uint64_t	 end = time_mono_ns() + KEEPER_WAIT_MS * 1000000ull;
	siginfo_t	 si;
	int		 r;

	(void)kill(pid, SIGTERM);
	(void)kill(pid, SIGCONT);	/* should someone have stopped it */
	for (;;) {
		si.si_pid = 0;
		r = waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT);
		if (r != 0 || si.si_pid != 0 || time_mono_ns() >= end)
			break;
		nanosleep(&nap, NULL);
		if (nap.tv_nsec < 20000000L)
			nap.tv_nsec *= 2;
	}
	(void)kill(-pid, SIGKILL);
	(void)kill(pid, SIGKILL);
}

/* Kill the child of generation gen, saying why (the first reason stays). */
static void
kill_locked(struct modproc *p, int gen, const char *why)
{
	if (p->gen != gen || p->pid <= 0)
		return;
	if (!p->cause_set) {
		snprintf(p->cause, sizeof(p->cause), "%s", why);
		p->cause_set = 1;
	}
	/* Its keeper kills the module's process at once, then the rest. */
	kill(p->pid, SIGTERM);
	kill(p->pid, SIGCONT);		/* should someone have stopped it */
}

/*
 * The child of generation gen is gone or going: kill it, reap it and set
 * the backoff for its restart. Copies why it ended into cause. Call with
 * p->mu held.
 */
static void
reap_locked(struct modproc *p, int gen, char *cause, size_t len)
{
	int	 status;
	pid_t	 r;

	if (p->gen == gen && p->pid > 0) {
		kill_group(p->pid);
		while ((r = waitpid(p->pid, &status, 0)) == -1 && errno == EINTR)
			;
		if (!p->cause_set) {
			if (r == p->pid)
				wire_status_text(status, p->cause,
				    sizeof(p->cause));
			else
				snprintf(p->cause, sizeof(p->cause), "module "
				    "process lost");
			p->cause_set = 1;
		}
		/* Its last words (a crash report) first, if they come soon. */
		hostout_release(p->out, OUT_WAIT_CRASH_MS);
		p->out = NULL;
		log_warn("exit module %s: host process %d ended: %s", p->o.name,
		    (int)p->pid, p->cause);
		p->pid = 0;
		p->next_start_ns = time_mono_ns() + (uint64_t)p->backoff_ms *
		    1000000u;
		p->backoff_ms = p->backoff_ms * 2 > p->o.backoff_max_ms ?
		    p->o.backoff_max_ms : p->backoff_ms * 2;
		atomic_store(&p->backoff_dirty, 1);
	}
	snprintf(cause, len, "%s", p->cause[0] ? p->cause :
	    "module process ended");
}

/*
 * Close the channels of a child that is no more. Call with p->mu held
 * and no thread in a transaction.
 */
static void
close_channels(struct modproc *p)
{
	int	 i;

	wire_close(&p->ctl);
	for (i = 0; i < p->o.nchan; i++)
		wire_close(&p->chan[i]);
}

/*
 * Ask the host for a manage-module property, into *out (caller frees).
 */
static void
fetch_prop(struct modproc *p, const char *prop, char **out,
    uint64_t deadline)
{
	struct wire_msg	 m;

	*out = NULL;
	if (wire_send(&p->ctl, W_PROP, 0, 0, 0, prop, strlen(prop), NULL, 0) ==
	    0 && serve(&p->ctl, NULL, W_PROP_DONE, &m, deadline) == 0 &&
	    m.i[0] == CM_OK && m.s[0] != NULL)
		*out = xstrdup(m.s[0]);
}

/*
 * Start the host, check what it loaded and initialize the module. Call
 * with p->mu held and nobody in a transaction. Returns 0, or -1 with err
 * (the child, if any, is reaped).
 */
static int
start_locked(struct modproc *p, struct ca *ca, char *err, size_t errlen)
{
	static const char *const props[] = {
		CM_CMM_PROP_NAME, CM_CMM_PROP_DESCRIPTION, CM_CMM_PROP_COPYRIGHT,
		CM_CMM_PROP_FILEVER, CM_CMM_PROP_PRODUCTVER
	};
	struct exit_call call;
	struct wire_msg	 m;
	uint64_t	 deadline = time_mono_ns() + HELLO_MS * 1000000ull;
	char		 why[200];
	size_t		 i;
	int		 rc, gen, threading;

	close_channels(p);
	if (spawn(p, err, errlen) == -1)
		return -1;
	gen = p->gen;
	if ((rc = serve(&p->ctl, NULL, W_HELLO, &m, deadline)) != 0)
		goto gone;
	if (m.s[1] != NULL) {
		snprintf(err, errlen, "%s", m.s[1]);
		goto fail;
	}
	threading = (int)m.i[0];
	exit_call_init(&call, ca, p->o.name, NULL);
	rc = wire_send(&p->ctl, W_INIT, 0, 0, 0, ca_config(ca)->ca_name,
	    strlen(ca_config(ca)->ca_name), NULL, 0);
	if (rc == 0)
		rc = serve(&p->ctl, &call, W_INIT_DONE, &m, deadline);
	exit_call_reset(&call);
	if (rc != 0)
		goto gone;
	if (m.i[0] != CM_OK) {
		snprintf(err, errlen, "initialize returned %" PRId64 "%s%.200s",
		    m.i[0], call.why[0] ? ": " : "", call.why);
		goto fail;
	}
	/*
	 * What the first load said stays: views read it without a lock, and
	 * the module delivers with the mask it was loaded with.
	 */
	if (p->info.description != NULL)
		return 0;
	p->info.threading = threading;
	p->info.mask = (int32_t)m.i[1];
	p->info.manage = (int)m.i[2];
	p->info.description = xstrdup(m.s[0] ? m.s[0] : "");
	for (i = 0; i < nitems(props); i++)
		if (p->info.manage & WIRE_MANAGE_GET)
			fetch_prop(p, props[i], &p->info.props[i], deadline);
	return 0;
gone:
	if (rc == -2)
		kill_locked(p, gen, "did not answer at load");
	reap_locked(p, gen, why, sizeof(why));
	snprintf(err, errlen, "%s", why);
	close_channels(p);
	return -1;
fail:
	kill_locked(p, gen, "refused at load");
	reap_locked(p, gen, why, sizeof(why));
	close_channels(p);
	return -1;
}

int
modproc_start(struct modproc *p, struct ca *ca, char *err, size_t errlen)
{
	int	 rc;

	pthread_mutex_lock(&p->mu);
	rc = start_locked(p, ca, err, errlen);
	pthread_mutex_unlock(&p->mu);
	return rc;
}

int
modproc_ensure(struct modproc *p, struct ca *ca, char *err, size_t errlen)
{
	uint64_t	 now;
	int		 rc = 0;

	pthread_mutex_lock(&p->mu);
	while (p->pid == 0) {
		now = time_mono_ns();
		if (now < p->next_start_ns) {
			rc = (int)((p->next_start_ns - now + 999999) / 1000000);
			break;
		}
		if (p->busy > 0) {
			pthread_cond_wait(&p->cv, &p->mu);
			continue;
		}
		if (start_locked(p, ca, err, errlen) == -1) {
			/* Not started: back off as after a crash. */
			if (p->next_start_ns <= now) {
				p->next_start_ns = now + (uint64_t)p->backoff_ms *
				    1000000u;
				p->backoff_ms = p->backoff_ms * 2 >
				    p->o.backoff_max_ms ? p->o.backoff_max_ms :
				    p->backoff_ms * 2;
			}
			rc = -1;
			break;
		}
		log_info("exit module %s: host process %d started again",
		    p->o.name, (int)p->pid);
	}
	pthread_mutex_unlock(&p->mu);
	return rc;
}

/*
 * Begin a transaction on a channel of the running child: *gen is its
 * generation. Returns 0, or -1 when no child runs.
 */
static int
enter(struct modproc *p, int *gen)
{
	pthread_mutex_lock(&p->mu);
	if (p->pid <= 0) {
		pthread_mutex_unlock(&p->mu);
		return -1;
	}
	*gen = p->gen;
	p->busy++;
	pthread_mutex_unlock(&p->mu);
	return 0;
}

/*
 * End a transaction; after a failure (rc -1: gone, -2: deadline) kill and
 * reap the child, with why for a deadline, and put the cause in cause.
 */
static void
leave(struct modproc *p, int gen, int rc, const char *why, char *cause,
    size_t len)
{
	pthread_mutex_lock(&p->mu);
	if (rc == -2)
		kill_locked(p, gen, why);
	if (rc != 0)
		reap_locked(p, gen, cause, len);
	p->busy--;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

#define NOTIFY_LAST	((int64_t)1 << 32)	/* W_NOTIFY i0: end of a batch */
#define WIRE_FLUSH_EVERY 8			/* NOTIFYs written at once */
#define NOTIFY_SKIPPED	1			/* W_NOTIFY_DONE i2: not run */


int
modproc_notify_batch(struct modproc *p, int idx, struct modproc_event *v,
    size_t n, int deadline_ms, size_t *ndone, int *result, int *death,
    char *cause, size_t len)
{
	struct wire_chan *c = &p->chan[idx];
	struct chan_state *cs = &p->cstate[idx];
	struct notify_state *ns;
	struct wire_msg	 m;
	char		 why[64];
	size_t		 j, sent = 0;
	int		 gen, rc = 0, stopped = 0;

	*ndone = 0;
	*result = CM_OK;
	if (n == 0)
		return 0;
	if (n > WIRE_BATCH_MAX)
		n = WIRE_BATCH_MAX;
	if (enter(p, &gen) == -1) {
		snprintf(cause, len, "module process not running");
		return -1;
	}
	if (cs->batch == NULL)
		cs->batch = xcalloc(WIRE_BATCH_MAX, sizeof(*cs->batch));
	ns = cs->batch;
	/*
	 * All sent before any answer is read: the host runs them back to
	 * back while the daemon prefetches the next. Each event has the
	 * script of its kind as it was when it was prefetched.
	 */
	for (j = 0; j < n && rc == 0; j++) {
		/*
		 * Written in groups of WIRE_FLUSH_EVERY after the first: the
		 * host starts at once, then wakes once per group, not once
		 * per event.
		 */
		wire_cork(c);
		memset(&ns[j], 0, sizeof(ns[j]));
		ns[j].script = cs->scripts[script_index(v[j].event)];
		ns[j].sc = &ns[j].script;
		ns[j].cs = cs;
		ns[j].context = v[j].context;
		ns[j].executed = prefetch(cs, &ns[j], v[j].call);
		rc = wire_send4(c, W_NOTIFY, (int64_t)(uint32_t)v[j].event |
		    (j + 1 == n ? NOTIFY_LAST : 0), v[j].context, v[j].seq,
		    (int64_t)ns[j].executed, ns[j].executed ? cs->blob : NULL,
		    cs->bloblen, NULL, 0);
		if (rc == 0)
			sent++;
		if (rc == 0 && (j == 0 || (j + 1) % WIRE_FLUSH_EVERY == 0 ||
		    j + 1 == n))
			rc = wire_flush(c);
	}
	if (c->corked && wire_flush(c) == -1)
		rc = -1;
	/* Each answer in turn; after a failure the host runs no more. */
	for (j = 0; j < sent && rc == 0; j++) {
		cs->rec.n = 0;
		cs->rec_done = 0;
		rc = serve_ns(c, v[j].call, W_NOTIFY_DONE, &m, time_mono_ns() +
		    (uint64_t)deadline_ms * 1000000u, &ns[j]);
		if (rc != 0 || (m.i[2] & NOTIFY_SKIPPED))
			continue;
		learn(cs, &ns[j], v[j].event, &m);
		if (stopped)
			continue;
		if (m.i[0] == CM_OK)
			(*ndone)++;
		else {
			*result = (int)m.i[0];
			stopped = 1;
		}
	}
	snprintf(why, sizeof(why), "killed after %d ms deadline", deadline_ms);
	leave(p, gen, rc, why, cause, len);
	*death = gen;
	if (rc != 0 && !stopped)
		return 1;
	if (atomic_load_explicit(&p->backoff_dirty, memory_order_relaxed)) {
		pthread_mutex_lock(&p->mu);
		p->backoff_ms = p->o.backoff_initial_ms;
		atomic_store(&p->backoff_dirty, 0);
		pthread_mutex_unlock(&p->mu);
	}
	return 0;
}

int
modproc_notify(struct modproc *p, int idx, struct exit_call *call,
    int32_t event, int64_t context, int64_t seq, int deadline_ms, int *result,
    int *death, char *cause, size_t len)
{
	struct modproc_event ev = { event, context, seq, call };
	size_t		 done;

	return modproc_notify_batch(p, idx, &ev, 1, deadline_ms, &done, result,
	    death, cause, len);
}

void
modproc_kill(struct modproc *p, const char *why)
{
	pthread_mutex_lock(&p->mu);
	kill_locked(p, p->gen, why);
	pthread_mutex_unlock(&p->mu);
}

void
modproc_settings(struct modproc *p, const struct modproc_opts *o)
{
	pthread_mutex_lock(&p->mu);
	free((char *)p->o.user);
	p->o.user = xstrdup(o->user);
	p->o.memory_mb = o->memory_mb;
	p->o.cpu_seconds = o->cpu_seconds;
	p->o.open_files = o->open_files;
	p->o.backoff_initial_ms = o->backoff_initial_ms;
	p->o.backoff_max_ms = o->backoff_max_ms;
	pthread_mutex_unlock(&p->mu);
}

/*
 * One control transaction: send the question, serve calls (with a fresh
 * exit_call when ca is not NULL) until the answer of type want. A host
 * that does not answer within CTL_MS (its serial module busy in notify)
 * is not killed: the caller hears -2. Returns 0, -1 or -2.
 */
static int
control(struct modproc *p, struct ca *ca, int type, int64_t i0, int64_t i1,
    const char *s0, const char *s1, int want, struct wire_msg *m)
{
	struct exit_call call;
	char		 cause[200];
	int		 gen, rc;

	pthread_mutex_lock(&p->ctl_mu);
	if (enter(p, &gen) == -1) {
		pthread_mutex_unlock(&p->ctl_mu);
		return -1;
	}
	if (ca != NULL)
		exit_call_init(&call, ca, p->o.name, NULL);
	rc = wire_send(&p->ctl, type, i0, i1, 0, s0, s0 ? strlen(s0) : 0, s1,
	    s1 ? strlen(s1) : 0);
	if (rc == 0)
		rc = serve(&p->ctl, ca != NULL ? &call : NULL, want, m,
		    time_mono_ns() + CTL_MS * 1000000ull);
	if (ca != NULL)
		exit_call_reset(&call);
	/*
	 * A late answer would be taken for the next question's: the
	 * channel is out of step, so the host goes (and comes back).
	 */
	leave(p, gen, rc, "control channel out of step", cause, sizeof(cause));
	pthread_mutex_unlock(&p->ctl_mu);
	return rc;
}

int
modproc_set(struct modproc *p, const char *prop, const char *value, int *rc)
{
	struct wire_msg	 m;
	int		 r;

	if ((r = control(p, NULL, W_SET, 0, 0, prop, value, W_SET_DONE,
	    &m)) != 0)
		return r;
	*rc = (int)m.i[0];
	return 0;
}

int
modproc_configure(struct modproc *p, struct ca *ca, int flags, char *report,
    size_t len, int *rc)
{
	struct wire_msg	 m;
	int		 r;

	report[0] = '\0';
	if ((r = control(p, ca, W_CONFIGURE, flags, (int64_t)len, NULL, NULL,
	    W_CONFIGURE_DONE, &m)) != 0)
		return r;
	*rc = (int)m.i[0];
	if (m.s[0] != NULL && len > 0)
		snprintf(report, len, "%s", m.s[0]);
	return 0;
}

void
modproc_stop(struct modproc *p, struct ca *ca)
{
	struct exit_call call;
	struct wire_msg	 m;
	struct timespec	 nap = { 0, 5 * 1000000L };
	uint64_t	 deadline = time_mono_ns() + STOP_WAIT_MS * 1000000ull;
	siginfo_t	 si;
	int		 status, rc, r;

	pthread_mutex_lock(&p->ctl_mu);
	pthread_mutex_lock(&p->mu);
	while (p->busy > 0)
		pthread_cond_wait(&p->cv, &p->mu);
	if (p->pid > 0) {
		exit_call_init(&call, ca, p->o.name, NULL);
		rc = wire_send(&p->ctl, W_SHUTDOWN, 0, 0, 0, NULL, 0, NULL, 0);
		if (rc == 0)
			rc = serve(&p->ctl, &call, W_SHUTDOWN_DONE, &m, deadline);
		exit_call_reset(&call);
		/* Ended, but not reaped: its pid still names its group. */
		while ((r = waitid(P_PID, (id_t)p->pid, &si, WEXITED | WNOHANG |
		    WNOWAIT)) == 0 && si.si_pid == 0 && time_mono_ns() < deadline)
			nanosleep(&nap, NULL);
		if (r != 0 || si.si_pid != p->pid)
			log_warn("exit module %s: host process %d did not end "
			    "after shutdown: killing it", p->o.name, (int)p->pid);
		kill_group(p->pid);
		while (waitpid(p->pid, &status, 0) == -1 && errno == EINTR)
			;
		p->pid = 0;
		hostout_release(p->out, OUT_WAIT_STOP_MS);
		p->out = NULL;
	}
	close_channels(p);
	pthread_mutex_unlock(&p->mu);
	pthread_mutex_unlock(&p->ctl_mu);
}
