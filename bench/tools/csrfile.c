/*
 * csrfile.c - read the requests gencsr wrote (see csrfile.h).
 */
#include <stdio.h>
#include <stdlib.h>

#include "csrfile.h"

int
csrfile_read(const char *path, struct csrbuf **out, size_t *n)
{
	struct csrbuf	*v = NULL, *nv;
	unsigned char	 hdr[4];
	size_t		 cap = 0, len;
	FILE		*f;

	*out = NULL;
	*n = 0;
	if ((f = fopen(path, "rb")) == NULL) {
		perror(path);
		return -1;
	}
	while (fread(hdr, 1, 4, f) == 4) {
		len = (size_t)hdr[0] << 24 | (size_t)hdr[1] << 16 |
		    (size_t)hdr[2] << 8 | hdr[3];
		if (*n == cap) {
			cap = cap ? cap * 2 : 1024;
			if ((nv = realloc(v, cap * sizeof(*v))) == NULL)
				goto fail;
			v = nv;
		}
		if ((v[*n].der = malloc(len ? len : 1)) == NULL)
			goto fail;
		v[*n].len = len;
		if (fread(v[*n].der, 1, len, f) != len) {
			free(v[*n].der);
			break;
		}
		(*n)++;
	}
	fclose(f);
	*out = v;
	return 0;
fail:
	perror("csrfile");
	fclose(f);
	csrfile_free(v, *n);
	*n = 0;
	return -1;
}

void
csrfile_free(struct csrbuf *v, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		free(v[i].der);
	free(v);
}
