/*
 * isolate_wire.c - the frames of the module-host protocol (isolate.h):
 *
 *   u32 length of what follows, u8 type, 4 x i64, then twice
 *   u32 length (0xffffffff: absent) and the bytes and a NUL (so that the
 *   reader hands out C strings where they lie).
 *
 * Both ends are ours, on one machine: integers go in host order. A frame
 * over WIRE_MAX, or one whose lengths disagree, ends the channel.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "isolate.h"

#define ABSENT		0xffffffffu
#define HEAD		(4 + 1 + 4 * 8)

void
wire_init(struct wire_chan *c, int fd)
{
	memset(c, 0, sizeof(*c));
	c->fd = fd;
}

void
wire_close(struct wire_chan *c)
{
	if (c->fd != -1)
		close(c->fd);
	free(c->rbuf);
	free(c->wbuf);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

/* Make room for len bytes in *p of capacity *cap. Returns 0 or -1. */
static int
grow(unsigned char **p, size_t *cap, size_t len)
{
	unsigned char	*n;
	size_t		 want = *cap ? *cap : 4096;

	if (len <= *cap)
		return 0;
	while (want < len)
		want *= 2;
	if ((n = realloc(*p, want)) == NULL)
		return -1;
	*p = n;
	*cap = want;
	return 0;
}

static size_t
put(unsigned char *p, const void *v, size_t n)
{
	memcpy(p, v, n);
	return n;
}

static size_t
put_str(unsigned char *p, const void *s, size_t l)
{
	uint32_t	 n = s == NULL ? ABSENT : (uint32_t)l;
	size_t		 o = put(p, &n, 4);

	if (s != NULL) {
		o += put(p + o, s, l);
		p[o++] = '\0';
	}
	return o;
}

int
wire_send(struct wire_chan *c, int type, int64_t i0, int64_t i1, int64_t i2,
    const void *s0, size_t l0, const void *s1, size_t l1)
{
	return wire_send4(c, type, i0, i1, i2, 0, s0, l0, s1, l1);
}

int
wire_send4(struct wire_chan *c, int type, int64_t i0, int64_t i1, int64_t i2,
    int64_t i3, const void *s0, size_t l0, const void *s1, size_t l1)
{
	int64_t		 iv[4] = { i0, i1, i2, i3 };
	size_t		 total = HEAD + 8 + (s0 ? l0 + 1 : 0) + (s1 ? l1 + 1 : 0);
	size_t		 o = 0;
	uint32_t	 len = (uint32_t)(total - 4);
	uint8_t		 t = (uint8_t)type;

	if (total > WIRE_MAX || grow(&c->wbuf, &c->wcap, c->wlen + total) == -1)
		return -1;
	o = c->wlen;
	o += put(c->wbuf + o, &len, 4);
	o += put(c->wbuf + o, &t, 1);
	o += put(c->wbuf + o, iv, sizeof(iv));
	o += put_str(c->wbuf + o, s0, l0);
	o += put_str(c->wbuf + o, s1, l1);
	c->wlen = o;
	if (c->corked)
		return 0;
	return wire_flush(c);
}

void
wire_cork(struct wire_chan *c)
{
	c->corked = 1;
}

int
wire_flush(struct wire_chan *c)
{
	size_t		 o;
	ssize_t		 n;

	c->corked = 0;
	for (o = 0; o < c->wlen; o += (size_t)n) {
		n = send(c->fd, c->wbuf + o, c->wlen - o, MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR) {
			n = 0;
			continue;
		}
		if (n <= 0) {
			c->wlen = 0;
			return -1;
		}
	}
	c->wlen = 0;
	return 0;
}

/*
 * Wait for the fd to be readable until deadline_ns (0: forever). Returns 0,
 * or -2 at the deadline.
 */
static int
wait_readable(int fd, uint64_t deadline_ns)
{
	struct pollfd	 pfd = { fd, POLLIN, 0 };
	uint64_t	 now;
	int		 ms, rc;

	for (;;) {
		ms = -1;
		if (deadline_ns != 0) {
			now = time_mono_ns();
			if (now >= deadline_ns)
				return -2;
			ms = (int)((deadline_ns - now + 999999) / 1000000);
		}
		rc = poll(&pfd, 1, ms);
		if (rc > 0)
			return 0;
		if (rc == -1 && errno != EINTR)
			return 0;	/* the read says what is wrong */
	}
}

/* Have at least need bytes buffered. Returns 0, -1 (gone) or -2. */
static int
fill(struct wire_chan *c, size_t need, uint64_t deadline_ns)
{
	ssize_t		 n;
	int		 rc;

	if (c->roff > 0 && c->roff == c->rlen)
		c->roff = c->rlen = 0;
	if (c->rlen - c->roff >= need)
		return 0;
	if (c->roff > 0) {
		memmove(c->rbuf, c->rbuf + c->roff, c->rlen - c->roff);
		c->rlen -= c->roff;
		c->roff = 0;
	}
	if (grow(&c->rbuf, &c->rcap, need + 1) == -1)
		return -1;
	/* Poll only when there is nothing to read yet: a syscall less. */
	while (c->rlen < need) {
		n = recv(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen,
		    deadline_ns != 0 ? MSG_DONTWAIT : 0);
		if (n > 0) {
			c->rlen += (size_t)n;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if ((rc = wait_readable(c->fd, deadline_ns)) != 0)
				return rc;
			continue;
		}
		return -1;
	}
	return 0;
}

