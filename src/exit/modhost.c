/*
 * modhost.c - `certmintd --module-host PATH NAME NCHAN USER MEMORY_MB
 * CPU_SECONDS OPEN_FILES PPID`: the process an isolated exit module runs
 * in (isolate.c starts it). fd 3 is the control channel, fds 4.. one
 * channel per delivering thread of the daemon. The module's
 * cm_server_exit is a proxy: each callback is a W_CALL answered by the
 * daemon, whose values are copied into this call's arena (valid until the
 * module's call returns, as in the daemon).
 *
 * Before any module code runs the host leaves the daemon's session,
 * closes every other fd, drops root for USER, dies with the daemon
 * (PR_SET_PDEATHSIG), may not gain privileges again (no_new_privs),
 * splits into its keeper (keeper.c, which reaps and at the end kills
 * whatever the module starts) and the process that loads the module, and
 * takes its limits: RLIMIT_AS, RLIMIT_NOFILE, and a CPU budget per notify.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <unistd.h>

#include "isolate.h"

#define CTL_FD		3

struct arena {
	struct arena *next;
	char	 data[];
};

/* One module call's server object: vt first, the module gets &vt. */
struct proxy {
	cm_server_exit	 vt;
	struct wire_chan *ch;
	struct arena	*arena;
	/* the answers prefetched with this notify (isolate.h) */
	struct wire_pcall pf[WIRE_PREFETCH_MAX];
	size_t		 npf, next;
	int		 diverged;
	unsigned char	*pfbuf;
	size_t		 pfcap;
	/* NOTIFYs of the batch that came while a call waited for its reply */
	struct wire_msg	 q[WIRE_BATCH_MAX];
	size_t		 qhead, qn;
};

static struct exit_module mod;
static int	 serial;
static pthread_mutex_t call_mu = PTHREAD_MUTEX_INITIALIZER;
/* Concurrent modules: notify calls share it, shutdown takes it alone. */
static pthread_rwlock_t calls_rw = PTHREAD_RWLOCK_INITIALIZER;
static int	 cpu_seconds;
static int	 nthreads;		/* that may use CPU: channels + control */
static atomic_ullong cpu_checked_ns;	/* cpu_budget's last look */
static atomic_llong cpu_limit_set;	/* the soft limit it set */

/* Serial modules: one call into the module at a time, across channels. */
static void
module_enter(void)
{
	if (serial)
		pthread_mutex_lock(&call_mu);
	else
		pthread_rwlock_rdlock(&calls_rw);
}

static void
module_leave(void)
{
	if (serial)
		pthread_mutex_unlock(&call_mu);
	else
		pthread_rwlock_unlock(&calls_rw);
}

static char *
arena_copy(struct proxy *p, const char *s, size_t len)
{
	struct arena	*a;

	if ((a = malloc(sizeof(*a) + len + 1)) == NULL)
		return NULL;
	memcpy(a->data, s, len);
	a->data[len] = '\0';
	a->next = p->arena;
	p->arena = a;
	return a->data;
}

static void
arena_free(struct proxy *p)
{
	struct arena	*a;

	while ((a = p->arena) != NULL) {
		p->arena = a->next;
		free(a);
	}
}

/*
 * The prefetched answer to this call, if the module makes the calls it
 * made last time, in order; NULL from the first one that differs on.
 */
static const struct wire_pcall *
prefetched(struct proxy *p, int op, int64_t arg, uint32_t type,
    const char *name)
{
	const struct wire_pcall *e;

	if (p->diverged || p->next >= p->npf)
		goto differs;
	e = &p->pf[p->next];
	if (e->op != op || e->arg != arg || e->type != type ||
	    (e->name == NULL) != (name == NULL) ||
	    (name != NULL && strcmp(e->name, name) != 0))
		goto differs;
	p->next++;
	return e;
differs:
	p->diverged = 1;
	return NULL;
}

/*
 * Ask the daemon; the answer is in m. The daemon gone, the host has no
 * reason to live.
 */
