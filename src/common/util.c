/*
 * util.c - hex, base64, time, files, paths and strings.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

/*
 * Lowercase hex of len bytes; NULL when out of memory.
 */
char *
hex_encode(const unsigned char *p, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	char	*s;
	size_t	 i;

	if ((s = malloc(len * 2 + 1)) == NULL)
		return NULL;
	for (i = 0; i < len; i++) {
		s[2 * i] = digits[p[i] >> 4];
		s[2 * i + 1] = digits[p[i] & 0xf];
	}
	s[2 * len] = '\0';
	return s;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * A serial as OpenSSL prints it ("01:A2:3F", any case) as certmint stores
 * it: lowercase hex without separators. Returns 0, or -1 if it is not hex,
 * empty or longer than outlen - 1.
 */
int
hex_normalize(const char *in, char *out, size_t outlen)
{
	size_t	 n = 0;

	for (; *in; in++) {
		if (*in == ':' || *in == ' ')
			continue;
		if (!((*in >= '0' && *in <= '9') || (*in >= 'a' && *in <= 'f') ||
		    (*in >= 'A' && *in <= 'F')) || n + 1 >= outlen)
			return -1;
		out[n++] = (char)(*in >= 'A' && *in <= 'F' ? *in + 32 : *in);
	}
	out[n] = '\0';
	return n == 0 ? -1 : 0;
}

/*
 * Decode an even-length hex string (':' and ' ' separators allowed).
 * Returns 0, or -1 on bad input or memory exhaustion.
 */
int
hex_decode(const char *s, unsigned char **out, size_t *outlen)
{
	unsigned char	*p;
	size_t		 n = 0;
	int		 hi = -1, v;

	*out = NULL;
	*outlen = 0;
	if ((p = malloc(strlen(s) / 2 + 1)) == NULL)
		return -1;
	for (; *s; s++) {
		if (*s == ':' || *s == ' ')
			continue;
		if ((v = hexval((unsigned char)*s)) == -1)
			goto bad;
		if (hi == -1)
			hi = v;
		else {
			p[n++] = (unsigned char)(hi << 4 | v);
			hi = -1;
		}
	}
	if (hi != -1 || n == 0)
		goto bad;
	*out = p;
	*outlen = n;
	return 0;
bad:
	free(p);
	return -1;
}

static const char b64chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *
base64_encode(const unsigned char *p, size_t len)
{
	char	*s, *o;
	size_t	 i;
	uint32_t v;

	if ((s = malloc((len + 2) / 3 * 4 + 1)) == NULL)
		return NULL;
	o = s;
	for (i = 0; i + 2 < len; i += 3) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		*o++ = b64chars[v >> 18];
		*o++ = b64chars[(v >> 12) & 63];
		*o++ = b64chars[(v >> 6) & 63];
		*o++ = b64chars[v & 63];
	}
	if (i < len) {
		v = (uint32_t)p[i] << 16 | (i + 1 < len ? (uint32_t)p[i + 1] << 8 : 0);
		*o++ = b64chars[v >> 18];
		*o++ = b64chars[(v >> 12) & 63];
		*o++ = i + 1 < len ? b64chars[(v >> 6) & 63] : '=';
		*o++ = '=';
	}
	*o = '\0';
	return s;
}

/*
 * Decode base64, skipping white space. Returns 0, or -1 on bad input.
 */
int
base64_decode(const char *s, size_t len, unsigned char **out, size_t *outlen)
{
	unsigned char	*p;
	size_t		 i, n = 0;
	uint32_t	 v = 0;
	int		 bits = 0, pad = 0;
	const char	*c;

	*out = NULL;
	*outlen = 0;
	if ((p = malloc(len / 4 * 3 + 3)) == NULL)
		return -1;
	for (i = 0; i < len; i++) {
		if (isspace((unsigned char)s[i]))
			continue;
		if (s[i] == '=') {
			pad++;
			continue;
		}
		if (pad || s[i] == '\0' || (c = strchr(b64chars, s[i])) == NULL)
			goto bad;
		v = v << 6 | (uint32_t)(c - b64chars);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			p[n++] = (unsigned char)(v >> bits);
		}
	}
	if (pad > 2 || bits >= 6)
		goto bad;
	*out = p;
	*outlen = n;
	return 0;
bad:
	free(p);
	return -1;
}

int64_t
time_now(void)
{
	return (int64_t)time(NULL);
}

uint64_t
time_now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/*
 * The absolute CLOCK_REALTIME time ms from now, for pthread_cond_timedwait
 * on a condition with the default clock.
 */
