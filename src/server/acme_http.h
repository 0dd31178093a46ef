/*
 * acme_http.h - the ACME server on libmicrohttpd (acme_http.c): http.c
 * starts it with its listeners and hands it every request under /acme/.
 */
#ifndef CM_ACME_HTTP_H
#define CM_ACME_HTTP_H

#include <stddef.h>

#include <jansson.h>
#include <microhttpd.h>

#include "../acme/acme.h"

struct server;

/* [server] threads = 0: the pool of the listener serving ACME, at least */
#define ACME_HTTP_THREADS	32

/* [acme] enabled: start (srv->acme, NULL when off). 0, or -1 with err. */
int	 acme_http_start(struct server *, char *err, size_t errlen);
void	 acme_http_stop(struct server *);
/*
 * After a reload: apply the new [acme] settings (logs what it did); what
 * does not apply is also added to warnings (NULL: not).
 */
void	 acme_http_reload(struct server *, json_t *warnings);
/*
 * Answer a request under /acme/ whose whole body is body; or, for an
 * answer that waits (a challenge POST, for its validation), suspend the
 * connection with *waitp set, and MHD calls the handler again when it is
 * due: then acme_http_resumed answers.
 */
enum MHD_Result acme_http_answer(struct server *, struct MHD_Connection *,
	    const char *url, const char *method, const void *body, size_t len,
	    int too_large, struct acme_wait **waitp);
enum MHD_Result acme_http_resumed(struct server *, struct MHD_Connection *,
	    struct acme_wait **waitp);
/* The connection of *waitp closed before its answer. */
void	 acme_http_dropped(struct server *, struct acme_wait **waitp);

#endif /* CM_ACME_HTTP_H */
