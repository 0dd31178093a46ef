/*
 * fuzz_dns.c - libFuzzer target: DNS replies, as the configured resolver
 * (or someone spoofing it) could send them, read by the VA's stub
 * resolver (src/acme/validate_dns.c: va_dns_reply_read on the reply to a
 * query made by va_dns_query_build), in the loop va_dns_lookup runs: a CNAME
 * chain that ends without data asks again for its end.
 *
 * Input: one byte, then replies, each two bytes of length (big-endian)
 * and that many bytes (the last one takes what is left). The byte picks
 * the type asked (its bits 0-1: A, AAAA, TXT, CNAME), the name
 * (bit 2: "example.org" or "_acme-challenge.example.org") and whether
 * the callback stops at the first record (bit 3). Queries have ID 0x1234.
 *
 * What must hold (else abort), beyond no crash, leak or undefined
 * behaviour (each reply is a buffer of its own size, so that ASan sees
 * a read past it): the answer is DNS_READ_BAD, DNS_READ_LOOP or an RCODE;
 * every record handed to the callback lies inside the reply (its
 * character strings walked, for TXT, as dns01_match walks them), as many
 * as *count says;
 * CNAMEs followed are counted, DNS_MAX_CNAME (8) at most over the whole
 * lookup; the name reported (the chain's end) is lowercase letters,
 * digits, '-', '_' and \DDD escapes of the other bytes, labels of 1 to 63
 * bytes, 253 characters at most once unescaped; compression loops end
 * (libFuzzer's -timeout).
 */
#include "acme/validate_int.h"
#include "common/common.h"
#include "fuzz.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_REPLIES	12
#define QUERY_ID	0x1234
#define MAX_CNAME	8	/* validate_dns.c's DNS_MAX_CNAME */

static const int qtypes[] = { DNS_T_A, DNS_T_AAAA, DNS_T_TXT, DNS_T_CNAME };
static int	 trace;		/* $FUZZ_DNS_TRACE: print each reply read */

/* What the callback sees of one reply. */
struct seen {
	const unsigned char	*r;
	size_t			 rlen;
	int			 qtype, calls, stop;
	unsigned int		 sum;	/* every byte handed over read, for ASan */
};

/* va_rr_fn: the record must lie in the reply, TXT strings in the record. */
static int
rr_check(void *arg, const unsigned char *rd, size_t len)
{
	struct seen	*s = arg;
	size_t		 i, p;

	s->calls++;
	if (rd < s->r || len > s->rlen || rd + len > s->r + s->rlen)
		fuzz_fail("a record outside the reply");
	if (len > 65535)
		fuzz_fail("a record longer than RDLENGTH can say");
	for (i = 0; i < len; i++)
		s->sum += rd[i];
	/* TXT: character strings, as dns01_match walks them. */
	if (s->qtype == DNS_T_TXT) {
		for (p = 0; p < len; p += 1 + rd[p])
			if (p + 1 + rd[p] > len)
				break;	/* malformed: dns01_match stops */
	}
	return s->stop;
}

/*
 * Is n a name as dns_name_read writes it: lowercase letters, digits, '-',
 * '_' and \DDD for any other byte, labels of 1 to 63 bytes joined by
 * '.', 253 characters at most unescaped ("" is the root)?
 */
static void
name_check(const char *n)
{
	size_t	 i, label = 0, total = 0, len;
	int	 c;

	if ((len = strnlen(n, DNS_MAX_NAME)) == DNS_MAX_NAME)
		fuzz_fail("a name without its NUL");
	for (i = 0; i < len; i++) {
		if (n[i] == '.') {
			if (label == 0)
				fuzz_fail("an empty label");
			label = 0;
			total++;
			continue;
		}
		if (n[i] == '\\') {
			if (i + 3 >= len || !isdigit((unsigned char)
			    n[i + 1]) || !isdigit((unsigned char)n[i + 2]) ||
			    !isdigit((unsigned char)n[i + 3]))
				fuzz_fail("a \\ that is not \\DDD");
			c = (n[i + 1] - '0') * 100 + (n[i + 2] - '0') * 10 +
			    n[i + 3] - '0';
			if (c > 255 || isalnum(c) || c == '-' || c == '_')
				fuzz_fail("\\DDD for a byte that is written "
				    "as is, or past 255");
			i += 3;
		} else if (!islower((unsigned char)n[i]) &&
		    !isdigit((unsigned char)n[i]) && n[i] != '-' &&
		    n[i] != '_')
			fuzz_fail("a byte in a name that is not escaped");
		if (++label > 63)
			fuzz_fail("a label of more than 63 bytes");
		total++;
	}
	if (len > 0 && label == 0)
		fuzz_fail("a name that ends with a dot");
	if (total > 253)
		fuzz_fail("a name of more than 253 characters");
}

