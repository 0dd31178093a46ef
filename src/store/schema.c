/*
 * schema.c - the numbered schema migrations of the CA database. Migration N
 * brings PRAGMA user_version from N-1 to N; each runs in its own transaction.
 * Never edit a migration that has shipped: append a new one.
 */

#include <stddef.h>

#include "schema.h"

static const char *const migrations[] = {
	/* 1: requests, certificates, CRLs and the event outbox */
	"CREATE TABLE requests ("
	"  id INTEGER PRIMARY KEY,"
	"  raw_request BLOB,"
	"  request_type INTEGER NOT NULL,"
	"  request_flags INTEGER NOT NULL DEFAULT 0,"
	"  disposition INTEGER NOT NULL,"
	"  disposition_message TEXT,"
	"  status_code INTEGER NOT NULL DEFAULT 0,"
	"  requester_name TEXT,"
	"  caller_name TEXT,"
	"  submitted_when INTEGER NOT NULL DEFAULT 0,"
	"  resolved_when INTEGER NOT NULL DEFAULT 0,"
	"  revoked_when INTEGER NOT NULL DEFAULT 0,"
	"  revoked_effective_when INTEGER NOT NULL DEFAULT 0,"
	"  revoked_reason INTEGER NOT NULL DEFAULT -1,"
	"  unrevoked_when INTEGER NOT NULL DEFAULT 0,"
	"  request_dn TEXT,"
	"  request_raw_name BLOB,"
	"  profile TEXT,"
	"  was_pending INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX requests_disposition ON requests(disposition);"
	"CREATE TABLE request_attrs ("
	"  request_id INTEGER NOT NULL REFERENCES requests(id),"
	"  name TEXT NOT NULL COLLATE NOCASE,"
	"  value TEXT NOT NULL,"
	"  UNIQUE (request_id, name));"
	"CREATE TABLE request_exts ("
	"  request_id INTEGER NOT NULL REFERENCES requests(id),"
	"  oid TEXT NOT NULL,"
	"  flags INTEGER NOT NULL,"
	"  value BLOB,"
	"  PRIMARY KEY (request_id, oid)) WITHOUT ROWID;"
	"CREATE TABLE certs ("
	"  request_id INTEGER PRIMARY KEY REFERENCES requests(id),"
	"  serial TEXT NOT NULL UNIQUE,"
	"  raw BLOB NOT NULL,"
	"  not_before INTEGER NOT NULL,"
	"  not_after INTEGER NOT NULL,"
	"  subject_dn TEXT,"
	"  raw_name BLOB,"
	"  common_name TEXT,"
	"  pk_alg TEXT,"
	"  pk_len INTEGER NOT NULL DEFAULT 0,"
	"  raw_pk BLOB,"
	"  raw_pk_params BLOB,"
	"  hash TEXT,"
	"  ski TEXT);"
	"CREATE TABLE crls ("
	"  row_id INTEGER PRIMARY KEY,"
	"  number INTEGER NOT NULL,"
	"  base_number INTEGER NOT NULL,"
	"  this_update INTEGER NOT NULL,"
	"  next_update INTEGER NOT NULL,"
	"  count INTEGER NOT NULL,"
	"  raw BLOB NOT NULL);"
	"CREATE TABLE events ("
	"  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  event INTEGER NOT NULL,"
	"  context INTEGER NOT NULL,"
	"  time INTEGER NOT NULL,"
	"  crl_row_id INTEGER NOT NULL DEFAULT 0);",

	/* 2: exit-module delivery state */
	"CREATE TABLE exit_cursors ("
	"  module TEXT PRIMARY KEY COLLATE NOCASE,"
	"  seq INTEGER NOT NULL);"
	"CREATE TABLE dead_letters ("
	"  module TEXT NOT NULL COLLATE NOCASE,"
	"  seq INTEGER NOT NULL,"
	"  event INTEGER NOT NULL,"
	"  context INTEGER NOT NULL,"
	"  attempts INTEGER NOT NULL,"
	"  error TEXT,"
	"  time INTEGER NOT NULL,"
	"  PRIMARY KEY (module, seq)) WITHOUT ROWID;",

	/* 3: a request's extensions in one BLOB of its row (store.c) */
	"ALTER TABLE requests ADD COLUMN exts BLOB;",

	/*
	 * 4: what an event's module reads is the state at the event
	 * (docs/exit-modules.md, Snapshots). An update of a request keeps
	 * the row as it was in request_history, valid for the events up to
	 * until_seq (attributes are written once, at submission). A request
	 * never changed costs nothing: its hist_seq (the until_seq of its
	 * last update) is 0.
	 * ca_certs lists the CA certificates with the events that see each;
	 * events_crl finds the CRLs published by an event's time.
	 */
	"CREATE TABLE request_history ("
	"  request_id INTEGER NOT NULL,"
	"  until_seq INTEGER NOT NULL,"
	"  disposition INTEGER NOT NULL,"
	"  disposition_message TEXT,"
	"  status_code INTEGER NOT NULL,"
	"  resolved_when INTEGER NOT NULL,"
	"  revoked_when INTEGER NOT NULL,"
	"  revoked_effective_when INTEGER NOT NULL,"
	"  revoked_reason INTEGER NOT NULL,"
	"  unrevoked_when INTEGER NOT NULL,"
	"  profile TEXT,"
	"  was_pending INTEGER NOT NULL,"
	"  request_flags INTEGER NOT NULL,"
	"  exts_changed INTEGER NOT NULL,"
	"  exts BLOB,"
	"  PRIMARY KEY (request_id, until_seq)) WITHOUT ROWID;"
	"CREATE TABLE ca_certs ("
	"  idx INTEGER PRIMARY KEY,"
	"  raw BLOB NOT NULL,"
	"  since_seq INTEGER NOT NULL);"
	"CREATE INDEX events_crl ON events(seq) WHERE crl_row_id > 0;"
	"ALTER TABLE requests ADD COLUMN hist_seq INTEGER NOT NULL DEFAULT 0;",

	/*
	 * 5: exit-module crash quarantine (docs/exit-modules.md, "Crashes,
	 * quarantine and suspension"): each crash of a module (its host
	 * process, or certmintd for an inline module) with the event it was
	 * in; counted is 0 for the other events a concurrent module's host
	 * was in when it died (they count for the event, not for the
	 * module). A suspended module has a row in exit_suspended until
	 * `certmint exit resume`.
	 */
	"CREATE TABLE IF NOT EXISTS exit_crashes ("
	"  module TEXT NOT NULL COLLATE NOCASE,"
	"  seq INTEGER NOT NULL,"
	"  time INTEGER NOT NULL,"
	"  cause TEXT NOT NULL,"
	"  counted INTEGER NOT NULL DEFAULT 1);"
	"CREATE INDEX IF NOT EXISTS exit_crashes_module ON exit_crashes(module, seq);"
	"CREATE TABLE IF NOT EXISTS exit_suspended ("
	"  module TEXT PRIMARY KEY COLLATE NOCASE,"
	"  since INTEGER NOT NULL,"
	"  reason TEXT NOT NULL);",

	/*
	 * 6: the database's identity (meta.c): a random database_id, which
	 * the CA directory's marker file names, so that a database is never
	 * taken for another CA's or replaced unnoticed.
	 */
	"CREATE TABLE meta ("
	"  key TEXT PRIMARY KEY,"
	"  value TEXT NOT NULL) WITHOUT ROWID;"
	"INSERT INTO meta VALUES ('database_id', lower(hex(randomblob(16))));",

	/*
	 * 7: the newest event whose change a CRL's entries include
	 * (store_revoked_each): a delta CRL lists the changes after its
	 * base's, not after its base's second, which a revocation may share
	 * with it. NULL for the CRLs signed before: their deltas go by time.
	 */
	"ALTER TABLE crls ADD COLUMN as_of_seq INTEGER;",

	/*
	 * 8: CA renewal (docs/ca-renewal.md). Each certificate names the CA
	 * certificate that signed it (ca_idx, the ca_certs index), each CRL
	 * the key that signed it (key_idx: the index of the first CA
	 * certificate with that key, AD CS's CRL index) and each CA
	 * certificate its key. Before: one CA certificate, one key, 0.
	 */
	"ALTER TABLE certs ADD COLUMN ca_idx INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE crls ADD COLUMN key_idx INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE ca_certs ADD COLUMN key_idx INTEGER NOT NULL DEFAULT 0;",

	/*
	 * 9: REST API tokens (tokens.c, docs/rest-api.md). Only the SHA-256
	 * of a token's secret is kept; profiles and names are its scope
	 * (comma-separated, "" for any profile). expires and revoked are
	 * times, 0 for never and not revoked.
	 */
	"CREATE TABLE IF NOT EXISTS api_tokens ("
	"  name TEXT PRIMARY KEY COLLATE NOCASE,"
	"  hash BLOB NOT NULL UNIQUE,"
	"  profiles TEXT NOT NULL DEFAULT '',"
	"  names TEXT NOT NULL,"
	"  created INTEGER NOT NULL,"
	"  expires INTEGER NOT NULL DEFAULT 0,"
	"  revoked INTEGER NOT NULL DEFAULT 0);",

	/*
	 * 10: the ACME server (docs/acme.md, src/store/acme.c). An order's
	 * certificate is a request row like any other (request_id, and the
	 * request's AcmeOrder attribute, which survives a crash between the
	 * issuance and this row's update); identifiers are JSON as the
	 * order shows them. acme_state keeps the nonce key.
	 */
	"CREATE TABLE IF NOT EXISTS acme_accounts ("
	"  id INTEGER PRIMARY KEY,"
	"  endpoint TEXT NOT NULL,"
	"  thumbprint TEXT NOT NULL UNIQUE,"
	"  jwk TEXT NOT NULL,"
	"  status TEXT NOT NULL,"
	"  contact TEXT,"
	"  tos_agreed INTEGER NOT NULL DEFAULT 0,"
	"  eab_kid TEXT NOT NULL DEFAULT '',"
	"  created INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS acme_orders ("
	"  id INTEGER PRIMARY KEY,"
	"  account_id INTEGER NOT NULL REFERENCES acme_accounts(id),"
	"  endpoint TEXT NOT NULL,"
	"  status TEXT NOT NULL,"
	"  expires INTEGER NOT NULL,"
	"  created INTEGER NOT NULL,"
	"  identifiers TEXT NOT NULL,"
	"  error TEXT,"
	"  request_id INTEGER NOT NULL DEFAULT 0,"
	"  serial TEXT NOT NULL DEFAULT '',"
	"  profile TEXT NOT NULL DEFAULT '');"
	"CREATE INDEX IF NOT EXISTS acme_orders_account ON"
	"  acme_orders(account_id);"
	"CREATE INDEX IF NOT EXISTS acme_orders_serial ON acme_orders(serial)"
	"  WHERE serial != '';"
	"CREATE TABLE IF NOT EXISTS acme_authzs ("
	"  id INTEGER PRIMARY KEY,"
	"  order_id INTEGER NOT NULL REFERENCES acme_orders(id),"
	"  account_id INTEGER NOT NULL,"
	"  type TEXT NOT NULL,"
	"  value TEXT NOT NULL,"
	"  wildcard INTEGER NOT NULL DEFAULT 0,"
	"  status TEXT NOT NULL,"
	"  expires INTEGER NOT NULL);"
	"CREATE INDEX IF NOT EXISTS acme_authzs_order ON acme_authzs(order_id);"
	"CREATE TABLE IF NOT EXISTS acme_challenges ("
	"  id INTEGER PRIMARY KEY,"
	"  authz_id INTEGER NOT NULL REFERENCES acme_authzs(id),"
	"  type TEXT NOT NULL,"
	"  token TEXT NOT NULL UNIQUE,"
	"  status TEXT NOT NULL,"
	"  validated INTEGER NOT NULL DEFAULT 0,"
	"  error TEXT);"
	"CREATE INDEX IF NOT EXISTS acme_challenges_authz ON"
	"  acme_challenges(authz_id);"
	"CREATE TABLE IF NOT EXISTS acme_eab ("
	"  kid TEXT PRIMARY KEY,"
	"  hmac_key BLOB NOT NULL,"
	"  endpoint TEXT NOT NULL,"
	"  created INTEGER NOT NULL,"
	"  account_id INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE IF NOT EXISTS acme_state ("
	"  key TEXT PRIMARY KEY,"
	"  value BLOB NOT NULL) WITHOUT ROWID;",

	/*
	 * 11: an account's valid authorizations by name, for revokeCert by
	 * an account that holds authorizations for every name of a
	 * certificate it did not order (RFC 8555 7.6).
	 */
	("CREATE INDEX IF NOT EXISTS acme_authzs_valid ON"
	"  acme_authzs(account_id, value) WHERE status = 'valid';"),
};

int
schema_latest(void)
{
	return (int)(sizeof(migrations) / sizeof(migrations[0]));
}

const char *
schema_migration(int version)
{
	if (version < 1 || version > schema_latest())
		return NULL;
	return migrations[version - 1];
}
