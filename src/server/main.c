/*
 * main.c - certmintd: load the CA, serve HTTP and the admin socket, and
 * turn signals into reload and clean shutdown.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../exit/exit_host.h"
#include "../exit/isolate.h"
#include "acme_http.h"
#include "server.h"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: certmintd [-d] [-c FILE]\n"
	    "\n"
	    "Run the certmint certificate authority in the foreground.\n"
	    "\n"
	    "  -c, --config FILE  configuration file (default: $CERTMINT_CONFIG,\n"
	    "                     else /etc/certmint/certmint.conf)\n"
	    "  -d, --debug        log debug messages\n"
	    "  -h, --help         this help\n"
	    "  -V, --version      print the version\n"
	    "\n"
	    "Serves HTTPS on [server] tls_port (the REST API, which requires an\n"
	    "API token or a client certificate unless [rest] anonymous says\n"
	    "otherwise) and plain HTTP on port (CRLs, CA certificates).\n"
	    "\n"
	    "Signals: SIGHUP reloads the configuration and the HTTPS certificate;\n"
	    "SIGTERM and SIGINT stop the CA cleanly (the SHUTDOWN event is\n"
	    "recorded first).\n"
	    "\n"
	    "Exit status: 0 after a clean stop; 1 when it cannot start, or\n"
	    "when the database check it runs while serving ([ca]\n"
	    "startup_check) finds the database damaged.\n");
}

static void	 config_warn(struct server *, json_t *);

/* Log a line at level, and append it to arr when not NULL. */
static void
log_into(json_t *arr, int level, const char *fmt, va_list ap)
{
	char	 msg[1024];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	logmsg(level, "%s", msg);
	if (arr != NULL)
		json_array_append_new(arr, json_string(msg));
}

void
reload_unapplied(json_t *warnings, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_into(warnings, CM_LOG_ERROR, fmt, ap);
	va_end(ap);
}

/*
 * Reread the config file and apply it (SIGHUP on the main thread, `certmint
 * reload` on the admin thread). The config and the policy module switch
 * together or not at all: a policy module that cannot load under the new
 * file leaves the running config and policy, and the caller hears why.
 * The exit modules follow before this returns, so that a module
 * unregistered is no longer called once `certmint reload` has answered.
 */
int
server_reload(struct server *srv, char *err, size_t errlen, json_t *warnings,
    json_t *notes)
{
	char	 why[512];
	int	 rc;

	if (ca_reload_begin(srv->ca, err, errlen) == -1)
		return -1;
	/* What the file changes but only a restart applies: said. */
	ca_reload_fixed(srv->ca, why, sizeof(why));
	if (why[0] != '\0')
		reload_unapplied(warnings, "%s changed: only a restart applies "
		    "that; the running values serve on", why);
	pthread_mutex_lock(&srv->modules_mu);
	rc = policy_host_reload(&srv->policy, why, sizeof(why));
	pthread_mutex_unlock(&srv->modules_mu);
	ca_reload_end(srv->ca, rc == -1);
	if (rc == -1) {
		snprintf(err, errlen, "policy module not loaded: %s", why);
		return -1;
	}
	exit_host_reload(srv->exits, why, sizeof(why));
	if (why[0] != '\0')
		reload_unapplied(warnings, "exit modules not (re)loaded, see "
		    "certmint exit list: %s", why);
	acme_http_reload(srv, warnings);
	/*
	 * A renewed HTTPS certificate (certmint tls renew): new connections
	 * get it. One that does not load is logged; the old one serves on.
	 */
	if ((rc = http_reload_tls(srv, why, sizeof(why))) == -1)
		reload_unapplied(warnings, "HTTPS certificate not reloaded, the "
		    "old one serves on: %s", why);
	else if (rc == 1)
		log_info("HTTPS certificate reloaded from %s",
		    ca_config(srv->ca)->tls_cert);
	config_warn(srv, notes);
	return 0;
}

/* Warn, and tell the one who reloads (notes, when not NULL). */
static void __attribute__((format(printf, 2, 3)))
note(json_t *notes, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_into(notes, CM_LOG_WARN, fmt, ap);
	va_end(ap);
}

