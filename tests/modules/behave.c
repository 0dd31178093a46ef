/*
 * behave.c - test exit modules that misbehave on purpose, one per build
 * (see meson.build):
 *
 *   Flaky.Exit (-DMODE_FLAKY): fails the first fail_times (default 2)
 *     notifies of each event, then succeeds and appends
 *     "seq=N event=0xE context=C" to output.
 *   Fail.Exit (-DMODE_FAIL): every notify fails.
 *   Slow.Exit, Lag.Exit (-DMODE_SLOW): sleeps sleep_ms (default 3000),
 *     then appends "seq=N event=0xE context=C" to output (if set).
 *   Serial.Exit / Concurrent.Exit (-DMODE_OVERLAP, THREADING): sleeps
 *     sleep_ms (default 20) and keeps the highest number of notifies in
 *     flight at once; writes "calls=N max_inflight=M" to output. In
 *     Serial.Exit `calls` is a plain counter: ThreadSanitizer reports a
 *     race if a serial module is ever called concurrently.
 *   Segv.Exit, Abort.Exit, Hang.Exit, Hog.Exit, Exit3.Exit (-DMODE_CRASH,
 *     CRASH_HOW): CERTISSUED only. On the event of a request with the
 *     attribute crash:yes it segfaults, aborts, never returns (600 s),
 *     mallocs and touches 1 MB at a time until malloc fails (then aborts,
 *     as an xmalloc would; at most hog_mb, default 8192), or exits with
 *     status 3 (first appending "crash seq=N" to output); any other
 *     event it appends "seq=N event=0xE context=C" to output. With
 *     crash = no (its section, or `exit set NAME crash no`) it spares
 *     such an event: "spared seq=N", then as any other.
 *   Chatty.Exit (-DMODE_CHATTY): at initialize appends "host=PID" (its
 *     process) to output, forks a child that sleeps 600 s in the host's
 *     process group and appends "child=PID", and starts a daemon (in a
 *     session of its own, its parent gone) that sleeps 600 s and appends
 *     "daemon=PID". On CERTISSUED it writes to stdout and stderr lines that
 *     look like certmintd's own (after a newline, with ESC sequences), a
 *     line of 5000 bytes and `flood` (default 0) more lines, logs through
 *     srv->log a message with a newline in it, and appends "seq=N"; with
 *     close_stdio = 1 it then closes fds 0, 1 and 2.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <certmint/exit.h>

#ifndef THREADING
#define THREADING CM_THREADING_SERIAL
#endif

struct behave {
	char		 output[1024];
	char		 fail_cn[256];	/* MODE_PICKY */
	int		 fail_rc;	/* MODE_PICKY: CM_E_FAIL, or fail_how */
	char		 file[1024];	/* MODE_PICKY pass_file, MODE_STUCK hold_file */
	long		 fail_times;
	long		 sleep_ms;
	long		 close_stdio;	/* MODE_CHATTY */
	int		 spare;		/* MODE_CRASH: crash = no */
	/* MODE_FLAKY: failures so far of the event being retried */
	int64_t		 seq;
	long		 failed;
	/* MODE_OVERLAP */
	atomic_int	 inflight;
	atomic_int	 max_inflight;
	unsigned long	 calls;
	pthread_mutex_t	 mu;
};

static void append(const struct behave *b, const char *line);

static long
config_long(cm_server_exit *srv, const char *key, long dflt)
{
	const char	*v;

	return srv->config_get(srv, key, &v) == CM_OK ? strtol(v, NULL, 10) :
	    dflt;
}

