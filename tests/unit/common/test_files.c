/*
 * Unit tests for src/common's file handling (issue 11 §1): the log's
 * limit on repeated lines, new files that nothing planted is written
 * through, and OpenSSH's rule for the files certmintd trusts.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/common.h"

#define SEC	1000000000ull

static uint64_t	 fake_now;
static int	 saved_stderr = -1;
static FILE	*captured;

static uint64_t
fake_clock(void)
{
	return fake_now;
}

/* Send stderr (the log) to a temporary file until capture_end. */
static void
capture_begin(void)
{
	fflush(stderr);
	assert_non_null(captured = tmpfile());
	assert_true((saved_stderr = dup(STDERR_FILENO)) != -1);
	assert_int_equal(dup2(fileno(captured), STDERR_FILENO), STDERR_FILENO);
}

/* What the log printed since capture_begin (caller frees). */
static char *
capture_end(void)
{
	char	*text;
	long	 n;

	fflush(stderr);
	assert_int_equal(dup2(saved_stderr, STDERR_FILENO), STDERR_FILENO);
	close(saved_stderr);
	assert_true((n = ftell(captured)) >= 0);
	assert_non_null(text = calloc(1, (size_t)n + 1));
	rewind(captured);
	assert_int_equal(fread(text, 1, (size_t)n, captured), (size_t)n);
	fclose(captured);
	return text;
}

/* Lines of text containing what and not a summary. */
static int
lines_with(const char *text, const char *what)
{
	const char	*p, *eol;
	int		 n = 0;

	for (p = text; *p != '\0'; p = *eol ? eol + 1 : eol) {
		if ((eol = strchr(p, '\n')) == NULL)
			eol = p + strlen(p);
		if (memmem(p, (size_t)(eol - p), what, strlen(what)) != NULL &&
		    memmem(p, (size_t)(eol - p), "[repeated", 9) == NULL)
			n++;
	}
	return n;
}

/* The sum of K over the "[repeated K times" summaries of lines with what. */
static unsigned long long
repeated_with(const char *text, const char *what, int *summaries)
{
	const char	*p, *eol, *r;
	unsigned long long sum = 0;

	*summaries = 0;
	for (p = text; *p != '\0'; p = *eol ? eol + 1 : eol) {
		if ((eol = strchr(p, '\n')) == NULL)
			eol = p + strlen(p);
		if (memmem(p, (size_t)(eol - p), what, strlen(what)) == NULL ||
		    (r = memmem(p, (size_t)(eol - p), "[repeated ", 10)) == NULL)
			continue;
		sum += strtoull(r + 10, NULL, 10);
		(*summaries)++;
	}
	return sum;
}

/*
 * A line repeated: 5 printed, the rest counted and summarized once a
 * window while it goes on; a quiet window ends it.
 */
static void
test_log_repeat(void **state)
{
	char	*text;
	int	 i, n;

	(void)state;
	fake_now = 1 * SEC;
	log_set_clock(fake_clock);
	capture_begin();
	for (i = 0; i < 100; i++)
		log_err("%s: the disk is full", "certmint.db");
	log_err("another error");
	fake_now += 10 * SEC;
	log_info("a window later");
	text = capture_end();
	assert_int_equal(lines_with(text, "certmint.db: the disk is full"), 5);
	assert_int_equal(lines_with(text, "another error"), 1);
	assert_int_equal(repeated_with(text, "the disk is full", &n), 95);
	assert_int_equal(n, 1);
	assert_non_null(strstr(text, "error: certmint.db: the disk is full "
	    "[repeated 95 times in 10 s, not shown]"));
	/* The summary comes before the line that ended the window. */
	assert_true(strstr(text, "[repeated 95") < strstr(text,
	    "a window later"));
	free(text);

	/* Still repeating: no line, one summary a window. */
	capture_begin();
	for (i = 0; i < 50; i++)
		log_err("%s: the disk is full", "certmint.db");
	fake_now += 5 * SEC;
	log_err("%s: the disk is full", "certmint.db");
	fake_now += 5 * SEC;
	for (i = 0; i < 9; i++)
		log_err("%s: the disk is full", "certmint.db");
	fake_now += 10 * SEC;
	log_flush();
	text = capture_end();
	assert_int_equal(lines_with(text, "the disk is full"), 0);
	assert_int_equal(repeated_with(text, "the disk is full", &n), 60);
	assert_int_equal(n, 2);
	free(text);

	/* A window without it: the next one prints again. */
	fake_now += 10 * SEC;
	capture_begin();
	log_info("quiet");
	fake_now += 10 * SEC;
	log_err("%s: the disk is full", "certmint.db");
	text = capture_end();
	assert_int_equal(lines_with(text, "the disk is full"), 1);
	assert_int_equal(repeated_with(text, "the disk is full", &n), 0);
	free(text);

	/*
	 * Info lines repeat in full, but for those anyone on the network can
	 * cause (logmsg_limited): a flood of failed TLS handshakes.
	 */
	fake_now += 20 * SEC;
	capture_begin();
	for (i = 0; i < 20; i++)
		log_info("issued request %d", 1);
	for (i = 0; i < 1000; i++)
		logmsg_limited(CM_LOG_INFO, "http: a TLS handshake failed");
	fake_now += 10 * SEC;
	log_flush();
	text = capture_end();
	assert_int_equal(lines_with(text, "issued request 1"), 20);
	assert_int_equal(lines_with(text, "a TLS handshake failed"), 5);
	assert_int_equal(repeated_with(text, "a TLS handshake failed", &n),
	    995);
	free(text);

	/*
	 * Lines that differ by the sender (its address) counted as one kind
	 * (logmsg_limited_as): a sender with many addresses cannot flood;
	 * the summary names the kind, escaped as any line is.
	 */
	fake_now += 20 * SEC;
	capture_begin();
	for (i = 0; i < 300; i++)
		logmsg_limited_as(CM_LOG_INFO, "http: refused\nforged: why",
		    "http: a submission from 10.0.%d.%d refused", i / 256,
		    i % 256);
	fake_now += 10 * SEC;
	log_flush();
	text = capture_end();
	assert_int_equal(lines_with(text, "http: a submission from 10.0."), 5);
	assert_int_equal(repeated_with(text, "http: refused\\x0aforged: why",
	    &n), 295);
	assert_null(strstr(text, "\nforged"));
	free(text);
	log_set_clock(NULL);
}

