/*
 * Unit tests for the ACME VA (src/acme/validate*.c, vpool.c,
 * src/crypto/acme_tls.c): acme_validate() against the responders of
 * tests/acme/responder.py on loopback (HTTP, DNS and TLS, each name a
 * behaviour, hostile ones included), then the pool, then
 * pebble-challtestsrv as the DNS oracle when it is installed.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <cmocka.h>

#include "acme/validate.h"
#include "acme/validate_int.h"

/* As in responder.py. */
#define THUMB	"9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI"
#define TOKEN	"evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA"
#define KA	TOKEN "." THUMB
/* base64url(SHA-256(KA)): the dns-01 TXT value */
#define DIGEST	"lCM7cZyQXcVHK2nnW3jjAhNT3Fvm18UN-kWZZknKoYM"

#define FAST_MS	3000	/* for answers that come at once */
#define HANG_MS	700	/* for responders that never finish */

struct child {
	pid_t	 pid;
	int	 in;	/* its stdin: closing it ends responder.py */
};

static struct child	 responder = { -1, -1 };
static int		 http_port, dns_port, tls_port, have_v6, have_https;
static char		 tmpdir[] = "/tmp/acmeva-test.XXXXXX";

/* A loopback TCP port that nothing listens on (bound, then closed). */
static int
closed_port(void)
{
	struct sockaddr_in	 sa;
	socklen_t		 len = sizeof(sa);
	int			 fd, port;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

/*
 * Start argv with a pipe on its stdin (and on its stdout when out is
 * given, for its first line). 0 or -1.
 */
static int
child_start(struct child *c, char *const argv[], int *out)
{
	int	 in[2], o[2] = { -1, -1 };

	if (pipe2(in, O_CLOEXEC) == -1 || (out && pipe2(o, O_CLOEXEC) == -1))
		return -1;
	if ((c->pid = fork()) == -1)
		return -1;
	if (c->pid == 0) {
		dup2(in[0], 0);
		if (out)
			dup2(o[1], 1);
		else
			dup2(open("/dev/null", O_WRONLY), 1);
		if (getenv("ACMEVA_DEBUG") == NULL)
			dup2(open("/dev/null", O_WRONLY), 2);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(in[0]);
	c->in = in[1];
	if (out) {
		close(o[1]);
		*out = o[0];
	}
	return 0;
}

/* Read the first line of fd within 30 s: 0 or -1. */
static int
read_line(int fd, char *line, size_t len)
{
	struct pollfd	 pfd = { fd, POLLIN, 0 };
	size_t		 n = 0;
	ssize_t		 r;

	while (n + 1 < len) {
		if (poll(&pfd, 1, 30000) != 1)
			return -1;
		if ((r = read(fd, line + n, 1)) != 1)
			return -1;
		if (line[n] == '\n')
			break;
		n++;
	}
	line[n] = '\0';
	return 0;
}

/* End c: close its stdin, then SIGTERM after 2 s, SIGKILL after 4 s. */
static void
child_stop(struct child *c)
{
	int	 i, st;

	if (c->pid <= 0)
		return;
	close(c->in);
	for (i = 0; i < 40; i++) {
		if (i == 20)
			kill(c->pid, SIGTERM);
		if (waitpid(c->pid, &st, WNOHANG) == c->pid) {
			c->pid = -1;
			return;
		}
		usleep(100000);
	}
	kill(c->pid, SIGKILL);
	waitpid(c->pid, &st, 0);
	c->pid = -1;
}

static int
group_setup(void **state)
{
	char		*argv[4], line[128];
	const char	*script = getenv("ACME_RESPONDER");
	int		 out;

	(void)state;
	if (script == NULL || mkdtemp(tmpdir) == NULL) {
		print_error("ACME_RESPONDER not set, or mkdtemp failed\n");
		return -1;
	}
	argv[0] = "python3";
	argv[1] = (char *)script;
	argv[2] = tmpdir;
	argv[3] = NULL;
	if (child_start(&responder, argv, &out) == -1)
		return -1;
	if (read_line(out, line, sizeof(line)) == -1 ||
	    sscanf(line, "http=%d dns=%d tls=%d v6=%d https=%d", &http_port,
	    &dns_port, &tls_port, &have_v6, &have_https) != 5) {
		print_error("%s did not start (ACMEVA_DEBUG=1 shows why)\n",
		    script);
		close(out);
		child_stop(&responder);
		return -1;
	}
	close(out);
	return 0;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
group_teardown(void **state)
{
	(void)state;
	child_stop(&responder);
	nftw(tmpdir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	return 0;
}

static void
config(struct acme_va_config *c, int timeout_ms)
{
	memset(c, 0, sizeof(*c));
	c->http01_port = http_port;
	c->tlsalpn01_port = tls_port;
	snprintf(c->resolver, sizeof(c->resolver), "127.0.0.1:%d", dns_port);
	c->timeout_ms = timeout_ms;
	c->max_parallel = 4;
}

static void
check_init(struct acme_check *k, enum acme_chall type, const char *id)
{
	struct in6_addr	 a;

	memset(k, 0, sizeof(*k));
	k->type = type;
	snprintf(k->identifier, sizeof(k->identifier), "%s", id);
	k->is_ip = inet_pton(AF_INET, id, &a) == 1 ||
	    inet_pton(AF_INET6, id, &a) == 1;
	snprintf(k->token, sizeof(k->token), "%s", TOKEN);
	snprintf(k->key_authz, sizeof(k->key_authz), "%s", KA);
}

/*
 * Validate id by type with cfg and expect problem (NULL: valid) and, in
 * the detail, the text want.
 */
static void
expect_cfg(const struct acme_va_config *cfg, enum acme_chall type,
    const char *id, const char *problem, const char *want)
{
	struct acme_check	 k;
	struct acme_va_result	 r;

	check_init(&k, type, id);
	acme_validate(cfg, &k, &r);
	print_message("# %s %s: valid=%d %s: %s\n", type == ACME_HTTP01 ?
	    "http-01" : type == ACME_DNS01 ? "dns-01" : "tls-alpn-01", id,
	    r.valid, r.problem, r.detail);
	if (problem == NULL) {
		assert_int_equal(r.valid, 1);
		assert_string_equal(r.problem, "");
		return;
	}
	assert_int_equal(r.valid, 0);
	assert_string_equal(r.problem, problem);
	if (want != NULL && strstr(r.detail, want) == NULL)
		fail_msg("detail \"%s\" lacks \"%s\"", r.detail, want);
}

static void
expect(enum acme_chall type, const char *id, int timeout_ms,
    const char *problem, const char *want)
{
	struct acme_va_config	 cfg;

	config(&cfg, timeout_ms);
	expect_cfg(&cfg, type, id, problem, want);
}

/* Is text (an IP literal) denied by spec? */
static int
denied(const char *spec, const char *text)
{
	struct acme_va_config	 c;
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	char			 err[256];

	memset(&c, 0, sizeof(c));
	if (acme_va_deny_parse(&c, spec, err, sizeof(err)) == -1)
		fail_msg("%s: %s", spec, err);
	if (va_parse_ip(text, &ss, &len) == -1)
		fail_msg("%s is no address", text);
	return va_addr_denied(&c, &ss);
}

/* [acme] validation_deny: what it parses, what it names, where it acts. */
static void
test_deny(void **state)
{
	static const struct {
		const char	*ip;
		int		 denied;
	} def[] = {
		{ "127.0.0.1", 1 }, { "127.255.255.254", 1 }, { "0.0.0.0", 1 },
		{ "169.254.169.254", 1 }, { "224.0.0.1", 1 },
		{ "255.255.255.255", 1 }, { "::1", 1 }, { "::", 1 },
		{ "fe80::1", 1 }, { "ff02::1", 1 },
		{ "::ffff:169.254.169.254", 1 }, { "::ffff:127.0.0.1", 1 },
		{ "10.0.0.1", 0 }, { "192.168.1.1", 0 }, { "172.16.0.1", 0 },
		{ "128.0.0.1", 0 }, { "169.255.0.1", 0 }, { "223.255.255.255", 0 },
		{ "2001:db8::1", 0 }, { "fc00::1", 0 }, { "::ffff:10.0.0.1", 0 },
		/* IPv6 that carries IPv4: compatible, NAT64, 6to4 */
		{ "::127.0.0.1", 1 }, { "64:ff9b::7f00:1", 1 },
		{ "64:ff9b::a9fe:a9fe", 1 }, { "2002:7f00:1::", 1 },
		{ "2002:a9fe:a9fe::1", 1 }, { "64:ff9b::a00:1", 0 },
		{ "2002:a00:1::", 0 },
		{ "100.100.100.200", 1 }, { "fd00:ec2::254", 1 },
		{ "100.100.100.201", 0 }, { "fd00:ec2::255", 0 },
	};
	static const char *const bad[] = {
		"10.0.0.0/33", "::/129", "abc", "1.2.3.4/x", "1.2.3.4/-1",
		"1.2.3.4/", "10.0.0.0/8, nope",
	};
	struct acme_va_config	 c;
	char			 err[256];
	size_t			 i;

	(void)state;
	for (i = 0; i < sizeof(def) / sizeof(def[0]); i++)
		if (denied(ACME_VA_DENY_DEFAULT, def[i].ip) != def[i].denied)
			fail_msg("%s: denied %d by default", def[i].ip,
			    !def[i].denied);
	assert_int_equal(denied("10.1.2.3/15", "10.1.255.255"), 1);
	assert_int_equal(denied("10.1.2.3/15", "10.2.0.0"), 0);
	assert_int_equal(denied("10.0.0.0/15", "10.1.0.0"), 1);
	assert_int_equal(denied("192.0.2.7", "192.0.2.7"), 1);
	assert_int_equal(denied("192.0.2.7", "192.0.2.8"), 0);
	assert_int_equal(denied("0.0.0.0/0", "203.0.113.9"), 1);
	assert_int_equal(denied("none", "127.0.0.1"), 0);
	assert_int_equal(denied("", "127.0.0.1"), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&c, 0, sizeof(c));
		if (acme_va_deny_parse(&c, bad[i], err, sizeof(err)) != -1)
			fail_msg("\"%s\" parsed", bad[i]);
		if (strstr(err, "validation_deny") == NULL)
			fail_msg("\"%s\": \"%s\"", bad[i], err);
	}
	/* Validation by the default: the loopback responder is not asked. */
	config(&c, FAST_MS);
	assert_int_equal(acme_va_deny_parse(&c, ACME_VA_DENY_DEFAULT, err,
	    sizeof(err)), 0);
	expect_cfg(&c, ACME_HTTP01, "ok.test", "connection", "validation_deny");
	expect_cfg(&c, ACME_HTTP01, "127.0.0.1", "connection",
	    "validation_deny");
	expect_cfg(&c, ACME_TLSALPN01, "ok.test", "connection",
	    "validation_deny");
}

/* Validate id by http-01: invalid, and text nowhere in the detail. */
static void
expect_hidden(const char *id, const char *text)
{
	struct acme_va_config	 cfg;
	struct acme_check	 k;
	struct acme_va_result	 r;

	config(&cfg, FAST_MS);
	check_init(&k, ACME_HTTP01, id);
	acme_validate(&cfg, &k, &r);
	print_message("# http-01 %s: valid=%d %s: %s\n", id, r.valid,
	    r.problem, r.detail);
	assert_int_equal(r.valid, 0);
	if (strstr(r.detail, text) != NULL)
		fail_msg("detail \"%s\" shows \"%s\"", r.detail, text);
}

/* http-01: the key authorization, trailing whitespace aside, by name. */
static void
test_http_valid(void **state)
{
	(void)state;
	expect(ACME_HTTP01, "ok.test", FAST_MS, NULL, NULL);
	expect(ACME_HTTP01, "OK.Test", FAST_MS, NULL, NULL);
	/* Host: is the identifier, without the port */
	expect(ACME_HTTP01, "hostcheck.test", FAST_MS, NULL, NULL);
}

/* RFC 8738: IP identifiers, IPv6 in brackets; a name with only AAAA. */
static void
test_http_ip(void **state)
{
	(void)state;
	expect(ACME_HTTP01, "127.0.0.1", FAST_MS, NULL, NULL);
	if (!have_v6) {
		print_message("# no IPv6 loopback: ::1 not tried\n");
		return;
	}
	expect(ACME_HTTP01, "::1", FAST_MS, NULL, NULL);
	expect(ACME_HTTP01, "v6only.test", FAST_MS, NULL, NULL);
}

/* Wrong body, other status, nothing listening. */
static void
test_http_invalid(void **state)
{
	struct acme_va_config	 cfg;

	(void)state;
	/* Quoted only when it is this token's: not another service's. */
	expect(ACME_HTTP01, "wrong.test", FAST_MS, "incorrectResponse",
	    "not shown");
	expect(ACME_HTTP01, "otherthumb.test", FAST_MS, "incorrectResponse",
	    "\"" TOKEN ".otherThumbprint\"");
	/* A redirect is shown up to its port: its query may be a secret. */
	expect_hidden("secretredir.test", "SECRET");
	expect(ACME_HTTP01, "404.test", FAST_MS, "unauthorized", "HTTP 404");
	expect(ACME_HTTP01, "noloc.test", FAST_MS, "unauthorized",
	    "without a Location");
	config(&cfg, FAST_MS);
	cfg.http01_port = closed_port();
	expect_cfg(&cfg, ACME_HTTP01, "ok.test", "connection", "127.0.0.1");
}

/* Hostile answers: huge bodies (with and without length), slowloris. */
static void
test_http_hostile(void **state)
{
	(void)state;
	expect(ACME_HTTP01, "big.test", FAST_MS, "incorrectResponse",
	    "larger than 8192");
	expect(ACME_HTTP01, "bigchunk.test", FAST_MS, "incorrectResponse",
	    "larger than 8192");
	expect(ACME_HTTP01, "slow.test", HANG_MS, "connection", "timed out");
}

/* Redirects: absolute, relative, five hops; loops and bad targets. */
static void
test_http_redirects(void **state)
{
	(void)state;
	expect(ACME_HTTP01, "redir.test", FAST_MS, NULL, NULL);
	expect(ACME_HTTP01, "redirrel.test", FAST_MS, NULL, NULL);
	expect(ACME_HTTP01, "chain.test", FAST_MS, NULL, NULL);
	expect(ACME_HTTP01, "loop.test", FAST_MS, "connection",
	    "last to http://loop11.test:");
	expect(ACME_HTTP01, "badport.test", FAST_MS, "connection",
	    "only http on port 80");
	expect(ACME_HTTP01, "ftp.test", FAST_MS, "connection",
	    "only http on port 80");
	expect(ACME_HTTP01, "https.test", FAST_MS, "connection",
	    "https on port 443");
	expect(ACME_HTTP01, "nxredir.test", FAST_MS, "dns", "nx.test");
	/* https on 443, its self-signed certificate not verified */
	if (have_https)
		expect(ACME_HTTP01, "tohttps.test", FAST_MS, NULL, NULL);
	else
		print_message("# 127.0.0.2:443 not ours: no https redirect\n");
}

/* Resolution failures of the identifier itself. */
static void
test_http_dns(void **state)
{
	struct acme_va_config	 cfg;

	(void)state;
	expect(ACME_HTTP01, "nx.test", FAST_MS, "dns", "NXDOMAIN");
	expect(ACME_HTTP01, "servfail.test", FAST_MS, "dns", "SERVFAIL");
	/* a reply with another ID and garbage come first: ignored */
	expect(ACME_HTTP01, "ok.test.wrongid.test", FAST_MS, NULL, NULL);
	/* AAAA queries dropped: the A answer still counts */
	expect(ACME_HTTP01, "noaaaa.test", 2 * HANG_MS, NULL, NULL);
	config(&cfg, HANG_MS);
	snprintf(cfg.resolver, sizeof(cfg.resolver), "127.0.0.1:%d",
	    closed_port());
	expect_cfg(&cfg, ACME_HTTP01, "ok.test", "dns", "no answer");
}

/* What the core must never hand over is refused, not fetched. */
static void
test_malformed(void **state)
{
	struct acme_va_config	 cfg;
	struct acme_check	 k;
	struct acme_va_result	 r;

	(void)state;
	config(&cfg, FAST_MS);
	check_init(&k, ACME_HTTP01, "ok.test");
	snprintf(k.token, sizeof(k.token), "../../etc/passwd");
	acme_validate(&cfg, &k, &r);
	assert_int_equal(r.valid, 0);
	assert_string_equal(r.problem, "malformed");
	check_init(&k, ACME_HTTP01, "ok.test/x");
	acme_validate(&cfg, &k, &r);
	assert_string_equal(r.problem, "malformed");
	check_init(&k, ACME_HTTP01, "ok.test");
	snprintf(k.key_authz, sizeof(k.key_authz), "other." THUMB);
	acme_validate(&cfg, &k, &r);
	assert_string_equal(r.problem, "malformed");
	check_init(&k, ACME_DNS01, "127.0.0.1");
	acme_validate(&cfg, &k, &r);
	assert_string_equal(r.problem, "malformed");
	check_init(&k, ACME_HTTP01, "127.0.0.1");
	snprintf(k.identifier, sizeof(k.identifier), "127.1");
	acme_validate(&cfg, &k, &r);
	assert_string_equal(r.problem, "malformed");
	memset(k.identifier, 'a', sizeof(k.identifier));
	k.is_ip = 0;
	acme_validate(&cfg, &k, &r);
	assert_string_equal(r.problem, "malformed");
	check_init(&k, ACME_HTTP01, "ok.test");
	snprintf(cfg.resolver, sizeof(cfg.resolver), "not-an-address");
	acme_validate(&cfg, &k, &r);
	assert_int_equal(r.valid, 0);
	assert_string_equal(r.problem, "serverInternal");
}

/* dns-01: among other values, split in strings, behind CNAMEs, over TCP. */
static void
test_dns_valid(void **state)
{
	(void)state;
	expect(ACME_DNS01, "dns-ok.test", FAST_MS, NULL, NULL);
	expect(ACME_DNS01, "dns-split.test", FAST_MS, NULL, NULL);
	expect(ACME_DNS01, "dns-cname.test", FAST_MS, NULL, NULL);
	expect(ACME_DNS01, "dns-cname2.test", FAST_MS, NULL, NULL);
	expect(ACME_DNS01, "dns-trunc.test", FAST_MS, NULL, NULL);
	expect(ACME_DNS01, "dns-big.test", FAST_MS, NULL, NULL);
	/* a reply with another ID and garbage come first: ignored */
	expect(ACME_DNS01, "dns-ok.test.wrongid.test", FAST_MS, NULL, NULL);
}

static void
test_dns_invalid(void **state)
{
	(void)state;
	expect(ACME_DNS01, "dns-wrong.test", FAST_MS, "incorrectResponse",
	    "\"nope\\x01\"");
	expect(ACME_DNS01, "ok.test", FAST_MS, "dns", "no TXT record at "
	    "_acme-challenge.ok.test");
	expect(ACME_DNS01, "nx.test", FAST_MS, "dns", "NXDOMAIN");
	expect(ACME_DNS01, "servfail.test", FAST_MS, "dns", "SERVFAIL");
	/* The records of an error reply are not looked at. */
	expect(ACME_DNS01, "dns-nxtxt.test", FAST_MS, "dns", "NXDOMAIN");
}

/* Garbage: answers off the end, a pointer loop, a CNAME loop, silence. */
static void
test_dns_hostile(void **state)
{
	(void)state;
	expect(ACME_DNS01, "dns-garbage.test", FAST_MS, "dns", "malformed");
	expect(ACME_DNS01, "dns-ptrloop.test", FAST_MS, "dns", "malformed");
	expect(ACME_DNS01, "dns-cnameloop.test", FAST_MS, "dns",
	    "more than 8 CNAMEs");
	expect(ACME_DNS01, "dns-slow.test", HANG_MS, "dns", "no answer");
}

/* tls-alpn-01: a DNS name, an IP (SNI its reverse name, RFC 8738 §6). */
static void
test_tls_valid(void **state)
{
	(void)state;
	expect(ACME_TLSALPN01, "tls-ok.test", FAST_MS, NULL, NULL);
	expect(ACME_TLSALPN01, "127.0.0.1", FAST_MS, NULL, NULL);
}

/* Each rule of RFC 8737 §3 broken in turn. */
static void
test_tls_invalid(void **state)
{
	struct acme_va_config	 cfg;

	(void)state;
	expect(ACME_TLSALPN01, "tls-wrongdigest.test", FAST_MS,
	    "incorrectResponse", "not SHA-256 of the key authorization");
	expect(ACME_TLSALPN01, "tls-noncrit.test", FAST_MS,
	    "incorrectResponse", "not critical");
	expect(ACME_TLSALPN01, "tls-noext.test", FAST_MS, "incorrectResponse",
	    "0 acmeIdentifier extensions");
	expect(ACME_TLSALPN01, "tls-twosan.test", FAST_MS,
	    "incorrectResponse", "2 subjectAltNames");
	expect(ACME_TLSALPN01, "tls-wrongsan.test", FAST_MS,
	    "incorrectResponse", "not DNS name tls-wrongsan.test");
	expect(ACME_TLSALPN01, "tls-manysan.test", FAST_MS,
	    "incorrectResponse", "501 subjectAltNames");
	expect(ACME_TLSALPN01, "tls-noalpn.test", FAST_MS, "tls",
	    "did not negotiate ALPN");
	expect(ACME_TLSALPN01, "tls-unknown.test", FAST_MS, "tls",
	    "TLS handshake");
	expect(ACME_TLSALPN01, "tls-hang.test", HANG_MS, "tls", "timed out");
	config(&cfg, FAST_MS);
	cfg.tlsalpn01_port = closed_port();
	expect_cfg(&cfg, ACME_TLSALPN01, "tls-ok.test", "connection",
	    "refused");
}

/* The pool's callbacks: counted, their concurrency bounded. */
struct tally {
	pthread_mutex_t	 mu;
	int		 valid, invalid, dropped, running, max_running;
	int		 stranger;	/* a check we never submitted */
};

static void
tally_done(void *arg, const struct acme_check *k,
    const struct acme_va_result *r)
{
	struct tally	*t = arg;

	pthread_mutex_lock(&t->mu);
	if (++t->running > t->max_running)
		t->max_running = t->running;
	pthread_mutex_unlock(&t->mu);
	usleep(2000);	/* so that concurrent callbacks overlap */
	pthread_mutex_lock(&t->mu);
	t->running--;
	if (r->valid)
		t->valid++;
	else
		t->invalid++;
	/* no cmocka assert off the main thread: counted, checked there */
	if (strcmp(k->identifier, "ok.test") != 0 &&
	    strcmp(k->identifier, "wrong.test") != 0 &&
	    strcmp(k->identifier, "slow.test") != 0)
		t->stranger++;
	pthread_mutex_unlock(&t->mu);
}

static void
tally_dropped(void *arg, const struct acme_check *k)
{
	struct tally	*t = arg;

	(void)k;
	pthread_mutex_lock(&t->mu);
	t->dropped++;
	pthread_mutex_unlock(&t->mu);
}

/* 40 checks through 3 threads: all done, right, 3 at most at once. */
static void
test_pool(void **state)
{
	struct acme_va_config	 cfg;
	struct acme_vpool	*p;
	struct acme_check	 k;
	struct tally		 t;
	char			 err[128];
	int			 i, n;

	(void)state;
	memset(&t, 0, sizeof(t));
	pthread_mutex_init(&t.mu, NULL);
	config(&cfg, FAST_MS);
	cfg.max_parallel = 3;
	assert_non_null(p = acme_vpool_start(&cfg, err, sizeof(err)));
	for (i = 0; i < 40; i++) {
		check_init(&k, i % 2 ? ACME_HTTP01 : ACME_DNS01, i % 4 == 1 ?
		    "wrong.test" : "ok.test");
		assert_int_equal(acme_vpool_submit(p, &k, tally_done, &t), 0);
	}
	for (i = 0; i < 300; i++) {	/* 30 s at most */
		pthread_mutex_lock(&t.mu);
		n = t.valid + t.invalid;
		pthread_mutex_unlock(&t.mu);
		if (n == 40)
			break;
		usleep(100000);
	}
	acme_vpool_stop(p);
	/* http-01: 10 ok.test valid, 10 wrong.test invalid; dns-01: 20
	 * ok.test, which has no TXT record, invalid */
	assert_int_equal(t.valid, 10);
	assert_int_equal(t.invalid, 30);
	assert_true(t.max_running >= 1 && t.max_running <= 3);
	assert_int_equal(t.stranger, 0);
	pthread_mutex_destroy(&t.mu);
}

/* stop waits for the running check and drops the queued ones. */
static void
test_pool_stop(void **state)
{
	struct acme_va_config	 cfg;
	struct acme_vpool	*p;
	struct acme_check	 k;
	struct tally		 t;
	char			 err[128];
	int			 i;

	(void)state;
	memset(&t, 0, sizeof(t));
	pthread_mutex_init(&t.mu, NULL);
	config(&cfg, 400);
	cfg.max_parallel = 1;
	assert_non_null(p = acme_vpool_start(&cfg, err, sizeof(err)));
	check_init(&k, ACME_HTTP01, "slow.test");
	for (i = 0; i < 10; i++)
		assert_int_equal(acme_vpool_submit(p, &k, tally_done, &t), 0);
	usleep(100000);		/* the first one is running */
	acme_vpool_stop_cb(p, tally_dropped);
	assert_int_equal(t.valid, 0);
	assert_true(t.invalid <= 1);
	assert_int_equal(t.invalid + t.dropped, 10);
	pthread_mutex_destroy(&t.mu);
}

/*
 * pebble-challtestsrv as the DNS oracle, as the end-to-end tests use it:
 * every A is 127.0.0.1 (-defaultIPv4), no AAAA, TXT set over /set-txt.
 */
static void
test_challtestsrv(void **state)
{
	struct acme_va_config	 cfg;
	struct child		 c = { -1, -1 };
	char			 dns[32], mgmt[32], cmd[512];
	char			*argv[] = { "pebble-challtestsrv", "-dns01",
	    dns, "-management", mgmt, "-defaultIPv4", "127.0.0.1",
	    "-defaultIPv6", "", "-http01", "", "-https01", "", "-tlsalpn01",
	    "", "-doh", "", NULL };
	int			 i, dport, mport, ok = 0;

	(void)state;
	if (system("command -v pebble-challtestsrv >/dev/null 2>&1") != 0) {
		print_message("# skip: pebble-challtestsrv not installed\n");
		skip();
	}
	dport = closed_port();
	mport = closed_port();
	snprintf(dns, sizeof(dns), "127.0.0.1:%d", dport);
	snprintf(mgmt, sizeof(mgmt), "127.0.0.1:%d", mport);
	if (system("pebble-challtestsrv -h 2>&1 | grep -q -- -doh") != 0)
		argv[15] = NULL;	/* older releases have no -doh */
	assert_int_equal(child_start(&c, argv, NULL), 0);
	/* TXT of our digest: the value dns-01 wants for KA */
	snprintf(cmd, sizeof(cmd), "curl -sf -d '{\"host\":\"_acme-challenge."
	    "pebble.test.\",\"value\":\"%s\"}' http://127.0.0.1:%d/set-txt",
	    DIGEST, mport);
	for (i = 0; i < 100 && !ok; i++) {	/* until it listens: 10 s */
		ok = system(cmd) == 0;
		if (!ok)
			usleep(100000);
	}
	if (!ok) {
		child_stop(&c);
		fail_msg("pebble-challtestsrv did not come up");
	}
	config(&cfg, FAST_MS);
	snprintf(cfg.resolver, sizeof(cfg.resolver), "%s", dns);
	expect_cfg(&cfg, ACME_DNS01, "pebble.test", NULL, NULL);
	expect_cfg(&cfg, ACME_DNS01, "other.test", "dns", "no TXT record");
	/* its default A record leads to our responder */
	expect_cfg(&cfg, ACME_HTTP01, "ok.test", NULL, NULL);
	child_stop(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_deny),
		cmocka_unit_test(test_http_valid),
		cmocka_unit_test(test_http_ip),
		cmocka_unit_test(test_http_invalid),
		cmocka_unit_test(test_http_hostile),
		cmocka_unit_test(test_http_redirects),
		cmocka_unit_test(test_http_dns),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_dns_valid),
		cmocka_unit_test(test_dns_invalid),
		cmocka_unit_test(test_dns_hostile),
		cmocka_unit_test(test_tls_valid),
		cmocka_unit_test(test_tls_invalid),
		cmocka_unit_test(test_pool),
		cmocka_unit_test(test_pool_stop),
		cmocka_unit_test(test_challtestsrv),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
