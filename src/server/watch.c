/*
 * watch.c - deadlines for slow clients (issue 11 section 4), apart from
 * the rest of the HTTP server (http.c). MHD's idle timeout closes a
 * connection that sends nothing, but a client that trickles a byte a
 * second is never idle and would hold its connection for ever: a
 * thousand of them took every connection. So each connection has a
 * deadline: its request line and headers are complete within [server]
 * header_timeout of its accept (on a kept-alive connection, of the end
 * of its previous request), its body within body_timeout of the end of
 * its headers. A watchdog thread shuts down the socket of a connection
 * past its deadline; MHD then reads the end of the stream and closes the
 * connection on its own thread, as MHD_stop_daemon does with shutdown().
 * No 408 is sent: MHD 0.9.75 queues a response only before the body is
 * read or after all of it, and never from another thread.
 *
 * A connection whose client left while it waited in the listen queue
 * (a flood past max_connections) is closed at its accept instead
 * (watch_notify), and one whose client left just after it within a tick
 * or two (watch_run): MHD 0.9.75 reads what the client sent, stops at a
 * short read and, its socket edge-triggered in epoll, never sees the end
 * of the stream that came with it, so each such connection held its place
 * until header_timeout and new clients queued behind them.
 */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "server.h"
#include "watch.h"
struct watch_conn {
	struct watch_conn *prev, *next;
	int		 fd;
	enum watch_phase phase;
	int64_t		 since;		/* clock_ns() the phase began */
	int64_t		 deadline;	/* clock_ns() */
	int		 shut;		/* shut down, not closed by MHD yet */
	int		 kept;		/* kept alive after a request */
	int		 started;	/* the next request line came (watch_uri) */
	int		 gone;		/* its client left before the accept */
};

struct http_watch {
	/*
	 * Guards everything below. NOTIFY_CLOSED unlinks a connection under
	 * it before MHD closes the socket, so the watchdog never shuts down
	 * a descriptor that was closed and reused for something else.
	 */
	pthread_mutex_t	 mu;
	pthread_cond_t	 wake;		/* signalled to stop */
	struct watch_conn *head;
	int		 timeout[WATCH__MAX];	/* seconds, from the config */
	int64_t		 closed[WATCH__MAX];	/* since the last log line */
	int64_t		 closed_idle;	/* of those, kept alive and idle */
	int64_t		 closed_gone;	/* at accept, their client gone */
	int64_t		 logged_at;	/* clock_ns() of the last one, or 0 */
	int		 stop;
	int		 running;
	pthread_t	 thread;
};

#define WATCH_NS_PER_S		1000000000LL
/* At most a line a minute per cause, so that a flood does not flood. */
#define WATCH_LOG_EVERY_NS	(60 * WATCH_NS_PER_S)
/*
 * A client gone before its accept sent all it ever will, and MHD has
 * it: a second for each phase is plenty, and it frees the place sooner.
 */
#define WATCH_GONE_NS		WATCH_NS_PER_S
/* As much of a gone client's request as is looked at for its end. */
#define WATCH_PEEK		16384

enum peer_state {
	PEER_HERE,		/* connected, or nothing to tell */
	PEER_LEFT_AFTER_HEAD,	/* left after a whole request head */
	PEER_LEFT		/* left with no request that can complete */
};

/* The deadline of phase for e, from since. */
static int64_t
watch_deadline(const struct http_watch *w, const struct watch_conn *e,
    enum watch_phase phase)
{
	if (phase == WATCH_NONE)
		return 0;
	return e->since + (e->gone ? WATCH_GONE_NS :
	    w->timeout[phase] * WATCH_NS_PER_S);
}

/* Start phase on the connection of c (none when it is not watched). */
void
watch_set(struct http_watch *w, struct MHD_Connection *c,
    enum watch_phase phase)
{
	const union MHD_ConnectionInfo *ci;
	struct watch_conn *e;

	if (w == NULL || (ci = MHD_get_connection_info(c,
	    MHD_CONNECTION_INFO_SOCKET_CONTEXT)) == NULL ||
	    (e = ci->socket_context) == NULL)
		return;
	pthread_mutex_lock(&w->mu);
	e->phase = phase;
	/* After accept, only a request's end sets HEADERS (keep-alive). */
	if (phase == WATCH_HEADERS) {
		e->kept = 1;
		e->started = 0;
	}
	e->since = clock_ns();
	e->deadline = watch_deadline(w, e, phase);
	/*
	 * A client gone before the accept that is answered (one that
	 * half-closes after its request) sends no other request: closed
	 * now, not at the next request's deadline.
	 */
	if (phase == WATCH_HEADERS && e->gone && !e->shut) {
		e->shut = 1;
		(void)shutdown(e->fd, SHUT_RDWR);
	}
	pthread_mutex_unlock(&w->mu);
}

/*
 * MHD_OPTION_URI_LOG_CALLBACK: c's request line came. A kept-alive
 * connection closed at the headers' deadline before its next request line,
 * and quiet since its last request (quiet_for), was idle between two
 * requests (a client thinking, lego making an RSA key), not trickling.
 * Returns the request's first context: none.
 */
