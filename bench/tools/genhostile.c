/*
 * genhostile - write N worst-case PKCS#10 requests to FILE (gencsr's
 * format, for loadgen): each as large as max_body (64 KiB by default)
 * allows and built to cost the CA the most, in turn:
 *
 *   exts64     64 extensions (the cap) of 900-octet values: parsed,
 *              stored and issued
 *   exts3k     3,500 small extensions (refused past the cap)
 *   rsaexp     an RSA key with a 3070-bit public exponent (refused before
 *              any arithmetic with it)
 *   attrs3k    3,000 challengePassword attributes (refused at the second)
 *   sans5k     a subjectAltName of 5,000 DNS names (refused past the cap)
 *   bigext     one 60 KiB extension value: issued
 *   subject64  64 RDNs of 64-character CNs: issued
 *
 * All but rsaexp carry a valid P-256 signature, so that they get past the
 * signature to the parsing they attack. Used by bench/hostile.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

/* A growable DER buffer: only what the requests need. */
struct b {
	unsigned char	*p;
	size_t		 len, cap;
};

static void
put(struct b *b, const void *p, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2;
		if ((b->p = realloc(b->p, b->cap)) == NULL)
			abort();
	}
	if (n > 0)
		memcpy(b->p + b->len, p, n);
	b->len += n;
}

/* tag, length, contents */
static void
tlv(struct b *b, unsigned char tag, const void *p, size_t n)
{
	unsigned char	 h[6];
	size_t		 k = 0;

	h[k++] = tag;
	if (n < 0x80)
		h[k++] = (unsigned char)n;
	else if (n < 0x100) {
		h[k++] = 0x81;
		h[k++] = (unsigned char)n;
	} else if (n < 0x10000) {
		h[k++] = 0x82;
		h[k++] = (unsigned char)(n >> 8);
		h[k++] = (unsigned char)n;
	} else {
		h[k++] = 0x83;
		h[k++] = (unsigned char)(n >> 16);
		h[k++] = (unsigned char)(n >> 8);
		h[k++] = (unsigned char)n;
	}
	put(b, h, k);
	put(b, p, n);
}

/* Wrap b's contents in tag. */
static void
wrap(struct b *b, unsigned char tag)
{
	struct b	 o = { 0 };

	tlv(&o, tag, b->p, b->len);
	free(b->p);
	*b = o;
}

static const unsigned char OID_CN[] = { 0x06, 0x03, 0x55, 0x04, 0x03 };
static const unsigned char OID_EXTREQ[] = { 0x06, 0x09, 0x2a, 0x86, 0x48,
    0x86, 0xf7, 0x0d, 0x01, 0x09, 0x0e };
static const unsigned char OID_PW[] = { 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
    0xf7, 0x0d, 0x01, 0x09, 0x07 };
static const unsigned char OID_SAN[] = { 0x06, 0x03, 0x55, 0x1d, 0x11 };
static const unsigned char ECDSA_SHA256[] = { 0x30, 0x0a, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02 };
static const unsigned char RSA_ALG[] = { 0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86,
    0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00 };

/* Name { SET { CN=cn } } x n */
static void
subject(struct b *out, const char *cn, int n)
{
	struct b	 name = { 0 }, atv = { 0 };
	int		 i;

	for (i = 0; i < n; i++) {
		atv.len = 0;
		put(&atv, OID_CN, sizeof(OID_CN));
		tlv(&atv, 0x0c, cn, strlen(cn));
		wrap(&atv, 0x30);
		tlv(&name, 0x31, atv.p, atv.len);
	}
	tlv(out, 0x30, name.p, name.len);
	free(name.p);
	free(atv.p);
}

/* One extension 1.3.6.1.4.1.99999.i with an OCTET STRING of len bytes. */
static void
extension(struct b *exts, unsigned i, size_t len)
{
	unsigned char	 oid[12] = { 0x2b, 0x06, 0x01, 0x04, 0x01, 0x86, 0x8d,
	    0x1f };
	size_t		 olen = 8;
	struct b	 e = { 0 }, v = { 0 };
	unsigned char	*z = calloc(1, len ? len : 1);

	if (z == NULL)
		abort();
	if (i >= 128)
		oid[olen++] = (unsigned char)(0x80 | (i >> 7));
	oid[olen++] = (unsigned char)(i & 0x7f);
	tlv(&e, 0x06, oid, olen);
	tlv(&v, 0x04, z, len);
	tlv(&e, 0x04, v.p, v.len);
	tlv(exts, 0x30, e.p, e.len);
	free(z);
	free(e.p);
	free(v.p);
}

/* [0] { extensionRequest { exts } } */
static void
extreq(struct b *attrs, const struct b *exts)
{
	struct b	 a = { 0 }, set = { 0 };

	put(&a, OID_EXTREQ, sizeof(OID_EXTREQ));
	tlv(&set, 0x30, exts->p, exts->len);
	tlv(&a, 0x31, set.p, set.len);
	tlv(attrs, 0x30, a.p, a.len);
	free(a.p);
	free(set.p);
}

