/*
 * main.c - certmint: the command line tool of the certmint CA.
 */

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli.h"

#define DEFAULT_CONFIG	"/etc/certmint/certmint.conf"
#define MAX_ANSWER	(64 << 20)

static const char usage_text[] =
	    "usage: certmint [-c FILE] [--json] COMMAND [ARGS]\n"
	    "\n"
	    "Set up:\n"
	    "  init [--name NAME] [--subject DN] [--key-type TYPE] [--hash H]\n"
	    "       [--days N] [--port N] [--tls-port N] [--tls-name NAME]...\n"
	    "       [--listen ADDR] [--subordinate] [--anonymous no|issue|pending]\n"
	    "                                 create a CA (config, key, certificate,\n"
	    "                                 database) beside the config file\n"
	    "  install-ca-cert FILE [--chain FILE]\n"
	    "                                 install a parent CA's answer (sub CA)\n"
	    "  ca list                        the CA certificates, by index\n"
	    "  ca renew [--new-key [--key-type TYPE]] [--days N]\n"
	    "                                 renew the CA's certificate (see\n"
	    "                                 certmint ca --help)\n"
	    "Requests (through certmintd):\n"
	    "  submit FILE [--attrib NAME:VALUE]... [--requester NAME] [--out FILE]\n"
	    "  resubmit ID                    approve a pending request\n"
	    "  deny ID                        deny a pending request\n"
	    "  retrieve ID [--out FILE]       the result of a request\n"
	    "  renew SERIAL [--csr FILE] [--out FILE]\n"
	    "                                 a new certificate for the same key\n"
	    "  revoke SERIAL [REASON] [--date TIME]\n"
	    "  unrevoke SERIAL                release a certificateHold\n"
	    "  crl [--delta]                  publish a CRL now\n"
	    "  import FILE                    record a certificate this CA issued\n"
	    "  status | reload | shutdown\n"
	    "Records (read from the database):\n"
	    "  view [queue|log|logfail|revoked|issued|expired|all|crl]\n"
	    "       [--id MIN[-MAX]] [--requester NAME] [--cn TEXT] [--serial HEX]\n"
	    "       [--profile NAME] [--expiring DURATION] [--since TIME]\n"
	    "       [--until TIME] [--limit N]\n"
	    "Housekeeping (through certmintd):\n"
	    "  purge --expired-before DATE [--dry-run] [--revoked-too]\n"
	    "                                 forget requests whose certificate\n"
	    "                                 expired before DATE (revoked ones,\n"
	    "                                 undelivered events and the newest\n"
	    "                                 are kept; see docs/cli.md), and\n"
	    "                                 ACME orders that expired before it\n"
	    "Modules:\n"
	    "  exit list | status | show NAME | set NAME PROP VALUE\n"
	    "  exit configure NAME [--refresh] | replay NAME [--from SEQ | --dead]\n"
	    "  exit resume NAME\n"
	    "  exit register FILE.so|FILE.lua|NAME [--from newest|cursor|SEQ] | unregister NAME\n"
	    "  exit test FILE.so|FILE.lua [--event EVENT]... (see certmint exit test --help)\n"
	    "  policy show | set FILE.lua|FILE.so|CertMint_Default.Policy\n"
	    "Backup (AD CS certutil -backup/-restore):\n"
	    "  backup DIR                     database (online), key, certificates,\n"
	    "                                 config and modules into a new DIR\n"
	    "  restore DIR [--force]          put a backup back (certmintd stopped;\n"
	    "                                 never over a newer or another CA)\n"
	    "REST API access (on the database; certmintd may run):\n"
	    "  token create --name NAME [--profiles P,...] [--names PATTERN,...]\n"
	    "       [--expires DAYS]          an API token, printed once\n"
	    "  token list | revoke NAME\n"
	    "  tls renew                      a new HTTPS certificate for certmintd\n"
	    "                                 (reloaded without a restart)\n"
	    "ACME (on the database; certmintd may run; docs/acme.md):\n"
	    "  acme accounts | orders [--limit N]\n"
	    "                                 the ACME server's, newest first\n"
	    "  acme eab create [--directory NAME] [--kid KID]\n"
	    "                                 an External Account Binding key\n"
	    "Profiles (read from the config file):\n"
	    "  profile list | show NAME       certificate profiles (templates)\n"
	    "\n"
	    "  -c, --config FILE  configuration file (default: $CERTMINT_CONFIG,\n"
	    "                     else " DEFAULT_CONFIG ")\n"
	    "  -j, --json         print answers as JSON\n"
	    "  -h, --help         this help\n"
	    "  -V, --version      print the version\n"
	    "\n"
	    "Exit status: 0 on success, 1 when the CA refused or failed, 2 on\n"
	    "usage errors, 3 when the request is pending (submit, resubmit,\n"
	    "retrieve). See docs/cli.md.\n";

