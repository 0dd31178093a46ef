/*
 * identity.c - a CA and its database belong together (issue 11: faults
 * must never lose history). The CA directory keeps a marker file,
 * ca.dbid beside the CA certificate, naming its database's id (migration
 * 6) and the highest request id and CRL number the CA has reached
 * (rewritten at start, after each CRL, every 2 s while requests come,
 * schedule.c's marker_follow, and at a clean stop, ca_close); the
 * database records every CA certificate it served. certmintd refuses a
 * database that is damaged, another CA's, or older than the marker says:
 * any of them would hand out request ids and CRL numbers again.
 *
 * PRAGMA quick_check reads the whole database: before serving when it is
 * small ([ca] startup_check), else while serving (ca_check_start). What a
 * check while serving finds is written into the marker (damaged = ...),
 * so that the next start checks before serving and refuses it.
 */
#include <sys/stat.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ca_int.h"

#define MARKER_NAME	"ca.dbid"

struct marker {
	int		 present;
	char		 id[64];
	int64_t		 request_id;
	int64_t		 crl_number;
	char		 damaged[400];	/* what a check found, or "" */
};

/* Each rewrite of the marker reads it first: one at a time. */
static pthread_mutex_t	 marker_mu = PTHREAD_MUTEX_INITIALIZER;

char *
ca_marker_path(const struct cm_config *cfg)
{
	char	*dir, *path;

	if ((dir = path_dirname(cfg->cert_file)) == NULL)
		return NULL;
	path = path_join(dir, MARKER_NAME);
	free(dir);
	return path;
}

/* Read the marker at path; m->present 0 when there is none. 0 or -1. */
static int
marker_read(const char *path, struct marker *m, char *err, size_t errlen)
{
	unsigned char	*data;
	size_t		 len;
	char		*line, *next, *eq, *k, *v;

	memset(m, 0, sizeof(*m));
	if (file_read(path, &data, &len, 4096) == -1) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "%s: %s", path, file_strerror(errno));
		return -1;
	}
	m->present = 1;
	for (line = (char *)data; line != NULL; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if (*line == '#' || (eq = strchr(line, '=')) == NULL)
			continue;
		*eq = '\0';
		k = str_trim(line);
		v = str_trim(eq + 1);
		if (strcmp(k, "database") == 0)
			strlcpy_cm(m->id, v, sizeof(m->id));
		else if (strcmp(k, "request_id") == 0)
			(void)parse_int64(v, &m->request_id);
		else if (strcmp(k, "crl_number") == 0)
			(void)parse_int64(v, &m->crl_number);
		else if (strcmp(k, "damaged") == 0)
			strlcpy_cm(m->damaged, v, sizeof(m->damaged));
	}
	free(data);
	if (m->id[0] == '\0') {
		snprintf(err, errlen, "%s: names no database (damaged? it is "
		    "written by certmint; remove it to have it written anew)",
		    path);
		return -1;
	}
	return 0;
}

