/*
 * dispatch.c - delivery of the events outbox to exit modules. Each module
 * has a cursor (the last event it was given) and its own thread, or for a
 * concurrent module its own small pool; a slow or failing module delays
 * only itself. A failed notify is retried with exponential backoff, holding
 * the module's queue; after max_attempts the event is dead-lettered.
 * Delivery is at least once: the cursor is saved after the calls.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "isolate.h"

#include "host.h"
static char *
slot_config(struct exit_slot *s, const char *key)
{
	char	 sec[300];

	snprintf(sec, sizeof(sec), "exit.%s", s->name);
	return ca_config_value(s->host->ca, sec, key);
}

static int
slot_config_int(struct exit_slot *s, const char *key, int def, int max)
{
	char	*v = slot_config(s, key);
	int64_t	 n;

	if (v == NULL)
		return def;
	if (parse_int64(v, &n) == -1 || n < 0 || n > max) {
		log_warn("[exit.%s] %s = \"%s\": expected 0 to %d, using %d",
		    s->name, key, v, max, def);
		n = def;
	}
	free(v);
	return (int)n;
}

/*
 * Does the module run in a host process? [exit.NAME] isolation says; by
 * default every module does but those installed from certmint's own
 * module directory (wherever the file really is: a name proves nothing).
 * Returns 0, or -1 with the error for a value that is neither.
 */
static int
slot_isolation(struct exit_slot *s, const char *path, int *isolated)
{
	const char	*pkg = exit_pkg_modules_dir();
	char		*v = slot_config(s, "isolation"), *real;
	size_t		 n = strlen(pkg);

	/* Scripts are sandboxed and limited: inline unless told (docs/lua.md). */
	*isolated = !exit_path_is_script(path);
	if (v != NULL) {
		if (strcasecmp(v, "inline") == 0)
			*isolated = 0;
		else if (strcasecmp(v, "process") == 0)
			*isolated = 1;
		else {
			snprintf(s->load_error, sizeof(s->load_error), "[exit.%s] "
			    "isolation = \"%s\": expected process or inline",
			    s->name, v);
			free(v);
			return -1;
		}
		free(v);
		return 0;
	}
	if ((real = realpath(path, NULL)) != NULL) {
		if (strncmp(real, pkg, n) == 0 && real[n] == '/')
			*isolated = 0;
		free(real);
	}
	return 0;
}


const char *const manage_props[5] = {
	CM_CMM_PROP_NAME, CM_CMM_PROP_DESCRIPTION, CM_CMM_PROP_COPYRIGHT,
	CM_CMM_PROP_FILEVER, CM_CMM_PROP_PRODUCTVER
};

/* An inline module: what views show, asked once now. */
static void
slot_cache_inline(struct exit_slot *s)
{
	const cm_manage_module *m = slot_manage(s);
	const char	*d = s->mod.desc->get_description(s->mod.state);
	cm_value	 v;
	size_t		 i;

	s->description = xstrdup(d ? d : "");
	for (i = 0; m != NULL && i < nitems(manage_props); i++) {
		memset(&v, 0, sizeof(v));
		if (m->get_property(s->mod.state, manage_props[i], 0, &v) ==
		    CM_OK && v.type == CM_PROPTYPE_STRING && v.data != NULL)
			s->props[i] = xstrdup(v.data);
	}
}

/* Load an inline module: dlopen, initialize. Returns 0 or -1. */
static int
slot_load_inline(struct exit_host *h, struct exit_slot *s, const char *path)
{
	struct exit_call call;
	int		 rc;

	if (exit_module_open(path, s->name, &s->mod, s->load_error,
	    sizeof(s->load_error)) == -1)
		return -1;
	exit_call_init(&call, h->ca, s->name, NULL);
	rc = s->mod.desc->initialize(ca_config(h->ca)->ca_name, &call.vt,
	    &s->mod.state, &s->mod.mask);
	exit_call_reset(&call);
	if (rc != CM_OK) {
		/* With the cause it logged, as a failed notify has. */
		snprintf(s->load_error, sizeof(s->load_error), "initialize "
		    "returned %d%s%.200s", rc, call.why[0] ? ": " : "",
		    call.why);
		exit_module_close(&s->mod);
		return -1;
	}
	s->mod.initialized = 1;
	s->threading = (int)s->mod.desc->threading;
	slot_cache_inline(s);
	return 0;
}