void
time_deadline_in(struct timespec *ts, int64_t ms)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += (time_t)(ms / 1000);
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

uint64_t
time_mono_ns(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int
thread_nice(int nice)
{
	id_t	 tid = (id_t)gettid();
	int	 cur;

	if (nice <= 0)
		return 0;
	errno = 0;
	cur = getpriority(PRIO_PROCESS, tid);
	if (cur == -1 && errno != 0)
		return -1;
	return setpriority(PRIO_PROCESS, tid, cur + nice > 19 ? 19 :
	    cur + nice);
}

void
time_format(int64_t t, char out[32])
{
	struct tm	 tm;
	time_t		 tt = (time_t)t;

	/* RFC 3339 has four-digit years: others as Unix seconds. */
	if (gmtime_r(&tt, &tm) == NULL || tm.tm_year < -1900 ||
	    tm.tm_year > 9999 - 1900)
		snprintf(out, 32, "@%lld", (long long)t);
	else
		/* The ranges bounded for the compiler too (-O0 warns). */
		snprintf(out, 32, "%04u-%02u-%02uT%02u:%02u:%02uZ",
		    (unsigned)(tm.tm_year + 1900) % 10000u,
		    (unsigned)(tm.tm_mon + 1) % 100u, (unsigned)tm.tm_mday % 100u,
		    (unsigned)tm.tm_hour % 100u, (unsigned)tm.tm_min % 100u,
		    (unsigned)tm.tm_sec % 100u);
}

/*
 * The offset of an RFC 3339 time ("Z", "+01:00", "-05:30") at s into
 * *secs (east of UTC positive); the end in *end. 0, or -1 if there is none.
 */
static int
utc_offset(const char *s, const char **end, int64_t *secs)
{
	int	 h, m;

	*secs = 0;
	if (*s == 'Z' || *s == 'z') {
		*end = s + 1;
		return 0;
	}
	if ((*s != '+' && *s != '-') || !isdigit((unsigned char)s[1]) ||
	    !isdigit((unsigned char)s[2]) || s[3] != ':' ||
	    !isdigit((unsigned char)s[4]) || !isdigit((unsigned char)s[5]))
		return -1;
	h = (s[1] - '0') * 10 + s[2] - '0';
	m = (s[4] - '0') * 10 + s[5] - '0';
	if (h > 23 || m > 59)
		return -1;
	*secs = (int64_t)(h * 3600 + m * 60) * (*s == '-' ? -1 : 1);
	*end = s + 6;
	return 0;
}

/*
 * Parse "YYYY-MM-DD" (UTC midnight), "YYYY-MM-DDTHH:MM:SS" or with a
 * space for the T (UTC), an RFC 3339 time ("2026-11-24T08:00:00.5+01:00":
 * a fraction of a second is dropped, the offset applied) or "@seconds".
 * A day the month does not have (2026-02-30) is refused, not carried into
 * the next month. Returns 0 or -1.
 */
int
time_parse(const char *s, int64_t *out)
{
	struct tm	 tm, day;
	const char	*end;
	int64_t		 off = 0;

	if (s[0] == '@')
		return parse_int64(s + 1, out);
	memset(&tm, 0, sizeof(tm));
	if ((end = strptime(s, "%Y-%m-%d", &tm)) == NULL)
		return -1;
	if (*end == 'T' || *end == 't' || *end == ' ') {
		if ((end = strptime(end + 1, "%H:%M:%S", &tm)) == NULL)
			return -1;
		if (*end == '.' && isdigit((unsigned char)end[1]))
			for (end++; isdigit((unsigned char)*end); end++)
				;
		if (*end != '\0' && utc_offset(end, &end, &off) == -1)
			return -1;
	} else if (*end == 'Z')
		end++;
	if (*end != '\0')
		return -1;
	day = tm;
	day.tm_hour = 12;
	day.tm_min = day.tm_sec = 0;
	if (timegm(&day) == (time_t)-1 || day.tm_mday != tm.tm_mday)
		return -1;
	*out = (int64_t)timegm(&tm) - off;
	return 0;
}

int
file_open_regular(const char *path, int flags, mode_t mode)
{
	struct stat	 sb;
	int		 fd, e;

	/*
	 * O_NONBLOCK: opening a FIFO waits for the other end (for writing,
	 * with none, it fails with ENXIO). On the regular file it must be,
	 * it changes nothing.
	 */
	if ((fd = open(path, flags | O_CLOEXEC | O_NOCTTY | O_NONBLOCK,
	    mode)) == -1) {
		if (errno == ENXIO)
			errno = EINVAL;
		return -1;
	}
	if (fstat(fd, &sb) == -1)
		e = errno;
	else if (S_ISREG(sb.st_mode))
		return fd;
	else
		e = S_ISDIR(sb.st_mode) ? EISDIR : EINVAL;
	close(fd);
	errno = e;
	return -1;
}

const char *
file_strerror(int e)
{
	return e == EINVAL ? "not a regular file" : e == EFBIG ? "too large" :
	    strerror(e);
}

const char *
file_kind(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG:
		return "a regular file";
	case S_IFDIR:
		return "a directory";
	case S_IFIFO:
		return "a FIFO";
	case S_IFSOCK:
		return "a socket";
	case S_IFCHR:
		return "a character device";
	case S_IFBLK:
		return "a block device";
	case S_IFLNK:
		return "a symbolic link";
	default:
		return "of an unknown kind";
	}
}