static int
b_init(const char *config, cm_server_exit *srv, void **state, int32_t *mask)
{
	struct behave	*b = calloc(1, sizeof(*b));
	const char	*v;

	if (b == NULL)
		return CM_E_NOMEM;
	if (srv->config_get(srv, "output", &v) == CM_OK)
		snprintf(b->output, sizeof(b->output), "%s", v);
	b->fail_times = config_long(srv, "fail_times", 2);
#ifdef MODE_SLOW
	b->sleep_ms = config_long(srv, "sleep_ms", 3000);
	*mask = CM_EXITEVENT_CERTISSUED | CM_EXITEVENT_CRLISSUED;
#elif defined(MODE_OVERLAP)
	b->sleep_ms = config_long(srv, "sleep_ms", 20);
	*mask = CM_EXITEVENT_CERTISSUED;
#elif defined(MODE_FAIL)
	*mask = CM_EXITEVENT_CERTISSUED;
#elif defined(MODE_PICKY)
	snprintf(b->fail_cn, sizeof(b->fail_cn), "fail");
	if (srv->config_get(srv, "fail_cn", &v) == CM_OK)
		snprintf(b->fail_cn, sizeof(b->fail_cn), "%s", v);
	if (srv->config_get(srv, "pass_file", &v) == CM_OK)
		snprintf(b->file, sizeof(b->file), "%s", v);
	/* fail_how = permanent | suspend: SDK 1.1's answers; sfalse. */
	b->fail_rc = CM_E_FAIL;
	if (srv->config_get(srv, "fail_how", &v) == CM_OK)
		b->fail_rc = strcmp(v, "permanent") == 0 ? CM_E_PERMANENT :
		    strcmp(v, "suspend") == 0 ? CM_E_SUSPEND :
		    strcmp(v, "sfalse") == 0 ? CM_S_FALSE : CM_E_FAIL;
	*mask = CM_EXITEVENT_CERTISSUED;
#elif defined(MODE_STUCK)
	if (srv->config_get(srv, "hold_file", &v) == CM_OK)
		snprintf(b->file, sizeof(b->file), "%s", v);
	*mask = CM_EXITEVENT_ALL;
#elif defined(MODE_POOL)
	b->sleep_ms = config_long(srv, "sleep_ms", 20);
	*mask = CM_EXITEVENT_CERTISSUED;
#elif defined(MODE_CRASH)
	b->sleep_ms = config_long(srv, "hog_mb", 8192);
	b->spare = srv->config_get(srv, "crash", &v) == CM_OK &&
	    strcmp(v, "no") == 0;
	*mask = CM_EXITEVENT_CERTISSUED;
#elif defined(MODE_CHATTY)
	{
		struct timespec	 ts = { 600, 0 };
		char		 line[64];
		pid_t		 pid;

		b->fail_times = config_long(srv, "flood", 0);
		b->close_stdio = config_long(srv, "close_stdio", 0);
		snprintf(line, sizeof(line), "host=%d\n", (int)getpid());
		append(b, line);
		if ((pid = fork()) == 0) {
			nanosleep(&ts, NULL);
			_exit(0);
		}
		snprintf(line, sizeof(line), "child=%d\n", (int)pid);
		append(b, line);
		/* A daemon: a session of its own, its parent gone. */
		if ((pid = fork()) == 0) {
			setsid();
			if (fork() == 0) {
				snprintf(line, sizeof(line), "daemon=%d\n",
				    (int)getpid());
				append(b, line);
				nanosleep(&ts, NULL);
			}
			_exit(0);
		}
		waitpid(pid, NULL, 0);
	}
	*mask = CM_EXITEVENT_CERTISSUED;
#else
	*mask = CM_EXITEVENT_ALL;
#endif
	b->seq = -1;
	pthread_mutex_init(&b->mu, NULL);
	*state = b;
	return CM_OK;
}

static void __attribute__((unused))
append(const struct behave *b, const char *line)
{
	int	 fd;

	if (b->output[0] == '\0')
		return;
	if ((fd = open(b->output, O_WRONLY | O_APPEND | O_CREAT, 0644)) == -1)
		return;
	if (write(fd, line, strlen(line)) == -1)
		(void)0;
	close(fd);
}

static void __attribute__((unused))
sleep_ms(long ms)
{
	struct timespec	 ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1)
		;
}

static int64_t __attribute__((unused))
mono_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#ifdef MODE_CRASH
/* Not a constant null: the compiler would make it a trap (SIGILL). */
static int *volatile nowhere;
static char *volatile hogged;	/* the last block: kept, a leak */

static void __attribute__((no_sanitize("undefined")))
crash(const struct behave *b)
{
	long	 i;
	char	*p;

#if CRASH_HOW == 1
	(void)b;
	(void)i;
	(void)p;
	*nowhere = 1;
#elif CRASH_HOW == 2
	(void)b;
	(void)i;
	(void)p;
	abort();
#elif CRASH_HOW == 3
	(void)b;
	(void)p;
	for (i = 0; i < 600; i++)
		sleep_ms(1000);
#elif CRASH_HOW == 4
	for (i = 0; i < b->sleep_ms; i++) {
		if ((p = malloc(1 << 20)) == NULL)
			abort();
		memset(p, (int)i, 1 << 20);
		hogged = p;
	}
#else
	(void)b;
	(void)i;
	(void)p;
	exit(3);
#endif
}
#endif