/*
 * Whatever the text, one line: a newline or an ESC in it is escaped, and
 * so are C1 and bidirectional controls; a bare line (a module host's)
 * is "LEVEL: text".
 */
static void
test_log_escape(void **state)
{
	char	*text, out[16];

	(void)state;
	capture_begin();
	log_warn("module says: %s", "one\n2026-01-01T00:00:00Z certmintd[1]: "
	    "error: forged\x1b[2J\xc2\x9b\xe2\x80\xae!");
	log_set_bare(1);
	log_info("bare");
	log_set_bare(0);
	text = capture_end();
	assert_non_null(strstr(text, "warning: module says: one\\x0a2026-01-01"
	    "T00:00:00Z certmintd[1]: error: forged\\x1b[2J\\u009b\\u202e!\n"
	    "info: bare\n"));
	assert_int_equal(lines_with(text, "forged"), 1);
	free(text);
	/* Cut short for room: "...", within outlen. */
	assert_string_equal(text_escape("abcdefghijkl", out, sizeof(out)),
	    "abcde...");
	assert_string_equal(text_escape("\x01\x02", out, sizeof(out)),
	    "\\x01\\x02");
}

/* Info lines, different texts and different levels are never held back. */
static void
test_log_distinct(void **state)
{
	char	*text, what[32];
	int	 i, k, n;

	(void)state;
	fake_now = 1 * SEC;
	log_set_clock(fake_clock);
	capture_begin();
	for (i = 0; i < 20; i++)
		log_info("configuration reloaded");
	/* 40 lines take turns: more than the lines followed at once. */
	for (i = 0; i < 6; i++)
		for (k = 0; k < 40; k++)
			log_err("request %d failed", k);
	for (i = 0; i < 6; i++) {
		log_err("same text");
		log_warn("same text");
	}
	log_flush();
	text = capture_end();
	assert_int_equal(lines_with(text, "configuration reloaded"), 20);
	for (k = 0; k < 40; k++) {
		snprintf(what, sizeof(what), "error: request %d failed", k);
		assert_int_equal(lines_with(text, what), 6);
	}
	assert_int_equal(lines_with(text, "error: same text"), 5);
	assert_int_equal(lines_with(text, "warning: same text"), 5);
	assert_int_equal(repeated_with(text, "error: same text", &n), 1);
	assert_int_equal(repeated_with(text, "warning: same text", &n), 1);
	free(text);
	log_set_clock(NULL);
}

#define THREADS		8
#define PER_THREAD	2000

static void *
log_thread(void *arg)
{
	int	 i;

	(void)arg;
	for (i = 0; i < PER_THREAD; i++)
		log_warn("exit module X: the notify method returned an error");
	return NULL;
}

/* From many threads at once: every line printed or counted, once. */
static void
test_log_threads(void **state)
{
	pthread_t	 t[THREADS];
	char		*text;
	int		 i, n;

	(void)state;
	fake_now = 1 * SEC;
	log_set_clock(fake_clock);
	capture_begin();
	for (i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, log_thread, NULL),
		    0);
	for (i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	log_flush();
	text = capture_end();
	assert_int_equal(lines_with(text, "notify method"), 5);
	assert_int_equal(repeated_with(text, "notify method", &n),
	    THREADS * PER_THREAD - 5);
	assert_int_equal(n, 1);
	free(text);
	log_set_clock(NULL);
}

