/*
 * config_edit.c - `certmint ... set`'s edits of the configuration file:
 * one key of one section written in place, the rest of the file (its
 * comments, its order) kept, and a file that would no longer load left
 * as it was.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "config.h"

/*
 * Is line a "[section]" header? If so copy the name into sec.
 */
static int
line_section(const char *line, char *sec, size_t seclen)
{
	const char	*p = line, *end;

	while (*p == ' ' || *p == '\t')
		p++;
	if (*p != '[' || (end = strchr(p, ']')) == NULL)
		return 0;
	snprintf(sec, seclen, "%.*s", (int)(end - p - 1), p + 1);
	return 1;
}

/*
 * Does line assign key? (leading blanks, key, blanks, '=' or ':')
 */
static int
line_is_key(const char *line, const char *key)
{
	const char	*p = line;
	size_t		 n = strlen(key);

	while (*p == ' ' || *p == '\t')
		p++;
	if (strncasecmp(p, key, n) != 0)
		return 0;
	p += n;
	while (*p == ' ' || *p == '\t')
		p++;
	return *p == '=' || *p == ':';
}

int
config_edit(const char *path, const char *section, const char *key,
    const char *value, char *err, size_t errlen)
{
	unsigned char	*data = NULL;
	size_t		 len;
	struct buf	 out = { 0 };
	char		 cur[256] = "", *line, *next, why[512];
	int		 in_sec = 0, seen_sec = 0, done = 0, rc = -1, loaded;
	struct stat	 st;
	mode_t		 mode = 0644;

	if (strpbrk(key, "=:[]\n") != NULL || strpbrk(section, "[]\n") != NULL ||
	    (value != NULL && strchr(value, '\n') != NULL)) {
		snprintf(err, errlen, "invalid characters in [%s] %s", section, key);
		return -1;
	}
	/* A line config_load would refuse is not written. */
	if (value != NULL && strlen(key) + 3 + strlen(value) > CONFIG_MAX_LINE) {
		snprintf(err, errlen, "[%s] %s would be a line of %zu "
		    "characters: a config file takes %d at most", section, key,
		    strlen(key) + 3 + strlen(value), CONFIG_MAX_LINE);
		return -1;
	}
	if (stat(path, &st) == 0)
		mode = st.st_mode & 07777;
	if (file_read(path, &data, &len, 16 << 20) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	/* Before the lines below are cut in place. */
	loaded = config_text_loads(path, data, len, why, sizeof(why)) == 0;
	for (line = (char *)data; line != NULL && *line; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if (line_section(line, cur, sizeof(cur))) {
			/* Leaving the section: add the key at its end. */
			if (in_sec && !done && value != NULL) {
				/* Keep the blank line before the next section. */
				while (out.len >= 2 && out.data[out.len - 1] == '\n' &&
				    out.data[out.len - 2] == '\n')
					out.len--;
				buf_printf(&out, "%s = %s\n\n", key, value);
				done = 1;
			}
			in_sec = strcasecmp(cur, section) == 0;
			seen_sec |= in_sec;
		} else if (in_sec && line_is_key(line, key)) {
			if (!done && value != NULL)
				buf_printf(&out, "%s = %s\n", key, value);
			done = 1;
			continue;
		}
		buf_printf(&out, "%s\n", line);
	}
	if (!done && value != NULL) {
		if (!seen_sec)
			buf_printf(&out, "%s[%s]\n", out.len ? "\n" : "", section);
		buf_printf(&out, "%s = %s\n", key, value);
	}
	if (out.data == NULL && buf_reserve(&out, 0) == -1) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	/*
	 * A file that loads is never left one that does not: a key the
	 * section does not take, a value its check refuses.
	 */
	if (loaded && config_text_loads(path, out.data, out.len, why,
	    sizeof(why)) == -1) {
		snprintf(err, errlen, "not saved: %s", why);
		goto out;
	}
	if (file_write_atomic(path, out.data, out.len, mode) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	free(data);
	buf_free(&out);
	return rc;
}