/*
 * The hosting of an isolated module from [exit] and [exit.NAME], into o;
 * *user is the caller's to free.
 */
static void
slot_host_opts(struct exit_host *h, struct exit_slot *s,
    struct modproc_opts *o, char **user)
{
	*user = slot_config(s, "user");
	memset(o, 0, sizeof(*o));
	o->name = s->name;
	o->user = *user != NULL ? *user : "nobody";
	o->nchan = h->pool_threads;	/* the slot's thread and its pool */
	o->memory_mb = slot_config_int(s, "memory_mb", 1024, 1 << 22);
	o->cpu_seconds = slot_config_int(s, "cpu_seconds", 60, 86400 * 365);
	o->open_files = slot_config_int(s, "open_files", 256, 1 << 20);
	o->backoff_initial_ms = h->backoff_initial_ms;
	o->backoff_max_ms = h->backoff_max_ms;
	o->nice = h->nice;
}

/* Start an isolated module's host and initialize it. Returns 0 or -1. */
static int
slot_load_isolated(struct exit_host *h, struct exit_slot *s, const char *path)
{
	struct modproc_opts o;
	const struct modproc_info *in;
	char		*user;
	size_t		 i;

	slot_host_opts(h, s, &o, &user);
	o.path = path;
	s->proc = modproc_new(&o);
	free(user);
	if (modproc_start(s->proc, h->ca, s->load_error,
	    sizeof(s->load_error)) == -1) {
		modproc_free(s->proc);
		s->proc = NULL;
		return -1;
	}
	in = modproc_info(s->proc);
	s->isolated = 1;
	s->threading = in->threading;
	s->mod.mask = in->mask;
	s->mod.name = xstrdup(s->name);
	s->mod.path = xstrdup(path);
	s->description = xstrdup(in->description ? in->description : "");
	for (i = 0; i < nitems(s->props); i++)
		s->props[i] = in->props[i] ? xstrdup(in->props[i]) : NULL;
	return 0;
}

struct crash_load {
	struct exit_slot *s;
	int		 suspend;
};

static int
load_crash(void *arg, const struct db_exit_crash *dc)
{
	struct crash_load *l = arg;
	struct crash_rec c;

	memset(&c, 0, sizeof(c));
	c.seq = dc->seq;
	c.time = dc->time;
	c.counted = dc->counted;
	snprintf(c.cause, sizeof(c.cause), "%s", dc->cause ? dc->cause : "");
	pthread_mutex_lock(&l->s->host->mu);
	if (crash_add_locked(l->s, &c))
		l->suspend = 1;
	pthread_mutex_unlock(&l->s->host->mu);
	return 0;
}

/*
 * The module's crashes and suspension from the database, and the rules
 * applied to them before anything is delivered: a module that crashed
 * certmintd too often starts suspended, an event that crashed it too
 * often is dead-lettered when reached (deliver).
 */
static void
slot_quarantine_load(struct exit_slot *s, struct store *st)
{
	struct crash_load l = { s, 0 };
	char		 reason[256];
	int64_t		 since;

	if (st == NULL)
		return;
	if (store_exit_suspended(st, s->name, &since, reason,
	    sizeof(reason)) == 0) {
		pthread_mutex_lock(&s->host->mu);
		snprintf(s->suspend_reason, sizeof(s->suspend_reason), "%s",
		    reason);
		s->suspended_since = since;
		atomic_store(&s->suspended, 1);
		pthread_mutex_unlock(&s->host->mu);
		log_warn("exit module %s is suspended (%s): its events queue "
		    "until `certmint exit resume %s`", s->name, reason, s->name);
	}
	store_exit_crash_each(st, s->name, load_crash, &l);
	if (l.suspend)
		suspend_now(s);
}

/*
 * A script whose file changed runs its new version if that initializes;
 * else the old one runs on and the error is kept for `exit list`.
 */
