/*
 * publish.c - how CertMint_Files.Exit writes files: never half a file
 * (an unnamed or temporary file fsynced, then linked or renamed into
 * place, then the directory fsynced), never over someone else's file where AD CS would
 * not, and retention of numbered CRL copies.
 */

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "files.h"

#define PATH_LEN	4096

/* dir/name into buf; -1 (err) when it does not fit. */
static int
join(char *buf, size_t len, const char *dir, const char *name, char *err,
    size_t errlen)
{
	if ((size_t)snprintf(buf, len, "%s/%s", dir, name) >= len) {
		snprintf(err, errlen, "%s/%s: path too long", dir, name);
		return -1;
	}
	return 0;
}

/*
 * The cause first: `certmint exit list` shows the start of a long one.
 * A permission refused names the user the module runs as, which is not
 * the operator's (an isolated module runs as nobody by default).
 */
static int
os_error(char *err, size_t errlen, const char *what, const char *path)
{
	struct passwd	 pw, *pwp = NULL;
	char		 buf[1024], who[300] = "";
	int		 e = errno;
	uid_t		 uid = geteuid();

	if (e == EACCES || e == EPERM) {
		if (getpwuid_r(uid, &pw, buf, sizeof(buf), &pwp) == 0 &&
		    pwp != NULL)
			snprintf(who, sizeof(who), " as user %s (uid %u)",
			    pwp->pw_name, (unsigned)uid);
		else
			snprintf(who, sizeof(who), " as uid %u", (unsigned)uid);
	}
	snprintf(err, errlen, "%s (%s %s%s)", strerror(e), what, path, who);
	errno = e;
	return FS_TRANSIENT;
}

/* fsync the directory so that a new name survives a crash. */
static int
dir_sync(const char *dir, int sync, char *err, size_t errlen)
{
	int	 fd, rc = FS_OK;

	if (!sync)
		return FS_OK;
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return os_error(err, errlen, "open", dir);
	if (fsync(fd) == -1 && errno != EINVAL)
		rc = os_error(err, errlen, "fsync", dir);
	close(fd);
	return rc;
}

