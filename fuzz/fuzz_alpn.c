/*
 * fuzz_alpn.c - libFuzzer target: the certificate a tls-alpn-01 responder
 * sends (DER), checked as va_tlsalpn01 checks it after the handshake
 * (src/crypto/acme_tls.c: acme_tls_alpn_cert_check), for a DNS name and
 * for an IPv4 and an IPv6 identifier, with a fixed key authorization.
 *
 * What must hold (else abort), beyond no crash, leak or undefined
 * behaviour: the answer is 1, 0 or -1, -1 exactly when OpenSSL does not
 * read the bytes as one certificate, a 0 or -1 with a reason; a 1 only
 * for a certificate OpenSSL reads with one subjectAltName extension of
 * one name, the identifier, and one critical acmeIdentifier extension
 * whose OCTET STRING is SHA-256 of the key authorization; and a 1 for
 * every such certificate whose extensions are DER.
 */
#include "crypto/acme_tls.h"
#include "fuzz.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#define KEY_AUTHZ	"evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA." \
			"MMskuWt_46ZNekQLJYrz0LKVPiZFKRczuXPdFxtJ2SQ"
#define ACME_ID		"1.3.6.1.5.5.7.1.31"

static const struct {
	const char	*identifier;
	int		 is_ip;
} ids[] = {
	{ "example.org", 0 },
	{ "192.0.2.1", 1 },
	{ "2001:db8::1", 1 },
};

static ASN1_OBJECT	*acme_id;
static int		 trace;	/* $FUZZ_ALPN_TRACE: print each answer */
static unsigned char	 want[34];	/* 04 20 SHA-256(KEY_AUTHZ) */

/* The one extension of x with that object, or NULL (none or several). */
static X509_EXTENSION *
only_ext(X509 *x, const ASN1_OBJECT *obj)
{
	X509_EXTENSION	*e, *found = NULL;
	int		 i;

	for (i = 0; i < X509_get_ext_count(x); i++) {
		e = X509_get_ext(x, i);
		if (OBJ_cmp(X509_EXTENSION_get_object(e), obj) != 0)
			continue;
		if (found != NULL)
			return NULL;
		found = e;
	}
	return found;
}

/*
 * The value of an OCTET STRING TLV that is all of p (n bytes), any form
 * of length: its start, or NULL.
 */
static const unsigned char *
octets(const unsigned char *p, size_t n, size_t *len)
{
	size_t	 o = 2, l, i;

	if (n < 2 || p[0] != 0x04)
		return NULL;
	if (p[1] < 0x80)
		l = p[1];
	else {
		if (p[1] == 0x80 || (p[1] & 0x7f) > 4 || n < 2 +
		    (size_t)(p[1] & 0x7f))
			return NULL;
		for (l = 0, i = 0; i < (size_t)(p[1] & 0x7f); i++)
			l = l << 8 | p[2 + i];
		o += p[1] & 0x7f;
	}
	if (o + l != n)
		return NULL;
	*len = l;
	return p + o;
}

/*
 * Is x a validation certificate of KEY_AUTHZ for ids[i], read here with
 * OpenSSL: 1 if so, 0 if not. der: its extensions must also be DER (the
 * subjectAltName as i2d writes it again, the acmeIdentifier 04 20 ...).
 */
static int
ref_check(X509 *x, size_t i, int der)
{
	X509_EXTENSION		*e;
	const ASN1_OCTET_STRING	*v;
	GENERAL_NAMES		*gens;
	const GENERAL_NAME	*g;
	const unsigned char	*p, *val;
	unsigned char		 ip[16], *re = NULL;
	size_t			 len;
	int			 iplen, ok, relen;

	if ((e = only_ext(x, OBJ_nid2obj(NID_subject_alt_name))) == NULL)
		return 0;
	v = X509_EXTENSION_get_data(e);
	p = ASN1_STRING_get0_data(v);
	if ((gens = d2i_GENERAL_NAMES(NULL, &p, ASN1_STRING_length(v))) ==
	    NULL)
		return 0;
	ok = sk_GENERAL_NAME_num(gens) == 1;
	if (ok && der) {
		relen = i2d_GENERAL_NAMES(gens, &re);
		ok = relen == ASN1_STRING_length(v) && memcmp(re,
		    ASN1_STRING_get0_data(v), (size_t)relen) == 0;
		OPENSSL_free(re);
	}
	if (ok) {
		g = sk_GENERAL_NAME_value(gens, 0);
		if (ids[i].is_ip) {
			iplen = strchr(ids[i].identifier, ':') ? 16 : 4;
			if (inet_pton(iplen == 4 ? AF_INET : AF_INET6,
			    ids[i].identifier, ip) != 1)
				abort();
			ok = g->type == GEN_IPADD &&
			    ASN1_STRING_length(g->d.ip) == iplen &&
			    memcmp(ASN1_STRING_get0_data(g->d.ip), ip,
			    (size_t)iplen) == 0;
		} else
			ok = g->type == GEN_DNS &&
			    (size_t)ASN1_STRING_length(g->d.dNSName) ==
			    strlen(ids[i].identifier) &&
			    strncasecmp((const char *)ASN1_STRING_get0_data(
			    g->d.dNSName), ids[i].identifier,
			    strlen(ids[i].identifier)) == 0;
	}
	GENERAL_NAMES_free(gens);
	if (!ok)
		return 0;
	if ((e = only_ext(x, acme_id)) == NULL ||
	    !X509_EXTENSION_get_critical(e))
		return 0;
	v = X509_EXTENSION_get_data(e);
	if (der)
		return ASN1_STRING_length(v) == (int)sizeof(want) &&
		    memcmp(ASN1_STRING_get0_data(v), want, sizeof(want)) == 0;
	val = octets(ASN1_STRING_get0_data(v), (size_t)ASN1_STRING_length(v),
	    &len);
	return val != NULL && len == 32 && memcmp(val, want + 2, 32) == 0;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	trace = getenv("FUZZ_ALPN_TRACE") != NULL;
	if ((acme_id = OBJ_txt2obj(ACME_ID, 1)) == NULL)
		abort();
	want[0] = 0x04;
	want[1] = 32;
	if (EVP_Digest(KEY_AUTHZ, strlen(KEY_AUTHZ), want + 2, NULL,
	    EVP_sha256(), NULL) != 1)
		abort();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	X509			*x;
	const unsigned char	*p = data;
	char			 err[256];
	size_t			 i;
	int			 r;

	if ((x = d2i_X509(NULL, &p, (long)size)) != NULL &&
	    p != data + size) {
		X509_free(x);
		x = NULL;
	}
	for (i = 0; i < nitems(ids); i++) {
		err[0] = '\0';
		r = acme_tls_alpn_cert_check(data, size, ids[i].identifier,
		    ids[i].is_ip, KEY_AUTHZ, err, sizeof(err));
		if (trace)
			fprintf(stderr, "%s: %d %s\n", ids[i].identifier, r,
			    err);
		if (r != 1 && r != 0 && r != -1)
			fuzz_fail("an answer other than 1, 0, -1");
		if ((r == -1) != (x == NULL))
			fuzz_fail("-1 is not \"OpenSSL does not read it\"");
		if (r != 1 && err[0] == '\0')
			fuzz_fail("a refusal without a reason");
		if (r == 1 && !ref_check(x, i, 0))
			fuzz_fail("a certificate taken that does not hold "
			    "the identifier and key authorization");
		if (r != 1 && x != NULL && ref_check(x, i, 1))
			fuzz_fail("a right certificate refused");
	}
	X509_free(x);
	return 0;
}
