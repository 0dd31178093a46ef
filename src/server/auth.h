/*
 * auth.h - who a REST client is (docs/rest-api.md, "Authentication"): an
 * API token (Authorization: Bearer) or a TLS client certificate this CA
 * issued, and what that identity may ask for (profiles, name patterns).
 * Without libmicrohttpd: http.c hands over the header and the peer's
 * certificate.
 */
#ifndef CM_AUTH_H
#define CM_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "../ca/ca.h"

/* "cmt_" and the 256-bit secret in lowercase hex. */
#define TOKEN_PREFIX	"cmt_"
#define TOKEN_SECRET_LEN 32
#define TOKEN_TEXT_LEN	(sizeof(TOKEN_PREFIX) - 1 + 2 * TOKEN_SECRET_LEN)

enum auth_kind {
	AUTH_NONE,		/* no credentials: anonymous */
	AUTH_TOKEN,
	AUTH_CERT,
	AUTH_FAILED,		/* credentials given but refused: why */
	AUTH__MAX
};

struct auth_id {
	enum auth_kind	 kind;
	char		 name[256];	/* token name, certificate subject DN */
	char		*profiles;	/* allowed, comma-separated; "" = any */
	char		*names;		/* allowed name patterns, comma-separated */
	char		 why[256];	/* AUTH_FAILED: for the client */
};
void	 auth_id_free(struct auth_id *);

/*
 * A new token: its text (TOKEN_TEXT_LEN + 1 bytes) and the hash to store.
 * 0 or -1.
 */
int	 auth_token_new(char *text, unsigned char hash[32]);
/* The hash of a token's text: 0, or -1 when text is not a token. */
int	 auth_token_hash(const char *text, unsigned char hash[32]);
/*
 * Is token name usable (1 to 64 of [A-Za-z0-9._@-])? It becomes the
 * RequesterName, so nothing in it may look like a certificate subject.
 */
int	 auth_token_name_ok(const char *);

/*
 * The identity of an Authorization header value (may be NULL: AUTH_NONE)
 * from the tokens in st at time now.
 */
void	 auth_from_header(struct store *st, const char *authorization,
	    int64_t now, struct auth_id *);
/*
 * The identity of a TLS client certificate (DER; NULL: AUTH_NONE): one
 * this CA issued (the same DER in its database), valid at now, not
 * revoked, for clientAuth. Its scope is [rest] client_profiles and
 * client_names (its own names when that is empty).
 */
void	 auth_from_cert(struct ca *, const unsigned char *der, size_t len,
	    int64_t now, struct auth_id *);

/*
 * May id ask for csr with attrs? The profile (CertificateTemplate or
 * Profile attribute, else cfg's default profile) must be allowed, and the
 * subject's every CN and every subjectAltName must match a pattern.
 * 0, or -1 with the reason in msg.
 */
int	 auth_scope(const struct auth_id *, const struct cm_config *,
	    const struct csr *, const struct db_attr *attrs, size_t nattrs,
	    char *msg, size_t msglen);
/*
 * Does name match pattern? "*" matches anything; "*.example.com" any name
 * under example.com (at any depth, and "*.example.com" itself); anything
 * else itself. Without case.
 */
int	 auth_name_match(const char *pattern, const char *name);

#endif /* CM_AUTH_H */
