/*
 * httppost.h - one HTTP(S) POST over a pooled libcurl handle, shared by
 * CertMint_Webhook.Exit and Lua's certmint.http_post (docs/lua.md). Only
 * http and https, redirects never followed, the certificate always
 * verified; each pooled handle keeps its connections alive.
 *
 * The caller has run curl_global_init.
 */
#ifndef CM_HTTPPOST_H
#define CM_HTTPPOST_H

#include <stddef.h>

#include <curl/curl.h>

struct hp_pool;
struct hp_pool	*hp_pool_new(void);
void		 hp_pool_free(struct hp_pool *);

struct hp_request {
	const char	*url;
	const struct curl_slist *headers;	/* may be NULL */
	const char	*body;
	size_t		 len;
	const char	*user_agent;
	const char	*ca_file;		/* NULL: the system's */
	const char	*client_cert, *client_key;	/* NULL: none */
	long long	 connect_timeout_ms, timeout_ms;
	size_t		 keep;		/* response bytes kept, the rest read */
	int		 printable;	/* keep only printable ASCII */
};

struct hp_response {
	long		 status;	/* HTTP status, 0 when none arrived */
	long long	 retry_after;	/* seconds, -1 when not given */
	int		 connects;	/* new connections the request made */
	int		 truncated;	/* the body was longer than keep */
	char		*body;		/* the kept body, NUL-terminated */
	size_t		 len;
	char		 error[CURL_ERROR_SIZE];	/* when status is 0 */
};

/*
 * POST req with a handle of pool. Returns 0 when a response arrived
 * (r->status), -1 otherwise (r->error). Free r with hp_response_free.
 */
int		 hp_post(struct hp_pool *, const struct hp_request *,
		    struct hp_response *);
void		 hp_response_free(struct hp_response *);

#endif /* CM_HTTPPOST_H */
