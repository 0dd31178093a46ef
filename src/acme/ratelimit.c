/*
 * ratelimit.c - [acme] orders_per_account_hour and orders_per_domain_hour,
 * counted on the orders table at newOrder.
 */
#include <string.h>

#include "acme_int.h"

/*
 * The registered domain of a DNS name, for rate limits: its last two
 * labels (no public suffix list here: "example.co.uk" counts as "co.uk",
 * which only makes the limit stricter).
 */
static const char *
registered_domain(const char *name)
{
	const char	*p = name + strlen(name);
	int		 dots = 0;

	while (p > name) {
		if (p[-1] == '.' && ++dots == 2)
			return p;
		p--;
	}
	return name;
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
	int64_t		 since = time_now() - 3600, count;
	const char	*dom;
	size_t		 i;

	if (ep->orders_per_account == 0 && ep->orders_per_domain == 0)
		return 0;
	if (st == NULL)
		return acme_db_error(p);
	if (ep->orders_per_account > 0) {
		if (store_acme_orders_since(st, account, NULL, since, &count) !=
		    0)
			return acme_db_error(p);
		if (count >= ep->orders_per_account) {
			r->retry_after = 60;
			return acme_problem(p, 429, "rateLimited", "this "
			    "account made %lld orders in the last hour "
			    "(limit %d)",
			    (long long)count, ep->orders_per_account);
		}
	}
	for (i = 0; ep->orders_per_domain > 0 && i < n; i++) {
		if (strcmp(ids[i].type, "dns") != 0)
			continue;
		dom = registered_domain(ids[i].value);
		if (store_acme_orders_since(st, 0, dom, since, &count) != 0)
			return acme_db_error(p);
		if (count >= ep->orders_per_domain) {
			r->retry_after = 60;
			return acme_problem(p, 429, "rateLimited", "%lld "
			    "orders for names under %s in the last hour "
			    "(limit %d)",
			    (long long)count, dom, ep->orders_per_domain);
		}
	}
	return 0;
}

