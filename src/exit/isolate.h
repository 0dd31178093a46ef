/*
 * isolate.h - exit modules in a host process of their own: the framed
 * socketpair protocol between certmintd and `certmintd --module-host`
 * (isolate_wire.c), the daemon's side (isolate.c) and the host's
 * (modhost.c). docs/exit-modules.md, "Isolation", says what it is for.
 *
 * Every message has one shape: a type, four integers and two byte
 * strings (either may be absent). The daemon asks (INIT, NOTIFY, SET,
 * CONFIGURE, SHUTDOWN); while the module runs, the host asks back with
 * CALL (a cm_server_exit callback) and the daemon answers with REPLY,
 * until the host sends the answer to the first question.
 *
 * A NOTIFY carries the answers to the calls the module made in its last
 * notify of the same event (up to WIRE_PREFETCH_MAX, up to its first log
 * call), made by the daemon beforehand: a module that makes the same
 * calls again gets them without a message each way. The first call that
 * differs goes to the daemon with the number of answers used before it;
 * the daemon then makes its server object again and repeats only those
 * calls, so that the module sees exactly what it would have without
 * prefetching.
 *
 * A serial module's events go in batches: up to WIRE_BATCH_MAX NOTIFYs
 * are sent before the first answer is read, the host running them back to
 * back and answering each. After one that does not return CM_OK it runs
 * none of the rest of the batch (answered "not run"), so that a retry
 * keeps the module's order; a host that dies does so in the event whose
 * answer is missing.
 */
#ifndef CM_ISOLATE_H
#define CM_ISOLATE_H

#include <stdint.h>
#include <stddef.h>

#include "exit_host.h"

enum wire_type {
	W_HELLO = 1,	/* host: s0 name, i0 threading; or s1 a load error */
	W_INIT,		/* daemon: s0 the CA's config string */
	W_INIT_DONE,	/* host: i0 rc, i1 mask, i2 manage flags, s0 description */
	W_PROP,		/* daemon: s0 manage property name */
	W_PROP_DONE,	/* host: i0 rc, s0 value (a STRING) */
	W_NOTIFY,	/* daemon: i0 event (bit 32: last of a batch), i1
			   context, i2 seq, i3 calls in s0 */
	W_NOTIFY_DONE,	/* host: i0 rc, i1 prefetched calls used, i2 1: not
			   run (an earlier event of the batch failed) */
	W_SET,		/* daemon: s0 property, s1 value */
	W_SET_DONE,	/* host: i0 rc */
	W_CONFIGURE,	/* daemon: i0 flags, i1 report size */
	W_CONFIGURE_DONE, /* host: i0 rc, s0 report */
	W_SHUTDOWN,	/* daemon: call shutdown and exit */
	W_SHUTDOWN_DONE,
	W_CALL,		/* host: i0 op, i1 argument, i2 type, i3 prefetched
			   calls used before it; s0 name */
	W_REPLY,	/* daemon: i0 rc, i1 value type, i2 value; s0 data */
	W__MAX
};

/* W_CALL operations: the members of cm_server_exit. */
enum wire_op {
	OP_SET_CONTEXT,
	OP_GET_REQUEST_PROPERTY,
	OP_GET_REQUEST_ATTRIBUTE,
	OP_GET_CERTIFICATE_PROPERTY,
	OP_GET_CERTIFICATE_EXTENSION,
	OP_GET_CERTIFICATE_EXTENSION_FLAGS,
	OP_ENUM_EXTENSIONS_SETUP,
	OP_ENUM_EXTENSIONS,
	OP_ENUM_EXTENSIONS_CLOSE,
	OP_ENUM_ATTRIBUTES_SETUP,
	OP_ENUM_ATTRIBUTES,
	OP_ENUM_ATTRIBUTES_CLOSE,
	OP_LOG,
	OP_CONFIG_GET,
	OP__MAX
};

/* W_INIT_DONE i2: which manage-module entry points the module has. */
#define WIRE_MANAGE_GET		0x1
#define WIRE_MANAGE_SET		0x2
#define WIRE_MANAGE_CONFIGURE	0x4

#define WIRE_MAX	(64u << 20)	/* the largest frame either side takes */
#define WIRE_PREFETCH_MAX 16		/* calls prefetched with a NOTIFY */
#define WIRE_BATCH_MAX	32		/* NOTIFYs sent before an answer */

/* A server call and its answer, prefetched with a NOTIFY. */
struct wire_pcall {
	int		 op;		/* OP_* */
	int64_t		 arg;
	uint32_t	 type;
	const char	*name;		/* NULL: none */
	int		 rc;
	uint32_t	 vtype;		/* the answer's cm_value */
	int64_t		 l;		/* its value; the flags of OP_GET_..._FLAGS */
	const char	*data;		/* NUL-terminated; NULL: none */
	size_t		 dlen;
};

struct wire_msg {
	int		 type;
	int64_t		 i[4];
	const char	*s[2];		/* NUL-terminated; NULL when absent */
	size_t		 slen[2];
};

/* One end of a socketpair, with its read buffer. */
struct wire_chan {
	int		 fd;
	unsigned char	*rbuf;
	size_t		 roff, rlen, rcap;
	unsigned char	*wbuf;
	size_t		 wcap;
	size_t		 wlen;		/* corked: bytes waiting in wbuf */
	int		 corked;
};

