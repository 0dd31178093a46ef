/*
 * acme.c - the ACME server's tables (store_acme.h, schema migration 10).
 * Statements are prepared once per connection and cached in the store,
 * as store.c's are: an ACME round trip runs several.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"
#include "store_acme.h"

/* The statements this file caches in the store (prep). */
enum acme_stmt {
	A_ACCT_INSERT, A_ACCT_UPDATE, A_ACCT_GET, A_ACCT_BY_KEY,
	A_ORDER_INSERT, A_ORDER_UPDATE, A_ORDER_GET, A_ORDER_BY_SERIAL,
	A_AUTHZ_INSERT, A_AUTHZ_STATUS, A_AUTHZ_GET, A_AUTHZS_OF,
	A_CHALL_INSERT, A_CHALL_UPDATE, A_CHALL_GET, A_CHALLS_OF,
	A_ORDERS_OF, A_CHALLS_PROCESSING, A_ORDERS_UNSUBMITTED,
	A_ORDERS_SINCE_ACCT, A_ORDERS_SINCE_DOMAIN, A_REQUEST_OF_ORDER,
	A_EAB_INSERT, A_EAB_GET, A_EAB_BIND, A_STATE_GET, A_STATE_SET,
	A_LIST_ACCOUNTS, A_LIST_ORDERS, A_AUTHZ_HELD, A_ORDERS_FREE_ACCT,
	A_ORDERS_FREE_DOMAIN,
	A__MAX
};
_Static_assert(S_ACME_FIRST + A__MAX <= S_ACME_LAST + 1,
    "store_int.h: widen the S_ACME range");

/*
 * Statement id, its text sql the first time: cached in the store as
 * store.c's are (S_ACME_FIRST on), with its parameters bound as fmt says,
 * one letter each: i int64_t, t const char * (NULL binds NULL), b const
 * void * and size_t. Returns the statement, or NULL (logged). Callers
 * reset it when done: a statement left stepped would hold a read
 * transaction open.
 */
static sqlite3_stmt *
prep(struct store *st, enum acme_stmt id, const char *sql, const char *fmt,
    ...)
{
	sqlite3_stmt	*s;
	va_list		 ap;
	const void	*p;
	size_t		 n;
	int		 i;

	if ((s = store_stmt(st, S_ACME_FIRST + id, sql)) == NULL)
		return NULL;
	va_start(ap, fmt);
	for (i = 1; *fmt != '\0'; fmt++, i++) {
		switch (*fmt) {
		case 'i':
			sqlite3_bind_int64(s, i, va_arg(ap, int64_t));
			break;
		case 't':
			bind_text(s, i, va_arg(ap, const char *));
			break;
		case 'b':
			p = va_arg(ap, const void *);
			n = va_arg(ap, size_t);
			bind_blob(s, i, p, n);
			break;
		}
	}
	va_end(ap);
	return s;
}

/* Run a statement that returns no row (step_done resets it). */
static int
run(struct store *st, sqlite3_stmt *s, const char *what)
{
	if (s == NULL)
		return CM_E_FAIL;
	return step_done(st, s, what);
}

/* Step to the one row; CM_E_NOTFOUND, or 0 with the row current. */
static int
one(struct store *st, sqlite3_stmt *s, const char *what)
{
	int	 rc;

	if (s == NULL)
		return CM_E_FAIL;
	if ((rc = sqlite3_step(s)) == SQLITE_ROW)
		return 0;
	if (rc != SQLITE_DONE)
		sql_fail(st, what);
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? CM_E_NOTFOUND : CM_E_FAIL;
}

static void
col_copy(sqlite3_stmt *s, int i, char *out, size_t len)
{
	const unsigned char *v = sqlite3_column_text(s, i);

	snprintf(out, len, "%s", v != NULL ? (const char *)v : "");
}

void
acme_account_row_free(struct acme_account_row *a)
{
	free(a->jwk);
	free(a->contact);
	a->jwk = a->contact = NULL;
}

void
acme_order_row_free(struct acme_order_row *o)
{
	free(o->identifiers);
	free(o->error);
	o->identifiers = o->error = NULL;
}

void
acme_chall_row_free(struct acme_chall_row *c)
{
	free(c->error);
	c->error = NULL;
}

#define ACCOUNT_COLS "id, endpoint, thumbprint, jwk, status, contact, " \
	"tos_agreed, eab_kid, created"

