/*
 * quarantine.c - which module crashed the process. A fatal signal
 * (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT) in a thread that is inside a
 * module's notify writes the module's name and the event to the crash
 * file (certmintd: next to the database, read at the next start by the
 * exit host so that the event cannot crash it again and again) and to
 * stderr, then dies of the signal as it would have. Everything the
 * handler does is async-signal-safe: write(2) of what it formats itself.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "exit_host.h"
#include "host.h"

/* Set by deliver_once (and the module host) around each notify. */
_Thread_local struct quarantine_rec quarantine_cur;

static int	 crash_fd = -1;
static const char *crash_prog = "certmintd";

static const int fatal_signals[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT };
/* The actions before ours, for a crash outside any module (a sanitizer's). */
static struct sigaction old_actions[nitems(fatal_signals)];
static int	 installed;

static const char *
fatal_name(int sig)
{
	switch (sig) {
	case SIGSEGV:
		return "SIGSEGV";
	case SIGBUS:
		return "SIGBUS";
	case SIGILL:
		return "SIGILL";
	case SIGFPE:
		return "SIGFPE";
	case SIGABRT:
		return "SIGABRT";
	default:
		return "SIG?";
	}
}

/* Append s to buf (of size len) at *o; never past the end. */
static void
add_str(char *buf, size_t len, size_t *o, const char *s)
{
	while (*s != '\0' && *o + 1 < len)
		buf[(*o)++] = *s++;
}