/*
 * Read a whole file of at most max bytes. The result is NUL-terminated.
 * Returns 0, or -1 with errno set (EFBIG when larger than max).
 */
int
file_read(const char *path, unsigned char **data, size_t *len, size_t max)
{
	struct buf	 b = { 0 };
	unsigned char	 chunk[8192];
	ssize_t		 n;
	int		 fd, saved;

	*data = NULL;
	*len = 0;
	if ((fd = file_open_regular(path, O_RDONLY, 0)) == -1)
		return -1;
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n == -1) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		if (b.len + (size_t)n > max) {
			errno = EFBIG;
			goto fail;
		}
		if (buf_append(&b, chunk, (size_t)n) == -1) {
			errno = ENOMEM;
			goto fail;
		}
	}
	close(fd);
	/* An empty file is "" too: its callers read it as a string. */
	if (b.data == NULL && buf_append(&b, "", 0) == -1)
		return -1;
	*len = b.len;
	*data = b.data;
	return 0;
fail:
	saved = errno;
	close(fd);
	buf_free(&b);
	errno = saved;
	return -1;
}

/*
 * Write data to a new temporary file beside path, with mode, and fsync
 * it. The name is mkstemp's: unpredictable, and created with O_EXCL, so a
 * link planted there is never followed. tmp receives the name. Returns
 * 0, or -1 with errno set and no temporary file left.
 */
