/*
 * reqext.c - what a certificate profile takes from a request beyond its
 * names and key: the keyUsage and extendedKeyUsage it asks for, and its
 * subject without the attributes a profile drops.
 */
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "der.h"

#define OID_KU	"2.5.29.15"
#define OID_EKU	"2.5.29.37"

static const struct x509_ext *
ext_find(const struct csr *c, const char *oid)
{
	size_t	 i;

	for (i = 0; i < c->nexts; i++)
		if (strcmp(c->exts[i].oid, oid) == 0)
			return &c->exts[i];
	return NULL;
}

int
csr_key_usage(const struct csr *c, uint32_t *bits)
{
	const struct x509_ext *e;
	struct der_tlv	 t;
	const unsigned char *p;
	size_t		 n, i;
	int		 unused;

	*bits = 0;
	if ((e = ext_find(c, OID_KU)) == NULL)
		return 0;
	if (der_whole(e->value, e->len, DER_BITSTRING, &t) == -1 ||
	    der_get_bitstring(&t, &p, &n, &unused) == -1 || n > 2)
		return -1;
	/* Bit 0 is the most significant bit of the first octet. */
	for (i = 0; i < n * 8; i++)
		if (p[i / 8] & (0x80 >> (i % 8)))
			*bits |= 1u << i;
	return *bits != 0 ? 1 : -1;
}

int
csr_eku(const struct csr *c, char ***oids, size_t *n)
{
	const struct x509_ext *e;
	struct der_tlv	 t, o;
	struct der	 d;
	char		**v = NULL, *s;

	*oids = NULL;
	*n = 0;
	if ((e = ext_find(c, OID_EKU)) == NULL)
		return 0;
	if (der_whole(e->value, e->len, DER_SEQUENCE, &t) == -1)
		return -1;
	der_init(&d, t.val, t.len);
	while (!der_at_end(&d)) {
		if (*n >= 32 || der_expect(&d, DER_OID, &o) == -1 ||
		    (s = der_oid_text(o.val, o.len)) == NULL)
			goto bad;
		if ((v = reallocarray(*oids, *n + 1, sizeof(*v))) == NULL) {
			free(s);
			goto bad;
		}
		*oids = v;
		v[(*n)++] = s;
	}
	if (*n > 0)
		return 1;
bad:
	while (*n > 0)
		free((*oids)[--*n]);
	free(*oids);
	*oids = NULL;
	return -1;
}

int
name_drop(const unsigned char *name, size_t len, const char *oid,
    unsigned char **out, size_t *outlen)
{
	struct buf	 b = { 0 };
	struct der_tlv	 t, set, atv, type;
	struct der	 rdns, rdn, a;
	size_t		 m, ms, kept;

	*out = NULL;
	*outlen = 0;
	if (der_whole(name, len, DER_SEQUENCE, &t) == -1 ||
	    der_open(&b, DER_SEQUENCE, &m) == -1)
		goto fail;
	der_init(&rdns, t.val, t.len);
	while (!der_at_end(&rdns)) {
		if (der_expect(&rdns, DER_SET, &set) == -1 ||
		    der_open(&b, DER_SET, &ms) == -1)
			goto fail;
		der_init(&rdn, set.val, set.len);
		for (kept = 0; !der_at_end(&rdn);) {
			if (der_expect(&rdn, DER_SEQUENCE, &atv) == -1)
				goto fail;
			der_init(&a, atv.val, atv.len);
			if (der_expect(&a, DER_OID, &type) == -1)
				goto fail;
			if (der_oid_eq(type.val, type.len, oid))
				continue;
			if (buf_append(&b, atv.raw, atv.raw_len) == -1)
				goto fail;
			kept++;
		}
		if (der_close(&b, ms) == -1)
			goto fail;
		/* An RDN left empty goes: take back its SET header. */
		if (kept == 0)
			b.len = ms - 1;
	}
	if (der_close(&b, m) == -1)
		goto fail;
	*outlen = b.len;
	if ((*out = (unsigned char *)buf_steal(&b)) == NULL)
		goto fail;
	return 0;
fail:
	buf_free(&b);
	return -1;
}
