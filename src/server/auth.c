/*
 * auth.c - REST authentication (auth.h): API tokens and TLS client
 * certificates, and the scope each allows.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "../store/store.h"
#include "auth.h"
#include "auth_x509.h"

void
auth_id_free(struct auth_id *id)
{
	free(id->profiles);
	free(id->names);
	memset(id, 0, sizeof(*id));
}

/* Refuse with why; returns nothing, id->kind is AUTH_FAILED. */
static void
auth_fail(struct auth_id *id, const char *why)
{
	auth_id_free(id);
	id->kind = AUTH_FAILED;
	snprintf(id->why, sizeof(id->why), "%s", why);
}

static int
sha256(const unsigned char *p, size_t n, unsigned char out[32])
{
	unsigned int	 len = 32;

	return EVP_Digest(p, n, out, &len, EVP_sha256(), NULL) == 1 ? 0 : -1;
}

int
auth_token_new(char *text, unsigned char hash[32])
{
	unsigned char	 secret[TOKEN_SECRET_LEN];
	size_t		 i, o;

	if (RAND_bytes(secret, sizeof(secret)) != 1)
		return -1;
	o = (size_t)snprintf(text, TOKEN_TEXT_LEN + 1, "%s", TOKEN_PREFIX);
	for (i = 0; i < sizeof(secret); i++, o += 2)
		snprintf(text + o, 3, "%02x", secret[i]);
	i = (size_t)sha256(secret, sizeof(secret), hash);
	OPENSSL_cleanse(secret, sizeof(secret));
	return i == 0 ? 0 : -1;
}

int
auth_token_hash(const char *text, unsigned char hash[32])
{
	unsigned char	*secret;
	size_t		 n;
	int		 rc;

	if (strlen(text) != TOKEN_TEXT_LEN ||
	    strncmp(text, TOKEN_PREFIX, sizeof(TOKEN_PREFIX) - 1) != 0 ||
	    hex_decode(text + sizeof(TOKEN_PREFIX) - 1, &secret, &n) == -1)
		return -1;
	rc = n == TOKEN_SECRET_LEN ? sha256(secret, n, hash) : -1;
	OPENSSL_cleanse(secret, n);
	free(secret);
	return rc;
}

int
auth_token_name_ok(const char *s)
{
	size_t	 n = strlen(s);

	if (n == 0 || n > 64)
		return 0;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789._@-") == n;
}

void
auth_from_header(struct store *st, const char *authorization, int64_t now,
    struct auth_id *id)
{
	struct db_token	 t;
	unsigned char	 hash[32];
	const char	*p = authorization;
	char		 why[256];
	int		 rc;

	memset(id, 0, sizeof(*id));
	if (p == NULL)
		return;
	if (strncasecmp(p, "Bearer ", 7) != 0) {
		auth_fail(id, "Authorization: only Bearer tokens are accepted");
		return;
	}
	for (p += 7; *p == ' '; p++)
		;
	if (auth_token_hash(p, hash) == -1) {
		auth_fail(id, "Authorization: not a certmint API token");
		return;
	}
	if (st == NULL) {
		auth_fail(id, "cannot read the API tokens");
		return;
	}
	/*
	 * Found by its hash, then compared in constant time: what the
	 * index lookup's timing could tell is about the hash, which reveals
	 * nothing of a secret.
	 */
	if ((rc = store_token_by_hash(st, hash, &t)) != 0 ||
	    CRYPTO_memcmp(t.hash, hash, sizeof(hash)) != 0) {
		if (rc == 0)
			db_token_free(&t);
		auth_fail(id, rc == CM_E_NOTFOUND || rc == 0 ?
		    "unknown API token" : "cannot read the API tokens");
		return;
	}
	if (t.revoked != 0 || (t.expires != 0 && t.expires <= now)) {
		snprintf(why, sizeof(why), "API token \"%s\" %s", t.name,
		    t.revoked != 0 ? "is revoked" : "has expired");
		db_token_free(&t);
		auth_fail(id, why);
		return;
	}
	id->kind = AUTH_TOKEN;
	snprintf(id->name, sizeof(id->name), "%s", t.name);
	id->profiles = t.profiles;
	id->names = t.names;
	t.profiles = t.names = NULL;
	db_token_free(&t);
}