static int
slot_reload_script(struct exit_host *h, struct exit_slot *s)
{
	struct exit_call call;
	int		 rc;

	if (!s->mod.script)
		return 0;
	exit_call_init(&call, h->ca, s->name, NULL);
	rc = exit_module_reload(&s->mod, &call.vt, s->reload_error,
	    sizeof(s->reload_error));
	exit_call_reset(&call);
	if (rc == 0)
		s->reload_error[0] = '\0';
	else
		log_err("exit module %s: reload refused, the running version "
		    "stays: %s", s->name, s->reload_error);
	return rc;
}

/* Add "name: why" to the list failed (len bytes), "; "-separated. */
static void
failed_add(char *failed, size_t len, const char *name, const char *why)
{
	size_t	 n;

	if (failed == NULL || (n = strlen(failed)) + 1 >= len)
		return;
	snprintf(failed + n, len - n, "%s%s: %s", n ? "; " : "", name, why);
}

/*
 * Load, initialize and start one module. On failure the slot keeps the
 * error for `certmint exit list`. A module seen for the first time starts
 * after event first, or with the next event when first is -1.
 */
static int
slot_start(struct exit_host *h, struct exit_slot *s, int64_t first)
{
	struct store	*st = ca_reader(h->ca);
	char		*path, loaded[1024];
	int		 rc, i, isolated;

	if ((path = exit_module_file(h->modules_dir, s->name)) == NULL)
		return -1;
	rc = exit_module_dir_check(path, s->load_error,
	    sizeof(s->load_error));
	if (rc == 0)
		rc = slot_isolation(s, path, &isolated);
	if (rc == 0)
		rc = isolated ? slot_load_isolated(h, s, path) :
		    slot_load_inline(h, s, path);
	free(path);
	if (rc == -1) {
		log_err("exit module %s not loaded: %s", s->name, s->load_error);
		return -1;
	}
	s->loaded = 1;
	/* A module seen for the first time starts with the next event. */
	if (st == NULL || store_cursor_get(st, s->name, &s->cursor) != 0) {
		pthread_mutex_lock(&h->mu);
		s->cursor = first >= 0 ? first : h->last_seq;
		pthread_mutex_unlock(&h->mu);
		s->saved = -1;
		save_cursor(s, 1);
	}
	s->saved = s->cursor;
	slot_quarantine_load(s, st);
	/*
	 * Said once the threads run, but read now: from then on they move
	 * the cursor.
	 */
	snprintf(loaded, sizeof(loaded), "exit module %s loaded (%s, events "
	    "0x%x, %s, cursor %" PRId64 ")", s->name, s->description,
	    (unsigned)s->mod.mask, s->isolated ? "isolated" : "inline",
	    s->cursor);
	if (s->threading == CM_THREADING_CONCURRENT) {
		/* With the slot's own thread, [exit] threads at once. */
		s->nworkers = h->pool_threads - 1;
		for (i = 0; i < s->nworkers; i++) {
			s->workers[i].slot = s;
			pthread_create(&s->workers[i].thread, NULL, pool_main,
			    &s->workers[i]);
		}
	}
	if (pthread_create(&s->thread, NULL, slot_main, s) != 0) {
		snprintf(s->load_error, sizeof(s->load_error), "cannot start its "
		    "thread");
		return -1;
	}
	s->running = 1;
	log_info("%s", loaded);
	return 0;
}

/*
 * Tell a slot's threads to stop. With drain they first deliver what is
 * queued, until the drain deadline or slot_finish; without, they stop after
 * the notify under way.
 */
static void
slot_signal_stop(struct exit_host *h, struct exit_slot *s, int drain)
{
	if (!drain)
		atomic_store(&s->abort, 1);
	atomic_store(&s->stopping, 1);
	pthread_mutex_lock(&h->mu);
	s->stop = 1;
	host_wake(h);
	pthread_mutex_unlock(&h->mu);
}

