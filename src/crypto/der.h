/*
 * der.h - a small strict DER reader and writer, internal to src/crypto.
 *
 * Reading: a struct der is a cursor over borrowed bytes. Each read takes one
 * tag-length-value from the front, checking that the length is definite,
 * minimally encoded and inside the cursor; der_enter gives a cursor over the
 * contents of a constructed element, so nested structures are read with the
 * same calls. Only low tag numbers (0-30) are accepted: X.509 and PKCS#10
 * use nothing else. Nothing is allocated except by der_oid_text.
 *
 * Writing: elements are appended to a struct buf. der_open writes a tag and
 * a one-byte placeholder length and returns a mark; der_close fixes the
 * length up, moving the contents when the length needs more bytes. Opens
 * nest. Every writer returns 0, or -1 when memory runs out or the input
 * cannot be encoded; on -1 the buffer holds a partial encoding that the
 * caller should discard.
 */
#ifndef CM_DER_H
#define CM_DER_H

#include <stddef.h>
#include <stdint.h>

#include "../common/common.h"

/* Universal tags (first identifier octet). */
#define DER_BOOLEAN		0x01
#define DER_INTEGER		0x02
#define DER_BITSTRING		0x03
#define DER_OCTETSTRING		0x04
#define DER_NULL		0x05
#define DER_OID			0x06
#define DER_ENUMERATED		0x0a
#define DER_UTF8STRING		0x0c
#define DER_NUMERICSTRING	0x12
#define DER_PRINTABLESTRING	0x13
#define DER_T61STRING		0x14
#define DER_IA5STRING		0x16
#define DER_UTCTIME		0x17
#define DER_GENTIME		0x18
#define DER_VISIBLESTRING	0x1a
#define DER_UNIVERSALSTRING	0x1c
#define DER_BMPSTRING		0x1e
#define DER_SEQUENCE		0x30
#define DER_SET			0x31
/* Context-specific tags: [n] primitive (IMPLICIT) and [n] constructed. */
#define DER_CTX(n)		(0x80 | (n))
#define DER_CTX_CONS(n)		(0xa0 | (n))

/* Longest dotted OID text der_oid_text will produce, and encoded OID. */
#define DER_OID_MAX		128

/* A read cursor: [p, end) are the bytes still to read. */
struct der {
	const unsigned char	*p;
	const unsigned char	*end;
};

/* One element read from a cursor; every pointer is into the cursor's bytes. */
struct der_tlv {
	unsigned int		 tag;	/* identifier octet */
	const unsigned char	*raw;	/* the whole element, header included */
	size_t			 raw_len;
	const unsigned char	*val;	/* the contents */
	size_t			 len;
};

/* Reader (der.c). Each returns 0, or -1 on bad or missing input. */
void	 der_init(struct der *, const unsigned char *, size_t);
int	 der_at_end(const struct der *);	/* 1 when nothing is left */
int	 der_peek(const struct der *);		/* next tag, -1 at end */
int	 der_read(struct der *, struct der_tlv *);	/* any tag */
int	 der_expect(struct der *, unsigned int tag, struct der_tlv *);
/* If the next tag is tag, read it and set *present to 1; else 0. */
int	 der_optional(struct der *, unsigned int tag, struct der_tlv *,
	    int *present);
/* Read a constructed element of the given tag; inner covers its contents. */
int	 der_enter(struct der *, unsigned int tag, struct der *inner);
/* Read exactly one element of the given tag spanning all of the bytes. */
int	 der_whole(const unsigned char *, size_t, unsigned int tag,
	    struct der_tlv *);

/*
 * X.509 pieces. der_algid reads an AlgorithmIdentifier's contents (the OID
 * and optional parameters, *has_params says which). der_spki splits a whole
 * SubjectPublicKeyInfo into algorithm OID, parameters and the
 * subjectPublicKey BIT STRING element.
 */
