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
static const char *const san_names[SAN__MAX] = { "dns", "ip", "email", "uri" };
static const char *const profile_names[PROFILE__MAX] = {
	"tls-server", "tls-client", "email", "code-signing", "sub-ca"
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
	return (enum profile)name_lookup(profile_names, PROFILE__MAX, s);
}
