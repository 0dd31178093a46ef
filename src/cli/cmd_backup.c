/*
 * cmd_backup.c - `certmint backup DIR` and `certmint restore DIR`, AD CS's
 * certutil -backup / -restore. A backup is taken while certmintd runs:
 * the database through SQLite's online backup (one commit's state), the
 * key, the certificates, the config and the module files, with a MANIFEST
 * of their SHA-256. A restore is offline: it refuses a running CA, a
 * damaged backup, and a CA that is newer than the backup or is another
 * one.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "../ca/ca.h"
#include "../crypto/crypto.h"
#include "../store/store.h"
#include "cli.h"

#define MAX_FILE	(256 << 20)
#define MANIFEST	"MANIFEST"

/* The files of a CA, by their name in a backup. */
enum bfile { BF_CONFIG, BF_KEY, BF_CERT, BF_CHAIN, BF__MAX };
static const char *const bnames[BF__MAX] = {
	"certmint.conf", "ca.key", "ca.crt", "chain.pem"
};

static const char *
bpath(const struct cm_config *cfg, enum bfile f)
{
	switch (f) {
	case BF_CONFIG:
		return cfg->path;
	case BF_KEY:
		return cfg->key_file;
	case BF_CERT:
		return cfg->cert_file;
	default:
		return cfg->chain_file;
	}
}

/*
 * Write data to path, as a new file (file_write_new: never over anything,
 * never through a link) or replacing it atomically (file_write_atomic).
 * 0 or -1 (printed).
 */
static int
put_file(const char *path, const void *data, size_t len, mode_t mode,
    int replace)
{
	if ((replace ? file_write_atomic(path, data, len, mode) :
	    file_write_new(path, data, len, mode)) == 0)
		return 0;
	fprintf(stderr, "certmint: %s: %s\n", path, strerror(errno));
	return -1;
}

/* Copy file src to dst (new), recording it in the manifest. */
static int
backup_file(const char *src, const char *dir, const char *name,
    mode_t mode, FILE *manifest)
{
	unsigned char	*data;
	size_t		 len;
	char		*dst, hash[65];
	int		 rc;

	if (cli_read(src, &data, &len, MAX_FILE) == -1)
		return -1;
	if ((dst = path_join(dir, name)) == NULL || sha256_hex(data, len,
	    hash) == -1) {
		free(dst);
		free(data);
		return -1;
	}
	rc = put_file(dst, data, len, mode, 0);
	if (rc == 0)
		fprintf(manifest, "file %s %s %zu\n", name, hash, len);
	free(dst);
	free(data);
	return rc;
}

/*
 * A renewed CA's certificates and keys (ca(N).crt, ca(N).key: the key
 * only where a renewal made a new one), under the same names.
 */
static int
backup_renewals(const struct cm_config *cfg, const char *dir, FILE *m)
{
	struct stat	 sb;
	char		*src, *name;
	int		 n, k, rc = 0, last = 0;

	for (n = 1; rc == 0 && !last && n < SIGNER_MAX_CERTS; n++)
		for (k = BF_KEY; rc == 0 && k <= BF_CERT; k++) {
			src = path_indexed(bpath(cfg, k), n);
			name = path_indexed(bnames[k], n);
			if (src == NULL || name == NULL)
				rc = -1;
			else if (stat(src, &sb) == -1)
				last = k == BF_CERT;
			else
				rc = backup_file(src, dir, name,
				    k == BF_KEY ? 0600 : 0644, m);
			free(src);
			free(name);
		}
	return rc;
}

/* The module files of the CA's modules_dir, into DIR/modules. */
static int
backup_modules(const struct cm_config *cfg, const char *dir, FILE *manifest)
{
	const char	*v = config_get(cfg, "exit", "modules_dir");
	char		*mdir, *src, *bdir, name[300];
	struct dirent	*e;
	struct stat	 sb;
	DIR		*d;
	int		 rc = 0;

	if ((mdir = path_join(cfg->dir, v ? v : "modules")) == NULL)
		return -1;
	if ((d = opendir(mdir)) == NULL) {
		free(mdir);
		return errno == ENOENT ? 0 : -1;
	}
	if ((bdir = path_join(dir, "modules")) == NULL ||
	    mkdir(bdir, 0700) == -1) {
		free(bdir);
		free(mdir);
		closedir(d);
		return -1;
	}
	free(bdir);
	while (rc == 0 && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' || (src = path_join(mdir,
		    e->d_name)) == NULL)
			continue;
		if (lstat(src, &sb) == 0 && S_ISREG(sb.st_mode)) {
			snprintf(name, sizeof(name), "modules/%s", e->d_name);
			rc = backup_file(src, dir, name, 0644, manifest);
		}
		free(src);
	}
	closedir(d);
	free(mdir);
	return rc;
}