static void
usage(FILE *f)
{
	fputs(usage_text, f);
}

/* Is word, len bytes, the name of a command? */
static int is_command(const char *, size_t);

/*
 * Does the usage entry starting at line (up to its end of line) describe
 * cmd? Its first word is cmd, or (as in "status | reload | shutdown") it
 * is only commands joined by "|", cmd among them.
 */
static int
entry_of(const char *line, const char *cmd)
{
	const char	*p = line, *end = strchr(line, '\n'), *w;
	size_t		 n = strlen(cmd);
	int		 found = 0;

	for (;;) {
		while (p < end && (*p == ' ' || *p == '|'))
			p++;
		if (p == end)
			return found;
		for (w = p; p < end && *p != ' ' && *p != '|'; p++)
			;
		if ((size_t)(p - w) == n && strncmp(w, cmd, n) == 0) {
			if (w == line + 2)
				return 1;
			found = 1;
		} else if (!is_command(w, (size_t)(p - w)))
			return 0;
	}
}

/*
 * `certmint CMD --help`: the lines of the usage that describe CMD (an
 * entry is a line indented by two spaces and the lines indented further
 * that follow it), then where the rest is.
 */
static void
command_usage(FILE *f, const char *cmd)
{
	const char	*line, *nl;
	int		 in = 0;

	fprintf(f, "usage: certmint [-c FILE] [--json] %s [ARGS]\n", cmd);
	for (line = usage_text; *line != '\0'; line = nl + 1) {
		if ((nl = strchr(line, '\n')) == NULL)
			break;
		if (strncmp(line, "  ", 2) == 0 && line[2] != ' ' &&
		    line[2] != '-')
			in = entry_of(line, cmd);
		else if (strncmp(line, "   ", 3) != 0)
			in = 0;
		if (in)
			fwrite(line, 1, (size_t)(nl - line + 1), f);
	}
	fprintf(f, "\nExit status and the other commands: certmint --help; "
	    "docs/cli.md.\n");
}

/* Is a certmintd answering on the config's admin socket? */
int
cli_daemon_running(const struct cm_config *cfg)
{
	struct sockaddr_un sun;
	int		 fd, up;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(cfg->admin_socket) >= sizeof(sun.sun_path))
		return 0;
	strlcpy_cm(sun.sun_path, cfg->admin_socket, sizeof(sun.sun_path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return 0;
	up = connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0;
	close(fd);
	return up;
}

/* The code of the daemon's last refusal ("conflict", ...), for admin_code. */
static char	 last_code[32];

const char *
admin_code(void)
{
	return last_code;
}

const char *
term_safe(const char *s)
{
	static char	 bufs[4][4096];
	static int	 next;

	return s == NULL ? "" : text_escape(s, bufs[next++ % 4],
	    sizeof(bufs[0]));
}

int
cli_config(const struct cli *cli, struct cm_config *cfg)
{
	char	 err[512];

	if (config_load(cli->config_path, cfg, err, sizeof(err)) == -1) {
		fprintf(stderr, "certmint: %s\n", err);
		return -1;
	}
	return 0;
}

int
cli_read(const char *path, unsigned char **data, size_t *len, size_t max)
{
	if (file_read(path, data, len, max) == -1) {
		fprintf(stderr, "certmint: %s: %s\n", path,
		    errno == EFBIG ? "too large" : errno ? strerror(errno) :
		    "cannot read");
		return -1;
	}
	return 0;
}

/* Read one newline-terminated answer until EOF. */
static json_t *
read_answer(int fd)
{
	struct buf	 b = { 0 };
	char		 chunk[8192];
	ssize_t		 n;
	json_error_t	 je;
	json_t		*j;

	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n == -1) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (b.len + (size_t)n > MAX_ANSWER ||
		    buf_append(&b, chunk, (size_t)n) == -1) {
			buf_free(&b);
			return NULL;
		}
	}
	if (b.data == NULL)
		return NULL;
	j = json_loadb((char *)b.data, b.len, 0, &je);
	buf_free(&b);
	return j;
}

/*
 * The daemon's admin socket. A config file that does not load (a typo
 * that `reload` refused, say) leaves the daemon running on the one it
 * loaded before: its socket is still found, so that revoke, crl, status,
 * reload and shutdown work while the file is being fixed. Caller frees.
 */
