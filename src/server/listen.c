/*
 * listen.c - certmintd's listeners: the plain HTTP port and the HTTPS
 * port bound before the privileges go (http_bind), libmicrohttpd's
 * daemons on them with their thread pools (http_start), the HTTPS
 * certificate reloaded (http_reload_tls), and a stop that lets suspended
 * answers go out first (http_stop). What a request gets is http.c's.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "acme_http.h"
#include "http.h"
#include "tls.h"
#include "watch.h"
#include "server.h"

static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	char	 msg[512];
	size_t	 n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n > 0 && msg[n - 1] == '\n')
		msg[--n] = '\0';
	/*
	 * MHD 0.9.75 says this of every failed TLS handshake: mostly a
	 * client that does not trust the server certificate (curl without
	 * the CA) or that speaks plain HTTP to the HTTPS port. The client's
	 * trouble, and its own error says so.
	 */
	if (strcmp(msg, "Error: received handshake message out of "
	    "context.") == 0) {
		logmsg_limited(CM_LOG_INFO, "http: a TLS handshake failed (a "
		    "client that does not trust the server certificate, speaks "
		    "plain HTTP, or shares no TLS version or cipher with this "
		    "server)");
		return;
	}
	/*
	 * A client gone in the middle of its request, or one the deadlines
	 * closed (watch.c, which says so itself): no trouble of the server.
	 */
	if (strncmp(msg, "Connection socket is closed when reading request",
	    48) == 0 || strncmp(msg, "Socket has been disconnected when "
	    "reading request", 49) == 0 || strncmp(msg, "Connection was "
	    "closed by remote side", 36) == 0) {
		logmsg_limited(CM_LOG_INFO, "http: %s", msg);
		return;
	}
	log_warn("http: %s", msg);
}

/*
 * Bind and listen on addr and port into *fd; what names the keys for a
 * message. Returns 0, or -1 with a message in err.
 */
static int
bind_one(const char *addr, int port, const char *what, int *fd, char *err,
    size_t errlen)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	socklen_t	 len;
	int		 on = 1, saved;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, addr, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		len = sizeof(*sin);
	} else if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		len = sizeof(*sin6);
	} else {
		snprintf(err, errlen, "[server] listen = \"%s\": not an IPv4 or "
		    "IPv6 address", addr);
		return -1;
	}
	if ((*fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    setsockopt(*fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1 ||
	    bind(*fd, (struct sockaddr *)&ss, len) == -1 ||
	    listen(*fd, SOMAXCONN) == -1) {
		saved = errno;
		snprintf(err, errlen, "cannot listen on %s port %d ([server] "
		    "listen and %s): %s%s", addr, port, what, strerror(saved),
		    saved == EADDRINUSE ? " (another program listens there)" :
		    saved == EADDRNOTAVAIL ? " (not an address of this host)" :
		    "");
		if (*fd != -1)
			close(*fd);
		*fd = -1;
		return -1;
	}
	return 0;
}

/*
 * Bind and listen on [server] listen and port (and tls_port), before the
 * CA records STARTUP, so that an address not of this host or a port in
 * use stops certmintd with no STARTUP or SHUTDOWN event recorded.
 * Connections wait in the backlog until http_start serves the socket.
 * Returns 0, or -1 with a message in err.
 */
int
http_bind(struct server *srv, char *err, size_t errlen)
{
	const struct cm_config *cfg = ca_config(srv->ca);

	srv->plain_l.srv = srv->tls_l.srv = srv;
	srv->tls_l.tls = 1;
	if (bind_one(cfg->listen_addr, cfg->listen_port, "port", &srv->http_fd,
	    err, errlen) == -1)
		return -1;
	if (cfg->tls_port > 0 && bind_one(cfg->listen_addr, cfg->tls_port,
	    "tls_port", &srv->tls_fd, err, errlen) == -1) {
		close(srv->http_fd);
		srv->http_fd = -1;
		return -1;
	}
	return 0;
}

/*
 * How many connections each of nlisteners listeners may hold: [server]
 * max_connections, within the file descriptors the process may open
 * (RLIMIT_NOFILE, its soft limit raised to the hard one first) less
 * those open now and a reserve for what opens later (a database
 * connection of 3 files per thread, module hosts, validations). At the
 * limit libmicrohttpd stops accepting; past the descriptors it would
 * retry accept() in a busy loop, the database could not open a file, and
 * the log would fill with the failures.
 */
static unsigned int
connection_budget(const struct cm_config *cfg, unsigned int threads,
    int nlisteners)
{
	struct rlimit	 rl;
	DIR		*d;
	long long	 open_now = 0, budget;
	unsigned int	 max = (unsigned int)cfg->max_connections;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_cur == RLIM_INFINITY)
		return max;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max == RLIM_INFINITY ||
		    rl.rlim_max > 1048576 ? 1048576 : rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			(void)getrlimit(RLIMIT_NOFILE, &rl);
	}
	if ((d = opendir("/proc/self/fd")) != NULL) {
		while (readdir(d) != NULL)
			open_now++;
		closedir(d);
	}
	budget = ((long long)rl.rlim_cur - open_now - 128 -
	    3 * (long long)threads * nlisteners) / nlisteners;
	if (budget >= (long long)max)
		return max;
	if (budget < 4)
		budget = 4;
	log_warn("[server] max_connections %u is more than the file "
	    "descriptors allow (RLIMIT_NOFILE %llu, %lld open): %lld per "
	    "listener; raise the limit (ulimit -n, systemd's LimitNOFILE=)",
	    max, (unsigned long long)rl.rlim_cur, open_now, budget);
	return (unsigned int)budget;
}

