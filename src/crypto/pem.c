/*
 * pem.c - PEM armour (RFC 7468) around DER.
 */

#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "crypto.h"

char *
pem_encode(const char *label, const unsigned char *der, size_t len)
{
	struct buf	 b = { 0 };
	char		*b64;
	size_t		 i, n;

	if ((b64 = base64_encode(der, len)) == NULL)
		return NULL;
	n = strlen(b64);
	if (buf_printf(&b, "-----BEGIN %s-----\n", label) == -1)
		goto fail;
	for (i = 0; i < n; i += 64)
		if (buf_append(&b, b64 + i, n - i < 64 ? n - i : 64) == -1 ||
		    buf_appendc(&b, '\n') == -1)
			goto fail;
	if (buf_printf(&b, "-----END %s-----\n", label) == -1)
		goto fail;
	free(b64);
	return buf_steal(&b);
 fail:
	free(b64);
	buf_free(&b);
	return NULL;
}

/* memmem for a NUL-terminated needle. */
static const unsigned char *
find(const unsigned char *p, size_t len, const char *needle)
{
	return memmem(p, len, needle, strlen(needle));
}

int
pem_or_der(const unsigned char *in, size_t len, const char *label,
    unsigned char **der, size_t *der_len)
{
	char			 begin[80], end[80];
	const unsigned char	*b, *e;

	*der = NULL;
	*der_len = 0;
	if (len > 0 && in[0] == 0x30) {
		if ((*der = malloc(len)) == NULL)
			return -1;
		memcpy(*der, in, len);
		*der_len = len;
		return 0;
	}
	snprintf(begin, sizeof(begin), "-----BEGIN %s-----", label);
	snprintf(end, sizeof(end), "-----END %s-----", label);
	if ((b = find(in, len, begin)) == NULL)
		return -1;
	b += strlen(begin);
	if ((e = find(b, len - (size_t)(b - in), end)) == NULL)
		return -1;
	if (base64_decode((const char *)b, (size_t)(e - b), der, der_len) == -1)
		return -1;
	if (*der_len == 0 || (*der)[0] != 0x30) {
		free(*der);
		*der = NULL;
		*der_len = 0;
		return -1;
	}
	return 0;
}