static void
call_remote(struct proxy *p, int op, int64_t arg, uint32_t type,
    const char *name, struct wire_msg *m)
{
	struct wire_msg	*k;

	if (wire_send4(p->ch, W_CALL, op, arg, type, (int64_t)p->next, name,
	    name ? strlen(name) : 0, NULL, 0) == -1)
		_exit(1);
	for (;;) {
		if (wire_recv(p->ch, m, 0) != 0)
			_exit(1);
		if (m->type == W_REPLY)
			return;
		/* The rest of a batch, sent ahead: kept for after this one. */
		if (m->type != W_NOTIFY || p->qn == WIRE_BATCH_MAX)
			_exit(1);
		k = &p->q[(p->qhead + p->qn++) % WIRE_BATCH_MAX];
		*k = *m;
		if (m->s[0] != NULL) {
			if ((k->s[0] = malloc(m->slen[0] + 1)) == NULL)
				_exit(1);
			memcpy((char *)k->s[0], m->s[0], m->slen[0] + 1);
		}
	}
}

/*
 * The next NOTIFY: one kept by call_remote (*owned: its blob is to be
 * freed once proxy_prefetch has copied it), else read. Returns 0 or -1.
 */
static int
next_notify(struct proxy *p, struct wire_msg *m, int *owned)
{
	*owned = p->qn > 0;
	if (p->qn > 0) {
		*m = p->q[p->qhead];
		p->qhead = (p->qhead + 1) % WIRE_BATCH_MAX;
		p->qn--;
		return 0;
	}
	return wire_recv(p->ch, m, 0);
}

/* A call's answer, prefetched or asked for, as a wire_pcall in *r. */
static void
call(struct proxy *p, int op, int64_t arg, uint32_t type, const char *name,
    struct wire_pcall *r)
{
	const struct wire_pcall *e;
	struct wire_msg	 m;

	if (op != OP_LOG && (e = prefetched(p, op, arg, type, name)) != NULL) {
		*r = *e;
		return;
	}
	p->diverged = 1;
	call_remote(p, op, arg, type, name, &m);
	memset(r, 0, sizeof(*r));
	r->rc = (int)m.i[0];
	r->vtype = (uint32_t)m.i[1];
	r->l = m.i[2];
	/* The reply is in the channel's buffer until the next read: copy. */
	if (m.s[0] != NULL) {
		r->data = arena_copy(p, m.s[0], m.slen[0]);
		r->dlen = m.slen[0];
		if (r->data == NULL)
			r->rc = CM_E_NOMEM;
	}
}

static int
value_call(cm_server_exit *srv, int op, const char *name, uint32_t type,
    cm_value *out)
{
	struct wire_pcall r;

	if (out == NULL)
		return CM_E_INVALIDARG;
	call((struct proxy *)srv, op, 0, type, name, &r);
	if (r.rc != CM_OK)
		return r.rc;
	memset(out, 0, sizeof(*out));
	out->type = r.vtype;
	out->l = r.l;
	out->data = r.data;
	out->len = r.data != NULL ? r.dlen : 0;
	return CM_OK;
}

static int
string_call(cm_server_exit *srv, int op, int64_t arg, const char *name,
    const char **out)
{
	struct wire_pcall r;

	if (out == NULL)
		return CM_E_INVALIDARG;
	call((struct proxy *)srv, op, arg, 0, name, &r);
	*out = r.data;
	return r.rc;
}

static int
plain_call(cm_server_exit *srv, int op, int64_t arg)
{
	struct wire_pcall r;

	call((struct proxy *)srv, op, arg, 0, NULL, &r);
	return r.rc;
}

static int
px_set_context(cm_server_exit *srv, int64_t context)
{
	return plain_call(srv, OP_SET_CONTEXT, context);
}

static int
px_get_request_property(cm_server_exit *srv, const char *name, uint32_t type,
    cm_value *out)
{
	return value_call(srv, OP_GET_REQUEST_PROPERTY, name, type, out);
}

static int
px_get_certificate_property(cm_server_exit *srv, const char *name,
    uint32_t type, cm_value *out)
{
	return value_call(srv, OP_GET_CERTIFICATE_PROPERTY, name, type, out);
}

static int
px_get_certificate_extension(cm_server_exit *srv, const char *oid,
    uint32_t type, cm_value *out)
{
	return value_call(srv, OP_GET_CERTIFICATE_EXTENSION, oid, type, out);
}

static int
px_get_request_attribute(cm_server_exit *srv, const char *name,
    const char **value)
{
	return string_call(srv, OP_GET_REQUEST_ATTRIBUTE, 0, name, value);
}

static int
px_get_certificate_extension_flags(cm_server_exit *srv, int32_t *flags)
{
	struct wire_pcall r;

	if (flags == NULL)
		return CM_E_INVALIDARG;
	call((struct proxy *)srv, OP_GET_CERTIFICATE_EXTENSION_FLAGS, 0, 0,
	    NULL, &r);
	if (r.rc == CM_OK)
		*flags = (int32_t)r.l;
	return r.rc;
}

