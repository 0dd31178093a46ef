/*
 * wait.c - answers held for a validation: a challenge POST whose answer
 * waits until the validation's result is committed, at most [acme]
 * challenge_wait_ms, so that it says "valid" or "invalid" at once
 * instead of "processing" (lego then finalizes without polling). The
 * connection is suspended meanwhile (src/server/acme_http.c): no thread
 * waits. A wait is resumed exactly once: by the result (acme_wait_done),
 * by its deadline (a timer thread), or at stop (acme_wait_flush).
 *
 * A wait is listed (in a->waits) from before its validation is handed to
 * the pool until it is resumed; the acme side never touches it after
 * that, the connection's side frees it (acme_wait_answer/acme_wait_drop).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "acme_int.h"

struct acme_wait {
	int64_t		 chall_id;
	const struct acme_endpoint *ep;
	struct acme_dirs *dirs;		/* held for ep, set by acme_handle */
	uint64_t	 deadline;	/* CLOCK_MONOTONIC ns */
	int		 done;		/* the result is committed */
	int		 armed;
	int		 listed;
	void		(*resume)(void *);
	void		*arg;
	struct acme_wait *next;
};

/* Unlist w (a->wait_mu held). */
static void
unlist(struct acme *a, struct acme_wait *w)
{
	struct acme_wait **pp;

	for (pp = &a->waits; *pp != NULL; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	w->listed = 0;
	w->next = NULL;
}

/*
 * Take w off the list for resuming (a->wait_mu held); its callback goes
 * onto *due, to be called once the lock is dropped.
 */
static void
take(struct acme *a, struct acme_wait *w, struct acme_wait **due)
{
	unlist(a, w);
	w->next = *due;
	*due = w;
}

/*
 * Resume the waits on due (a->wait_mu not held). A wait may be freed as
 * soon as its callback returns, so its fields are read before.
 */
static void
resume_all(struct acme_wait *due)
{
	struct acme_wait *next;
	void		(*fn)(void *);
	void		*arg;

	for (; due != NULL; due = next) {
		next = due->next;
		fn = due->resume;
		arg = due->arg;
		due->next = NULL;
		fn(arg);
	}
}

static void *
timer_main(void *arg)
{
	struct acme	*a = arg;
	struct acme_wait *w, *next, *due;
	struct timespec	 ts;
	uint64_t	 now, first;

	pthread_mutex_lock(&a->wait_mu);
	while (!a->wait_stop) {
		now = time_mono_ns();
		due = NULL;
		first = 0;
		for (w = a->waits; w != NULL; w = next) {
			next = w->next;
			if (!w->armed)
				continue;
			if (w->deadline <= now)
				take(a, w, &due);
			else if (first == 0 || w->deadline < first)
				first = w->deadline;
		}
		if (due != NULL) {
			pthread_mutex_unlock(&a->wait_mu);
			resume_all(due);
			pthread_mutex_lock(&a->wait_mu);
			continue;
		}
		a->wait_next = first;
		if (first == 0) {
			pthread_cond_wait(&a->wait_cv, &a->wait_mu);
			continue;
		}
		ts.tv_sec = (time_t)(first / 1000000000u);
		ts.tv_nsec = (long)(first % 1000000000u);
		pthread_cond_timedwait(&a->wait_cv, &a->wait_mu, &ts);
	}
	pthread_mutex_unlock(&a->wait_mu);
	return NULL;
}

int
acme_waits_start(struct acme *a, char *err, size_t errlen)
{
	pthread_condattr_t ca;
	int		 rc;

	pthread_mutex_init(&a->wait_mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&a->wait_cv, &ca);
	pthread_condattr_destroy(&ca);
	a->wait_inited = 1;
	if ((rc = pthread_create(&a->wait_thread, NULL, timer_main, a)) != 0) {
		snprintf(err, errlen, "acme: cannot start the wait timer: %s",
		    strerror(rc));
		return -1;
	}
	a->wait_running = 1;
	return 0;
}

void
acme_waits_stop(struct acme *a)
{
	struct acme_wait *w, *due = NULL;

	if (!a->wait_inited)
		return;
	acme_wait_flush(a);
	pthread_mutex_lock(&a->wait_mu);
	a->wait_stop = 1;
	pthread_cond_signal(&a->wait_cv);
	/* Never armed (a caller that did not suspend): nobody frees them. */
	while (a->waits != NULL)
		take(a, a->waits, &due);
	pthread_mutex_unlock(&a->wait_mu);
	if (a->wait_running)
		pthread_join(a->wait_thread, NULL);
	while ((w = due) != NULL) {
		due = w->next;
		if (w->dirs != NULL)
			acme_dirs_release(a, w->dirs);
		free(w);
	}
	pthread_cond_destroy(&a->wait_cv);
	pthread_mutex_destroy(&a->wait_mu);
	a->wait_inited = 0;
}

struct acme_wait *
acme_wait_new(struct acme *a, const struct acme_endpoint *ep,
    int64_t chall_id, int ms)
{
	struct acme_wait *w;

	if ((w = calloc(1, sizeof(*w))) == NULL)
		return NULL;
	w->chall_id = chall_id;
	w->ep = ep;
	w->deadline = time_mono_ns() + (uint64_t)ms * 1000000u;
	pthread_mutex_lock(&a->wait_mu);
	w->listed = 1;
	w->next = a->waits;
	a->waits = w;
	pthread_mutex_unlock(&a->wait_mu);
	return w;
}

void
acme_wait_done(struct acme *a, int64_t chall_id)
{
	struct acme_wait *w, *next, *due = NULL;

	pthread_mutex_lock(&a->wait_mu);
	for (w = a->waits; w != NULL; w = next) {
		next = w->next;
		if (w->chall_id != chall_id)
			continue;
		w->done = 1;
		if (w->armed)
			take(a, w, &due);
	}
	pthread_mutex_unlock(&a->wait_mu);
	resume_all(due);
}

void
acme_wait_arm(struct acme *a, struct acme_wait *w, void (*resume)(void *),
    void *arg)
{
	struct acme_wait *due = NULL;

	pthread_mutex_lock(&a->wait_mu);
	w->armed = 1;
	w->resume = resume;
	w->arg = arg;
	if (w->done || a->wait_flushing)
		take(a, w, &due);
	else if (a->wait_next == 0 || w->deadline < a->wait_next)
		pthread_cond_signal(&a->wait_cv);	/* the timer's next */
	pthread_mutex_unlock(&a->wait_mu);
	resume_all(due);
}

void
acme_wait_flush(struct acme *a)
{
	struct acme_wait *w, *next, *due = NULL;

	if (a == NULL || !a->wait_inited)
		return;
	pthread_mutex_lock(&a->wait_mu);
	a->wait_flushing = 1;
	for (w = a->waits; w != NULL; w = next) {
		next = w->next;
		if (w->armed)
			take(a, w, &due);
	}
	pthread_mutex_unlock(&a->wait_mu);
	resume_all(due);
}

int64_t
acme_wait_chall(const struct acme_wait *w, const struct acme_endpoint **ep,
    struct acme_dirs **dirs)
{
	*ep = w->ep;
	*dirs = w->dirs;
	return w->chall_id;
}

void
acme_wait_set_dirs(struct acme_wait *w, struct acme_dirs *d)
{
	w->dirs = d;
}

void
acme_wait_drop(struct acme *a, struct acme_wait *w)
{
	if (w == NULL)
		return;
	pthread_mutex_lock(&a->wait_mu);
	if (w->listed)
		unlist(a, w);
	pthread_mutex_unlock(&a->wait_mu);
	if (w->dirs != NULL)
		acme_dirs_release(a, w->dirs);
	free(w);
}