static void
add_int(char *buf, size_t len, size_t *o, int64_t v)
{
	char		 tmp[24];
	size_t		 n = 0;
	uint64_t	 u = v < 0 ? -(uint64_t)v : (uint64_t)v;

	do {
		tmp[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	if (v < 0)
		tmp[n++] = '-';
	while (n > 0 && *o + 1 < len)
		buf[(*o)++] = tmp[--n];
}

static void
on_fatal(int sig)
{
	struct quarantine_rec *r = &quarantine_cur;
	char		 line[512];
	size_t		 o = 0;
	int		 saved = errno;

	if (r->module != NULL) {
		if (crash_fd != -1) {
			/* The crash file: "module<TAB>seq<TAB>SIGNAME\n". */
			add_str(line, sizeof(line), &o, r->module);
			add_str(line, sizeof(line), &o, "\t");
			add_int(line, sizeof(line), &o, r->seq);
			add_str(line, sizeof(line), &o, "\t");
			add_str(line, sizeof(line), &o, fatal_name(sig));
			add_str(line, sizeof(line), &o, "\n");
			(void)fd_write_all(crash_fd, line, o);
			(void)fdatasync(crash_fd);
		}
		o = 0;
		add_str(line, sizeof(line), &o, crash_prog);
		add_str(line, sizeof(line), &o, ": exit module ");
		add_str(line, sizeof(line), &o, r->module);
		add_str(line, sizeof(line), &o, " crashed on event ");
		add_int(line, sizeof(line), &o, r->seq);
		add_str(line, sizeof(line), &o, " (");
		add_str(line, sizeof(line), &o, fatal_name(sig));
		add_str(line, sizeof(line), &o, ")\n");
		(void)fd_write_all(STDERR_FILENO, line, o);
	}
	errno = saved;
	/*
	 * Not in a module: the action we replaced (a sanitizer's report)
	 * takes the fault when it happens again on return.
	 */
	if (r->module == NULL && sig != SIGABRT) {
		for (o = 0; o < nitems(fatal_signals); o++)
			if (fatal_signals[o] == sig &&
			    (old_actions[o].sa_flags & SA_SIGINFO ||
			    (old_actions[o].sa_handler != SIG_DFL &&
			    old_actions[o].sa_handler != SIG_IGN))) {
				sigaction(sig, &old_actions[o], NULL);
				return;
			}
	}
	/* SA_RESETHAND made the action the default one again: die of it. */
	signal(sig, SIG_DFL);
	raise(sig);
}

int
quarantine_install(int fd, const char *prog)
{
	struct sigaction sa;
	size_t		 i;

	crash_fd = fd;
	if (prog != NULL)
		crash_prog = prog;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_fatal;
	sa.sa_flags = SA_ONSTACK | SA_RESETHAND | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < nitems(fatal_signals); i++)
		if (sigaction(fatal_signals[i], &sa, installed ? NULL :
		    &old_actions[i]) == -1)
			return -1;
	installed = 1;
	return 0;
}

/*
 * Give this thread an alternate signal stack, so that a module that
 * overflowed its stack still gets its crash recorded. Returns the stack to
 * pass to quarantine_thread_done at the thread's end, or NULL.
 */
void *
quarantine_thread_init(void)
{
	stack_t		 ss;
	size_t		 len = 64 * 1024;

	memset(&ss, 0, sizeof(ss));
	if ((ss.ss_sp = malloc(len)) == NULL)
		return NULL;
	ss.ss_size = len;
	if (sigaltstack(&ss, NULL) == -1) {
		free(ss.ss_sp);
		return NULL;
	}
	return ss.ss_sp;
}

void
quarantine_thread_done(void *stack)
{
	stack_t		 ss;

	if (stack == NULL)
		return;
	memset(&ss, 0, sizeof(ss));
	ss.ss_flags = SS_DISABLE;
	(void)sigaltstack(&ss, NULL);
	free(stack);
}

/*
 * Deliver ev, retrying with backoff. Returns 0 when delivered, 1 when it
 * was dead-lettered, -1 when the slot is stopping (the event stays queued).
 * A delivery is counted in *local when not NULL (a pool worker adds its
 * count to the slot's once per chunk: one shared counter per event cost
 * more than the no-op module itself), else in s->delivered.
 */
int
write_crash(struct store *st, void *arg)
{
	return store_exit_crash_add(st, arg);
}

struct suspend_write {
	const char	*module;
	int64_t		 since;
	const char	*reason;
};

static int
write_suspend(struct store *st, void *arg)
{
	struct suspend_write *w = arg;

	return store_exit_suspend(st, w->module, w->since, w->reason);
}

int
write_resume(struct store *st, void *arg)
{
	return store_exit_resume(st, arg);
}

/*
 * The short form of a crash's cause for `exit list`: "SIGSEGV", "exit
 * status 3", "deadline 5000 ms".
 */
static void
cause_short(const char *cause, char *buf, size_t len)
{
	const char	*p;
	int		 n;

	if ((p = strstr(cause, "SIG")) != NULL)
		snprintf(buf, len, "%.*s", (int)strcspn(p, " ,;)"), p);
	else if ((p = strstr(cause, "status ")) != NULL)
		snprintf(buf, len, "exit %.40s", p);
	else if (sscanf(cause, "killed after %d ms deadline", &n) == 1)
		snprintf(buf, len, "deadline %d ms", n);
	else
		snprintf(buf, len, "%s", cause);
}

/*
 * Remember a crash (call with h->mu held). Returns 1 when it makes the
 * module suspended: suspend_after counted crashes in crash_window_s.
 */
int
crash_add_locked(struct exit_slot *s, const struct crash_rec *c)
{
	struct exit_host *h = s->host;
	char		 shortc[200];
	size_t		 i;
	int		 n = 0;

	if (s->ncrashes == CRASHES_MAX) {
		memmove(s->crashes, s->crashes + 1, (CRASHES_MAX - 1) *
		    sizeof(*s->crashes));
		s->ncrashes--;
	}
	if (s->crashes == NULL)
		s->crashes = xcalloc(CRASHES_MAX, sizeof(*s->crashes));
	s->crashes[s->ncrashes++] = *c;
	atomic_store(&s->has_crashes, 1);
	if (atomic_load(&s->suspended))
		return 0;
	for (i = 0; i < s->ncrashes; i++)
		if (s->crashes[i].counted &&
		    s->crashes[i].time > c->time - h->crash_window_s)
			n++;
	if (n < h->suspend_after)
		return 0;
	cause_short(c->cause, shortc, sizeof(shortc));
	/* The crashes may be on several events: the last one's is named. */
	if (c->seq > 0)
		snprintf(s->suspend_reason, sizeof(s->suspend_reason), "crashed "
		    "%d× in %d s, the last on event %" PRId64 ": %.150s", n,
		    h->crash_window_s, c->seq, shortc);
	else
		snprintf(s->suspend_reason, sizeof(s->suspend_reason), "crashed "
		    "%d× in %d s, the last: %.150s", n, h->crash_window_s, shortc);
	s->suspended_since = c->time;
	atomic_store(&s->suspended, 1);
	return 1;
}

/* Persist the suspension just decided, say so, and end the host. */
void
suspend_now(struct exit_slot *s)
{
	struct suspend_write w;
	char		 reason[256];

	pthread_mutex_lock(&s->host->mu);
	snprintf(reason, sizeof(reason), "%s", s->suspend_reason);
	w.since = s->suspended_since;
	pthread_mutex_unlock(&s->host->mu);
	w.module = s->name;
	w.reason = reason;
	if (ca_write(s->host->ca, write_suspend, &w) != 0)
		log_err("exit module %s: cannot record its suspension", s->name);
	log_err("exit module %s suspended: %s; its events queue until "
	    "`certmint exit resume %s`", s->name, reason, s->name);
	if (s->isolated)
		modproc_kill(s->proc, MODPROC_SUSPENDED);
}

/*
 * A crash of the module during event seq (0: while starting again):
 * record it, and suspend the module if it crashed too often. counted is 0
 * for a concurrent host's other calls that died with it.
 */
void
crash_record(struct exit_slot *s, int64_t seq, const char *cause,
    int counted)
{
	struct crash_rec c;
	struct db_exit_crash dc;
	int		 suspend;

	memset(&c, 0, sizeof(c));
	c.seq = seq;
	c.time = time_now();
	c.counted = counted;
	snprintf(c.cause, sizeof(c.cause), "%.159s", cause);
	pthread_mutex_lock(&s->host->mu);
	s->failures++;
	snprintf(s->last_error, sizeof(s->last_error), "event %" PRId64 ": %.200s",
	    seq, cause);
	s->last_error_time = c.time;
	suspend = crash_add_locked(s, &c);
	pthread_mutex_unlock(&s->host->mu);
	dc.module = s->name;
	dc.seq = seq;
	dc.time = c.time;
	dc.cause = c.cause;
	dc.counted = counted;
	if (ca_write(s->host->ca, write_crash, &dc) != 0)
		log_err("exit module %s: cannot record its crash", s->name);
	if (suspend)
		suspend_now(s);
}

/*
 * How many times the module crashed on event seq, with the last cause in
 * cause. Cheap when it never crashed.
 */
int
crash_count(struct exit_slot *s, int64_t seq, char *cause, size_t len)
{
	size_t	 i;
	int	 n = 0;

	if (!atomic_load_explicit(&s->has_crashes, memory_order_relaxed))
		return 0;
	pthread_mutex_lock(&s->host->mu);
	for (i = 0; i < s->ncrashes; i++)
		if (s->crashes[i].seq == seq) {
			n++;
			snprintf(cause, len, "%s", s->crashes[i].cause);
		}
	pthread_mutex_unlock(&s->host->mu);
	return n;
}