/* The whole request: CRI from its parts, signed with key (NULL: zeros). */
static void
request(struct b *out, const struct b *subj, const unsigned char *spki,
    size_t spkilen, const struct b *attrs, EVP_PKEY *key)
{
	struct b	 cri = { 0 }, sig = { 0 };
	static const unsigned char v0[] = { 0x02, 0x01, 0x00 };
	unsigned char	 s[256];
	size_t		 slen = sizeof(s);
	EVP_MD_CTX	*ctx = EVP_MD_CTX_new();

	put(&cri, v0, sizeof(v0));
	put(&cri, subj->p, subj->len);
	put(&cri, spki, spkilen);
	tlv(&cri, 0xa0, attrs->p, attrs->len);
	wrap(&cri, 0x30);
	memset(s, 0, sizeof(s));
	if (key != NULL && (ctx == NULL ||
	    EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key) != 1 ||
	    EVP_DigestSign(ctx, s, &slen, cri.p, cri.len) != 1))
		abort();
	if (key == NULL)
		slen = 64;
	put(&sig, "", 1);	/* no unused bits */
	put(&sig, s, slen);
	out->len = 0;
	put(out, cri.p, cri.len);
	put(out, ECDSA_SHA256, sizeof(ECDSA_SHA256));
	tlv(out, 0x03, sig.p, sig.len);
	wrap(out, 0x30);
	EVP_MD_CTX_free(ctx);
	free(cri.p);
	free(sig.p);
}

/* Request i of the rotation into out. */
static void
hostile(struct b *out, long i, EVP_PKEY *key, const unsigned char *spki,
    size_t spkilen)
{
	struct b	 subj = { 0 }, attrs = { 0 }, exts = { 0 }, x = { 0 };
	char		 cn[65];
	unsigned	 k;

	memset(cn, 'h', 64);
	cn[64] = '\0';
	subject(&subj, "hostile.example", 1);
	switch (i % 7) {
	case 0:		/* exts64 */
		for (k = 0; k < 64; k++)
			extension(&exts, k + 1, 900);
		extreq(&attrs, &exts);
		break;
	case 1:		/* exts3k: as many as 64 KiB holds */
		for (k = 0; k < 3500; k++)
			extension(&exts, k + 1, 0);
		extreq(&attrs, &exts);
		break;
	case 2: {	/* rsaexp: unsigned, refused before the signature */
		struct b rk = { 0 }, bits = { 0 }, sp = { 0 };
		unsigned char n[257], e[385];

		memset(n, 0xc5, sizeof(n));
		n[0] = 0;
		memset(e, 0xff, sizeof(e));
		e[0] = 0x7f;
		tlv(&rk, 0x02, n, sizeof(n));
		tlv(&rk, 0x02, e, sizeof(e));
		wrap(&rk, 0x30);
		put(&bits, "", 1);
		put(&bits, rk.p, rk.len);
		put(&sp, RSA_ALG, sizeof(RSA_ALG));
		tlv(&sp, 0x03, bits.p, bits.len);
		wrap(&sp, 0x30);
		request(out, &subj, sp.p, sp.len, &attrs, NULL);
		free(rk.p);
		free(bits.p);
		free(sp.p);
		free(subj.p);
		return;
	}
	case 3:		/* attrs3k: as many as 64 KiB holds */
		for (k = 0; k < 3000; k++) {
			x.len = 0;
			put(&x, OID_PW, sizeof(OID_PW));
			tlv(&x, 0x31, "\x13\x02pw", 4);
			tlv(&attrs, 0x30, x.p, x.len);
		}
		break;
	case 4: {	/* sans5k: as many as 64 KiB holds */
		struct b names = { 0 }, ext = { 0 }, v = { 0 };

		for (k = 0; k < 5000; k++)
			tlv(&names, 0x82, "a.example", 9);
		wrap(&names, 0x30);
		put(&ext, OID_SAN, sizeof(OID_SAN));
		tlv(&v, 0x04, names.p, names.len);
		put(&ext, v.p, v.len);
		tlv(&exts, 0x30, ext.p, ext.len);
		extreq(&attrs, &exts);
		free(names.p);
		free(ext.p);
		free(v.p);
		break;
	}
	case 5:		/* bigext */
		extension(&exts, 1, 60000);
		extreq(&attrs, &exts);
		break;
	default:	/* subject64 */
		subj.len = 0;
		subject(&subj, cn, 64);
		break;
	}
	request(out, &subj, spki, spkilen, &attrs, key);
	free(subj.p);
	free(attrs.p);
	free(exts.p);
	free(x.p);
}

int
main(int argc, char *argv[])
{
	EVP_PKEY	*key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	unsigned char	*spki = NULL, hdr[4];
	struct b	 r = { 0 };
	FILE		*out;
	long		 i, n;
	int		 spkilen;

	if (argc != 3) {
		fprintf(stderr, "usage: genhostile N FILE\n");
		return 2;
	}
	n = strtol(argv[1], NULL, 10);
	if (key == NULL || (spkilen = i2d_PUBKEY(key, &spki)) <= 0 ||
	    (out = fopen(argv[2], "wb")) == NULL) {
		perror(argv[2]);
		return 1;
	}
	for (i = 0; i < n; i++) {
		hostile(&r, i, key, spki, (size_t)spkilen);
		hdr[0] = (unsigned char)(r.len >> 24);
		hdr[1] = (unsigned char)(r.len >> 16);
		hdr[2] = (unsigned char)(r.len >> 8);
		hdr[3] = (unsigned char)r.len;
		fwrite(hdr, 1, 4, out);
		fwrite(r.p, 1, r.len, out);
	}
	free(r.p);
	OPENSSL_free(spki);
	EVP_PKEY_free(key);
	return fclose(out) == 0 ? 0 : 1;
}
