/*
 * schedule.c - the CRL schedule (issue 11, "CRLs that never lapse"). A
 * thread of the daemon publishes a base CRL when the newest one is due, a
 * delta CRL when the newest delta is, and, with [crl] publish_on_revoke,
 * one after each revocation or release from hold. A failure is retried
 * with a backoff; a CRL close to its nextUpdate without a successor is an
 * error in the log and in `certmint status`.
 *
 * AD CS's semantics (CRLPeriod, CRLOverlapPeriod): a CRL is valid for
 * period + overlap (revoke.c), and its successor is due after period,
 * overlap before it lapses, so that a late or failed publication has the
 * overlap to be retried and clients have it to fetch the new one. What is
 * due is read from the newest CRLs in the database at each round, so that
 * `certmint crl`, a restart and a reload with other periods count at once:
 * due = min(thisUpdate + period, nextUpdate - overlap). With less than
 * overlap / 2 left, a CRL is LAPSING; past its nextUpdate, EXPIRED.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ca_int.h"

#define RETRY_FIRST	60		/* s: the first retry after a failure */
#define RETRY_MAX	(15 * 60)	/* s: the backoff doubles up to this */
#define MARKER_EVERY_MS	2000	/* the marker follows the requests this often */
#define WAIT_MAX	60		/* s: a reload or a clock step counts within it */
#define LAPSE_LOG_EVERY	300		/* s: between two lapse errors of one CRL */

enum { K_BASE, K_DELTA, K__MAX };

static const char *const kind_names[K__MAX] = { "base", "delta" };

static const char *const health_names[CRL_HEALTH__MAX] = {
	[CRL_OFF] = "off", [CRL_MISSING] = "missing", [CRL_OK] = "ok",
	[CRL_LAPSING] = "lapsing", [CRL_EXPIRED] = "expired",
	[CRL_FUTURE] = "future",
};

/* A thisUpdate this far ahead of the clock is not yet valid anywhere. */
#define CRL_FUTURE_SLACK	300
#define crl_future(c, now)	((c)->this_update > (now) + CRL_FUTURE_SLACK)

/* The publications of one kind, as the thread saw them. */
struct crl_track {
	int64_t		 retry_at;	/* after a failure: not before */
	int64_t		 backoff;	/* the wait after the next failure */
	int		 failures;	/* in a row; 0 after a success */
	int64_t		 fail_time;	/* the last failure; 0: none */
	char		 fail_msg[256];
	enum ca_crl_health lapse_health;	/* last logged, for one number */
	int64_t		 lapse_number;
	int64_t		 lapse_logged;
};

struct crl_schedule {
	pthread_t	 thread;
	pthread_mutex_t	 mu;		/* what follows */
	pthread_cond_t	 cv;		/* stop or poked */
	int		 stop;
	int		 poked;		/* a revocation to publish */
	unsigned	 pokes;		/* revocations so far: a poke after a
					   round's start ends its wait */
	struct crl_track track[K__MAX];
};

/* The [crl] settings of one round, copied under the config lock. */
struct crl_times {
	int64_t		 period[K__MAX];
	int64_t		 overlap[K__MAX];
	int		 delta;
	int		 on_revoke;
	int		 key_idx;	/* the current key's CRLs */
};

/* The newest CRLs and when each kind is due (INT64_MAX: never). */
struct crl_plan {
	int		 have[K__MAX];
	struct db_crl	 crl[K__MAX];	/* without raw */
	int64_t		 due[K__MAX];
};

const char *
ca_crl_health_name(enum ca_crl_health h)
{
	return (unsigned)h < CRL_HEALTH__MAX ? health_names[h] : "?";
}

/* The [crl] settings of cfg and sg's key, read with the config lock held. */
static void
times_get(const struct cm_config *cfg, const struct signer *sg,
    struct crl_times *t)
{
	t->period[K_BASE] = cfg->crl_period;
	t->overlap[K_BASE] = cfg->crl_overlap;
	t->period[K_DELTA] = cfg->delta_period;
	t->overlap[K_DELTA] = cfg->delta_overlap;
	t->delta = cfg->delta_enabled;
	t->on_revoke = cfg->crl_on_revoke;
	t->key_idx = sg->key_idx;
}

