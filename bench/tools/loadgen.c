/*
 * loadgen - submit the requests of a gencsr file to certmintd over HTTP
 * with C concurrent keep-alive connections (libcurl multi), and print
 * "ok=N failed=M seconds=S rate=R" (R: certificates per second).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

struct csr {
	unsigned char	*der;
	size_t		 len;
};

static size_t
discard(char *p, size_t sz, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return sz * n;
}

static double
now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static CURL *
make_easy(const char *url, struct curl_slist *hdrs, const struct csr *c)
{
	CURL	*e = curl_easy_init();

	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, c->der);
	curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)c->len);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(e, CURLOPT_TIMEOUT, 60L);
	return e;
}

int
main(int argc, char *argv[])
{
	struct csr	*csrs = NULL;
	size_t		 ncsr = 0, cap = 0, next = 0, done = 0, ok = 0;
	unsigned char	 hdr[4];
	struct curl_slist *hdrs = NULL;
	CURLM		*m;
	CURLMsg		*msg;
	FILE		*f;
	long		 conc, count, code;
	int		 running, left, i;
	double		 t0, t;
	char		 url[1024];

	if (argc != 5) {
		fprintf(stderr, "usage: loadgen BASE_URL CSRFILE CONCURRENCY "
		    "COUNT\n");
		return 2;
	}
	snprintf(url, sizeof(url), "%s/api/v1/requests", argv[1]);
	conc = strtol(argv[3], NULL, 10);
	count = strtol(argv[4], NULL, 10);
	if ((f = fopen(argv[2], "rb")) == NULL) {
		perror(argv[2]);
		return 1;
	}
	while (fread(hdr, 1, 4, f) == 4) {
		size_t	 len = (size_t)hdr[0] << 24 | (size_t)hdr[1] << 16 |
			    (size_t)hdr[2] << 8 | hdr[3];

		if (ncsr == cap) {
			cap = cap ? cap * 2 : 1024;
			csrs = realloc(csrs, cap * sizeof(*csrs));
		}
		csrs[ncsr].der = malloc(len);
		csrs[ncsr].len = len;
		if (fread(csrs[ncsr].der, 1, len, f) != len)
			break;
		ncsr++;
	}
	fclose(f);
	if (ncsr == 0 || count <= 0 || conc <= 0)
		return 2;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	hdrs = curl_slist_append(hdrs, "Content-Type: application/pkcs10");
	hdrs = curl_slist_append(hdrs, "Expect:");
	m = curl_multi_init();
	curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, conc);
	t0 = now();
	for (i = 0; i < conc && next < (size_t)count; i++, next++)
		curl_multi_add_handle(m, make_easy(url, hdrs,
		    &csrs[next % ncsr]));
	do {
		curl_multi_perform(m, &running);
		while ((msg = curl_multi_info_read(m, &left)) != NULL) {
			if (msg->msg != CURLMSG_DONE)
				continue;
			code = 0;
			curl_easy_getinfo(msg->easy_handle,
			    CURLINFO_RESPONSE_CODE, &code);
			if (msg->data.result == CURLE_OK && code == 201)
				ok++;
			done++;
			curl_multi_remove_handle(m, msg->easy_handle);
			if (next < (size_t)count) {
				/* Reuse the handle: keeps its connection. */
				curl_easy_setopt(msg->easy_handle,
				    CURLOPT_POSTFIELDS, csrs[next % ncsr].der);
				curl_easy_setopt(msg->easy_handle,
				    CURLOPT_POSTFIELDSIZE,
				    (long)csrs[next % ncsr].len);
				curl_multi_add_handle(m, msg->easy_handle);
				next++;
			} else
				curl_easy_cleanup(msg->easy_handle);
		}
		if (running || next < (size_t)count || done < (size_t)count)
			curl_multi_poll(m, NULL, 0, 100, NULL);
	} while (done < (size_t)count);
	t = now() - t0;
	printf("ok=%zu failed=%zu seconds=%.3f rate=%.0f\n", ok, done - ok, t,
	    (double)ok / t);
	curl_multi_cleanup(m);
	curl_slist_free_all(hdrs);
	curl_global_cleanup();
	return 0;
}
