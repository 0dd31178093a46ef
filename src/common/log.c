/*
 * log.c - messages to stderr, one line each, prefixed with time, program and
 * level. Thread-safe: one fprintf per line.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

static const char	*log_prog = "certmint";
static int		 log_level = CM_LOG_INFO;

static const char *const level_names[] = { "error", "warning", "info", "debug" };

void
log_init(const char *progname, int level)
{
	log_prog = progname;
	log_level = level;
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
vlogmsg(int level, const char *fmt, va_list ap)
{
	char	 msg[2048], ts[32];

	if (level > log_level)
		return;
	if (level < 0)
		level = 0;
	if (level > CM_LOG_DEBUG)
		level = CM_LOG_DEBUG;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	time_format(time_now(), ts);
	fprintf(stderr, "%s %s[%d]: %s: %s\n", ts, log_prog, (int)getpid(),
	    level_names[level], msg);
}

void
logmsg(int level, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlogmsg(level, fmt, ap);
	va_end(ap);
}