/* A database's id, highest request id and CRL number. 0 or -1. */
static int
db_position(const char *path, char **id, int64_t *req, int64_t *crl)
{
	struct store	*st;
	char		 err[512];
	int		 rc = -1;

	*id = NULL;
	if ((st = store_open(path, STORE_READONLY, err, sizeof(err))) == NULL)
		return -1;
	if (store_meta_get(st, "database_id", id) == 0 &&
	    store_max_request_id(st, req) == 0 &&
	    store_max_crl_number(st, crl) == 0)
		rc = 0;
	store_close(st);
	return rc;
}

static int
cmd_backup(const struct cli *cli, const char *dir)
{
	struct cm_config cfg;
	struct store	*st = NULL;
	struct stat	 sb;
	FILE		*m = NULL;
	char		 err[512], *dbcopy = NULL, *mpath = NULL, *id = NULL;
	char		 hash[65];
	unsigned char	*data = NULL;
	size_t		 len;
	int64_t		 req = 0, crl = 0;
	int		 i, rc = CLI_FAIL;

	if (cli_config(cli, &cfg) == -1)
		return CLI_FAIL;
	if (mkdir(dir, 0700) == -1) {
		fprintf(stderr, "certmint: %s: %s (a backup goes into a new "
		    "directory)\n", dir, strerror(errno));
		goto out;
	}
	if ((mpath = path_join(dir, MANIFEST ".tmp")) == NULL ||
	    (m = fopen(mpath, "wx")) == NULL) {
		fprintf(stderr, "certmint: %s: cannot write\n", dir);
		goto out;
	}
	fprintf(m, "# certmint backup of \"%s\", %" PRId64 "\n", cfg.ca_name,
	    (int64_t)time(NULL));
	/* The database first: the files it names do not change. */
	if ((st = store_open(cfg.db_file, STORE_READONLY, err,
	    sizeof(err))) == NULL ||
	    (dbcopy = path_join(dir, "certmint.db")) == NULL ||
	    store_backup(st, dbcopy, err, sizeof(err)) == -1) {
		fprintf(stderr, "certmint: %s\n", err);
		goto out;
	}
	if (db_position(dbcopy, &id, &req, &crl) == -1 ||
	    cli_read(dbcopy, &data, &len, (size_t)1 << 40) == -1 ||
	    sha256_hex(data, len, hash) == -1) {
		fprintf(stderr, "certmint: %s: cannot read the copy\n", dbcopy);
		goto out;
	}
	fprintf(m, "database %s %" PRId64 " %" PRId64 "\n", id, req, crl);
	fprintf(m, "file certmint.db %s %zu\n", hash, len);
	for (i = 0; i < BF__MAX; i++) {
		if (i == BF_CHAIN && stat(bpath(&cfg, i), &sb) == -1 &&
		    errno == ENOENT)
			continue;
		if (backup_file(bpath(&cfg, i), dir, bnames[i],
		    i == BF_KEY ? 0600 : 0644, m) == -1)
			goto out;
	}
	if (backup_renewals(&cfg, dir, m) == -1)
		goto out;
	if (backup_modules(&cfg, dir, m) == -1) {
		fprintf(stderr, "certmint: cannot copy the module files\n");
		goto out;
	}
	if (fflush(m) != 0 || fsync(fileno(m)) == -1 || fclose(m) != 0) {
		m = NULL;
		fprintf(stderr, "certmint: %s: cannot write\n", mpath);
		goto out;
	}
	m = NULL;
	/* The manifest last: a backup without one is unfinished. */
	free(dbcopy);
	if ((dbcopy = path_join(dir, MANIFEST)) == NULL ||
	    rename(mpath, dbcopy) == -1) {
		fprintf(stderr, "certmint: %s: cannot finish\n", dir);
		goto out;
	}
	printf("Backup of \"%s\" in %s: database %s up to request %" PRId64
	    " and CRL %" PRId64 "\n", cfg.ca_name, dir, id, req, crl);
	rc = CLI_OK;
out:
	if (m != NULL)
		fclose(m);
	store_close(st);
	free(data);
	free(id);
	free(dbcopy);
	free(mpath);
	config_free(&cfg);
	return rc;
}

