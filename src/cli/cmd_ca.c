/*
 * cmd_ca.c - the CA commands that go through certmintd's admin socket, and
 * `view`, which reads the database directly (read-only).
 */

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../ca/json.h"
#include "../crypto/crypto.h"
#include "../store/store.h"
#include "cli.h"

#define CLI_MAX_INPUT	(1 << 20)

/*
 * Write text to --out path: a regular file (or none) is replaced whole;
 * through a symbolic link (/dev/stdout too), or to a device or a FIFO,
 * it is written as the shell's > would, never replacing the link or the
 * node. A directory is refused. 0, or -1 (said).
 */
static int
out_write(const char *path, const char *text)
{
	struct stat	 sb;
	size_t		 n = strlen(text);
	int		 fd, ok;

	if (lstat(path, &sb) == -1 || S_ISREG(sb.st_mode)) {
		if (file_write_atomic(path, text, n, 0644) == 0)
			return 0;
		fprintf(stderr, "certmint: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
		fprintf(stderr, "certmint: %s: a directory: give a file's "
		    "path\n", path);
		return -1;
	}
	if ((fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC)) == -1) {
		fprintf(stderr, "certmint: %s: %s\n", path, strerror(errno));
		return -1;
	}
	ok = fd_write_all(fd, text, n) == 0;
	if (close(fd) == -1)
		ok = 0;
	if (!ok)
		fprintf(stderr, "certmint: %s: %s\n", path, strerror(errno));
	return ok ? 0 : -1;
}

/*
 * Print the answer's request; with --out write its certificate. With
 * fail_denied, a denied or failed request makes the exit status 1 and a
 * pending one 3 (CLI_PENDING: no certificate yet, an officer decides).
 */
static int
answer_request(const struct cli *cli, json_t *ans, const char *out,
    int fail_denied)
{
	json_t		*r = json_object_get(ans, "request");
	const char	*pem, *disp;
	int		 rc = CLI_OK;

	if (!json_is_object(r)) {
		json_decref(ans);
		fprintf(stderr, "certmint: the answer holds no request\n");
		return CLI_FAIL;
	}
	if (cli->json)
		print_json(r);
	else
		print_request(r);
	disp = json_string_value(json_object_get(r, "disposition"));
	if (fail_denied && disp != NULL && (strcmp(disp, "denied") == 0 ||
	    strcmp(disp, "failed") == 0))
		rc = CLI_FAIL;
	else if (fail_denied && disp != NULL && strcmp(disp, "pending") == 0) {
		json_decref(ans);
		return CLI_PENDING;
	}
	if (out != NULL) {
		pem = json_string_value(json_object_get(r, "certificate"));
		if (pem == NULL) {
			fprintf(stderr, "certmint: no certificate to write to "
			    "%s\n", out);
			rc = CLI_FAIL;
		} else if (out_write(out, pem) == -1)
			rc = CLI_FAIL;
	}
	json_decref(ans);
	return rc;
}

static int
bad_usage(const char *cmd, const char *synopsis)
{
	fprintf(stderr, "usage: certmint %s %s\n", cmd, synopsis);
	return CLI_USAGE;
}

/* view's OPTION with a value that is not one: why, then the usage. */
static int
view_bad(const char *option, const char *why, const char *value,
    const char *synopsis)
{
	fprintf(stderr, "certmint: view %s \"%s\" %s\n", option,
	    term_safe(value), why);
	return bad_usage("view", synopsis);
}

/* Parse a request id argument. Returns 0 or -1 (message printed). */
static int
parse_id(const char *s, int64_t *id)
{
	if (parse_int64(s, id) == -1 || *id <= 0) {
		fprintf(stderr, "certmint: \"%s\" is not a request id\n", s);
		return -1;
	}
	return 0;
}