/*
 * Join a stopping slot's thread if it ends by deadline (time_mono_ns). It
 * polls: a timed pthread_clockjoin_np is no join to ThreadSanitizer, and
 * under libfaketime (restart.sh) a timed wait on a CLOCK_MONOTONIC
 * condition ended at once when the wall clock was set back. Returns 0 if
 * joined.
 */
static int
slot_join(struct exit_slot *s, uint64_t deadline)
{
	struct timespec	 nap = { 0, 5 * 1000000L };

	if (!s->running)
		return 0;
	while (!atomic_load(&s->exited)) {
		if (time_mono_ns() >= deadline)
			return -1;
		nanosleep(&nap, NULL);
	}
	pthread_join(s->thread, NULL);
	s->running = 0;
	return 0;
}

/* Is one of the slot's threads inside notify? */
static int
slot_in_notify(struct exit_slot *s)
{
	int	 i;

	if (atomic_load(&s->notify.in))
		return 1;
	for (i = 0; i < s->nworkers; i++)
		if (atomic_load(&s->workers[i].notify.in))
			return 1;
	return 0;
}

/*
 * The oldest notify of s under way for longer than the deadline: its
 * mark, with *ms how long; NULL (and *ms the deadline) when there is none.
 */
struct notify_mark *
slot_late_notify(struct exit_slot *s, uint64_t now, uint64_t *ms)
{
	struct notify_mark *m, *late = NULL;
	uint64_t	 since, ran;
	int		 i;

	*ms = (uint64_t)atomic_load(&s->host->deadline_ms);
	for (i = -1; i < s->nworkers; i++) {
		m = i < 0 ? &s->notify : &s->workers[i].notify;
		if (!atomic_load(&m->in) || now <= (since =
		    atomic_load(&m->since)))
			continue;
		if ((ran = (now - since) / 1000000u) > *ms) {
			*ms = ran;
			late = m;
		}
	}
	return late;
}

/*
 * Once a second: say in the log, once per notify, when an inline
 * module's has run past [exit] deadline_ms. Nothing can cut it short
 * (an isolated module's host is killed at the deadline instead), and its
 * later events wait for it: without this line nobody heard of it until
 * the stop.
 */
static void *
watchdog_main(void *arg)
{
	struct exit_host *h = arg;
	struct notify_mark *m;
	struct exit_slot *s;
	struct timespec	 until;
	uint64_t	 ms;

	pthread_mutex_lock(&h->mu);
	while (!h->dog_stop) {
		time_deadline_in(&until, 1000);
		pthread_cond_timedwait(&h->dog_cv, &h->mu, &until);
		if (h->dog_stop)
			break;
		pthread_mutex_unlock(&h->mu);
		pthread_mutex_lock(&h->list_mu);
		for (s = h->slots; s != NULL; s = s->next) {
			if (!s->loaded || s->isolated ||
			    (m = slot_late_notify(s, time_mono_ns(), &ms)) ==
			    NULL || atomic_exchange(&m->warned, 1))
				continue;
			log_warn("exit module %s: notify(%s) of event %" PRId64
			    " has run for %.1f s, over the %d ms "
			    "deadline ([exit] deadline_ms): an inline module "
			    "cannot be cut short, so its later events wait "
			    "for it (exit list shows it)", s->name,
			    exit_event_name(atomic_load(&m->event)),
			    atomic_load(&m->seq), (double)ms / 1000,
			    atomic_load(&h->deadline_ms));
		}
		pthread_mutex_unlock(&h->list_mu);
		pthread_mutex_lock(&h->mu);
	}
	pthread_mutex_unlock(&h->mu);
	return NULL;
}

static void
watchdog_stop(struct exit_host *h)
{
	if (!h->dog_running)
		return;
	pthread_mutex_lock(&h->mu);
	h->dog_stop = 1;
	pthread_cond_broadcast(&h->dog_cv);
	pthread_mutex_unlock(&h->mu);
	pthread_join(h->dog, NULL);
	h->dog_running = 0;
}

/*
 * Join a stopping slot's threads by deadline and unload the module. A thread
 * still in notify then is left behind, so that a stuck module cannot keep
 * the CA from stopping: it never returns into the host (deliver_once), and
 * its slot is never freed. Its cursor is before the events it had not
 * finished, so they are delivered again at the next start. Returns 0, or
 * -1 when the slot was left behind.
 */
