/*
 * cli.h - the certmint command line tool: commands talk to certmintd over
 * its admin socket (docs/admin-protocol.md), except init, install-ca-cert,
 * view, exit register/unregister and exit test, which work on the files.
 */
#ifndef CM_CLI_H
#define CM_CLI_H

#include <jansson.h>

#include "../common/common.h"
#include "../common/config.h"

/* Exit codes. */
#define CLI_OK		0
#define CLI_FAIL	1	/* the CA refused or an operation failed */
#define CLI_USAGE	2
#define CLI_PENDING	3	/* the request is pending: an officer decides */

struct cli {
	const char	*config_path;
	int		 json;		/* --json: print the daemon's answers */
};

/*
 * Send {"cmd": cmd, ...args} to the daemon (args is stolen, may be NULL)
 * and return the answer when it says "ok": true. Otherwise print the error
 * and return NULL.
 */
json_t	*admin_call(const struct cli *, const char *cmd, json_t *args);
/* The "code" of the last refusal admin_call printed ("" if none). */
const char *admin_code(void);
/* Is a certmintd answering on cfg's admin socket? */
int	 cli_daemon_running(const struct cm_config *);
/*
 * Write der as PEM to path, which must not exist yet: nothing there, not
 * even a link, is written over or followed. On error print it, return -1.
 */
int	 cli_write_new(const char *path, const char *label,
	    const unsigned char *der, size_t len, mode_t mode);
/*
 * --key-type TYPE and --days N of init and ca renew: 0, or -1 having
 * printed why.
 */
int	 cli_key_type(const char *arg, enum key_type *);
/* DAYS of option opt (1 to 36500), or -1 said. */
int	 cli_days(const char *opt, const char *arg, int64_t *days);
/* Load the config file; on error print it and return -1. */
int	 cli_config(const struct cli *, struct cm_config *);
/* Print a JSON value, indented, on stdout. */
void	 print_json(const json_t *);
/*
 * s as a terminal may show it: control characters (C0, DEL, C1) written
 * as \xNN or \uNNNN, so that a requester's text cannot move the cursor
 * or retitle the window. One of 4 static buffers, in turn; at most about
 * 4 KiB. NULL gives "".
 */
const char *term_safe(const char *s);
/* Print a request object for a person. */
void	 print_request(const json_t *);
/* Read a file whole (max bytes); on error print it and return -1. */
int	 cli_read(const char *path, unsigned char **, size_t *, size_t max);

int	 cmd_init(const struct cli *, int, char **);
int	 cmd_install_ca_cert(const struct cli *, int, char **);
int	 cmd_submit(const struct cli *, int, char **);
int	 cmd_by_id(const struct cli *, int, char **);	/* resubmit, deny, retrieve */
int	 cmd_revoke(const struct cli *, int, char **);
int	 cmd_renew(const struct cli *, int, char **);
int	 cmd_unrevoke(const struct cli *, int, char **);
int	 cmd_crl(const struct cli *, int, char **);
int	 cmd_import(const struct cli *, int, char **);
int	 cmd_purge(const struct cli *, int, char **);
int	 cmd_status(const struct cli *, int, char **);
int	 cmd_simple(const struct cli *, int, char **);	/* reload, shutdown */
int	 cmd_view(const struct cli *, int, char **);
int	 cmd_exit(const struct cli *, int, char **);
int	 cmd_policy(const struct cli *, int, char **);
int	 cmd_profile(const struct cli *, int, char **);
int	 cmd_backup_restore(const struct cli *, int, char **);	/* backup, restore */
int	 cmd_ca(const struct cli *, int, char **);	/* ca list, ca renew */
int	 cmd_token(const struct cli *, int, char **);	/* token create|list|revoke */
int	 cmd_tls(const struct cli *, int, char **);	/* tls renew */
int	 cmd_acme(const struct cli *, int, char **);	/* acme accounts|orders|eab */
/*
 * Issue certmintd's HTTPS certificate (cmd_tls.c) into [server] tls_cert
 * and tls_key: through certmintd when online, else on the files. 0, or
 * -1 with err.
 */
int	 cli_tls_issue(const struct cli *, const struct cm_config *, int online,
	    char *err, size_t errlen);
/*
 * After a new CA certificate: the running certmintd reloads and publishes
 * every key's CRLs, or, stopped, the CA publishes them itself. 0 or -1.
 */
int	 cli_ca_publish(const struct cli *, const struct cm_config *);
int	 cmd_exit_test(const char *config_path, int, char **);

/* exit_register.c: see there. */
#define REGISTER_FROM_DEFAULT	0
#define REGISTER_FROM_NEWEST	(-1)
#define REGISTER_FROM_CURSOR	(-2)
struct store;
int	 exit_register_check(const char *path, char *name, size_t namelen,
	    int *threading, char *err, size_t errlen);
int	 exit_register_from(const char *arg, int64_t *from, char *err,
	    size_t errlen);
int	 exit_register_cursor(const char *db_file, const char *module,
	    int64_t from, struct store **, char *msg, size_t msglen, char *err,
	    size_t errlen);
int	 exit_register_done(struct store *, int ok);

#endif /* CM_CLI_H */