/* Is the certificate of request id revoked (or on hold)? 1, 0, -1. */
static int
cert_revoked(struct ca *ca, int64_t id)
{
	struct ca_result res;
	int		 rc;

	if (ca_get(ca, id, &res) == -1) {
		ca_result_free(&res);
		return -1;
	}
	rc = res.req.revoked_reason >= 0;
	ca_result_free(&res);
	return rc;
}

void
auth_from_cert(struct ca *ca, const unsigned char *der, size_t len,
    int64_t now, struct auth_id *id)
{
	struct cert_info info;
	struct db_cert	 c;
	struct store	*st = ca_reader(ca);
	char		 err[128];
	int		 rc, revoked;

	memset(id, 0, sizeof(*id));
	memset(&c, 0, sizeof(c));
	if (der == NULL)
		return;
	if (cert_info_parse(der, len, &info, err, sizeof(err)) == -1) {
		auth_fail(id, "the TLS client certificate does not parse");
		return;
	}
	/*
	 * Issued by this CA means recorded by it: the same DER under its
	 * serial. That holds for every CA key and certificate the CA ever
	 * had, and no chain building can be fooled by a look-alike.
	 */
	rc = st == NULL ? -1 : store_cert_by_serial(st, info.serial, &c);
	cert_info_free(&info);
	if (rc != 0 || c.raw_len != len || memcmp(c.raw, der, len) != 0) {
		db_cert_free(&c);
		auth_fail(id, rc == 0 || rc == CM_E_NOTFOUND ? "the TLS client "
		    "certificate was not issued by this CA" : "cannot read the "
		    "certificates");
		return;
	}
	if (c.not_before > now || c.not_after <= now) {
		db_cert_free(&c);
		auth_fail(id, "the TLS client certificate has expired or is "
		    "not yet valid");
		return;
	}
	if ((revoked = cert_revoked(ca, c.request_id)) != 0) {
		db_cert_free(&c);
		auth_fail(id, revoked > 0 ? "the TLS client certificate is "
		    "revoked" : "cannot read the certificates");
		return;
	}
	if (!auth_cert_for_client(der, len)) {
		db_cert_free(&c);
		auth_fail(id, "the TLS client certificate is not for client "
		    "authentication (extendedKeyUsage clientAuth)");
		return;
	}
	id->kind = AUTH_CERT;
	snprintf(id->name, sizeof(id->name), "%s", c.subject_dn != NULL ?
	    c.subject_dn : c.serial);
	/* Unset, client_profiles is the default profile alone. */
	ca_config_lock(ca);
	id->profiles = xstrdup(*ca_config(ca)->client_profiles != '\0' ?
	    ca_config(ca)->client_profiles : ca_config(ca)->profile_list[
	    ca_config(ca)->default_profile].name);
	id->names = *ca_config(ca)->client_names != '\0' ?
	    xstrdup(ca_config(ca)->client_names) : NULL;
	ca_config_unlock(ca);
	if (id->names == NULL)
		id->names = auth_cert_names(der, len);
	db_cert_free(&c);
}

int
auth_name_match(const char *pattern, const char *name)
{
	size_t	 pl = strlen(pattern), nl = strlen(name);

	if (strcmp(pattern, "*") == 0)
		return 1;
	if (strcasecmp(pattern, name) == 0)
		return 1;
	/*
	 * "*.example.com": ".example.com" ends name, after a label or more,
	 * and name is a DNS name (a wildcard too): a CN such as
	 * "x,cn=ceo,ou=admins.example.com" is no name under it.
	 */
	if (pl > 2 && pattern[0] == '*' && pattern[1] == '.' && nl > pl - 1 &&
	    name[nl - pl] != '.' &&
	    strcasecmp(name + nl - (pl - 1), pattern + 1) == 0)
		return dns_name_check((const unsigned char *)name, nl, 1) ==
		    NULL;
	return 0;
}

