/*
 * tokens.c - REST API tokens (migration 9, docs/rest-api.md). A token is
 * kept as the SHA-256 of its secret: the database never holds what
 * would let its reader submit. `certmint token` writes here directly
 * (certmintd running or not: SQLite serializes the writers); certmintd
 * only reads, once per authenticated request, so that a revocation takes
 * effect at the next request without a reload.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

#define TOKEN_COLS	"name, hash, profiles, names, created, expires, revoked"

void
db_token_free(struct db_token *t)
{
	free(t->name);
	free(t->profiles);
	free(t->names);
	memset(t, 0, sizeof(*t));
}

/* A row of TOKEN_COLS into t: 0 or CM_E_NOMEM. */
static int
row_to_token(sqlite3_stmt *s, struct db_token *t)
{
	const void	*h = sqlite3_column_blob(s, 1);

	memset(t, 0, sizeof(*t));
	t->name = col_text(s, 0);
	if (h != NULL && sqlite3_column_bytes(s, 1) == TOKEN_HASH_LEN)
		memcpy(t->hash, h, TOKEN_HASH_LEN);
	t->profiles = col_text(s, 2);
	t->names = col_text(s, 3);
	t->created = sqlite3_column_int64(s, 4);
	t->expires = sqlite3_column_int64(s, 5);
	t->revoked = sqlite3_column_int64(s, 6);
	if (t->name == NULL || t->profiles == NULL || t->names == NULL) {
		db_token_free(t);
		return CM_E_NOMEM;
	}
	return 0;
}

int
store_token_add(struct store *st, const struct db_token *t)
{
	sqlite3_stmt	*s;
	int		 rc;

	if (sqlite3_prepare_v2(st->db, "INSERT INTO api_tokens (" TOKEN_COLS
	    ") VALUES (?, ?, ?, ?, ?, ?, 0)", -1, &s, NULL) != SQLITE_OK)
		return sql_fail(st, "add token");
	bind_text(s, 1, t->name);
	bind_blob(s, 2, t->hash, TOKEN_HASH_LEN);
	bind_text(s, 3, t->profiles);
	bind_text(s, 4, t->names);
	sqlite3_bind_int64(s, 5, t->created);
	sqlite3_bind_int64(s, 6, t->expires);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if ((rc & 0xff) == SQLITE_CONSTRAINT)	/* extended codes are on */
		return STORE_E_DUPLICATE;
	return rc == SQLITE_DONE ? 0 : sql_fail(st, "add token");
}

int
store_token_by_hash(struct store *st, const unsigned char *hash,
    struct db_token *t)
{
	sqlite3_stmt	*s;
	int		 rc;

	memset(t, 0, sizeof(*t));
	if (sqlite3_prepare_v2(st->db, "SELECT " TOKEN_COLS " FROM api_tokens "
	    "WHERE hash = ?", -1, &s, NULL) != SQLITE_OK)
		return sql_fail(st, "read token");
	bind_blob(s, 1, hash, TOKEN_HASH_LEN);
	if ((rc = sqlite3_step(s)) == SQLITE_ROW)
		rc = row_to_token(s, t);
	else
		rc = rc == SQLITE_DONE ? CM_E_NOTFOUND : sql_fail(st,
		    "read token");
	sqlite3_finalize(s);
	return rc;
}

int
store_token_each(struct store *st, int (*cb)(void *, const struct db_token *),
    void *arg)
{
	struct db_token	 t;
	sqlite3_stmt	*s;
	int		 rc;

	if (sqlite3_prepare_v2(st->db, "SELECT " TOKEN_COLS " FROM api_tokens "
	    "ORDER BY name", -1, &s, NULL) != SQLITE_OK)
		return sql_fail(st, "list tokens");
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if ((rc = row_to_token(s, &t)) != 0)
			break;
		rc = cb(arg, &t);
		db_token_free(&t);
		if (rc != 0)
			break;
	}
	sqlite3_finalize(s);
	if (rc == SQLITE_DONE)
		return 0;
	return rc == SQLITE_ROW ? 0 : rc > 0 ? sql_fail(st, "list tokens") : rc;
}

int
store_token_revoke(struct store *st, const char *name, int64_t when)
{
	sqlite3_stmt	*s;
	int		 rc;

	if (sqlite3_prepare_v2(st->db, "UPDATE api_tokens SET revoked = ? "
	    "WHERE name = ? AND revoked = 0", -1, &s, NULL) != SQLITE_OK)
		return sql_fail(st, "revoke token");
	sqlite3_bind_int64(s, 1, when);
	bind_text(s, 2, name);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		return sql_fail(st, "revoke token");
	return sqlite3_changes(st->db) == 1 ? 0 : CM_E_NOTFOUND;
}
