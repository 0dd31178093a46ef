/*
 * run.c - run one command for CertMint_Command.Exit: no shell, a process
 * group of its own, its input written while both of its outputs are read
 * (a command that writes much before it reads must not deadlock with us),
 * and a timeout that sends SIGTERM, then SIGKILL, to the whole group.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "command.h"

/* After SIGKILL, how long descendants that left the group may hold the pipes. */
#define PIPE_GRACE_MS	1000
/* Without pidfd (old kernel), how often to look whether it exited. */
#define REAP_TICK_MS	10

static long long
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * A descriptor that polls readable when pid exits (close-on-exec), or -1
 * where the kernel has no pidfd: then the loop looks every REAP_TICK_MS.
 */
static int
pid_fd(pid_t pid)
{
#ifdef SYS_pidfd_open
	return (int)syscall(SYS_pidfd_open, pid, 0);
#else
	(void)pid;
	return -1;
#endif
}

static void
close_fd(int *fd)
{
	if (*fd != -1)
		close(*fd);
	*fd = -1;
}

/*
 * A close-on-exec pipe whose ends are above stdio, so that the dup2s onto
 * 0, 1 and 2 in the child cannot overwrite one another (a daemon started
 * with stdin closed would hand out fd 0). 0, or -1 with errno.
 */
static int
pipe_above_stdio(int p[2])
{
	int	 i, fd;

	if (pipe2(p, O_CLOEXEC) == -1)
		return -1;
	for (i = 0; i < 2; i++) {
		if (p[i] > 2)
			continue;
		if ((fd = fcntl(p[i], F_DUPFD_CLOEXEC, 3)) == -1) {
			close_fd(&p[0]);
			close_fd(&p[1]);
			return -1;
		}
		close(p[i]);
		p[i] = fd;
	}
	return 0;
}

/*
 * write(2) to the command's stdin with SIGPIPE held off in this thread: a
 * command that exits without reading its input must not kill the process
 * we run in (the module host restores SIGPIPE's default action). A
 * SIGPIPE that the write raised is taken off the pending set.
 */
static ssize_t
write_nosigpipe(int fd, const void *p, size_t n)
{
	struct timespec	 zero = { 0, 0 };
	sigset_t	 pipe_set, old, pending;
	ssize_t		 r;
	int		 was_pending, saved;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	sigpending(&pending);
	was_pending = sigismember(&pending, SIGPIPE);
	r = write(fd, p, n);
	saved = errno;
	if (r == -1 && saved == EPIPE && !was_pending)
		while (sigtimedwait(&pipe_set, NULL, &zero) == -1 &&
		    errno == EINTR)
			;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	errno = saved;
	return r;
}

/*
 * Read what is there on *fd: its first keep bytes into b, the rest
 * counted and dropped (the command must never block on a full pipe).
 * Closes *fd at the end of the stream or on an error.
 */
static void
drain(int *fd, struct mu_buf *b, size_t *total, size_t keep)
{
	char	 buf[8192];
	ssize_t	 n;
	size_t	 room;

	if ((n = read(*fd, buf, sizeof(buf))) > 0) {
		room = b->len < keep ? keep - b->len : 0;
		/* Logging is best effort: out of memory keeps less. */
		(void)mu_buf_add(b, buf, (size_t)n < room ? (size_t)n : room);
		*total += (size_t)n;
		return;
	}
	if (n == 0 || (errno != EAGAIN && errno != EINTR))
		close_fd(fd);
}

/*
 * Start sp's command: stdin from in (or /dev/null), stdout and stderr to
 * out and err, no other descriptor, its own process group, no blocked and
 * no ignored signal (the daemon ignores SIGPIPE; exec keeps that). 0, or an
 * errno.
 */
static int
spawn(const struct run_spec *sp, int in, int out, int err, pid_t *pid)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t	 none, all;
	int		 rc;

	if ((rc = posix_spawn_file_actions_init(&fa)) != 0)
		return rc;
	if ((rc = posix_spawnattr_init(&attr)) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		return rc;
	}
	sigemptyset(&none);
	sigfillset(&all);
	if ((rc = in != -1 ? posix_spawn_file_actions_adddup2(&fa, in, 0) :
	    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY,
	    0)) != 0 ||
	    (rc = posix_spawn_file_actions_adddup2(&fa, out, 1)) != 0 ||
	    (rc = posix_spawn_file_actions_adddup2(&fa, err, 2)) != 0 ||
	    (rc = posix_spawn_file_actions_addclosefrom_np(&fa, 3)) != 0 ||
	    (rc = posix_spawn_file_actions_addchdir_np(&fa, sp->dir)) != 0 ||
	    (rc = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP |
	    POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)) != 0 ||
	    (rc = posix_spawnattr_setpgroup(&attr, 0)) != 0 ||
	    (rc = posix_spawnattr_setsigmask(&attr, &none)) != 0 ||
	    (rc = posix_spawnattr_setsigdefault(&attr, &all)) != 0)
		goto out;
	rc = posix_spawn(pid, sp->file, &fa, &attr, sp->argv, sp->envp);
 out:
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	return rc;
}

/* What a run's state needs between the turns of the loop. */
struct run {
	const struct run_spec *sp;
	struct run_result *res;
	pid_t		 pid;
	int		 in, out, err, pfd;
	size_t		 written;
	int		 reaped, wstatus, timed_out;
	int		 stage;		/* 0 running, 1 SIGTERM sent, 2 SIGKILL sent */
	long long	 next;		/* when the next stage starts */
};