static int
slot_finish(struct exit_host *h, struct exit_slot *s, uint64_t deadline)
{
	int		 i;

	atomic_store(&s->abort, 1);
	if (s->isolated && slot_join(s, deadline) == -1) {
		/*
		 * An isolated module is never left behind: its host is
		 * killed, which ends the notify under way at once.
		 */
		log_err("exit module %s is still in notify at the stop "
		    "deadline ([exit] stop_deadline_ms %d): killing its host "
		    "process; the events it did not finish are delivered "
		    "again at the next start", s->name, h->stop_deadline_ms);
		modproc_kill(s->proc, "killed at the stop deadline");
		slot_join(s, mono_deadline_in(60000));
	}
	if (slot_join(s, deadline) == -1) {
		/*
		 * Marked first: a thread now entering or leaving notify
		 * parks. Left behind only if one is inside; one that is not
		 * is between events and ends as soon as it runs.
		 */
		atomic_store(&s->abandoned, 1);
		if (slot_in_notify(s)) {
			log_err("exit module %s is still in notify at the stop "
			    "deadline ([exit] stop_deadline_ms %d): leaving it; "
			    "the events it did not finish are delivered again "
			    "at the next start", s->name, h->stop_deadline_ms);
			return -1;
		}
		atomic_store(&s->abandoned, 0);
		pthread_join(s->thread, NULL);
		s->running = 0;
	}
	pthread_mutex_lock(&s->pool_mu);
	s->pool_stop = 1;
	pthread_cond_broadcast(&s->pool_cv);
	pthread_mutex_unlock(&s->pool_mu);
	for (i = 0; i < s->nworkers; i++)
		pthread_join(s->workers[i].thread, NULL);
	s->nworkers = 0;
	if (s->proc != NULL)
		modproc_stop(s->proc, h->ca);
	if (s->loaded) {
		exit_module_close(&s->mod);
		s->loaded = 0;
	}
	return 0;
}

static void
slot_free(struct exit_slot *s)
{
	size_t	 i;

	modproc_free(s->proc);
	free(s->description);
	for (i = 0; i < nitems(s->props); i++)
		free(s->props[i]);
	free(s->crashes);
	free(s->ahead);
	free(s->bcalls);
	pthread_mutex_destroy(&s->call_mu);
	pthread_mutex_destroy(&s->pool_mu);
	pthread_mutex_destroy(&s->rd_mu);
	pthread_cond_destroy(&s->rd_cv);
	pthread_cond_destroy(&s->pool_cv);
	free(s->name);
	free(s);
}

static struct exit_slot *
slot_new(struct exit_host *h, const char *name)
{
	struct exit_slot *s = xcalloc(1, sizeof(*s));

	s->host = h;
	s->name = xstrdup(name);
	pthread_mutex_init(&s->call_mu, NULL);
	pthread_mutex_init(&s->pool_mu, NULL);
	pthread_mutex_init(&s->rd_mu, NULL);
	pthread_cond_init(&s->rd_cv, NULL);
	pthread_cond_init(&s->pool_cv, NULL);
	return s;
}

/*
 * The names in [exit] active, in order, NULL-terminated. Caller frees.
 */
static char **
active_names(struct exit_host *h)
{
	char		*v = ca_config_value(h->ca, "exit", "active");
	char		*tok, *save = NULL, **names;
	size_t		 n = 0;

	names = xcalloc(64, sizeof(*names));
	if (v == NULL)
		return names;
	for (tok = strtok_r(v, ", \t", &save); tok != NULL && n < 63;
	    tok = strtok_r(NULL, ", \t", &save))
		names[n++] = xstrdup(tok);
	free(v);
	return names;
}

static void
names_free(char **names)
{
	size_t	 i;

	for (i = 0; names[i] != NULL; i++)
		free(names[i]);
	free(names);
}