void *
watch_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
	struct http_watch *w = cls;
	const union MHD_ConnectionInfo *ci;
	struct watch_conn *e;

	(void)uri;
	if (w != NULL && (ci = MHD_get_connection_info(c,
	    MHD_CONNECTION_INFO_SOCKET_CONTEXT)) != NULL &&
	    (e = ci->socket_context) != NULL) {
		pthread_mutex_lock(&w->mu);
		e->started = 1;
		pthread_mutex_unlock(&w->mu);
	}
	return NULL;
}

/* Has the client of fd shut down its side or reset the connection? */
static int
peer_closed(int fd, int *reset)
{
	struct pollfd	 pfd;

	pfd.fd = fd;
	pfd.events = POLLIN | POLLRDHUP;
	pfd.revents = 0;
	if (poll(&pfd, 1, 0) != 1)
		return 0;
	if (reset != NULL)
		*reset = (pfd.revents & (POLLHUP | POLLERR)) != 0;
	return (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

/*
 * Had the client of fd, just accepted, left already (shut down its side
 * or reset the connection)? A client that half-closes after a whole
 * request head may still read its answer; from any other, nothing that
 * came can complete a request. A head longer than WATCH_PEEK, or a TLS
 * record that happens to hold an empty line, counts as whole: those get
 * WATCH_GONE_NS.
 */
static enum peer_state
peer_state(int fd)
{
	char		 buf[WATCH_PEEK];
	ssize_t		 n;
	int		 reset;

	if (!peer_closed(fd, &reset))
		return PEER_HERE;
	if (reset)
		return PEER_LEFT;
	n = recv(fd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT);
	if (n == (ssize_t)sizeof(buf) || (n > 0 &&
	    (memmem(buf, (size_t)n, "\r\n\r\n", 4) != NULL ||
	    memmem(buf, (size_t)n, "\n\n", 2) != NULL)))
		return PEER_LEFT_AFTER_HEAD;
	return PEER_LEFT;
}

/*
 * MHD_OPTION_NOTIFY_CONNECTION: a connection accepted is watched from
 * then, or shut down at once when its client already left without a
 * request that could be answered (MHD then sees the end of the stream
 * when it adds the socket to epoll); one closed leaves the table before
 * MHD closes its socket.
 */
void
watch_notify(void *cls, struct MHD_Connection *c, void **socket_context,
    enum MHD_ConnectionNotificationCode code)
{
	struct http_watch *w = cls;
	const union MHD_ConnectionInfo *ci;
	struct watch_conn *e;
	enum peer_state	 peer;

	if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
		if ((e = *socket_context) == NULL)
			return;
		pthread_mutex_lock(&w->mu);
		if (e->prev != NULL)
			e->prev->next = e->next;
		else
			w->head = e->next;
		if (e->next != NULL)
			e->next->prev = e->prev;
		pthread_mutex_unlock(&w->mu);
		free(e);
		*socket_context = NULL;
		return;
	}
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (ci == NULL)
		return;
	if ((peer = peer_state(ci->connect_fd)) == PEER_LEFT) {
		(void)shutdown(ci->connect_fd, SHUT_RDWR);
		pthread_mutex_lock(&w->mu);
		w->closed_gone++;
		pthread_mutex_unlock(&w->mu);
		return;
	}
	/* Out of memory: this one connection has only the idle timeout. */
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return;
	e->fd = ci->connect_fd;
	e->phase = WATCH_HEADERS;
	e->gone = peer == PEER_LEFT_AFTER_HEAD;
	e->since = clock_ns();
	e->deadline = watch_deadline(w, e, WATCH_HEADERS);
	pthread_mutex_lock(&w->mu);
	e->next = w->head;
	if (w->head != NULL)
		w->head->prev = e;
	w->head = e;
	pthread_mutex_unlock(&w->mu);
	*socket_context = e;
}

/*
 * Log what the watchdog closed since the last line, if a minute has
 * passed since it (or always, when force). Called with mu held; drops
 * it while it logs.
 */
static void
watch_log(struct http_watch *w, int64_t now, int force)
{
	static const char *const what[] = { "headers", "body" };
	int64_t		 n[WATCH_NONE], idle, gone;
	int		 i, t[WATCH_NONE];

	if (w->closed[WATCH_HEADERS] + w->closed[WATCH_BODY] +
	    w->closed_gone == 0 ||
	    (!force && w->logged_at != 0 &&
	    now - w->logged_at < WATCH_LOG_EVERY_NS))
		return;
	for (i = 0; i < WATCH_NONE; i++) {
		n[i] = w->closed[i];
		t[i] = w->timeout[i];
		w->closed[i] = 0;
	}
	idle = w->closed_idle;
	w->closed_idle = 0;
	gone = w->closed_gone;
	w->closed_gone = 0;
	n[WATCH_HEADERS] -= idle;
	w->logged_at = now;
	pthread_mutex_unlock(&w->mu);
	/* Keep-alive's end, no trouble. */
	if (idle > 0)
		log_info("http: closed %" PRId64 " kept-alive connection%s "
		    "idle for %d s", idle, idle == 1 ? "" : "s",
		    t[WATCH_HEADERS]);
	/* Info: a flood went by, and its places are free again. */
	if (gone > 0)
		log_info("http: closed %" PRId64 " connection%s whose client "
		    "left before its request was read", gone,
		    gone == 1 ? "" : "s");
	for (i = 0; i < WATCH_NONE; i++)
		if (n[i] > 0)
			log_warn("http: closed %" PRId64 " connection%s: %s not "
			    "complete within %d s", n[i], n[i] == 1 ? "" : "s",
			    what[i], t[i]);
	pthread_mutex_lock(&w->mu);
}

/*
 * Has the peer of fd sent nothing for the last ns nanoseconds? TCP_INFO's
 * time since data last came (a tick of slack): a kept-alive client that
 * trickles its next request line is not idle, though MHD has not seen a
 * whole line yet. Not TCP, or no answer: it has sent something.
 */
static int
quiet_for(int fd, int64_t ns)
{
	struct tcp_info	 ti;
	socklen_t	 len = sizeof(ti);

	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == -1 ||
	    len < offsetof(struct tcp_info, tcpi_last_data_recv) +
	    sizeof(ti.tcpi_last_data_recv))
		return 0;
	return (int64_t)ti.tcpi_last_data_recv + 20 >= ns / 1000000;
}