/* When the successor of c is due. */
static int64_t
crl_due(const struct db_crl *c, int64_t period, int64_t overlap,
    int64_t now)
{
	int64_t	 a = c->this_update + period, b = c->next_update - overlap;

	/*
	 * Published while the clock was ahead: not yet valid for a relying
	 * party, and due at once now that the clock is back.
	 */
	if (crl_future(c, now))
		return now;
	return a < b ? a : b;
}

/* How c stands at now, given its kind's overlap. */
static enum ca_crl_health
crl_health(const struct db_crl *c, int64_t overlap, int64_t now)
{
	if (crl_future(c, now))
		return CRL_FUTURE;
	if (now >= c->next_update)
		return CRL_EXPIRED;
	if (now >= c->next_update - overlap / 2)
		return CRL_LAPSING;
	return CRL_OK;
}

/*
 * Read the newest CRLs and plan: a kind never published is due now, a
 * delta on an older base too; poked (publish_on_revoke) makes the delta,
 * or the base when deltas are off, due now; a failure puts its kind off
 * until its retry. Returns 0 or -1.
 */
static int
plan_read(struct store *st, const struct crl_times *t,
    const struct crl_track tr[K__MAX], int poked, int64_t now,
    struct crl_plan *p)
{
	int	 k, rc;

	memset(p, 0, sizeof(*p));
	for (k = 0; k < K__MAX; k++) {
		if ((rc = store_crl_latest_head(st, k == K_DELTA, t->key_idx,
		    &p->crl[k])) != 0 && rc != CM_E_NOTFOUND)
			return -1;
		p->have[k] = rc == 0;
		p->due[k] = p->have[k] ? crl_due(&p->crl[k], t->period[k],
		    t->overlap[k], now) : now;
	}
	if (!t->delta)
		p->due[K_DELTA] = INT64_MAX;
	else if (!p->have[K_BASE] ||
	    p->crl[K_DELTA].base_number != p->crl[K_BASE].number)
		p->due[K_DELTA] = now;
	if (poked && t->on_revoke)
		p->due[t->delta ? K_DELTA : K_BASE] = now;
	for (k = 0; k < K__MAX; k++)
		if (p->due[k] < tr[k].retry_at)
			p->due[k] = tr[k].retry_at;
	return 0;
}

/*
 * The backoff after a failure: from a minute, doubling, to 15 minutes,
 * but within an eighth (a quarter) of the overlap, so that a short
 * overlap still sees several tries before the CRL lapses.
 */
static int64_t
backoff_first(int64_t overlap)
{
	int64_t	 b = overlap / 8;

	return b < 1 ? 1 : b > RETRY_FIRST ? RETRY_FIRST : b;
}

static int64_t
backoff_max(int64_t overlap)
{
	int64_t	 b = overlap / 4;

	return b < 1 ? 1 : b > RETRY_MAX ? RETRY_MAX : b;
}

/* Kind k published c: its failures are over (the last stays for status). */
static void
track_success(struct crl_schedule *s, int k, const struct db_crl *c)
{
	struct crl_track *tr = &s->track[k];

	pthread_mutex_lock(&s->mu);
	if (tr->failures > 0)
		log_info("%s CRL number %" PRId64 " published after %d failed "
		    "attempts", kind_names[k], c->number, tr->failures);
	tr->failures = 0;
	tr->retry_at = 0;
	tr->backoff = 0;
	pthread_mutex_unlock(&s->mu);
}

