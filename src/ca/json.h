/*
 * json.h - the JSON shapes shared by the REST API, the admin socket and the
 * CLI's --json output (docs/admin-protocol.md).
 */
#ifndef CM_JSON_H
#define CM_JSON_H

#include <jansson.h>

#include "../store/store.h"

/* "pending", "issued", "revoked", "denied", "failed", "foreign", "active". */
const char	*disposition_name(int32_t disposition);

/*
 * A request object. cert may be NULL. With_pem adds "certificate" (and
 * "chain" when chain_pem is not NULL). Returns a new reference or NULL.
 */
json_t		*request_to_json(const struct db_request *, const struct db_cert *,
		    int with_pem, const char *chain_pem);
/*
 * The same object as compact JSON text appended to b (with a newline), and
 * "error" when error is not NULL: what the REST API sends, written directly
 * (building a json_t and dumping it cost 9 % of certmintd's CPU per
 * certificate). Returns 0, or -1 when out of memory.
 */
int		 request_json_text(struct buf *, const struct db_request *,
		    const struct db_cert *, int with_pem, const char *chain_pem,
		    const char *error);
/*
 * json_string(s), but invalid UTF-8 (which json_string refuses: a message
 * quoting a client's bytes would vanish) becomes U+FFFD. NULL when s is.
 */
json_t		*json_string_lossy(const char *s);
json_t		*crl_to_json(const struct db_crl *);
/*
 * The CA certificates of sg (the current signer), by index: index,
 * crl_index, serial, subject, validity, signing, sha256. Read under the
 * config lock.
 */
struct signer;
json_t		*ca_certs_json(const struct signer *);

#endif /* CM_JSON_H */