int
file_write_temp(const char *path, char *tmp, const void *data,
    size_t len, mode_t mode)
{
	const char	*p = data;
	ssize_t		 n;
	int		 fd, saved;

	if (snprintf(tmp, PATH_MAX, "%s.tmp.XXXXXX", path) >= PATH_MAX) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fd = mkostemp(tmp, O_CLOEXEC)) == -1)
		return -1;
	if (fchmod(fd, mode) == -1)
		goto fail;
	while (len > 0) {
		if ((n = write(fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		p += n;
		len -= (size_t)n;
	}
	if (fsync(fd) == -1)
		goto fail;
	if (close(fd) == -1) {
		fd = -1;
		goto fail;
	}
	return 0;
fail:
	saved = errno;
	if (fd != -1)
		close(fd);
	unlink(tmp);
	errno = saved;
	return -1;
}

/* fsync the directory of path, so that a rename or link in it lasts. */
static void
dir_sync(const char *path)
{
	char	*dir;
	int	 dfd;

	if ((dir = path_dirname(path)) != NULL &&
	    (dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1) {
		fsync(dfd);
		close(dfd);
	}
	free(dir);
}

/*
 * Write to a temporary file beside path, fsync, rename into place and fsync
 * the directory, so that readers see the old or the new file, never a part.
 * A link at path is replaced, not followed.
 */
int
file_write_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
	char	 tmp[PATH_MAX];
	int	 saved;

	if (file_write_temp(path, tmp, data, len, mode) == -1)
		return -1;
	if (rename(tmp, path) == -1) {
		saved = errno;
		unlink(tmp);
		errno = saved;
		return -1;
	}
	dir_sync(path);
	return 0;
}

/*
 * Create path with data, whole or not at all, only if nothing is there:
 * not a file, not a link (dangling or not), which is left as it was.
 * link(2) is the exclusive step. Returns 0, or -1 with errno set (EEXIST
 * when something is at path).
 */
int
file_write_new(const char *path, const void *data, size_t len, mode_t mode)
{
	char	 tmp[PATH_MAX];
	int	 rc, saved;

	if (file_write_temp(path, tmp, data, len, mode) == -1)
		return -1;
	rc = link(tmp, path);
	saved = errno;
	unlink(tmp);
	if (rc == -1) {
		errno = saved;
		return -1;
	}
	dir_sync(path);
	return 0;
}

/*
 * OpenSSH's rule for the files a daemon trusts, on sb, the fstat of the
 * open file (so what is checked is what is read): owned by root or by us,
 * not writable by group or others, and, when private (a key), not
 * readable by them either. what names the file in the message ("the CA
 * key"). Returns 0, or -1 with a message saying the file, its mode or
 * owner and the fix in err.
 */
int
file_check_mode(const struct stat *sb, const char *path, const char *what,
    int private, char *err, size_t errlen)
{
	unsigned int	 mode = (unsigned int)sb->st_mode & 07777;

	if (sb->st_uid != 0 && sb->st_uid != geteuid()) {
		snprintf(err, errlen, "%s: %s is owned by uid %u, neither root "
		    "nor this user (uid %u), who could change it (chown %u %s)",
		    path, what, (unsigned int)sb->st_uid,
		    (unsigned int)geteuid(), (unsigned int)geteuid(), path);
		return -1;
	}
	if (private && (mode & 077) != 0) {
		snprintf(err, errlen, "%s: %s has mode %04o: it must not be "
		    "readable or writable by group or others (chmod 600 %s)",
		    path, what, mode, path);
		return -1;
	}
	if (!private && (mode & 022) != 0) {
		snprintf(err, errlen, "%s: %s has mode %04o: it must not be "
		    "writable by group or others (chmod go-w %s)", path, what,
		    mode, path);
		return -1;
	}
	return 0;
}

int
url_host_port(const char *url, char *host, size_t hostlen, int *port)
{
	const char	*h, *e;
	int64_t		 n;
	char		 digits[8];
	size_t		 len;

	if (strncasecmp(url, "http://", 7) == 0) {
		h = url + 7;
		*port = 80;
	} else if (strncasecmp(url, "https://", 8) == 0) {
		h = url + 8;
		*port = 443;
	} else
		return -1;
	if (*h == '[') {
		if ((e = strchr(++h, ']')) == NULL)
			return -1;
		len = (size_t)(e++ - h);
	} else {
		len = strcspn(h, ":/?#");
		e = h + len;
	}
	if (len == 0 || len >= hostlen)
		return -1;
	memcpy(host, h, len);
	host[len] = '\0';
	if (*e != ':')
		return *e == '\0' || *e == '/' || *e == '?' || *e == '#' ? 0 : -1;
	len = strcspn(++e, "/?#");
	if (len == 0 || len >= sizeof(digits))
		return -1;
	memcpy(digits, e, len);
	digits[len] = '\0';
	if (parse_int64(digits, &n) == -1 || n < 1 || n > 65535)
		return -1;
	*port = (int)n;
	return 0;
}

char *
path_join(const char *dir, const char *name)
{
	char	*s;
	size_t	 n;

	if (name[0] == '/' || dir == NULL || dir[0] == '\0')
		return strdup(name);
	n = strlen(dir) + strlen(name) + 2;
	if ((s = malloc(n)) == NULL)
		return NULL;
	snprintf(s, n, "%s/%s", dir, name);
	return s;
}

char *
path_dirname(const char *path)
{
	const char	*slash = strrchr(path, '/');

	if (slash == NULL)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	return strndup(path, (size_t)(slash - path));
}

char *
path_indexed(const char *path, int idx)
{
	const char	*base = strrchr(path, '/'), *dot;
	char		*out;

	if (idx <= 0)
		return strdup(path);
	base = base != NULL ? base + 1 : path;
	if ((dot = strrchr(base, '.')) == NULL || dot == base)
		dot = path + strlen(path);
	if (asprintf(&out, "%.*s(%d)%s", (int)(dot - path), path, idx, dot)
	    == -1)
		return NULL;
	return out;
}

int
str_ieq(const char *a, const char *b)
{
	return strcasecmp(a, b) == 0;
}

/*
 * AD CS matches request attribute names ignoring case, spaces and hyphens.
 */
int
attr_name_eq(const char *a, const char *b)
{
	for (;;) {
		while (*a == ' ' || *a == '-' || *a == '\t')
			a++;
		while (*b == ' ' || *b == '-' || *b == '\t')
			b++;
		if (tolower((unsigned char)*a) != tolower((unsigned char)*b))
			return 0;
		if (*a == '\0')
			return 1;
		a++;
		b++;
	}
}

char *
str_trim(char *s)
{
	char	*e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* Is e2 c1 c2 (UTF-8) a bidirectional control (Trojan Source)? */
static int
bidi_control(unsigned char c1, unsigned char c2)
{
	return (c1 == 0x80 && (c2 == 0x8e || c2 == 0x8f ||
	    (c2 >= 0xaa && c2 <= 0xae))) ||
	    (c1 == 0x81 && c2 >= 0xa6 && c2 <= 0xa9);
}

size_t
text_hidden_char(const unsigned char *p, size_t n)
{
	if (n >= 2 && ((p[0] == 0xc2 && p[1] == 0xad) ||	/* soft hyphen */
	    (p[0] == 0xd8 && p[1] == 0x9c)))			/* ALM */
		return 2;
	if (n < 3)
		return 0;
	/* U+200B, U+200E-F, U+2028-E (not the joiners, which scripts use) */
	if (p[0] == 0xe2 && p[1] == 0x80 && (p[2] == 0x8b || p[2] == 0x8e ||
	    p[2] == 0x8f || (p[2] >= 0xa8 && p[2] <= 0xae)))
		return 3;
	if (p[0] == 0xe2 && p[1] == 0x81 && p[2] >= 0xa0 && p[2] <= 0xa9)
		return 3;			/* U+2060-9 */
	if (p[0] == 0xef && ((p[1] == 0xbb && p[2] == 0xbf) ||
	    (p[1] == 0xbf && p[2] >= 0xb9 && p[2] <= 0xbb)))
		return 3;			/* U+FEFF, U+FFF9-B */
	return 0;
}

char *
text_escape(const char *s, char *out, size_t outlen)
{
	const unsigned char *p;
	size_t		 o = 0, cap = outlen - 8;

	if (s == NULL) {
		out[0] = '\0';
		return out;
	}
	for (p = (const unsigned char *)s; *p != '\0' && o < cap; p++) {
		/* C0, DEL and C1 (U+0080-U+009F, 0xc2 0x80-0x9f in UTF-8). */
		if (*p < 0x20 || *p == 0x7f)
			o += (size_t)snprintf(out + o, outlen - o, "\\x%02x",
			    *p);
		else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
			o += (size_t)snprintf(out + o, outlen - o, "\\u%04x",
			    p[1]);
			p++;
		} else if (*p == 0xe2 && p[1] != 0 && bidi_control(p[1], p[2])) {
			/* U+200E/F, U+202A-E, U+2066-9: text that reorders. */
			o += (size_t)snprintf(out + o, outlen - o, "\\u%04x",
			    0x2000 | (p[1] & 0x03) << 6 | (p[2] & 0x3f));
			p += 2;
		} else
			out[o++] = (char)*p;
	}
	if (*p != '\0' && o >= cap)
		o = (size_t)(stpcpy(out + cap - 3, "...") - out);
	out[o] = '\0';
	return out;
}

size_t
strlcpy_cm(char *dst, const char *src, size_t size)
{
	size_t	 n = strlen(src);

	if (size) {
		size_t c = n < size - 1 ? n : size - 1;
		memcpy(dst, src, c);
		dst[c] = '\0';
	}
	return n;
}

/*
 * Parse a whole decimal integer: "010" is ten, as a person (and the REST
 * API, and a Content-Length) reads it, never octal; no "0x". parse_int64_c
 * also takes C's 0x hex (and leading-zero octal), for what is documented
 * as a C constant (AD CS's REQDISP_* values). Returns 0 or -1.
 */
static int
parse_int64_base(const char *s, int64_t *out, int base)
{
	char		*end;
	long long	 v;

	if (s == NULL || *s == '\0')
		return -1;
	errno = 0;
	v = strtoll(s, &end, base);
	if (errno != 0 || *end != '\0')
		return -1;
	*out = v;
	return 0;
}

int
parse_int64(const char *s, int64_t *out)
{
	return parse_int64_base(s, out, 10);
}

int
parse_int64_c(const char *s, int64_t *out)
{
	return parse_int64_base(s, out, 0);
}

int
fd_write_all(int fd, const void *p, size_t n)
{
	const char	*c = p;
	ssize_t		 w;

	while (n > 0) {
		if ((w = write(fd, c, n)) == -1 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (w == 0)
				errno = EIO;
			return -1;
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

int
mkdir_p(const char *path, mode_t mode)
{
	char	 tmp[PATH_MAX], *p;

	if (strlcpy_cm(tmp, path, sizeof(tmp)) >= sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, mode) == -1 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(tmp, mode) == -1 && errno != EEXIST)
		return -1;
	return 0;
}

void *
xcalloc(size_t n, size_t size)
{
	void	*p;

	if ((p = calloc(n ? n : 1, size ? size : 1)) == NULL)
		abort();
	return p;
}

char *
xstrdup(const char *s)
{
	char	*p;

	if ((p = strdup(s)) == NULL)
		abort();
	return p;
}