static int
account_row(struct store *st, sqlite3_stmt *s, struct acme_account_row *a)
{
	int	 rc;

	memset(a, 0, sizeof(*a));
	if ((rc = one(st, s, "acme account")) != 0)
		return rc;
	a->id = sqlite3_column_int64(s, 0);
	col_copy(s, 1, a->endpoint, sizeof(a->endpoint));
	col_copy(s, 2, a->thumbprint, sizeof(a->thumbprint));
	a->jwk = col_text(s, 3);
	col_copy(s, 4, a->status, sizeof(a->status));
	a->contact = col_text(s, 5);
	a->tos_agreed = sqlite3_column_int(s, 6);
	col_copy(s, 7, a->eab_kid, sizeof(a->eab_kid));
	a->created = sqlite3_column_int64(s, 8);
	sqlite3_reset(s);
	if (a->jwk == NULL) {
		acme_account_row_free(a);
		return CM_E_NOMEM;
	}
	return 0;
}

int
store_acme_account_insert(struct store *st, struct acme_account_row *a)
{
	int	 rc;

	rc = run(st, prep(st, A_ACCT_INSERT,
	    "INSERT INTO acme_accounts (endpoint, "
	    "thumbprint, jwk, status, contact, tos_agreed, eab_kid, created) "
	    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", "tttttiti", a->endpoint,
	    a->thumbprint, a->jwk, a->status, a->contact,
	    (int64_t)a->tos_agreed, a->eab_kid, a->created),
	    "insert acme account");
	if (rc == 0)
		a->id = sqlite3_last_insert_rowid(st->db);
	return rc;
}

int
store_acme_account_update(struct store *st, const struct acme_account_row *a,
    const char *old_thumbprint, const char *old_status)
{
	int	 rc;

	rc = run(st, prep(st, A_ACCT_UPDATE,
	    "UPDATE acme_accounts SET status = ?, "
	    "contact = ?, jwk = ?, thumbprint = ? WHERE id = ? AND "
	    "thumbprint = ? AND status = ?", "ttttitt",
	    a->status, a->contact, a->jwk, a->thumbprint, a->id,
	    old_thumbprint, old_status), "update acme account");
	if (rc == 0 && sqlite3_changes(st->db) == 0)
		return STORE_E_CONFLICT;
	return rc;
}

int
store_acme_account_get(struct store *st, int64_t id,
    struct acme_account_row *a)
{
	return account_row(st, prep(st, A_ACCT_GET,
	    "SELECT " ACCOUNT_COLS " FROM "
	    "acme_accounts WHERE id = ?", "i", id), a);
}

int
store_acme_account_by_key(struct store *st, const char *thumbprint,
    struct acme_account_row *a)
{
	return account_row(st, prep(st, A_ACCT_BY_KEY,
	    "SELECT " ACCOUNT_COLS " FROM "
	    "acme_accounts WHERE thumbprint = ?", "t", thumbprint), a);
}

#define ORDER_COLS "id, account_id, endpoint, status, expires, created, " \
	"identifiers, error, request_id, serial, profile"

static int
order_row(struct store *st, sqlite3_stmt *s, struct acme_order_row *o)
{
	int	 rc;

	memset(o, 0, sizeof(*o));
	if ((rc = one(st, s, "acme order")) != 0)
		return rc;
	o->id = sqlite3_column_int64(s, 0);
	o->account_id = sqlite3_column_int64(s, 1);
	col_copy(s, 2, o->endpoint, sizeof(o->endpoint));
	col_copy(s, 3, o->status, sizeof(o->status));
	o->expires = sqlite3_column_int64(s, 4);
	o->created = sqlite3_column_int64(s, 5);
	o->identifiers = col_text(s, 6);
	o->error = col_text(s, 7);
	o->request_id = sqlite3_column_int64(s, 8);
	col_copy(s, 9, o->serial, sizeof(o->serial));
	col_copy(s, 10, o->profile, sizeof(o->profile));
	sqlite3_reset(s);
	if (o->identifiers == NULL) {
		acme_order_row_free(o);
		return CM_E_NOMEM;
	}
	return 0;
}

int
store_acme_order_insert(struct store *st, struct acme_order_row *o)
{
	int	 rc;

	rc = run(st, prep(st, A_ORDER_INSERT,
	    "INSERT INTO acme_orders (account_id, "
	    "endpoint, status, expires, created, identifiers, error, "
	    "request_id, serial, profile) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, "
	    "?)",
	    "ittiittitt", o->account_id, o->endpoint, o->status, o->expires,
	    o->created, o->identifiers, o->error, o->request_id, o->serial,
	    o->profile),
	    "insert acme order");
	if (rc == 0)
		o->id = sqlite3_last_insert_rowid(st->db);
	return rc;
}

