/*
 * jws_req.c - the JWS of an ACME POST (RFC 8555 6.2, 6.3): flattened JSON
 * serialization only, a protected header with alg, nonce, url and exactly
 * one of jwk and kid, and no unprotected header. The signature checks
 * themselves are src/crypto/jws.c's.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acme_int.h"

int
acme_problem(struct acme_problem *p, unsigned int status, const char *type,
    const char *fmt, ...)
{
	va_list	 ap;

	p->status = status;
	snprintf(p->type, sizeof(p->type), "%s", type);
	va_start(ap, fmt);
	vsnprintf(p->detail, sizeof(p->detail), fmt, ap);
	va_end(ap);
	return -1;
}

int
acme_db_error(struct acme_problem *p)
{
	return acme_problem(p, 500, "serverInternal", "database error");
}

void
acme_jws_free(struct acme_jws *j)
{
	jwk_free(&j->jwk);
	acme_account_row_free(&j->account);
	json_decref(j->payload);
	j->payload = NULL;
}

/* A JSON string member, or NULL. */
static const char *
str_of(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

int
acme_jwk_from_json(json_t *o, struct jwk *k, struct acme_problem *p)
{
	struct jwk_members m;
	char	 err[160];

	memset(k, 0, sizeof(*k));
	if (!json_is_object(o))
		return acme_problem(p, 400, "malformed", "jwk is not an "
		    "object");
	m.kty = str_of(o, "kty");
	m.crv = str_of(o, "crv");
	m.x = str_of(o, "x");
	m.y = str_of(o, "y");
	m.n = str_of(o, "n");
	m.e = str_of(o, "e");
	/* A JWK with a private part is someone's mistake worth refusing. */
	if (json_object_get(o, "d") != NULL)
		return acme_problem(p, 400, "badPublicKey", "jwk holds a "
		    "private key");
	if (jwk_load(k, &m, err, sizeof(err)) == -1)
		return acme_problem(p, 400, "badPublicKey", "%s", err);
	return 0;
}

/* Decode b64url text into JSON (an object). NULL if it is not one. */
static json_t *
b64_json(const char *s)
{
	unsigned char	*raw;
	size_t		 n;
	json_t		*o;

	if (s == NULL || b64url_decode(s, strlen(s), &raw, &n) == -1)
		return NULL;
	o = json_loadb((const char *)raw, n, JSON_REJECT_DUPLICATES, NULL);
	free(raw);
	if (o != NULL && !json_is_object(o)) {
		json_decref(o);
		o = NULL;
	}
	return o;
}

int
acme_jws_split(json_t *o, json_t **prot, char **input, unsigned char **sig,
    size_t *siglen, json_t **payload, struct acme_problem *p)
{
	const char	*ps, *pl, *sg;
	unsigned char	*raw;
	size_t		 n;

	*prot = NULL;
	*input = NULL;
	*sig = NULL;
	*payload = NULL;
	if (!json_is_object(o))
		return acme_problem(p, 400, "malformed", "not a JWS object");
	/* RFC 8555 6.2: flattened only, all of the header protected. */
	if (json_object_get(o, "signatures") != NULL ||
	    json_object_get(o, "header") != NULL)
		return acme_problem(p, 400, "malformed", "JWS must use the "
		    "flattened serialization with no unprotected header");
	ps = str_of(o, "protected");
	pl = str_of(o, "payload");
	sg = str_of(o, "signature");
	if (ps == NULL || pl == NULL || sg == NULL)
		return acme_problem(p, 400, "malformed", "JWS needs "
		    "\"protected\", \"payload\" and \"signature\" strings");
	if ((*prot = b64_json(ps)) == NULL)
		return acme_problem(p, 400, "malformed", "JWS protected header "
		    "is not base64url JSON");
	if (b64url_decode(sg, strlen(sg), sig, siglen) == -1)
		return acme_problem(p, 400, "malformed", "JWS signature is not "
		    "base64url");
	if (*pl != '\0') {
		if (b64url_decode(pl, strlen(pl), &raw, &n) == -1)
			return acme_problem(p, 400, "malformed", "JWS payload "
			    "is not base64url");
		*payload = json_loadb((const char *)raw, n,
		    JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
		free(raw);
		if (*payload == NULL)
			return acme_problem(p, 400, "malformed", "JWS payload "
			    "is not JSON");
	}
	if (asprintf(input, "%s.%s", ps, pl) == -1) {
		*input = NULL;
		return acme_problem(p, 500, "serverInternal", "out of memory");
	}
	return 0;
}

static void
split_free(json_t *prot, char *input, unsigned char *sig, json_t *payload)
{
	json_decref(prot);
	free(input);
	free(sig);
	json_decref(payload);
}

/*
 * The account a kid names: our account URL on ep ("<base><prefix>/acct/N")
 * and an account that is valid.
 */
static int
kid_account(struct acme *a, const struct acme_endpoint *ep, const char *kid,
    struct acme_jws *j, struct acme_problem *p)
{
	char		 stem[700];
	const char	*end;
	int64_t		 id;
	struct store	*st;
	int		 rc;

	acme_url(a, ep, "acct", 0, stem, sizeof(stem));
	stem[strlen(stem) - 1] = '\0';	/* ".../acct/0" -> ".../acct/" */
	if (strncmp(kid, stem, strlen(stem)) != 0)
		return acme_problem(p, 400, "malformed", "kid is not an "
		    "account URL of this directory (%s...)", stem);
	id = acme_id_parse(kid + strlen(stem), &end);
	if (id == -1 || *end != '\0')
		return acme_problem(p, 400, "malformed", "kid is not an "
		    "account URL");
	if ((st = acme_reader(a)) == NULL)
		return acme_problem(p, 500, "serverInternal", "database "
		    "unavailable");
	rc = store_acme_account_get(st, id, &j->account);
	if (rc == CM_E_NOTFOUND || (rc == 0 && strcmp(j->account.endpoint,
	    ep->name) != 0)) {
		if (rc == 0)
			acme_account_row_free(&j->account);
		return acme_problem(p, 400, "accountDoesNotExist", "no account "
		    "%s", kid);
	}
	if (rc != 0)
		return acme_db_error(p);
	j->has_account = 1;
	if (strcmp(j->account.status, "valid") != 0)
		return acme_problem(p, 401, "unauthorized", "account %s is %s",
		    kid, j->account.status);
	return 0;
}

/* The stored account key, parsed once (keycache.c). */
static int
account_key(struct acme *a, struct acme_jws *j, struct jwk *k,
    struct acme_problem *p)
{
	json_t	*o;
	int	 rc;

	if (acme_keycache_get(a->keys, j->account.id, j->account.jwk, k))
		return 0;
	if ((o = json_loads(j->account.jwk, 0, NULL)) == NULL)
		return acme_problem(p, 500, "serverInternal", "stored account "
		    "key unreadable");
	rc = acme_jwk_from_json(o, k, p);
	json_decref(o);
	if (rc == 0)
		acme_keycache_put(a->keys, j->account.id, j->account.jwk, k);
	return rc;
}

int
acme_jws_read(struct acme *a, const struct acme_endpoint *ep,
    const struct acme_req *r, const char *url, int need_jwk,
    struct acme_jws *j, struct acme_problem *p)
{
	json_t		*doc = NULL, *prot = NULL, *payload = NULL, *jwk;
	char		*input = NULL;
	unsigned char	*sig = NULL;
	size_t		 siglen;
	const char	*alg, *nonce, *jurl, *kid;
	struct jwk	 key, *vk;
	int		 rc = -1, v;

	memset(j, 0, sizeof(*j));
	memset(&key, 0, sizeof(key));
	/* The type, then parameters at most (RFC 9110 8.3.1). */
	if (r->content_type == NULL || strncasecmp(r->content_type,
	    "application/jose+json", 21) != 0 ||
	    strchr("; \t", r->content_type[21]) == NULL)
		return acme_problem(p, 415, "malformed", "Content-Type must be "
		    "application/jose+json");
	if (r->too_large)
		return acme_problem(p, 413, "malformed", "request body too "
		    "large");
	if ((doc = json_loadb((const char *)r->body, r->len,
	    JSON_REJECT_DUPLICATES, NULL)) == NULL) {
		acme_problem(p, 400, "malformed", "body is not JSON");
		goto out;
	}
	if (acme_jws_split(doc, &prot, &input, &sig, &siglen, &payload, p) ==
	    -1)
		goto out;
	alg = str_of(prot, "alg");
	nonce = str_of(prot, "nonce");
	jurl = str_of(prot, "url");
	kid = str_of(prot, "kid");
	jwk = json_object_get(prot, "jwk");
	j->alg = jws_alg_parse(alg);
	/* "none" and the MACs are never an account's (RFC 8555 6.2). */
	if (j->alg == JWS_ALG__MAX || j->alg == JWS_HS256 ||
	    j->alg == JWS_HS384 || j->alg == JWS_HS512) {
		acme_problem(p, 400, "badSignatureAlgorithm", "JWS algorithm "
		    "\"%s\" is not accepted (ES256, ES384, ES512, RS256, "
		    "EdDSA)", alg != NULL ? alg : "");
		goto out;
	}
	/* RFC 7515 4.1.11: no extension here is understood. */
	if (json_object_get(prot, "crit") != NULL) {
		acme_problem(p, 400, "malformed", "JWS \"crit\" names "
		    "extensions this server does not implement");
		goto out;
	}
	if ((jwk != NULL) == (kid != NULL)) {
		acme_problem(p, 400, "malformed", "JWS header needs exactly "
		    "one of \"jwk\" and \"kid\"");
		goto out;
	}
	if (need_jwk == 1 && jwk == NULL) {
		acme_problem(p, 400, "malformed", "this request must be signed "
		    "with a \"jwk\", not a \"kid\"");
		goto out;
	}
	if (need_jwk == 0 && kid == NULL) {
		acme_problem(p, 400, "malformed", "this request must be signed "
		    "with the account's \"kid\"");
		goto out;
	}
	if (jurl == NULL || strcmp(jurl, url) != 0) {
		acme_problem(p, 401, "unauthorized", "JWS \"url\" is \"%s\", "
		    "not this request's URL %s", jurl != NULL ? jurl : "", url);
		goto out;
	}
	if (nonce == NULL) {
		acme_problem(p, 400, "badNonce", "JWS has no nonce");
		goto out;
	}
	snprintf(j->url, sizeof(j->url), "%s", jurl);
	snprintf(j->nonce, sizeof(j->nonce), "%s", nonce);
	if (jwk != NULL) {
		if (acme_jwk_from_json(jwk, &j->jwk, p) == -1)
			goto out;
		j->has_jwk = 1;
		vk = &j->jwk;
	} else {
		if (kid_account(a, ep, kid, j, p) == -1)
			goto out;
		if (account_key(a, j, &key, p) == -1)
			goto out;
		vk = &key;
	}
	if (!jwk_alg_fits(vk, j->alg)) {
		acme_problem(p, 400, "badSignatureAlgorithm", "JWS algorithm "
		    "\"%s\" does not fit the account key", alg);
		goto out;
	}
	if ((v = jws_verify(vk, j->alg, input, strlen(input), sig, siglen)) !=
	    1) {
		if (v == -1)
			acme_problem(p, 500, "serverInternal", "signature "
			    "check failed");
		else
			acme_problem(p, 400, "malformed", "JWS signature does "
			    "not verify");
		goto out;
	}
	if (!nonce_use(a, nonce)) {
		acme_problem(p, 400, "badNonce", "JWS has an invalid "
		    "anti-replay nonce: \"%s\"", nonce);
		goto out;
	}
	if (payload != NULL && !json_is_object(payload)) {
		acme_problem(p, 400, "malformed", "JWS payload is not a JSON "
		    "object");
		goto out;
	}
	j->payload = payload;
	payload = NULL;
	rc = 0;
out:
	jwk_free(&key);
	split_free(prot, input, sig, payload);
	json_decref(doc);
	if (rc == -1)
		acme_jws_free(j);
	return rc;
}