static char *
admin_socket(const struct cli *cli)
{
	struct cm_config cfg;
	char		*sock;

	if (cli_config(cli, &cfg) == 0) {
		sock = xstrdup(cfg.admin_socket);
		config_free(&cfg);
		return sock;
	}
	if ((sock = config_peek_path(cli->config_path, "server",
	    "admin_socket", "admin.sock")) != NULL)
		fprintf(stderr, "certmint: asking certmintd at %s all the "
		    "same: it runs on the configuration it loaded before\n",
		    sock);
	return sock;
}

json_t *
admin_call(const struct cli *cli, const char *cmd, json_t *args)
{
	struct sockaddr_un sun;
	char		*req = NULL, *sock;
	json_t		*ans = NULL, *err;
	size_t		 len, off;
	ssize_t		 n;
	int		 fd = -1;

	if (args == NULL)
		args = json_object();
	json_object_set_new(args, "cmd", json_string(cmd));
	if ((sock = admin_socket(cli)) == NULL) {
		json_decref(args);
		return NULL;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(sock) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "certmint: %s: path too long\n", sock);
		goto out;
	}
	strlcpy_cm(sun.sun_path, sock, sizeof(sun.sun_path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		fprintf(stderr, "certmint: cannot reach certmintd at %s: %s "
		    "(is it running?)\n", sock, strerror(errno));
		goto out;
	}
	if ((req = json_dumps(args, JSON_COMPACT)) == NULL)
		goto out;
	len = strlen(req);
	req[len++] = '\n';	/* json_dumps left room: we replaced the NUL */
	/* MSG_NOSIGNAL: a daemon that closes early is an error, not SIGPIPE. */
	for (off = 0; off < len; off += (size_t)n)
		if ((n = send(fd, req + off, len - off, MSG_NOSIGNAL)) <= 0) {
			fprintf(stderr, "certmint: %s: %s\n", sock,
			    strerror(errno));
			goto out;
		}
	shutdown(fd, SHUT_WR);
	if ((ans = read_answer(fd)) == NULL || !json_is_object(ans)) {
		fprintf(stderr, "certmint: no valid answer from certmintd\n");
		json_decref(ans);
		ans = NULL;
		goto out;
	}
	if (!json_is_true(json_object_get(ans, "ok"))) {
		err = json_object_get(ans, "code");
		strlcpy_cm(last_code, json_is_string(err) ?
		    json_string_value(err) : "", sizeof(last_code));
		err = json_object_get(ans, "error");
		fprintf(stderr, "certmint: %s\n", json_is_string(err) ?
		    term_safe(json_string_value(err)) : "the daemon refused");
		if (cli->json)
			print_json(ans);
		json_decref(ans);
		ans = NULL;
	}
 out:
	if (fd != -1)
		close(fd);
	free(req);
	free(sock);
	json_decref(args);
	return ans;
}

void
print_json(const json_t *j)
{
	char	*s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

	if (s != NULL)
		puts(s);
	free(s);
}

static const char *
jstr(const json_t *o, const char *key)
{
	const char	*s = json_string_value(json_object_get(o, key));

	return s != NULL ? s : "";
}

void
print_request(const json_t *r)
{
	json_t	*v;

	/* What a requester chose is shown, never obeyed by the terminal. */
	printf("Request %" JSON_INTEGER_FORMAT ": %s (%s)\n",
	    json_integer_value(json_object_get(r, "request_id")),
	    jstr(r, "disposition"), term_safe(jstr(r, "message")));
	if (*jstr(r, "subject"))
		printf("  subject:   %s\n", term_safe(jstr(r, "subject")));
	if (*jstr(r, "requester"))
		printf("  requester: %s\n", term_safe(jstr(r, "requester")));
	if (*jstr(r, "submitted"))
		printf("  submitted: %s\n", jstr(r, "submitted"));
	if (*jstr(r, "serial")) {
		printf("  serial:    %s\n", jstr(r, "serial"));
		printf("  valid:     %s to %s\n", jstr(r, "not_before"),
		    jstr(r, "not_after"));
	}
	if (*jstr(r, "profile"))
		printf("  profile:   %s\n", jstr(r, "profile"));
	if ((v = json_object_get(r, "revoked_reason")) != NULL)
		printf("  revoked:   %s (%s)\n", jstr(r, "revoked"),
		    jstr(r, "revoked_reason_name"));
}

/*
 * How `certmint CMD ... --help` is answered: by CMD's lines of the usage
 * (HELP_USAGE), by CMD's own getopt with all its arguments (HELP_OWN,
 * only for the subcommand help_sub when one is named), or by CMD called
 * with "--help" alone (HELP_ALONE).
 */
enum { HELP_USAGE, HELP_OWN, HELP_ALONE };