/* One failed attempt: logged, and retried after the backoff. */
static void
track_failure(struct crl_schedule *s, int k, const char *why,
    int64_t overlap, int64_t now)
{
	struct crl_track *tr = &s->track[k];
	int64_t		 cap = backoff_max(overlap);

	pthread_mutex_lock(&s->mu);
	tr->failures++;
	tr->fail_time = now;
	snprintf(tr->fail_msg, sizeof(tr->fail_msg), "%s", why);
	if (tr->backoff == 0)
		tr->backoff = backoff_first(overlap);
	if (tr->backoff > cap)
		tr->backoff = cap;
	tr->retry_at = now + tr->backoff;
	log_err("cannot publish the scheduled %s CRL (attempt %d in a row): "
	    "%s; next attempt in %" PRId64 " s", kind_names[k], tr->failures,
	    why, tr->backoff);
	tr->backoff = tr->backoff * 2 > cap ? cap : tr->backoff * 2;
	pthread_mutex_unlock(&s->mu);
}

/*
 * Publish kind k (a base CRL brings its delta when deltas are on) and
 * note the outcome. Returns 0, or -1 when the CA is stopping.
 */
static int
publish(struct ca *ca, int k, const struct crl_times *t, int poked)
{
	struct crl_schedule *s = ca->sched;
	struct ca_result res;
	int		 failed, rc = 0;

	/* What was revoked until now is in this CRL, or it is retried. */
	pthread_mutex_lock(&s->mu);
	s->poked = 0;
	pthread_mutex_unlock(&s->mu);
	rc = ca_publish_crl(ca, k == K_DELTA, &res);
	if (rc == 0) {
		/* The current key's come first (ca_publish_crl). */
		track_success(s, k, &res.crls[0]);
		if (k == K_BASE && res.ncrls > 1 &&
		    res.crls[1].base_number >= 0 &&
		    res.crls[1].key_idx == res.crls[0].key_idx)
			track_success(s, K_DELTA, &res.crls[1]);
	} else if (res.status == CA_E_SHUTDOWN)
		rc = -1;
	else {
		/* A base CRL published, and then its delta failed. */
		failed = k == K_BASE && res.ncrls == 1 && t->delta ? K_DELTA :
		    k;
		if (failed != k)
			track_success(s, k, &res.crls[0]);
		track_failure(s, failed, res.error, t->overlap[failed],
		    time_now());
		if (poked) {
			pthread_mutex_lock(&s->mu);
			s->poked = 1;	/* still to publish, at the retry */
			pthread_mutex_unlock(&s->mu);
		}
		rc = 0;
	}
	ca_result_free(&res);
	return rc;
}

/*
 * Log loudly a CRL that is lapsing, expired or missing: when it becomes
 * so, and then every LAPSE_LOG_EVERY seconds.
 */
static void
lapse_log(struct crl_schedule *s, int k, const struct crl_plan *p,
    const struct crl_times *t, int64_t now)
{
	struct crl_track *tr = &s->track[k];
	enum ca_crl_health h;
	char		 ts[32], fail[300] = "";
	int64_t		 number = p->have[k] ? p->crl[k].number : 0;

	h = p->have[k] ? crl_health(&p->crl[k], t->overlap[k], now) :
	    CRL_MISSING;
	pthread_mutex_lock(&s->mu);
	if (h == CRL_OK || (h == tr->lapse_health &&
	    number == tr->lapse_number &&
	    now - tr->lapse_logged < LAPSE_LOG_EVERY)) {
		if (h == CRL_OK)
			tr->lapse_health = CRL_OK;
		pthread_mutex_unlock(&s->mu);
		return;
	}
	tr->lapse_health = h;
	tr->lapse_number = number;
	tr->lapse_logged = now;
	if (tr->failures > 0)
		snprintf(fail, sizeof(fail), "; %d publications failed, the "
		    "last: %s", tr->failures, tr->fail_msg);
	pthread_mutex_unlock(&s->mu);
	if (h == CRL_MISSING) {
		log_err("no %s CRL is published%s", kind_names[k], fail);
		return;
	}
	if (h == CRL_FUTURE) {
		time_format(p->crl[k].this_update, ts);
		log_err("%s CRL number %" PRId64 " is not yet valid: its "
		    "thisUpdate, %s, is %" PRId64 " s ahead of the clock (was "
		    "the clock ahead then, or is it behind now?)%s",
		    kind_names[k], number, ts, p->crl[k].this_update - now,
		    fail);
		return;
	}
	time_format(p->crl[k].next_update, ts);
	if (h == CRL_LAPSING)
		log_err("%s CRL number %" PRId64 " is LAPSING: it expires at %s "
		    "(in %" PRId64 " s) and has no successor%s", kind_names[k],
		    number, ts, p->crl[k].next_update - now, fail);
	else
		log_err("%s CRL number %" PRId64 " has EXPIRED at %s (%" PRId64
		    " s ago) without a successor: relying parties may refuse "
		    "this CA's certificates%s", kind_names[k], number, ts,
		    now - p->crl[k].next_update, fail);
}