void	 wire_init(struct wire_chan *, int fd);
/*
 * Cork: later sends wait in the buffer until wire_flush, which sends them
 * in one write (a batch of NOTIFYs costs one system call and one wakeup of
 * the host rather than one each). wire_flush uncorks; 0 or -1.
 */
void	 wire_cork(struct wire_chan *);
int	 wire_flush(struct wire_chan *);
void	 wire_close(struct wire_chan *);	/* closes the fd too */
/*
 * Send one message. s0/s1 may be NULL (absent). Returns 0, or -1 when the
 * peer is gone.
 */
int	 wire_send(struct wire_chan *, int type, int64_t i0, int64_t i1,
	    int64_t i2, const void *s0, size_t l0, const void *s1, size_t l1);
int	 wire_send4(struct wire_chan *, int type, int64_t i0, int64_t i1,
	    int64_t i2, int64_t i3, const void *s0, size_t l0, const void *s1,
	    size_t l1);
/* Append one prefetched call to *buf. Returns 0 or -1. */
int	 wire_pcall_put(unsigned char **buf, size_t *len, size_t *cap,
	    const struct wire_pcall *);
/* Parse len bytes of them into v (at most max; pointers into buf). */
int	 wire_pcall_parse(unsigned char *buf, size_t len, struct wire_pcall *v,
	    size_t max, size_t *n);
/*
 * Read one message into m; its strings point into the channel's buffer,
 * valid until the next wire_recv. deadline_ns is a time_mono_ns() time,
 * 0 for none. Returns 0, -1 when the peer is gone or sent garbage, -2 at
 * the deadline.
 */
int	 wire_recv(struct wire_chan *, struct wire_msg *, uint64_t deadline_ns);

/* "killed by SIGSEGV" and such, for a wait status. */
void	 wire_status_text(int status, char *buf, size_t len);
/* "SIGSEGV" for a signal number; "signal N" if unnamed. */
const char *wire_signal_name(int sig, char *buf, size_t len);

/*
 * isolate.c and isolate_call.c, the daemon's side: what a delivering
 * channel has learnt, and one notify's prefetch state.
 */
#define SCRIPT_EVENTS	11	/* one script per event bit (and none) */

/* A call a module made in notify, to prefetch next time (isolate.h). */
struct script_call {
	int		 op;
	int64_t		 arg;
	int		 arg_context;	/* set_context(the notify's context) */
	uint32_t	 type;
	char		 name[128];
	int		 has_name;
};

struct script {
	size_t		 n;
	struct script_call v[WIRE_PREFETCH_MAX];
};

/* A delivering channel's learned scripts; its thread's alone. */
struct chan_state {
	struct script	 scripts[SCRIPT_EVENTS];
	struct script	 rec;		/* this notify's calls */
	int		 rec_done;	/* a log call or too many: no more */
	unsigned char	*blob;
	size_t		 bloblen, blobcap;
	struct notify_state *batch;	/* WIRE_BATCH_MAX */
};

/* One notify's prefetch state, while the daemon serves it. */
struct notify_state {
	struct chan_state *cs;
	const struct script *sc;	/* script, or the channel's */
	struct script	 script;	/* as at its prefetch (a batch) */
	int64_t		 context;
	size_t		 executed;	/* calls prefetched */
	int		 remote;	/* the module made a call of its own */
};

/*
 * Serve the host's calls on c with call until a message of type want (in
 * m); ns (NULL: none) is the notify's prefetch state. Returns 0, -1 when
 * the host is gone or spoke out of turn, -2 at the deadline.
 */
int	 serve_ns(struct wire_chan *c, struct exit_call *call, int want,
	    struct wire_msg *m, uint64_t deadline, struct notify_state *ns);
int	 serve(struct wire_chan *c, struct exit_call *call, int want,
	    struct wire_msg *m, uint64_t deadline);
size_t	 script_index(int32_t event);	/* the script slot of an event bit */
/* Make the calls of ns's script on call, into cs->blob; how many. */
size_t	 prefetch(struct chan_state *cs, struct notify_state *ns,
	    struct exit_call *call);
/* After the notify's answer m: the calls it made, for its next one. */
void	 learn(struct chan_state *cs, struct notify_state *ns, int32_t event,
	    const struct wire_msg *m);

/* modhost.c: `certmintd --module-host ...` (argv as isolate.c builds it). */
int	 modhost_main(int argc, char **argv);
/* keeper.c: the host's first process (0 in the other, -1 with err) */
int	 keeper_start(pid_t ppid, char *err, size_t errlen);

/*
 * hostout.c: a host's stdout and stderr into the daemon's log (prefixed,
 * escaped, limited). hostout_new makes the pipe and its reader thread;
 * *wfd is the write end, for the child's fds 1 and 2 (the caller closes
 * it after the fork). NULL when it cannot: the host then writes to the
 * daemon's stderr. hostout_release lets go of it, first waiting up to
 * wait_ms for the end of its output (every writer gone).
 */
struct hostout;
struct hostout *hostout_new(const char *module, int *wfd);
void	 hostout_set_pid(struct hostout *, pid_t);
void	 hostout_release(struct hostout *, int wait_ms);

#endif /* CM_ISOLATE_H */
