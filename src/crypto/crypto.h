/*
 * crypto.h - everything certmint does with X.509, PKCS#10 and CRLs. OpenSSL
 * stays inside src/crypto/ and the CA core; nothing here crosses the module
 * ABI.
 *
 * The hot path (csr_parse, cert_build, crl_build) reads and writes DER
 * itself and calls OpenSSL only to verify and sign: OpenSSL 3.0's X509
 * object decoders and X509_set_pubkey cost several times the signature.
 */
#ifndef CM_CRYPTO_H
#define CM_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "../common/common.h"
#include "../common/config.h"

#define SERIAL_LEN	20

/* CRL reason codes (RFC 5280). */
enum crl_reason {
	CRL_REASON_UNSPECIFIED = 0,
	CRL_REASON_KEY_COMPROMISE = 1,
	CRL_REASON_CA_COMPROMISE = 2,
	CRL_REASON_AFFILIATION_CHANGED = 3,
	CRL_REASON_SUPERSEDED = 4,
	CRL_REASON_CESSATION_OF_OPERATION = 5,
	CRL_REASON_CERTIFICATE_HOLD = 6,
	CRL_REASON_REMOVE_FROM_CRL = 8,
	CRL_REASON_PRIVILEGE_WITHDRAWN = 9,
	CRL_REASON_AA_COMPROMISE = 10
};

/* A subject alternative name. */
struct san {
	enum san_type	 type;
	char		*value;		/* DNS name, IP text, e-mail, URI, UPN,
					   RFC 4514 text (dirname), dotted
					   OID (rid) */
	unsigned char	*der;		/* dirname: the canonical DER Name
					   (name_canonical), else NULL */
	size_t		 der_len;
};

/* An extension as found in a request or certificate. */
struct x509_ext {
	char		*oid;		/* dotted decimal */
	int		 critical;
	unsigned char	*value;		/* contents of extnValue (DER) */
	size_t		 len;
};

/* A parsed and signature-checked PKCS#10 request. */
struct csr {
	unsigned char	*der;		/* the whole request */
	size_t		 der_len;
	unsigned char	*subject;	/* DER Name */
	size_t		 subject_len;
	char		*subject_dn;	/* RFC 4514 text, "" for an empty name */
	unsigned char	*spki;		/* DER SubjectPublicKeyInfo */
	size_t		 spki_len;
	enum key_type	 key_type;	/* KEY__MAX: not one certmint issues for */
	int		 key_bits;
	char		*key_desc;	/* "rsa-1024", "ec-secp256k1", ... for messages */
	char		*key_alg_oid;	/* "1.2.840.10045.2.1" */
	struct san	*sans;		/* from the extensionRequest attribute */
	size_t		 nsans;
	struct x509_ext	*exts;		/* every requested extension */
	size_t		 nexts;
};

/*
 * Parse a PKCS#10 request given as PEM ("CERTIFICATE REQUEST" or "NEW
 * CERTIFICATE REQUEST") or DER, and verify its self-signature. Returns 0, or
 * -1 with a message for the requester in err ("not a PKCS#10 request: ...",
 * "request signature does not verify", ...).
 */
int	 csr_parse(const unsigned char *, size_t, struct csr *, char *err,
	    size_t errlen);
/*
 * Is p[0..n) a host name as a dNSName must be (RFC 1034 preferred syntax;
 * with wildcard, a whole-label "*" first over at least two labels)?
 * NULL if so, else what is wrong.
 */
const char *dns_name_check(const unsigned char *p, size_t n, int wildcard);
void	 csr_free(struct csr *);
/*
 * weakkey.c: why an RSA modulus (big-endian, no leading zero) is unfit (it
 * is even or has a factor below 752), or NULL; whether an Ed25519 public
 * key is a point of small order.
 */
const char *rsa_modulus_weak(const unsigned char *n, size_t len);
int	 ed25519_small_order(const unsigned char pub[32]);
/*
 * Is every subjectAltName of c among those of san, a certificate's
 * subjectAltName extension value (NULL: it has none)? DNS names compare
 * in any case. 1; 0 with err naming the first that is not; -1 with err
 * when san does not read.
 */
int	 csr_sans_within(const struct csr *c, const unsigned char *san,
	    size_t len, char *err, size_t errlen);
/*
 * The names of a subjectAltName extension value, as csr_parse reads a
 * CSR's (*sans malloc'd, san_list_free). 0, or -1 with err.
 */
int	 san_list_parse(const unsigned char *san, size_t len,
	    struct san **sans, size_t *n, char *err, size_t errlen);
void	 san_list_free(struct san *, size_t n);