/*
 * The timeout: at the deadline SIGTERM to the group (a timeout if the
 * command itself still runs; descendants holding its pipes after it exited
 * are only stopped), kill_after later SIGKILL, PIPE_GRACE_MS later stop
 * reading pipes that something outside the group still holds.
 */
static void
run_stage(struct run *r, long long now)
{
	if (now < r->next)
		return;
	switch (r->stage) {
	case 0:
		if (!r->reaped)
			r->timed_out = 1;
		kill(-r->pid, SIGTERM);
		r->stage = 1;
		r->next = now + r->sp->kill_after_ms;
		break;
	case 1:
		kill(-r->pid, SIGKILL);
		r->res->killed = 1;
		r->stage = 2;
		r->next = now + PIPE_GRACE_MS;
		break;
	default:
		close_fd(&r->out);
		close_fd(&r->err);
		r->next = now + 3600 * 1000LL;
		break;
	}
}

/* One turn: wait for something to do (at most until the next stage), do it. */
static void
run_turn(struct run *r)
{
	struct pollfd	 p[4];
	const struct run_spec *sp = r->sp;
	long long	 wait;
	nfds_t		 n = 0;
	ssize_t		 w;
	int		 iw = -1, io = -1, ie = -1, ip = -1;

	if (r->in != -1) {
		iw = (int)n;
		p[n].fd = r->in;
		p[n++].events = POLLOUT;
	}
	if (r->out != -1) {
		io = (int)n;
		p[n].fd = r->out;
		p[n++].events = POLLIN;
	}
	if (r->err != -1) {
		ie = (int)n;
		p[n].fd = r->err;
		p[n++].events = POLLIN;
	}
	if (!r->reaped && r->pfd != -1) {
		ip = (int)n;
		p[n].fd = r->pfd;
		p[n++].events = POLLIN;
	}
	wait = r->next - now_ms();
	if (wait < 0)
		wait = 0;
	if (!r->reaped && r->pfd == -1 && wait > REAP_TICK_MS)
		wait = REAP_TICK_MS;
	if (poll(p, n, (int)wait) == -1) {
		if (errno != EINTR)
			usleep(1000);	/* not expected: do not spin */
		return;
	}
	if (iw != -1 && p[iw].revents != 0) {
		w = write_nosigpipe(r->in, sp->input + r->written,
		    sp->input_len - r->written);
		if (w > 0)
			r->written += (size_t)w;
		/* EPIPE: it did not want (all of) its input; not an error. */
		if ((w == -1 && errno != EAGAIN && errno != EINTR) ||
		    r->written == sp->input_len)
			close_fd(&r->in);
	}
	if (io != -1 && p[io].revents != 0)
		drain(&r->out, &r->res->out, &r->res->out_total, sp->keep);
	if (ie != -1 && p[ie].revents != 0)
		drain(&r->err, &r->res->err, &r->res->err_total, sp->keep);
	if (!r->reaped && (ip == -1 || p[ip].revents != 0) &&
	    waitpid(r->pid, &r->wstatus, WNOHANG) == r->pid) {
		r->reaped = 1;
		close_fd(&r->in);
	}
}

int
run_command(const struct run_spec *sp, struct run_result *res)
{
	struct run	 r;
	long long	 start = now_ms();
	int		 in[2] = { -1, -1 }, out[2] = { -1, -1 };
	int		 err[2] = { -1, -1 }, rc, flags;

	memset(res, 0, sizeof(*res));
	memset(&r, 0, sizeof(r));
	r.sp = sp;
	r.res = res;
	r.in = r.out = r.err = r.pfd = -1;
	if ((sp->input != NULL && pipe_above_stdio(in) == -1) ||
	    pipe_above_stdio(out) == -1 || pipe_above_stdio(err) == -1) {
		res->end = RUN_FAILED;
		snprintf(res->why, sizeof(res->why), "pipe: %s", strerror(errno));
		goto out;
	}
	if ((rc = spawn(sp, in[0], out[1], err[1], &r.pid)) != 0) {
		res->end = RUN_FAILED;
		snprintf(res->why, sizeof(res->why), "cannot run %s: %s",
		    sp->file, strerror(rc));
		goto out;
	}
	close_fd(&in[0]);
	close_fd(&out[1]);
	close_fd(&err[1]);
	r.in = in[1];
	r.out = out[0];
	r.err = err[0];
	in[1] = out[0] = err[0] = -1;
	if (r.in != -1 && sp->input_len == 0)
		close_fd(&r.in);
	if (r.in != -1 && (flags = fcntl(r.in, F_GETFL)) != -1)
		fcntl(r.in, F_SETFL, flags | O_NONBLOCK);
	r.pfd = pid_fd(r.pid);
	r.next = start + sp->timeout_ms;
	while (!r.reaped || r.out != -1 || r.err != -1) {
		run_stage(&r, now_ms());
		run_turn(&r);
	}
	res->ms = now_ms() - start;
	if (WIFEXITED(r.wstatus) && !r.timed_out) {
		res->end = RUN_EXITED;
		res->status = WEXITSTATUS(r.wstatus);
	} else if (r.timed_out)
		res->end = RUN_TIMEOUT;
	else {
		res->end = RUN_SIGNALED;
		res->status = WTERMSIG(r.wstatus);
	}
 out:
	close_fd(&r.in);
	close_fd(&r.out);
	close_fd(&r.err);
	close_fd(&r.pfd);
	close_fd(&in[0]);
	close_fd(&in[1]);
	close_fd(&out[0]);
	close_fd(&out[1]);
	close_fd(&err[0]);
	close_fd(&err[1]);
	return 0;
}

void
run_result_free(struct run_result *res)
{
	mu_buf_free(&res->out);
	mu_buf_free(&res->err);
}