int
cmd_submit(const struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "attrib", required_argument, NULL, 'a' },
		{ "requester", required_argument, NULL, 'r' },
		{ "out", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 }
	};
	const char	*out = NULL, *synopsis = "FILE [--attrib NAME:VALUE]... "
			    "[--requester NAME] [--out FILE]";
	unsigned char	*data;
	size_t		 len;
	json_t		*args, *attrs, *ans, *v;
	char		*pem, *colon;
	int		 ch;

	args = json_object();
	attrs = json_object();
	json_object_set_new(args, "attributes", attrs);
	while ((ch = getopt_long(argc, argv, "a:r:o:", opts, NULL)) != -1) {
		switch (ch) {
		case 'a':
			if ((colon = strchr(optarg, ':')) == NULL ||
			    colon == optarg) {
				fprintf(stderr, "certmint: --attrib \"%s\": "
				    "expected NAME:VALUE\n", optarg);
				json_decref(args);
				return CLI_USAGE;
			}
			*colon = '\0';
			/* jansson takes only UTF-8: never drop one silently. */
			if ((v = json_string(colon + 1)) == NULL ||
			    json_object_set_new(attrs, optarg, v) == -1) {
				fprintf(stderr, "certmint: --attrib \"%s\": "
				    "not UTF-8 text\n", term_safe(optarg));
				json_decref(args);
				return CLI_USAGE;
			}
			break;
		case 'r':
			json_object_set_new(args, "requester",
			    json_string(optarg));
			break;
		case 'o':
			out = optarg;
			break;
		default:
			json_decref(args);
			return bad_usage("submit", synopsis);
		}
	}
	if (argc - optind != 1) {
		json_decref(args);
		return bad_usage("submit", synopsis);
	}
	if (cli_read(argv[optind], &data, &len, CLI_MAX_INPUT) == -1) {
		json_decref(args);
		return CLI_FAIL;
	}
	if (len > 0 && data[0] == 0x30)	/* DER: the daemon takes PEM */
		pem = pem_encode("CERTIFICATE REQUEST", data, len);
	else
		pem = strndup((char *)data, len);
	free(data);
	if (pem == NULL) {
		json_decref(args);
		return CLI_FAIL;
	}
	json_object_set_new(args, "csr", json_string(pem));
	free(pem);
	if (json_object_get(args, "csr") == NULL ||
	    !json_is_string(json_object_get(args, "csr"))) {
		fprintf(stderr, "certmint: %s: not a request (not text)\n",
		    argv[optind]);
		json_decref(args);
		return CLI_FAIL;
	}
	if ((ans = admin_call(cli, "submit", args)) == NULL)
		return CLI_FAIL;
	return answer_request(cli, ans, out, 1);
}

/* resubmit ID, deny ID, retrieve ID [--out FILE] */
int
cmd_by_id(const struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "out", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 }
	};
	const char	*out = NULL, *cmd = argv[0];
	json_t		*args, *ans;
	int64_t		 id;
	int		 ch;

	while ((ch = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
		if (ch != 'o')
			return bad_usage(cmd, "ID");
		out = optarg;
	}
	if (argc - optind != 1)
		return bad_usage(cmd, "ID");
	if (parse_id(argv[optind], &id) == -1)
		return CLI_USAGE;
	args = json_object();
	json_object_set_new(args, "id", json_integer(id));
	if ((ans = admin_call(cli, cmd, args)) == NULL)
		/* A pending request has no certificate yet: not a failure. */
		return strcmp(cmd, "retrieve") == 0 &&
		    strcmp(admin_code(), "conflict") == 0 ? CLI_PENDING :
		    CLI_FAIL;
	return answer_request(cli, ans, out, strcmp(cmd, "deny") != 0);
}

/* renew SERIAL [--csr FILE] [--out FILE] */
int
cmd_renew(const struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "csr", required_argument, NULL, 'c' },
		{ "out", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 }
	};
	const char	*out = NULL, *csr = NULL;
	const char	*synopsis = "SERIAL [--csr FILE] [--out FILE]";
	unsigned char	*data;
	size_t		 len;
	json_t		*args, *ans, *v;
	int		 ch;

	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ch == 'c')
			csr = optarg;
		else if (ch == 'o')
			out = optarg;
		else
			return bad_usage("renew", synopsis);
	}
	if (argc - optind != 1)
		return bad_usage("renew", synopsis);
	args = json_object();
	json_object_set_new(args, "serial", json_string(argv[optind]));
	if (csr != NULL) {
		if (cli_read(csr, &data, &len, 1 << 20) == -1) {
			json_decref(args);
			return CLI_FAIL;
		}
		v = json_stringn((const char *)data, len);
		free(data);
		if (v == NULL) {
			fprintf(stderr, "certmint: %s: not a PEM request\n", csr);
			json_decref(args);
			return CLI_FAIL;
		}
		json_object_set_new(args, "csr", v);
	}
	if ((ans = admin_call(cli, "renew", args)) == NULL)
		return CLI_FAIL;
	return answer_request(cli, ans, out, 1);
}