/*
 * A name that is not a DNS name (an IP address, e-mail, URI, ...) only
 * matches itself: as a string "https://evil.test/a.example.com" ends in
 * ".example.com" too.
 */
static int
exact_match(const char *pattern, const char *name)
{
	return strcmp(pattern, "*") == 0 || strcasecmp(pattern, name) == 0;
}

/* Is item one of the comma-separated list (blanks around each ignored)? */
static int
list_has(const char *list, const char *item, int (*match)(const char *,
    const char *))
{
	char	*copy, *tok, *save = NULL;
	int	 found = 0;

	if (list == NULL || (copy = strdup(list)) == NULL)
		return 0;
	for (tok = strtok_r(copy, ", \t", &save); tok != NULL && !found;
	    tok = strtok_r(NULL, ", \t", &save))
		found = match(tok, item);
	free(copy);
	return found;
}

static int
same_profile(const char *a, const char *b)
{
	return strcasecmp(a, b) == 0;
}

/* The profile a request asks for, as policy.c reads it. */
static const char *
requested_profile(const struct cm_config *cfg, const struct db_attr *attrs,
    size_t nattrs)
{
	size_t	 i;

	for (i = 0; i < nattrs; i++)
		if (strcasecmp(attrs[i].name, "CertificateTemplate") == 0)
			return attrs[i].value;
	for (i = 0; i < nattrs; i++)
		if (strcasecmp(attrs[i].name, "Profile") == 0)
			return attrs[i].value;
	return cfg->profile_list[cfg->default_profile].name;
}

/*
 * The names of the subject a scope covers: its CNs, and its e-mail
 * addresses (emailAddress), which modules take for the requester's own
 * (the mail module's RequesterEmail, an LDAP search by mail) and which
 * are matched as an e-mail subjectAltName is.
 */
static const struct {
	const char	*oid;
	int		(*match)(const char *, const char *);
} subject_names[] = {
	{ "2.5.4.3", auth_name_match },
	{ "1.2.840.113549.1.9.1", exact_match },
};

int
auth_scope(const struct auth_id *id, const struct cm_config *cfg,
    const struct csr *csr, const struct db_attr *attrs, size_t nattrs,
    char *msg, size_t msglen)
{
	const char	*who = id->kind == AUTH_TOKEN ? "API token" :
			    "client certificate";
	const char	*prof = requested_profile(cfg, attrs, nattrs);
	char		*cns = NULL, *cn, *nl;
	size_t		 i;
	int		 rc = 0;

	if (id->profiles != NULL && *id->profiles != '\0' &&
	    !list_has(id->profiles, prof, same_profile)) {
		snprintf(msg, msglen, "%s \"%s\" may not request profile "
		    "\"%.64s\" (allowed: %s)", who, id->name, prof,
		    id->profiles);
		return -1;
	}
	for (i = 0; rc == 0 && i < nitems(subject_names); i++) {
		if (name_get(csr->subject, csr->subject_len,
		    subject_names[i].oid, &cns) == -1) {
			snprintf(msg, msglen, "the request's subject does not "
			    "parse");
			return -1;
		}
		for (cn = cns; rc == 0 && cn != NULL; cn = nl) {
			if ((nl = strchr(cn, '\n')) != NULL)
				*nl++ = '\0';
			if (!list_has(id->names, cn, subject_names[i].match)) {
				snprintf(msg, msglen, "%s \"%s\" may not request "
				    "the name \"%.128s\" (allowed: %s)", who,
				    id->name, cn, id->names != NULL ?
				    id->names : "");
				rc = -1;
			}
		}
		free(cns);
		cns = NULL;
	}
	for (i = 0; rc == 0 && i < csr->nsans; i++)
		if (!list_has(id->names, csr->sans[i].value,
		    csr->sans[i].type == SAN_DNS ? auth_name_match :
		    exact_match)) {
			snprintf(msg, msglen, "%s \"%s\" may not request the "
			    "name \"%.128s\" (allowed: %s)", who, id->name,
			    csr->sans[i].value, id->names != NULL ?
			    id->names : "");
			rc = -1;
		}
	return rc;
}
