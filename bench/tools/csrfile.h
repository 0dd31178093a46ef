/*
 * csrfile.h - read the requests gencsr wrote: records of a 4-byte
 * big-endian length and the DER.
 */
#ifndef CM_BENCH_CSRFILE_H
#define CM_BENCH_CSRFILE_H

#include <stddef.h>

struct csrbuf {
	unsigned char	*der;
	size_t		 len;
};

/* Read every record of path into a malloc'd array. 0, or -1 (perror'd). */
int	 csrfile_read(const char *path, struct csrbuf **out, size_t *n);
void	 csrfile_free(struct csrbuf *, size_t n);

#endif
