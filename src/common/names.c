/*
 * names.c - the names of key types, SAN types and profiles, as written in
 * the config file, the CLI and the REST API.
 */
#include <string.h>
#include <strings.h>

#include "common.h"

static const char *const key_names[KEY__MAX] = {
	"ec-p256", "ec-p384", "rsa-2048", "rsa-3072", "rsa-4096", "ed25519"
};
static const char *const san_names[SAN__MAX] = {
	"dns", "ip", "email", "uri", "upn", "dirname", "rid"
};
static const char *const profile_names[PROFILE__MAX] = {
	"WebServer", "ClientAuth", "SMIME", "CodeSigning", "SubCA", "User",
	"Machine", "OCSPSigning"
};

/* Other names of the built-in profiles (see profile_from_name). */
static const struct {
	const char	*name;
	enum profile	 p;
} profile_aliases[] = {
	{ "tls-server", PROFILE_TLS_SERVER },
	{ "Web Server", PROFILE_TLS_SERVER },
	{ "tls-client", PROFILE_TLS_CLIENT },
	{ "Authenticated Session", PROFILE_TLS_CLIENT },
	{ "email", PROFILE_EMAIL },
	{ "code-signing", PROFILE_CODE_SIGNING },
	{ "Code Signing", PROFILE_CODE_SIGNING },
	{ "sub-ca", PROFILE_SUB_CA },
	{ "Subordinate Certification Authority", PROFILE_SUB_CA },
	{ "Computer", PROFILE_MACHINE },
	{ "OCSPResponseSigning", PROFILE_OCSP_SIGNING },
	{ "OCSP Response Signing", PROFILE_OCSP_SIGNING },
	{ "ocsp-signing", PROFILE_OCSP_SIGNING },
};

static int
name_lookup(const char *const *names, int n, const char *s)
{
	int	 i;

	for (i = 0; s != NULL && i < n; i++)
		if (strcasecmp(names[i], s) == 0)
			return i;
	return n;
}

const char *
key_type_name(enum key_type t)
{
	return (unsigned)t < KEY__MAX ? key_names[t] : "unsupported";
}

enum key_type
key_type_from_name(const char *s)
{
	if (s != NULL && (strcasecmp(s, "p256") == 0 || strcasecmp(s, "ec") == 0))
		return KEY_EC_P256;
	if (s != NULL && strcasecmp(s, "p384") == 0)
		return KEY_EC_P384;
	if (s != NULL && strcasecmp(s, "rsa") == 0)
		return KEY_RSA_3072;
	return (enum key_type)name_lookup(key_names, KEY__MAX, s);
}

const char *
san_type_name(enum san_type t)
{
	return (unsigned)t < SAN__MAX ? san_names[t] : "unknown";
}

enum san_type
san_type_from_name(const char *s)
{
	return (enum san_type)name_lookup(san_names, SAN__MAX, s);
}

const char *
profile_name(enum profile p)
{
	return (unsigned)p < PROFILE__MAX ? profile_names[p] : "unknown";
}

enum profile
profile_from_name(const char *s)
{
	size_t	 i;

	for (i = 0; s != NULL && i < nitems(profile_aliases); i++)
		if (strcasecmp(profile_aliases[i].name, s) == 0)
			return profile_aliases[i].p;
	return (enum profile)name_lookup(profile_names, PROFILE__MAX, s);
}