static char	 dir[64];

static char *
in_dir(const char *name)
{
	static char	 path[2][128];
	static int	 i;

	i = !i;
	snprintf(path[i], sizeof(path[i]), "%s/%s", dir, name);
	return path[i];
}

/* Entries of path but . and .. */
static int
entries(const char *path)
{
	DIR		*d;
	struct dirent	*e;
	int		 n = 0;

	assert_non_null(d = opendir(path));
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static char *
read_text(const char *path)
{
	unsigned char	*data;
	size_t		 len;

	if (file_read(path, &data, &len, 4096) == -1)
		return NULL;
	return (char *)data;
}

/*
 * file_write_new: nothing at the path is written over or through (a
 * file, a link to a victim, a dangling link); file_write_atomic replaces a
 * link, not its target. Neither leaves a temporary file.
 */
static void
test_file_write(void **state)
{
	struct stat	 sb;
	char		*text;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/cm-files.XXXXXX");
	assert_non_null(mkdtemp(dir));
	assert_int_equal(file_write_new(in_dir("victim"), "victim\n", 7, 0644),
	    0);
	assert_int_equal(file_write_new(in_dir("victim"), "new\n", 4, 0644),
	    -1);
	assert_int_equal(errno, EEXIST);
	assert_int_equal(symlink(in_dir("victim"), in_dir("link")), 0);
	assert_int_equal(file_write_new(in_dir("link"), "new\n", 4, 0600), -1);
	assert_int_equal(errno, EEXIST);
	assert_int_equal(symlink(in_dir("nowhere"), in_dir("dangling")), 0);
	assert_int_equal(file_write_new(in_dir("dangling"), "new\n", 4, 0600),
	    -1);
	assert_int_equal(lstat(in_dir("nowhere"), &sb), -1);
	assert_string_equal(text = read_text(in_dir("victim")), "victim\n");
	free(text);

	assert_int_equal(file_write_new(in_dir("key"), "k\n", 2, 0600), 0);
	assert_int_equal(stat(in_dir("key"), &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0600);

	assert_int_equal(file_write_atomic(in_dir("link"), "over\n", 5, 0644),
	    0);
	assert_int_equal(lstat(in_dir("link"), &sb), 0);
	assert_true(S_ISREG(sb.st_mode));
	assert_string_equal(text = read_text(in_dir("victim")), "victim\n");
	free(text);

	/* Only the files written: no temporary left behind. */
	assert_int_equal(entries(dir), 4);
	unlink(in_dir("victim"));
	unlink(in_dir("link"));
	unlink(in_dir("dangling"));
	unlink(in_dir("key"));
	assert_int_equal(rmdir(dir), 0);
}

/* OpenSSH's rule: owner root or us; no group/other write; a key private. */
static void
test_file_check_mode(void **state)
{
	struct stat	 sb;
	char		 err[512];

	(void)state;
	memset(&sb, 0, sizeof(sb));
	sb.st_uid = geteuid();
	sb.st_mode = S_IFREG | 0600;
	assert_int_equal(file_check_mode(&sb, "k", "the CA key", 1, err,
	    sizeof(err)), 0);
	sb.st_mode = S_IFREG | 0644;
	assert_int_equal(file_check_mode(&sb, "k", "the CA key", 1, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "k: the CA key has mode 0644"));
	assert_non_null(strstr(err, "chmod 600 k"));
	sb.st_mode = S_IFREG | 0640;
	assert_int_equal(file_check_mode(&sb, "k", "the CA key", 1, err,
	    sizeof(err)), -1);
	/* A config or database may be read by others, not written. */
	sb.st_mode = S_IFREG | 0644;
	assert_int_equal(file_check_mode(&sb, "c", "the config file", 0, err,
	    sizeof(err)), 0);
	sb.st_mode = S_IFREG | 0666;
	assert_int_equal(file_check_mode(&sb, "c", "the config file", 0, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "mode 0666"));
	assert_non_null(strstr(err, "chmod go-w c"));
	sb.st_mode = S_IFREG | 0620;
	assert_int_equal(file_check_mode(&sb, "c", "the config file", 0, err,
	    sizeof(err)), -1);
	sb.st_mode = S_IFREG | 0600;
	sb.st_uid = 0;
	assert_int_equal(file_check_mode(&sb, "c", "the config file", 0, err,
	    sizeof(err)), 0);
	sb.st_uid = geteuid() + 4321;
	assert_int_equal(file_check_mode(&sb, "c", "the config file", 0, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "owned by uid"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_log_repeat),
		cmocka_unit_test(test_log_distinct),
		cmocka_unit_test(test_log_escape),
		cmocka_unit_test(test_log_threads),
		cmocka_unit_test(test_file_write),
		cmocka_unit_test(test_file_check_mode),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