/*
 * An MHD daemon on the socket *fd (taken: closed here or by MHD) for
 * listener l, with tls options (an MHD_OPTION_ARRAY) when not NULL.
 */
static struct MHD_Daemon *
start_daemon(struct server *srv, struct http_listener *l, int *fd,
    int port, unsigned int threads, struct MHD_OptionItem *tls)
{
	const struct cm_config *cfg = ca_config(srv->ca);
	struct MHD_OptionItem none[] = { { MHD_OPTION_END, 0, NULL } };
	struct MHD_Daemon *d;
	unsigned int	 flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG |
	    MHD_ALLOW_SUSPEND_RESUME;
	int		 dfd;

	if (strchr(cfg->listen_addr, ':') != NULL)
		flags |= MHD_USE_IPv6;
	if (sysconf(_SC_NPROCESSORS_ONLN) > 0)
		flags |= MHD_USE_EPOLL_LINUX_ONLY;
	if (tls != NULL)
		flags |= TLS_MHD_FLAGS;
	/* MHD closes its socket when it stops, not always when it fails. */
	if ((dfd = dup(*fd)) == -1)
		return NULL;
	d = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL,
	    http_access, l,
	    MHD_OPTION_EXTERNAL_LOGGER, mhd_log, srv,
	    MHD_OPTION_LISTEN_SOCKET, dfd,
	    MHD_OPTION_THREAD_POOL_SIZE, threads,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)30,
	    /* Slow clients from one address cannot take every connection. */
	    MHD_OPTION_CONNECTION_LIMIT, srv->max_connections,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT,
	    (unsigned int)cfg->max_client_connections,
	    MHD_OPTION_NOTIFY_COMPLETED, http_request_done, l,
	    /* A trickle is never idle: header_timeout and body_timeout. */
	    MHD_OPTION_NOTIFY_CONNECTION, watch_notify, srv->watch,
	    MHD_OPTION_URI_LOG_CALLBACK, watch_uri, srv->watch,
	    MHD_OPTION_ARRAY, tls != NULL ? tls : none,
	    MHD_OPTION_END);
	if (d == NULL)
		close(dfd);
	close(*fd);
	*fd = -1;
	return d;
}

