/*
 * isolate_call.c - the daemon's answers to an isolated module's server
 * calls (isolate.h): each made on a real struct exit_call, and the calls a
 * module made in its last notify of an event, learnt per channel and
 * made beforehand for its next one (prefetch), with the way back when the
 * module calls otherwise (diverge).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "isolate.h"

/*
 * Make one server call on call, its answer in *r (pointers borrowed from
 * call until exit_call_reset). OP_LOG logs.
 */
static void
do_call(struct exit_call *call, int op, int64_t arg, uint32_t type,
    const char *name, struct wire_pcall *r)
{
	cm_server_exit	*vt = &call->vt;
	const char	*str = NULL;
	cm_value	 v;
	int32_t		 flags = 0;

	memset(&v, 0, sizeof(v));
	memset(r, 0, sizeof(*r));
	r->op = op;
	r->arg = arg;
	r->type = type;
	r->name = name;
	switch (op) {
	case OP_SET_CONTEXT:
		r->rc = vt->set_context(vt, arg);
		return;
	case OP_GET_REQUEST_PROPERTY:
		r->rc = vt->get_request_property(vt, name, type, &v);
		break;
	case OP_GET_CERTIFICATE_PROPERTY:
		r->rc = vt->get_certificate_property(vt, name, type, &v);
		break;
	case OP_GET_CERTIFICATE_EXTENSION:
		r->rc = vt->get_certificate_extension(vt, name, type, &v);
		break;
	case OP_GET_REQUEST_ATTRIBUTE:
		r->rc = vt->get_request_attribute(vt, name, &str);
		goto string;
	case OP_GET_CERTIFICATE_EXTENSION_FLAGS:
		r->rc = vt->get_certificate_extension_flags(vt, &flags);
		r->l = flags;
		return;
	case OP_ENUM_EXTENSIONS_SETUP:
		r->rc = vt->enumerate_extensions_setup(vt, (int32_t)arg);
		return;
	case OP_ENUM_EXTENSIONS:
		r->rc = vt->enumerate_extensions(vt, &str);
		goto string;
	case OP_ENUM_EXTENSIONS_CLOSE:
		r->rc = vt->enumerate_extensions_close(vt);
		return;
	case OP_ENUM_ATTRIBUTES_SETUP:
		r->rc = vt->enumerate_attributes_setup(vt, (int32_t)arg);
		return;
	case OP_ENUM_ATTRIBUTES:
		r->rc = vt->enumerate_attributes(vt, &str);
		goto string;
	case OP_ENUM_ATTRIBUTES_CLOSE:
		r->rc = vt->enumerate_attributes_close(vt);
		return;
	case OP_LOG:
		if (name != NULL)
			vt->log(vt, (int)arg, "%s", name);
		r->rc = CM_OK;
		return;
	case OP_CONFIG_GET:
		r->rc = vt->config_get(vt, name, &str);
		goto string;
	default:
		r->rc = CM_E_UNSUPPORTED;
		return;
	}
	/* A cm_value. */
	r->vtype = v.type;
	r->l = v.l;
	if (r->rc == CM_OK && v.data != NULL) {
		r->data = v.data;
		r->dlen = v.len;
	} else if (r->rc == CM_OK && v.type != CM_PROPTYPE_LONG &&
	    v.type != CM_PROPTYPE_DATE) {
		r->data = "";
		r->dlen = 0;
	}
	return;
string:
	r->data = str;
	r->dlen = str ? strlen(str) : 0;
}

/* The script call of the server call m: to learn; 0, or -1 if unfit. */
static int
script_call_of(const struct wire_msg *m, int64_t context,
    struct script_call *sc)
{
	memset(sc, 0, sizeof(*sc));
	if (m->i[0] == OP_LOG || (m->s[0] != NULL &&
	    m->slen[0] >= sizeof(sc->name)))
		return -1;
	sc->op = (int)m->i[0];
	sc->arg = m->i[1];
	sc->arg_context = sc->op == OP_SET_CONTEXT && m->i[1] == context;
	sc->type = (uint32_t)m->i[2];
	if ((sc->has_name = m->s[0] != NULL))
		memcpy(sc->name, m->s[0], m->slen[0] + 1);
	return 0;
}

/* Record a call the module made in this notify, for its next one. */
static void
record(struct notify_state *ns, const struct script_call *sc)
{
	struct chan_state *cs = ns->cs;