static uint32_t
get_u32(const unsigned char *p)
{
	uint32_t	 v;

	memcpy(&v, p, 4);
	return v;
}

int
wire_recv(struct wire_chan *c, struct wire_msg *m, uint64_t deadline_ns)
{
	unsigned char	*p, *end;
	uint32_t	 len, sl;
	size_t		 k;
	int		 rc;

	if ((rc = fill(c, 4, deadline_ns)) != 0)
		return rc;
	len = get_u32(c->rbuf + c->roff);
	if (len < HEAD - 4 + 8 || len > WIRE_MAX)
		return -1;
	if ((rc = fill(c, 4 + (size_t)len, deadline_ns)) != 0)
		return rc;
	p = c->rbuf + c->roff + 4;
	end = p + len;
	memset(m, 0, sizeof(*m));
	m->type = *p++;
	memcpy(m->i, p, sizeof(m->i));
	p += sizeof(m->i);
	for (k = 0; k < 2; k++) {
		if (end - p < 4)
			return -1;
		sl = get_u32(p);
		p += 4;
		if (sl == ABSENT)
			continue;
		if ((size_t)(end - p) < (size_t)sl + 1 || p[sl] != '\0')
			return -1;
		m->s[k] = (const char *)p;
		m->slen[k] = sl;
		p += sl + 1;
	}
	if (p != end)
		return -1;
	c->roff += 4 + (size_t)len;
	return 0;
}

const char *
wire_signal_name(int sig, char *buf, size_t len)
{
	const char	*abbrev = sigabbrev_np(sig);

	if (abbrev != NULL)
		snprintf(buf, len, "SIG%s", abbrev);
	else
		snprintf(buf, len, "signal %d", sig);
	return buf;
}

void
wire_status_text(int status, char *buf, size_t len)
{
	char	 sig[32];

	if (WIFSIGNALED(status))
		snprintf(buf, len, "module process killed by %s",
		    wire_signal_name(WTERMSIG(status), sig, sizeof(sig)));
	else if (WIFEXITED(status))
		snprintf(buf, len, "module process exited with status %d",
		    WEXITSTATUS(status));
	else
		snprintf(buf, len, "module process ended (status 0x%x)",
		    (unsigned)status);
}

/*
 * Prefetched calls (isolate.h): u8 op, i64 arg, u32 type, name, i32 rc,
 * u32 value type, i64 value, data; name and data as in a frame.
 */
int
wire_pcall_put(unsigned char **buf, size_t *len, size_t *cap,
    const struct wire_pcall *pc)
{
	size_t		 nl = pc->name ? strlen(pc->name) : 0;
	size_t		 need = 1 + 8 + 4 + 4 + nl + 1 + 4 + 4 + 8 + 4 +
			    pc->dlen + 1, o = *len;
	uint8_t		 op = (uint8_t)pc->op;
	int32_t		 rc = pc->rc;

	if (grow(buf, cap, *len + need) == -1)
		return -1;
	o += put(*buf + o, &op, 1);
	o += put(*buf + o, &pc->arg, 8);
	o += put(*buf + o, &pc->type, 4);
	o += put_str(*buf + o, pc->name, nl);
	o += put(*buf + o, &rc, 4);
	o += put(*buf + o, &pc->vtype, 4);
	o += put(*buf + o, &pc->l, 8);
	o += put_str(*buf + o, pc->data, pc->dlen);
	*len = o;
	return 0;
}

/* A string of a prefetch record at *p (before end), or -1. */
static int
get_str(unsigned char **p, unsigned char *end, const char **s, size_t *len)
{
	uint32_t	 n;

	if (end - *p < 4)
		return -1;
	n = get_u32(*p);
	*p += 4;
	*s = NULL;
	*len = 0;
	if (n == ABSENT)
		return 0;
	if ((size_t)(end - *p) < (size_t)n + 1 || (*p)[n] != '\0')
		return -1;
	*s = (const char *)*p;
	*len = n;
	*p += n + 1;
	return 0;
}

int
wire_pcall_parse(unsigned char *buf, size_t len, struct wire_pcall *v,
    size_t max, size_t *n)
{
	unsigned char	*p = buf, *end = buf + len;
	size_t		 nl;
	int32_t		 rc;

	*n = 0;
	while (p < end && *n < max) {
		if (end - p < 1 + 8 + 4)
			return -1;
		memset(&v[*n], 0, sizeof(v[*n]));
		v[*n].op = *p++;
		memcpy(&v[*n].arg, p, 8);
		p += 8;
		memcpy(&v[*n].type, p, 4);
		p += 4;
		if (get_str(&p, end, &v[*n].name, &nl) == -1 ||
		    end - p < 4 + 4 + 8)
			return -1;
		memcpy(&rc, p, 4);
		v[*n].rc = rc;
		p += 4;
		memcpy(&v[*n].vtype, p, 4);
		p += 4;
		memcpy(&v[*n].l, p, 8);
		p += 8;
		if (get_str(&p, end, &v[*n].data, &v[*n].dlen) == -1)
			return -1;
		(*n)++;
	}
	return p == end ? 0 : -1;
}