int
cmd_revoke(const struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "date", required_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 }
	};
	const char	*synopsis = "SERIAL [REASON] [--date TIME]\n"
			    "REASON: unspecified, keyCompromise, cACompromise, "
			    "affiliationChanged,\n  superseded, cessationOfOperation, "
			    "certificateHold, privilegeWithdrawn,\n  aACompromise "
			    "(or 0-10); TIME: 2026-11-24T08:00:00Z or @UNIX";
	json_t		*args, *ans;
	int64_t		 date = 0;
	int		 ch, reason = 0;

	while ((ch = getopt_long(argc, argv, "d:", opts, NULL)) != -1) {
		if (ch != 'd' || time_parse(optarg, &date) == -1)
			return bad_usage("revoke", synopsis);
	}
	if (argc - optind < 1 || argc - optind > 2)
		return bad_usage("revoke", synopsis);
	if (argc - optind == 2) {
		reason = crl_reason_parse(argv[optind + 1]);
		if (reason < 0 || reason == CRL_REASON_REMOVE_FROM_CRL) {
			fprintf(stderr, "certmint: \"%s\" is not a revocation "
			    "reason\n", argv[optind + 1]);
			return bad_usage("revoke", synopsis);
		}
	}
	args = json_object();
	json_object_set_new(args, "serial", json_string(argv[optind]));
	json_object_set_new(args, "reason", json_integer(reason));
	if (date != 0)
		json_object_set_new(args, "date", json_integer(date));
	if ((ans = admin_call(cli, "revoke", args)) == NULL)
		return CLI_FAIL;
	return answer_request(cli, ans, NULL, 0);
}

int
cmd_unrevoke(const struct cli *cli, int argc, char **argv)
{
	json_t	*args, *ans;

	if (argc != 2)
		return bad_usage("unrevoke", "SERIAL");
	args = json_object();
	json_object_set_new(args, "serial", json_string(argv[1]));
	if ((ans = admin_call(cli, "unrevoke", args)) == NULL)
		return CLI_FAIL;
	return answer_request(cli, ans, NULL, 0);
}

int
cmd_crl(const struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "delta", no_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 }
	};
	json_t		*args, *ans, *crl;
	size_t		 i;
	int		 ch, delta = 0;

	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ch != 'd')
			return bad_usage("crl", "[--delta]");
		delta = 1;
	}
	if (optind != argc)
		return bad_usage("crl", "[--delta]");
	args = json_object();
	json_object_set_new(args, "delta", json_boolean(delta));
	if ((ans = admin_call(cli, "crl", args)) == NULL)
		return CLI_FAIL;
	if (cli->json)
		print_json(json_object_get(ans, "crls"));
	else
		json_array_foreach(json_object_get(ans, "crls"), i, crl)
			printf("%s CRL %" JSON_INTEGER_FORMAT " published: "
			    "%" JSON_INTEGER_FORMAT " %s, next update %s\n",
			    json_is_true(json_object_get(crl, "delta")) ?
			    "delta" : "base",
			    json_integer_value(json_object_get(crl, "number")),
			    json_integer_value(json_object_get(crl, "count")),
			    json_integer_value(json_object_get(crl, "count"))
			    == 1 ? "entry" : "entries",
			    json_string_value(json_object_get(crl,
			    "next_update")) ? json_string_value(
			    json_object_get(crl, "next_update")) : "?");
	json_decref(ans);
	return CLI_OK;
}

int
cmd_import(const struct cli *cli, int argc, char **argv)
{
	unsigned char	*data;
	size_t		 len;
	char		*pem;
	json_t		*args, *ans;

	if (argc != 2)
		return bad_usage("import", "FILE (PEM or DER certificate)");
	if (cli_read(argv[1], &data, &len, CLI_MAX_INPUT) == -1)
		return CLI_FAIL;
	if (len > 0 && data[0] == 0x30)
		pem = pem_encode("CERTIFICATE", data, len);
	else
		pem = strndup((char *)data, len);
	free(data);
	if (pem == NULL)
		return CLI_FAIL;
	args = json_object();
	json_object_set_new(args, "certificate", json_string(pem));
	free(pem);
	if ((ans = admin_call(cli, "import", args)) == NULL)
		return CLI_FAIL;
	return answer_request(cli, ans, NULL, 0);
}

