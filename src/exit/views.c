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
static struct exit_slot *
slot_find(struct exit_host *h, const char *name, char *err, size_t errlen)
{
	struct exit_slot *s;

	for (s = h->slots; s != NULL; s = s->next)
		if (strcasecmp(s->name, name) == 0)
			break;
	if (s == NULL)
		snprintf(err, errlen, "no active exit module named \"%s\"", name);
	else if (!s->loaded) {
		snprintf(err, errlen, "exit module %s is not loaded: %s", s->name,
		    s->load_error);
		s = NULL;
	}
	return s;
}

const cm_manage_module *
slot_manage(struct exit_slot *s)
{
	const cm_manage_module *m;

	/* An isolated module's is in its host: modproc_set/configure. */
	if (s->isolated || s->mod.desc->get_manage_module == NULL)
		return NULL;
	m = s->mod.desc->get_manage_module(s->mod.state);
	if (m == NULL || m->size < sizeof(uint32_t) + sizeof(void *) ||
	    m->get_property == NULL)
		return NULL;
	return m;
}

/*
 * Crashes in the window and the suspension, for `exit list`. Call with
 * h->mu held.
 */
static void
quarantine_json(struct exit_slot *s, json_t *o)
{
	int64_t		 since = time_now() - s->host->crash_window_s;
	char		 ts[32];
	size_t		 i;
	int		 n = 0;

	for (i = 0; i < s->ncrashes; i++)
		if (s->crashes[i].counted && s->crashes[i].time > since)
			n++;
	json_object_set_new(o, "crashes", json_integer(n));
	if (s->ncrashes > 0)
		json_object_set_new(o, "last_crash", json_string(
		    s->crashes[s->ncrashes - 1].cause));
	if (atomic_load(&s->suspended)) {
		json_object_set_new(o, "suspended",
		    json_string(s->suspend_reason));
		time_format(s->suspended_since, ts);
		json_object_set_new(o, "suspended_since", json_string(ts));
	}
	if (s->unchecked[0] != '\0')
		json_object_set_new(o, "unchecked_settings",
		    json_string(s->unchecked));
}

/* A notify under way past the deadline: "late_notify". */
static void
late_json(struct exit_slot *s, json_t *o)
{
	struct notify_mark *m;
	uint64_t	 ms;
	json_t		*l;

	if ((m = slot_late_notify(s, time_mono_ns(), &ms)) == NULL)
		return;
	l = json_object();
	json_object_set_new(l, "seq", json_integer(atomic_load(&m->seq)));
	json_object_set_new(l, "event", json_string(exit_event_name(
	    atomic_load(&m->event))));
	json_object_set_new(l, "ms", json_integer((json_int_t)ms));
	json_object_set_new(o, "late_notify", l);
}

static int
exit_host_list_locked(struct exit_host *h, json_t *arr)
{
	struct exit_slot *s;
	struct store	*st = ca_reader(h->ca);
	pid_t		 pid;
	char		 mask[256], ts[32];
	int64_t		 dead;
	json_t		*o;

	for (s = h->slots; s != NULL; s = s->next) {
		o = json_object();
		json_object_set_new(o, "name", json_string(s->name));
		json_object_set_new(o, "loaded", json_boolean(s->loaded));
		if (!s->loaded) {
			json_object_set_new(o, "error", json_string(s->load_error));
			json_array_append_new(arr, o);
			continue;
		}
		/* As at load: a view never calls into a module (it may hang). */
		json_object_set_new(o, "description", json_string(s->description));
		if (s->props[3] != NULL)
			json_object_set_new(o, "file_version",
			    json_string(s->props[3]));
		if (s->props[4] != NULL)
			json_object_set_new(o, "product_version",
			    json_string(s->props[4]));
		json_object_set_new(o, "isolation", json_string(s->isolated ?
		    "process" : "inline"));
		if (s->isolated && (pid = modproc_pid(s->proc)) > 0)
			json_object_set_new(o, "pid", json_integer(pid));
		exit_mask_text(s->mod.mask, mask, sizeof(mask));
		json_object_set_new(o, "events", json_string(mask));
		json_object_set_new(o, "event_mask", json_integer(s->mod.mask));
		json_object_set_new(o, "threading", json_string(
		    s->threading == CM_THREADING_SERIAL ? "serial" :
		    "concurrent"));
		json_object_set_new(o, "path", json_string(s->mod.path));
		if (s->reload_error[0] != '\0')
			json_object_set_new(o, "reload_error",
			    json_string(s->reload_error));
		pthread_mutex_lock(&h->mu);
		json_object_set_new(o, "cursor", json_integer(s->cursor));
		json_object_set_new(o, "queue", json_integer(h->last_seq > s->cursor ?
		    h->last_seq - s->cursor : 0));
		json_object_set_new(o, "delivered",
		    json_integer(atomic_load(&s->delivered)));
		json_object_set_new(o, "failures", json_integer(s->failures));
		json_object_set_new(o, "yielded_ms", json_integer((json_int_t)
		    (atomic_load(&s->yield_ns) / 1000000u)));
		quarantine_json(s, o);
		latency_json(s, o);
		late_json(s, o);
		if (s->last_error[0] != '\0') {
			json_object_set_new(o, "last_error", json_string(s->last_error));
			time_format(s->last_error_time, ts);
			json_object_set_new(o, "last_error_time", json_string(ts));
		}
		pthread_mutex_unlock(&h->mu);
		if (st != NULL && store_dead_letter_count(st, s->name, &dead) == 0)
			json_object_set_new(o, "dead_letters", json_integer(dead));
		json_array_append_new(arr, o);
	}
	return 0;
}