static int
b_notify(void *state, int32_t event, int64_t context, cm_server_exit *srv)
{
	struct behave	*b = state;
	cm_value	 v;
	char		 line[256];
	int64_t		 seq = 0;

	if (srv->get_request_property(srv, "EventSequence", CM_PROPTYPE_LONG,
	    &v) == CM_OK)
		seq = v.l;
#if defined(MODE_FAIL)
	(void)b;
	(void)line;
	(void)seq;
	return CM_E_FAIL;
#elif defined(MODE_FLAKY)
	if (seq != b->seq) {
		b->seq = seq;
		b->failed = 0;
	}
	if (b->failed < b->fail_times) {
		b->failed++;
		return CM_E_FAIL;
	}
	snprintf(line, sizeof(line), "seq=%" PRId64 " event=0x%x context=%"
	    PRId64 "\n", seq, (unsigned)event, context);
	append(b, line);
	return CM_OK;
#elif defined(MODE_PICKY)
	{
		const char	*cn = "-";
		int		 fail;

		memset(&v, 0, sizeof(v));
		if (srv->set_context(srv, context) == CM_OK &&
		    srv->get_certificate_property(srv, "Subject.CommonName",
		    CM_PROPTYPE_STRING, &v) == CM_OK && v.data != NULL)
			cn = v.data;
		fail = strncmp(cn, b->fail_cn, strlen(b->fail_cn)) == 0 &&
		    (b->file[0] == '\0' || access(b->file, F_OK) == -1);
		snprintf(line, sizeof(line), "seq=%" PRId64 " context=%" PRId64
		    " cn=%s ms=%" PRId64 " result=%s\n", seq, context, cn,
		    mono_ms(), fail ? "fail" : "ok");
		append(b, line);
		if (fail && b->fail_rc != CM_E_FAIL && b->fail_rc != CM_S_FALSE)
			srv->log(srv, CM_LOG_ERROR, "picky refuses CN %s for "
			    "good", cn);
		return fail ? b->fail_rc : CM_OK;
	}
#elif defined(MODE_STUCK)
	{
		long	 i;

		snprintf(line, sizeof(line), "enter seq=%" PRId64 " event=0x%x\n",
		    seq, (unsigned)event);
		append(b, line);
		for (i = 0; i < 120 * 50 && b->file[0] != '\0' &&
		    access(b->file, F_OK) == 0; i++)
			sleep_ms(20);
		snprintf(line, sizeof(line), "done seq=%" PRId64 " event=0x%x\n",
		    seq, (unsigned)event);
		append(b, line);
		return CM_OK;
	}
#elif defined(MODE_POOL)
	sleep_ms(b->sleep_ms);
	snprintf(line, sizeof(line), "seq=%" PRId64 "\n", seq);
	append(b, line);
	return CM_OK;
#elif defined(MODE_CRASH)
	{
		const char	*attr = NULL;

		if (srv->set_context(srv, context) == CM_OK &&
		    srv->get_request_attribute(srv, "crash", &attr) == CM_OK &&
		    attr != NULL && strcmp(attr, "yes") == 0) {
			snprintf(line, sizeof(line), "%s seq=%" PRId64 "\n",
			    b->spare ? "spared" : "crash", seq);
			append(b, line);
			if (!b->spare)
				crash(b);
		}
		snprintf(line, sizeof(line), "seq=%" PRId64 " event=0x%x "
		    "context=%" PRId64 "\n", seq, (unsigned)event, context);
		append(b, line);
		return CM_OK;
	}
#elif defined(MODE_CHATTY)
	{
		static char	 big[5001];
		long		 i;

		printf("chatty on stdout\n2026-01-01T00:00:00Z certmintd[1]: "
		    "error: FORGED on stdout\n");
		fflush(stdout);
		fprintf(stderr, "\x1b[31mred\x1b[0m FORGED on stderr\n");
		memset(big, 'x', sizeof(big) - 1);
		fprintf(stderr, "%s\n", big);
		for (i = 0; i < b->fail_times; i++)
			fprintf(stderr, "flood line %ld\n", i);
		srv->log(srv, CM_LOG_INFO, "logged\n2026-01-01T00:00:00Z "
		    "certmintd[1]: error: FORGED by log");
		snprintf(line, sizeof(line), "seq=%" PRId64 "\n", seq);
		append(b, line);
		if (b->close_stdio) {
			close(0);
			close(1);
			close(2);
		}
		return CM_OK;
	}
#elif defined(MODE_SLOW)
	sleep_ms(b->sleep_ms);
	snprintf(line, sizeof(line), "seq=%" PRId64 " event=0x%x context=%"
	    PRId64 "\n", seq, (unsigned)event, context);
	append(b, line);
	return CM_OK;
#else
	{
		int	 now, max;
		char	 tmp[1100];
		int	 fd;

		now = atomic_fetch_add(&b->inflight, 1) + 1;
		max = atomic_load(&b->max_inflight);
		while (now > max &&
		    !atomic_compare_exchange_weak(&b->max_inflight, &max, now))
			;
#if THREADING == CM_THREADING_CONCURRENT
		pthread_mutex_lock(&b->mu);	/* calls overlap by design */
		b->calls++;
		pthread_mutex_unlock(&b->mu);
#else
		b->calls++;	/* deliberately unprotected, see above */
#endif
		sleep_ms(b->sleep_ms);
		atomic_fetch_sub(&b->inflight, 1);
		pthread_mutex_lock(&b->mu);
		snprintf(line, sizeof(line), "calls=%lu max_inflight=%d\n",
		    b->calls, atomic_load(&b->max_inflight));
		snprintf(tmp, sizeof(tmp), "%s.tmp", b->output);
		if (b->output[0] != '\0' &&
		    (fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644)) != -1) {
			if (write(fd, line, strlen(line)) == -1)
				(void)0;
			close(fd);
			rename(tmp, b->output);
		}
		pthread_mutex_unlock(&b->mu);
		(void)seq;
		return CM_OK;
	}