	if (cs->rec_done)
		return;
	if (sc == NULL || cs->rec.n == WIRE_PREFETCH_MAX) {
		cs->rec_done = 1;
		return;
	}
	cs->rec.v[cs->rec.n++] = *sc;
}

/* Make script call i of ns on call; its answer in *r. */
static void
run_script_call(struct exit_call *call, struct notify_state *ns, size_t i,
    struct wire_pcall *r)
{
	const struct script_call *sc = &ns->sc->v[i];

	do_call(call, sc->op, sc->arg_context ? ns->context : sc->arg,
	    sc->type, sc->has_name ? sc->name : NULL, r);
}

/*
 * The module made a call of its own after k prefetched answers: if it
 * used fewer than were made, make the server object again as it was
 * after those k, so that this call sees what it would have.
 */
static void
diverge(struct exit_call *call, struct notify_state *ns, size_t k)
{
	struct exit_call fresh;
	struct wire_pcall r;
	size_t		 i;

	ns->remote = 1;
	for (i = 0; i < k && i < ns->executed; i++)
		record(ns, &ns->sc->v[i]);
	if (k >= ns->executed)
		return;
	exit_call_init(&fresh, call->ca, call->module, call->ev);
	exit_call_reset(call);
	*call = fresh;
	for (i = 0; i < k; i++)
		run_script_call(call, ns, i, &r);
}

/*
 * Answer one W_CALL from the host with the real server callbacks of call.
 * Returns 0, or -1 when the reply cannot be sent.
 */
static int
answer(struct wire_chan *c, struct exit_call *call, const struct wire_msg *m,
    struct notify_state *ns)
{
	struct script_call sc;
	struct wire_pcall r;

	if (ns != NULL) {
		if (!ns->remote)
			diverge(call, ns, m->i[3] > 0 ? (size_t)m->i[3] : 0);
		record(ns, script_call_of(m, ns->context, &sc) == 0 ? &sc :
		    NULL);
	}
	do_call(call, (int)m->i[0], m->i[1], (uint32_t)m->i[2], m->s[0], &r);
	return wire_send(c, W_REPLY, r.rc, r.vtype, r.l, r.data, r.dlen, NULL,
	    0);
}

/*
 * Serve the host's calls on c until a message of type want arrives (in m).
 * Returns 0, -1 when the host is gone or spoke out of turn, -2 at the
 * deadline.
 */
int
serve_ns(struct wire_chan *c, struct exit_call *call, int want,
    struct wire_msg *m, uint64_t deadline, struct notify_state *ns)
{
	int	 rc;

	for (;;) {
		if ((rc = wire_recv(c, m, deadline)) != 0)
			return rc;
		if (m->type == want)
			return 0;
		if (m->type != W_CALL || call == NULL)
			return -1;
		if (answer(c, call, m, ns) == -1)
			return -1;
	}
}

int
serve(struct wire_chan *c, struct exit_call *call, int want,
    struct wire_msg *m, uint64_t deadline)
{
	return serve_ns(c, call, want, m, deadline, NULL);
}

/* The script slot of an event bit. */
size_t
script_index(int32_t event)
{
	size_t	 i;

	for (i = 0; i + 1 < SCRIPT_EVENTS; i++)
		if (event == (1 << i))
			return i;
	return SCRIPT_EVENTS - 1;
}

/*
 * Make the calls of the channel's script for this event on call, into
 * cs->blob. Returns how many.
 */
size_t
prefetch(struct chan_state *cs, struct notify_state *ns,
    struct exit_call *call)
{
	struct wire_pcall r;
	size_t		 i;

	cs->bloblen = 0;
	for (i = 0; i < ns->sc->n; i++) {
		run_script_call(call, ns, i, &r);
		if (wire_pcall_put(&cs->blob, &cs->bloblen, &cs->blobcap,
		    &r) == -1)
			break;
	}
	return i;
}

/* Learn the calls the module made in this notify, for its next one. */
void
learn(struct chan_state *cs, struct notify_state *ns, int32_t event,
    const struct wire_msg *m)
{
	size_t	 i, used;

	if (!ns->remote) {
		used = m->i[1] > 0 ? (size_t)m->i[1] : 0;
		for (i = 0; i < used && i < ns->executed; i++)
			record(ns, &ns->sc->v[i]);
	}
	cs->scripts[script_index(event)] = cs->rec;
}
