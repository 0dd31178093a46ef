/*
 * log.c - messages to stderr, one line each, prefixed with time, program and
 * level, control characters escaped (text_escape). Thread-safe: one
 * fprintf per line, under log_mu.
 *
 * Repeated errors and warnings are rate-limited: a full disk once made
 * ~5,500 identical lines in 4 s (issue 11), burying the line that said
 * what was wrong. The same line (level and text) prints LOG_BURST times
 * in a window of LOG_WINDOW_NS; the rest are counted, and while they go
 * on one line a window says how many there were. A window with none ends
 * the repetition: the line prints again the next time it comes.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

#define LOG_MSG_MAX	2048
#define LOG_BURST	5
#define LOG_WINDOW_NS	(10 * 1000000000ull)
#define LOG_SLOTS	16	/* distinct lines followed at once */

/* A line seen lately. */
struct repeat {
	int		 used;
	int		 level;
	int		 printed;	/* times printed in this window */
	uint64_t	 count;		/* times counted, not printed, in it */
	uint64_t	 since;		/* the window's start */
	uint64_t	 last;		/* when it last came, in lines (LRU) */
	char		 msg[LOG_MSG_MAX];
};

static const char	*log_prog = "certmint";
static int		 log_level = CM_LOG_INFO;
static int		 log_bare;
static pthread_mutex_t	 log_mu = PTHREAD_MUTEX_INITIALIZER;
static struct repeat	 repeats[LOG_SLOTS];
static uint64_t		(*log_clock)(void) = time_mono_ns;
static uint64_t		 log_lines;	/* lines logged, for repeats' LRU */

static const char *const level_names[] = { "error", "warning", "info", "debug" };

void
log_init(const char *progname, int level)
{
	log_prog = progname;
	log_level = level;
}

void
log_set_bare(int on)
{
	log_bare = on;
}

void
log_set_level(int level)
{
	log_level = level;
}

int
log_get_level(void)
{
	return log_level;
}

void
log_set_clock(uint64_t (*now_ns)(void))
{
	pthread_mutex_lock(&log_mu);
	log_clock = now_ns != NULL ? now_ns : time_mono_ns;
	memset(repeats, 0, sizeof(repeats));
	pthread_mutex_unlock(&log_mu);
}

/* Print one line. Under log_mu. */
static void
emit(int level, const char *msg)
{
	char	 ts[32];

	if (log_bare) {
		fprintf(stderr, "%s: %s\n", level_names[level], msg);
		return;
	}
	time_format(time_now(), ts);
	fprintf(stderr, "%s %s[%d]: %s: %s\n", ts, log_prog, (int)getpid(),
	    level_names[level], msg);
}

/* Say how many times r's line was not printed, and count anew. */
static void
emit_summary(struct repeat *r, uint64_t now)
{
	char	 line[LOG_MSG_MAX + 96];

	snprintf(line, sizeof(line), "%s [repeated %llu times in %llu s, "
	    "not shown]", r->msg, (unsigned long long)r->count,
	    (unsigned long long)((now - r->since + 999999999u) / 1000000000u));
	emit(r->level, line);
	r->count = 0;
	r->since = now;
}

/*
 * End the windows that are over: a line counted in one gets its summary
 * and stays quiet for another window; one that did not come is
 * forgotten. Under log_mu.
 */
static void
repeats_expire(uint64_t now)
{
	struct repeat	*r;

	for (r = repeats; r < repeats + LOG_SLOTS; r++) {
		if (!r->used || now - r->since < LOG_WINDOW_NS)
			continue;
		if (r->count > 0) {
			emit_summary(r, now);
			r->printed = LOG_BURST;
		} else
			r->used = 0;
	}
}

/*
 * Whether to print msg now: 1, or 0 when it was counted instead. Under
 * log_mu.
 */
