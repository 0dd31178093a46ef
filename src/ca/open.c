/*
 * open.c - a CA's life in the daemon: opening its config, signer and
 * database, starting the writer, reloading the config, stopping and
 * closing, and the read-only connection of each thread.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ca_int.h"

static void	reader_release(void *);

/*
 * Start serial_time from the newest ordered serial in the database, so
 * that a restart with the clock behind does not go back either. A time
 * more than a year ahead of the clock was not made by this CA's clock (a
 * random serial that happens to start with 0x01, an import): ignored.
 * Returns 0 or -1.
 */
static int
serial_time_load(struct ca *ca)
{
	char		 hex[64], part[13];
	uint64_t	 ms;
	int64_t		 now = time_now();

	if (store_max_ordered_serial(ca->wstore, hex, sizeof(hex)) != 0)
		return -1;
	if (strlen(hex) != SERIAL_LEN * 2)
		return 0;
	memcpy(part, hex + 2, 12);
	part[12] = '\0';
	ms = strtoull(part, NULL, 16);
	if (ms / 1000u > (uint64_t)now + 366 * 86400)
		return 0;
	atomic_store(&ca->serial_ms, ms);
	return 0;
}

int
ca_open(struct ca **out, const char *config_path, char *err, size_t errlen)
{
	struct ca	*ca;
	struct stat	 sb;
	int64_t		 maxid;

	*out = NULL;
	if ((ca = calloc(1, sizeof(*ca))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	pthread_rwlock_init(&ca->cfg_lock, NULL);
	pthread_mutex_init(&ca->reload_mu, NULL);
	pthread_mutex_init(&ca->readers_mu, NULL);
	pthread_mutex_init(&ca->crl_mu, NULL);
	pthread_mutex_init(&ca->hook_mu, NULL);
	pthread_key_create(&ca->reader_key, reader_release);
	if ((ca->config_path = strdup(config_path)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (config_load(config_path, &ca->cfg, err, errlen) == -1 ||
	    config_check_mode(&ca->cfg, err, errlen) == -1)
		goto fail;
	if (signer_load(&ca->signer, &ca->cfg, err, errlen) == -1)
		goto fail;
	/*
	 * Only `certmint init` creates a database. A CA whose database is
	 * missing would hand out request ids and CRL numbers again.
	 */
	if (stat(ca->cfg.db_file, &sb) == -1 && errno == ENOENT) {
		snprintf(err, errlen, "%s: the CA's database is missing: the CA "
		    "\"%s\" (%s) has issued from it; restore it from a backup "
		    "(a new database would reuse request ids, serial order and "
		    "CRL numbers)", ca->cfg.db_file, ca->cfg.ca_name,
		    ca->cfg.cert_file);
		goto fail;
	}
	if ((ca->wstore = store_open(ca->cfg.db_file, STORE_TRUSTED, err,
	    errlen)) == NULL)
		goto fail;
	if (ca_identity_check(&ca->cfg, &ca->signer, ca->wstore,
	    &ca->check_deferred, err, errlen) == -1)
		goto fail;
	ca->identified = 1;
	if (store_max_request_id(ca->wstore, &maxid) != 0) {
		snprintf(err, errlen, "%s: cannot read the request table",
		    ca->cfg.db_file);
		goto fail;
	}
	atomic_store(&ca->next_id, maxid + 1);
	if (serial_time_load(ca) == -1) {
		snprintf(err, errlen, "%s: cannot read the certificate table",
		    ca->cfg.db_file);
		goto fail;
	}
	*out = ca;
	return 0;
fail:
	ca_close(ca);
	return -1;
}

/*
 * The writer's commit hook: call the one set by ca_set_commit_hook, under
 * hook_mu, so that once ca_set_commit_hook(NULL) has returned no call into
 * the old hook is under way.
 */
static void
ca_on_commit(void *arg, int64_t seq)
{
	struct ca	*ca = arg;

	pthread_mutex_lock(&ca->hook_mu);
	if (ca->hook != NULL)
		ca->hook(ca->hook_arg, seq);
	pthread_mutex_unlock(&ca->hook_mu);
}

struct cacert_note {
	struct ca_cert	*certs;
	int		 n;
};

static int
write_cacerts(struct store *st, void *arg)
{
	struct cacert_note *n = arg;

	return ca_note_cacerts(st, n->certs, n->n);
}

/*
 * Record the CA certificates not yet in the database, so that exit modules
 * read those of their event's time (RawCACertificate.N, CertCount).
 */
static int
note_cacert(struct ca *ca)
{
	struct cacert_note n = { NULL, 0 };
	int		 i, rc = CM_E_NOMEM;

	pthread_rwlock_rdlock(&ca->cfg_lock);
	if ((n.certs = calloc(ca->signer.ncerts, sizeof(*n.certs))) != NULL)
		for (n.n = 0; n.n < ca->signer.ncerts; n.n++) {
			n.certs[n.n] = ca->signer.certs[n.n];
			if ((n.certs[n.n].der = ca_memdup(n.certs[n.n].der,
			    n.certs[n.n].len)) == NULL)
				break;
		}
	pthread_rwlock_unlock(&ca->cfg_lock);
	if (n.certs != NULL && n.n == ca->signer.ncerts)
		rc = ca_write(ca, write_cacerts, &n);
	if (rc != 0)
		log_err("cannot record the CA certificates: error %d", rc);
	for (i = 0; i < n.n; i++)
		free(n.certs[i].der);
	free(n.certs);
	return rc == 0 ? 0 : -1;
}

int
ca_start_writer(struct ca *ca)
{
	if (ca->writer != NULL)
		return 0;
	ca->started = time_now();
	if ((ca->writer = writer_start(ca->wstore, ca_on_commit, ca)) == NULL) {
		log_err("cannot start the writer thread");
		return -1;
	}
	return note_cacert(ca);
}

int
ca_start(struct ca *ca)
{
	if (ca_start_writer(ca) == -1)
		return -1;
	return ca_record_event(ca, CM_EXITEVENT_STARTUP, 0);
}

/*
 * Refuse new actions and record SHUTDOWN. The writer keeps running until
 * ca_close, so that the exit host can still record delivery state.
 */
void
ca_stop(struct ca *ca)
{
	if (ca->writer == NULL || atomic_exchange(&ca->stopping, 1))
		return;
	/* No CRL after SHUTDOWN: its CRLISSUED would follow it. */
	crl_schedule_stop(ca);
	if (ca_record_event(ca, CM_EXITEVENT_SHUTDOWN, 0) != 0)
		log_err("cannot record the SHUTDOWN event");
}

void
ca_close(struct ca *ca)
{
	struct reader_slot *r, *next;
	char		 err[512];
	int		 had_writer;

	if (ca == NULL)
		return;
	ca_check_stop(ca);
	ca_stop(ca);
	had_writer = ca->writer != NULL;
	writer_stop(ca->writer);
	ca->writer = NULL;
	/*
	 * Every commit is in: the marker names the last request, so that a
	 * backup from before this run, or this database without the WAL of
	 * a later crash, is refused as older than the CA (the schedule
	 * thread follows the requests only every few seconds).
	 */
	if (had_writer && ca->identified && ca->wstore != NULL &&
	    ca_identity_write(&ca->cfg, ca->wstore, err, sizeof(err)) != 0)
		log_err("%s", err);
	/* No thread's end releases a reader into the list freed below. */
	pthread_key_delete(ca->reader_key);
	for (r = ca->readers; r != NULL; r = next) {
		next = r->next;
		store_close(r->st);
		free(r);
	}
	if (ca->wstore != NULL)
		store_close(ca->wstore);
	signer_free(&ca->signer);
	config_free(&ca->cfg);
	free(ca->config_path);
	pthread_rwlock_destroy(&ca->cfg_lock);
	pthread_mutex_destroy(&ca->reload_mu);
	pthread_mutex_destroy(&ca->readers_mu);
	pthread_mutex_destroy(&ca->crl_mu);
	pthread_mutex_destroy(&ca->hook_mu);
	free(ca);
}

void
ca_reload_fixed(struct ca *ca, char *out, size_t len)
{
	snprintf(out, len, "%s", ca->reload_fixed);
}

/*
 * What only a restart applies stays as it runs in n, the reread config:
 * each such setting o (the running config) and n disagree on is taken
 * from o (a copy of its string), and named in ca->reload_fixed.
 */
static void
keep_fixed(struct ca *ca, struct cm_config *o, struct cm_config *n)
{
	struct {
		const char	*name;
		char		**was, **now;
		int		*iwas, *inow;
	} keys[] = {
		{ "[ca] database", &o->db_file, &n->db_file, NULL, NULL },
		{ "[server] listen", &o->listen_addr, &n->listen_addr, NULL,
		    NULL },
		{ "[server] port", NULL, NULL, &o->listen_port,
		    &n->listen_port },
		{ "[server] tls_port", NULL, NULL, &o->tls_port, &n->tls_port },
		{ "[server] admin_socket", &o->admin_socket, &n->admin_socket,
		    NULL, NULL },
		{ "[server] pid_file", &o->pid_file, &n->pid_file, NULL, NULL },
	};
	size_t	 i, len = 0, cap = sizeof(ca->reload_fixed);
	char	*t;

	ca->reload_fixed[0] = '\0';
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (keys[i].iwas != NULL) {
			if (*keys[i].iwas == *keys[i].inow)
				continue;
			*keys[i].inow = *keys[i].iwas;
		} else {
			if (strcmp(*keys[i].was ? *keys[i].was : "",
			    *keys[i].now ? *keys[i].now : "") == 0)
				continue;
			/* A copy: a reverted reload frees n, not o's own. */
			if ((t = strdup(*keys[i].was ? *keys[i].was : "")) ==
			    NULL)
				continue;
			free(*keys[i].now);
			*keys[i].now = t;
		}
		if (len < cap)
			len += (size_t)snprintf(ca->reload_fixed + len,
			    cap - len, "%s%s", len ? ", " : "", keys[i].name);
	}
}

/*
 * Switch to the reread config file but keep the running one until
 * ca_reload_end, so that what must load under the new one (the policy
 * module) can still undo the switch. Reloads are serialized from begin to
 * end. Returns 0, or -1 with a message in err and nothing changed.
 */
int
ca_reload_begin(struct ca *ca, char *err, size_t errlen)
{
	struct cm_config cfg;
	struct signer	 sg;
	struct store	*st;

	memset(&sg, 0, sizeof(sg));
	pthread_mutex_lock(&ca->reload_mu);
	if (config_load(ca->config_path, &cfg, err, errlen) == -1) {
		pthread_mutex_unlock(&ca->reload_mu);
		return -1;
	}
	if (config_check_mode(&cfg, err, errlen) == -1) {
		config_free(&cfg);
		pthread_mutex_unlock(&ca->reload_mu);
		return -1;
	}
	if (signer_load(&sg, &cfg, err, errlen) == -1) {
		config_free(&cfg);
		pthread_mutex_unlock(&ca->reload_mu);
		return -1;
	}
	/* A CA certificate file gone or replaced is not reloaded. */
	if ((st = ca_reader(ca)) == NULL ||
	    ca_cacerts_agree(&cfg, &sg, st, err, errlen) == -1) {
		if (st == NULL)
			snprintf(err, errlen, "cannot read the database");
		signer_free(&sg);
		config_free(&cfg);
		pthread_mutex_unlock(&ca->reload_mu);
		return -1;
	}
	keep_fixed(ca, &ca->cfg, &cfg);
	pthread_rwlock_wrlock(&ca->cfg_lock);
	ca->old_cfg = ca->cfg;
	ca->old_signer = ca->signer;
	ca->cfg = cfg;
	ca->signer = sg;
	pthread_rwlock_unlock(&ca->cfg_lock);
	return 0;
}

/* Keep the new config (revert 0) or go back to the old one (revert 1). */
void
ca_reload_end(struct ca *ca, int revert)
{
	struct cm_config cfg;
	struct signer	 sg;

	pthread_rwlock_wrlock(&ca->cfg_lock);
	if (revert) {
		cfg = ca->cfg;
		sg = ca->signer;
		ca->cfg = ca->old_cfg;
		ca->signer = ca->old_signer;
	} else {
		cfg = ca->old_cfg;
		sg = ca->old_signer;
	}
	config_free(&cfg);
	signer_free(&sg);
	pthread_rwlock_unlock(&ca->cfg_lock);
	if (!revert && ca->writer != NULL)
		note_cacert(ca);
	pthread_mutex_unlock(&ca->reload_mu);
}

int
ca_reload(struct ca *ca, char *err, size_t errlen)
{
	if (ca_reload_begin(ca, err, errlen) == -1)
		return -1;
	ca_reload_end(ca, 0);
	return 0;
}

void
ca_set_commit_hook(struct ca *ca, ca_commit_hook hook, void *arg)
{
	pthread_mutex_lock(&ca->hook_mu);
	ca->hook_arg = arg;
	ca->hook = hook;
	pthread_mutex_unlock(&ca->hook_mu);
}

const struct cm_config *
ca_config(struct ca *ca)
{
	return &ca->cfg;
}

void
ca_config_lock(struct ca *ca)
{
	pthread_rwlock_rdlock(&ca->cfg_lock);
}

void
ca_config_unlock(struct ca *ca)
{
	pthread_rwlock_unlock(&ca->cfg_lock);
}

size_t
ca_max_body(struct ca *ca)
{
	size_t	 n;

	pthread_rwlock_rdlock(&ca->cfg_lock);
	n = ca->cfg.max_body;
	pthread_rwlock_unlock(&ca->cfg_lock);
	return n;
}

char *
ca_config_value(struct ca *ca, const char *section, const char *key)
{
	const char	*v;
	char		*copy = NULL;

	pthread_rwlock_rdlock(&ca->cfg_lock);
	if ((v = config_get(&ca->cfg, section, key)) != NULL)
		copy = strdup(v);
	pthread_rwlock_unlock(&ca->cfg_lock);
	return copy;
}

char *
ca_config_keys(struct ca *ca, const char *section)
{
	char	*keys;

	pthread_rwlock_rdlock(&ca->cfg_lock);
	keys = config_keys(&ca->cfg, section);
	pthread_rwlock_unlock(&ca->cfg_lock);
	return keys;
}

const struct signer *
ca_signer(struct ca *ca)
{
	return &ca->signer;
}

int64_t
ca_start_time(struct ca *ca)
{
	return ca->started;
}

/* The key's destructor: the thread ended, its reader is free. */
static void
reader_release(void *arg)
{
	struct reader_slot *slot = arg;

	pthread_mutex_lock(&slot->ca->readers_mu);
	slot->used = 0;
	pthread_mutex_unlock(&slot->ca->readers_mu);
}

struct store *
ca_reader(struct ca *ca)
{
	struct reader_slot *slot;
	char		 err[256];

	if ((slot = pthread_getspecific(ca->reader_key)) != NULL)
		return slot->st;
	pthread_mutex_lock(&ca->readers_mu);
	for (slot = ca->readers; slot != NULL && slot->used; slot = slot->next)
		;
	if (slot != NULL)
		slot->used = 1;
	pthread_mutex_unlock(&ca->readers_mu);
	if (slot == NULL) {
		if ((slot = calloc(1, sizeof(*slot))) == NULL)
			return NULL;
		if ((slot->st = store_open(ca->cfg.db_file, 0, err,
		    sizeof(err))) == NULL) {
			log_err("%s", err);
			free(slot);
			return NULL;
		}
		slot->ca = ca;
		slot->used = 1;
		pthread_mutex_lock(&ca->readers_mu);
		slot->next = ca->readers;
		ca->readers = slot;
		pthread_mutex_unlock(&ca->readers_mu);
	}
	pthread_setspecific(ca->reader_key, slot);
	return slot->st;
}
