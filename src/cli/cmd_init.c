/*
 * cmd_init.c - `certmint init` (a root CA, or a subordinate CA's key and
 * request) and `certmint install-ca-cert` (the parent CA's answer).
 */

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "../ca/ca.h"
#include "../crypto/crypto.h"
#include "../store/store.h"
#include "cli.h"

static void
init_usage(FILE *f)
{
	fprintf(f,
	    "usage: certmint [-c FILE] init [--name NAME] [--subject DN]\n"
	    "           [--key-type TYPE] [--hash HASH] [--days N] [--port N]\n"
	    "           [--tls-port N] [--tls-name NAME]... [--listen ADDR]\n"
	    "           [--anonymous no|pending|issue] [--subordinate]\n"
	    "\n"
	    "Create a CA beside the config file (-c): the key (ca.key, mode 0600),\n"
	    "the self-signed certificate (ca.crt), the config file and the\n"
	    "database (certmint.db), and certmintd's HTTPS certificate issued by\n"
	    "the CA (tls.crt, tls.key). With --subordinate, write a request\n"
	    "(ca.csr) for a parent CA instead of ca.crt; then run install-ca-cert\n"
	    "(which issues the HTTPS certificate).\n"
	    "\n"
	    "  --name NAME      the CA's name (default \"certmint CA\")\n"
	    "  --subject DN     its subject (default \"CN=<name>\"), as RFC 4514\n"
	    "                   writes it: \"CN=Root,O=Example,C=DE\"\n"
	    "  --key-type TYPE  ec-p256 (default), ec-p384, rsa-2048, rsa-3072,\n"
	    "                   rsa-4096, ed25519\n"
	    "  --hash HASH      sha256 (default; sha384 for ec-p384), sha512\n"
	    "  --days N         validity of a root certificate (default 3650)\n"
	    "  --port N         HTTP port: CRLs and CA certificates (default 8080)\n"
	    "  --tls-port N     HTTPS port: the REST API (default 8443, or the\n"
	    "                   --port + 1); 0: no HTTPS, no certificate\n"
	    "  --tls-name NAME  another name for the HTTPS certificate (again for\n"
	    "                   more); it has the host name, the listen address,\n"
	    "                   localhost, 127.0.0.1 and ::1\n"
	    "  --listen ADDR    HTTP address (default 127.0.0.1)\n"
	    "  --anonymous MODE who may submit without a token or client\n"
	    "                   certificate: no (default: 401, logged, not\n"
	    "                   recorded), pending (an officer decides), issue\n"
	    "                   (anyone: demos only)\n");
}

int
cli_key_type(const char *arg, enum key_type *kt)
{
	if ((*kt = key_type_from_name(arg)) != KEY__MAX)
		return 0;
	fprintf(stderr, "certmint: unknown key type \"%s\"\n", arg);
	return -1;
}

int
cli_days(const char *opt, const char *arg, int64_t *days)
{
	if (parse_int64(arg, days) == 0 && *days >= 1 && *days <= 36500)
		return 0;
	fprintf(stderr, "certmint: %s: 1 to 36500 (days)\n", opt);
	return -1;
}

int
cli_write_new(const char *path, const char *label, const unsigned char *der,
    size_t len, mode_t mode)
{
	char	*pem;
	int	 rc;

	if ((pem = pem_encode(label, der, len)) == NULL)
		return -1;
	rc = file_write_new(path, pem, strlen(pem), mode);
	free(pem);
	if (rc == -1)
		fprintf(stderr, "certmint: %s: %s\n", path, errno == EEXIST ?
		    "exists; not overwriting it" : strerror(errno));
	return rc;
}

/*
 * What init has made so far, removed if a later step fails: init leaves a
 * whole CA or nothing it created (the key included: nothing was signed
 * with it).
 */
struct made {
	char	*files[16];
	size_t	 nfiles;
	char	*dir;		/* the CA's directory */
	char	*top;		/* the topmost directory init created, or NULL */
};