int	 der_algid(const struct der_tlv *, struct der_tlv *oid,
	    struct der_tlv *params, int *has_params);
int	 der_spki(const unsigned char *, size_t, struct der_tlv *oid,
	    struct der_tlv *params, int *has_params, struct der_tlv *pubkey);
/* Key size in bits of an SPKI's parts (cert.c); 0 when unknown. */
int	 der_spki_bits(const struct der_tlv *alg, const struct der_tlv *params,
	    int has_params, const unsigned char *key, size_t keylen);

/*
 * Decoding contents. der_get_bool accepts only 0x00 and 0xff; der_get_int64
 * a minimal INTEGER or ENUMERATED that fits; der_get_uint_bytes a
 * non-negative INTEGER as its magnitude (leading zero octet dropped);
 * der_get_bitstring a BIT STRING's contents (without the unused-bits
 * octet), refusing set padding bits; der_get_time UTCTime ("YYMMDDHHMMSSZ")
 * or GeneralizedTime ("YYYYMMDDHHMMSSZ") as Unix seconds.
 */
int	 der_get_bool(const struct der_tlv *, int *);
int	 der_get_int64(const struct der_tlv *, int64_t *);
int	 der_get_uint_bytes(const struct der_tlv *, const unsigned char **,
	    size_t *);
int	 der_get_bitstring(const struct der_tlv *, const unsigned char **,
	    size_t *, int *unused_bits);
int	 der_get_time(const struct der_tlv *, int64_t *);

/*
 * OIDs. der_oid_text turns encoded OID contents into a malloc'd dotted
 * string (arcs of any size), NULL on bad input or no memory. der_oid_encode
 * turns dotted text into contents (at most outsz bytes). der_oid_eq tells
 * whether encoded contents are the given dotted OID.
 */
char	*der_oid_text(const unsigned char *, size_t);
int	 der_oid_encode(const char *dotted, unsigned char *out, size_t outsz,
	    size_t *outlen);
int	 der_oid_eq(const unsigned char *, size_t, const char *dotted);

/* Writer (der.c). Each returns 0 or -1. */
int	 der_put_header(struct buf *, unsigned int tag, size_t len);
int	 der_put_tlv(struct buf *, unsigned int tag, const void *, size_t);
int	 der_open(struct buf *, unsigned int tag, size_t *mark);
int	 der_close(struct buf *, size_t mark);
/* INTEGER from an unsigned big-endian magnitude: minimal, with sign octet. */
int	 der_put_uint_bytes(struct buf *, unsigned int tag,
	    const unsigned char *, size_t);
int	 der_put_int64(struct buf *, unsigned int tag, int64_t);
int	 der_put_bool(struct buf *, int);
int	 der_put_null(struct buf *);
int	 der_put_oid(struct buf *, const char *dotted);
int	 der_put_bitstring(struct buf *, const unsigned char *, size_t);
/* A named-bit BIT STRING (keyUsage): bit 0 is the first, trailing 0s cut. */
int	 der_put_named_bits(struct buf *, uint32_t bits);
int	 der_put_octets(struct buf *, const unsigned char *, size_t);
int	 der_put_ia5(struct buf *, unsigned int tag, const char *);
int	 der_put_utf8(struct buf *, const char *);
/* Time: UTCTime for 1950-2049, GeneralizedTime otherwise (RFC 5280). */
int	 der_put_time(struct buf *, int64_t);
int	 der_put_gentime(struct buf *, int64_t);	/* always Generalized */

/*
 * The SIGNED{} wrapper of certificates and CRLs: sign b->data[tbs_start..
 * b->len) (the whole to-be-signed element) with the signer's key and
 * digest, then append the signer's AlgorithmIdentifier and the signature
 * BIT STRING. Safe to call from many threads with one signer. Returns 0
 * or -1 (logged).
 */
struct signer;
int	 der_put_signature(struct buf *, size_t tbs_start,
	    const struct signer *);

#endif /* CM_DER_H */