/* The earliest of t and the lapse boundaries of c still after now. */
static int64_t
next_boundary(int64_t t, const struct db_crl *c, int64_t overlap,
    int64_t now)
{
	int64_t	 b[2] = { c->next_update - overlap / 2, c->next_update };
	int	 i;

	for (i = 0; i < 2; i++)
		if (b[i] > now && b[i] < t)
			t = b[i];
	return t;
}

/*
 * One round: publish what is due, or log what lapses. Returns when the
 * next round is due (a time; now after a publication, to plan again) and
 * in *pokes the revocations it has seen.
 */
static int64_t
sched_round(struct ca *ca, unsigned *pokes)
{
	struct crl_schedule *s = ca->sched;
	struct crl_track tr[K__MAX];
	struct crl_times t;
	struct crl_plan	 p;
	struct store	*st;
	int64_t		 now = time_now(), wake;
	int		 k, poked;

	pthread_rwlock_rdlock(&ca->cfg_lock);
	times_get(&ca->cfg, &ca->signer, &t);
	pthread_rwlock_unlock(&ca->cfg_lock);
	pthread_mutex_lock(&s->mu);
	memcpy(tr, s->track, sizeof(tr));
	if (!t.on_revoke)
		s->poked = 0;	/* turned off by a reload */
	poked = s->poked;
	*pokes = s->pokes;
	pthread_mutex_unlock(&s->mu);
	if ((st = ca_reader(ca)) == NULL ||
	    plan_read(st, &t, tr, poked, now, &p) == -1) {
		if (tr[K_BASE].retry_at <= now)
			track_failure(s, K_BASE, "cannot read the CRL table",
			    t.overlap[K_BASE], now);
		return now + backoff_first(t.overlap[K_BASE]);
	}
	for (k = 0; k < K__MAX; k++) {
		if (p.due[k] > now)
			continue;
		if (p.have[k] && crl_future(&p.crl[k], now))
			log_warn("%s CRL number %" PRId64 " is not yet valid: "
			    "its thisUpdate is %" PRId64 " s ahead of the clock "
			    "(was the clock ahead then?): publishing another",
			    kind_names[k], p.crl[k].number,
			    p.crl[k].this_update - now);
		if (publish(ca, k, &t, poked) == -1)
			return now + WAIT_MAX;	/* until ca_stop wakes it */
		return now;
	}
	wake = now + WAIT_MAX;
	for (k = 0; k < K__MAX; k++) {
		if (k == K_DELTA && !t.delta)
			continue;
		lapse_log(s, k, &p, &t, now);
		if (p.due[k] < wake)
			wake = p.due[k];
		if (p.have[k])
			wake = next_boundary(wake, &p.crl[k], t.overlap[k], now);
	}
	return wake;
}

/*
 * The marker (ca.dbid, identity.c) follows the requests too, not only the
 * CRLs: a database that lost its newest requests (its WAL deleted after a
 * crash, an old copy put back) is then refused at the next start instead
 * of handing their ids out again. *last: the request id it names.
 */
static void
marker_follow(struct ca *ca, int64_t *last)
{
	struct store	*st = ca_reader(ca);
	char		 err[512];
	int64_t		 id;
	int		 rc;

	if (st == NULL || store_max_request_id(st, &id) != 0 || id <= *last)
		return;
	pthread_rwlock_rdlock(&ca->cfg_lock);
	rc = ca_identity_write(&ca->cfg, st, err, sizeof(err));
	pthread_rwlock_unlock(&ca->cfg_lock);
	if (rc == 0)
		*last = id;
	else
		log_err("%s", err);
}

