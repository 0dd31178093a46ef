/*
 * writer.c - the single writer thread. Callers queue jobs and sleep; the
 * writer takes every queued job, applies them in one transaction, commits
 * (one fsync for the whole batch) and wakes the callers, each on its own
 * condition variable (a broadcast would wake every waiting thread for every
 * batch, most of them to sleep again). A job that fails
 * on its own (a conflict) does not hold up the batch; a hard failure rolls
 * the batch back and replays its jobs one transaction each, so that only
 * the failing job fails.
 *
 * The writer also checkpoints the WAL (docs/design.md, Storage): PASSIVE
 * once it holds CKPT_PAGES frames, RESTART (waiting a bounded time for
 * readers) at twice that, and TRUNCATE after CKPT_IDLE_MS without work.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ca.h"

#define BATCH_MAX	4096

/*
 * Checkpoint policy. CKPT_PAGES is SQLite's own automatic threshold, so a
 * busy CA checkpoints as often as before. Past 2 * CKPT_PAGES the writer
 * waits up to CKPT_BUSY_MS for readers (the daemon's hold a snapshot for
 * one statement) so that the WAL restarts. Each failed wait doubles the
 * next one, up to CKPT_BUSY_MAX_MS, and the frames written before it, up
 * to CKPT_GAP_MAX pages: readers that run back to back are outwaited, and
 * one that keeps its snapshot for good costs issuance at most
 * CKPT_BUSY_MAX_MS per CKPT_GAP_MAX pages. After a restart the file is cut
 * back to WAL_KEEP_BYTES; once idle it is emptied.
 */
#define CKPT_PAGES	1000
#define CKPT_BUSY_MS	20
#define CKPT_BUSY_MAX_MS 80
#define CKPT_GAP_MAX	(8 * CKPT_PAGES)
#define CKPT_IDLE_MS	1000
#define WAL_KEEP_BYTES	(2 * CKPT_PAGES * 4096)
/*
 * Below LOW_SPACE_BYTES free (twice what the WAL may reach before its
 * RESTART), the WAL is emptied each LOW_CHECK_FRAMES frames.
 */
#define LOW_SPACE_BYTES	(2 * WAL_KEEP_BYTES)
#define LOW_CHECK_FRAMES 64

struct writer {
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv_work;
	struct wjob	*head;
	struct wjob	**tail;
	int		 stop;
	pthread_t	 thread;
	struct store	*st;
	ca_commit_hook	 hook;		/* after each commit that wrote events */
	void		*hook_arg;
	int64_t		 ckpt_at;	/* WAL frames that call for a checkpoint */
	uint64_t	 full_try;	/* the next try to empty a WAL, disk full */
	int64_t		 space_checked;	/* WAL frames at the last statvfs */
	int64_t		 ckpt_gap;	/* frames to the next try after a failure */
	int		 ckpt_busy_ms;	/* the next RESTART's wait for readers */
	atomic_int_fast64_t batches, jobs, cpu_ns;
};