/*
 * The query for name: built, its question the name (labels in order)
 * with qtype and class IN, and the OPT record after. Its length, or -1
 * when name does not fit.
 */
static int
query_check(unsigned char *q, const char *name, int qtype)
{
	char	 back[300];
	size_t	 o = 12, b = 0;
	int	 qlen;

	if ((qlen = va_dns_query_build(q, QUERY_ID, name, qtype)) == -1)
		return -1;
	if (qlen < 12 + 1 + 4 + 11 || qlen > 512)
		fuzz_fail("a query of a bad length");
	while (q[o] != 0) {
		if (q[o] > 63 || o + 1 + q[o] >= (size_t)qlen ||
		    b + q[o] + 1 >= sizeof(back))
			fuzz_fail("a query with a bad label");
		if (b > 0)
			back[b++] = '.';
		memcpy(back + b, q + o + 1, q[o]);
		b += q[o];
		o += 1 + q[o];
	}
	back[b] = '\0';
	if (strcmp(back, name) != 0 || o + 5 + 11 != (size_t)qlen ||
	    (q[o + 1] << 8 | q[o + 2]) != qtype || q[o + 4] != 1)
		fuzz_fail("a query not for its name and type");
	return qlen;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	trace = getenv("FUZZ_DNS_TRACE") != NULL;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char	 q[512], *r;
	char		 target[DNS_MAX_NAME], before[DNS_MAX_NAME];
	struct seen	 s;
	size_t		 off = 1, rlen, qsec, i;
	int		 qtype, qlen, hops = 0, last_hops, count, followed;
	int		 rcode, n;

	if (size < 1)
		return 0;
	qtype = qtypes[data[0] & 3];
	strlcpy_cm(target, data[0] & 4 ? "_acme-challenge.example.org" :
	    "example.org", sizeof(target));
	memset(&s, 0, sizeof(s));
	s.qtype = qtype;
	s.stop = (data[0] & 8) != 0;
	for (n = 0; n < MAX_REPLIES && off < size; n++) {
		/* As va_dns_lookup asks. */
		for (i = 0; target[i] != '\0'; i++)
			target[i] = (char)tolower((unsigned char)target[i]);
		if (!va_dns_name_ok(target) ||
		    (qlen = query_check(q, target, qtype)) == -1)
			break;
		qsec = (size_t)qlen - 12 - 11;
		if (off + 2 <= size) {
			rlen = (size_t)data[off] << 8 | data[off + 1];
			off += 2;
		} else
			rlen = 0;
		if (rlen > size - off)
			rlen = size - off;
		if ((r = malloc(rlen > 0 ? rlen : 1)) == NULL)
			abort();
		memcpy(r, data + off, rlen);
		off += rlen;
		s.r = r;
		s.rlen = rlen;
		s.calls = 0;
		strlcpy_cm(before, target, sizeof(before));
		last_hops = hops;
		count = followed = -1;
		rcode = va_dns_reply_read(r, rlen, qsec, qtype, target, &hops,
		    rr_check, &s, &count, &followed);
		free(r);
		if (trace)
			fprintf(stderr, "reply %d: %d, %d records, hops %d, "
			    "target %s\n", n, rcode, count, hops, target);
		if (rcode != DNS_READ_BAD && rcode != DNS_READ_LOOP &&
		    (rcode < 0 || rcode > 15))
			fuzz_fail("an answer that is no RCODE");
		if (hops < last_hops || hops > MAX_CNAME + 1)
			fuzz_fail("CNAMEs counted wrong");
		name_check(target);
		if (rcode == DNS_READ_BAD || rcode == DNS_READ_LOOP)
			break;
		if (count != s.calls)
			fuzz_fail("*count is not the records handed over");
		if (s.stop && count > 1)
			fuzz_fail("the callback said stop, more came");
		if (followed != (hops > last_hops))
			fuzz_fail("*followed is not the CNAMEs counted");
		if (!followed && strcmp(before, target) != 0)
			fuzz_fail("the target changed without a CNAME");
		if (rcode != 0 || count > 0 || !followed)
			break;
	}
	return 0;
}
