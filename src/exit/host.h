/*
 * host.h - what the files of the exit-module host share (not for use
 * outside src/exit): the module slots, the host, and the functions one
 * file calls in another. dispatch.c delivers events to a slot, collect.c
 * reads them for it, host.c holds the host's settings and wakes its
 * threads, slots.c loads, starts, reloads and stops the slots, views.c
 * answers the admin views and actions (docs/exit-modules.md).
 */
#ifndef CM_EXIT_HOST_INT_H
#define CM_EXIT_HOST_INT_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <jansson.h>

#include "exit_host.h"
#include "isolate.h"

#define BATCH		1024	/* events read and handed out at a time */
#define STOP_GRACE_MS	1000	/* a notify under way at the stop deadline */
#define START_LOAD_WAIT_MS 5000	/* the start waits so long for modules to load */
#define POOL_MAX	16
#define MARKS		1024	/* recent commits, for commit-to-notify latency */
#define LATENCIES	4096	/* latency samples kept per module */
#define LAT_EVERY	16	/* sample the latency of one event in LAT_EVERY, */
#define LAT_GAP_NS	10000000 /* and any 10 ms after the last sample */
#define MANAGE_WAIT_MS	2000	/* exit set/configure: a busy serial module */
#define CURSOR_SAVE_MS	200	/* save a moving cursor at most this often */
#define CRASHES_MAX	256	/* crashes remembered per module */
#define BATCH_NS	20000000u	/* an isolated serial batch takes about */

/* deliver_once's results besides the module's own. */
#define DELIVER_CRASHED	INT_MIN		/* the host died or was killed */
#define DELIVER_NOSTART	(INT_MIN + 1)	/* the host could not start again */
#define DELIVER_STOPPED	(INT_MIN + 2)	/* stopping: nothing was called */
#define DELIVER_NONE	(INT_MIN + 3)	/* ahead_take: no result ready */

/* The result of an event an isolated serial module's host ran ahead. */
struct ahead_res {
	int64_t		 seq;
	int		 rc;		/* the module's, or DELIVER_CRASHED */
	int		 death;
	char		 cause[200];
	char		 why[200];	/* its last error logged (exit_call.why) */
};

/* A crash of the module on an event (quarantine). */
struct crash_rec {
	int64_t		 seq;		/* 0: no event (a failed restart) */
	int64_t		 time;
	int		 counted;	/* counts for the suspension */
	char		 cause[160];
};

/*
 * A commit that wrote events up to seq, at ns (monotonic). Written by the
 * writer thread alone and read without a lock: seq is -1 while the mark is
 * being rewritten (host.c, commit_time).
 */
struct commit_mark {
	_Atomic int64_t	 seq;
	_Atomic uint64_t ns;
};

struct exit_slot;
struct collect;

/*
 * A delivering thread's notify under way (dispatch.c, notify_begin): for
 * the stop (in), `exit list` and the watchdog, which says in the log when
 * one has run past [exit] deadline_ms (an inline module's cannot be cut
 * short; an isolated one's host is killed at the deadline).
 */
struct notify_mark {
	atomic_int	 in;		/* inside notify */
	_Atomic uint64_t since;		/* time_mono_ns() it began */
	_Atomic int64_t	 seq;		/* the event's */
	atomic_int	 event;
	atomic_int	 warned;	/* the watchdog said it is late */
};

/* A concurrent module's worker: takes events of the current batch by index. */
struct pool_worker {
	struct exit_slot *slot;
	pthread_t	 thread;
	struct notify_mark notify;	/* see notify_mark */
};