/* One backed-up file, read and checked against the manifest. */
struct rfile {
	char		 name[256];
	char		 hash[65];
	unsigned char	*data;
	size_t		 len;
};

struct backup {
	char		 id[64];
	int64_t		 req, crl;
	struct rfile	*files;
	size_t		 nfiles;
};

static void
backup_free(struct backup *b)
{
	size_t	 i;

	for (i = 0; i < b->nfiles; i++)
		free(b->files[i].data);
	free(b->files);
}

/* Read DIR's manifest and every file it lists, checking each. 0 or -1. */
static int
backup_read(const char *dir, struct backup *b)
{
	char		*path, line[1024], hash[65];
	struct rfile	*f;
	size_t		 len;
	FILE		*m;

	memset(b, 0, sizeof(*b));
	if ((path = path_join(dir, MANIFEST)) == NULL)
		return -1;
	if ((m = fopen(path, "r")) == NULL) {
		fprintf(stderr, "certmint: %s: %s (not a finished backup)\n",
		    path, strerror(errno));
		free(path);
		return -1;
	}
	free(path);
	while (fgets(line, sizeof(line), m) != NULL) {
		if (sscanf(line, "database %63s %" SCNd64 " %" SCNd64, b->id,
		    &b->req, &b->crl) == 3)
			continue;
		if (strncmp(line, "file ", 5) != 0)
			continue;
		if ((f = reallocarray(b->files, b->nfiles + 1,
		    sizeof(*f))) == NULL)
			goto fail;
		b->files = f;
		f = &b->files[b->nfiles++];
		memset(f, 0, sizeof(*f));
		if (sscanf(line, "file %255s %64s %zu", f->name, f->hash,
		    &len) != 3 || strstr(f->name, "..") != NULL ||
		    f->name[0] == '/') {
			fprintf(stderr, "certmint: %s: bad manifest line\n",
			    dir);
			goto fail;
		}
		if ((path = path_join(dir, f->name)) == NULL ||
		    cli_read(path, &f->data, &f->len, (size_t)1 << 40) == -1) {
			free(path);
			goto fail;
		}
		free(path);
		if (f->len != len || sha256_hex(f->data, f->len, hash) == -1 ||
		    strcmp(hash, f->hash) != 0) {
			fprintf(stderr, "certmint: %s/%s: does not match the "
			    "manifest (damaged backup)\n", dir, f->name);
			goto fail;
		}
	}
	fclose(m);
	if (b->id[0] == '\0') {
		fprintf(stderr, "certmint: %s: the manifest names no "
		    "database\n", dir);
		return -1;
	}
	return 0;
fail:
	fclose(m);
	backup_free(b);
	return -1;
}

static const struct rfile *
backup_get(const struct backup *b, const char *name)
{
	size_t	 i;

	for (i = 0; i < b->nfiles; i++)
		if (strcmp(b->files[i].name, name) == 0)
			return &b->files[i];
	return NULL;
}

/*
 * May the backup's file f replace what is at path? Yes when nothing is
 * there or the same bytes are; otherwise only with force (the key and the
 * certificate never: that is another CA).
 */
static int
may_replace(const char *path, const struct rfile *f, int force, int never)
{
	unsigned char	*data;
	size_t		 len;
	int		 same;

	if (file_read(path, &data, &len, MAX_FILE) == -1)
		return errno == ENOENT ? 1 : 0;
	same = len == f->len && memcmp(data, f->data, len) == 0;
	free(data);
	if (same || (force && !never))
		return 1;
	fprintf(stderr, "certmint: %s exists and differs from the backup's "
	    "%s%s\n", path, f->name, never ? " (another CA's?)" :
	    "; --force replaces it");
	return 0;
}

/*
 * The backup's renewed CA certificates and keys (backup_renewals): check
 * that each may go in place (write 0), or put them there (write 1). 0 or
 * -1 (printed).
 */
static int
restore_renewals(const struct backup *b, const struct cm_config *cfg,
    int force, int write)
{
	const struct rfile *f;
	char		*name, *path;
	int		 n, k, rc = 0, last = 0;

	for (n = 1; rc == 0 && !last && n < SIGNER_MAX_CERTS; n++)
		for (k = BF_KEY; rc == 0 && k <= BF_CERT; k++) {
			name = path_indexed(bnames[k], n);
			path = path_indexed(bpath(cfg, k), n);
			if (name == NULL || path == NULL)
				rc = -1;
			else if ((f = backup_get(b, name)) == NULL)
				last = k == BF_CERT;
			else if (!write)
				rc = may_replace(path, f, force, 1) ? 0 : -1;
			else
				rc = put_file(path, f->data, f->len,
				    k == BF_KEY ? 0600 : 0644, 1);
			free(name);
			free(path);
		}
	return rc;
}

