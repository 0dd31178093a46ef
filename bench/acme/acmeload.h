/*
 * acmeload.h - what acmeload's files share: acmeload.c (options, workers,
 * the orders), responders.c (the http-01 and DNS responders), http.c (its
 * HTTP/1.1 client).
 */
#ifndef ACMELOAD_H
#define ACMELOAD_H

#include <stdatomic.h>
#include <stddef.h>

#include <openssl/ssl.h>

#define TOKEN_MAX	128
#define KEYAUTH_MAX	256
#define IO_TIMEOUT	10	/* s without an answer: the server is stuck */

/* acmeload.c: options and counters */
extern int		 debug, resp_port, dns_port;
extern char		 origin[256], host[200];	/* the server's */
extern int		 port, use_tls;
extern SSL_CTX		*ssl_ctx;
extern atomic_long	 nrequests, nconnects;
extern atomic_int	 stuck;

double	 now(void);
/* Print the first few failures in full: they are what a report needs. */
void	 fail_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* responders.c: an http-01 answer, in the table while its order runs */
struct tok {
	struct tok	*next;
	char		 token[TOKEN_MAX];
	char		 keyauth[KEYAUTH_MAX];
};
extern atomic_long	 nserved;	/* challenge fetches answered */

void	 tok_put(struct tok *);
void	 tok_del(struct tok *);
int	 responder_start(void);
int	 dns_start(void);

/* http.c: HTTP/1.1 over one keep-alive connection */
struct conn {
	int		 fd;
	SSL		*ssl;
	SSL_SESSION	*sess;
	char		*buf;		/* received, not yet consumed */
	size_t		 len, cap;
};

struct resp {
	int	 status;
	int	 close;
	char	 location[512];
	char	 nonce[256];
	char	*body;		/* NUL-terminated; owned by the caller */
	size_t	 blen;
};

void	 conn_close(struct conn *);
int	 http_do(struct conn *, const char *method, const char *path,
	    const char *body, size_t blen, struct resp *);

#endif