static int
write_all(int fd, const void *data, size_t len)
{
	const char	*p = data;
	ssize_t		 n;

	while (len > 0) {
		if ((n = write(fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * A hidden temporary file beside dir/name holding data, fsynced: its path
 * in tmp. Hidden so that nothing serving or reading the directory takes
 * it for a published file.
 */
static int
temp_file(const char *dir, const char *name, const void *data, size_t len,
    mode_t mode, int sync, char *tmp, size_t tmplen, char *err,
    size_t errlen)
{
	int	 fd;

	if ((size_t)snprintf(tmp, tmplen, "%s/.%s.XXXXXX", dir, name) >=
	    tmplen) {
		snprintf(err, errlen, "%s/%s: path too long", dir, name);
		return FS_PERMANENT;
	}
	if ((fd = mkostemp(tmp, O_CLOEXEC)) == -1)
		return os_error(err, errlen, "creating a file in", dir);
	if (fchmod(fd, mode) == -1 || write_all(fd, data, len) == -1 ||
	    (sync && fsync(fd) == -1)) {
		os_error(err, errlen, "write", tmp);
		close(fd);
		unlink(tmp);
		return FS_TRANSIENT;
	}
	if (close(fd) == -1) {
		os_error(err, errlen, "close", tmp);
		unlink(tmp);
		return FS_TRANSIENT;
	}
	return FS_OK;
}

int
fs_read(const char *dir, const char *name, unsigned char **data,
    size_t *len, char *err, size_t errlen)
{
	struct stat	 sb;
	char		 path[PATH_LEN];
	ssize_t		 n;
	size_t		 off = 0;
	int		 fd;

	*data = NULL;
	*len = 0;
	if (join(path, sizeof(path), dir, name, err, errlen) == -1)
		return FS_PERMANENT;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return errno == ENOENT ? 1 : os_error(err, errlen, "open",
		    path);
	if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		close(fd);
		return FS_PERMANENT;
	}
	if ((*data = malloc((size_t)sb.st_size + 1)) == NULL) {
		close(fd);
		snprintf(err, errlen, "out of memory");
		return FS_TRANSIENT;
	}
	while (off < (size_t)sb.st_size && (n = read(fd, *data + off,
	    (size_t)sb.st_size - off)) != 0) {
		if (n == -1) {
			if (errno == EINTR)
				continue;
			os_error(err, errlen, "read", path);
			close(fd);
			free(*data);
			*data = NULL;
			return FS_TRANSIENT;
		}
		off += (size_t)n;
	}
	close(fd);
	*len = off;
	return FS_OK;
}

/* dir/name holds exactly data: FS_OK, 1 (it differs), or an error. */
static int
same_content(const char *dir, const char *name, const void *data,
    size_t len, char *err, size_t errlen)
{
	unsigned char	*have;
	size_t		 hlen;
	int		 rc;

	if ((rc = fs_read(dir, name, &have, &hlen, err, errlen)) != FS_OK)
		return rc == 1 ? 1 : rc;
	rc = hlen == len && memcmp(have, data, len) == 0 ? FS_OK : 1;
	free(have);
	return rc;
}

/*
 * dir/name exists: a redelivery finds its own file (FS_OK); other
 * content is someone else's and stays (FS_PERMANENT).
 */
static int
judge_existing(const char *dir, const char *name, const char *path,
    const void *data, size_t len, char *err, size_t errlen)
{
	int	 rc;

	if ((rc = same_content(dir, name, data, len, err, errlen)) < 0)
		return rc;
	if (rc == 1) {
		snprintf(err, errlen, "%s exists with other content: not "
		    "replaced (create-new)", path);
		return FS_PERMANENT;
	}
	return FS_OK;
}

/*
 * An unnamed file in dir holding data, fsynced (O_TMPFILE): linked into
 * place it appears whole, and a crash before leaves nothing behind.
 * Returns its descriptor, -1 with errno when the file system has no
 * O_TMPFILE (the caller falls back to a named temporary file), or -2
 * with err set.
 */
static int
unnamed_file(const char *dir, const void *data, size_t len, mode_t mode,
    int sync, char *err, size_t errlen)
{
	int	 fd;

	if ((fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600)) == -1) {
		if (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)
			return -1;
		os_error(err, errlen, "creating a file in", dir);
		return -2;
	}
	if (fchmod(fd, mode) == -1 || write_all(fd, data, len) == -1 ||
	    (sync && fsync(fd) == -1)) {
		os_error(err, errlen, "write a file in", dir);
		close(fd);
		return -2;
	}
	return fd;
}

/*
 * Give the unnamed file fd the name path, never over an existing one.
 * AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH; without it the file is named
 * through /proc. 0, or -1 with errno.
 */
static int
link_unnamed(int fd, const char *path)
{
	char	 proc[64];

	if (linkat(fd, "", AT_FDCWD, path, AT_EMPTY_PATH) == 0)
		return 0;
	if (errno != EPERM && errno != ENOENT)
		return -1;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	return linkat(AT_FDCWD, proc, AT_FDCWD, path, AT_SYMLINK_FOLLOW);
}

/*
 * fs_create where O_TMPFILE is missing: a hidden named temporary file.
 * FS_OK with the link's errno (0: linked) in *lerr, or an error.
 */
static int
create_named(const char *dir, const char *name, const char *path,
    const void *data, size_t len, mode_t mode, int sync, int *lerr,
    char *err, size_t errlen)
{
	char	 tmp[PATH_LEN];
	int	 rc;

	if ((rc = temp_file(dir, name, data, len, mode, sync, tmp,
	    sizeof(tmp), err, errlen)) != FS_OK)
		return rc;
	/* link(2), unlike rename(2), fails on an existing name. */
	*lerr = link(tmp, path) == -1 ? errno : 0;
	unlink(tmp);
	return FS_OK;
}

/*
 * A delivery usually finds no file there, so the file is written first
 * and the name judged only when taken: two path walks per certificate.
 */
int
fs_create(const char *dir, const char *name, const void *data, size_t len,
    mode_t mode, int sync, char *err, size_t errlen)
{
	char	 path[PATH_LEN];
	int	 fd, rc, lerr;

	if (join(path, sizeof(path), dir, name, err, errlen) == -1)
		return FS_PERMANENT;
	if ((fd = unnamed_file(dir, data, len, mode, sync, err, errlen)) == -2)
		return FS_TRANSIENT;
	if (fd >= 0) {
		lerr = link_unnamed(fd, path) == -1 ? errno : 0;
		close(fd);
	} else if ((rc = create_named(dir, name, path, data, len, mode, sync,
	    &lerr, err, errlen)) != FS_OK)
		return rc;
	if (lerr == EEXIST)	/* a redelivery, or someone else's file */
		return judge_existing(dir, name, path, data, len, err, errlen);
	if (lerr != 0) {
		errno = lerr;
		return os_error(err, errlen, "link", path);
	}
	return dir_sync(dir, sync, err, errlen);
}

int
fs_replace(const char *dir, const char *name, const void *data, size_t len,
    mode_t mode, int sync, char *err, size_t errlen)
{
	char	 path[PATH_LEN], tmp[PATH_LEN];
	int	 rc;

	if (join(path, sizeof(path), dir, name, err, errlen) == -1)
		return FS_PERMANENT;
	if ((rc = temp_file(dir, name, data, len, mode, sync, tmp,
	    sizeof(tmp), err, errlen)) != FS_OK)
		return rc;
	if (rename(tmp, path) == -1) {
		os_error(err, errlen, "rename to", path);
		unlink(tmp);
		return FS_TRANSIENT;
	}
	return dir_sync(dir, sync, err, errlen);
}

int
fs_symlink(const char *dir, const char *name, const char *target, int sync,
    char *err, size_t errlen)
{
	char	 path[PATH_LEN], tmp[PATH_LEN], have[PATH_LEN];
	ssize_t	 n;
	int	 i;

	if (join(path, sizeof(path), dir, name, err, errlen) == -1)
		return FS_PERMANENT;
	if ((n = readlink(path, have, sizeof(have) - 1)) >= 0) {
		have[n] = '\0';
		if (strcmp(have, target) == 0)
			return FS_OK;
	}
	/* symlink(2) has no mkstemp: try a few names. */
	for (i = 0; i < 100; i++) {
		if ((size_t)snprintf(tmp, sizeof(tmp), "%s/.%s.%ld.%d", dir,
		    name, (long)getpid(), (int)(random() % 1000000)) >=
		    sizeof(tmp)) {
			snprintf(err, errlen, "%s: path too long", path);
			return FS_PERMANENT;
		}
		if (symlink(target, tmp) == 0)
			break;
		if (errno != EEXIST)
			return os_error(err, errlen, "symlink", tmp);
	}
	if (i == 100) {
		snprintf(err, errlen, "symlink %s: no free temporary name",
		    path);
		return FS_TRANSIENT;
	}
	if (rename(tmp, path) == -1) {
		os_error(err, errlen, "rename to", path);
		unlink(tmp);
		return FS_TRANSIENT;
	}
	return dir_sync(dir, sync, err, errlen);
}

int
fs_remove(const char *dir, const char *name, int sync, char *err,
    size_t errlen)
{
	char	 path[PATH_LEN];

	if (join(path, sizeof(path), dir, name, err, errlen) == -1)
		return FS_PERMANENT;
	if (unlink(path) == -1) {
		if (errno == ENOENT)
			return FS_OK;
		return os_error(err, errlen, "remove", path);
	}
	return dir_sync(dir, sync, err, errlen);
}

int
fs_mkdir(const char *dir, char *err, size_t errlen)
{
	if (mkdir(dir, 0755) == -1 && errno != EEXIST)
		return os_error(err, errlen, "mkdir", dir);
	return FS_OK;
}

int
fs_check_dir(const char *dir, char *err, size_t errlen)
{
	struct stat	 sb;
	char		 tmp[PATH_LEN];

	if (stat(dir, &sb) == -1)
		return os_error(err, errlen, "stat", dir);
	if (!S_ISDIR(sb.st_mode)) {
		snprintf(err, errlen, "%s: not a directory", dir);
		return FS_PERMANENT;
	}
	/* access(2) judges by the real uid; a file created tells. */
	if (temp_file(dir, "configure-test", "", 0, 0600, 0, tmp, sizeof(tmp),
	    err, errlen) != FS_OK)
		return FS_TRANSIENT;
	unlink(tmp);
	return FS_OK;
}

/* A numbered copy: its number (digits, compared as numbers) and age. */
struct copy {
	char	*name;
	char	*num;
	time_t	 mtime;
};

/* Newest first: a longer number is bigger, then by digits. */
static int
copy_cmp(const void *a, const void *b)
{
	const struct copy *x = a, *y = b;
	size_t		 lx = strlen(x->num), ly = strlen(y->num);

	if (lx != ly)
		return lx > ly ? -1 : 1;
	return -strcmp(x->num, y->num);
}

/* name is "<stem>-<digits><ext>": its digits, else NULL. */
static const char *
copy_number(const char *name, const char *stem, const char *ext, size_t *n)
{
	size_t	 ls = strlen(stem), le = strlen(ext), ln = strlen(name), i;

	if (ln <= ls + 1 + le || strncmp(name, stem, ls) != 0 ||
	    name[ls] != '-' || strcmp(name + ln - le, ext) != 0)
		return NULL;
	*n = ln - ls - 1 - le;
	for (i = 0; i < *n; i++)
		if (!isdigit((unsigned char)name[ls + 1 + i]))
			return NULL;
	return name + ls + 1;
}

static void
copies_free(struct copy *c, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		free(c[i].name);
		free(c[i].num);
	}
	free(c);
}

/* The numbered copies of stem in dir, newest first. */
static int
copies_list(const char *dir, const char *stem, const char *ext,
    struct copy **out, size_t *count, char *err, size_t errlen)
{
	struct copy	*c = NULL, *nc;
	struct dirent	*de;
	struct stat	 sb;
	const char	*num;
	size_t		 n = 0, cap = 0, nlen;
	DIR		*d;

	if ((d = opendir(dir)) == NULL)
		return os_error(err, errlen, "opendir", dir);
	while ((de = readdir(d)) != NULL) {
		if ((num = copy_number(de->d_name, stem, ext, &nlen)) == NULL ||
		    fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) ==
		    -1 || !S_ISREG(sb.st_mode))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			if ((nc = realloc(c, cap * sizeof(*c))) == NULL)
				goto nomem;
			c = nc;
		}
		c[n].name = strdup(de->d_name);
		c[n].num = strndup(num, nlen);
		c[n].mtime = sb.st_mtime;
		n++;
		if (c[n - 1].name == NULL || c[n - 1].num == NULL)
			goto nomem;
	}
	closedir(d);
	qsort(c, n, sizeof(*c), copy_cmp);
	*out = c;
	*count = n;
	return FS_OK;
nomem:
	closedir(d);
	copies_free(c, n);
	snprintf(err, errlen, "out of memory");
	return FS_TRANSIENT;
}

int
fs_retain(const char *dir, const char *stem, const char *ext,
    long long keep, long long max_age, int sync, char *err, size_t errlen)
{
	struct copy	*c = NULL;
	size_t		 n = 0, i;
	time_t		 now = time(NULL);
	int		 rc = FS_OK;

	if (keep <= 0 && max_age <= 0)
		return FS_OK;
	if ((rc = copies_list(dir, stem, ext, &c, &n, err, errlen)) != FS_OK)
		return rc;
	for (i = 1; i < n && rc == FS_OK; i++)
		if ((keep > 0 && (long long)i >= keep) ||
		    (max_age > 0 && now - c[i].mtime > max_age))
			rc = fs_remove(dir, c[i].name, 0, err, errlen);
	copies_free(c, n);
	return rc == FS_OK ? dir_sync(dir, sync, err, errlen) : rc;
}