/* Note path (copied) as made. Returns 0, or -1 when out of memory. */
static int
made_file(struct made *m, const char *path, const char *suffix)
{
	char	*p;

	if (m->nfiles == nitems(m->files) ||
	    asprintf(&p, "%s%s", path, suffix) == -1)
		return -1;
	m->files[m->nfiles++] = p;
	return 0;
}

/* Remove what init made, newest first, then its directories if empty. */
static void
made_undo(struct made *m)
{
	char	*d, *up;
	size_t	 i;

	for (i = m->nfiles; i > 0; i--)
		unlink(m->files[i - 1]);
	if (m->top == NULL || (d = strdup(m->dir)) == NULL)
		return;
	for (;;) {
		if (rmdir(d) == -1 || strcmp(d, m->top) == 0 ||
		    (up = path_dirname(d)) == NULL)
			break;
		free(d);
		d = up;
	}
	free(d);
}

static void
made_free(struct made *m)
{
	while (m->nfiles > 0)
		free(m->files[--m->nfiles]);
	free(m->dir);
	free(m->top);
}

/*
 * Create the CA's directory dir (parents too, mode 0700) and note in m
 * the topmost one this creates. Returns 0, or -1 with errno set.
 */
static int
made_dir(struct made *m, const char *dir)
{
	struct stat	 sb;
	char		*p, *up;

	if ((m->dir = strdup(dir)) == NULL || (p = strdup(dir)) == NULL)
		return -1;
	while (lstat(p, &sb) == -1 && errno == ENOENT) {
		free(m->top);
		m->top = p;
		if ((up = path_dirname(p)) == NULL || strcmp(up, p) == 0) {
			free(up);
			break;
		}
		p = up;
	}
	if (p != m->top)
		free(p);
	return mkdir_p(dir, 0700);
}

/*
 * Refuse to make a CA over another one or its remains: init never writes
 * over a key, a certificate, a database or a marker, nor follows a link
 * planted at their names (or SQLite's journal names). Returns 0, or -1
 * having said which file is there.
 */