/*
 * What a module said at its load (slot_cache_inline, or its host's hello):
 * exit show never calls into a module, so a module stuck in notify holds
 * up no view.
 */
static int
exit_host_show_locked(struct exit_host *h, const char *name, json_t *o,
    char *err, size_t errlen)
{
	struct exit_slot *s;
	json_t		*p;
	size_t		 i;

	if ((s = slot_find(h, name, err, errlen)) == NULL)
		return -1;
	p = json_object();
	json_object_set_new(o, "name", json_string(s->name));
	for (i = 0; i < nitems(manage_props); i++)
		if (s->props[i] != NULL)
			json_object_set_new(p, manage_props[i],
			    json_string(s->props[i]));
	json_object_set_new(o, "description", json_string(s->description));
	json_object_set_new(o, "properties", p);
	json_object_set_new(o, "manageable", json_boolean(s->isolated ?
	    (modproc_info(s->proc)->manage & WIRE_MANAGE_GET) != 0 :
	    slot_manage(s) != NULL));
	pthread_mutex_lock(&h->mu);
	if (atomic_load(&s->suspended))
		json_object_set_new(o, "suspended",
		    json_string(s->suspend_reason));
	if (s->unchecked[0] != '\0')
		json_object_set_new(o, "unchecked_settings",
		    json_string(s->unchecked));
	pthread_mutex_unlock(&h->mu);
	return 0;
}

/*
 * Take a serial inline module's call lock for an admin call, waiting at
 * most MANAGE_WAIT_MS: a module stuck in notify makes `exit set` and
 * `exit configure` fail with a reason instead of hanging the admin
 * socket's client and the slot list. 0, or -1 with err.
 */
