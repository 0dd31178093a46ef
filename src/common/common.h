/*
 * common.h - helpers shared by every part of certmint: logging, growable
 * buffers, hex and base64, time, files, strings.
 */
#ifndef CM_COMMON_H
#define CM_COMMON_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <certmint/server.h>

#define CM_VERSION "0.1.0"

#define nitems(a) (sizeof(a) / sizeof((a)[0]))

/* log.c */
void	 log_init(const char *progname, int level);
void	 log_set_level(int level);
int	 log_get_level(void);
/*
 * Lines as "LEVEL: text" only, for a process whose stderr another reads
 * and prefixes (a module host's, read by certmintd).
 */
void	 log_set_bare(int on);
void	 logmsg(int level, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	 vlogmsg(int level, const char *fmt, va_list ap);
/*
 * An error or warning line repeated more than 5 times in 10 s is counted,
 * not printed, and summarized once per 10 s (log.c). log_flush prints the
 * summaries due (at exit); log_set_clock replaces the monotonic clock
 * (tests; NULL restores it) and forgets the lines seen.
 */
void	 log_flush(void);
/*
 * logmsg whose repeats are counted at any level: what anyone on the
 * network can make the daemon say (a failed TLS handshake) must not fill
 * the disk with it.
 */
void	 logmsg_limited(int level, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/*
 * logmsg_limited, the repeats counted by kind rather than by the line:
 * lines that name what changes with each sender (its address) are still
 * a repeat of one another, and their summary says kind.
 */
void	 logmsg_limited_as(int level, const char *kind, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
/*
 * stdio_keep: keep copies of fds 0-2 as they are now (at start).
 * stdio_restore: put back each of them that was closed since (an inline
 * module's doing: the next socket would take its number, and the log
 * would go into it), from its copy or /dev/null. Returns a bit per fd
 * put back (1 << fd), 0 when none was closed.
 */
void	 stdio_keep(void);
int	 stdio_restore(void);
void	 log_set_clock(uint64_t (*now_ns)(void));
#define log_err(...)   logmsg(CM_LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  logmsg(CM_LOG_WARN, __VA_ARGS__)
#define log_info(...)  logmsg(CM_LOG_INFO, __VA_ARGS__)
#define log_debug(...) logmsg(CM_LOG_DEBUG, __VA_ARGS__)

/* buf.c: a growable byte buffer, always NUL-terminated past len. */
struct buf {
	unsigned char	*data;
	size_t		 len;
	size_t		 cap;
};
int	 buf_reserve(struct buf *, size_t extra);
int	 buf_append(struct buf *, const void *, size_t);
int	 buf_appendc(struct buf *, unsigned char);
int	 buf_printf(struct buf *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
char	*buf_steal(struct buf *);	/* returns data (caller frees), resets */
void	 buf_free(struct buf *);

/*
 * arena.c: a bump allocator, for many small allocations that are freed at
 * once (a batch of rows read together). arena_take returns len bytes
 * aligned for any type, or NULL when out of memory.
 */
struct arena;
struct arena	*arena_new(void);
void		*arena_take(struct arena *, size_t len);
void		 arena_destroy(struct arena *);

/* util.c */
char	*hex_encode(const unsigned char *, size_t);	/* lowercase, caller frees */
/* "01:A2:3f" -> "01a23f" (':' and ' ' dropped); 0, or -1 if not hex. */
int	 hex_normalize(const char *in, char *out, size_t outlen);
int	 hex_decode(const char *, unsigned char **, size_t *);	/* 0 / -1 */
char	*base64_encode(const unsigned char *, size_t);	/* no newlines */
int	 base64_decode(const char *, size_t, unsigned char **, size_t *);
int64_t	 time_now(void);			/* Unix seconds, UTC */
uint64_t time_now_ms(void);			/* Unix milliseconds */
struct timespec;
void	 time_deadline_in(struct timespec *, int64_t ms);	/* for timedwait */
uint64_t time_mono_ns(void);
/*
 * Lower the calling thread's priority by nice more (per thread on Linux,
 * inherited by the processes it starts), capped at 19; never raises it.
 * 0, or -1 with errno.
 */
int	 thread_nice(int nice);
void	 time_format(int64_t, char out[32]);	/* 2026-11-24T08:00:00Z */
int	 time_parse(const char *, int64_t *);	/* ISO 8601 UTC or @unix */
/*
 * open(path, flags, mode) (close-on-exec) if it is a regular file: never
 * waits (a FIFO), and a directory is EISDIR, a FIFO, socket or device
 * EINVAL. fd or -1.
 */
int	 file_open_regular(const char *path, int flags, mode_t mode);
/* strerror, but for file_read's EINVAL ("not a regular file") and EFBIG. */
const char *file_strerror(int);
/* What a file of st_mode mode is, for a message: "a FIFO", "a directory". */
const char *file_kind(mode_t mode);
/* The whole of a regular file (file_open_regular), at most max bytes. */
int	 file_read(const char *, unsigned char **, size_t *, size_t max);
int	 file_write_atomic(const char *, const void *, size_t, mode_t);
int	 file_write_new(const char *, const void *, size_t, mode_t);	/* EEXIST */
/*
 * A new temporary file beside path (mkstemp, mode, synced), its name in
 * tmp (PATH_MAX): for a caller that reads it before renaming it into
 * place. 0, or -1 with errno and nothing left behind.
 */
int	 file_write_temp(const char *path, char *tmp, const void *, size_t,
	    mode_t);
struct stat;
int	 file_check_mode(const struct stat *, const char *path, const char *what,
	    int private, char *err, size_t errlen);
char	*path_join(const char *dir, const char *name);	/* name if absolute */
/*
 * The host (an IPv6 address without its brackets) and port of an http or
 * https URL, the scheme's port when it names none. 0, or -1 when url is
 * not one.
 */
int	 url_host_port(const char *url, char *host, size_t hostlen, int *port);
char	*path_dirname(const char *);
/*
 * The name of the file of index idx beside path, as AD CS names a
 * renewed CA's files: "ca.crt" 0 is itself, 2 "ca(2).crt". Caller frees.
 */
char	*path_indexed(const char *path, int idx);
int	 str_ieq(const char *, const char *);
int	 attr_name_eq(const char *, const char *);	/* case, blanks, '-' ignored */
char	*str_trim(char *);
size_t	 strlcpy_cm(char *, const char *, size_t);
/*
 * The length (2 or 3) of the UTF-8 character at p (n bytes left) when it
 * is one a reader does not see or that reorders what follows: soft
 * hyphen, U+061C, the zero-width space and the directional marks
 * (U+200B, U+200E-F; not the joiners U+200C-D, which Persian and Indic
 * text and emoji need), U+2028-U+202E (separators, embeddings,
 * overrides), U+2060-U+2069
 * (invisible operators, isolates), U+FEFF, U+FFF9-U+FFFB; else 0.
 */
size_t	 text_hidden_char(const unsigned char *p, size_t n);
/*
 * Copy s into out (outlen >= 8) with what could act on a terminal or
 * fake a line written as escapes: C0 controls (newline too) and DEL as
 * \xNN, C1 controls and the bidirectional controls of UTF-8 as \uNNNN.
 * A copy cut short for room ends in "...". Returns out.
 */
char	*text_escape(const char *s, char *out, size_t outlen);
int	 parse_int64(const char *, int64_t *);	/* decimal only */
int	 parse_int64_c(const char *, int64_t *);	/* also 0x hex, 0 octal */
/*
 * Write all n bytes of p to fd (EINTR retried): 0, or -1 with errno.
 * Only write(2): safe in a signal handler.
 */
int	 fd_write_all(int fd, const void *p, size_t n);
int	 mkdir_p(const char *, mode_t);
void	*xcalloc(size_t, size_t);	/* abort()s on exhaustion: tiny fixed allocs only */
char	*xstrdup(const char *);

/* Key types a CA or a request may use. */
enum key_type {
	KEY_EC_P256,
	KEY_EC_P384,
	KEY_RSA_2048,
	KEY_RSA_3072,
	KEY_RSA_4096,
	KEY_ED25519,
	KEY__MAX		/* unsupported */
};
const char	*key_type_name(enum key_type);	/* "ec-p256", ... */
enum key_type	 key_type_from_name(const char *);	/* KEY__MAX if unknown */

/* Subject alternative name types, as bits for policy masks. */
enum san_type {
	SAN_DNS,
	SAN_IP,
	SAN_EMAIL,
	SAN_URI,
	SAN_UPN,		/* otherName id-ms-san-upn (UTF8String) */
	SAN_DIRNAME,		/* directoryName */
	SAN_RID,		/* registeredID */
	SAN__MAX
};
/*
 * [policy] san_types when the config does not say: not upn, dirname or
 * rid, which name a user or object rather than a host or mailbox (a UPN
 * the requester chose logs on to Windows as that user): an operator
 * allows them on purpose.
 */
#define SAN_TYPES_DEFAULT	((1u << SAN_DNS) | (1u << SAN_IP) | \
				 (1u << SAN_EMAIL) | (1u << SAN_URI))
/* "dns", "ip", "email", "uri", "upn", "dirname", "rid" */
const char	*san_type_name(enum san_type);
enum san_type	 san_type_from_name(const char *);

/*
 * The built-in certificate profiles (AD CS templates); profile.h has what
 * each contains, and the config may change them or add others.
 */
enum profile {
	PROFILE_TLS_SERVER,	/* WebServer */
	PROFILE_TLS_CLIENT,	/* ClientAuth */
	PROFILE_EMAIL,		/* SMIME */
	PROFILE_CODE_SIGNING,	/* CodeSigning */
	PROFILE_SUB_CA,		/* SubCA */
	PROFILE_USER,		/* User */
	PROFILE_MACHINE,	/* Machine */
	PROFILE_OCSP_SIGNING,	/* OCSPSigning */
	PROFILE__MAX
};
const char	*profile_name(enum profile);	/* "WebServer", ... */
/*
 * The built-in profile named s, by its name or an alias: certmint's
 * earlier names ("tls-server", "tls-client", "email", "code-signing",
 * "sub-ca") and AD CS's template and display names ("Web Server",
 * "Computer", "OCSPResponseSigning", ...). PROFILE__MAX if none.
 */
enum profile	 profile_from_name(const char *);

/* CRL reason codes (RFC 5280 5.3.1) by name: reason.c. */
const char	*crl_reason_name(int);		/* "keyCompromise", ... */
int		 crl_reason_parse(const char *);	/* name or number; -1 if bad */

#endif /* CM_COMMON_H */
