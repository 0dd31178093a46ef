/*
 * pipeline - the CPU part of issuance without HTTP or the database: for
 * each request of a gencsr file, csr_parse (decode and verify) then
 * cert_build (build and sign), on T threads of one process or on T
 * processes. Prints "mode=threads|processes workers=T certs=N seconds=S
 * rate=R parse_us=.. build_us=..", the per-certificate times being CPU
 * time per worker.
 *
 * Usage: pipeline CSRFILE COUNT WORKERS [--processes]
 *
 * OpenSSL 3.0 was reported to scale poorly across threads on this path
 * (its decoders take shared locks); this measures whether certmint's own
 * path does, which is what decides threads against worker processes.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "csrfile.h"

static struct csrbuf	*csrs;
static size_t		 ncsr;
static struct signer	 signer;
static long		 per_worker;

struct result {
	double		 parse_ns, build_ns;
	long		 ok;
};

static double
now(clockid_t id)
{
	struct timespec	 ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void *
work(void *arg)
{
	struct result	*r = arg;
	struct cert_template t;
	struct csr	 c;
	unsigned char	*der;
	size_t		 len;
	double		 a, b, d;
	char		 err[256];
	long		 i;

	for (i = 0; i < per_worker; i++) {
		const struct csrbuf *in = &csrs[(size_t)i % ncsr];

		a = now(CLOCK_THREAD_CPUTIME_ID);
		if (csr_parse(in->der, in->len, &c, err, sizeof(err)) == -1)
			continue;
		b = now(CLOCK_THREAD_CPUTIME_ID);
		memset(&t, 0, sizeof(t));
		t.subject = c.subject;
		t.subject_len = c.subject_len;
		t.spki = c.spki;
		t.spki_len = c.spki_len;
		t.sans = c.sans;
		t.nsans = c.nsans;
		t.profile = profile_builtin(PROFILE_TLS_SERVER);
		t.not_before = time(NULL);
		t.not_after = t.not_before + 86400 * 365;
		if (serial_generate(t.serial) == 0 &&
		    cert_build(&signer, &t, &der, &len, NULL) == 0) {
			free(der);
			r->ok++;
		}
		d = now(CLOCK_THREAD_CPUTIME_ID);
		r->parse_ns += b - a;
		r->build_ns += d - b;
		csr_free(&c);
	}
	return NULL;
}

/* AlgorithmIdentifier ecdsa-with-SHA256, no parameters. */
static unsigned char	 sigalg[] = { 0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48,
    0xce, 0x3d, 0x04, 0x03, 0x02 };

/* A P-256 CA in memory (what certmint init makes by default). */
static int
make_ca(void)
{
	struct cert_info ci;
	EVP_PKEY	*k;
	char		 err[256];

	memset(&signer, 0, sizeof(signer));
	if (key_generate(KEY_EC_P256, &k, err, sizeof(err)) == -1 ||
	    ca_selfsign(k, "CN=pipeline CA", 365, "sha256", &signer.cert_der,
	    &signer.cert_der_len, err, sizeof(err)) == -1 ||
	    cert_info_parse(signer.cert_der, signer.cert_der_len, &ci, err,
	    sizeof(err)) == -1) {
		fprintf(stderr, "pipeline: %s\n", err);
		return -1;
	}
	signer.key = k;
	signer.key_type = KEY_EC_P256;
	signer.md = EVP_sha256();
	signer.sigalg = sigalg;
	signer.sigalg_len = sizeof(sigalg);
	signer.issuer = ci.subject;
	signer.issuer_len = ci.subject_len;
	ci.subject = NULL;
	if (getenv("PIPELINE_NO_PREPARE") == NULL)
		signer_prepare(&signer);
	signer.cdp_url = "http://127.0.0.1/ca.crl";
	signer.aia_url = "http://127.0.0.1/ca.pem";
	cert_info_free(&ci);
	return 0;
}

int
main(int argc, char *argv[])
{
	struct result	*res;
	pthread_t	*th;
	double		 t0, t1, parse = 0, build = 0;
	long		 count, workers, ok = 0, i;
	int		 procs, fds[2];

	if (argc < 4) {
		fprintf(stderr, "usage: pipeline CSRFILE COUNT WORKERS "
		    "[--processes]\n");
		return 2;
	}
	count = strtol(argv[2], NULL, 10);
	workers = strtol(argv[3], NULL, 10);
	procs = argc > 4 && strcmp(argv[4], "--processes") == 0;
	if (count <= 0 || workers <= 0 ||
	    csrfile_read(argv[1], &csrs, &ncsr) == -1)
		return 2;
	if (ncsr == 0 || make_ca() == -1)
		return 1;
	per_worker = count / workers;
	res = calloc((size_t)workers, sizeof(*res));
	th = calloc((size_t)workers, sizeof(*th));
	if (res == NULL || th == NULL || pipe(fds) == -1)
		return 1;

	t0 = now(CLOCK_MONOTONIC);
	for (i = 0; i < workers; i++) {
		if (!procs) {
			pthread_create(&th[i], NULL, work, &res[i]);
			continue;
		}
		if (fork() == 0) {
			work(&res[i]);
			if (write(fds[1], &res[i], sizeof(res[i])) !=
			    (ssize_t)sizeof(res[i]))
				_exit(1);
			_exit(0);
		}
	}
	for (i = 0; i < workers; i++) {
		if (!procs)
			pthread_join(th[i], NULL);
		else if (read(fds[0], &res[i], sizeof(res[i])) !=
		    (ssize_t)sizeof(res[i]))
			return 1;
	}
	while (procs && wait(NULL) > 0)
		;
	t1 = now(CLOCK_MONOTONIC);
	for (i = 0; i < workers; i++) {
		ok += res[i].ok;
		parse += res[i].parse_ns;
		build += res[i].build_ns;
	}
	printf("mode=%s workers=%ld certs=%ld seconds=%.3f rate=%.0f "
	    "parse_us=%.1f build_us=%.1f\n", procs ? "processes" : "threads",
	    workers, ok, (t1 - t0) / 1e9, (double)ok / ((t1 - t0) / 1e9),
	    parse / (double)ok / 1e3, build / (double)ok / 1e3);
	return ok > 0 ? 0 : 1;
}