int
store_acme_order_update(struct store *st, const struct acme_order_row *o)
{
	return run(st, prep(st, A_ORDER_UPDATE,
	    "UPDATE acme_orders SET status = ?, error = ?, "
	    "request_id = ?, serial = ? WHERE id = ?", "ttiti", o->status,
	    o->error, o->request_id, o->serial, o->id), "update acme order");
}

int
store_acme_order_get(struct store *st, int64_t id, struct acme_order_row *o)
{
	return order_row(st, prep(st, A_ORDER_GET,
	    "SELECT " ORDER_COLS " FROM acme_orders "
	    "WHERE id = ?", "i", id), o);
}

int
store_acme_order_by_serial(struct store *st, const char *serial,
    struct acme_order_row *o)
{
	return order_row(st, prep(st, A_ORDER_BY_SERIAL,
	    "SELECT " ORDER_COLS " FROM acme_orders "
	    "WHERE serial = ? ORDER BY id DESC LIMIT 1", "t", serial), o);
}

#define AUTHZ_COLS "id, order_id, account_id, type, value, wildcard, " \
	"status, expires"

static void
authz_cols(sqlite3_stmt *s, struct acme_authz_row *a)
{
	memset(a, 0, sizeof(*a));
	a->id = sqlite3_column_int64(s, 0);
	a->order_id = sqlite3_column_int64(s, 1);
	a->account_id = sqlite3_column_int64(s, 2);
	col_copy(s, 3, a->type, sizeof(a->type));
	col_copy(s, 4, a->value, sizeof(a->value));
	a->wildcard = sqlite3_column_int(s, 5);
	col_copy(s, 6, a->status, sizeof(a->status));
	a->expires = sqlite3_column_int64(s, 7);
}

int
store_acme_authz_held(struct store *st, int64_t account_id, const char *type,
    const char *value, int wildcard, int64_t now)
{
	sqlite3_stmt	*s;
	int		 rc;

	s = prep(st, A_AUTHZ_HELD, "SELECT 1 FROM acme_authzs WHERE "
	    "account_id = ? AND value = ? AND status = 'valid' AND type = ? "
	    "AND wildcard = ? AND expires > ? LIMIT 1", "ittii", account_id,
	    value, type, (int64_t)wildcard, now);
	if ((rc = one(st, s, "acme authorization held")) == 0)
		sqlite3_reset(s);
	return rc;
}

int
store_acme_authz_insert(struct store *st, struct acme_authz_row *a)
{
	int	 rc;

	rc = run(st, prep(st, A_AUTHZ_INSERT,
	    "INSERT INTO acme_authzs (order_id, account_id, "
	    "type, value, wildcard, status, expires) VALUES (?, ?, ?, ?, ?, "
	    "?, ?)", "iittiti", a->order_id, a->account_id, a->type, a->value,
	    (int64_t)a->wildcard, a->status, a->expires), "insert acme authz");
	if (rc == 0)
		a->id = sqlite3_last_insert_rowid(st->db);
	return rc;
}

int
store_acme_authz_set_status(struct store *st, int64_t id, const char *status)
{
	return run(st, prep(st, A_AUTHZ_STATUS,
	    "UPDATE acme_authzs SET status = ? WHERE "
	    "id = ?", "ti", status, id), "update acme authz");
}

int
store_acme_authz_get(struct store *st, int64_t id, struct acme_authz_row *a)
{
	sqlite3_stmt	*s;
	int		 rc;

	s = prep(st, A_AUTHZ_GET,
	    "SELECT " AUTHZ_COLS " FROM acme_authzs WHERE id = ?",
	    "i", id);
	if ((rc = one(st, s, "acme authz")) != 0)
		return rc;
	authz_cols(s, a);
	sqlite3_reset(s);
	return 0;
}

/*
 * Every row of statement s (NULL: CM_E_FAIL), each read by cols into an
 * array of elements of size sz, which rfree (if not NULL) empties on a
 * failure. 0, CM_E_NOMEM or CM_E_FAIL; *out is NULL when there is none.
 */
