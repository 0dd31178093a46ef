/*
 * admin.c - the admin socket (docs/admin-protocol.md): a Unix socket only
 * the daemon's own user (and root) may use, one JSON request and one JSON
 * answer per connection. One thread accepts; each client is served by a
 * thread of its own (see worker_main).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "../ca/json.h"
#include "server.h"

#define ADMIN_MAX_REQUEST	(1 << 20)
#define ADMIN_TIMEOUT_MS	30000	/* to send a whole request */
#define ADMIN_WRITE_MS		5000	/* for a client to take its answer */
#define ADMIN_MAX_CLIENTS	32	/* clients served at once */
#define ADMIN_STOP_MS		5000	/* at stop, for commands under way */
/* A burst of clients waits to be accepted (or told busy), not refused. */
#define ADMIN_BACKLOG		(2 * ADMIN_MAX_CLIENTS)
#define ADMIN_MAX_HANDLERS	64

static struct admin_cmd	 handlers[ADMIN_MAX_HANDLERS];
static size_t		 nhandlers;

int
admin_register(const char *cmd, admin_handler fn)
{
	if (nhandlers == ADMIN_MAX_HANDLERS)
		return -1;
	handlers[nhandlers].name = cmd;
	handlers[nhandlers].fn = fn;
	nhandlers++;
	return 0;
}

static admin_handler
find_handler(const char *name)
{
	size_t	 i;

	for (i = 0; i < admin_ca_ncmds; i++)
		if (strcmp(admin_ca_cmds[i].name, name) == 0)
			return admin_ca_cmds[i].fn;
	for (i = 0; i < nhandlers; i++)
		if (strcmp(handlers[i].name, name) == 0)
			return handlers[i].fn;
	return NULL;
}

/*
 * Clients: each accepted connection is served by a thread of its own, so
 * that a command blocked in an exit module (exit show on a module stuck in
 * notify, a reload unloading one) holds up no other client. At most
 * ADMIN_MAX_CLIENTS at once; one more is answered "busy" at once.
 *
 * The threads are workers kept for the next connection, not one thread per
 * connection: each thread that reads the database keeps a reader
 * connection until the CA closes (ca_reader), so their number must stay
 * bounded. A worker is started when a connection finds none idle.
 *
 * Static, not in struct server, and never destroyed: a worker unlocks
 * clients_mu after admin_stop may have stopped waiting for it.
 */
static pthread_mutex_t	 clients_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t	 clients_cv = PTHREAD_COND_INITIALIZER;
static struct admin_conn *queue;	/* accepted, waiting for a worker */
static int		 nclients;	/* accepted and not yet answered */
static int		 nqueued;	/* in queue */
static int		 nserving;	/* workers with a connection */
static int		 nworkers;	/* worker threads alive */
static int		 workers_stop;

/*
 * Commands that change the CA's configuration or the module host (reload,
 * exit-set...) run one at a time under cmd_mu; read-only commands and the
 * CA's own operations (also called by HTTP threads) never take it.
 */
static pthread_mutex_t	 cmd_mu = PTHREAD_MUTEX_INITIALIZER;

/*
 * The path bound, removed at stop: the config's may have been swapped by
 * a reload in a client thread since (ca_config is not read unlocked).
 */
static char		 bound_path[sizeof(((struct sockaddr_un *)0)->sun_path)];

static const char *const unserialised[] = {
	"status", "retrieve", "submit", "resubmit", "renew", "deny", "revoke",
	"unrevoke", "import", "crl", "exit-list", "exit-status", "exit-show",
	"policy-show",
	"shutdown",	/* only wakes the main loop: never behind a stuck reload */
};

/* Does cmd run under cmd_mu? Yes unless known not to need it. */
static int
cmd_serialised(const char *cmd)
{
	size_t	 i;

	for (i = 0; i < nitems(unserialised); i++)
		if (strcmp(unserialised[i], cmd) == 0)
			return 0;
	return 1;
}

/* A connection and the request read from it. */
struct admin_conn {
	struct admin_conn *next;	/* in queue */
	struct server	*srv;
	int		 fd;
	uid_t		 uid;
	int		 refused;	/* another user: answered, never run */
	struct buf	 b;
	uint64_t	 deadline;	/* time_mono_ns() */
};

/*
 * Read what the client has sent. Returns 1 when the request is complete
 * (a newline, or the end of the stream after some bytes), 0 to wait for
 * more, -1 when this connection carries no request: closed empty, failed,
 * or over ADMIN_MAX_REQUEST.
 */