/*
 * One CRL kind of `status`: its newest CRL, its state (in capitals when a
 * person must act), its next publication and its last failure.
 */
static void
print_crl_status(const char *label, const json_t *k)
{
	const char	*state = json_string_value(json_object_get(k, "state"));
	const json_t	*f = json_object_get(k, "last_failure");
	char		 up[16];
	size_t		 i;

#define N(o, f) json_integer_value(json_object_get(o, f))
#define S(o, f) (json_string_value(json_object_get(o, f)) ? \
	json_string_value(json_object_get(o, f)) : "")
	if (state == NULL)
		return;
	snprintf(up, sizeof(up), "%s", state);
	if (strcmp(state, "ok") != 0 && strcmp(state, "off") != 0)
		for (i = 0; up[i] != '\0'; i++)
			up[i] = (char)(up[i] >= 'a' && up[i] <= 'z' ?
			    up[i] - 32 : up[i]);
	if (json_object_get(k, "number") == NULL)
		printf("  %-10s %s\n", label, up);
	else
		printf("  %-10s number %" JSON_INTEGER_FORMAT ", %"
		    JSON_INTEGER_FORMAT " %s, %s: this update %s (age %"
		    JSON_INTEGER_FORMAT " s), next update %s (in %"
		    JSON_INTEGER_FORMAT " s)\n", label, N(k, "number"),
		    N(k, "count"), N(k, "count") == 1 ? "entry" : "entries",
		    up, S(k, "this_update"), N(k, "age"),
		    S(k, "next_update"), N(k, "expires_in"));
	if (json_object_get(k, "next_publish") != NULL)
		printf("  %-10s next publication %s (in %" JSON_INTEGER_FORMAT
		    " s)\n", "", S(k, "next_publish"), N(k, "next_publish_in"));
	if (f != NULL)
		printf("  %-10s last failure %s: %s%s\n", "", S(f, "time"),
		    S(f, "message"), N(k, "failures") > 0 ? " (retrying)" :
		    " (published since)");
#undef N
#undef S
}

int
cmd_status(const struct cli *cli, int argc, char **argv)
{
	json_t	*ans, *r;

	if (argc != 1)
		return bad_usage("status", "");
	if ((ans = admin_call(cli, "status", NULL)) == NULL)
		return CLI_FAIL;
	json_object_del(ans, "ok");
	if (cli->json)
		print_json(ans);
	else {
		r = json_object_get(ans, "requests");
#define N(o, k) json_integer_value(json_object_get(o, k))
		printf("%s (certmint %s, pid %" JSON_INTEGER_FORMAT
		    ", up %" JSON_INTEGER_FORMAT " s)\n",
		    json_string_value(json_object_get(ans, "ca_name")),
		    json_string_value(json_object_get(ans, "version")),
		    N(ans, "pid"), N(ans, "uptime"));
		printf("  listening: %s  (%s)\n",
		    json_string_value(json_object_get(ans, "listen")),
		    json_string_value(json_object_get(ans, "base_url")));
		if (json_string_length(json_object_get(ans, "tls_listen")) > 0)
			printf("  https:     %s\n", json_string_value(
			    json_object_get(ans, "tls_listen")));
		printf("  requests:  %" JSON_INTEGER_FORMAT " total, "
		    "%" JSON_INTEGER_FORMAT " pending, %" JSON_INTEGER_FORMAT
		    " issued, %" JSON_INTEGER_FORMAT " revoked, "
		    "%" JSON_INTEGER_FORMAT " denied, %" JSON_INTEGER_FORMAT
		    " failed\n", N(r, "total"), N(r, "pending"),
		    N(r, "issued"), N(r, "revoked"), N(r, "denied"),
		    N(r, "failed"));
		printf("  refused:   %" JSON_INTEGER_FORMAT " unauthenticated "
		    "submissions (401), %" JSON_INTEGER_FORMAT " unproven "
		    "renewals since start (not recorded)\n",
		    N(ans, "unauthenticated"), N(ans, "unproven_renewals"));
		printf("  CRLs:      %" JSON_INTEGER_FORMAT "\n"
		    "  events:    %" JSON_INTEGER_FORMAT "\n", N(ans, "crls"),
		    N(ans, "last_event_seq"));
#undef N
		r = json_object_get(ans, "crl");
		print_crl_status("base CRL:", json_object_get(r, "base"));
		print_crl_status("delta CRL:", json_object_get(r, "delta"));
	}
	json_decref(ans);
	return CLI_OK;
}

