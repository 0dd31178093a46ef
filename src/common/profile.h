/*
 * profile.h - certificate profiles, AD CS's "certificate templates": what
 * a certificate of each kind contains and which requests may have one.
 * Built-ins (WebServer, ClientAuth, User, Machine, CodeSigning, SMIME,
 * SubCA, OCSPSigning) can be changed and new ones defined in [profile.NAME]
 * sections of the config file; docs/profiles.md is the reference.
 */
#ifndef CM_PROFILE_H
#define CM_PROFILE_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"

/* keyUsage bits, numbered as in RFC 5280 4.2.1.3. */
#define KU_DIGITAL_SIGNATURE	(1u << 0)
#define KU_NON_REPUDIATION	(1u << 1)
#define KU_KEY_ENCIPHERMENT	(1u << 2)
#define KU_DATA_ENCIPHERMENT	(1u << 3)
#define KU_KEY_AGREEMENT	(1u << 4)
#define KU_KEY_CERT_SIGN	(1u << 5)
#define KU_CRL_SIGN		(1u << 6)
#define KU_ENCIPHER_ONLY	(1u << 7)
#define KU_DECIPHER_ONLY	(1u << 8)

/* What becomes of the subject's CNs (profile key "cn"). */
enum cn_rule {
	CN_KEEP,	/* kept as requested */
	CN_SAN,		/* each must be a host name among the SANs, or is added */
	CN_DROP		/* removed from the subject */
};

/* A certificate that would outlive the CA's (profile key "ca_expiry"). */
enum expiry_rule {
	EXPIRY_CAP,	/* cut to the CA certificate's notAfter, and said */
	EXPIRY_REFUSE	/* the request is denied */
};

/* Request extensions a profile takes from the request (bits). */
#define HONOUR_SAN	(1u << 0)	/* subjectAltName */
#define HONOUR_KU	(1u << 1)	/* keyUsage: a subset of the profile's */
#define HONOUR_EKU	(1u << 2)	/* extendedKeyUsage: a subset */

struct cm_profile {
	char		*name;		/* "WebServer" */
	char		*description;
	int		 builtin;	/* enum profile it started from, -1 none */
	int		 allowed;	/* in [policy] profiles */
	int		 validity_days;
	int		 max_validity_days;
	enum expiry_rule expiry;
	uint32_t	 key_types;	/* bit (1 << KEY_*) */
	uint32_t	 key_usage;	/* KU_*; keyEncipherment and
					   dataEncipherment for RSA keys only,
					   keyAgreement for EC keys only */
	char		**eku;		/* dotted OIDs */
	size_t		 neku;
	int		 ca;		/* basicConstraints cA */
	int		 path_len;	/* -1: no pathLenConstraint */
	uint32_t	 san_types;	/* bit (1 << SAN_*) */
	int		 san_required;
	int		 host_names;	/* DNS and IP SANs only, CN a host */
	enum cn_rule	 cn;
	int		 subject_required;
	char		**domains;	/* DNS names must be in one; none: any */
	size_t		 ndomains;
	char		*cn_pattern;	/* fnmatch(3) pattern for each CN */
	char		*cdp_url;	/* expanded; NULL: the CA's, "": none */
	char		*delta_url;
	char		*aia_url;
	char		**policies;	/* certificatePolicies OIDs */
	size_t		 npolicies;
	uint32_t	 reasons;	/* revocation reasons allowed, 1 << reason */
	uint32_t	 honour;	/* HONOUR_* */
	int		 max_extensions;	/* requested extensions */
	int		 max_sans;
	int		 ocsp_nocheck;	/* id-pkix-ocsp-nocheck (RFC 6960) */
	int64_t		 expired_on_crl;	/* seconds a revoked certificate
					   stays on CRLs once expired; -1:
					   forever (X.509 ExpiredCertsOnCRL) */
};

/*
 * A built-in profile as it is without a config file (validity from the
 * [policy] defaults, the CA's own CDP/AIA URLs). For tools and tests.
 */
const struct cm_profile *profile_builtin(enum profile);

struct cm_config;
/*
 * The profile named name in cfg: its name or one of its aliases (the old
 * certmint names "tls-server"..., AD CS's display names "Web Server"...),
 * case-insensitive. NULL if there is none.
 */
const struct cm_profile *profile_find(const struct cm_config *, const char *name);

/* config.c: build cfg->profile_list from the built-ins and [profile.*]. */
int	 profiles_load(struct cm_config *, char *err, size_t errlen);
void	 profiles_free(struct cm_config *);
/* Is key a known key of a [profile.NAME] section? */
int	 profile_key_known(const char *key);

/*
 * urls.c: expand AD CS's URL %-tokens in tmpl (%1 server DNS name, %2
 * its first label, %3 CA name, %4 certificate name suffix, %7 truncated
 * CA name, %8 CRL name suffix, %9 "+" when delta, %10/%11 LDAP object
 * class suffixes, %% a percent sign). %4, %8 and %% are left for
 * url_finish, as they depend on the CA certificate that signs. Returns a
 * malloc'd string, or NULL with err for an unknown token.
 */
char	*url_expand(const struct cm_config *, const char *tmpl, int delta,
	    char *err, size_t errlen);
/*
 * The URL that url_expand made, for the CA certificate of index cert_idx
 * and key index key_idx: %4 is "(cert_idx)" and %8 "(key_idx)", "" for
 * index 0 (AD CS's CertificateName and CRLNameSuffix), %% "%". Returns a
 * malloc'd string or NULL (out of memory).
 */
char	*url_finish(const char *url, int cert_idx, int key_idx);

/*
 * The keyUsage bits ku leaves to a key: keyEncipherment and
 * dataEncipherment need RSA (key transport), keyAgreement needs EC.
 */
uint32_t ku_for_key(uint32_t ku, int rsa, int ec);

/* The names of keyUsage bits and of well-known EKUs, for show. */
const char *ku_name(int bit);
const char *eku_name(const char *oid);	/* "serverAuth" or the OID itself */
const char *honour_name(int bit);	/* HONOUR_*: "subjectAltName", ... */

#endif /* CM_PROFILE_H */