/* Write m to path (atomically). 0 or -1 with err. */
static int
marker_write(const char *path, const struct marker *m, char *err,
    size_t errlen)
{
	char	 text[1024];
	int	 n;

	n = snprintf(text, sizeof(text), "# certmint: this CA's database and "
	    "how far it has come; certmintd refuses\n# a database that is not "
	    "this one or is older (restored from an old copy).\n"
	    "database = %s\nrequest_id = %" PRId64 "\ncrl_number = %" PRId64
	    "\n%s%s%s", m->id, m->request_id, m->crl_number,
	    m->damaged[0] != '\0' ? "# found damaged while serving: the next "
	    "start checks it first\ndamaged = " : "", m->damaged,
	    m->damaged[0] != '\0' ? "\n" : "");
	if (n < 0 || (size_t)n >= sizeof(text)) {
		snprintf(err, errlen, "%s: the marker would not fit", path);
		return -1;
	}
	if (file_write_atomic(path, text, (size_t)n, 0644) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * The marker for st: its id and how far it has come. keep: a damage the
 * marker records stays (only a check at start clears it). Under marker_mu.
 */
static int
identity_write(const struct cm_config *cfg, struct store *st, int keep,
    char *err, size_t errlen)
{
	struct marker	 m, old;
	char		*path, *id = NULL;
	int		 rc = -1;

	if ((path = ca_marker_path(cfg)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	memset(&m, 0, sizeof(m));
	if (store_meta_get(st, "database_id", &id) != 0 ||
	    store_max_request_id(st, &m.request_id) != 0 ||
	    store_max_crl_number(st, &m.crl_number) != 0) {
		snprintf(err, errlen, "%s: cannot read the database's identity",
		    cfg->db_file);
		goto out;
	}
	strlcpy_cm(m.id, id, sizeof(m.id));
	if (keep && marker_read(path, &old, err, errlen) == 0 && old.present &&
	    strcmp(old.id, m.id) == 0)
		memcpy(m.damaged, old.damaged, sizeof(m.damaged));
	rc = marker_write(path, &m, err, errlen);
out:
	free(id);
	free(path);
	return rc;
}

int
ca_marker_get(const struct cm_config *cfg, char *id, size_t idlen,
    int64_t *req, int64_t *crl)
{
	struct marker	 m;
	char		*path, err[256];
	int		 rc;

	if ((path = ca_marker_path(cfg)) == NULL)
		return -1;
	pthread_mutex_lock(&marker_mu);
	rc = marker_read(path, &m, err, sizeof(err));
	pthread_mutex_unlock(&marker_mu);
	free(path);
	if (rc == -1 || !m.present)
		return rc == -1 ? -1 : 0;
	strlcpy_cm(id, m.id, idlen);
	*req = m.request_id;
	*crl = m.crl_number;
	return 1;
}

int
ca_identity_write(const struct cm_config *cfg, struct store *st, char *err,
    size_t errlen)
{
	int	 rc;

	pthread_mutex_lock(&marker_mu);
	rc = identity_write(cfg, st, 1, err, errlen);
	pthread_mutex_unlock(&marker_mu);
	return rc;
}

int
ca_identity_mark_damaged(const char *path, const char *why, char *err,
    size_t errlen)
{
	struct marker	 m;
	int		 rc = -1;

	pthread_mutex_lock(&marker_mu);
	if (marker_read(path, &m, err, errlen) == 0) {
		if (!m.present) {
			snprintf(err, errlen, "%s: missing", path);
		} else {
			strlcpy_cm(m.damaged, why, sizeof(m.damaged));
			rc = marker_write(path, &m, err, errlen);
		}
	}
	pthread_mutex_unlock(&marker_mu);
	return rc;
}

int
ca_note_cacerts(struct store *st, const struct ca_cert *certs, int n)
{
	int	 i, rc;

	for (i = 0; i < n; i++)
		if ((rc = store_cacert_note(st, i, certs[i].key_idx,
		    certs[i].der, certs[i].len)) != 0)
			return rc;
	return 0;
}

/*
 * Do the CA certificates of sg's files agree with those the database
 * recorded? Index by index, each file is the recorded certificate (or, for
 * index 0 only, one issued again for its key: a CA that predates the
 * record); the files may have more (a renewal not yet seen), never fewer.
 * A database that has recorded none (a sub CA before its first start)
 * agrees. 0, or -1 with err.
 */
int
ca_cacerts_agree(const struct cm_config *cfg, const struct signer *sg,
    struct store *st, char *err, size_t errlen)
{
	unsigned char	*raw;
	size_t		 rawlen;
	char		*path;
	int		 i, count = 0, same;

	for (i = 0; i == 0 || i < count; i++) {
		if (store_cacert_at(st, 0, i, &raw, &rawlen, &count,
		    NULL) != 0) {
			if (count == 0)
				return 0;
			snprintf(err, errlen, "%s: cannot read its CA "
			    "certificates", cfg->db_file);
			return -1;
		}
		if (i >= sg->ncerts) {
			free(raw);
			path = path_indexed(cfg->cert_file, i);
			snprintf(err, errlen, "%s is missing: the database has "
			    "recorded %d CA certificates, the CA directory holds "
			    "%d; restore the CA directory from a backup",
			    path ? path : cfg->cert_file, count, sg->ncerts);
			free(path);
			return -1;
		}
		same = (rawlen == sg->certs[i].len &&
		    memcmp(raw, sg->certs[i].der, rawlen) == 0) ||
		    (i == 0 && cert_same_key(raw, rawlen, sg->certs[0].der,
		    sg->certs[0].len) == 1);
		free(raw);
		if (!same) {
			path = path_indexed(cfg->cert_file, i);
			snprintf(err, errlen, "%s is not this CA's database: its "
			    "CA certificate %d is not %s", cfg->db_file, i,
			    path ? path : cfg->cert_file);
			free(path);
			return -1;
		}
	}
	return 0;
}

/* The database's size with its WAL, in bytes. */
static int64_t
db_bytes(const char *db)
{
	struct stat	 sb;
	char		 wal[4096];
	int64_t		 n = 0;

	if (stat(db, &sb) == 0)
		n += sb.st_size;
	snprintf(wal, sizeof(wal), "%s-wal", db);
	if (stat(wal, &sb) == 0)
		n += sb.st_size;
	return n;
}

int
ca_identity_check(const struct cm_config *cfg, const struct signer *sg,
    struct store *st, int *deferred, char *err, size_t errlen)
{
	struct marker	 m;
	char		*path, *id = NULL, why[256];
	int64_t		 maxid, crl;
	int		 rc = -1, now;

	*deferred = 0;
	if ((path = ca_marker_path(cfg)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (marker_read(path, &m, err, errlen) == -1)
		goto out;
	/* A damage found while serving is checked before serving again. */
	now = cfg->startup_check == CM_CHECK_FULL || m.damaged[0] != '\0' ||
	    (cfg->startup_check == CM_CHECK_AUTO &&
	    db_bytes(cfg->db_file) <= CM_CHECK_FULL_MAX);
	if (now && !store_checked(st) &&
	    store_quick_check(st, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "%s: the database is damaged (PRAGMA "
		    "quick_check: %s); restore it from a backup", cfg->db_file,
		    why);
		goto out;
	}
	if (m.damaged[0] != '\0')
		log_info("%s passes PRAGMA quick_check now: the damage %s "
		    "recorded (%s) is gone", cfg->db_file, path, m.damaged);
	*deferred = !now;
	if (store_meta_get(st, "database_id", &id) != 0 ||
	    store_max_request_id(st, &maxid) != 0 ||
	    store_max_crl_number(st, &crl) != 0) {
		snprintf(err, errlen, "%s: cannot read the database's identity",
		    cfg->db_file);
		goto out;
	}
	if (m.present && strcmp(m.id, id) != 0) {
		snprintf(err, errlen, "%s is not this CA's database: %s names "
		    "database %s, this file is %s (another CA's database, or a "
		    "new one in place of the CA's)", cfg->db_file, path, m.id,
		    id);
		goto out;
	}
	if (m.present && (maxid < m.request_id || crl < m.crl_number)) {
		snprintf(err, errlen, "%s is older than this CA: it reaches "
		    "request %" PRId64 " and CRL number %" PRId64 ", the CA had "
		    "reached request %" PRId64 " and CRL number %" PRId64 " "
		    "(%s); an old copy would hand out request ids and CRL "
		    "numbers again. Restore the newest backup; to accept this "
		    "one, remove %s", cfg->db_file, maxid, crl, m.request_id,
		    m.crl_number, path, path);
		goto out;
	}
	if (ca_cacerts_agree(cfg, sg, st, err, errlen) == -1)
		goto out;
	pthread_mutex_lock(&marker_mu);
	rc = identity_write(cfg, st, 0, err, errlen);
	pthread_mutex_unlock(&marker_mu);
out:
	free(id);
	free(path);
	return rc;
}