static int
px_enum_ext_setup(cm_server_exit *srv, int32_t flags)
{
	return plain_call(srv, OP_ENUM_EXTENSIONS_SETUP, flags);
}

static int
px_enum_ext_next(cm_server_exit *srv, const char **oid)
{
	return string_call(srv, OP_ENUM_EXTENSIONS, 0, NULL, oid);
}

static int
px_enum_ext_close(cm_server_exit *srv)
{
	return plain_call(srv, OP_ENUM_EXTENSIONS_CLOSE, 0);
}

static int
px_enum_attr_setup(cm_server_exit *srv, int32_t flags)
{
	return plain_call(srv, OP_ENUM_ATTRIBUTES_SETUP, flags);
}

static int
px_enum_attr_next(cm_server_exit *srv, const char **name)
{
	return string_call(srv, OP_ENUM_ATTRIBUTES, 0, NULL, name);
}

static int
px_enum_attr_close(cm_server_exit *srv)
{
	return plain_call(srv, OP_ENUM_ATTRIBUTES_CLOSE, 0);
}

static void
px_log(cm_server_exit *srv, int level, const char *fmt, ...)
{
	struct wire_pcall r;
	char		 msg[1024];
	va_list		 ap;

	if (fmt == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	call((struct proxy *)srv, OP_LOG, level, 0, msg, &r);
}

static int
px_config_get(cm_server_exit *srv, const char *key, const char **value)
{
	return string_call(srv, OP_CONFIG_GET, 0, key, value);
}

/*
 * Take the answers prefetched with a NOTIFY (m's s0, i3 of them): copied,
 * for the reads of the notify reuse the channel's buffer. Returns 0 or -1.
 */
static int
proxy_prefetch(struct proxy *p, const struct wire_msg *m)
{
	unsigned char	*nb;

	p->npf = p->next = 0;
	p->diverged = 0;
	if (m->s[0] == NULL || m->i[3] <= 0)
		return 0;
	if (m->slen[0] > p->pfcap) {
		if ((nb = realloc(p->pfbuf, m->slen[0])) == NULL)
			return -1;
		p->pfbuf = nb;
		p->pfcap = m->slen[0];
	}
	memcpy(p->pfbuf, m->s[0], m->slen[0]);
	return wire_pcall_parse(p->pfbuf, m->slen[0], p->pf, WIRE_PREFETCH_MAX,
	    &p->npf);
}

static void
proxy_init(struct proxy *p, struct wire_chan *ch)
{
	memset(p, 0, sizeof(*p));
	p->vt.size = sizeof(p->vt);
	p->vt.abi_minor = CM_ABI_MINOR;
	p->vt.set_context = px_set_context;
	p->vt.get_request_property = px_get_request_property;
	p->vt.get_request_attribute = px_get_request_attribute;
	p->vt.get_certificate_property = px_get_certificate_property;
	p->vt.get_certificate_extension = px_get_certificate_extension;
	p->vt.get_certificate_extension_flags =
	    px_get_certificate_extension_flags;
	p->vt.enumerate_extensions_setup = px_enum_ext_setup;
	p->vt.enumerate_extensions = px_enum_ext_next;
	p->vt.enumerate_extensions_close = px_enum_ext_close;
	p->vt.enumerate_attributes_setup = px_enum_attr_setup;
	p->vt.enumerate_attributes = px_enum_attr_next;
	p->vt.enumerate_attributes_close = px_enum_attr_close;
	p->vt.log = px_log;
	p->vt.config_get = px_config_get;
	p->ch = ch;
}

/*
 * The CPU budget of one notify: the soft RLIMIT_CPU at the CPU time used
 * so far plus cpu_seconds (SIGXCPU ends the host beyond it), so that a
 * long-lived host is not killed for the total of its life.
 */
static void
cpu_budget(void)
{
	struct rusage	 ru;
	struct rlimit	 rl;
	uint64_t	 now = time_mono_ns();
	long long	 want;

	/*
	 * The limit is in whole seconds and was set a second above the time
	 * used then: until nthreads could have used that second, every
	 * notify still has cpu_seconds. Three syscalls an event otherwise.
	 */
	if (cpu_seconds <= 0 || (now - atomic_load(&cpu_checked_ns)) *
	    (uint64_t)nthreads < 1000000000ull)
		return;
	atomic_store(&cpu_checked_ns, now);
	if (getrusage(RUSAGE_SELF, &ru) == -1)
		return;
	want = (long long)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + 1 +
	    cpu_seconds;
	if (atomic_exchange(&cpu_limit_set, want) == want ||
	    getrlimit(RLIMIT_CPU, &rl) == -1)
		return;
	rl.rlim_cur = (rlim_t)want;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_cur > rl.rlim_max)
		rl.rlim_cur = rl.rlim_max;
	(void)setrlimit(RLIMIT_CPU, &rl);
}

