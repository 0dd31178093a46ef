/*
 * csr_int.h - what csr.c and san.c share: the request reader's error
 * messages and string copies, and the subjectAltName reader.
 */
#ifndef CSR_INT_H
#define CSR_INT_H

#include <stddef.h>

#include "crypto.h"

#define NOT_PKCS10		"not a PKCS#10 request: "

/* Write a message for the requester into err (NULL or 0: none). */
void		 csr_err(char *err, size_t errlen, const char *fmt, ...)
		    __attribute__((format(printf, 3, 4)));
/* A malloc'd copy of n bytes, NUL-terminated. NULL when out of memory. */
unsigned char	*csr_memdup(const unsigned char *p, size_t n);
/*
 * Read a subjectAltName extension's value (p, len) and append its names
 * to c->sans, each checked. 0, or -1 with err.
 */
int		 csr_parse_sans(struct csr *c, const unsigned char *p,
		    size_t len, char *err, size_t errlen);

#endif