static int
rows_of(struct store *st, sqlite3_stmt *s, size_t sz,
    void (*cols)(sqlite3_stmt *, void *), void (*rfree)(void *),
    void **out, size_t *n, const char *what)
{
	unsigned char	*v = NULL, *nv;
	size_t		 k = 0, i;
	int		 rc;

	*out = NULL;
	*n = 0;
	if (s == NULL)
		return CM_E_FAIL;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if ((nv = reallocarray(v, k + 1, sz)) == NULL) {
			rc = SQLITE_NOMEM;
			break;
		}
		v = nv;
		cols(s, v + sz * k++);
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		if (rc != SQLITE_NOMEM)
			sql_fail(st, what);
		for (i = 0; rfree != NULL && i < k; i++)
			rfree(v + sz * i);
		free(v);
		return rc == SQLITE_NOMEM ? CM_E_NOMEM : CM_E_FAIL;
	}
	*out = v;
	*n = k;
	return 0;
}

static void
authz_row(sqlite3_stmt *s, void *row)
{
	authz_cols(s, row);
}

int
store_acme_authzs_of(struct store *st, int64_t order_id,
    struct acme_authz_row **out, size_t *n)
{
	void	*v;
	int	 rc;

	rc = rows_of(st, prep(st, A_AUTHZS_OF, "SELECT " AUTHZ_COLS " FROM "
	    "acme_authzs WHERE order_id = ? ORDER BY id", "i", order_id),
	    sizeof(**out), authz_row, NULL, &v, n, "acme authzs");
	*out = v;
	return rc;
}

#define CHALL_COLS "id, authz_id, type, token, status, validated, error"

static void
chall_cols(sqlite3_stmt *s, struct acme_chall_row *c)
{
	memset(c, 0, sizeof(*c));
	c->id = sqlite3_column_int64(s, 0);
	c->authz_id = sqlite3_column_int64(s, 1);
	col_copy(s, 2, c->type, sizeof(c->type));
	col_copy(s, 3, c->token, sizeof(c->token));
	col_copy(s, 4, c->status, sizeof(c->status));
	c->validated = sqlite3_column_int64(s, 5);
	c->error = col_text(s, 6);
}

int
store_acme_chall_insert(struct store *st, struct acme_chall_row *c)
{
	int	 rc;

	rc = run(st, prep(st, A_CHALL_INSERT,
	    "INSERT INTO acme_challenges (authz_id, type, "
	    "token, status, validated, error) VALUES (?, ?, ?, ?, ?, ?)",
	    "itttit", c->authz_id, c->type, c->token, c->status, c->validated,
	    c->error), "insert acme challenge");
	if (rc == 0)
		c->id = sqlite3_last_insert_rowid(st->db);
	return rc;
}

int
store_acme_chall_update(struct store *st, const struct acme_chall_row *c)
{
	return run(st, prep(st, A_CHALL_UPDATE,
	    "UPDATE acme_challenges SET status = ?, "
	    "validated = ?, error = ? WHERE id = ?", "titi", c->status,
	    c->validated, c->error, c->id), "update acme challenge");
}

int
store_acme_chall_get(struct store *st, int64_t id, struct acme_chall_row *c)
{
	sqlite3_stmt	*s;
	int		 rc;

	s = prep(st, A_CHALL_GET,
	    "SELECT " CHALL_COLS " FROM acme_challenges WHERE id = ?",
	    "i", id);
	if ((rc = one(st, s, "acme challenge")) != 0)
		return rc;
	chall_cols(s, c);
	sqlite3_reset(s);
	return 0;
}

static void
chall_row(sqlite3_stmt *s, void *row)
{
	chall_cols(s, row);
}

static void
chall_row_free(void *row)
{
	acme_chall_row_free(row);
}

int
store_acme_challs_of(struct store *st, int64_t authz_id,
    struct acme_chall_row **out, size_t *n)
{
	void	*v;
	int	 rc;

	rc = rows_of(st, prep(st, A_CHALLS_OF, "SELECT " CHALL_COLS " FROM "
	    "acme_challenges WHERE authz_id = ? ORDER BY id", "i", authz_id),
	    sizeof(**out), chall_row, chall_row_free, &v, n,
	    "acme challenges");
	*out = v;
	return rc;
}

int
store_acme_orders_of(struct store *st, int64_t account_id, int64_t *ids,
    size_t max, size_t *n)
{
	sqlite3_stmt	*s;
	int		 rc;

	*n = 0;
	if ((s = prep(st, A_ORDERS_OF,
	    "SELECT id FROM acme_orders WHERE account_id = ? "
	    "ORDER BY id DESC LIMIT ?", "ii", account_id, (int64_t)max)) ==
	    NULL)
		return CM_E_FAIL;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW && *n < max)
		ids[(*n)++] = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : CM_E_FAIL;
}

