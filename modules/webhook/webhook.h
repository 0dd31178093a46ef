/*
 * webhook.h - CertMint_Webhook.Exit (docs/modules/webhook.md): one HTTP(S)
 * POST per event, a CloudEvents 1.0 document signed per Standard
 * Webhooks, or a Slack/Teams message. The cross-file functions of
 * webhook.c (module, settings), payload.c (bodies) and post.c (HTTP).
 */
#ifndef CM_WEBHOOK_H
#define CM_WEBHOOK_H

#include <stddef.h>
#include <stdint.h>

#include <certmint/exit.h>

#include "httppost.h"
#include "modutil.h"

#define WH_NAME		"CertMint_Webhook.Exit"
#define WH_NEVENTS	10	/* CM_EXITEVENT_CERTISSUED ... CERTIMPORTED */

enum wh_format {
	WH_CLOUDEVENTS,
	WH_SLACK,
	WH_TEAMS,
	WH_FORMAT__MAX
};

/* A signing secret: the key bytes (whsec_ base64 decoded, or as is). */
struct wh_secret {
	unsigned char	*key;
	size_t		 len;
};

/*
 * The settings, read from the module's section. Immutable once loaded:
 * a refresh loads a new one and notifies still running keep theirs (refs).
 */
struct wh_config {
	struct mu_ref	 ref;		/* first (mu_ref_hold); under wh_state.mu */
	char		*url;
	char		*url_safe;	/* scheme://host:port: for logs only */
	struct wh_secret *secrets;
	size_t		 nsecrets;
	char		*ca_file;
	char		*client_cert;
	char		*client_key;
	long long	 connect_timeout_ms, timeout_ms, retry_after_wait_ms;
	int32_t		 events;
	enum wh_format	 format;
	char		*text[WH_NEVENTS];	/* NULL: the built-in text */
	char		*source;	/* NULL: urn:certmint:ca:<CA name> */
	int		 include_pem;
};

/* What payload.c needs of the module's state. */
struct wh_ca {
	char	 id[17];	/* hex of SHA-256(RawCACertificate.0), 8 bytes */
	char	*name;		/* SanitizedCAName */
	char	*source;	/* the default CloudEvents source */
};

/* webhook.c */
void	 wh_config_free(struct wh_config *);

/* payload.c */
int	 wh_event_index(int32_t event);
int	 wh_ca_read(cm_server_exit *, struct wh_ca *);
void	 wh_ca_free(struct wh_ca *);
int	 wh_body(cm_server_exit *, const struct wh_config *,
	    const struct wh_ca *, int32_t event, int64_t context,
	    char **id, struct mu_buf *body);
int	 wh_test_body(const struct wh_config *, const struct wh_ca *,
	    char **id, struct mu_buf *body);

/* post.c */
struct wh_result {
	long	 status;	/* HTTP status, 0 when none arrived */
	long long retry_after;	/* seconds, -1 when not given */
	int	 connects;	/* new connections the request made */
	char	 error[256];	/* curl's error, or the start of the body */
};
int	 wh_post(struct hp_pool *, const struct wh_config *, const char *id,
	    const struct mu_buf *body, struct wh_result *);
int	 wh_sign(const struct wh_config *, const char *id, long long ts,
	    const struct mu_buf *body, struct mu_buf *header);

#endif /* CM_WEBHOOK_H */