/*
 * ECDSA verification on P-256 or P-384 (t) of sig (DER Ecdsa-Sig-Value)
 * over msg with the given digest, for the public point (SEC 1 octets).
 * No EVP_PKEY is built: OpenSSL 3.0's decoders cost more than the
 * verification. Returns 1 if it verifies, 0 if it does not, -2 if the
 * point is not on the curve, -1 on an internal error or another curve.
 */
enum ec_md { EC_MD_SHA256, EC_MD_SHA384, EC_MD_SHA512, EC_MD__MAX };
int	 ec_verify(enum key_type t, const unsigned char *point, size_t pointlen,
	    enum ec_md, const unsigned char *msg, size_t msglen,
	    const unsigned char *sig, size_t siglen);
/* The same with sig as a JWS has it: r || s, each the order's length. */
int	 ec_verify_raw(enum key_type t, const unsigned char *point,
	    size_t pointlen, enum ec_md, const unsigned char *msg,
	    size_t msglen, const unsigned char *sig, size_t siglen);

/* The CA's signing state, loaded once, read-only (thread-safe) afterwards. */
/*
 * A CA certificate of the CA, by index: the config's cert file is 0, a
 * renewal's "ca(N).crt" beside it N (docs/ca-renewal.md).
 */
struct ca_cert {
	unsigned char	*der;
	size_t		 len;
	int		 key_idx;	/* the first CA certificate with its key */
	int64_t		 not_after;
};
#define SIGNER_MAX_CERTS	1000	/* ca(999).crt */

struct signer {
	EVP_PKEY	*key;
	enum key_type	 key_type;
	const EVP_MD	*md;		/* NULL for Ed25519 */
	unsigned char	*sigalg;	/* DER AlgorithmIdentifier for md+key */
	size_t		 sigalg_len;
	unsigned char	*cert_der;	/* the CA certificate */
	size_t		 cert_der_len;
	unsigned char	*issuer;	/* DER Name: the CA certificate's subject */
	size_t		 issuer_len;
	unsigned char	*ski;		/* CA subject key identifier (for AKI) */
	size_t		 ski_len;
	char		*chain_pem;	/* CA certificate then its parents, PEM */
	char		*cdp_url;
	char		*aia_url;
	char		*delta_url;	/* NULL when delta CRLs are off */
	char		**freshest;	/* a base CRL's Freshest CRL: delta_url,
					   then each other URL a profile gives
					   certificates for this key's delta */
	size_t		 nfreshest;
	int64_t		 not_before;	/* of the CA certificate */
	int64_t		 not_after;
	long		 path_len;	/* its pathLenConstraint, -1: none */
	char		**eku;		/* its extendedKeyUsage (dotted OIDs), */
	size_t		 neku;		/* NULL when absent or anyEKU */
	EVP_MD_CTX	*sign_tmpl;	/* signer_prepare: copied per signature */
	int		 cert_idx;	/* its CA certificate's index */
	int		 key_idx;	/* its key's index: the CRL index */
	struct ca_cert	*certs;		/* the newest's signer: every CA */
	int		 ncerts;	/* certificate, by index */
	struct signer	*older;		/* the newest's signer: for each older
					   key whose newest certificate is
					   valid, that one's (its CRLs) */
	size_t		 nolder;
};

/*
 * Load the CA's certificates named by cfg (ca.crt, ca(1).crt, ...) and sign
 * with the newest one, its key and chain; check that each key matches its
 * certificate. Older keys still needed for their CRLs are in s->older.
 * Returns 0 or -1 with a message in err.
 */
int	 signer_load(struct signer *, const struct cm_config *, char *err,
	    size_t errlen);
void	 signer_free(struct signer *);
/*
 * Initialise signing once (key and digest), so that each signature copies
 * a ready context instead of fetching the algorithms again: under threads
 * those fetches take OpenSSL's method-store lock. signer_load calls it;
 * without it (sign_tmpl NULL) each signature initialises its own context.
 */
void	 signer_prepare(struct signer *);

/* What goes into a certificate. Every pointer is borrowed. */
struct cert_template {
	const unsigned char *subject;	/* DER Name */
	size_t		 subject_len;
	const unsigned char *spki;	/* DER SubjectPublicKeyInfo */
	size_t		 spki_len;
	const struct san *sans;
	size_t		 nsans;
	const struct cm_profile *profile;	/* keyUsage, EKU, CA, URLs, ... */
	uint32_t	 key_usage;	/* not 0: only these of the profile's */
	char *const	*eku;		/* neku > 0: instead of the profile's */
	size_t		 neku;
	int64_t		 not_before;
	int64_t		 not_after;
	unsigned char	 serial[SERIAL_LEN];
	const struct x509_ext *extra;	/* added verbatim (policy/admin) */
	size_t		 nextra;
};