/* Serve HTTP (and HTTPS) on the sockets of http_bind. 0, or -1 with err. */
int
http_start(struct server *srv, char *err, size_t errlen)
{
	const struct cm_config *cfg = ca_config(srv->ca);
	unsigned int	 threads = (unsigned int)cfg->threads, acme_threads;

	/*
	 * A submission does not hold its thread while the writer commits
	 * (its connection is suspended), so a few threads per core keep the
	 * cores busy; more only add context switches. On 2 cores bench/issue
	 * gave 11,000-12,000 certificates/s with 2 to 8 threads.
	 */
	if (threads == 0)
		threads = (unsigned int)sysconf(_SC_NPROCESSORS_ONLN) * 2;
	if (threads < 4)
		threads = 4;
	acme_threads = threads;
	if (srv->tls_fd != -1 && tls_init(cfg, ca_signer(srv->ca)->chain_pem,
	    err, errlen) == -1)
		return -1;
	if ((srv->watch = watch_start(cfg, err, errlen)) == NULL ||
	    acme_http_start(srv, err, errlen) == -1)
		return -1;
	/*
	 * An ACME request that writes (new order, challenge, finalize) waits
	 * for its commit on its thread, and the other connections of that
	 * thread wait with it: the listener that serves ACME (HTTPS, or
	 * plain HTTP without it) gets a thread per client of a busy CA.
	 * bench/acme on 2 cores, 32 clients: 4 threads ~340 orders/s, 12
	 * ~390, 32 ~445.
	 */
	if (cfg->threads == 0 && srv->acme != NULL)
		acme_threads = threads > ACME_HTTP_THREADS ? threads :
		    ACME_HTTP_THREADS;
	srv->max_connections = connection_budget(cfg, acme_threads,
	    srv->tls_fd == -1 ? 1 : 2);
	if ((srv->mhd = start_daemon(srv, &srv->plain_l, &srv->http_fd,
	    cfg->listen_port, srv->tls_fd == -1 ? acme_threads : threads,
	    NULL)) == NULL) {
		snprintf(err, errlen, "cannot serve HTTP on %s port %d",
		    cfg->listen_addr, cfg->listen_port);
		return -1;
	}
	snprintf(srv->listen_desc, sizeof(srv->listen_desc), "%s:%d",
	    cfg->listen_addr, cfg->listen_port);
	if (srv->tls_fd == -1)
		return 0;
	if ((srv->tls_mhd = start_daemon(srv, &srv->tls_l, &srv->tls_fd,
	    cfg->tls_port, acme_threads, tls_mhd_options())) == NULL) {
		snprintf(err, errlen, "cannot serve HTTPS on %s port %d",
		    cfg->listen_addr, cfg->tls_port);
		return -1;
	}
	snprintf(srv->tls_desc, sizeof(srv->tls_desc), "%s%s%s:%d",
	    strchr(cfg->listen_addr, ':') != NULL ? "[" : "", cfg->listen_addr,
	    strchr(cfg->listen_addr, ':') != NULL ? "]" : "", cfg->tls_port);
	return 0;
}

int
http_reload_tls(struct server *srv, char *err, size_t errlen)
{
	int	 rc;

	if (srv->tls_mhd == NULL)
		return 0;
	ca_config_lock(srv->ca);
	rc = tls_reload(ca_config(srv->ca), err, errlen);
	ca_config_unlock(srv->ca);
	return rc;
}

void
http_stop(struct server *srv)
{
	int	 i;

	if (srv->http_fd != -1) {
		close(srv->http_fd);
		srv->http_fd = -1;
	}
	if (srv->tls_fd != -1) {
		close(srv->tls_fd);
		srv->tls_fd = -1;
	}
	/*
	 * Suspended submissions are resumed by the writer, which runs until
	 * after this, and ACME answers waiting for a validation are due now:
	 * let them answer (at most 30 s) before MHD goes, so that no callback
	 * meets a freed connection.
	 */
	acme_wait_flush(srv->acme);
	for (i = 0; i < 3000 && atomic_load(&srv->submitting) > 0; i++)
		usleep(10000);
	if (atomic_load(&srv->submitting) > 0)
		log_err("http: %d submissions still waiting for the writer at "
		    "stop", atomic_load(&srv->submitting));
	/* MHD_stop_daemon closes every connection itself. */
	if (srv->watch != NULL)
		watch_stop(srv->watch);
	if (srv->mhd != NULL)
		MHD_stop_daemon(srv->mhd);
	if (srv->tls_mhd != NULL)
		MHD_stop_daemon(srv->tls_mhd);
	srv->mhd = srv->tls_mhd = NULL;
	acme_http_stop(srv);	/* after MHD: no handler uses it now */
	tls_free();
	watch_free(srv->watch);
	srv->watch = NULL;
}