/*
 * The backup's database, in a temporary file beside where it goes: it
 * must pass PRAGMA quick_check and be the database the manifest names,
 * before anything of the backup is written. 0, or -1 (said).
 */
static int
backup_db_check(const struct backup *b, const char *db_file)
{
	const struct rfile *f = backup_get(b, "certmint.db");
	struct store	*st = NULL;
	char		 tmp[PATH_MAX], side[PATH_MAX + 8], err[512], *id = NULL;
	int		 rc = -1;

	if (file_write_temp(db_file, tmp, f->data, f->len, 0600) == -1) {
		fprintf(stderr, "certmint: %s: %s\n", db_file, strerror(errno));
		return -1;
	}
	if ((st = store_open(tmp, STORE_READONLY, err, sizeof(err))) == NULL ||
	    store_quick_check(st, err, sizeof(err)) == -1)
		fprintf(stderr, "certmint: the backup's database does not "
		    "read: %s\n", err);
	else if (store_meta_get(st, "database_id", &id) != 0 ||
	    strcmp(id, b->id) != 0)
		fprintf(stderr, "certmint: the backup's database is not the "
		    "one its manifest names (%s)\n", b->id);
	else
		rc = 0;
	store_close(st);
	free(id);
	unlink(tmp);
	/* What SQLite may have made beside it. */
	snprintf(side, sizeof(side), "%s-wal", tmp);
	unlink(side);
	snprintf(side, sizeof(side), "%s-shm", tmp);
	unlink(side);
	return rc;
}