/*
 * The CA's files that others could change but that are not refused, as
 * the key, the config file and the database are (key_load,
 * config_check_mode, store_open): the CA certificates and the chain,
 * which the CA serves, and the directories of its files, where anyone who
 * can write may rename them or put their own beside them (a FIFO at
 * certmint.db-wal). Under the config lock.
 */
static void
files_warn(const struct cm_config *cfg, json_t *notes)
{
	struct stat	 sb;
	const char	*files[] = { cfg->path, cfg->cert_file, cfg->key_file,
			    cfg->db_file };
	char		*dirs[nitems(files)], *p, err[1024];
	size_t		 i, j, ndirs = 0;
	int		 n;

	/* ca.crt, then ca(1).crt... up to the first missing, as read. */
	for (n = 0; (p = path_indexed(cfg->cert_file, n)) != NULL; n++) {
		if (stat(p, &sb) == -1) {
			free(p);
			break;
		}
		if (file_check_mode(&sb, p, "a CA certificate", 0, err,
		    sizeof(err)) == -1)
			note(notes, "%s; anyone who can write it can change the "
			    "CA certificate the CA serves", err);
		free(p);
	}
	if (cfg->chain_file != NULL && stat(cfg->chain_file, &sb) == 0 &&
	    file_check_mode(&sb, cfg->chain_file, "the CA's chain", 0, err,
	    sizeof(err)) == -1)
		note(notes, "%s; anyone who can write it can change the chain "
		    "the CA serves", err);
	for (i = 0; i < nitems(files); i++) {
		if ((p = path_dirname(files[i])) == NULL)
			continue;
		for (j = 0; j < ndirs && strcmp(dirs[j], p) != 0; j++)
			;
		if (j < ndirs) {
			free(p);
			continue;
		}
		dirs[ndirs++] = p;
		if (stat(p, &sb) == 0 && file_check_mode(&sb, p, "the CA's "
		    "directory", 0, err, sizeof(err)) == -1)
			note(notes, "%s; anyone who can write it can put their "
			    "files in place of the CA's", err);
	}
	for (j = 0; j < ndirs; j++)
		free(dirs[j]);
}

/*
 * Say loudly, at start and at each reload, what the config makes of the
 * CA that its operator may not mean: anyone who reaches the API gets
 * certificates ([rest] anonymous), certificates point at a port where
 * certmintd is not ([publish] base_url), a config file cut short, files
 * others could change (files_warn).
 */
static void
config_warn(struct server *srv, json_t *notes)
{
	const struct cm_config *cfg;
	char		 host[256];
	int		 anon, port;

	ca_config_lock(srv->ca);
	cfg = ca_config(srv->ca);
	anon = cfg->anonymous;
	/*
	 * [publish] base_url is what certificates point at for CRLs and CA
	 * certificates. init writes it with the port; when the port moves
	 * and base_url names this host on another port, every certificate
	 * from now on points where certmintd does not answer (or where
	 * another CA does). Said, not refused: a proxy may be there.
	 */
	if (url_host_port(cfg->base_url, host, sizeof(host), &port) == 0 &&
	    port != cfg->listen_port && (strcmp(host, cfg->listen_addr) == 0 ||
	    strcmp(host, "127.0.0.1") == 0 || strcmp(host, "::1") == 0 ||
	    strcasecmp(host, "localhost") == 0))
		note(notes, "[publish] base_url = %s names port %d of this host, "
		    "but certmintd serves CRLs and CA certificates on port %d "
		    "([server] port): the CDP and AIA of the certificates it "
		    "issues point there", cfg->base_url, port,
		    cfg->listen_port);
	/*
	 * A file cut short (a full disk while it was written, a copy
	 * interrupted) loads: what was lost takes its defaults, silently.
	 * Files end with a newline; one that does not may have been cut.
	 */
	if (cfg->unended_line > 0)
		note(notes, "%s:%d: the file ends without a newline: if it was "
		    "cut short, the settings after that line are missing and "
		    "take their defaults", cfg->path, cfg->unended_line);
	files_warn(cfg, notes);
	ca_config_unlock(srv->ca);
	if (anon == CM_ANON_ISSUE)
		note(notes, "WARNING: [rest] anonymous = issue: anyone who can "
		    "reach the API gets certificates as the policy decides, "
		    "without authentication");
	else if (anon == CM_ANON_PENDING)
		note(notes, "[rest] anonymous = pending: anyone who can reach "
		    "the API may submit; an officer decides each request");
}

