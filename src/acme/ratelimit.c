/*
 * ratelimit.c - [acme] orders_per_account_hour and orders_per_domain_hour,
 * counted on the orders table at newOrder. A name's registered domain is
 * the public suffix list's (libpsl: "www.example.co.uk" counts under
 * "example.co.uk", not under every name in "co.uk"), loaded at start.
 */
#include <string.h>

#include <libpsl.h>

#include "acme_int.h"

void
acme_psl_load(struct acme *a)
{
	/* The newer of libpsl's built-in list and the publicsuffix package's. */
	if ((a->psl = psl_latest(NULL)) == NULL &&
	    (a->psl = (psl_ctx_t *)psl_builtin()) == NULL)
		log_warn("acme: no public suffix list (libpsl): "
		    "orders_per_domain_hour counts by a name's last two labels");
}

void
acme_psl_free(struct acme *a)
{
	psl_free(a->psl);	/* not the built-in one: psl_free knows it */
	a->psl = NULL;
}

/*
 * The registered domain of a lowercase DNS name (a leading "*." is
 * dropped), for rate limits: the public suffix list's; a name that
 * is a public suffix itself, or a single label, counts as itself. Without
 * a list, its last two labels.
 */
static const char *
registered_domain(const struct acme *a, const char *name)
{
	const char	*p = name + strlen(name), *r;
	int		 dots = 0;

	if (strncmp(name, "*.", 2) == 0)
		name += 2;
	if (a->psl != NULL)
		return (r = psl_registrable_domain(a->psl, name)) != NULL ? r :
		    name;
	while (p > name) {
		if (p[-1] == '.' && ++dots == 2)
			return p;
		p--;
	}
	return name;
}

/*
 * Seconds until an order made at made leaves the hour's window (at least
 * 1): when the next order is taken. A client that honours Retry-After
 * waits that, not a minute at a time for an hour.
 */
static int64_t
retry_after(int64_t now, int64_t made)
{
	int64_t	 s = made + 3600 - now;

	if (made == 0)		/* gone meanwhile: try again soon */
		return 60;
	return s < 1 ? 1 : s > 3600 ? 3600 : s;
}

/*
 * [acme] orders_per_account_hour and orders_per_domain_hour: 0, or -1
 * with p (rateLimited, 429) and r's Retry-After.
 */
int
acme_rate_check(struct acme *a, const struct acme_endpoint *ep, int64_t account,
    const struct acme_ident *ids, size_t n, struct acme_resp *r,
    struct acme_problem *p)
{
	struct store	*st = acme_reader(a);
	int64_t		 now = time_now(), since = now - 3600, count, at;
	const char	*dom;
	size_t		 i;

	if (ep->orders_per_account == 0 && ep->orders_per_domain == 0)
		return 0;
	if (st == NULL)
		return acme_db_error(p);
	if (ep->orders_per_account > 0) {
		if (store_acme_orders_since(st, account, NULL, since,
		    ep->orders_per_account, &count, &at) != 0)
			return acme_db_error(p);
		if (count >= ep->orders_per_account) {
			r->retry_after = retry_after(now, at);
			return acme_problem(p, 429, "rateLimited", "this "
			    "account made %lld orders in the last hour "
			    "(limit %d)",
			    (long long)count, ep->orders_per_account);
		}
	}
	for (i = 0; ep->orders_per_domain > 0 && i < n; i++) {
		if (strcmp(ids[i].type, "dns") != 0)
			continue;
		dom = registered_domain(a, ids[i].value);
		if (store_acme_orders_since(st, 0, dom, since,
		    ep->orders_per_domain, &count, &at) != 0)
			return acme_db_error(p);
		if (count >= ep->orders_per_domain) {
			r->retry_after = retry_after(now, at);
			return acme_problem(p, 429, "rateLimited", "%lld "
			    "orders for names under %s in the last hour "
			    "(limit %d)",
			    (long long)count, dom, ep->orders_per_domain);
		}
	}
	return 0;
}