static int
conn_read(struct admin_conn *c)
{
	char		 chunk[4096];
	ssize_t		 n;

	for (;;) {
		if ((n = read(c->fd, chunk, sizeof(chunk))) == -1) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? 0 : -1;
		}
		if (n == 0)
			return c->b.len > 0 ? 1 : -1;
		if (c->b.len + (size_t)n > ADMIN_MAX_REQUEST ||
		    buf_append(&c->b, chunk, (size_t)n) == -1)
			return -1;
		if (memchr(chunk, '\n', (size_t)n) != NULL)
			return 1;
	}
}

/* Write all of s, giving up on a client that does not read for a while. */
static void
write_all(int fd, const char *s, size_t len)
{
	struct pollfd	 pfd = { fd, POLLOUT, 0 };
	uint64_t	 end = time_mono_ns() + ADMIN_WRITE_MS * 1000000ull, now;
	ssize_t		 n;

	while (len > 0) {
		if ((n = write(fd, s, len)) == -1) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN || (now = time_mono_ns()) >= end ||
			    poll(&pfd, 1, (int)((end - now) / 1000000) + 1) <= 0)
				return;
			continue;
		}
		s += n;
		len -= (size_t)n;
	}
}

static void
send_answer(int fd, json_t *reply, int ok, const char *err,
    enum ca_status code)
{
	char	*out;

	json_object_set_new(reply, "ok", json_boolean(ok));
	if (!ok) {
		json_object_set_new(reply, "error", json_string_lossy(err));
		json_object_set_new(reply, "code", json_string(ca_status_code(code)));
	}
	if ((out = json_dumps(reply, JSON_COMPACT)) != NULL) {
		write_all(fd, out, strlen(out));
		write_all(fd, "\n", 1);
		free(out);
	}
}

/* Answer an error without running anything. */
static void
send_error(int fd, const char *err, enum ca_status code)
{
	json_t	*reply = json_object();

	send_answer(fd, reply, 0, err, code);
	json_decref(reply);
}

/* Run the request of c (complete or not: then say so) and answer it. */
static void
serve_request(struct server *srv, struct admin_conn *c, int complete)
{
	struct passwd	 pw, *pwp = NULL;
	char		 pwbuf[1024], officer[128], err[1024] = "";
	json_t		*req = NULL, *reply = json_object();
	json_error_t	 jerr;
	const char	*cmd;
	admin_handler	 fn;
	enum ca_status	 code = CA_E_INTERNAL;
	int		 ok = 0, serial;

	if (getpwuid_r(c->uid, &pw, pwbuf, sizeof(pwbuf), &pwp) == 0 &&
	    pwp != NULL)
		snprintf(officer, sizeof(officer), "%s", pw.pw_name);
	else
		snprintf(officer, sizeof(officer), "uid %d", (int)c->uid);
	if (c->refused) {
		snprintf(err, sizeof(err), "permission denied");
		code = CA_E_DENIED;
		goto answer;
	}
	if (!complete) {
		snprintf(err, sizeof(err), "no complete request (one JSON object "
		    "and a newline, at most 1 MiB, within 30 s)");
		code = CA_E_BADREQ;
		goto answer;
	}
	if ((req = json_loadb((const char *)c->b.data, c->b.len,
	    JSON_DISABLE_EOF_CHECK, &jerr)) == NULL || !json_is_object(req)) {
		snprintf(err, sizeof(err), "malformed request: %s",
		    req == NULL ? jerr.text : "expected a JSON object");
		code = CA_E_BADREQ;
		goto answer;
	}
	if ((cmd = json_string_value(json_object_get(req, "cmd"))) == NULL ||
	    (fn = find_handler(cmd)) == NULL) {
		snprintf(err, sizeof(err), "unknown command \"%s\"",
		    cmd ? cmd : "");
		code = CA_E_BADREQ;
		goto answer;
	}
	log_debug("admin: %s by %s", cmd, officer);
	if ((serial = cmd_serialised(cmd)))
		pthread_mutex_lock(&cmd_mu);
	ok = fn(srv, officer, req, reply, err, sizeof(err), &code) == 0;
	if (serial)
		pthread_mutex_unlock(&cmd_mu);
answer:
	send_answer(c->fd, reply, ok, err, code);
	json_decref(reply);
	json_decref(req);
}

/*
 * Read c's request until it is complete, the client's time is up or the
 * daemon stops (admin_stop[0] becomes readable, and stays so). Returns 1
 * when complete, 0 when not, -1 when the daemon stops.
 */
static int
conn_wait_request(struct admin_conn *c)
{
	struct pollfd	 pfd[2];
	uint64_t	 now;
	int		 rc;

	pfd[0].fd = c->srv->admin_stop[0];
	pfd[0].events = POLLIN;
	pfd[1].fd = c->fd;
	pfd[1].events = POLLIN;
	for (;;) {
		if ((now = time_mono_ns()) >= c->deadline)
			return 0;
		if (poll(pfd, 2, (int)((c->deadline - now) / 1000000) + 1) == -1) {
			if (errno == EINTR)
				continue;
			return 0;
		}
		if (pfd[0].revents)
			return -1;
		if (pfd[1].revents && (rc = conn_read(c)) != 0)
			return rc == 1;
	}
}