/* A delivering thread: NOTIFY in, NOTIFY_DONE out, until the daemon goes. */
static void *
notify_main(void *arg)
{
	struct wire_chan *ch = arg;
	struct wire_msg	 m;
	struct proxy	 p;
	void		*altstack = quarantine_thread_init();
	int		 rc, skipping = 0, last, owned;

	proxy_init(&p, ch);
	for (;;) {
		if (next_notify(&p, &m, &owned) != 0 || m.type != W_NOTIFY ||
		    proxy_prefetch(&p, &m) == -1)
			_exit(0);
		if (owned)
			free((char *)m.s[0]);
		/* After a failure the rest of the batch is not run (isolate.h). */
		last = (m.i[0] >> 32) & 1;
		if (skipping) {
			skipping = !last;
			if (wire_send(ch, W_NOTIFY_DONE, CM_E_FAIL, 0, 1, NULL, 0,
			    NULL, 0) == -1)
				_exit(0);
			continue;
		}
		cpu_budget();
		quarantine_cur.module = mod.name;
		quarantine_cur.seq = m.i[2];
		module_enter();
		rc = exit_notify_rc(mod.desc->notify(mod.state,
		    (int32_t)(m.i[0] & 0xffffffff), m.i[1], &p.vt));
		skipping = rc != CM_OK && !last;
		module_leave();
		quarantine_cur.module = NULL;
		arena_free(&p);
		if (wire_send(ch, W_NOTIFY_DONE, rc, (int64_t)p.next, 0, NULL, 0,
		    NULL, 0) == -1)
			_exit(0);
	}
	quarantine_thread_done(altstack);
	return NULL;
}

static const cm_manage_module *
manage(void)
{
	const cm_manage_module *m;

	if (mod.desc->get_manage_module == NULL)
		return NULL;
	m = mod.desc->get_manage_module(mod.state);
	if (m == NULL || m->size < sizeof(uint32_t) + sizeof(void *) ||
	    m->get_property == NULL)
		return NULL;
	return m;
}

static int
manage_flags(const cm_manage_module *m)
{
	int	 f = 0;

	if (m == NULL)
		return 0;
	f |= WIRE_MANAGE_GET;
	if (m->size >= offsetof(cm_manage_module, set_property) +
	    sizeof(void *) && m->set_property != NULL)
		f |= WIRE_MANAGE_SET;
	if (m->size >= sizeof(*m) && m->configure != NULL)
		f |= WIRE_MANAGE_CONFIGURE;
	return f;
}

/* initialize; answers W_INIT_DONE. */
static int
do_init(struct wire_chan *ctl, const char *config)
{
	static char	*name;
	struct proxy	 p;
	const char	*desc;
	int		 rc, f = 0;

	/*
	 * A copy, kept: config points into ctl's buffer, which the module's
	 * own srv calls during initialize read their answers into. Kept past
	 * the call too, as inline, where it is the CA's config.
	 */
	free(name);
	if ((name = strdup(config ? config : "")) == NULL)
		return -1;
	proxy_init(&p, ctl);
	module_enter();
	rc = mod.desc->initialize(name, &p.vt, &mod.state, &mod.mask);
	arena_free(&p);
	if (rc == CM_OK) {
		mod.initialized = 1;
		f = manage_flags(manage());
	}
	desc = rc == CM_OK ? mod.desc->get_description(mod.state) : NULL;
	module_leave();
	return wire_send(ctl, W_INIT_DONE, rc, mod.mask, f, desc ? desc : "",
	    desc ? strlen(desc) : 0, NULL, 0);
}

