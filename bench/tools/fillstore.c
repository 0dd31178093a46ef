/*
 * fillstore - add N issued certificates (every `every`-th one revoked) to a
 * CA database while certmintd is stopped, for bench/crl. Rows carry serials
 * made as certmint makes them (serial_generate; with a last argument
 * "random", serial_generate_random as `[ca] serials = random` does) and a
 * placeholder certificate blob: the CRL and the issuance path only read
 * serials and states.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "store/store.h"

int
main(int argc, char *argv[])
{
	struct store	*st;
	struct db_request r;
	struct db_cert	 c;
	unsigned char	 serial[20], blob[300];
	char		 err[512], dn[64];
	int64_t		 id, i, n, every, now = time_now();
	int		 random_serials = 0;

	if (argc == 5 && strcmp(argv[4], "random") == 0)
		random_serials = 1;
	else if (argc != 4) {
		fprintf(stderr, "usage: fillstore DB N REVOKE_EVERY [random]\n");
		return 2;
	}
	n = strtoll(argv[2], NULL, 10);
	every = strtoll(argv[3], NULL, 10);
	if ((st = store_open(argv[1], 0, err, sizeof(err))) == NULL) {
		fprintf(stderr, "fillstore: %s\n", err);
		return 1;
	}
	if (store_max_request_id(st, &id) != 0)
		return 1;
	memset(blob, 0x30, sizeof(blob));
	for (i = 0; i < n; i++) {
		if (i % 50000 == 0 && (i > 0 ? store_commit(st) : 0) == 0 &&
		    store_begin(st) != 0)
			return 1;
		id++;
		if ((random_serials ? serial_generate_random(serial) :
		    serial_generate(serial)) != 0)
			return 1;
		memset(&r, 0, sizeof(r));
		memset(&c, 0, sizeof(c));
		snprintf(dn, sizeof(dn), "CN=fill-%" PRId64, id);
		r.id = id;
		r.request_type = CR_IN_PKCS10;
		r.submitted_when = r.resolved_when = now;
		r.request_dn = dn;
		r.revoked_reason = -1;
		r.disposition = CM_DISP_ISSUED;
		if (every > 0 && i % every == 0) {
			r.disposition = CM_DISP_REVOKED;
			r.revoked_when = r.revoked_effective_when = now;
			r.revoked_reason = 1;
		}
		c.request_id = id;
		c.serial = hex_encode(serial, sizeof(serial));
		c.raw = blob;
		c.raw_len = sizeof(blob);
		c.not_before = now;
		c.not_after = now + 86400 * 365;
		c.subject_dn = dn;
		if (store_request_insert(st, &r) != 0 ||
		    store_cert_insert(st, &c) != 0) {
			fprintf(stderr, "fillstore: insert failed at %" PRId64
			    "\n", i);
			return 1;
		}
		free(c.serial);
	}
	if (store_commit(st) != 0)
		return 1;
	store_close(st);
	return 0;
}
