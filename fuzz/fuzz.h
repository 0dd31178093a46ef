/*
 * fuzz.h - shared by the libFuzzer targets (scripts/fuzz.sh builds and
 * runs them; see fuzz/README.md).
 */
#ifndef CM_FUZZ_H
#define CM_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "../tests/unit/crypto/fast/fixture.h"

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* A difference from OpenSSL or a broken promise: report it and crash. */
#define fuzz_fail(what) do {						\
	fprintf(stderr, "fuzz: %s (%s:%d)\n", (what), __FILE__, __LINE__); \
	abort();							\
} while (0)

/* The CA the targets sign with: a P-256 key, delta CRLs on. */
static inline int
fuzz_signer(struct signer *s)
{
	return fx_ca(s, KEY_EC_P256, "fuzz CA", NULL, 1);
}

#endif /* CM_FUZZ_H */
