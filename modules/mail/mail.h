/*
 * mail.h - CertMint_Mail.Exit, AD CS's SMTP exit module (docs/modules/
 * mail.md): one RFC 5322 message per event, from per-event templates, sent
 * with libcurl's SMTP. Internal to the module: mail_conf.c reads and checks
 * the settings, mail_msg.c renders the templates and builds the message,
 * mail_smtp.c talks to the server.
 */
#ifndef CM_MAIL_H
#define CM_MAIL_H

#include <stddef.h>
#include <stdint.h>

#include <certmint/exit.h>

#include "modutil.h"

#define MAIL_NAME	"CertMint_Mail.Exit"
#define MAIL_NEVENTS	10	/* CM_EXITEVENT_CERTISSUED .. CERTIMPORTED */
#define MAIL_MAXARGS	99	/* %1 .. %99, as FormatMessage */

enum mail_tls {
	MAIL_TLS_NONE,
	MAIL_TLS_STARTTLS,
	MAIL_TLS_IMPLICIT,
	MAIL_TLS__MAX
};

enum mail_auth {
	MAIL_AUTH_NONE,
	MAIL_AUTH_PLAIN,
	MAIL_AUTH_LOGIN,
	MAIL_AUTH__MAX
};

/* What a delivery attempt came to; mail.c maps it onto CM_* codes. */
enum mail_result {
	MAIL_SENT,
	MAIL_TRANSIENT,		/* retry with the host's backoff */
	MAIL_PERMANENT,		/* dead letter now */
	MAIL_SUSPEND,		/* the setup is wrong: stop until resumed */
	MAIL_RESULT__MAX
};

/* One event's template (AD CS's SMTP\<Event> key). */
struct mail_tmpl {
	char		*from, *to, *cc;
	char		*title_fmt, *body_fmt;
	char		**title_arg, **body_arg;
	size_t		 ntitle_arg, nbody_arg;
	int		 attach;
};

struct mail_conf {
	char		*server;		/* SMTPServer */
	long long	 port;
	enum mail_tls	 tls;
	char		*ca_file;
	enum mail_auth	 auth;			/* SMTPAuthenticate */
	char		*user;
	char		*password;		/* from password_file */
	char		*helo;
	int32_t		 filter;		/* EventFilter */
	long long	 connect_timeout_ms, timeout_ms;
	struct mail_tmpl tmpl[MAIL_NEVENTS];
};

/* mail_conf.c */
int	 mail_event_index(int32_t event);	/* 0..MAIL_NEVENTS-1, or -1 */
int32_t	 mail_event_bit(int index);
int	 mail_conf_read(cm_server_exit *, struct mail_conf *, char *err,
	    size_t errlen);
void	 mail_conf_free(struct mail_conf *);
int	 mail_conf_check_value(const char *key, const char *value,
	    const struct mail_conf *cur, char *err, size_t errlen);
int	 mail_conf_summary(const struct mail_conf *, char *buf, size_t len);
extern const char *const mail_tls_names[MAIL_TLS__MAX];
extern const char *const mail_auth_names[MAIL_AUTH__MAX];

/* mail_msg.c */
struct mail_msg {
	char		*from_addr;		/* envelope sender */
	char		**rcpt;			/* envelope recipients */
	size_t		 nrcpt;
	struct mu_buf	 text;			/* the RFC 5322 message */
};
enum mail_result mail_msg_build(cm_server_exit *, const struct mail_conf *,
	    int32_t event, int64_t context, struct mail_msg *, char *why,
	    size_t whylen);
enum mail_result mail_msg_plain(const char *from, const char *const *to,
	    size_t nto, const char *subject, const char *body,
	    const char *msgid, struct mail_msg *, char *why, size_t whylen);
void	 mail_msg_free(struct mail_msg *);
int	 mail_fmt_check(const char *key, const char *fmt, size_t nargs,
	    char *err, size_t errlen);
int	 mail_addr_check(const char *key, const char *list, char *err,
	    size_t errlen);

/* mail_smtp.c */
struct mail_smtp;
struct mail_smtp *mail_smtp_new(void);
void	 mail_smtp_free(struct mail_smtp *);
void	 mail_smtp_reset(struct mail_smtp *);
enum mail_result mail_smtp_send(struct mail_smtp *, const struct mail_conf *,
	    const struct mail_msg *, char *why, size_t whylen);
enum mail_result mail_smtp_check(const struct mail_conf *, char *report,
	    size_t len);
int	 mail_smtp_global_init(void);
void	 mail_smtp_global_cleanup(void);

#endif /* CM_MAIL_H */
