/*
 * main.c - certmintd: load the CA, serve HTTP and the admin socket, and
 * turn signals into reload and clean shutdown.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../exit/exit_host.h"
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
	    "Signals: SIGHUP reloads the configuration; SIGTERM and SIGINT stop\n"
	    "the CA cleanly (the SHUTDOWN event is recorded first).\n");
}

/*
 * Write our pid, refusing if another live daemon holds the file.
 * Returns 0 or -1.
 */
/*
 * After a reload: the policy module first (decisions), then the exit
 * modules. A policy module that cannot load leaves the running one.
 */
static void
modules_reload(struct server *srv)
{
	char	 err[512];

	pthread_mutex_lock(&srv->modules_mu);
	if (policy_host_reload(&srv->policy, err, sizeof(err)) == -1)
		log_err("policy module not changed: %s", err);
	pthread_mutex_unlock(&srv->modules_mu);
	exit_host_reload(srv->exits);
}

static int
pidfile_write(const char *path)
{
	unsigned char	*old;
	size_t		 len;
	int64_t		 pid;
	char		 buf[32];

	if (file_read(path, &old, &len, 64) == 0) {
		if (parse_int64(str_trim((char *)old), &pid) == 0 && pid > 0 &&
		    pid != getpid() && kill((pid_t)pid, 0) == 0) {
			log_err("another certmintd (pid %lld) runs with %s",
			    (long long)pid, path);
			free(old);
			return -1;
		}
		free(old);
	}
	snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	if (file_write_atomic(path, buf, strlen(buf), 0644) == -1) {
		log_err("%s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
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
	int		 ch, sfd = -1, rc = 1, stop = 0;
	char		 what;

	memset(&srv, 0, sizeof(srv));
	pthread_mutex_init(&srv.modules_mu, NULL);
	srv.admin_fd = srv.wake[0] = srv.wake[1] = -1;
	srv.admin_stop[0] = srv.admin_stop[1] = -1;
	log_init("certmintd", CM_LOG_INFO);
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
	if (pidfile_write(pid_file) == -1) {
		free(pid_file);
		pid_file = NULL;
		goto out;
	}
	if ((srv.policy = policy_host_start(srv.ca, err, sizeof(err))) == NULL) {
		log_err("policy module: %s", err);
		goto out;
	}
	/* Modules load before STARTUP is recorded, so that they receive it. */
	srv.exits = exit_host_new(srv.ca);
	if (exit_host_start(srv.exits) == -1) {
		log_err("cannot start the exit-module host");
		goto out;
	}
	exit_admin_register(srv.exits, srv.policy);
	if (ca_start(srv.ca) == -1)
		goto out;
	if (http_start(&srv, err, sizeof(err)) == -1) {
		log_err("%s", err);
		goto out;
	}
	/* Before the admin thread exists: it may reload the config. */
	log_info("%s ready: http://%s, admin socket %s", ca_config(srv.ca)->ca_name,
	    srv.listen_desc, ca_config(srv.ca)->admin_socket);
	if (admin_start(&srv, err, sizeof(err)) == -1) {
		log_err("%s", err);
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
				if (ca_reload(srv.ca, err, sizeof(err)) == -1)
					log_err("reload failed, keeping the running "
					    "configuration: %s", err);
				else {
					log_info("configuration reloaded");
					modules_reload(&srv);
				}
			} else {
				log_info("signal %d: stopping", (int)si.ssi_signo);
				stop = 1;
			}
		}
		if (pfd[1].revents & POLLIN && read(srv.wake[0], &what, 1) == 1) {
			if (what == SERVER_WAKE_STOP)
				stop = 1;
			else if (what == SERVER_WAKE_RELOAD)
				modules_reload(&srv);
		}
	}
	rc = 0;
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
	if (pid_file != NULL) {
		unlink(pid_file);
		free(pid_file);
	}
	if (sfd != -1)
		close(sfd);
	if (srv.wake[0] != -1) {
		close(srv.wake[0]);
		close(srv.wake[1]);
	}
	if (rc == 0)
		log_info("stopped");
	return rc;
}
