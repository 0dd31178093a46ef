/*
 * writer.c - the single writer thread. Callers queue jobs and sleep; the
 * writer takes every queued job, applies them in one transaction, commits
 * (one fsync for the whole batch) and wakes the callers, each on its own
 * condition variable (a broadcast would wake every waiting thread for every
 * batch, most of them to sleep again). A job that fails
 * on its own (a conflict) does not hold up the batch; a hard failure rolls
 * the batch back and replays its jobs one transaction each, so that only
 * the failing job fails.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ca.h"

#define BATCH_MAX	4096

struct writer {
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv_work;
	struct wjob	*head;
	struct wjob	**tail;
	int		 stop;
	pthread_t	 thread;
	struct store	*st;
	ca_commit_hook	*hook;		/* owned by the CA, may change */
	void		**hook_arg;
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
			pthread_cond_wait(&w->cv_work, &w->mu);
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
		if (max_seq > 0 && *w->hook != NULL)
			(*w->hook)(*w->hook_arg, max_seq);

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
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/*
 * Start the writer on st (which it owns from now on). hook/hook_arg point
 * at the CA's commit hook so that it can be set after the start.
 */
struct writer *
writer_start(struct store *st, ca_commit_hook *hook, void **hook_arg)
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