/* The control channel: everything but notify. Returns at SHUTDOWN. */
static void
control_loop(struct wire_chan *ctl, struct wire_chan *chans, int nchan)
{
	const cm_manage_module *mm;
	struct wire_msg	 m;
	struct proxy	 p;
	pthread_t	 t;
	cm_value	 v;
	char		*report;
	size_t		 len;
	int		 i, rc, started = 0;

	/* A crash in initialize or the manage module is the module's too. */
	quarantine_cur.module = mod.name;
	quarantine_cur.seq = 0;
	for (;;) {
		if (wire_recv(ctl, &m, 0) != 0)
			_exit(0);
		switch (m.type) {
		case W_INIT:
			if (do_init(ctl, m.s[0]) == -1)
				_exit(0);
			if (started || !mod.initialized)
				break;
			/* A serial module gets one channel, read by one thread. */
			for (i = 0; i < (serial ? 1 : nchan); i++)
				if (pthread_create(&t, NULL, notify_main,
				    &chans[i]) == 0)
					pthread_detach(t);
			started = 1;
			break;
		case W_PROP:
			memset(&v, 0, sizeof(v));
			module_enter();
			mm = manage();
			rc = mm != NULL && m.s[0] != NULL ? mm->get_property(
			    mod.state, m.s[0], 0, &v) : CM_E_UNSUPPORTED;
			if (rc == CM_OK && (v.type != CM_PROPTYPE_STRING ||
			    v.data == NULL))
				rc = CM_E_TYPE;
			rc = wire_send(ctl, W_PROP_DONE, rc, 0, 0, rc == CM_OK ?
			    v.data : NULL, rc == CM_OK ? strlen(v.data) : 0,
			    NULL, 0);
			module_leave();
			if (rc == -1)
				_exit(0);
			break;
		case W_SET:
			memset(&v, 0, sizeof(v));
			v.type = CM_PROPTYPE_STRING;
			v.data = m.s[1] ? m.s[1] : "";
			v.len = m.s[1] ? m.slen[1] : 0;
			module_enter();
			mm = manage();
			rc = (manage_flags(mm) & WIRE_MANAGE_SET) && m.s[0] ?
			    mm->set_property(mod.state, m.s[0], 0, &v) :
			    CM_E_UNSUPPORTED;
			module_leave();
			if (wire_send(ctl, W_SET_DONE, rc, 0, 0, NULL, 0, NULL,
			    0) == -1)
				_exit(0);
			break;
		case W_CONFIGURE:
			len = m.i[1] > 0 && m.i[1] < 65536 ? (size_t)m.i[1] : 4096;
			report = calloc(1, len);
			proxy_init(&p, ctl);
			module_enter();
			mm = manage();
			rc = report != NULL && (manage_flags(mm) &
			    WIRE_MANAGE_CONFIGURE) ? mm->configure(mod.state,
			    &p.vt, (int32_t)m.i[0], report, len) :
			    CM_E_UNSUPPORTED;
			module_leave();
			arena_free(&p);
			if (report != NULL)
				report[len - 1] = '\0';
			rc = wire_send(ctl, W_CONFIGURE_DONE, rc, 0, 0, report,
			    report ? strlen(report) : 0, NULL, 0);
			free(report);
			if (rc == -1)
				_exit(0);
			break;
		case W_SHUTDOWN:
			/*
			 * Alone: a concurrent module's notify threads are idle
			 * by now (the parent waited for each answer), but only
			 * a lock they took tells so to the memory model, and
			 * shutdown frees what their calls wrote.
			 */
			pthread_rwlock_wrlock(&calls_rw);
			if (serial)
				pthread_mutex_lock(&call_mu);
			if (mod.initialized && mod.desc->shutdown != NULL)
				mod.desc->shutdown(mod.state);
			mod.initialized = 0;
			if (serial)
				pthread_mutex_unlock(&call_mu);
			pthread_rwlock_unlock(&calls_rw);
			(void)wire_send(ctl, W_SHUTDOWN_DONE, 0, 0, 0, NULL, 0,
			    NULL, 0);
			return;
		default:
			_exit(1);
		}
	}
}

/*
 * Become user (when root), keeping fd. Returns 0 or -1 with err.
 */