static int
cmd_restore(const struct cli *cli, const char *dir, int force)
{
	struct backup	 b;
	struct cm_config cfg;
	const struct rfile *f;
	const char	*v;
	struct store	*st;
	char		 err[512], *id = NULL, *p = NULL, mid[64];
	int64_t		 req, crl, mreq, mcrl;
	int		 i, have_cfg = 0, running, rc = CLI_FAIL;
	char		*mdir = NULL, tmpconf[PATH_MAX] = "";

	if (backup_read(dir, &b) == -1)
		return CLI_FAIL;
	if ((f = backup_get(&b, bnames[BF_CONFIG])) == NULL ||
	    backup_get(&b, "certmint.db") == NULL ||
	    backup_get(&b, bnames[BF_KEY]) == NULL ||
	    backup_get(&b, bnames[BF_CERT]) == NULL) {
		fprintf(stderr, "certmint: %s: the backup lacks a file\n", dir);
		goto out;
	}
	/* A CA running there is never touched. */
	if (config_load(cli->config_path, &cfg, err, sizeof(err)) == 0) {
		running = cli_daemon_running(&cfg);
		config_free(&cfg);
		if (running) {
			fprintf(stderr, "certmint: certmintd is running with %s: "
			    "stop it before restoring\n", cli->config_path);
			goto out;
		}
	}
	if ((p = path_dirname(cli->config_path)) == NULL ||
	    mkdir_p(p, 0755) == -1) {
		fprintf(stderr, "certmint: cannot make the directory of %s\n",
		    cli->config_path);
		free(p);
		goto out;
	}
	free(p);
	/*
	 * Everything is checked before anything is written: the backup's
	 * config is read from a temporary file beside the target (its paths
	 * resolve the same) and renamed into place last.
	 */
	if (!may_replace(cli->config_path, f, force, 0) ||
	    file_write_temp(cli->config_path, tmpconf, f->data, f->len,
	    0600) == -1) {
		fprintf(stderr, "certmint: %s: %s\n", cli->config_path,
		    strerror(errno));
		tmpconf[0] = '\0';
		goto out;
	}
	if (config_load(tmpconf, &cfg, err, sizeof(err)) == -1) {
		fprintf(stderr, "certmint: %s\n", err);
		goto out;
	}
	have_cfg = 1;
	/* The backup's database reads and is the one its manifest names. */
	if (backup_db_check(&b, cfg.db_file) == -1)
		goto out;
	/* Never over a newer database, nor another CA's. */
	if (db_position(cfg.db_file, &id, &req, &crl) == 0) {
		if (strcmp(id, b.id) != 0) {
			fprintf(stderr, "certmint: %s is another database (%s) "
			    "than the backup's (%s): remove it first if it is "
			    "to go\n", cfg.db_file, id, b.id);
			goto out;
		}
		if (req > b.req || crl > b.crl) {
			fprintf(stderr, "certmint: %s is newer than the backup "
			    "(request %" PRId64 ", CRL %" PRId64 " against %"
			    PRId64 ", %" PRId64 "): refusing to go back\n",
			    cfg.db_file, req, crl, b.req, b.crl);
			goto out;
		}
	}
	/*
	 * The database lost, the CA directory's marker still says how far
	 * the CA had come: an older backup would give those request ids and
	 * CRL numbers again. Said; done only with --force.
	 */
	if (ca_marker_get(&cfg, mid, sizeof(mid), &mreq, &mcrl) == 1 &&
	    strcmp(mid, b.id) == 0 && (mreq > b.req || mcrl > b.crl)) {
		fprintf(stderr, "certmint: %s: the CA had reached request %"
		    PRId64 " and CRL %" PRId64 ", the backup only request %"
		    PRId64 " and CRL %" PRId64 ": what came after it is lost, "
		    "and those request ids and CRL numbers would be given "
		    "again%s\n", cli->config_path, mreq, mcrl, b.req, b.crl,
		    force ? " (--force: restoring all the same)" : "; --force "
		    "restores it all the same");
		if (!force)
			goto out;
	}
	for (i = BF_KEY; i < BF__MAX; i++)
		if ((f = backup_get(&b, bnames[i])) != NULL &&
		    !may_replace(bpath(&cfg, i), f, force, i <= BF_CERT))
			goto out;
	if (restore_renewals(&b, &cfg, force, 0) == -1 ||
	    restore_renewals(&b, &cfg, force, 1) == -1)
		goto out;
	for (i = BF_KEY; i < BF__MAX; i++)
		if ((f = backup_get(&b, bnames[i])) != NULL &&
		    put_file(bpath(&cfg, i), f->data, f->len,
		    i == BF_KEY ? 0600 : 0644, 1) == -1)
			goto out;
	v = config_get(&cfg, "exit", "modules_dir");
	if ((mdir = path_join(cfg.dir, v ? v : "modules")) == NULL)
		goto out;
	for (i = 0; (size_t)i < b.nfiles; i++) {
		if (strncmp(b.files[i].name, "modules/", 8) != 0)
			continue;
		if (mkdir_p(mdir, 0755) == -1 ||
		    (p = path_join(mdir, b.files[i].name + 8)) == NULL)
			goto out;
		if (put_file(p, b.files[i].data, b.files[i].len, 0644, 1) ==
		    -1) {
			free(p);
			goto out;
		}
		free(p);
	}
	/* The database last, without the old one's WAL. */
	f = backup_get(&b, "certmint.db");
	if (put_file(cfg.db_file, f->data, f->len, 0600, 1) == -1)
		goto out;
	for (i = 0; i < 2; i++) {
		if (asprintf(&p, "%s%s", cfg.db_file, i ? "-shm" : "-wal") ==
		    -1)
			goto out;
		unlink(p);
		free(p);
	}
	/* The CA directory names it again (identity.c). */
	if ((st = store_open(cfg.db_file, 0, err, sizeof(err))) == NULL ||
	    ca_identity_write(&cfg, st, err, sizeof(err)) == -1) {
		store_close(st);
		fprintf(stderr, "certmint: %s\n", err);
		goto out;
	}
	store_close(st);
	if (rename(tmpconf, cli->config_path) == -1) {
		fprintf(stderr, "certmint: %s: %s\n", cli->config_path,
		    strerror(errno));
		goto out;
	}
	tmpconf[0] = '\0';
	printf("Restored \"%s\" from %s: database %s up to request %" PRId64
	    " and CRL %" PRId64 "\n", cfg.ca_name, dir, b.id, b.req, b.crl);
	rc = CLI_OK;
out:
	if (tmpconf[0] != '\0')
		unlink(tmpconf);
	free(id);
	free(mdir);
	if (have_cfg)
		config_free(&cfg);
	backup_free(&b);
	return rc;
}

int
cmd_backup_restore(const struct cli *cli, int argc, char **argv)
{
	int	 force = argc == 3 && strcmp(argv[2], "--force") == 0;

	if (strcmp(argv[0], "backup") == 0 && argc == 2)
		return cmd_backup(cli, argv[1]);
	if (strcmp(argv[0], "restore") == 0 && (argc == 2 || force))
		return cmd_restore(cli, argv[1], force);
	fprintf(stderr, "usage: certmint backup DIR | restore DIR [--force]\n");
	return CLI_USAGE;
}