static const struct {
	const char	*name;
	int		(*fn)(const struct cli *, int, char **);
	int		 help;
	const char	*help_sub;
} commands[] = {
	{ "init", cmd_init, HELP_OWN, NULL },
	{ "install-ca-cert", cmd_install_ca_cert, HELP_USAGE, NULL },
	{ "ca", cmd_ca, HELP_ALONE, NULL },
	{ "submit", cmd_submit, HELP_USAGE, NULL },
	{ "resubmit", cmd_by_id, HELP_USAGE, NULL },
	{ "deny", cmd_by_id, HELP_USAGE, NULL },
	{ "retrieve", cmd_by_id, HELP_USAGE, NULL },
	{ "revoke", cmd_revoke, HELP_USAGE, NULL },
	{ "renew", cmd_renew, HELP_USAGE, NULL },
	{ "unrevoke", cmd_unrevoke, HELP_USAGE, NULL },
	{ "crl", cmd_crl, HELP_USAGE, NULL },
	{ "import", cmd_import, HELP_USAGE, NULL },
	{ "purge", cmd_purge, HELP_USAGE, NULL },
	{ "status", cmd_status, HELP_USAGE, NULL },
	{ "reload", cmd_simple, HELP_USAGE, NULL },
	{ "shutdown", cmd_simple, HELP_USAGE, NULL },
	{ "view", cmd_view, HELP_USAGE, NULL },
	{ "exit", cmd_exit, HELP_OWN, "test" },
	{ "policy", cmd_policy, HELP_USAGE, NULL },
	{ "profile", cmd_profile, HELP_USAGE, NULL },
	{ "token", cmd_token, HELP_ALONE, NULL },
	{ "tls", cmd_tls, HELP_ALONE, NULL },
	{ "acme", cmd_acme, HELP_ALONE, NULL },
	{ "backup", cmd_backup_restore, HELP_USAGE, NULL },
	{ "restore", cmd_backup_restore, HELP_USAGE, NULL },
};

static int
is_command(const char *w, size_t n)
{
	size_t	 i;

	for (i = 0; i < nitems(commands); i++)
		if (strlen(commands[i].name) == n &&
		    strncmp(commands[i].name, w, n) == 0)
			return 1;
	return 0;
}

/*
 * -h or --help among a command's arguments (before "--"): its help, on
 * stdout, and nothing done. Commands with a help of their own get it;
 * the others get their lines of the usage. Never taken as a value: a
 * `backup --help` would otherwise copy the CA key into "--help".
 */
static int
command_help(const struct cli *cli, int argc, char **argv, int cmd)
{
	static char	 help[] = "--help";
	char		*two[3];
	const char	*name = argv[0];
	int		 i;

	for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
			break;
	if (i == argc || strcmp(argv[i], "--") == 0)
		return -1;
	if (commands[cmd].help == HELP_OWN && (commands[cmd].help_sub ==
	    NULL || (argc > 2 && strcmp(argv[1], commands[cmd].help_sub) ==
	    0)))
		return commands[cmd].fn(cli, argc, argv);
	if (commands[cmd].help == HELP_ALONE) {
		two[0] = argv[0];
		two[1] = help;
		two[2] = NULL;
		return commands[cmd].fn(cli, 2, two);
	}
	command_usage(stdout, name);
	return CLI_OK;
}

int
main(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	struct cli	 cli = { 0 };
	size_t		 i;
	int		 ch;

	log_init("certmint", CM_LOG_WARN);
	cli.config_path = getenv("CERTMINT_CONFIG");
	if (cli.config_path == NULL || *cli.config_path == '\0')
		cli.config_path = DEFAULT_CONFIG;
	while ((ch = getopt_long(argc, argv, "+c:jhV", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			cli.config_path = optarg;
			break;
		case 'j':
			cli.json = 1;
			break;
		case 'h':
			usage(stdout);
			return CLI_OK;
		case 'V':
			printf("certmint %s\n", CM_VERSION);
			return CLI_OK;
		default:
			usage(stderr);
			return CLI_USAGE;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0) {
		usage(stderr);
		return CLI_USAGE;
	}
	/* --json may also follow the command. */
	for (i = 1; i < (size_t)argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "--json") == 0 || strcmp(argv[i], "-j") == 0) {
			cli.json = 1;
			memmove(&argv[i], &argv[i + 1],
			    (size_t)(argc - (int)i) * sizeof(*argv));
			argc--;
			i--;
		}
	for (i = 0; i < nitems(commands); i++)
		if (strcmp(argv[0], commands[i].name) == 0) {
			optind = 0;	/* full reset for the command's getopt */
			if ((ch = command_help(&cli, argc, argv, (int)i)) != -1)
				return ch;
			return commands[i].fn(&cli, argc, argv);
		}
	fprintf(stderr, "certmint: unknown command \"%s\" (see certmint "
	    "--help)\n", argv[0]);
	return CLI_USAGE;
}