/*
 * The crashes an inline module caused since the last start, from the
 * crash file the fatal-signal handler wrote (quarantine.c): logged and
 * recorded, so that the quarantine rules apply before anything is
 * delivered. Then the file is emptied and kept open for the handler.
 */
static void
crash_file_read(struct exit_host *h)
{
	struct db_exit_crash dc;
	char		*path, line[512], cause[64], *tab, *tab2;
	int64_t		 seq;
	FILE		*f = NULL;
	int		 fd;

	if ((path = xcalloc(1, strlen(ca_config(h->ca)->db_file) + 8)) == NULL)
		return;
	sprintf(path, "%s.crash", ca_config(h->ca)->db_file);
	if ((fd = file_open_regular(path, O_RDONLY, 0)) != -1 &&
	    (f = fdopen(fd, "r")) == NULL)
		close(fd);
	if (fd != -1 && f != NULL) {
		while (fgets(line, sizeof(line), f) != NULL) {
			line[strcspn(line, "\n")] = '\0';
			if ((tab = strchr(line, '\t')) == NULL ||
			    (tab2 = strchr(tab + 1, '\t')) == NULL)
				continue;
			*tab++ = '\0';
			*tab2++ = '\0';
			if (parse_int64(tab, &seq) == -1)
				continue;
			log_err("exit module %s crashed certmintd on event %"
			    PRId64 " (%s)", line, seq, tab2);
			snprintf(cause, sizeof(cause), "crashed certmintd with "
			    "%.20s", tab2);
			dc.module = line;
			dc.seq = seq;
			dc.time = time_now();
			dc.cause = cause;
			dc.counted = 1;
			if (ca_write(h->ca, write_crash, &dc) != 0)
				log_err("exit module %s: cannot record its crash",
				    line);
		}
		fclose(f);
	}
	if ((h->crash_fd = file_open_regular(path, O_WRONLY | O_CREAT |
	    O_TRUNC | O_APPEND | O_NOFOLLOW, 0600)) == -1)
		log_warn("%s: %s: an inline module's crash will not be "
		    "recorded", path, file_strerror(errno));
	free(path);
	if (quarantine_install(h->crash_fd, "certmintd") == -1)
		log_warn("cannot install the crash handlers: %s",
		    strerror(errno));
}

/* Put s into the list, in the place [exit] active gives it. */
static void
slot_insert(struct exit_host *h, struct exit_slot *s)
{
	struct exit_slot **pp;

	pthread_mutex_lock(&h->list_mu);
	for (pp = &h->slots; *pp != NULL && (*pp)->order < s->order;
	    pp = &(*pp)->next)
		;
	s->next = *pp;
	*pp = s;
	pthread_mutex_unlock(&h->list_mu);
}

/*
 * Wait until no module loads any more, or ms pass (-1: no limit).
 * Returns how many still load.
 */
static int
loads_wait(struct exit_host *h, int ms)
{
	struct timespec	 ts;
	int		 n;

	time_deadline_in(&ts, ms < 0 ? 0 : ms);
	pthread_mutex_lock(&h->load_mu);
	while (h->loading > 0)
		if (ms < 0)
			pthread_cond_wait(&h->load_cv, &h->load_mu);
		else if (pthread_cond_timedwait(&h->load_cv, &h->load_mu,
		    &ts) == ETIMEDOUT)
			break;
	n = h->loading;
	pthread_mutex_unlock(&h->load_mu);
	return n;
}

/*
 * Join the start's loader threads, once none loads any more (loads_wait).
 * Whoever comes first (a reload, the stop) joins them.
 */
