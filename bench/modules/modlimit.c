/*
 * modlimit.c - the limits of two exit modules' targets for bench/modules,
 * measured without certmint: what the files module and the command module
 * do per event, done by a plain C loop, as fast as the machine allows.
 *
 *   modlimit files DIR N FILE THREADS sync|nosync
 *	N copies of FILE into DIR as the files module writes each
 *	certificate (modules/files/publish.c): an unnamed file (O_TMPFILE),
 *	written, fsynced, linked to its name (create-new), then the
 *	directory fsynced; sync off skips both fsyncs. THREADS writers at
 *	once, as the module's concurrent deliveries.
 *   modlimit spawn N CONC FILE PROGRAM [ARG...]
 *	PROGRAM run N times by CONC threads at once (the command module's
 *	concurrent deliveries), each run waited for before the thread's
 *	next, FILE on its stdin through a pipe, stdout and stderr to
 *	/dev/null.
 *
 * Prints "ok=N failed=M seconds=S rate=R" (R per second), as loadgen.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* A thread of either limit: its share of the N files or runs. */
struct writer {
	pthread_t	 tid;
	const char	*dir;
	char		**argv;		/* spawn: the program */
	const char	*data;
	size_t		 len;
	long		 first, count;	/* file names first .. first+count-1 */
	int		 sync;
	long		 ok;
};

static double
now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The whole of path in a malloc'd buffer. 0, or -1 (perror'd). */
static int
read_file(const char *path, char **data, size_t *len)
{
	FILE	*f;
	long	 n;

	if ((f = fopen(path, "rb")) == NULL || fseek(f, 0, SEEK_END) == -1 ||
	    (n = ftell(f)) <= 0 || fseek(f, 0, SEEK_SET) == -1 ||
	    (*data = malloc((size_t)n)) == NULL ||
	    fread(*data, 1, (size_t)n, f) != (size_t)n) {
		perror(path);
		if (f != NULL)
			fclose(f);
		return -1;
	}
	fclose(f);
	*len = (size_t)n;
	return 0;
}

static void
report(long ok, long n, double secs)
{
	printf("ok=%ld failed=%ld seconds=%.3f rate=%.0f\n", ok, n - ok, secs,
	    (double)ok / secs);
}

/*
 * One file as the module writes it: an unnamed file (O_TMPFILE) with the
 * module's mode, written, fsynced, linked to its name. 0, or -1.
 */
static int
write_one(const struct writer *w, long i)
{
	char	 path[4096];
	int	 fd, rc = -1;

	snprintf(path, sizeof(path), "%s/%ld.cer", w->dir, i);
	if ((fd = open(w->dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600)) == -1)
		return -1;
	if (fchmod(fd, 0644) == 0 &&
	    write(fd, w->data, w->len) == (ssize_t)w->len &&
	    (!w->sync || fsync(fd) == 0) &&
	    linkat(fd, "", AT_FDCWD, path, AT_EMPTY_PATH) == 0)
		rc = 0;
	close(fd);
	if (rc == 0 && w->sync) {
		if ((fd = open(w->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
			return -1;
		rc = fsync(fd);
		close(fd);
	}
	return rc;
}

static void *
writer_main(void *arg)
{
	struct writer	*w = arg;
	long		 i;

	for (i = w->first; i < w->first + w->count; i++)
		if (write_one(w, i) == 0)
			w->ok++;
	return NULL;
}

static int
limit_files(char *argv[])
{
	struct writer	*ws;
	char		*data;
	size_t		 len;
	long		 n = atol(argv[1]), nt = atol(argv[3]), i, ok = 0;
	double		 t0;

	if (n <= 0 || nt <= 0 || read_file(argv[2], &data, &len) == -1)
		return 2;
	if ((ws = calloc((size_t)nt, sizeof(*ws))) == NULL)
		return 1;
	t0 = now();
	for (i = 0; i < nt; i++) {
		ws[i].dir = argv[0];
		ws[i].data = data;
		ws[i].len = len;
		ws[i].first = n / nt * i;
		ws[i].count = i == nt - 1 ? n - ws[i].first : n / nt;
		ws[i].sync = strcmp(argv[4], "sync") == 0;
		if (pthread_create(&ws[i].tid, NULL, writer_main, &ws[i]) != 0)
			return 1;
	}
	for (i = 0; i < nt; i++) {
		pthread_join(ws[i].tid, NULL);
		ok += ws[i].ok;
	}
	report(ok, n, now() - t0);
	free(ws);
	free(data);
	return 0;
}

/* Start argv with data on its stdin. The child's pid, or -1. */
static pid_t
spawn_one(char *argv[], const char *data, size_t len)
{
	posix_spawn_file_actions_t fa;
	pid_t		 pid;
	int		 p[2], rc;

	if (pipe2(p, O_CLOEXEC) == -1)
		return -1;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, p[0], 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(p[0]);
	/* A program that does not read its input is not an error. */
	if (rc == 0 && write(p[1], data, len) == -1 && errno != EPIPE)
		rc = -1;
	close(p[1]);
	return rc == 0 ? pid : -1;
}

/* One of CONC threads: its share of the runs, one at a time. */
static void *
spawner_main(void *arg)
{
	struct writer	*w = arg;
	pid_t		 pid;
	long		 i;
	int		 st;

	for (i = 0; i < w->count; i++) {
		if ((pid = spawn_one(w->argv, w->data, w->len)) == -1)
			continue;
		if (waitpid(pid, &st, 0) == pid && WIFEXITED(st) &&
		    WEXITSTATUS(st) == 0)
			w->ok++;
	}
	return NULL;
}

static int
limit_spawn(char *argv[])
{
	struct writer	*ws;
	char		*data;
	size_t		 len;
	long		 n = atol(argv[0]), nt = atol(argv[1]), i, ok = 0;
	double		 t0;

	if (n <= 0 || nt <= 0 || read_file(argv[2], &data, &len) == -1)
		return 2;
	if ((ws = calloc((size_t)nt, sizeof(*ws))) == NULL)
		return 1;
	signal(SIGPIPE, SIG_IGN);
	t0 = now();
	for (i = 0; i < nt; i++) {
		ws[i].argv = argv + 3;
		ws[i].data = data;
		ws[i].len = len;
		ws[i].count = i == nt - 1 ? n - n / nt * i : n / nt;
		if (pthread_create(&ws[i].tid, NULL, spawner_main, &ws[i]) != 0)
			return 1;
	}
	for (i = 0; i < nt; i++) {
		pthread_join(ws[i].tid, NULL);
		ok += ws[i].ok;
	}
	report(ok, n, now() - t0);
	free(ws);
	free(data);
	return 0;
}

int
main(int argc, char *argv[])
{
	if (argc == 7 && strcmp(argv[1], "files") == 0)
		return limit_files(argv + 2);
	if (argc >= 6 && strcmp(argv[1], "spawn") == 0)
		return limit_spawn(argv + 2);
	fprintf(stderr, "usage: modlimit files DIR N FILE THREADS sync|nosync\n"
	    "       modlimit spawn N CONC FILE PROGRAM [ARG...]\n");
	return 2;
}
