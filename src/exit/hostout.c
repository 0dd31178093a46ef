/*
 * hostout.c - what a module host process writes on its stdout and stderr
 * (a module's printf, a sanitizer's report, the host's own log lines),
 * into the daemon's log: line by line, each prefixed with the module and
 * the host's pid, escaped by the log (log.c), cut at OUT_LINE_MAX bytes,
 * and no more than OUT_BURST lines at once and OUT_PER_SEC a second after
 * that, the rest counted and said. Before, the host wrote straight into
 * the daemon's stderr: a module could write lines that read as the
 * daemon's own, or fill the log.
 *
 * One reader thread per host process, detached: it reads until every
 * writer is gone, the host and whatever the module started that kept the
 * pipe (their output is the module's too). The modproc and the thread
 * each hold a reference; the last one frees.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "isolate.h"

#define OUT_LINE_MAX	1000	/* bytes of one line logged */
#define OUT_BURST	100	/* lines logged at once... */
#define OUT_PER_SEC	10	/* ...then this many a second */
#define OUT_QUIET_MS	1000	/* lines not shown are said after this */

struct hostout {
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	int		 refs;
	int		 done;		/* the reader saw the end */
	int		 fd;		/* the read end */
	atomic_int	 pid;		/* the host's, once forked */
	char		 module[128];
	/* the reader's own */
	char		 line[OUT_LINE_MAX + 1];
	size_t		 len, cut;	/* bytes kept and dropped of the line */
	double		 tokens;
	uint64_t	 refill_ns;
	uint64_t	 hidden;	/* lines not logged since the last said */
};

static void
unref(struct hostout *h)
{
	int	 last;

	pthread_mutex_lock(&h->mu);
	last = --h->refs == 0;
	pthread_mutex_unlock(&h->mu);
	if (!last)
		return;
	if (h->fd != -1)
		close(h->fd);
	pthread_mutex_destroy(&h->mu);
	pthread_cond_destroy(&h->cv);
	free(h);
}

static void
say_hidden(struct hostout *h)
{
	if (h->hidden == 0)
		return;
	log_warn("exit module %s: host process %d: %llu line%s of its output "
	    "not shown (more than %d at once, %d a second)", h->module,
	    atomic_load(&h->pid), (unsigned long long)h->hidden, h->hidden == 1 ? "" :
	    "s", OUT_BURST, OUT_PER_SEC);
	h->hidden = 0;
}

/*
 * Log the line gathered. The host's own lines come as "LEVEL: text"
 * (log_set_bare) and keep their level; anything else is a warning.
 */
static void
emit_line(struct hostout *h)
{
	static const char *const levels[] = { "error: ", "warning: ",
	    "info: ", "debug: " };
	const char	*text = h->line;
	uint64_t	 now = time_mono_ns();
	int		 level = CM_LOG_WARN;
	size_t		 i, n;

	h->line[h->len] = '\0';
	h->tokens += (double)(now - h->refill_ns) / 1e9 * OUT_PER_SEC;
	if (h->tokens > OUT_BURST)
		h->tokens = OUT_BURST;
	h->refill_ns = now;
	if (h->tokens < 1) {
		h->hidden++;
		goto out;
	}
	h->tokens -= 1;
	say_hidden(h);
	for (i = 0; i < nitems(levels); i++) {
		n = strlen(levels[i]);
		if (strncmp(text, levels[i], n) == 0) {
			level = (int)i;
			text += n;
			break;
		}
	}
	if (h->cut > 0)
		logmsg(level, "exit module %s: host process %d: %s [%zu more "
		    "bytes not shown]", h->module, atomic_load(&h->pid), text, h->cut);
	else
		logmsg(level, "exit module %s: host process %d: %s", h->module,
		    atomic_load(&h->pid), text);
out:
	h->len = h->cut = 0;
}

static void *
reader_main(void *arg)
{
	struct hostout	*h = arg;
	struct pollfd	 pfd = { .fd = h->fd, .events = POLLIN };
	char		 buf[4096];
	ssize_t		 n, i;

	for (;;) {
		/* Lines not shown are said when the output pauses, too. */
		if (h->hidden > 0 && poll(&pfd, 1, OUT_QUIET_MS) == 0) {
			say_hidden(h);
			continue;
		}
		n = read(h->fd, buf, sizeof(buf));
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		for (i = 0; i < n; i++) {
			if (buf[i] == '\n')
				emit_line(h);
			else if (h->len < OUT_LINE_MAX)
				h->line[h->len++] = buf[i];
			else
				h->cut++;
		}
	}
	if (h->len > 0 || h->cut > 0)
		emit_line(h);
	say_hidden(h);
	pthread_mutex_lock(&h->mu);
	h->done = 1;
	pthread_cond_broadcast(&h->cv);
	pthread_mutex_unlock(&h->mu);
	unref(h);
	return NULL;
}

struct hostout *
hostout_new(const char *module, int *wfd)
{
	pthread_attr_t	 attr;
	pthread_t	 t;
	struct hostout	*h;
	int		 fds[2], rc;

	if (pipe2(fds, O_CLOEXEC) == -1)
		return NULL;
	h = xcalloc(1, sizeof(*h));
	pthread_mutex_init(&h->mu, NULL);
	pthread_cond_init(&h->cv, NULL);
	h->refs = 2;
	h->fd = fds[0];
	h->tokens = OUT_BURST;
	h->refill_ns = time_mono_ns();
	strlcpy_cm(h->module, module, sizeof(h->module));
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	rc = pthread_create(&t, &attr, reader_main, h);
	pthread_attr_destroy(&attr);
	if (rc != 0) {
		close(fds[1]);
		h->refs = 1;
		unref(h);
		return NULL;
	}
	*wfd = fds[1];
	return h;
}

void
hostout_set_pid(struct hostout *h, pid_t pid)
{
	atomic_store(&h->pid, (int)pid);
}

void
hostout_release(struct hostout *h, int wait_ms)
{
	struct timespec	 until;

	if (h == NULL)
		return;
	if (wait_ms > 0) {
		time_deadline_in(&until, wait_ms);
		pthread_mutex_lock(&h->mu);
		while (!h->done &&
		    pthread_cond_timedwait(&h->cv, &h->mu, &until) == 0)
			;
		pthread_mutex_unlock(&h->mu);
	}
	unref(h);
}