#endif
}

static const char *
b_description(void *state)
{
	return "test module (" MODNAME ")";
}

static void
b_shutdown(void *state)
{
	struct behave	*b = state;

	pthread_mutex_destroy(&b->mu);
	free(b);
}

/*
 * A manage module, so that the admin tests have something to call into:
 * Name, configure (reports OK; a refresh of a crash module rereads
 * crash) and settable properties: sleep_ms, and crash (yes or no) in the
 * crash modules.
 */
static int
b_get_property(void *state, const char *name, int32_t flags, cm_value *out)
{
	if (strcasecmp(name, CM_CMM_PROP_NAME) != 0)
		return CM_S_FALSE;
	out->type = CM_PROPTYPE_STRING;
	out->data = MODNAME;
	out->len = strlen(MODNAME);
	return CM_OK;
}

static int
b_set_property(void *state, const char *name, int32_t flags,
    const cm_value *value)
{
	struct behave	*b = state;

	if (value->type != CM_PROPTYPE_STRING || value->data == NULL)
		return CM_E_INVALIDARG;
#ifdef MODE_CRASH
	if (strcasecmp(name, "crash") == 0) {
		if (strcmp(value->data, "yes") != 0 &&
		    strcmp(value->data, "no") != 0)
			return CM_E_INVALIDARG;
		b->spare = strcmp(value->data, "no") == 0;
		return CM_OK;
	}
#endif
	if (strcasecmp(name, "sleep_ms") != 0)
		return CM_S_FALSE;
	b->sleep_ms = strtol(value->data, NULL, 10);
	return CM_OK;
}

static int
b_configure(void *state, cm_server_exit *srv, int32_t flags, char *report,
    size_t size)
{
#ifdef MODE_CRASH
	struct behave	*b = state;
	const char	*v;

	/* A refresh rereads crash, as initialize read it. */
	if (flags & CM_CMM_REFRESHONLY) {
		b->spare = srv->config_get(srv, "crash", &v) == CM_OK &&
		    strcmp(v, "no") == 0;
		snprintf(report, size, "%s: crash = %s", MODNAME,
		    b->spare ? "no" : "yes");
		return CM_OK;
	}
#endif
	snprintf(report, size, "%s: nothing to configure", MODNAME);
	return CM_OK;
}

static const cm_manage_module b_manage = {
	sizeof(cm_manage_module), b_get_property, b_set_property, b_configure
};

static const cm_manage_module *
b_get_manage(void *state)
{
	return &b_manage;
}

static const struct cm_exit desc = {
	CM_EXIT_MAGIC, CM_ABI_MAJOR, CM_ABI_MINOR, sizeof(struct cm_exit),
	MODNAME, THREADING,
	b_init, b_notify, b_description, b_get_manage, b_shutdown
};

CM_EXIT_MODULE(desc)