static int
ca_files_absent(const struct cm_config *cfg, const char *csr,
    const char *marker)
{
	static const char *const db_suffix[] = {
		"", "-journal", "-wal", "-shm"
	};
	const char	*paths[] = {
		cfg->key_file, cfg->cert_file, csr, marker
	};
	struct stat	 sb;
	char		 path[4096];
	size_t		 i;

	for (i = 0; i < nitems(paths) + nitems(db_suffix); i++) {
		if (i < nitems(paths))
			strlcpy_cm(path, paths[i], sizeof(path));
		else
			snprintf(path, sizeof(path), "%s%s", cfg->db_file,
			    db_suffix[i - nitems(paths)]);
		if (lstat(path, &sb) == 0) {
			fprintf(stderr, "certmint: %s exists: a CA (or what is "
			    "left of one) is there; init never writes over it. "
			    "Move it away or choose another directory (-c)\n",
			    path);
			return -1;
		}
		if (errno != ENOENT) {
			fprintf(stderr, "certmint: %s: %s\n", path,
			    strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* The [server] HTTPS and [rest] lines of init's config file. */
static int
config_text_rest(struct buf *b, int tls_port, const char *tls_names,
    const char *anonymous)
{
	if (buf_printf(b,
	    "# HTTPS ([server] tls_port) serves everything; the plain port only\n"
	    "# CRLs, CA certificates and /health. plain_api = yes serves the API\n"
	    "# on the plain port too: only behind a TLS-terminating proxy on the\n"
	    "# same host. tls_cert and tls_key: issued by this CA at init;\n"
	    "# `certmint tls renew` renews them without a restart.\n"
	    "tls_port = %d\n"
	    "tls_cert = tls.crt\n"
	    "tls_key = tls.key\n", tls_port) == -1 ||
	    (tls_names[0] != '\0' &&
	    buf_printf(b, "tls_names = %s\n", tls_names) == -1))
		return -1;
	if (strcmp(anonymous, "issue") == 0)
		return buf_printf(b,
		    "\n[rest]\n"
		    "# WARNING: ANONYMOUS ENROLLMENT. Anyone who can reach the API gets\n"
		    "# certificates for any name the policy allows, without\n"
		    "# authentication. For a demo only: set \"no\" and create API tokens\n"
		    "# (certmint token create) for anything else.\n"
		    "anonymous = issue\n");
	return buf_printf(b,
	    "\n[rest]\n"
	    "# Who may submit: API tokens (certmint token create) and TLS client\n"
	    "# certificates of this CA (client_profiles, client_names). anonymous =\n"
	    "# pending takes anonymous requests for an officer to decide; issue\n"
	    "# lets anyone have certificates.\n"
	    "anonymous = %s\n", anonymous);
}

/*
 * The HTTPS certificate and key init would write: refused, as the CA's
 * files are, when something is there. 0, or -1 having said what.
 */
static int
tls_files_absent(const struct cm_config *cfg)
{
	const char	*paths[] = { cfg->tls_cert, cfg->tls_key };
	struct stat	 sb;
	size_t		 i;

	for (i = 0; cfg->tls_port > 0 && i < nitems(paths); i++)
		if (lstat(paths[i], &sb) == 0) {
			fprintf(stderr, "certmint: %s exists; init never writes "
			    "over it\n", paths[i]);
			return -1;
		}
	return 0;
}

static char *
config_text(const char *name, const char *subordinate_type, enum key_type kt,
    const char *hash, const char *listen, int port, int tls_port,
    const char *tls_names, const char *anonymous)
{
	struct buf	 b = { 0 };
	const char	*host = strchr(listen, ':') ? "[::1]" :
			    strcmp(listen, "0.0.0.0") == 0 ? "127.0.0.1" : listen;

	if (buf_printf(&b,
	    "# certmint configuration (see docs/user-guide.md).\n"
	    "# Relative paths are relative to this file's directory.\n"
	    "\n[ca]\n"
	    "name = %s\n"
	    "type = %s\n"
	    "key_type = %s\n"
	    "key = ca.key\n"
	    "cert = ca.crt\n"
	    "chain = chain.pem\n"
	    "database = certmint.db\n"
	    "hash = %s\n"
	    "\n[server]\n"
	    "listen = %s\n"
	    "port = %d\n"
	    "admin_socket = admin.sock\n", name, subordinate_type,
	    key_type_name(kt), hash, listen, port) == -1 ||
	    config_text_rest(&b, tls_port, tls_names, anonymous) == -1 ||
	    buf_printf(&b,
	    "\n[publish]\n"
	    "# Where certificates send clients for CRLs and the CA certificate\n"
	    "# (CDP, AIA): a name they reach. Change it with [server] port.\n"
	    "base_url = http://%s:%d\n"
	    "\n[crl]\n"
	    "period = 7d\n"
	    "delta = no\n"
	    "\n[policy]\n"
	    "module = CertMint_Default.Policy\n"
	    "request_disposition = issue\n"
	    "pending_first = no\n"
	    "default_profile = WebServer\n"
	    "validity_days = 365\n"
	    "\n[exit]\n"
	    "modules_dir = modules\n"
	    "# active = MyApp.Exit, Other.Exit\n",
	    host, port) == -1) {
		buf_free(&b);
		return NULL;
	}
	return buf_steal(&b);
}

int
cmd_init(const struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "subject", required_argument, NULL, 's' },
		{ "key-type", required_argument, NULL, 'k' },
		{ "hash", required_argument, NULL, 'H' },
		{ "days", required_argument, NULL, 'd' },
		{ "port", required_argument, NULL, 'p' },
		{ "listen", required_argument, NULL, 'l' },
		{ "tls-port", required_argument, NULL, 'T' },
		{ "tls-name", required_argument, NULL, 'N' },
		{ "anonymous", required_argument, NULL, 'A' },
		{ "subordinate", no_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char	*name = "certmint CA", *subject = NULL, *hash = NULL;
	const char	*listen = "127.0.0.1", *anonymous = "no";
	enum key_type	 kt = KEY_EC_P256;
	int64_t		 days = 3650, port = 8080, tls_port = -1;
	char		 tls_names[1024] = "";
	size_t		 tn;
	int		 ch, sub = 0, rc = CLI_FAIL;
	char		 err[512], *dir = NULL, *text = NULL, *subj = NULL;
	char		*modules = NULL, *csr_path = NULL, *marker = NULL;
	struct made	 made = { .nfiles = 0 };
	EVP_PKEY	*key = NULL;
	unsigned char	*der = NULL;
	size_t		 len;
	struct cm_config cfg;
	struct store	*st;
	int		 have_cfg = 0;

	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'n':
			name = optarg;
			break;
		case 's':
			subject = optarg;
			break;
		case 'k':
			if (cli_key_type(optarg, &kt) == -1)
				return CLI_USAGE;
			break;
		case 'H':
			hash = optarg;
			break;
		case 'd':
			if (cli_days("--days", optarg, &days) == -1)
				return CLI_USAGE;
			break;
		case 'p':
			if (parse_int64(optarg, &port) == -1 || port < 0 ||
			    port > 65535) {
				fprintf(stderr, "certmint: --port: 0 to "
				    "65535\n");
				return CLI_USAGE;
			}
			break;
		case 'l':
			listen = optarg;
			break;
		case 'T':
			if (parse_int64(optarg, &tls_port) == -1 ||
			    tls_port < 0 || tls_port > 65535) {
				fprintf(stderr, "certmint: --tls-port: 0 to "
				    "65535\n");
				return CLI_USAGE;
			}
			break;
		case 'N':
			tn = strlen(tls_names);
			if (strpbrk(optarg, ", \t\n\r") != NULL ||
			    *optarg == '\0' || (size_t)snprintf(tls_names + tn,
			    sizeof(tls_names) - tn, "%s%s", tn ? ", " : "",
			    optarg) >= sizeof(tls_names) - tn) {
				fprintf(stderr, "certmint: --tls-name: one "
				    "name (at most 1000 bytes in all)\n");
				return CLI_USAGE;
			}
			break;
		case 'A':
			if (strcmp(optarg, "no") != 0 &&
			    strcmp(optarg, "pending") != 0 &&
			    strcmp(optarg, "issue") != 0) {
				fprintf(stderr, "certmint: --anonymous: no, "
				    "pending or issue\n");
				return CLI_USAGE;
			}
			anonymous = optarg;
			break;
		case 'S':
			sub = 1;
			break;
		case 'h':
			init_usage(stdout);
			return CLI_OK;
		default:
			init_usage(stderr);
			return CLI_USAGE;
		}
	}
	if (optind != argc) {
		init_usage(stderr);
		return CLI_USAGE;
	}
	if (strpbrk(name, "\n\r") != NULL || *name == '\0') {
		fprintf(stderr, "certmint: --name: one line, not empty\n");
		return CLI_USAGE;
	}
	if (hash == NULL)
		hash = kt == KEY_EC_P384 ? "sha384" : "sha256";
	/* HTTPS beside HTTP: 8443 beside 8080, else the next port. */
	if (tls_port == -1)
		tls_port = port == 8080 ? 8443 : port > 0 && port < 65535 ?
		    port + 1 : 0;
	if ((dir = path_dirname(cli->config_path)) == NULL ||
	    made_dir(&made, dir) == -1) {
		fprintf(stderr, "certmint: cannot create %s: %s\n",
		    dir ? dir : cli->config_path, strerror(errno));
		goto undo;
	}
	if ((text = config_text(name, sub ? "subordinate" : "root", kt, hash,
	    listen, (int)port, (int)tls_port, tls_names, anonymous)) == NULL) {
		fprintf(stderr, "certmint: out of memory\n");
		goto undo;
	}
	if (file_write_new(cli->config_path, text, strlen(text), 0640) == -1) {
		if (errno == EEXIST)
			fprintf(stderr, "certmint: %s exists: this CA is "
			    "already set up\n", cli->config_path);
		else
			fprintf(stderr, "certmint: %s: %s\n",
			    cli->config_path, strerror(errno));
		goto undo;
	}
	if (made_file(&made, cli->config_path, "") == -1)
		goto nomem;
	if (config_load(cli->config_path, &cfg, err, sizeof(err)) == -1) {
		fprintf(stderr, "certmint: %s\n", err);
		goto undo;
	}
	have_cfg = 1;
	if ((csr_path = path_join(cfg.dir, "ca.csr")) == NULL ||
	    (marker = ca_marker_path(&cfg)) == NULL)
		goto nomem;
	if (ca_files_absent(&cfg, csr_path, marker) == -1 ||
	    tls_files_absent(&cfg) == -1)
		goto undo;
	if (subject == NULL) {
		if (asprintf(&subj, "CN=%s", name) == -1)
			goto nomem;
		/* A comma in the name is part of the CN. */
		subject = subj;
	}
	if (key_generate(kt, &key, err, sizeof(err)) == -1 ||
	    key_write(cfg.key_file, key, err, sizeof(err)) == -1) {
		fprintf(stderr, "certmint: %s\n", err);
		goto undo;
	}
	if (made_file(&made, cfg.key_file, "") == -1)
		goto nomem;
	if (sub) {
		if (ca_make_csr(key, subject, hash, &der, &len, err,
		    sizeof(err)) == -1) {
			fprintf(stderr, "certmint: %s\n", err);
			goto undo;
		}
		if (cli_write_new(csr_path, "CERTIFICATE REQUEST", der, len, 0644)
		    == -1)
			goto undo;
		if (made_file(&made, csr_path, "") == -1)
			goto nomem;
	} else {
		if (ca_selfsign(key, subject, (int)days, hash, &der, &len, err,
		    sizeof(err)) == -1) {
			fprintf(stderr, "certmint: %s\n", err);
			goto undo;
		}
		if (cli_write_new(cfg.cert_file, "CERTIFICATE", der, len, 0644)
		    == -1)
			goto undo;
		if (made_file(&made, cfg.cert_file, "") == -1)
			goto nomem;
	}
	/*
	 * Nothing was at these names (ca_files_absent): what is there after
	 * a failure is SQLite's or ours.
	 */
	if (made_file(&made, cfg.db_file, "") == -1 ||
	    made_file(&made, cfg.db_file, "-journal") == -1 ||
	    made_file(&made, cfg.db_file, "-wal") == -1 ||
	    made_file(&made, cfg.db_file, "-shm") == -1 ||
	    made_file(&made, marker, "") == -1)
		goto nomem;
	if ((st = store_open(cfg.db_file, STORE_CREATE | STORE_NEW, err,
	    sizeof(err))) == NULL) {
		fprintf(stderr, "certmint: %s\n", err);
		goto undo;
	}
	/*
	 * The database knows its CA (a root's certificate now, a sub CA's
	 * at its first start) and the CA directory names its database.
	 */
	if (!sub && store_cacert_note(st, 0, 0, der, len) != 0)
		snprintf(err, sizeof(err), "%s: cannot record the CA "
		    "certificate", cfg.db_file);
	else if (ca_identity_write(&cfg, st, err, sizeof(err)) == 0)
		err[0] = '\0';
	store_close(st);
	if (err[0] != '\0') {
		fprintf(stderr, "certmint: %s\n", err);
		goto undo;
	}
	/* A root CA has a CRL from the start (a sub CA once installed). */
	if (!sub && ca_publish_first_crl(cli->config_path, err,
	    sizeof(err)) == -1) {
		fprintf(stderr, "certmint: %s\n", err);
		goto undo;
	}
	/* certmintd's HTTPS certificate, from the CA it serves. */
	if (!sub && cfg.tls_port > 0) {
		if (made_file(&made, cfg.tls_key, "") == -1 ||
		    made_file(&made, cfg.tls_key, ".new") == -1 ||
		    made_file(&made, cfg.tls_cert, "") == -1)
			goto nomem;
		if (cli_tls_issue(cli, &cfg, 0, err, sizeof(err)) == -1) {
			fprintf(stderr, "certmint: %s\n", err);
			goto undo;
		}
	}
	if ((modules = path_join(cfg.dir, "modules")) != NULL)
		mkdir_p(modules, 0755);
	if (sub)
		printf("Subordinate CA request written to %s.\n"
		    "Have the parent CA sign it, then run:\n"
		    "  certmint -c %s install-ca-cert ANSWER.pem "
		    "[--chain PARENT-CHAIN.pem]\n", csr_path,
		    cli->config_path);
	else
		printf("Root CA \"%s\" created: certificate %s\n", name,
		    cfg.cert_file);
	if (!sub && cfg.tls_port > 0)
		printf("HTTPS certificate: %s (key %s), port %d\n",
		    cfg.tls_cert, cfg.tls_key, cfg.tls_port);
	if (cfg.anonymous == CM_ANON_ISSUE)
		printf("WARNING: anonymous enrollment ([rest] anonymous = "
		    "issue): anyone who reaches the API gets certificates\n");
	else if (cfg.tls_port > 0)
		printf("API tokens: certmint -c %s token create --name NAME "
		    "--names '*.example.com'\n", cli->config_path);
	printf("Configuration: %s\nDatabase: %s\n%s: certmintd -c %s\n",
	    cli->config_path, cfg.db_file, sub ? "Once the CA certificate is "
	    "installed, start it with" : "Start it with", cli->config_path);
	rc = CLI_OK;
	goto out;
 nomem:
	fprintf(stderr, "certmint: out of memory\n");
 undo:
	made_undo(&made);
 out:
	made_free(&made);
	if (have_cfg)
		config_free(&cfg);
	OPENSSL_free(der);
	EVP_PKEY_free(key);
	free(csr_path);
	free(marker);
	free(modules);
	free(subj);
	free(text);
	free(dir);
	return rc;
}

/*
 * Which CA certificate an answer installs: 0 for a subordinate CA's first
 * (no ca.crt yet), else N for a renewal whose request ca(N).csr waits.
 * *key_path is the key it certifies. 0, or -1 having said why.
 */
static int
install_target(const struct cm_config *cfg, int *n, char **key_path,
    unsigned char **subject, size_t *subject_len)
{
	struct signer	 sg;
	struct stat	 sb;
	char		 err[512], *base = NULL, *csr = NULL;
	int		 rc = -1;

	*n = 0;
	*subject = NULL;
	if (lstat(cfg->cert_file, &sb) == -1 && errno == ENOENT)
		return (*key_path = strdup(cfg->key_file)) ? 0 : -1;
	if (signer_load(&sg, cfg, err, sizeof(err)) == -1) {
		fprintf(stderr, "certmint: %s\n", err);
		return -1;
	}
	*n = sg.ncerts;
	if ((base = path_join(cfg->dir, "ca.csr")) == NULL ||
	    (csr = path_indexed(base, *n)) == NULL ||
	    (*key_path = path_indexed(cfg->key_file, *n)) == NULL)
		goto out;
	if (lstat(csr, &sb) == -1) {
		fprintf(stderr, "certmint: %s is installed and no renewal "
		    "waits for an answer (%s: %s); renew with `certmint ca "
		    "renew` first\n", cfg->cert_file, csr, strerror(errno));
		goto out;
	}
	/* Renewed with the same key: no ca(N).key. */
	if (lstat(*key_path, &sb) == -1) {
		free(*key_path);
		*key_path = path_indexed(cfg->key_file, sg.key_idx);
	}
	if ((*subject = malloc(sg.issuer_len)) == NULL)
		goto out;
	memcpy(*subject, sg.issuer, sg.issuer_len);
	*subject_len = sg.issuer_len;
	rc = *key_path != NULL ? 0 : -1;
 out:
	signer_free(&sg);
	free(base);
	free(csr);
	return rc;
}

int
cmd_install_ca_cert(const struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "chain", required_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 }
	};
	const char	*chain_path = NULL;
	struct cm_config cfg;
	struct cert_info info;
	unsigned char	*in = NULL, *chain = NULL, *der = NULL, *subject = NULL;
	size_t		 inlen, chainlen = 0, len, subject_len = 0;
	char		*chain_pem = NULL, *key_path = NULL, *cert_path = NULL;
	char		 err[512];
	EVP_PKEY	*key = NULL;
	int		 ch, n, rc = CLI_FAIL, chain_was = 0;

	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ch != 'c') {
			fprintf(stderr, "usage: certmint install-ca-cert FILE "
			    "[--chain FILE]\n");
			return CLI_USAGE;
		}
		chain_path = optarg;
	}
	if (argc - optind != 1) {
		fprintf(stderr, "usage: certmint install-ca-cert FILE "
		    "[--chain FILE]\n");
		return CLI_USAGE;
	}
	if (cli_config(cli, &cfg) == -1)
		return CLI_FAIL;
	if (cli_read(argv[optind], &in, &inlen, 1 << 20) == -1 ||
	    (chain_path != NULL &&
	    cli_read(chain_path, &chain, &chainlen, 1 << 20) == -1))
		goto out;
	/*
	 * Without --chain, the parent's chain installed before (a renewal
	 * of a sub CA whose parent kept its key): what it needs most often.
	 */
	if (chain_path == NULL && access(cfg.chain_file, F_OK) == 0) {
		if (cli_read(cfg.chain_file, &chain, &chainlen, 1 << 20) == -1)
			goto out;
		chain_path = cfg.chain_file;
		chain_was = 1;
	}
	if (install_target(&cfg, &n, &key_path, &subject, &subject_len) == -1)
		goto out;
	if (key_load(key_path, &key, err, sizeof(err)) == -1 ||
	    ca_check_install(key, in, inlen, chain, chainlen, &der, &len,
	    &chain_pem, err, sizeof(err)) == -1) {
		fprintf(stderr, "certmint: %s%s%s%s\n", err, chain_was ?
		    " (with the chain installed before, " : "", chain_was ?
		    chain_path : "", chain_was ? "; if the parent has a new "
		    "key or chain, give it with --chain)" : "");
		goto out;
	}
	/* A renewed CA keeps its name: what it signed names it issuer. */
	if (subject != NULL) {
		if (cert_info_parse(der, len, &info, err, sizeof(err)) == -1) {
			fprintf(stderr, "certmint: %s\n", err);
			goto out;
		}
		rc = info.subject_len != subject_len ||
		    memcmp(info.subject, subject, subject_len) != 0;
		cert_info_free(&info);
		if (rc) {
			rc = CLI_FAIL;
			fprintf(stderr, "certmint: the parent's certificate "
			    "names another subject than the CA's: not a "
			    "renewal of this CA\n");
			goto out;
		}
	}
	if ((cert_path = path_indexed(cfg.cert_file, n)) == NULL ||
	    cli_write_new(cert_path, "CERTIFICATE", der, len, 0644) == -1)
		goto out;
	if (*chain_pem != '\0' && file_write_atomic(cfg.chain_file, chain_pem,
	    strlen(chain_pem), 0644) == -1) {
		fprintf(stderr, "certmint: %s: %s\n", cfg.chain_file,
		    strerror(errno));
		goto out;
	}
	printf("CA certificate %d installed: %s\n", n, cert_path);
	if (*chain_pem != '\0')
		printf("Parent chain: %s\n", cfg.chain_file);
	/* The CRLs, signed by the key now certified. */
	if (n > 0)
		rc = cli_ca_publish(cli, &cfg) == 0 ? CLI_OK : CLI_FAIL;
	else if (ca_publish_first_crl(cli->config_path, err,
	    sizeof(err)) == -1)
		fprintf(stderr, "certmint: %s\n", err);
	else if (cfg.tls_port > 0 && access(cfg.tls_cert, F_OK) == -1 &&
	    cli_tls_issue(cli, &cfg, 0, err, sizeof(err)) == -1)
		/* The CA is whole: the certificate can be had later. */
		fprintf(stderr, "certmint: the HTTPS certificate: %s (then: "
		    "certmint tls renew)\n", err);
	else {
		if (cfg.tls_port > 0)
			printf("HTTPS certificate: %s\n", cfg.tls_cert);
		rc = CLI_OK;
	}
 out:
	config_free(&cfg);
	EVP_PKEY_free(key);
	OPENSSL_free(der);
	free(chain_pem);
	free(key_path);
	free(cert_path);
	free(subject);
	free(in);
	free(chain);
	return rc;
}