struct exit_slot {
	struct exit_host *host;
	char		*name;
	int		 order;		/* its place in [exit] active, at start */
	struct exit_module mod;
	int		 loaded;
	char		 load_error[512];
	char		 reload_error[512];	/* a script's refused reload */
	pthread_t	 thread;
	int		 running;
	int		 stop;
	atomic_int	 exited;	/* its thread is done (slot_join) */
	atomic_int	 abort;		/* hand out no more events: unload, deadline */
	atomic_int	 stopping;	/* stop set: no more giving way to issuance */
	atomic_uint_fast64_t yield_ns;	/* time given way to issuance */
	struct notify_mark notify;	/* its own thread's */
	atomic_int	 abandoned;	/* left in notify at the stop deadline */
	int64_t		 cursor;	/* last event handled */
	int64_t		 saved;		/* cursor as last written */
	int64_t		 replay_from;	/* > 0: a replay was asked for */
	int		 replay_dead;
	atomic_int_fast64_t delivered;	/* read without h->mu */
	int64_t		 failures, dead_lettered;
	uint64_t	 saved_ns;	/* when the cursor was last written */
	char		 last_error[256];
	int64_t		 last_error_time;
	uint32_t	 lat_us[LATENCIES];	/* commit to notify return, ring */
	uint64_t	 lat_n;
	_Atomic uint64_t lat_last_ns;	/* when the last sample was taken */
	pthread_mutex_t	 call_mu;	/* serial modules: one call at a time */
	/*
	 * The batch being delivered (dispatch.c, struct collect), with the
	 * requests of its events read at once before (reqs_read_ahead):
	 * read-only while it runs. req_unread: no notify of the last batch
	 * read a request, so the next one's are not read ahead.
	 */
	const struct collect *cur;
	atomic_int	 req_unread;
	/*
	 * A serial module's backlog: the next batch is read by this thread
	 * while the slot's delivers the current one (collect.c, reader_main).
	 * rd_state: RD_IDLE, RD_JOB (read the events after rd_after into
	 * rd_c), RD_DONE, RD_QUIT; rd_mu guards them.
	 */
	pthread_t	 rd_thread;
	int		 rd_running;
	pthread_mutex_t	 rd_mu;
	pthread_cond_t	 rd_cv;
	int		 rd_state;
	int64_t		 rd_after;
	struct collect	*rd_c;
	/* concurrent pool */
	int		 nworkers;
	struct pool_worker workers[POOL_MAX];
	struct db_event	*batch;
	size_t		 batch_n, batch_next, batch_done;
	int		 batch_gen;
	int		 batch_short;	/* an event of the batch was not handled */
	int		 pool_stop;
	pthread_mutex_t	 pool_mu;	/* the batch fields and pool_stop */
	pthread_cond_t	 pool_cv;
	/* isolation and crash quarantine (docs/exit-modules.md) */
	int		 isolated;	/* in its host process (isolate.c) */
	struct modproc	*proc;
	int		 threading;	/* CM_THREADING_* */
	char		*description;	/* as at load: views never call in */
	char		*props[5];	/* manage-module strings, as at load */
	struct crash_rec *crashes;	/* h->mu; oldest first */
	size_t		 ncrashes;
	atomic_int	 has_crashes;	/* ncrashes > 0, read without h->mu */
	int		 last_death;	/* host counted last (concurrent) */
	atomic_int	 suspended;
	char		 suspend_reason[256];	/* h->mu */
	int64_t		 suspended_since;
	/*
	 * Keys `exit set` saved while the module was suspended and its host
	 * stopped, unchecked: its initialize reads them at `exit resume`.
	 * h->mu; ", "-separated.
	 */
	char		 unchecked[256];
	/*
	 * An isolated serial module's batch (notify_isolated_batch): the
	 * events after the one being delivered, and the results of those
	 * its host ran in the same batch, taken by their deliver in turn.
	 * The slot's thread's alone.
	 */
	const struct db_event *look_v;
	size_t		 look_n;
	struct ahead_res *ahead;	/* WIRE_BATCH_MAX */
	size_t		 nahead, ahead_next;
	struct exit_call *bcalls;	/* WIRE_BATCH_MAX */
	size_t		 batch_max;	/* events a batch may take now */
	struct exit_slot *next;
	struct exit_slot *pending_next;	/* a reload's new list */
};