static int
drop_privileges(const char *user, char *err, size_t errlen)
{
	struct passwd	*pw;

	if (geteuid() != 0 || strcmp(user, "root") == 0)
		return 0;
	if ((pw = getpwnam(user)) == NULL) {
		snprintf(err, errlen, "[exit.%s] user: no user \"%s\"",
		    mod.name ? mod.name : "?", user);
		return -1;
	}
	if (setgroups(0, NULL) == -1 || setgid(pw->pw_gid) == -1 ||
	    setuid(pw->pw_uid) == -1) {
		snprintf(err, errlen, "cannot become %s: %s", user,
		    strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * The address space limit: memory_mb. A sanitizer build reserves terabytes
 * of shadow memory before main: there the limit is memory_mb beyond what
 * is mapped now.
 */
static void
limit_memory(int memory_mb)
{
	struct rlimit	 rl;
	rlim_t		 base = 0;

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
	FILE		*f;
	unsigned long	 pages;

	if ((f = fopen("/proc/self/statm", "r")) != NULL) {
		if (fscanf(f, "%lu", &pages) == 1)
			base = (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE);
		fclose(f);
	}
#endif
	if (memory_mb <= 0)
		return;
	rl.rlim_cur = rl.rlim_max = base + (rlim_t)memory_mb * 1024 * 1024;
	(void)setrlimit(RLIMIT_AS, &rl);
}

static int
arg_int(const char *s)
{
	int64_t	 v;

	return parse_int64(s, &v) == 0 && v >= 0 && v < 1 << 30 ? (int)v : 0;
}

int
modhost_main(int argc, char **argv)
{
	struct wire_chan ctl, *chans;
	struct rlimit	 rl;
	const char	*path, *name, *user;
	char		 err[1024], prog[200];
	int		 nchan, memory_mb, open_files, i, fd;
	pid_t		 ppid;

	if (argc != 10) {
		fprintf(stderr, "certmintd --module-host: started by certmintd "
		    "only\n");
		return 2;
	}
	path = argv[2];
	name = argv[3];
	nchan = arg_int(argv[4]);
	user = argv[5];
	memory_mb = arg_int(argv[6]);
	cpu_seconds = arg_int(argv[7]);
	open_files = arg_int(argv[8]);
	ppid = (pid_t)arg_int(argv[9]);
	snprintf(prog, sizeof(prog), "certmintd[%s]", name);
	log_init(prog, CM_LOG_INFO);
	/* certmintd reads our stdout and stderr, and dates and names lines. */
	log_set_bare(1);
	if (nchan < 1 || nchan > 64)
		return 2;
	/* Nothing of the daemon's but our channels and stdio. */
	closefrom(CTL_FD + 1 + nchan);
	(void)setsid();
	wire_init(&ctl, CTL_FD);
	chans = xcalloc((size_t)nchan, sizeof(*chans));
	for (i = 0; i < nchan; i++)
		wire_init(&chans[i], CTL_FD + 1 + i);
	mod.name = (char *)name;
	err[0] = '\0';
	/* Opened as the daemon's user: the CA's directory may be closed to USER. */
	if ((fd = file_open_regular(path, O_RDONLY, 0)) == -1)
		snprintf(err, sizeof(err), "%s: %s", path,
		    file_strerror(errno));
	else if (drop_privileges(user, err, sizeof(err)) == 0) {
		/* setuid made us undumpable: /proc/self/fd would be root's. */
		(void)prctl(PR_SET_DUMPABLE, 1);
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 || getppid() != ppid)
			_exit(0);	/* the daemon is gone already */
		(void)prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	}
	/* From here on, this is the keeper's child (keeper.c). */
	if (err[0] == '\0' && keeper_start(ppid, err, sizeof(err)) == 0) {
		/* A crash line as a bare log line: "error: exit module ..." */
		quarantine_install(-1, "error");
		mod.name = NULL;
		if (exit_module_open_fd(fd, path, name, &mod, err,
		    sizeof(err)) == 0)
			log_info("runs as %s", geteuid() == 0 ? "root" :
			    user);
	}
	if (fd != -1)
		close(fd);
	if (err[0] != '\0') {
		(void)wire_send(&ctl, W_HELLO, 0, 0, 0, NULL, 0, err, strlen(err));
		_exit(1);
	}
	limit_memory(memory_mb);
	if (open_files > 0) {
		rl.rlim_cur = rl.rlim_max = (rlim_t)open_files;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	serial = mod.desc->threading == CM_THREADING_SERIAL;
	nthreads = (serial ? 1 : nchan) + 1;
	if (wire_send(&ctl, W_HELLO, mod.desc->threading, 0, 0, mod.name,
	    strlen(mod.name), NULL, 0) == -1)
		_exit(0);
	control_loop(&ctl, chans, nchan);
	/* The module is shut down; its threads wait on channels that close now. */
	_exit(0);
}
