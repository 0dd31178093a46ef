/*
 * server.h - certmintd: the HTTP front end, the admin socket and the main
 * loop that ties them to the CA.
 */
#ifndef CM_SERVER_H
#define CM_SERVER_H

#include <pthread.h>
#include <stdatomic.h>

#include <jansson.h>

#include "../ca/ca.h"

struct MHD_Daemon;
struct http_watch;
struct acme;

/*
 * One HTTP listener: the plain one ([server] port) or the HTTPS one
 * (tls_port); what the first may serve depends on [server] plain_api.
 */
struct http_listener {
	struct server		*srv;
	int			 tls;
};

/* Requests from the admin socket to the main loop. */
#define SERVER_WAKE_STOP	's'
#define SERVER_WAKE_DAMAGED	'd'	/* the database check failed */

struct server {
	struct ca		*ca;
	struct exit_host	*exits;
	struct policy_host	*policy;	/* swapped by reload under modules_mu */
	pthread_mutex_t		 modules_mu;
	struct MHD_Daemon	*mhd;
	struct http_watch	*watch;		/* http.c: header and body deadlines */
	int			 http_fd;	/* bound by http_bind, until http_start */
	struct MHD_Daemon	*tls_mhd;	/* [server] tls_port, or NULL */
	int			 tls_fd;	/* as http_fd */
	struct http_listener	 plain_l, tls_l;
	unsigned int		 max_connections;	/* per listener (listen.c) */
	int			 admin_fd;
	pthread_t		 admin_thread;
	int			 admin_running;
	int			 admin_stop[2];	/* pipe: stops the admin thread */
	int			 wake[2];	/* pipe: admin -> main loop */
	atomic_int		 stopping;
	atomic_int		 submitting;	/* suspended, waiting for a commit */
	/* REST submissions refused 401 since start: logged, never recorded. */
	atomic_llong		 unauthenticated;
	/*
	 * REST renewals refused before the old key was proven (unknown
	 * serial, bad signature...) since start: logged, never recorded.
	 */
	atomic_llong		 unproven_renewals;
	struct acme		*acme;		/* [acme] enabled, else NULL */
	char			 listen_desc[128];	/* "127.0.0.1:8080" */
	char			 tls_desc[128];	/* "127.0.0.1:8443", "" */
};

/* main.c: reread the config, switch the policy and exit modules. */
/*
 * Reread the config; -1 with err when nothing was applied. What did not
 * apply while the rest did (ACME settings, the HTTPS certificate) is
 * logged and, when warnings is not NULL, appended to it (strings); what
 * the config makes of the CA that its operator may not mean (config_warn:
 * anonymous enrollment, a base_url on another port, a file cut short) is
 * logged and appended to notes, when not NULL.
 */
int	 server_reload(struct server *, char *err, size_t errlen,
	    json_t *warnings, json_t *notes);
/* What a reload did not apply: logged, and added to warnings (if any). */
void	 reload_unapplied(json_t *warnings, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

/* listen.c: the listeners and their libmicrohttpd daemons */
int	 http_bind(struct server *, char *err, size_t errlen);
int	 http_start(struct server *, char *err, size_t errlen);
void	 http_stop(struct server *);
/* On reload: a renewed HTTPS certificate, for the next connections. */
int	 http_reload_tls(struct server *, char *err, size_t errlen);

/* admin.c */
int	 admin_start(struct server *, char *err, size_t errlen);
void	 admin_stop(struct server *);

/*
 * An admin command handler: args is the request object; fill *reply (an
 * object, "ok" is added by the caller) or return -1 with a message in err
 * and its code (ca_status_code) in code.
 */
typedef int (*admin_handler)(struct server *, const char *officer,
    json_t *args, json_t *reply, char *err, size_t errlen,
    enum ca_status *code);
/* Add a command (the exit-module host adds "exit-*"). Before admin_start. */
int	 admin_register(const char *cmd, admin_handler);
/* admin_ca.c: the CA's own commands, which admin.c looks up first. */
struct admin_cmd {
	const char	*name;
	admin_handler	 fn;
};
extern const struct admin_cmd admin_ca_cmds[];
extern const size_t admin_ca_ncmds;

/* exit_admin.c */
struct exit_host;
struct policy_host;
void	 exit_admin_register(struct exit_host *, struct policy_host *);

/* Turn a ca_result into the admin/REST request object (with PEM). */
json_t	*result_request_json(struct server *, const struct ca_result *, int pem);

#endif /* CM_SERVER_H */