static int64_t
thread_cpu_ns(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int
is_soft(int rc)
{
	return rc == STORE_E_CONFLICT || rc == CM_E_NOTFOUND;
}

/*
 * Apply one job inside the open transaction. A soft error is returned
 * before anything is written; max_seq is raised for each event written.
 */
static int
job_apply(struct store *st, struct wjob *j, int64_t *max_seq)
{
	struct db_event	 ev = { 0 };
	int		 rc = 0;

	switch (j->kind) {
	case WJOB_INSERT:
		rc = store_request_insert(st, j->req);
		ev.context = j->req->id;
		break;
	case WJOB_UPDATE:
		/*
		 * A revocation is dated in the transaction that writes it: a
		 * CRL whose snapshot does not have it has no thisUpdate after
		 * its date (one taken before the queue once did, by seconds).
		 */
		if (j->stamp_revoked) {
			int64_t	 t = time_now();

			if (j->req->revoked_effective_when ==
			    j->req->revoked_when)
				j->req->revoked_effective_when = t;
			j->req->revoked_when = t;
		}
		rc = store_request_update(st, j->req, j->expect);
		ev.context = j->req->id;
		break;
	case WJOB_CRL:
		rc = store_crl_insert(st, j->crl);
		ev.crl_row_id = j->crl->row_id;
		break;
	case WJOB_EVENT:
		ev.context = j->context;
		break;
	case WJOB_FUNC:
		return j->fn(st, j->fn_arg);
	default:
		return CM_E_INVALIDARG;
	}
	if (rc != 0)
		return rc;
	if (j->cert != NULL && (rc = store_cert_insert(st, j->cert)) != 0)
		return rc;
	if (j->kind == WJOB_INSERT && j->also != NULL && (rc =
	    j->also->fn(st, j->also->arg, j->req, j->cert)) != 0)
		return rc == STORE_E_CONFLICT || rc == CM_E_NOTFOUND ?
		    CM_E_FAIL : rc;	/* written already: not a soft error */
	if (j->event != 0) {
		ev.event = j->event;
		ev.time = time_now();
		if ((rc = store_event_insert(st, &ev)) != 0)
			return rc;
		if (ev.seq > *max_seq)
			*max_seq = ev.seq;
	}
	return 0;
}

/*
 * Apply a batch in one transaction. Returns 0 when committed (each job's rc
 * set), -1 when the batch must be replayed job by job.
 */
static int
batch_apply(struct store *st, struct wjob *batch, int64_t *max_seq)
{
	struct wjob	*j;
	int64_t		 seq = 0;

	if (store_begin(st) != 0)
		return -1;
	for (j = batch; j != NULL; j = j->next) {
		j->rc = job_apply(st, j, &seq);
		if (j->rc != 0 && !is_soft(j->rc)) {
			store_rollback(st);
			return -1;
		}
	}
	if (store_commit(st) != 0) {
		store_rollback(st);
		return -1;
	}
	if (seq > *max_seq)
		*max_seq = seq;
	return 0;
}

static void
batch_replay(struct store *st, struct wjob *batch, int64_t *max_seq)
{
	struct wjob	*j;
	int64_t		 seq;

	for (j = batch; j != NULL; j = j->next) {
		seq = 0;
		if ((j->rc = store_begin(st)) != 0)
			continue;
		j->rc = job_apply(st, j, &seq);
		if (j->rc == 0 && (j->rc = store_commit(st)) == 0) {
			if (seq > *max_seq)
				*max_seq = seq;
			continue;
		}
		store_rollback(st);
	}
}

/* The checkpoint succeeded: back to the plain policy. */
static void
ckpt_reset(struct writer *w)
{
	w->ckpt_at = CKPT_PAGES;
	w->ckpt_gap = CKPT_PAGES;
	w->ckpt_busy_ms = CKPT_BUSY_MS;
}

/*
 * After a commit: checkpoint when the WAL has reached w->ckpt_at frames.
 * SQLite only rewrites the WAL from its start when every frame has been
 * copied back and no reader uses it, so a PASSIVE checkpoint that a reader
 * held back lets it grow: from 2 * CKPT_PAGES the writer waits for readers
 * (RESTART), briefly, and longer, less often, each time they win.
 */
static void
wal_after_commit(struct writer *w)
{
	int64_t	 n = store_wal_frames(w->st);

	if (n < w->ckpt_at)
		return;
	if (n < 2 * CKPT_PAGES) {
		if (store_checkpoint(w->st, STORE_CKPT_PASSIVE, 0) == 0)
			ckpt_reset(w);
		else
			w->ckpt_at = 2 * CKPT_PAGES;
		return;
	}
	if (store_checkpoint(w->st, STORE_CKPT_RESTART, w->ckpt_busy_ms) == 0) {
		ckpt_reset(w);
		return;
	}
	w->ckpt_at = n + w->ckpt_gap;
	if (w->ckpt_gap < CKPT_GAP_MAX)
		w->ckpt_gap *= 2;
	if (w->ckpt_busy_ms < CKPT_BUSY_MAX_MS)
		w->ckpt_busy_ms *= 2;
}

/*
 * Is the disk short of the space the WAL would take before its next
 * checkpoint, or did a write fail for space? The WAL holds space that
 * the database file needs to take its frames back: grown into the last
 * of it, no checkpoint could ever run again, and freeing the space the
 * disk lacked must not leave it to grow into it once more. Asked after a
 * write failed for space and each LOW_CHECK_FRAMES frames (a statvfs).
 */
static int
low_space(struct writer *w)
{
	int64_t	 n = store_wal_frames(w->st), avail;

	if (store_disk_full(w->st))
		return time_mono_ns() >= w->full_try;
	if (n < w->space_checked + LOW_CHECK_FRAMES) {
		if (n < w->space_checked)
			w->space_checked = n;	/* emptied meanwhile */
		return 0;
	}
	w->space_checked = n;
	avail = store_free_bytes(w->st);
	return avail >= 0 && avail < LOW_SPACE_BYTES;
}

/* Empty the WAL now (low_space); while the disk stays full, every 100 ms. */
static void
wal_empty_now(struct writer *w)
{
	int	 full = store_disk_full(w->st);

	w->full_try = time_mono_ns() + 100000000u;
	if (store_checkpoint(w->st, STORE_CKPT_TRUNCATE, CKPT_BUSY_MS) != 0)
		return;
	ckpt_reset(w);
	w->space_checked = 0;
	if (full)
		log_info("the WAL is emptied after a lack of space: writes go "
		    "on normally");
}

/*
 * Wait for work with w->mu held. While the WAL holds frames, a wait that
 * lasts CKPT_IDLE_MS empties it (TRUNCATE), so that an idle CA keeps its
 * data in the database file alone and gives the WAL's space back; a
 * reader in the way makes it try again after the next idle period. A job
 * that comes meanwhile waits for the copy, and at most CKPT_BUSY_MAX_MS
 * for readers.
 */
static void
wait_work(struct writer *w)
{
	struct timespec	 ts;

	if (store_wal_frames(w->st) == 0) {
		pthread_cond_wait(&w->cv_work, &w->mu);
		return;
	}
	time_deadline_in(&ts, CKPT_IDLE_MS);
	if (pthread_cond_timedwait(&w->cv_work, &w->mu, &ts) != ETIMEDOUT ||
	    w->head != NULL || w->stop)
		return;
	pthread_mutex_unlock(&w->mu);
	if (store_checkpoint(w->st, STORE_CKPT_TRUNCATE, CKPT_BUSY_MAX_MS) == 0)
		ckpt_reset(w);
	pthread_mutex_lock(&w->mu);
}

static void *
writer_main(void *arg)
{
	struct writer	*w = arg;
	struct wjob	*batch, *j, *last, *waiters;
	int64_t		 max_seq, t0;
	int		 n;

	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (w->head == NULL && !w->stop)
			wait_work(w);
		if (w->head == NULL)
			break;
		/* Take up to BATCH_MAX jobs off the queue. */
		batch = last = w->head;
		for (n = 1; n < BATCH_MAX && last->next != NULL; n++)
			last = last->next;
		w->head = last->next;
		if (w->head == NULL)
			w->tail = &w->head;
		last->next = NULL;
		pthread_mutex_unlock(&w->mu);

		max_seq = 0;
		t0 = thread_cpu_ns();
		if (batch_apply(w->st, batch, &max_seq) == -1)
			batch_replay(w->st, batch, &max_seq);
		atomic_fetch_add(&w->cpu_ns, thread_cpu_ns() - t0);
		atomic_fetch_add(&w->batches, 1);
		atomic_fetch_add(&w->jobs, n);
		/* Tell the dispatcher before waking clients: events first. */
		if (max_seq > 0 && w->hook != NULL)
			w->hook(w->hook_arg, max_seq);

		/*
		 * Callers of writer_submit first, outside the lock; a job may
		 * be freed as soon as its callback returns.
		 */
		for (j = batch, waiters = NULL; j != NULL; j = last) {
			last = j->next;
			if (j->done != NULL)
				j->done(j->done_arg);
			else {
				j->next = waiters;	/* woken below */
				waiters = j;
			}
		}
		pthread_mutex_lock(&w->mu);
		for (j = waiters; j != NULL; j = last) {
			last = j->next;		/* j may be gone once done */
			j->finished = 1;
			pthread_cond_signal(&j->cv);
		}
		/* Callers are answered: a checkpoint delays only the next batch. */
		if (low_space(w)) {
			pthread_mutex_unlock(&w->mu);
			wal_empty_now(w);
			pthread_mutex_lock(&w->mu);
		} else if (store_wal_frames(w->st) >= w->ckpt_at) {
			pthread_mutex_unlock(&w->mu);
			wal_after_commit(w);
			pthread_mutex_lock(&w->mu);
		}
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/*
 * Start the writer on st (which it owns from now on). hook(hook_arg, seq)
 * is called after each commit that wrote events, seq the newest.
 */
struct writer *
writer_start(struct store *st, ca_commit_hook hook, void *hook_arg)
{
	struct writer	*w;

	if ((w = calloc(1, sizeof(*w))) == NULL)
		return NULL;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv_work, NULL);
	w->tail = &w->head;
	w->st = st;
	w->hook = hook;
	w->hook_arg = hook_arg;
	ckpt_reset(w);
	if (store_wal_manual(st, WAL_KEEP_BYTES) == -1) {
		free(w);
		return NULL;
	}
	if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
		free(w);
		return NULL;
	}
	return w;
}

