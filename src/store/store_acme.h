/*
 * store_acme.h - the ACME server's rows (schema migration 10): accounts,
 * orders, authorizations, challenges, EAB keys and the server's own state
 * (the nonce key). Written through the CA's writer (ca_write) so that they
 * commit like everything else; read on any connection. src/acme uses it.
 *
 * Functions return 0, CM_E_NOTFOUND, or another negative CM_E_* / STORE_E_*.
 */
#ifndef CM_STORE_ACME_H
#define CM_STORE_ACME_H

#include <stdint.h>

#include "store.h"

struct acme_account_row {
	int64_t		 id;
	char		 endpoint[64];
	char		 thumbprint[48];	/* RFC 7638, b64url */
	char		*jwk;			/* its thumbprint input */
	/* valid, deactivated, revoked */
	char		 status[16];
	char		*contact;		/* JSON array, or NULL */
	int		 tos_agreed;
	char		 eab_kid[128];		/* "" without EAB */
	int64_t		 created;
};

struct acme_order_row {
	int64_t		 id;
	int64_t		 account_id;
	char		 endpoint[64];
	/* pending, ready, processing, valid, invalid */
	char		 status[16];
	int64_t		 expires;
	int64_t		 created;
	char		*identifiers;	/* JSON array of {type, value} */
	char		*error;		/* JSON problem, or NULL */
	int64_t		 request_id;	/* the certmint request, 0 before */
	char		 serial[130];	/* "" before issuance */
	char		 profile[64];	/* asked for (ACME profiles), or "" */
};

struct acme_authz_row {
	int64_t		 id;
	int64_t		 order_id;
	int64_t		 account_id;
	char		 type[8];	/* dns, ip */
	char		 value[256];	/* without "*." */
	int		 wildcard;
	/* pending, valid, invalid, deactivated, revoked */
	char		 status[16];
	int64_t		 expires;
};

struct acme_chall_row {
	int64_t		 id;
	int64_t		 authz_id;
	char		 type[16];	/* http-01, dns-01, tls-alpn-01 */
	char		 token[64];
	/* pending, processing, valid, invalid */
	char		 status[16];
	int64_t		 validated;	/* 0: not yet */
	char		*error;		/* JSON problem, or NULL */
};

struct acme_eab_row {
	char		 kid[128];
	unsigned char	 key[64];
	size_t		 keylen;
	char		 endpoint[64];
	int64_t		 created;
	int64_t		 account_id;	/* 0: not used yet */
};

void	 acme_account_row_free(struct acme_account_row *);
void	 acme_order_row_free(struct acme_order_row *);
void	 acme_chall_row_free(struct acme_chall_row *);

/*
 * Accounts. insert sets a->id; update writes status, contact, jwk and
 * thumbprint.
 */
int	 store_acme_account_insert(struct store *, struct acme_account_row *a);
/*
 * Write a's status, contact and key, if the row still has the key and
 * status it had when read (old_*): STORE_E_CONFLICT when it changed
 * meanwhile (a key change or a deactivation that a stale write must not
 * undo).
 */
int	 store_acme_account_update(struct store *,
	    const struct acme_account_row *, const char *old_thumbprint,
	    const char *old_status);
int	 store_acme_account_get(struct store *, int64_t id,
	    struct acme_account_row *);
int	 store_acme_account_by_key(struct store *, const char *thumbprint,
	    struct acme_account_row *);

/* Orders with their authorizations and challenges (ids set on insert). */
int	 store_acme_order_insert(struct store *, struct acme_order_row *);
int	 store_acme_authz_insert(struct store *, struct acme_authz_row *);
int	 store_acme_chall_insert(struct store *, struct acme_chall_row *);
int	 store_acme_order_update(struct store *,
	    const struct acme_order_row *);
int	 store_acme_authz_set_status(struct store *, int64_t id,
	    const char *status);
int	 store_acme_chall_update(struct store *,
	    const struct acme_chall_row *);
int	 store_acme_order_get(struct store *, int64_t id,
	    struct acme_order_row *);
int	 store_acme_order_by_serial(struct store *, const char *serial,
	    struct acme_order_row *);
/*
 * Does the account hold a valid authorization, unexpired at now, for
 * (type, value; wildcard: for *.value)? 0, CM_E_NOTFOUND or CM_E_FAIL.
 */
int	 store_acme_authz_held(struct store *, int64_t account_id,
	    const char *type, const char *value, int wildcard, int64_t now);
int	 store_acme_authz_get(struct store *, int64_t id,
	    struct acme_authz_row *);
/* The authorizations of an order, by id: *out malloc'd, *n of them. */
int	 store_acme_authzs_of(struct store *, int64_t order_id,
	    struct acme_authz_row **out, size_t *n);
/* The challenges of an authorization, by id (free each, then *out). */
int	 store_acme_challs_of(struct store *, int64_t authz_id,
	    struct acme_chall_row **out, size_t *n);
int	 store_acme_chall_get(struct store *, int64_t id,
	    struct acme_chall_row *);
/*
 * Challenges left "processing" (a stop cut their validation short), of
 * ids above after, up to max in id order.
 */
int	 store_acme_challs_processing(struct store *, int64_t after,
	    int64_t *ids, size_t max, size_t *n);
/* Orders "processing" without a request id yet (finalize cut short). */
int	 store_acme_orders_unsubmitted(struct store *, int64_t after,
	    int64_t *ids,
	    size_t max, size_t *n);
/*
 * Orders made since since (rate limits): of account (account > 0), or
 * naming domain or a name under it (domain not NULL). When *count is
 * limit or more, *free_at is the time the (count - limit + 1)th oldest
 * was made (plus the window: when one order under limit is free), else 0.
 */
int	 store_acme_orders_since(struct store *, int64_t account,
	    const char *domain, int64_t since, int64_t limit, int64_t *count,
	    int64_t *free_at);
/* Order ids of an account, newest first, at most max. */
int	 store_acme_orders_of(struct store *, int64_t account_id,
	    int64_t *ids, size_t max, size_t *n);
/* The request whose AcmeOrder attribute is order_id (finalize cut short). */
int	 store_acme_request_of_order(struct store *, int64_t order_id,
	    int64_t *request_id);

/* EAB keys. */
int	 store_acme_eab_insert(struct store *, const struct acme_eab_row *);
int	 store_acme_eab_get(struct store *, const char *kid,
	    struct acme_eab_row *);
int	 store_acme_eab_bind(struct store *, const char *kid,
	    int64_t account_id);

/* The server's own values (the nonce key): *out malloc'd. */
int	 store_acme_state_get(struct store *, const char *key,
	    unsigned char **out, size_t *len);
int	 store_acme_state_set(struct store *, const char *key,
	    const void *value, size_t len);

/*
 * certmint acme accounts|orders: fn(arg, columns, values, n) per row of
 * a view, at most limit rows. Returns 0 or an error.
 */
typedef void (*acme_row_fn)(void *arg, const char *const *cols,
    const char *const *vals, int n);
int	 store_acme_list(struct store *, const char *what, int64_t limit,
	    acme_row_fn, void *arg);

#endif /* CM_STORE_ACME_H */