/* Properties of a certificate, as recorded in the database. */
struct cert_info {
	char		*serial;	/* lowercase hex of the serial's bytes */
	int64_t		 not_before;
	int64_t		 not_after;
	unsigned char	*subject;	/* DER Name */
	size_t		 subject_len;
	char		*subject_dn;
	unsigned char	*issuer;	/* DER Name */
	size_t		 issuer_len;
	char		*pk_alg_oid;
	int		 pk_bits;
	unsigned char	*pk_params;	/* DER of the algorithm parameters, may be NULL */
	size_t		 pk_params_len;
	unsigned char	*pubkey;	/* subjectPublicKey BIT STRING contents */
	size_t		 pubkey_len;
	char		 hash[65];	/* SHA-256 of the DER, hex */
	char		*ski;		/* hex, NULL if absent */
	struct x509_ext	*exts;
	size_t		 nexts;
};

/*
 * Generate a serial: SERIAL_LEN octets, positive, first octet non-zero (so
 * that its DER INTEGER is SERIAL_LEN long). By default 0x01, the current
 * time in milliseconds (6 octets) and 104 bits from the CSPRNG: serials
 * increase with time (the database appends to its serial index) and stay
 * unpredictable. serial_generate_random: every octet from the CSPRNG (159
 * bits), for [ca] serials = random. serial_generate_at: the ordered form
 * with the given time (the CA keeps it from going back with the clock).
 */
int	 serial_generate(unsigned char serial[SERIAL_LEN]);
int	 serial_generate_at(unsigned char serial[SERIAL_LEN], uint64_t ms);
int	 serial_generate_random(unsigned char serial[SERIAL_LEN]);

/*
 * Build and sign a certificate: version 3, the template's serial, subject,
 * key and validity; SKI, AKI, basicConstraints, keyUsage,
 * extendedKeyUsage, certificatePolicies and OCSP no-check from the
 * profile, SANs, CRL distribution point (and freshest CRL when delta CRLs
 * are on) and AIA caIssuers from the profile or else the signer. When info is not
 * NULL it is filled without reparsing. Returns 0 or -1.
 */
int	 cert_build(const struct signer *, const struct cert_template *,
	    unsigned char **der, size_t *der_len, struct cert_info *info);

/*
 * Parse a certificate (PEM or DER) into info. Returns 0 or -1 with err.
 */
int	 cert_info_parse(const unsigned char *, size_t, struct cert_info *,
	    char *err, size_t errlen);
void	 cert_info_free(struct cert_info *);

/*
 * san_upn: the first user principal name (otherName 1.3.6.1.4.1.311.20.2.3)
 * of a subjectAltName extension value, malloc'd in *upn (NULL if none).
 * cert_thumbprint: SHA-1 (or SHA-256) of der as AD CS shows a
 * CertificateHash, "d0 57 9a ...": out needs 60 (96) bytes.
 * Both return 0 or -1.
 */
int	 san_upn(const unsigned char *, size_t, char **upn);
int	 cert_thumbprint(const unsigned char *der, size_t len, int sha256,
	    char *out, size_t outlen);

/* The SHA-256 of data in lowercase hex. 0 or -1. */
int	 sha256_hex(const void *data, size_t len, char out[65]);

/*
 * Do certificates a and b (DER) certify the same public key? 1 if so, 0
 * if not, -1 when either does not parse.
 */
int	 cert_same_key(const unsigned char *a, size_t alen,
	    const unsigned char *b, size_t blen);
/* The same for a SubjectPublicKeyInfo (DER) and a certificate. */
int	 spki_cert_same_key(const unsigned char *spki, size_t spkilen,
	    const unsigned char *cert, size_t certlen);
/*
 * Is sig a signature of data by the key of cert (DER)? RSA PKCS#1 v1.5 and
 * ECDSA (DER) with SHA-256, Ed25519 and Ed448 pure: what `openssl dgst
 * -sha256 -sign` (`pkeyutl -sign -rawin`) makes. 1 if so, 0 if not, -1
 * when cert does not parse.
 */
int	 cert_verify_data(const unsigned char *cert, size_t certlen,
	    const unsigned char *data, size_t len, const unsigned char *sig,
	    size_t siglen);

/*
 * Does der carry a signature by the signer's key and its issuer name?
 * Returns 0 if so, -1 with a message otherwise.
 */
int	 cert_check_issued_by(const struct signer *, const unsigned char *der,
	    size_t len, char *err, size_t errlen);