int
writer_run(struct writer *w, struct wjob *j)
{
	j->done = NULL;
	j->finished = 0;
	j->next = NULL;
	j->rc = CM_E_FAIL;
	pthread_cond_init(&j->cv, NULL);
	pthread_mutex_lock(&w->mu);
	if (w->stop) {
		pthread_mutex_unlock(&w->mu);
		pthread_cond_destroy(&j->cv);
		return CM_E_FAIL;
	}
	*w->tail = j;
	w->tail = &j->next;
	pthread_cond_signal(&w->cv_work);
	while (!j->finished)
		pthread_cond_wait(&j->cv, &w->mu);
	pthread_mutex_unlock(&w->mu);
	pthread_cond_destroy(&j->cv);
	return j->rc;
}

int
writer_submit(struct writer *w, struct wjob *j)
{
	j->next = NULL;
	j->rc = CM_E_FAIL;
	pthread_mutex_lock(&w->mu);
	if (w->stop) {
		pthread_mutex_unlock(&w->mu);
		return -1;
	}
	*w->tail = j;
	w->tail = &j->next;
	pthread_cond_signal(&w->cv_work);
	pthread_mutex_unlock(&w->mu);
	return 0;
}

void
writer_timing(struct writer *w, int64_t *batches, int64_t *jobs,
    int64_t *cpu_ns)
{
	*batches = atomic_load(&w->batches);
	*jobs = atomic_load(&w->jobs);
	*cpu_ns = atomic_load(&w->cpu_ns);
}

int
writer_apply(struct store *st, struct wjob *j)
{
	int64_t	 seq = 0;

	if ((j->rc = store_begin(st)) != 0)
		return j->rc;
	if ((j->rc = job_apply(st, j, &seq)) == 0 &&
	    (j->rc = store_commit(st)) == 0)
		return 0;
	store_rollback(st);
	return j->rc;
}

/*
 * Finish the queued jobs, then stop the thread. The store is not closed.
 */
void
writer_stop(struct writer *w)
{
	if (w == NULL)
		return;
	pthread_mutex_lock(&w->mu);
	w->stop = 1;
	pthread_cond_signal(&w->cv_work);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv_work);
	free(w);
}