static void *
sched_main(void *arg)
{
	struct ca	*ca = arg;
	struct crl_schedule *s = ca->sched;
	struct timespec	 ts;
	int64_t		 wake, ms, marked = 0;
	unsigned	 pokes;

	pthread_mutex_lock(&s->mu);
	while (!s->stop) {
		pthread_mutex_unlock(&s->mu);
		wake = sched_round(ca, &pokes);
		marker_follow(ca, &marked);
		ms = wake * 1000 - (int64_t)time_now_ms();
		if (ms > MARKER_EVERY_MS)
			ms = MARKER_EVERY_MS;
		pthread_mutex_lock(&s->mu);
		if (ms > 0 && !s->stop && s->pokes == pokes) {
			time_deadline_in(&ts, ms);
			pthread_cond_timedwait(&s->cv, &s->mu, &ts);
		}
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

int
ca_start_crl_schedule(struct ca *ca)
{
	struct crl_schedule *s;

	if (ca->sched != NULL)
		return 0;
	if (ca->writer == NULL || (s = calloc(1, sizeof(*s))) == NULL)
		return -1;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	ca->sched = s;
	if (pthread_create(&s->thread, NULL, sched_main, ca) != 0) {
		log_err("cannot start the CRL schedule thread");
		ca->sched = NULL;
		pthread_mutex_destroy(&s->mu);
		pthread_cond_destroy(&s->cv);
		free(s);
		return -1;
	}
	return 0;
}

void
crl_schedule_stop(struct ca *ca)
{
	struct crl_schedule *s = ca->sched;

	if (s == NULL)
		return;
	pthread_mutex_lock(&s->mu);
	s->stop = 1;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
	pthread_join(s->thread, NULL);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	free(s);
	ca->sched = NULL;
}

void
crl_schedule_poke(struct ca *ca)
{
	struct crl_schedule *s = ca->sched;
	int		 on;

	if (s == NULL)
		return;
	pthread_rwlock_rdlock(&ca->cfg_lock);
	on = ca->cfg.crl_on_revoke;
	pthread_rwlock_unlock(&ca->cfg_lock);
	if (!on)
		return;
	pthread_mutex_lock(&s->mu);
	s->poked = 1;
	s->pokes++;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

int
ca_crl_status(struct ca *ca, struct ca_crl_state out[2])
{
	struct crl_schedule *s = ca->sched;
	struct crl_track tr[K__MAX];
	struct crl_times t;
	struct crl_plan	 p;
	struct store	*st;
	int64_t		 now = time_now();
	int		 k, poked = 0;

	memset(out, 0, 2 * sizeof(*out));
	memset(tr, 0, sizeof(tr));
	times_get(&ca->cfg, &ca->signer, &t);
	if (s != NULL) {
		pthread_mutex_lock(&s->mu);
		memcpy(tr, s->track, sizeof(tr));
		poked = s->poked;
		pthread_mutex_unlock(&s->mu);
	}
	if ((st = ca_reader(ca)) == NULL ||
	    plan_read(st, &t, tr, poked, now, &p) == -1)
		return -1;
	for (k = 0; k < K__MAX; k++) {
		out[k].present = p.have[k];
		out[k].crl = p.crl[k];
		if (k == K_DELTA && !t.delta)
			out[k].health = CRL_OFF;
		else if (!p.have[k])
			out[k].health = CRL_MISSING;
		else
			out[k].health = crl_health(&p.crl[k], t.overlap[k], now);
		/* Only a running schedule publishes by itself. */
		if (s != NULL && p.due[k] != INT64_MAX)
			out[k].next_publish = p.due[k];
		out[k].failures = tr[k].failures;
		out[k].fail_time = tr[k].fail_time;
		memcpy(out[k].fail_msg, tr[k].fail_msg, sizeof(out[k].fail_msg));
	}
	return 0;
}