int
store_acme_challs_processing(struct store *st, int64_t after, int64_t *ids,
    size_t max, size_t *n)
{
	sqlite3_stmt	*s;
	int		 rc;

	*n = 0;
	if ((s = prep(st, A_CHALLS_PROCESSING,
	    "SELECT id FROM acme_challenges WHERE status = "
	    "'processing' AND id > ? ORDER BY id LIMIT ?", "ii", after,
	    (int64_t)max)) == NULL)
		return CM_E_FAIL;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW && *n < max)
		ids[(*n)++] = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : CM_E_FAIL;
}

int
store_acme_orders_unsubmitted(struct store *st, int64_t after, int64_t *ids,
    size_t max, size_t *n)
{
	sqlite3_stmt	*s;
	int		 rc;

	*n = 0;
	if ((s = prep(st, A_ORDERS_UNSUBMITTED,
	    "SELECT id FROM acme_orders WHERE status = "
	    "'processing' AND request_id = 0 AND id > ? ORDER BY id LIMIT ?",
	    "ii", after, (int64_t)max)) == NULL)
		return CM_E_FAIL;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW && *n < max)
		ids[(*n)++] = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : CM_E_FAIL;
}

int
store_acme_orders_since(struct store *st, int64_t account, const char *domain,
    int64_t since, int64_t limit, int64_t *count, int64_t *free_at)
{
	sqlite3_stmt	*s;
	char		 exact[300], under[300];
	int		 rc;

	/* identifiers is compact JSON: ..."value":"a.example"}. */
	if (domain != NULL) {
		snprintf(exact, sizeof(exact), "%%\"value\":\"%s\"}%%", domain);
		snprintf(under, sizeof(under), "%%.%s\"}%%", domain);
	}
	if (domain == NULL)
		s = prep(st, A_ORDERS_SINCE_ACCT,
		    "SELECT count(*) FROM acme_orders WHERE "
		    "account_id = ? AND created >= ?", "ii", account, since);
	else
		s = prep(st, A_ORDERS_SINCE_DOMAIN,
		    "SELECT count(*) FROM acme_orders WHERE "
		    "created >= ? AND (identifiers LIKE ? OR identifiers "
		    "LIKE ?)", "itt",
		    since, exact, under);
	if ((rc = one(st, s, "acme rate")) != 0)
		return rc;
	*count = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	*free_at = 0;
	if (limit <= 0 || *count < limit)
		return 0;
	/* Over: once the (count - limit + 1)th oldest is out, one is free. */
	if (domain == NULL)
		s = prep(st, A_ORDERS_FREE_ACCT,
		    "SELECT created FROM acme_orders WHERE account_id = ? AND "
		    "created >= ? ORDER BY id LIMIT 1 OFFSET ?", "iii", account,
		    since, *count - limit);
	else
		s = prep(st, A_ORDERS_FREE_DOMAIN,
		    "SELECT created FROM acme_orders WHERE created >= ? AND "
		    "(identifiers LIKE ? OR identifiers LIKE ?) ORDER BY id "
		    "LIMIT 1 OFFSET ?", "itti", since, exact, under,
		    *count - limit);
	if ((rc = one(st, s, "acme rate")) == CM_E_FAIL)
		return rc;
	if (rc == 0) {
		*free_at = sqlite3_column_int64(s, 0);
		sqlite3_reset(s);
	}
	return 0;
}

int
store_acme_request_of_order(struct store *st, int64_t order_id,
    int64_t *request_id)
{
	sqlite3_stmt	*s;
	char		 v[24];
	int		 rc;

	snprintf(v, sizeof(v), "%lld", (long long)order_id);
	/*
	 * The ACME server's own request only: a REST submitter may name
	 * attributes as it likes, AcmeOrder included.
	 */
	s = prep(st, A_REQUEST_OF_ORDER,
	    "SELECT a.request_id FROM request_attrs a JOIN requests r ON "
	    "r.id = a.request_id WHERE a.name = 'AcmeOrder' AND a.value = ? "
	    "AND r.caller_name = 'acme' ORDER BY a.request_id DESC LIMIT 1",
	    "t", v);
	if ((rc = one(st, s, "acme order request")) != 0)
		return rc;
	*request_id = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return 0;
}