/*
 * reload, shutdown. A reload applied but for some settings (ACME's, the
 * HTTPS certificate: "warnings") says which and fails; what the config
 * may not mean ("notes": anonymous enrollment, a file cut short) is said
 * on stderr, and it succeeds.
 */
int
cmd_simple(const struct cli *cli, int argc, char **argv)
{
	json_t	*ans, *w;
	size_t	 i, n;

	if (argc != 1)
		return bad_usage(argv[0], "");
	if ((ans = admin_call(cli, argv[0], NULL)) == NULL)
		return CLI_FAIL;
	n = json_array_size(json_object_get(ans, "warnings"));
	if (cli->json)
		print_json(ans);
	else if (n == 0)
		printf("%s: done\n", argv[0]);
	json_array_foreach(json_object_get(ans, "warnings"), i, w)
		fprintf(stderr, "certmint: %s: the rest applied, but %s\n",
		    argv[0], term_safe(json_string_value(w)));
	if (!cli->json)
		json_array_foreach(json_object_get(ans, "notes"), i, w)
			fprintf(stderr, "certmint: %s: note: %s\n", argv[0],
			    term_safe(json_string_value(w)));
	json_decref(ans);
	return n == 0 ? CLI_OK : CLI_FAIL;
}

struct view_out {
	const struct cli *cli;
	json_t		*arr;
	int64_t		 n;
};

static int
view_row(void *arg, const struct db_request *r, const struct db_cert *c)
{
	struct view_out	*v = arg;
	json_t		*o;
	char		 exp[32];
	int		 expired;

	v->n++;
	if ((o = request_to_json(r, c, 0, NULL)) == NULL)
		return -1;
	/* An issued certificate past its notAfter is no longer "issued". */
	expired = r->disposition == CM_DISP_ISSUED && c != NULL &&
	    c->not_after < time_now();
	if (expired)
		json_object_set_new(o, "state", json_string("expired"));
	else
		json_object_set_new(o, "state", json_string(disposition_name(
		    r->disposition)));
	if (v->cli->json)
		json_array_append_new(v->arr, o);
	else {
		if (c != NULL)
			time_format(c->not_after, exp);
		printf("%-8" PRId64 " %-8s %-20s %-20s %-40s %s\n", r->id,
		    expired ? "expired" : disposition_name(r->disposition),
		    json_string_value(json_object_get(o, "submitted")) ?
		    json_string_value(json_object_get(o, "submitted")) : "-",
		    c != NULL ? exp : "-", c != NULL ? c->serial : "-",
		    term_safe(c != NULL && c->subject_dn ? c->subject_dn :
		    r->request_dn));
		json_decref(o);
	}
	return 0;
}

static int
view_crl_row(void *arg, const struct db_crl *c)
{
	struct view_out	*v = arg;
	char		 tu[32], nu[32];

	v->n++;
	if (v->cli->json) {
		json_array_append_new(v->arr, crl_to_json(c));
		return 0;
	}
	time_format(c->this_update, tu);
	time_format(c->next_update, nu);
	printf("%-8" PRId64 " %-6s %-20s %-20s %-8" PRId64 " %d\n",
	    c->number, c->base_number < 0 ? "base" : "delta", tu, nu,
	    c->count, c->key_idx);
	return 0;
}

