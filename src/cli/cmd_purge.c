/*
 * cmd_purge.c - certmint purge --expired-before DATE [--dry-run]
 * [--revoked-too] (AD CS: certutil -deleterow DATE Cert): certmintd
 * forgets the requests whose certificate expired before DATE, but those
 * it must keep, and says how many of each (docs/cli.md).
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

#define PURGE_SYNOPSIS	"--expired-before DATE [--dry-run] [--revoked-too]\n" \
	"DATE: 2026-11-24 (UTC midnight), 2026-11-24T08:00:00Z, an RFC 3339 " \
	"time\n  (2026-11-24T09:00:00+01:00) or @UNIX; not after now"

static json_int_t
num(const json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

static int
purge_usage(void)
{
	fprintf(stderr, "usage: certmint purge " PURGE_SYNOPSIS "\n");
	return CLI_USAGE;
}

/* Print the "purge" of the daemon's answer for a person. */
static void
purge_print(const json_t *o)
{
	const json_t	*rm = json_object_get(o, "removed");
	const json_t	*kept = json_object_get(o, "kept");
	const char	*before, *slowest;
	int		 dry = json_is_true(json_object_get(o, "dry_run"));

	before = json_string_value(json_object_get(o, "expired_before"));
	slowest = json_string_value(json_object_get(o, "slowest_module"));
	printf("%s %" JSON_INTEGER_FORMAT " requests whose certificate "
	    "expired before %s:\n", dry ? "would purge" : "purged",
	    num(rm, "requests"), before ? before : "?");
	printf("  %" JSON_INTEGER_FORMAT " certificates (%" JSON_INTEGER_FORMAT
	    " revoked), %" JSON_INTEGER_FORMAT " events, %" JSON_INTEGER_FORMAT
	    " attributes, %" JSON_INTEGER_FORMAT " history rows\n",
	    num(rm, "certificates"), num(rm, "revoked"), num(rm, "events"),
	    num(rm, "attributes"), num(rm, "history"));
	if (num(rm, "acme_orders") > 0)
		printf("%s %" JSON_INTEGER_FORMAT " ACME orders that expired "
		    "before then (not processing), with %" JSON_INTEGER_FORMAT
		    " authorizations and %" JSON_INTEGER_FORMAT " challenges\n",
		    dry ? "would purge" : "purged", num(rm, "acme_orders"),
		    num(rm, "acme_authorizations"), num(rm, "acme_challenges"));
	if (num(kept, "requests") == 0)
		printf("kept none of them\n");
	else
		printf("kept %" JSON_INTEGER_FORMAT " of them:\n",
		    num(kept, "requests"));
	if (num(kept, "newest") > 0)
		printf("  %" JSON_INTEGER_FORMAT " newest (the highest request "
		    "id or serial: never handed out again)\n",
		    num(kept, "newest"));
	if (num(kept, "revoked") > 0)
		printf("  %" JSON_INTEGER_FORMAT " revoked, still on the CRL "
		    "(--revoked-too purges them: they leave the next base "
		    "CRL)\n", num(kept, "revoked"));
	if (num(kept, "dead_letter") > 0)
		printf("  %" JSON_INTEGER_FORMAT " with an event in a dead "
		    "letter (certmint exit status; exit replay --dead)\n",
		    num(kept, "dead_letter"));
	if (num(kept, "undelivered") > 0)
		printf("  %" JSON_INTEGER_FORMAT " with events not yet delivered "
		    "to every exit module (%s is at event %" JSON_INTEGER_FORMAT
		    ")\n", num(kept, "undelivered"), slowest ? term_safe(slowest)
		    : "?", num(o, "delivered_through"));
	if (dry)
		printf("nothing removed (--dry-run)\n");
}

int
cmd_purge(const struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "expired-before", required_argument, NULL, 'b' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "revoked-too", no_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 }
	};
	json_t		*args, *ans;
	int64_t		 before = 0;
	int		 ch, have = 0, dry = 0, revoked = 0;

	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'b':
			if (time_parse(optarg, &before) == -1) {
				fprintf(stderr, "certmint: purge: \"%s\" is not "
				    "a date\n", term_safe(optarg));
				return purge_usage();
			}
			have = 1;
			break;
		case 'n':
			dry = 1;
			break;
		case 'r':
			revoked = 1;
			break;
		default:
			return purge_usage();
		}
	}
	if (!have || optind != argc)
		return purge_usage();
	args = json_object();
	json_object_set_new(args, "before", json_integer(before));
	json_object_set_new(args, "dry_run", json_boolean(dry));
	json_object_set_new(args, "revoked_too", json_boolean(revoked));
	if ((ans = admin_call(cli, "purge", args)) == NULL)
		return CLI_FAIL;
	if (cli->json)
		print_json(json_object_get(ans, "purge"));
	else
		purge_print(json_object_get(ans, "purge"));
	json_decref(ans);
	return CLI_OK;
}