struct exit_host {
	struct ca	*ca;
	pthread_mutex_t	 list_mu;	/* the slot list: reload against admin views */
	pthread_mutex_t	 mu;
	/*
	 * The writer publishes commits without a lock (host_on_commit): a
	 * nice-19 delivery thread holding mu must never hold up the writer.
	 * last_seq and the marks are atomics; slot threads sleep on the futex
	 * word wake_gen, which every wake (a commit, a stop, a replay, a
	 * resume) moves: host_wake and host_wait.
	 */
	_Atomic int64_t	 last_seq;	/* newest committed event */
	struct commit_mark marks[MARKS];	/* ring */
	_Atomic uint64_t nmarks;
	atomic_uint	 wake_gen;
	atomic_int	 nwaiting;	/* threads in host_wait */
	int		 stopping;
	int64_t		 drain_deadline;	/* mono_seconds() */
	struct exit_slot *slots;
	/* Settings: rewritten by a reload while module threads read them. */
	atomic_int	 max_attempts;
	atomic_int	 backoff_initial_ms;
	atomic_int	 backoff_max_ms;
	atomic_int	 deadline_ms;
	atomic_int	 pool_threads;
	atomic_int	 stop_deadline_ms;
	atomic_int	 crash_attempts;
	atomic_int	 suspend_after;
	atomic_int	 crash_window_s;
	atomic_int	 nice;		/* added to delivery threads' */
	atomic_int	 yield_ms;	/* deliveries give way to issuance */
	atomic_int	 yield_above;	/* ... while more submissions are under way */
	char		*modules_dir;
	pthread_mutex_t	 reload_mu;	/* one reload at a time */
	/*
	 * At start each module loads in a thread of its own (slots.c,
	 * start_loader), so that one slow to load (a hanging initialize)
	 * keeps neither the CA nor the other modules waiting. A module first
	 * seen then starts after start_seq, the newest event before the
	 * start: it gets STARTUP however late it loads.
	 */
	int64_t		 start_seq;
	pthread_mutex_t	 load_mu;
	pthread_cond_t	 load_cv;
	int		 loading;	/* loader threads still loading */
	pthread_t	*loaders;	/* to join (loaders_join) */
	size_t		 nloaders;
	int		 crash_fd;	/* inline crashes (quarantine.c) */
	/* the watchdog (slots.c): notifies past their deadline */
	pthread_t	 dog;
	int		 dog_running, dog_stop;
	pthread_cond_t	 dog_cv;	/* under mu */
};

/*
 * A batch of events read from the database, and the requests of those in
 * the module's mask (pre, of ids pre_ids[0..pre.n), when read ahead).
 */
struct collect {
	struct db_event	 v[BATCH];
	size_t		 n;
	struct db_event	 mine[BATCH];	/* pool_start: those in the mask */
	struct db_requests pre;
	int64_t		*pre_ids;
};
/* collect.c: reading a slot's events (dispatch.c delivers them). */
/* The event as s's module gets it: its bit for the mask, its context. */
void	event_for_slot(struct exit_slot *s, const struct db_event *stored,
	    struct db_event *ev, int64_t *context);
/* The request of context read with the current batch's, or NULL. */
const struct db_request *collect_prefetched(struct exit_slot *s,
	    int64_t context);
/* Read the events after seq into c, and their requests ahead. */
void	collect_read(struct exit_slot *s, struct store *st, int64_t after,
	    struct collect *c);
void	collect_clear(struct collect *c);
/* Have the reader thread read the batch after seq into c: 1, or 0. */
int	reader_start(struct exit_slot *s, int64_t after, struct collect *c);
void	reader_wait(struct exit_slot *s);
void	reader_stop(struct exit_slot *s);

/* Shared between dispatch.c, host.c, slots.c and views.c. */
/* The manage-module properties views show (Name, ..., Product Version). */
extern const char *const manage_props[5];
/* quarantine.c: a module's crashes, the poison and suspension rules. */
int	crash_add_locked(struct exit_slot *s, const struct crash_rec *c);
void	crash_record(struct exit_slot *s, int64_t seq, const char *cause,
	    int counted);
int	crash_count(struct exit_slot *s, int64_t seq, char *cause, size_t len);
void	host_on_commit(void *arg, int64_t seq);
void	host_wake(struct exit_host *h);
/* Sleep until a host_wake after gen, or ms; h->mu held, and again after. */
void	host_wait(struct exit_host *h, unsigned gen, int64_t ms);
/* When event seq committed (monotonic ns), 0 when not known. */
uint64_t	commit_time(struct exit_host *h, int64_t seq);
void	host_settings(struct exit_host *h);
void	latency_json(struct exit_slot *s, json_t *o);
struct notify_mark *slot_late_notify(struct exit_slot *s, uint64_t now,
	    uint64_t *ms);
uint64_t	mono_deadline_in(int64_t ms);
int64_t	mono_seconds(void);
void	*pool_main(void *arg);
void	replay_dead(struct exit_slot *s, struct store *st);
void	save_cursor(struct exit_slot *s, int now);
void	*slot_main(void *arg);
void	suspend_now(struct exit_slot *s);
int	write_crash(struct store *st, void *arg);
int	write_resume(struct store *st, void *arg);
const cm_manage_module	*slot_manage(struct exit_slot *s);

#endif /* CM_EXIT_HOST_INT_H */
