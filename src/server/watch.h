/*
 * watch.h - the deadlines of HTTP connections (watch.c): a connection's
 * headers within [server] header_timeout of its accept, its body within
 * body_timeout of its headers, or a watchdog thread shuts it down; one
 * whose client already left, at once.
 */
#ifndef CM_WATCH_H
#define CM_WATCH_H

#include <microhttpd.h>

#include "../common/config.h"

enum watch_phase {
	WATCH_HEADERS,		/* reading the request line and headers */
	WATCH_BODY,		/* reading the body */
	WATCH_NONE,		/* answering or suspended: no deadline */
	WATCH__MAX
};

struct http_watch;

/* Start the watchdog with cfg's timeouts; NULL with err on failure. */
struct http_watch *watch_start(const struct cm_config *, char *err,
	    size_t errlen);
/* Stop its thread (after MHD_stop_daemon's connections are gone: free). */
void	 watch_stop(struct http_watch *);
void	 watch_free(struct http_watch *);
/* MHD_OPTION_NOTIFY_CONNECTION, with the watch as its closure. */
void	 watch_notify(void *cls, struct MHD_Connection *,
	    void **socket_context, enum MHD_ConnectionNotificationCode);
/* MHD_OPTION_URI_LOG_CALLBACK, with the watch as its closure. */
void	*watch_uri(void *cls, const char *uri, struct MHD_Connection *c);
/* Connection c's deadline is now that of phase (from now). */
void	 watch_set(struct http_watch *, struct MHD_Connection *c,
	    enum watch_phase);
/* Do c's request headers announce a body (RFC 9112 6.3)? */
int	 watch_has_body(struct MHD_Connection *c);

#endif /* CM_WATCH_H */