static int
slot_call_lock(struct exit_slot *s, char *err, size_t errlen)
{
	struct timespec	 ts;

	if (s->threading != CM_THREADING_SERIAL)
		return 0;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += MANAGE_WAIT_MS / 1000;
	ts.tv_nsec += (MANAGE_WAIT_MS % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	if (pthread_mutex_timedlock(&s->call_mu, &ts) == 0)
		return 0;
	snprintf(err, errlen, "exit module %s is busy in a notify call (for "
	    "more than %d ms); try again", s->name, MANAGE_WAIT_MS);
	return -1;
}

static void
slot_call_unlock(struct exit_slot *s)
{
	if (s->threading == CM_THREADING_SERIAL)
		pthread_mutex_unlock(&s->call_mu);
}

/*
 * Call configure; with CM_CMM_REFRESHONLY the module rereads its section.
 */
static int
slot_configure(struct exit_host *h, struct exit_slot *s, int flags,
    char *report, size_t reportlen, int *rcp)
{
	const cm_manage_module *m = slot_manage(s);
	struct exit_call call;
	int		 r;

	report[0] = '\0';
	if (s->isolated) {
		if (!(modproc_info(s->proc)->manage & WIRE_MANAGE_CONFIGURE))
			return -1;
		r = modproc_configure(s->proc, h->ca, flags, report,
		    reportlen, rcp);
		if (r == -1 && atomic_load(&s->suspended)) {
			/* Its host stopped at the suspension: nothing to ask. */
			*rcp = flags & CM_CMM_REFRESHONLY ? CM_OK : CM_E_FAIL;
			snprintf(report, reportlen, "exit module %s is suspended "
			    "(its host process stopped): it %s when `certmint "
			    "exit resume %s` starts it", s->name, flags &
			    CM_CMM_REFRESHONLY ? "reads its settings" :
			    "can check its configuration", s->name);
		} else if (r != 0) {
			snprintf(report, reportlen, "exit module %s: %s", s->name,
			    r == -2 ? "its process did not answer in time" :
			    "its process is not running");
			*rcp = CM_E_FAIL;
		}
		return 0;
	}
	if (m == NULL || m->size < sizeof(*m) || m->configure == NULL)
		return -1;
	if (slot_call_lock(s, report, reportlen) == -1) {
		*rcp = CM_E_FAIL;
		return 0;
	}
	exit_call_init(&call, h->ca, s->name, NULL);
	*rcp = m->configure(s->mod.state, &call.vt, flags, report, reportlen);
	slot_call_unlock(s);
	exit_call_reset(&call);
	if (reportlen > 0)
		report[reportlen - 1] = '\0';
	return 0;
}

/* Add key to the suspended module's unchecked settings, once in any case. */
static void
unchecked_add(struct exit_slot *s, const char *key)
{
	char		*p = s->unchecked;
	size_t		 n = strlen(key), len;

	pthread_mutex_lock(&s->host->mu);
	/* Property names are case-insensitive (exit_module_set). */
	while ((p = strcasestr(p, key)) != NULL) {
		if ((p == s->unchecked || p[-1] == ' ') && (p[n] == '\0' ||
		    p[n] == ','))
			break;
		p += n;
	}
	len = strlen(s->unchecked);
	if (p == NULL && len + n + 3 < sizeof(s->unchecked))
		snprintf(s->unchecked + len, sizeof(s->unchecked) - len, "%s%s",
		    len ? ", " : "", key);
	pthread_mutex_unlock(&s->host->mu);
}

static int
exit_host_set_locked(struct exit_host *h, const char *name, const char *prop,
    const char *value, char *note, size_t notelen, char *err, size_t errlen)
{
	struct exit_slot *s;
	const cm_manage_module *m;
	cm_value	 v;
	char		 report[256], why[512];
	int		 rc, crc, r, unchecked = 0;

	note[0] = '\0';
	if ((s = slot_find(h, name, err, errlen)) == NULL)
		return -1;
	m = slot_manage(s);
	if (s->isolated ? !(modproc_info(s->proc)->manage & WIRE_MANAGE_SET) :
	    (m == NULL || m->size < offsetof(cm_manage_module, set_property) +
	    sizeof(void *) || m->set_property == NULL)) {
		snprintf(err, errlen, "exit module %s has no settable properties",
		    s->name);
		return -1;
	}
	if (s->isolated) {
		r = modproc_set(s->proc, prop, value, &rc);
		if (r == -1 && atomic_load(&s->suspended)) {
			/*
			 * Its host stopped at the suspension. Starting it to
			 * ask would run the code being mended (which may crash
			 * at initialize with the old value): the value is saved
			 * unchecked, and the module reads it when `exit resume`
			 * starts it. The suspension stays.
			 */
			unchecked = 1;
			rc = CM_OK;
		} else if (r != 0) {
			snprintf(err, errlen, "exit module %s: %s", s->name,
			    r == -2 ? "its process did not answer in time" :
			    "its process is not running");
			return -1;
		}
	} else {
		memset(&v, 0, sizeof(v));
		v.type = CM_PROPTYPE_STRING;
		v.data = value;
		v.len = strlen(value);
		if (slot_call_lock(s, err, errlen) == -1)
			return -1;
		rc = m->set_property(s->mod.state, prop, 0, &v);
		slot_call_unlock(s);
	}
	if (rc == CM_S_FALSE) {
		snprintf(err, errlen, "exit module %s does not take property "
		    "\"%s\"", s->name, prop);
		return -1;
	}
	if (rc != CM_OK) {
		snprintf(err, errlen, "exit module %s refused %s = \"%s\" (%d)",
		    s->name, prop, value, rc);
		return -1;
	}
	/* Accepted: persist it in the module's section and reread. */
	if (config_edit(ca_config(h->ca)->path, s->name, prop, value, why,
	    sizeof(why)) == -1 || ca_reload(h->ca, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "cannot save %s: %s", prop, why);
		return -1;
	}
	if (unchecked) {
		unchecked_add(s, prop);
		snprintf(note, notelen, "%s is suspended, its host process "
		    "stopped: %s is saved unchecked; the module reads it when "
		    "`certmint exit resume %s` starts it", s->name, prop,
		    s->name);
		return 0;
	}
	slot_configure(h, s, CM_CMM_REFRESHONLY, report, sizeof(report), &crc);
	return 0;
}

static int
exit_host_configure_locked(struct exit_host *h, const char *name, int flags,
    char *report, size_t reportlen, char *err, size_t errlen)
{
	struct exit_slot *s;
	int		 rc;

	if ((s = slot_find(h, name, err, errlen)) == NULL)
		return -1;
	if (slot_configure(h, s, flags, report, reportlen, &rc) == -1) {
		snprintf(err, errlen, "exit module %s has no configure entry point",
		    s->name);
		return -1;
	}
	if (rc != CM_OK) {
		snprintf(err, errlen, "%s", report[0] ? report :
		    "configuration check failed");
		return -1;
	}
	return 0;
}

static int
exit_host_replay_locked(struct exit_host *h, const char *name, int64_t from,
    int dead, int64_t *count, char *err, size_t errlen)
{
	struct exit_slot *s;
	struct store	*st = ca_reader(h->ca);

	*count = 0;
	if ((s = slot_find(h, name, err, errlen)) == NULL)
		return -1;
	if (!dead && from <= 0) {
		snprintf(err, errlen, "give --from SEQ (>= 1) or --dead");
		return -1;
	}
	pthread_mutex_lock(&h->mu);
	if (dead) {
		s->replay_dead = 1;
		if (st != NULL)
			store_dead_letter_count(st, s->name, count);
	} else {
		s->replay_from = from;
		*count = h->last_seq >= from ? h->last_seq - from + 1 : 0;
	}
	host_wake(h);
	pthread_mutex_unlock(&h->mu);
	return 0;
}

int
exit_host_list(struct exit_host *h, json_t *arr)
{
	int	 rc;

	pthread_mutex_lock(&h->list_mu);
	rc = exit_host_list_locked(h, arr);
	pthread_mutex_unlock(&h->list_mu);
	return rc;
}

int
exit_host_show(struct exit_host *h, const char *name, json_t *o, char *err,
    size_t errlen)
{
	int	 rc;

	pthread_mutex_lock(&h->list_mu);
	rc = exit_host_show_locked(h, name, o, err, errlen);
	pthread_mutex_unlock(&h->list_mu);
	return rc;
}

int
exit_host_set(struct exit_host *h, const char *name, const char *prop,
    const char *value, char *note, size_t notelen, char *err, size_t errlen)
{
	int	 rc;

	pthread_mutex_lock(&h->list_mu);
	rc = exit_host_set_locked(h, name, prop, value, note, notelen, err,
	    errlen);
	pthread_mutex_unlock(&h->list_mu);
	return rc;
}

int
exit_host_configure(struct exit_host *h, const char *name, int flags,
    char *report, size_t reportlen, char *err, size_t errlen)
{
	int	 rc;

	pthread_mutex_lock(&h->list_mu);
	rc = exit_host_configure_locked(h, name, flags, report, reportlen, err,
	    errlen);
	pthread_mutex_unlock(&h->list_mu);
	return rc;
}

int
exit_host_replay(struct exit_host *h, const char *name, int64_t from,
    int dead, int64_t *count, char *err, size_t errlen)
{
	int	 rc;

	pthread_mutex_lock(&h->list_mu);
	rc = exit_host_replay_locked(h, name, from, dead, count, err, errlen);
	pthread_mutex_unlock(&h->list_mu);
	return rc;
}

/*
 * `certmint exit resume NAME`: forget the module's crashes and suspension
 * (in the database too) and let it deliver its queue again.
 */
int
exit_host_resume(struct exit_host *h, const char *name, char *err,
    size_t errlen)
{
	struct exit_slot *s;
	int		 rc = 0;

	pthread_mutex_lock(&h->list_mu);
	if ((s = slot_find(h, name, err, errlen)) == NULL) {
		pthread_mutex_unlock(&h->list_mu);
		return -1;
	}
	if (ca_write(h->ca, write_resume, s->name) != 0) {
		snprintf(err, errlen, "cannot record the resumption of %s",
		    s->name);
		rc = -1;
	} else {
		pthread_mutex_lock(&h->mu);
		s->ncrashes = 0;
		atomic_store(&s->has_crashes, 0);
		s->suspend_reason[0] = '\0';
		s->unchecked[0] = '\0';
		atomic_store(&s->suspended, 0);
		host_wake(h);
		pthread_mutex_unlock(&h->mu);
		log_info("exit module %s resumed", s->name);
	}
	pthread_mutex_unlock(&h->list_mu);
	return rc;
}