static int
repeats_admit(int level, const char *msg, uint64_t now)
{
	struct repeat	*r, *slot = NULL;

	log_lines++;
	for (r = repeats; r < repeats + LOG_SLOTS; r++) {
		if (r->used && r->level == level && strcmp(r->msg, msg) == 0) {
			r->last = log_lines;
			if (r->printed < LOG_BURST) {
				r->printed++;
				return 1;
			}
			r->count++;
			return 0;
		}
		if (slot == NULL || !r->used ||
		    (slot->used && r->last < slot->last))
			slot = r;
	}
	if (slot->used && slot->count > 0)
		emit_summary(slot, now);
	slot->used = 1;
	slot->level = level;
	slot->printed = 1;
	slot->count = 0;
	slot->since = now;
	slot->last = log_lines;
	strlcpy_cm(slot->msg, msg, sizeof(slot->msg));
	return 1;
}

void
log_flush(void)
{
	struct repeat	*r;
	uint64_t	 now;

	pthread_mutex_lock(&log_mu);
	now = log_clock();
	for (r = repeats; r < repeats + LOG_SLOTS; r++)
		if (r->used && r->count > 0)
			emit_summary(r, now);
	pthread_mutex_unlock(&log_mu);
}

/*
 * limited: repeats are counted at every level, not only at errors. kind,
 * when not NULL, is what counts as a repeat instead of the line itself,
 * and what the summary of the repeats says.
 */
static void
vlog_limited(int level, int limited, const char *kind, const char *fmt,
    va_list ap)
{
	char	 raw[LOG_MSG_MAX], msg[LOG_MSG_MAX], k[LOG_MSG_MAX];
	uint64_t now;

	if (level > log_level)
		return;
	if (level < 0)
		level = 0;
	if (level > CM_LOG_DEBUG)
		level = CM_LOG_DEBUG;
	vsnprintf(raw, sizeof(raw), fmt, ap);
	/*
	 * One line, whatever the text: what a module, a requester or a
	 * file said cannot end the line and write one of its own.
	 */
	text_escape(raw, msg, sizeof(msg));
	if (kind != NULL)
		text_escape(kind, k, sizeof(k));	/* its summary's text */
	pthread_mutex_lock(&log_mu);
	now = log_clock();
	repeats_expire(now);
	/* Only errors and warnings repeat for want of an operator. */
	if ((!limited && level > CM_LOG_WARN) || repeats_admit(level,
	    kind != NULL ? k : msg, now))
		emit(level, msg);
	pthread_mutex_unlock(&log_mu);
}

void
vlogmsg(int level, const char *fmt, va_list ap)
{
	vlog_limited(level, 0, NULL, fmt, ap);
}

void
logmsg_limited(int level, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog_limited(level, 1, NULL, fmt, ap);
	va_end(ap);
}

void
logmsg_limited_as(int level, const char *kind, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog_limited(level, 1, kind, fmt, ap);
	va_end(ap);
}

void
logmsg(int level, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlogmsg(level, fmt, ap);
	va_end(ap);
}

/* Copies of fds 0-2 as certmintd started with them (stdio_keep). */
static int	 stdio_saved[3] = { -1, -1, -1 };

void
stdio_keep(void)
{
	int	 fd;

	(void)stdio_restore();	/* started without them: /dev/null */
	for (fd = 0; fd <= 2; fd++)
		if (stdio_saved[fd] == -1)
			stdio_saved[fd] = fcntl(fd, F_DUPFD_CLOEXEC, 3);
}

int
stdio_restore(void)
{
	int	 fd, nfd, gone = 0;

	for (fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) != -1 || errno != EBADF)
			continue;
		gone |= 1 << fd;
		if (stdio_saved[fd] != -1 && dup2(stdio_saved[fd], fd) == fd)
			continue;
		if ((nfd = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY)) !=
		    -1 && nfd != fd) {
			(void)dup2(nfd, fd);
			close(nfd);
		}
	}
	return gone;
}
