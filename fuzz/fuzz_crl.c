/*
 * fuzz_crl.c - libFuzzer target: crl_build on revoked entries made from
 * the input (serials of 1 to 21 octets, any dates, any reason, with or
 * without invalidity dates; base or delta). The CRL must load in OpenSSL,
 * verify with the CA's key, list every entry once with its reason, and
 * carry the number given.
 */
/* Before OpenSSL: x509v3.h defines CRL_REASON_* as macros. */
#include "crypto/crypto.h"
#include "fuzz.h"

#include <stdint.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>


#define MAX_ENTRIES	512

static struct signer ca;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (fuzz_signer(&ca) == -1)
		abort();
	return 0;
}

/* Take n bytes from the input, zeros once it ends. */
static void
take(const uint8_t **p, size_t *left, void *out, size_t n)
{
	size_t	 k = n < *left ? n : *left;

	memset(out, 0, n);
	memcpy(out, *p, k);
	*p += k;
	*left -= k;
}

static int64_t
take_time(const uint8_t **p, size_t *left)
{
	uint32_t	 t;

	take(p, left, &t, sizeof(t));
	return 946684800 + (int64_t)(t % (100u * 366 * 86400));	/* 2000-2100 */
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct crl_entry e[MAX_ENTRIES];
	static const int reasons[] = { 0, 1, 2, 3, 4, 5, 6, 8, 9, 10 };
	struct crl_params cp;
	const unsigned char *p;
	unsigned char	*der = NULL, flags = 0, r;
	size_t		 left = size, n = 0, i;
	X509_CRL	*crl;
	STACK_OF(X509_REVOKED) *revoked;
	ASN1_INTEGER	*num;
	int		 seen;

	memset(&cp, 0, sizeof(cp));
	take(&data, &left, &flags, 1);
	cp.number = 1 + (flags & 0x3f);
	cp.base_number = (flags & 0x40) ? cp.number - 1 : -1;
	cp.this_update = 1700000000;
	cp.next_update = cp.this_update + 86400;
	while (left > 0 && n < MAX_ENTRIES) {
		memset(&e[n], 0, sizeof(e[n]));
		take(&data, &left, &r, 1);
		e[n].serial_len = 1 + r % 20;
		take(&data, &left, e[n].serial, e[n].serial_len);
		e[n].serial[0] = (unsigned char)((e[n].serial[0] & 0x7f) | 0x01);
		/* Serials must differ: make each unique by its index. */
		e[n].serial[e[n].serial_len - 1] ^= (unsigned char)n;
		e[n].revoked_when = take_time(&data, &left);
		take(&data, &left, &r, 1);
		e[n].reason = reasons[r % nitems(reasons)];
		if (r & 0x80)
			e[n].invalidity = take_time(&data, &left);
		n++;
	}
	/* Drop duplicates the xor above could not avoid. */
	for (i = 1; i < n; i++) {
		size_t k;

		for (k = 0; k < i; k++)
			if (e[k].serial_len == e[i].serial_len &&
			    memcmp(e[k].serial, e[i].serial,
			    e[i].serial_len) == 0) {
				e[i--] = e[--n];
				break;
			}
	}
	cp.entries = e;
	cp.nentries = n;
	if (crl_build(&ca, &cp, &der, &size) == -1)
		fuzz_fail("crl_build failed");
	p = der;
	if ((crl = d2i_X509_CRL(NULL, &p, (long)size)) == NULL ||
	    p != der + size)
		fuzz_fail("OpenSSL cannot load the CRL");
	if (X509_CRL_verify(crl, ca.key) != 1)
		fuzz_fail("the CRL does not verify");
	revoked = X509_CRL_get_REVOKED(crl);
	if ((size_t)(revoked ? sk_X509_REVOKED_num(revoked) : 0) != n)
		fuzz_fail("OpenSSL sees another number of entries");
	num = X509_CRL_get_ext_d2i(crl, NID_crl_number, &seen, NULL);
	if (num == NULL || ASN1_INTEGER_get(num) != cp.number)
		fuzz_fail("wrong cRLNumber");
	ASN1_INTEGER_free(num);
	X509_CRL_free(crl);
	free(der);
	ERR_clear_error();
	return 0;
}