int
cmd_view(const struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "id", required_argument, NULL, 'i' },
		{ "requester", required_argument, NULL, 'r' },
		{ "cn", required_argument, NULL, 'n' },
		{ "serial", required_argument, NULL, 's' },
		{ "since", required_argument, NULL, 'S' },
		{ "until", required_argument, NULL, 'U' },
		{ "limit", required_argument, NULL, 'l' },
		{ "profile", required_argument, NULL, 'p' },
		{ "expiring", required_argument, NULL, 'e' },
		{ NULL, 0, NULL, 0 }
	};
	const char	*synopsis = "[queue|log|logfail|revoked|issued|expired|"
			    "all|crl]\n    [--id MIN[-MAX]] [--requester NAME] "
			    "[--cn TEXT] [--serial HEX-PREFIX]\n    [--profile "
			    "NAME] [--expiring DURATION] [--since TIME] "
			    "[--until TIME] [--limit N]";
	struct db_filter f;
	struct cm_config cfg;
	struct view_out	 v = { cli, NULL, 0 };
	char		 serial[130], arg[256];
	struct store	*st;
	char		 err[512], *dash;
	int64_t		 n;
	int		 ch, rc, crls = 0;

	memset(&f, 0, sizeof(f));
	f.view = VIEW_LOG;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (optarg != NULL)
			strlcpy_cm(arg, optarg, sizeof(arg));
		switch (ch) {
		case 'i':
			if ((dash = strchr(optarg, '-')) != NULL)
				*dash++ = '\0';
			if (parse_int64(optarg, &f.min_id) == -1 ||
			    (dash != NULL && parse_int64(dash, &f.max_id) == -1))
				return view_bad("--id", "is not a request id or "
				    "MIN-MAX", arg, synopsis);
			if (dash == NULL)
				f.max_id = f.min_id;
			else if (f.max_id < f.min_id)
				return view_bad("--id", "ends before it starts",
				    arg, synopsis);
			break;
		case 'r':
			f.requester = optarg;
			break;
		case 'n':
			f.common_name = optarg;
			break;
		case 's':
			/* As OpenSSL prints it: any case, with colons. */
			if (hex_normalize(optarg, serial, sizeof(serial)) == -1)
				return view_bad("--serial", "is not a hexadecimal "
				    "serial number (prefix)", arg, synopsis);
			f.serial = serial;
			break;
		case 'p':
			f.profile = optarg;
			break;
		case 'e':
			if (parse_duration(optarg, &f.expiring) == -1 ||
			    f.expiring <= 0)
				return view_bad("--expiring", "is not a duration "
				    "(30d, 12h, 90m, 3600s)", arg, synopsis);
			break;
		case 'S':
		case 'U':
			if (time_parse(optarg, ch == 'S' ? &f.since :
			    &f.until) == -1)
				return view_bad(ch == 'S' ? "--since" : "--until",
				    "is not a date (2026-12-01, 2026-12-01T10:00:00Z, "
				    "@SECONDS)", arg, synopsis);
			break;
		case 'l':
			if (parse_int64(optarg, &n) == -1 || n < 0 ||
			    n > 1000000000)
				return view_bad("--limit", "is not a number from 0 "
				    "to 1000000000", arg, synopsis);
			f.limit = (int)n;
			break;
		default:
			return bad_usage("view", synopsis);
		}
	}
	if (argc - optind > 1)
		return bad_usage("view", synopsis);
	if (argc - optind == 1 && strcmp(argv[optind], "crl") == 0)
		crls = 1;
	else if (argc - optind == 1 &&
	    (f.view = db_view_from_name(argv[optind])) == VIEW__MAX) {
		fprintf(stderr, "certmint: unknown view \"%s\"\n",
		    argv[optind]);
		return bad_usage("view", synopsis);
	}
	if (cli_config(cli, &cfg) == -1)
		return CLI_FAIL;
	st = store_open(cfg.db_file, STORE_READONLY, err, sizeof(err));
	config_free(&cfg);
	if (st == NULL) {
		fprintf(stderr, "certmint: %s\n", err);
		return CLI_FAIL;
	}
	if (cli->json)
		v.arr = json_array();
	else if (crls)
		printf("%-8s %-6s %-20s %-20s %-8s %s\n", "NUMBER", "KIND",
		    "THIS UPDATE", "NEXT UPDATE", "ENTRIES", "CRL-INDEX");
	else
		printf("%-8s %-8s %-20s %-20s %-40s %s\n", "ID", "STATE",
		    "SUBMITTED", "EXPIRES", "SERIAL", "SUBJECT");
	if (crls)
		rc = store_crl_each(st, f.limit, view_crl_row, &v);
	else
		rc = store_view(st, &f, view_row, &v);
	store_close(st);
	if (cli->json) {
		if (rc == 0)
			print_json(v.arr);
		json_decref(v.arr);
	} else if (rc == 0)
		printf("(%" PRId64 " %s)\n", v.n, v.n == 1 ? "row" : "rows");
	if (rc != 0)
		fprintf(stderr, "certmint: cannot read the database\n");
	return rc == 0 ? CLI_OK : CLI_FAIL;
}
