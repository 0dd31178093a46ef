/*
 * http.h - what listen.c hands libmicrohttpd from http.c: the access
 * handler and the completion callback of a listener (cls: its struct
 * http_listener).
 */
#ifndef CM_HTTP_H
#define CM_HTTP_H

#include <stddef.h>

#include <microhttpd.h>

enum MHD_Result	http_access(void *cls, struct MHD_Connection *,
	    const char *url, const char *method, const char *version,
	    const char *upload_data, size_t *upload_size, void **con_cls);
void	 http_request_done(void *cls, struct MHD_Connection *, void **con_cls,
	    enum MHD_RequestTerminationCode);

#endif /* CM_HTTP_H */
