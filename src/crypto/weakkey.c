/*
 * weakkey.c - public keys that prove nothing: an RSA modulus with a small
 * factor (CA/Browser Forum BR 6.1.6: odd, no factor below 752), an
 * Ed25519 point of small order (with R the identity and S = 0, a
 * signature "verifies" for every message). Checked on the keys of
 * requests and of ACME accounts, before either is trusted.
 */
#include <stddef.h>

#include "crypto.h"

/* The odd primes below 752. */
static const unsigned short small_primes[] = {
	3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67,
	71, 73, 79, 83, 89, 97, 101, 103, 107, 109, 113, 127, 131, 137, 139,
	149, 151, 157, 163, 167, 173, 179, 181, 191, 193, 197, 199, 211, 223,
	227, 229, 233, 239, 241, 251, 257, 263, 269, 271, 277, 281, 283, 293,
	307, 311, 313, 317, 331, 337, 347, 349, 353, 359, 367, 373, 379, 383,
	389, 397, 401, 409, 419, 421, 431, 433, 439, 443, 449, 457, 461, 463,
	467, 479, 487, 491, 499, 503, 509, 521, 523, 541, 547, 557, 563, 569,
	571, 577, 587, 593, 599, 601, 607, 613, 617, 619, 631, 641, 643, 647,
	653, 659, 661, 673, 677, 683, 691, 701, 709, 719, 727, 733, 739, 743,
	751,
};

const char *
rsa_modulus_weak(const unsigned char *n, size_t len)
{
	size_t		 i, j;
	unsigned int	 r;

	if (len == 0 || !(n[len - 1] & 1))
		return "the RSA modulus is even";
	for (i = 0; i < sizeof(small_primes) / sizeof(small_primes[0]); i++) {
		for (r = 0, j = 0; j < len; j++)
			r = (r * 256 + n[j]) % small_primes[i];
		if (r == 0)
			return "the RSA modulus has a factor below 752";
	}
	return NULL;
}

/*
 * The encodings of the points of order 1, 2, 4 and 8, the sign bit
 * (bit 255) aside: 0, 1 and the two of order 8 here; p - 1, and p and
 * p + 1 (non-canonical 0 and 1) below. The list libsodium checks against.
 */
static const unsigned char small_order[][32] = {
	{ 0 },
	{ 0x01 },
	{ 0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4,
	  0x89, 0xf2, 0xef, 0x98, 0xf0, 0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6,
	  0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53, 0xfc, 0x05 },
	{ 0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b,
	  0x76, 0x0d, 0x10, 0x67, 0x0f, 0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39,
	  0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac, 0x03, 0x7a },
};

int
ed25519_small_order(const unsigned char pub[32])
{
	size_t		 i, j;
	unsigned char	 diff;

	for (i = 0; i < sizeof(small_order) / sizeof(small_order[0]); i++) {
		for (diff = 0, j = 0; j < 31; j++)
			diff |= pub[j] ^ small_order[i][j];
		diff |= (pub[31] & 0x7f) ^ small_order[i][31];
		if (diff == 0)
			return 1;
	}
	/* p - 1, p, p + 1: ec, ed, ee, then 30 times ff, then 7f. */
	if (pub[0] < 0xec || pub[0] > 0xee || (pub[31] & 0x7f) != 0x7f)
		return 0;
	for (j = 1; j < 31; j++)
		if (pub[j] != 0xff)
			return 0;
	return 1;
}