/*
 * The database is one daemon's: two certmintd on one database (each with
 * its own config, pid file and ports) would both publish CRLs and take
 * each other's request ids. An flock on the database file, held until
 * exit; SQLite's own locks are fcntl ones, which flock leaves alone (and
 * the descriptor is closed only after SQLite's). Returns it, or -1.
 */
static int
db_lock(const char *path)
{
	int	 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		log_err("%s: %s", path, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		if (errno == EWOULDBLOCK)
			log_err("another certmintd runs on the database %s "
			    "(another config file naming it?)", path);
		else
			log_err("%s: lock: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* How long a start waits for a killed certmintd to finish exiting. */
#define PID_EXIT_WAIT_MS	10000

/* Is process pid a zombie (exited, its threads still ending), or gone? */
static int
pid_exiting(int64_t pid)
{
	char	 path[64], buf[512], *p;
	ssize_t	 n;
	int	 fd;

	if (pid <= 0 || pid > INT32_MAX)
		return 0;
	snprintf(path, sizeof(path), "/proc/%lld/stat", (long long)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return errno == ENOENT;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* "pid (comm) S ...": the state follows the last ')'. */
	if ((p = strrchr(buf, ')')) == NULL || p[1] != ' ')
		return 0;
	return p[2] == 'Z' || p[2] == 'X';
}

/*
 * Take the pid file: open it, lock it for the daemon's lifetime and write
 * our pid into it. The lock, not the pid in the file, says whether a
 * daemon runs: after a crash the pid left in the file may belong to an
 * unrelated process by now. Refuses only when another process holds the
 * lock. Returns the descriptor, to keep open until exit, or -1.
 */
static int
pidfile_lock(const char *path)
{
	struct stat	 fst, pst;
	char		 buf[32];
	int64_t		 pid;
	ssize_t		 n;
	int		 fd, tries, waited = 0;

	for (tries = 0; tries < 10; tries++) {
		if ((fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
		    0644)) == -1) {
			log_err("%s: %s", path, strerror(errno));
			return -1;
		}
		if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
			if (errno != EWOULDBLOCK) {
				log_err("%s: lock: %s", path, strerror(errno));
				close(fd);
				return -1;
			}
			n = pread(fd, buf, sizeof(buf) - 1, 0);
			buf[n > 0 ? n : 0] = '\0';
			close(fd);
			fd = -1;
			/*
			 * One killed a moment ago is a zombie whose other
			 * threads are still ending (an fsync in flight): its
			 * files, and so the lock, go when they have. A
			 * supervisor's quick restart waits for that.
			 */
			if (parse_int64(str_trim(buf), &pid) == 0 &&
			    pid_exiting(pid) && waited < PID_EXIT_WAIT_MS) {
				if (waited == 0)
					log_info("certmintd pid %lld, which holds "
					    "%s, is exiting: waiting for it",
					    (long long)pid, path);
				usleep(10000);
				waited += 10;
				tries--;
				continue;
			}
			if (parse_int64(str_trim(buf), &pid) == 0)
				log_err("another certmintd (pid %lld) %s with %s",
				    (long long)pid, pid_exiting(pid) ?
				    "is still exiting" : "runs", path);
			else
				log_err("another certmintd runs with %s", path);
			return -1;
		}
		/*
		 * A daemon stopping unlinks the file, then unlocks it: the
		 * lock counts only on the file that is at path now.
		 */
		if (fstat(fd, &fst) == 0 && stat(path, &pst) == 0 &&
		    fst.st_dev == pst.st_dev && fst.st_ino == pst.st_ino)
			break;
		close(fd);
		fd = -1;
	}
	if (fd == -1) {
		log_err("%s: keeps changing under us", path);
		return -1;
	}
	n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	if (ftruncate(fd, 0) == -1 || pwrite(fd, buf, (size_t)n, 0) != n) {
		log_err("%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * The admin socket's directory: one anyone may write without the sticky
 * bit lets anyone replace the socket with theirs, and so hear officers'
 * commands: refused. With the sticky bit only its owner can remove the
 * socket: a warning. The directory is checked as opened (fstat). Returns
 * 0, or -1 with a message in err.
 */
static int
admin_dir_check(const char *socket_path, char *err, size_t errlen)
{
	struct stat	 sb;
	char		*dir;
	int		 fd, rc = -1;

	if ((dir = path_dirname(socket_path)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    fstat(fd, &sb) == -1) {
		snprintf(err, errlen, "admin socket directory %s: %s", dir,
		    strerror(errno));
		goto out;
	}
	if ((sb.st_mode & S_IWOTH) && !(sb.st_mode & S_ISVTX)) {
		snprintf(err, errlen, "admin socket directory %s has mode %04o: "
		    "anyone could replace the socket (chmod o-w %s, or put "
		    "[server] admin_socket elsewhere)", dir,
		    (unsigned int)sb.st_mode & 07777, dir);
		goto out;
	}
	if (sb.st_mode & S_IWOTH)
		log_warn("admin socket directory %s has mode %04o: the sticky "
		    "bit keeps others from replacing the socket, but a "
		    "directory of certmint's own is safer", dir,
		    (unsigned int)sb.st_mode & 07777);
	rc = 0;
out:
	if (fd != -1)
		close(fd);
	free(dir);
	return rc;
}

/* ca_check_start's: the database check found damage; stop (exit 1). */
static void
db_damaged(void *arg)
{
	struct server	*srv = arg;
	char		 what = SERVER_WAKE_DAMAGED;

	if (write(srv->wake[1], &what, 1) != 1)
		log_err("cannot wake the main thread: %s", strerror(errno));
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "debug", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	struct server	 srv;
	const char	*config = getenv("CERTMINT_CONFIG");
	char		 err[1024], *pid_file = NULL;
	sigset_t	 mask;
	struct signalfd_siginfo si;
	struct pollfd	 pfd[2];
	int		 ch, sfd = -1, rc = 1, stop = 0, damaged = 0;
	int		 pid_fd = -1, db_fd = -1;
	char		 what;

	/*
	 * Hidden mode: the host process of an isolated exit module, started
	 * by this daemon (src/exit/modhost.c). Nothing else of main runs.
	 */
	if (argc > 1 && strcmp(argv[1], "--module-host") == 0)
		return modhost_main(argc, argv);
	memset(&srv, 0, sizeof(srv));
	pthread_mutex_init(&srv.modules_mu, NULL);
	srv.admin_fd = srv.wake[0] = srv.wake[1] = srv.http_fd = -1;
	srv.tls_fd = -1;
	srv.admin_stop[0] = srv.admin_stop[1] = -1;
	log_init("certmintd", CM_LOG_INFO);
	stdio_keep();	/* for an inline module that closes them */
	while ((ch = getopt_long(argc, argv, "c:dhV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			config = optarg;
			break;
		case 'd':
			log_set_level(CM_LOG_DEBUG);
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("certmintd %s\n", CM_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (config == NULL)
		config = "/etc/certmint/certmint.conf";

	/* Signals go to the signalfd only: block them before any thread starts. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	if ((sfd = signalfd(-1, &mask, SFD_CLOEXEC)) == -1 ||
	    pipe2(srv.wake, O_CLOEXEC) == -1) {
		log_err("signalfd: %s", strerror(errno));
		return 1;
	}

	if (ca_open(&srv.ca, config, err, sizeof(err)) == -1) {
		log_err("%s", err);
		goto out;
	}
	pid_file = xstrdup(ca_config(srv.ca)->pid_file);
	if ((pid_fd = pidfile_lock(pid_file)) == -1) {
		free(pid_file);
		pid_file = NULL;
		goto out;
	}
	if ((db_fd = db_lock(ca_config(srv.ca)->db_file)) == -1)
		goto out;
	/* What can refuse the start, before STARTUP is recorded. */
	if (admin_dir_check(ca_config(srv.ca)->admin_socket, err,
	    sizeof(err)) == -1 || http_bind(&srv, err, sizeof(err)) == -1) {
		log_err("%s", err);
		goto out;
	}
	if ((srv.policy = policy_host_start(srv.ca, err, sizeof(err))) == NULL) {
		log_err("policy module: %s", err);
		goto out;
	}
	/*
	 * The writer first: module threads save their cursors through it as
	 * soon as they run (after a crash, with a backlog, at once). Then the
	 * modules, then STARTUP, so that they receive it.
	 */
	if (ca_start_writer(srv.ca) == -1)
		goto out;
	srv.exits = exit_host_new(srv.ca);
	if (exit_host_start(srv.exits) == -1) {
		log_err("cannot start the exit-module host");
		goto out;
	}
	exit_admin_register(srv.exits, srv.policy);
	if (ca_start(srv.ca) == -1 || ca_start_crl_schedule(srv.ca) == -1)
		goto out;
	if (http_start(&srv, err, sizeof(err)) == -1) {
		log_err("%s", err);
		goto out;
	}
	/* Before the admin thread exists: it may reload the config. */
	log_info("%s ready: http://%s%s%s%s, admin socket %s, REST API %s",
	    ca_config(srv.ca)->ca_name, srv.listen_desc,
	    ca_config(srv.ca)->plain_api ? " (API too)" : " (CRLs, CA "
	    "certificates)", srv.tls_desc[0] != '\0' ? ", https://" : "",
	    srv.tls_desc, ca_config(srv.ca)->admin_socket,
	    ca_config(srv.ca)->anonymous == CM_ANON_ISSUE ? "ANONYMOUS "
	    "(anyone may get certificates)" : ca_config(srv.ca)->anonymous ==
	    CM_ANON_PENDING ? "anonymous submissions held pending" :
	    "authenticated");
	config_warn(&srv, NULL);
	if (admin_start(&srv, err, sizeof(err)) == -1) {
		log_err("%s", err);
		goto out;
	}
	if (ca_check_start(srv.ca, db_damaged, &srv) == -1) {
		log_err("cannot start the database check");
		goto out;
	}

	pfd[0].fd = sfd;
	pfd[0].events = POLLIN;
	pfd[1].fd = srv.wake[0];
	pfd[1].events = POLLIN;
	while (!stop) {
		if (poll(pfd, 2, -1) == -1) {
			if (errno == EINTR)
				continue;
			log_err("poll: %s", strerror(errno));
			break;
		}
		if (pfd[0].revents & POLLIN &&
		    read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
			if (si.ssi_signo == SIGHUP) {
				if (server_reload(&srv, err, sizeof(err),
				    NULL, NULL) == -1)
					log_err("reload failed, keeping the running "
					    "configuration: %s", err);
				else
					log_info("configuration reloaded");
			} else {
				log_info("signal %d: stopping", (int)si.ssi_signo);
				stop = 1;
			}
		}
		if (pfd[1].revents & POLLIN && read(srv.wake[0], &what, 1) == 1) {
			if (what == SERVER_WAKE_STOP)
				stop = 1;
			else if (what == SERVER_WAKE_DAMAGED)
				stop = damaged = 1;
		}
	}
	rc = damaged ? 1 : 0;
out:
	atomic_store(&srv.stopping, 1);
	admin_stop(&srv);
	http_stop(&srv);
	if (srv.ca != NULL) {
		/* SHUTDOWN is recorded, then delivered, then modules unload. */
		ca_stop(srv.ca);
		exit_host_stop(srv.exits);
		exit_host_free(srv.exits);
		policy_host_stop(srv.policy);
		ca_close(srv.ca);
	}
	if (db_fd != -1)
		close(db_fd);		/* after ca_close: SQLite's locks gone */
	if (pid_file != NULL) {
		/* Unlinked while still locked: see pidfile_lock. */
		unlink(pid_file);
		close(pid_fd);
		free(pid_file);
	}
	if (sfd != -1)
		close(sfd);
	if (srv.wake[0] != -1) {
		close(srv.wake[0]);
		close(srv.wake[1]);
	}
	log_flush();
	if (rc == 0)
		log_info("stopped");
	return rc;
}