/*
 * The watchdog: once a second, shut down the connections past their
 * deadline. Ends when http_stop sets stop.
 */
static void *
watch_run(void *arg)
{
	struct http_watch *w = arg;
	struct watch_conn *e;
	struct timespec	 ts;
	int64_t		 now;
	int		 idle;

	pthread_mutex_lock(&w->mu);
	while (!w->stop) {
		now = clock_ns();
		for (e = w->head; e != NULL; e = e->next) {
			if (e->phase == WATCH_NONE || e->shut)
				continue;
			/*
			 * A client that left between its accept and MHD's
			 * first read: MHD may have missed that end too.
			 */
			if (!e->gone && peer_closed(e->fd, NULL)) {
				e->gone = 1;
				if (e->deadline > now + WATCH_GONE_NS)
					e->deadline = now + WATCH_GONE_NS;
			}
			if (now < e->deadline)
				continue;
			e->shut = 1;
			idle = e->phase == WATCH_HEADERS && e->kept &&
			    !e->started && quiet_for(e->fd, now - e->since);
			if (shutdown(e->fd, SHUT_RDWR) != 0)
				continue;
			if (e->gone) {
				w->closed_gone++;
			} else {
				w->closed[e->phase]++;
				w->closed_idle += idle;
			}
		}
		watch_log(w, now, 0);
		/* A tick a second: a connection lasts up to 1 s too long. */
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += 1;
		while (!w->stop && pthread_cond_timedwait(&w->wake, &w->mu,
		    &ts) == 0)
			;
	}
	watch_log(w, clock_ns(), 1);
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/* Stop the watchdog, if it runs; connections are left to MHD. */
void
watch_stop(struct http_watch *w)
{
	if (w == NULL || !w->running)
		return;
	pthread_mutex_lock(&w->mu);
	w->stop = 1;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	w->running = 0;
}

/*
 * Stop the watchdog if it still runs and free w: once MHD is stopped
 * (it notified every close) or never started.
 */
void
watch_free(struct http_watch *w)
{
	struct watch_conn *e;

	if (w == NULL)
		return;
	watch_stop(w);
	while ((e = w->head) != NULL) {
		w->head = e->next;
		free(e);
	}
	pthread_cond_destroy(&w->wake);
	pthread_mutex_destroy(&w->mu);
	free(w);
}

/*
 * A watch of cfg's header_timeout and body_timeout with its watchdog
 * running, or NULL with err.
 */
struct http_watch *
watch_start(const struct cm_config *cfg, char *err, size_t errlen)
{
	struct http_watch *w;
	pthread_condattr_t ca;
	int		 rc;

	if ((w = calloc(1, sizeof(*w))) == NULL) {
		snprintf(err, errlen, "http: out of memory");
		return NULL;
	}
	w->timeout[WATCH_HEADERS] = cfg->header_timeout;
	w->timeout[WATCH_BODY] = cfg->body_timeout;
	pthread_mutex_init(&w->mu, NULL);
	/* Monotonic: a clock set back must not stretch a tick. */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->wake, &ca);
	pthread_condattr_destroy(&ca);
	if ((rc = pthread_create(&w->thread, NULL, watch_run, w)) != 0) {
		snprintf(err, errlen, "http: cannot start the watchdog: %s",
		    strerror(rc));
		watch_free(w);
		return NULL;
	}
	w->running = 1;
	return w;
}

/*
 * The request's headers announce a body (RFC 9112 6.3): Content-Length
 * other than 0, or a Transfer-Encoding.
 */
int
watch_has_body(struct MHD_Connection *c)
{
	const char	*len;

	if (MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_TRANSFER_ENCODING) != NULL)
		return 1;
	len = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_LENGTH);
	return len != NULL && strcmp(len, "0") != 0;
}