/* Serve one connection: read its request, run it, answer, close. */
static void
conn_serve(struct admin_conn *c)
{
	int	 rc;

	if ((rc = conn_wait_request(c)) == -1)
		send_error(c->fd, "certmintd is stopping", CA_E_SHUTDOWN);
	else
		serve_request(c->srv, c, rc);
	close(c->fd);
	buf_free(&c->b);
	free(c);
}

/*
 * A worker: serve the queued connections one after the other until
 * admin_stop. Its database reader is opened first, under the config lock:
 * a reload in another worker swaps the config that ca_reader reads.
 */
static void *
worker_main(void *arg)
{
	struct server	*srv = arg;
	struct admin_conn *c;

	ca_config_lock(srv->ca);
	(void)ca_reader(srv->ca);
	ca_config_unlock(srv->ca);
	pthread_mutex_lock(&clients_mu);
	for (;;) {
		while (queue == NULL && !workers_stop)
			pthread_cond_wait(&clients_cv, &clients_mu);
		if ((c = queue) == NULL)
			break;
		queue = c->next;
		nqueued--;
		nserving++;
		pthread_mutex_unlock(&clients_mu);
		conn_serve(c);
		pthread_mutex_lock(&clients_mu);
		nserving--;
		nclients--;
	}
	/* The last thing done: admin_stop may return once it is seen. */
	nworkers--;
	pthread_mutex_unlock(&clients_mu);
	return NULL;
}

/* Start a worker (clients_mu held). 0 or -1. */
static int
worker_start(struct server *srv)
{
	pthread_attr_t	 attr;
	pthread_t	 t;
	int		 rc;

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if ((rc = pthread_create(&t, &attr, worker_main, srv)) == 0)
		nworkers++;
	pthread_attr_destroy(&attr);
	return rc == 0 ? 0 : -1;
}

/*
 * Queue c for a worker, starting one if none is free. Returns 0, or -1
 * when over ADMIN_MAX_CLIENTS (c is not queued).
 */
static int
conn_queue(struct server *srv, struct admin_conn *c)
{
	struct admin_conn **pp;

	pthread_mutex_lock(&clients_mu);
	if (nclients >= ADMIN_MAX_CLIENTS) {
		pthread_mutex_unlock(&clients_mu);
		return -1;
	}
	for (pp = &queue; *pp != NULL; pp = &(*pp)->next)
		;
	*pp = c;
	nclients++;
	nqueued++;
	/* Every queued connection has a worker free for it. */
	if (nworkers - nserving < nqueued && worker_start(srv) == -1 &&
	    nworkers == 0)
		log_err("admin socket: cannot start a worker thread");
	pthread_cond_signal(&clients_cv);
	pthread_mutex_unlock(&clients_mu);
	return 0;
}

/*
 * Accept a connection and queue it for a worker; over ADMIN_MAX_CLIENTS
 * answer it "busy" and close it instead. Another user than ours and root
 * is marked refused: its request is read like any other (so that it can
 * hear the answer rather than a broken pipe), then answered "permission
 * denied".
 */
static void
conn_accept(struct server *srv)
{
	struct admin_conn *c;
	struct ucred	 cred;
	socklen_t	 clen = sizeof(cred);
	char		 err[128], drain[4096];
	int		 fd, i;

	if ((fd = accept4(srv->admin_fd, NULL, NULL,
	    SOCK_CLOEXEC | SOCK_NONBLOCK)) == -1)
		return;
	c = xcalloc(1, sizeof(*c));
	c->srv = srv;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) == -1 ||
	    (cred.uid != geteuid() && cred.uid != 0)) {
		log_warn("admin socket: refused a connection from uid %d",
		    clen == sizeof(cred) ? (int)cred.uid : -1);
		c->refused = 1;
		cred.uid = (uid_t)-1;
	}
	c->fd = fd;
	c->uid = cred.uid;
	c->deadline = time_mono_ns() + ADMIN_TIMEOUT_MS * 1000000ull;
	if (conn_queue(srv, c) == 0)
		return;
	/* Unread bytes at close would reset the answer away. */
	for (i = 0; i < 16 && read(fd, drain, sizeof(drain)) > 0; i++)
		;
	snprintf(err, sizeof(err), "busy: %d admin clients are being served, "
	    "try again", ADMIN_MAX_CLIENTS);
	send_error(fd, err, CA_E_CONFLICT);
	close(fd);
	free(c);
}