static void
loaders_join(struct exit_host *h)
{
	pthread_t	*t;
	size_t		 i, n;

	pthread_mutex_lock(&h->load_mu);
	t = h->loaders;
	n = h->nloaders;
	h->loaders = NULL;
	h->nloaders = 0;
	pthread_mutex_unlock(&h->load_mu);
	for (i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	free(t);
}

/*
 * A module's load at start, in a thread of its own; then it is in the
 * list (loaded or not, as exit list shows it).
 */
static void *
start_loader(void *arg)
{
	struct exit_slot *s = arg;
	struct exit_host *h = s->host;

	slot_start(h, s, h->start_seq);
	slot_insert(h, s);
	pthread_mutex_lock(&h->load_mu);
	h->loading--;
	pthread_cond_broadcast(&h->load_cv);
	pthread_mutex_unlock(&h->load_mu);
	return NULL;
}

int
exit_host_start(struct exit_host *h)
{
	struct store	*st = ca_reader(h->ca);
	struct db_stats	 stats;
	struct exit_slot *s;
	char		**names;
	size_t		 i;
	int		 created;

	if (st == NULL || store_stats(st, &stats) != 0)
		return -1;
	h->last_seq = stats.last_event_seq;
	crash_file_read(h);
	ca_set_commit_hook(h->ca, host_on_commit, h);
	h->start_seq = h->last_seq;
	names = active_names(h);
	for (i = 0; names[i] != NULL; i++)
		;
	h->loaders = xcalloc(i + 1, sizeof(*h->loaders));
	for (i = 0; names[i] != NULL; i++) {
		s = slot_new(h, names[i]);
		s->order = (int)i;
		pthread_mutex_lock(&h->load_mu);
		h->loading++;
		if ((created = pthread_create(&h->loaders[h->nloaders], NULL,
		    start_loader, s) == 0))
			h->nloaders++;
		else
			h->loading--;
		pthread_mutex_unlock(&h->load_mu);
		if (!created) {
			snprintf(s->load_error, sizeof(s->load_error), "cannot "
			    "start its loading thread");
			log_err("exit module %s not loaded: %s", s->name,
			    s->load_error);
			slot_insert(h, s);
		}
	}
	names_free(names);
	if (pthread_create(&h->dog, NULL, watchdog_main, h) == 0)
		h->dog_running = 1;
	/* Those that load at once are there for the first requests. */
	if (loads_wait(h, START_LOAD_WAIT_MS) > 0)
		log_warn("exit modules still loading after %d ms: certmintd "
		    "serves meanwhile; their events wait for them (exit "
		    "list shows a module once it is loaded)",
		    START_LOAD_WAIT_MS);
	return 0;
}

/*
 * Match the slots to [exit] active. The list lock is held only to take
 * slots out and put the new list in: a module stuck in notify that is
 * unloaded is waited for outside it (detached first), and a module loaded
 * is started outside it, so that `exit list` answers meanwhile. Reloads
 * are one at a time (reload_mu); only they change the list.
 */
static int
exit_host_reload_slots(struct exit_host *h, char *failed, size_t len)
{
	struct exit_slot *s, **pp, *keep = NULL, **ktail = &keep, *gone = NULL;
	struct modproc_opts o;
	char		**names, *user;
	size_t		 i;
	int		 found;

	pthread_mutex_lock(&h->list_mu);
	host_settings(h);
	names = active_names(h);
	/* Take out the modules no longer listed (and those that failed). */
	for (pp = &h->slots; (s = *pp) != NULL;) {
		found = 0;
		for (i = 0; names[i] != NULL; i++)
			if (strcmp(names[i], s->name) == 0)
				found = 1;
		if (found && s->loaded) {
			/*
			 * [exit.NAME]'s user and limits apply from the host's
			 * next start: a suspended module's at `exit resume`.
			 */
			if (s->proc != NULL) {
				slot_host_opts(h, s, &o, &user);
				modproc_settings(s->proc, &o);
				free(user);
			} else if (slot_reload_script(h, s) == -1)
				failed_add(failed, len, s->name,
				    s->reload_error);
			pp = &s->next;
			continue;
		}
		*pp = s->next;
		s->next = gone;
		gone = s;
	}
	pthread_mutex_unlock(&h->list_mu);
	while ((s = gone) != NULL) {
		gone = s->next;
		pthread_mutex_lock(&h->mu);
		h->drain_deadline = mono_seconds();
		pthread_mutex_unlock(&h->mu);
		slot_signal_stop(h, s, 0);
		/* One left in notify is not freed: its thread uses it. */
		if (slot_finish(h, s, mono_deadline_in(h->stop_deadline_ms +
		    STOP_GRACE_MS)) == 0) {
			log_info("exit module %s unloaded", s->name);
			slot_free(s);
		}
	}
	/* The new list in config order; new modules start outside the lock. */
	for (i = 0; names[i] != NULL; i++) {
		for (s = h->slots; s != NULL; s = s->next)
			if (strcmp(s->name, names[i]) == 0)
				break;
		if (s == NULL) {
			s = slot_new(h, names[i]);
			if (slot_start(h, s, -1) == -1)
				failed_add(failed, len, s->name, s->load_error);
		}
		s->pending_next = NULL;
		*ktail = s;
		ktail = &s->pending_next;
	}
	pthread_mutex_lock(&h->list_mu);
	for (s = keep; s != NULL; s = s->pending_next)
		s->next = s->pending_next;
	h->slots = keep;
	pthread_mutex_unlock(&h->list_mu);
	names_free(names);
	return 0;
}

/*
 * Stop every module: each delivers what is queued (SHUTDOWN included) until
 * [exit] stop_deadline_ms; then no more events are handed out, a notify
 * under way gets STOP_GRACE_MS more, and a module still in notify is left
 * behind (slot_finish). One deadline for all: they drain at the same time.
 */
void
exit_host_stop(struct exit_host *h)
{
	struct exit_slot *s;
	uint64_t	 deadline;
	int		 ms;

	if (h == NULL)
		return;
	watchdog_stop(h);
	ms = h->stop_deadline_ms;
	/*
	 * Modules still loading since the start are waited for, and stopped
	 * with the others; one that does not load within the deadline (an
	 * initialize that never returns) is left behind, as a notify is.
	 */
	if (loads_wait(h, ms) == 0)
		loaders_join(h);
	else
		log_warn("exit modules still loading at the stop deadline: "
		    "left behind");
	pthread_mutex_lock(&h->mu);
	h->stopping = 1;
	/* Whole seconds, rounded up; the abort below ends it to the ms. */
	h->drain_deadline = mono_seconds() + (ms + 999) / 1000;
	pthread_mutex_unlock(&h->mu);
	ca_set_commit_hook(h->ca, NULL, NULL);
	deadline = mono_deadline_in(ms);
	for (s = h->slots; s != NULL; s = s->next)
		slot_signal_stop(h, s, 1);
	for (s = h->slots; s != NULL; s = s->next)
		slot_join(s, deadline);
	for (s = h->slots; s != NULL; s = s->next)
		atomic_store(&s->abort, 1);
	deadline = mono_deadline_in(STOP_GRACE_MS);
	for (s = h->slots; s != NULL; s = s->next)
		slot_finish(h, s, deadline);
}

void
exit_host_free(struct exit_host *h)
{
	struct exit_slot *s, *next;

	if (h == NULL)
		return;
	/* A module left loading still uses h: the process ends anyway. */
	if (loads_wait(h, 0) > 0)
		return;
	watchdog_stop(h);
	loaders_join(h);
	for (s = h->slots; s != NULL; s = next) {
		next = s->next;
		/* One left in notify is not freed: its thread uses it. */
		if (!atomic_load(&s->abandoned))
			slot_free(s);
	}
	pthread_mutex_destroy(&h->list_mu);
	pthread_mutex_destroy(&h->reload_mu);
	pthread_mutex_destroy(&h->mu);
	pthread_mutex_destroy(&h->load_mu);
	pthread_cond_destroy(&h->load_cv);
	pthread_cond_destroy(&h->dog_cv);
	if (h->crash_fd != -1) {
		quarantine_install(-1, NULL);
		close(h->crash_fd);
	}
	free(h->modules_dir);
	free(h);
}


int
exit_host_reload(struct exit_host *h, char *failed, size_t len)
{
	int	 rc;

	if (failed != NULL && len > 0)
		failed[0] = '\0';
	/* The modules loading since the start are in the list first. */
	loads_wait(h, -1);
	loaders_join(h);
	pthread_mutex_lock(&h->reload_mu);
	rc = exit_host_reload_slots(h, failed, len);
	pthread_mutex_unlock(&h->reload_mu);
	return rc;
}