int
store_acme_eab_insert(struct store *st, const struct acme_eab_row *e)
{
	return run(st, prep(st, A_EAB_INSERT,
	    "INSERT INTO acme_eab (kid, hmac_key, "
	    "endpoint, created, account_id) VALUES (?, ?, ?, ?, 0)", "tbti",
	    e->kid,
	    (const void *)e->key, e->keylen, e->endpoint, e->created),
	    "insert acme eab key");
}

int
store_acme_eab_get(struct store *st, const char *kid, struct acme_eab_row *e)
{
	sqlite3_stmt	*s;
	const void	*k;
	int		 rc, n;

	memset(e, 0, sizeof(*e));
	s = prep(st, A_EAB_GET,
	    "SELECT kid, hmac_key, endpoint, created, account_id FROM "
	    "acme_eab WHERE kid = ?", "t", kid);
	if ((rc = one(st, s, "acme eab key")) != 0)
		return rc;
	col_copy(s, 0, e->kid, sizeof(e->kid));
	k = sqlite3_column_blob(s, 1);
	n = sqlite3_column_bytes(s, 1);
	if (k != NULL && n > 0 && (size_t)n <= sizeof(e->key)) {
		memcpy(e->key, k, (size_t)n);
		e->keylen = (size_t)n;
	}
	col_copy(s, 2, e->endpoint, sizeof(e->endpoint));
	e->created = sqlite3_column_int64(s, 3);
	e->account_id = sqlite3_column_int64(s, 4);
	sqlite3_reset(s);
	return 0;
}

int
store_acme_eab_bind(struct store *st, const char *kid, int64_t account_id)
{
	return run(st, prep(st, A_EAB_BIND,
	    "UPDATE acme_eab SET account_id = ? WHERE "
	    "kid = ?", "it", account_id, kid), "bind acme eab key");
}

int
store_acme_state_get(struct store *st, const char *key, unsigned char **out,
    size_t *len)
{
	sqlite3_stmt	*s;
	int		 rc;

	*out = NULL;
	*len = 0;
	s = prep(st, A_STATE_GET,
	    "SELECT value FROM acme_state WHERE key = ?", "t", key);
	if ((rc = one(st, s, "acme state")) != 0)
		return rc;
	*out = col_blob(s, 0, len);
	sqlite3_reset(s);
	return *out != NULL ? 0 : CM_E_NOTFOUND;
}

int
store_acme_state_set(struct store *st, const char *key, const void *value,
    size_t len)
{
	return run(st, prep(st, A_STATE_SET,
	    "INSERT OR REPLACE INTO acme_state (key, "
	    "value) VALUES (?, ?)", "tb", key, value, len), "set acme state");
}

int
store_acme_list(struct store *st, const char *what, int64_t limit,
    acme_row_fn fn, void *arg)
{
	static const struct {
		const char	*what;
		enum acme_stmt	 id;
		const char	*sql;
	} views[] = {
		{ "accounts", A_LIST_ACCOUNTS,
		    "SELECT a.id, a.endpoint AS directory, a.status, "
		    "COALESCE(a.contact, '') AS contact, a.eab_kid, "
		    "strftime('%Y-%m-%dT%H:%M:%SZ', a.created, 'unixepoch') AS created, "
		    "(SELECT COUNT(*) FROM acme_orders o WHERE o.account_id = "
		    "a.id) AS orders FROM acme_accounts a ORDER BY a.id "
		    "DESC LIMIT ?" },
		{ "orders", A_LIST_ORDERS,
		    "SELECT id, account_id AS account, endpoint AS directory, "
		    "status, identifiers, request_id, serial, "
		    "strftime('%Y-%m-%dT%H:%M:%SZ', created, 'unixepoch') AS created FROM "
		    "acme_orders ORDER BY id DESC LIMIT ?" },
	};
	sqlite3_stmt	*s = NULL;
	const char	*cols[16], *vals[16];
	size_t		 i;
	int		 n, k, rc;

	for (i = 0; i < nitems(views); i++)
		if (strcmp(what, views[i].what) == 0)
			s = prep(st, views[i].id, views[i].sql, "i", limit);
	if (s == NULL)
		return CM_E_FAIL;
	n = sqlite3_column_count(s);
	if (n > 16)
		n = 16;
	for (k = 0; k < n; k++)
		cols[k] = sqlite3_column_name(s, k);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		for (k = 0; k < n; k++) {
			vals[k] = (const char *)sqlite3_column_text(s, k);
			if (vals[k] == NULL)
				vals[k] = "";
		}
		fn(arg, cols, vals, n);
	}
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : CM_E_FAIL;
}