/* One revoked certificate in a CRL. */
struct crl_entry {
	unsigned char	 serial[SERIAL_LEN + 1];
	size_t		 serial_len;
	int64_t		 revoked_when;
	int		 reason;	/* CRL_REASON_*; unspecified is not encoded */
	int64_t		 invalidity;	/* 0: no invalidityDate */
};

struct crl_params {
	int64_t		 number;	/* cRLNumber */
	int64_t		 base_number;	/* -1: base CRL; else delta CRL indicator */
	int64_t		 this_update;
	int64_t		 next_update;
	const struct crl_entry *entries;	/* any order; sorted by serial in the CRL */
	size_t		 nentries;
	int64_t		 expired_since;	/* not 0: expiredCertsOnCRL (X.509) */
};

/*
 * Build and sign a v2 CRL with AKI, cRLNumber, and for a delta CRL the
 * deltaCRLIndicator; a base CRL gets freshestCRL when delta CRLs are on,
 * naming every location of its delta CRL (the signer's freshest).
 * Streams the DER: memory stays near the size of the CRL itself.
 * Returns 0 or -1.
 */
int	 crl_build(const struct signer *, const struct crl_params *,
	    unsigned char **der, size_t *der_len);

/* Keys and CA certificates (key.c). Each returns 0 or -1 with err. */
int	 key_generate(enum key_type, EVP_PKEY **, char *err, size_t errlen);
int	 key_write(const char *path, EVP_PKEY *, char *err, size_t errlen);	/* PEM, 0600 */
int	 key_load(const char *path, EVP_PKEY **, char *err, size_t errlen);
enum key_type key_type_of(EVP_PKEY *);

/*
 * A self-signed root certificate for key, subject given as "CN=x,O=y"
 * (RFC 4514 order is not required; attributes are taken left to right).
 */
int	 ca_selfsign(EVP_PKEY *, const char *subject, int days, const char *hash,
	    unsigned char **der, size_t *len, char *err, size_t errlen);

/*
 * A CA renewal for key, with the subject of the CA certificate old: a
 * self-signed certificate valid for days (a root), or with csr a PKCS#10
 * request for the parent CA (a subordinate).
 */
int	 ca_renewal(EVP_PKEY *, const unsigned char *old, size_t oldlen,
	    int days, const char *hash, int csr, unsigned char **der,
	    size_t *len, char *err, size_t errlen);

/* A PKCS#10 request for a subordinate CA key (basicConstraints CA:TRUE). */
int	 ca_make_csr(EVP_PKEY *, const char *subject, const char *hash,
	    unsigned char **der, size_t *len, char *err, size_t errlen);

/*
 * Check a parent CA's answer for a subordinate CA: in (PEM with the CA
 * certificate first and optionally its chain, or DER) must hold a CA
 * certificate for key, and chain_in (may be NULL, PEM) together with in must
 * verify up to a self-signed root. Out: the CA certificate DER and the parent
 * chain as PEM (without the CA certificate; "" when none).
 */
int	 ca_check_install(EVP_PKEY *, const unsigned char *in, size_t inlen,
	    const unsigned char *chain_in, size_t chain_len,
	    unsigned char **cert_der, size_t *cert_len, char **chain_pem,
	    char *err, size_t errlen);

/* PEM helpers (pem.c). */
char	*pem_encode(const char *label, const unsigned char *der, size_t len);
/*
 * If in is PEM with the given label (e.g. "CERTIFICATE"), decode the first
 * such block; if it is DER (starts with a SEQUENCE tag), copy it.
 * Returns 0 or -1.
 */
int	 pem_or_der(const unsigned char *in, size_t len, const char *label,
	    unsigned char **der, size_t *der_len);

/*
 * Name properties: every value of the attribute oid (dotted) in a DER Name,
 * joined with '\n'. Returns 0, 1 when the name has no such attribute, -1 on
 * bad input.
 */
int	 name_get(const unsigned char *name, size_t len, const char *oid,
	    char **values);
/* A DER Name as RFC 4514 text. NULL on bad input. */
char	*name_to_text(const unsigned char *name, size_t len);
/*
 * A requested subject as the CA signs it: every attribute one it knows
 * (CN, O, OU, C, L, ST, emailAddress, DC, ...), its value a string type
 * OpenSSL and TLS clients read the same way, valid, without control
 * characters and within RFC 5280's upper bound, re-encoded in minimal DER
 * as PrintableString when it fits, else UTF8String (IA5String for
 * emailAddress and DC), multi-valued RDNs in DER order. Returns 0 with a
 * malloc'd *out, or -1 with what is wrong in err (for the requester).
 */
