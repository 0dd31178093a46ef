/*
 * ca_limits.c - what a CA certificate lets its CA issue (RFC 5280
 * 4.2.1.9, 4.2.1.12): its pathLenConstraint and its extendedKeyUsage,
 * which the certificates it issues stay within (verifiers check both
 * along the path). Read once when the signer loads.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/x509v3.h>

#include "ca_limits.h"

int
ca_limits_read(X509 *x, long *path_len, char ***eku_out, size_t *neku)
{
	EXTENDED_KEY_USAGE *eku;
	char		 oid[128], **list = NULL;
	size_t		 k = 0;
	int		 i, n;

	*path_len = X509_get_pathlen(x);
	*eku_out = NULL;
	*neku = 0;
	if ((eku = X509_get_ext_d2i(x, NID_ext_key_usage, NULL, NULL)) == NULL)
		return 0;
	n = sk_ASN1_OBJECT_num(eku);
	for (i = 0; i < n; i++)
		if (OBJ_obj2nid(sk_ASN1_OBJECT_value(eku, i)) ==
		    NID_anyExtendedKeyUsage)
			goto out;
	if (n > 0 && (list = calloc((size_t)n, sizeof(*list))) == NULL)
		goto fail;
	for (i = 0; i < n; i++) {
		if (OBJ_obj2txt(oid, sizeof(oid), sk_ASN1_OBJECT_value(eku, i),
		    1) <= 0 || (list[k] = strdup(oid)) == NULL)
			goto fail;
		k++;
	}
	*eku_out = list;
	*neku = k;
out:
	EXTENDED_KEY_USAGE_free(eku);
	return 0;
fail:
	while (k > 0)
		free(list[--k]);
	free(list);
	EXTENDED_KEY_USAGE_free(eku);
	return -1;
}