/* Accept clients until admin_stop. */
static void *
admin_main(void *arg)
{
	struct server	*srv = arg;
	struct pollfd	 pfd[2];

	pfd[0].fd = srv->admin_stop[0];
	pfd[0].events = POLLIN;
	pfd[1].fd = srv->admin_fd;
	pfd[1].events = POLLIN;
	for (;;) {
		if (poll(pfd, 2, -1) == -1) {
			if (errno == EINTR)
				continue;
			log_err("admin socket: poll: %s", strerror(errno));
			break;
		}
		if (pfd[0].revents)
			break;
		if (pfd[1].revents & POLLIN)
			conn_accept(srv);
	}
	return NULL;
}

/*
 * Stop the workers and wait (by polling, as dispatch.c's slot_join does)
 * until each has ended, or until deadline (time_mono_ns). Returns the
 * number still running.
 */
static int
workers_wait(uint64_t deadline)
{
	struct timespec	 nap = { 0, 5 * 1000000L };
	int		 n;

	pthread_mutex_lock(&clients_mu);
	workers_stop = 1;
	pthread_cond_broadcast(&clients_cv);
	pthread_mutex_unlock(&clients_mu);
	for (;;) {
		pthread_mutex_lock(&clients_mu);
		n = nworkers;
		pthread_mutex_unlock(&clients_mu);
		if (n == 0 || time_mono_ns() >= deadline)
			return n;
		nanosleep(&nap, NULL);
	}
}

/*
 * Remove a socket file left by a daemon that died, but never one that a
 * running daemon answers on.
 */
static int
clear_stale_socket(const struct sockaddr_un *sun, char *err, size_t errlen)
{
	struct stat	 st;
	int		 fd;

	if (lstat(sun->sun_path, &st) == -1)
		return 0;
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "%s exists and is not a socket",
		    sun->sun_path);
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) != -1) {
		if (connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) == 0) {
			close(fd);
			snprintf(err, errlen, "another certmintd is answering on %s",
			    sun->sun_path);
			return -1;
		}
		close(fd);
	}
	return unlink(sun->sun_path);
}

int
admin_start(struct server *srv, char *err, size_t errlen)
{
	const char	*path = ca_config(srv->ca)->admin_socket;
	struct sockaddr_un sun;
	mode_t		 old;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "admin socket path too long: %s", path);
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	memcpy(bound_path, path, strlen(path) + 1);
	if (clear_stale_socket(&sun, err, errlen) == -1)
		return -1;
	if (pipe2(srv->admin_stop, O_CLOEXEC) == -1 ||
	    (srv->admin_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		snprintf(err, errlen, "admin socket: %s", strerror(errno));
		return -1;
	}
	/* Owner-only from the first instant: no window with looser modes. */
	old = umask(0177);
	if (bind(srv->admin_fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		umask(old);
		snprintf(err, errlen, "admin socket %s: %s", path, strerror(errno));
		return -1;
	}
	umask(old);
	if (chmod(path, 0600) == -1 || listen(srv->admin_fd, ADMIN_BACKLOG) == -1) {
		snprintf(err, errlen, "admin socket %s: %s", path, strerror(errno));
		return -1;
	}
	if (pthread_create(&srv->admin_thread, NULL, admin_main, srv) != 0) {
		snprintf(err, errlen, "cannot start the admin thread");
		return -1;
	}
	srv->admin_running = 1;
	return 0;
}

/*
 * Stop accepting, tell the clients still sending that the daemon stops,
 * and give the commands under way ADMIN_STOP_MS to answer. A client thread
 * still in a command then (one blocked in a stuck exit module) is left
 * behind, as dispatch.c leaves a module stuck in notify: its pipe stays
 * open for it, and the process ends around it.
 */
void
admin_stop(struct server *srv)
{
	int	 left = 0;

	if (srv->admin_running) {
		if (write(srv->admin_stop[1], "x", 1) != 1)
			log_warn("admin socket: cannot wake the admin thread");
		pthread_join(srv->admin_thread, NULL);
		srv->admin_running = 0;
		unlink(bound_path);
		if ((left = workers_wait(time_mono_ns() +
		    ADMIN_STOP_MS * 1000000ull)) > 0)
			log_err("admin socket: %d command(s) still running after "
			    "%d ms: leaving them", left, ADMIN_STOP_MS);
	}
	if (srv->admin_fd > 0)
		close(srv->admin_fd);
	srv->admin_fd = -1;
	if (left > 0)
		return;		/* the pipe stays theirs */
	if (srv->admin_stop[0] > 0) {
		close(srv->admin_stop[0]);
		close(srv->admin_stop[1]);
	}
	srv->admin_stop[0] = srv->admin_stop[1] = -1;
}