int	 name_canonical(const unsigned char *name, size_t len,
	    unsigned char **out, size_t *outlen, char *err, size_t errlen);
/*
 * Is p[0..n) well-formed UTF-8 (no overlong forms, surrogates or values
 * past U+10FFFF)? Returns 1 or 0.
 */
int	 utf8_valid(const unsigned char *p, size_t n);
/*
 * reqext.c. name_drop: the DER Name without its attributes of type oid (an
 * RDN left empty goes too); 0 with *out malloc'd, or -1. csr_key_usage:
 * the keyUsage bits (KU_*) the request asks for; csr_eku: the dotted OIDs
 * of its extendedKeyUsage (*oids malloc'd, free each and the array). Both
 * return 1 when asked, 0 when the request has no such extension, -1 when
 * it is malformed.
 */
int	 name_drop(const unsigned char *name, size_t len, const char *oid,
	    unsigned char **out, size_t *outlen);
int	 csr_key_usage(const struct csr *, uint32_t *bits);
int	 csr_eku(const struct csr *, char ***oids, size_t *n);

/*
 * jws.c: the JOSE pieces of ACME (RFC 7515, 7517, 7518, 7638, 8037).
 * b64url_decode is strict (no padding, URL alphabet, zero tail bits):
 * 0 with *out (malloc'd, NUL-terminated) or -1.
 */
char	*b64url_encode(const unsigned char *, size_t);
int	 b64url_decode(const char *, size_t, unsigned char **out,
	    size_t *outlen);
enum jws_alg {
	JWS_RS256, JWS_ES256, JWS_ES384, JWS_ES512, JWS_EDDSA,
	JWS_HS256, JWS_HS384, JWS_HS512,
	JWS_ALG__MAX		/* anything else, "none" included */
};
enum jws_alg	 jws_alg_parse(const char *);
enum jwk_kind { JWK_EC_P256, JWK_EC_P384, JWK_EC_P521, JWK_RSA, JWK_ED25519,
	JWK__MAX };
/* A JWK's members as strings (NULL when absent). */
struct jwk_members {
	const char	*kty, *crv, *x, *y, *n, *e;
};
struct jwk {
	EVP_PKEY	*pkey;
	enum jwk_kind	 kind;
	char		*canon;		/* the RFC 7638 thumbprint input */
	/* P-256, P-384: the point (04 || x || y) ec_verify_raw checks with */
	unsigned char	 ec_point[97];
	size_t		 ec_pointlen;	/* 0: verify with pkey */
};
#define JWK_THUMBPRINT_LEN 43
/* A public JWK; 0, or -1 with err (freed). */
int	 jwk_load(struct jwk *, const struct jwk_members *, char *err,
	    size_t errlen);
void	 jwk_free(struct jwk *);
int	 jwk_thumbprint(const struct jwk *, char out[JWK_THUMBPRINT_LEN + 1]);
int	 jwk_alg_fits(const struct jwk *, enum jws_alg);	/* 1 or 0 */
/* 1 if sig (JWS form: ECDSA r||s) verifies with alg and k, 0 if not, -1. */
int	 jws_verify(const struct jwk *, enum jws_alg, const void *in,
	    size_t inlen, const unsigned char *sig, size_t siglen);
/*
 * An HMAC key made once and used by many threads at a time: jws_mac
 * fetched the digest and keyed HMAC again on every call (mac_key_compute:
 * 0 or -1).
 */
struct mac_key;
struct mac_key	*mac_key_new(enum jws_alg, const unsigned char *key,
		    size_t keylen);
int		 mac_key_compute(const struct mac_key *, const void *in,
		    size_t inlen, unsigned char out[64], size_t *outlen);
void		 mac_key_free(struct mac_key *);
/* HS256/384/512. jws_mac: 0 or -1; jws_mac_verify: 1, 0 or -1. */
int	 jws_mac(enum jws_alg, const unsigned char *key, size_t keylen,
	    const void *in, size_t inlen, unsigned char out[64], size_t *outlen);
int	 jws_mac_verify(enum jws_alg, const unsigned char *key, size_t keylen,
	    const void *in, size_t inlen, const unsigned char *sig,
	    size_t siglen);
/* The key as DER SubjectPublicKeyInfo (malloc'd); 0 or -1. */
int	 jwk_spki(const struct jwk *, unsigned char **der, size_t *len);
int	 random_fill(void *, size_t);			/* 0 or -1 */
int	 sha256_raw(const void *, size_t, unsigned char out[32]);	/* 0 or -1 */

#endif /* CM_CRYPTO_H */
