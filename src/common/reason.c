/*
 * reason.c - CRL reason codes (RFC 5280 section 5.3.1) by name.
 */

#include <stdlib.h>

#include "common.h"

static const char *const reasons[] = {
	"unspecified", "keyCompromise", "cACompromise", "affiliationChanged",
	"superseded", "cessationOfOperation", "certificateHold", NULL,
	"removeFromCRL", "privilegeWithdrawn", "aACompromise",
};

const char *
crl_reason_name(int r)
{
	if (r < 0 || (size_t)r >= nitems(reasons) || reasons[r] == NULL)
		return "unknown";
	return reasons[r];
}

int
crl_reason_parse(const char *s)
{
	int64_t	 v;
	size_t	 i;

	if (s == NULL)
		return -1;
	if (parse_int64(s, &v) == 0)
		return v >= 0 && (size_t)v < nitems(reasons) &&
		    reasons[v] != NULL ? (int)v : -1;
	for (i = 0; i < nitems(reasons); i++)
		if (reasons[i] != NULL && str_ieq(s, reasons[i]))
			return (int)i;
	return -1;
}
