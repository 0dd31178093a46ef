/*
 * loader.c - open an exit (or policy) module and check it before any of its
 * code but the entry function runs: the file's owner and mode, the entry
 * symbol, magic, ABI major, descriptor size, name and entry points. Each
 * refusal names what differed.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exit_host.h"
#include "../lua/luamod.h"

/* The smallest descriptors this host accepts (ABI 1.0). */
#define EXIT_DESC_MIN	offsetof(struct cm_exit, shutdown) + sizeof(void *)
#define POLICY_DESC_MIN	offsetof(struct cm_policy, shutdown) + sizeof(void *)

static const char *const event_names[] = {
	"CERTISSUED", "CERTPENDING", "CERTDENIED", "CERTREVOKED",
	"CERTRETRIEVEPENDING", "CRLISSUED", "SHUTDOWN", "STARTUP",
	"CERTUNREVOKED", "CERTIMPORTED"
};

const char *
exit_event_name(int32_t event)
{
	size_t	 i;

	for (i = 0; i < nitems(event_names); i++)
		if (event == (1 << i))
			return event_names[i];
	return "UNKNOWN";
}

int32_t
exit_event_from_name(const char *s)
{
	size_t	 i;

	if (strncasecmp(s, "EXITEVENT_", 10) == 0)
		s += 10;
	for (i = 0; i < nitems(event_names); i++)
		if (strcasecmp(s, event_names[i]) == 0)
			return 1 << i;
	return 0;
}

/*
 * The event bit a module with this mask is notified of for event, or 0.
 * A release from hold goes to a module that did not ask for CERTUNREVOKED
 * but asked for CERTREVOKED as CERTREVOKED, as AD CS does (its properties
 * show the certificate valid again).
 */
int32_t
exit_event_for_mask(int32_t mask, int32_t event)
{
	if (event & mask)
		return event;
	if (event == CM_EXITEVENT_CERTUNREVOKED &&
	    (mask & CM_EXITEVENT_CERTREVOKED))
		return CM_EXITEVENT_CERTREVOKED;
	return 0;
}

void
exit_mask_text(int32_t mask, char *buf, size_t len)
{
	size_t	 i, o = 0;

	buf[0] = '\0';
	for (i = 0; i < nitems(event_names) && o < len; i++)
		if (mask & (1 << i))
			o += (size_t)snprintf(buf + o, len - o, "%s%s", o ? "|" : "",
			    event_names[i]);
	if (o == 0)
		snprintf(buf, len, "none");
}

/*
 * A module file must not be replaceable by anyone but root or us: refuse
 * group- or world-writable files and files owned by another user.
 */
static int
check_stat(const char *path, const struct stat *stp, char *err, size_t errlen)
{
	const struct stat st = *stp;

	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file (%s)", path,
		    file_kind(st.st_mode));
		return -1;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		snprintf(err, errlen, "%s: writable by group or others (mode %04o); "
		    "run chmod go-w on it", path, (unsigned)(st.st_mode & 07777));
		return -1;
	}
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		snprintf(err, errlen, "%s: owned by uid %u, neither root nor the "
		    "CA's user", path, (unsigned)st.st_uid);
		return -1;
	}
	return 0;
}

static int
check_file(const char *path, char *err, size_t errlen)
{
	struct stat	 st;

	if (stat(path, &st) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	return check_stat(path, &st, err, errlen);
}

/* One directory of exit_module_dir_check. */
static int
check_dir(const char *dir, char *err, size_t errlen)
{
	struct stat	 st;
	char		 why[768];

	if (stat(dir, &st) == -1) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	if (file_check_mode(&st, dir, "the modules directory", 0, why,
	    sizeof(why)) == -1) {
		snprintf(err, errlen, "%s; anyone who can write it can have "
		    "their code run in the CA", why);
		return -1;
	}
	return 0;
}

int
exit_module_dir_check(const char *path, char *err, size_t errlen)
{
	char	*dir, *real = NULL, *rdir = NULL;
	int	 rc = -1;

	if ((dir = path_dirname(path)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (check_dir(dir, err, errlen) == -1)
		goto out;
	/* A link there to a file elsewhere: that file's directory too. */
	if ((real = realpath(path, NULL)) != NULL &&
	    (rdir = path_dirname(real)) != NULL && strcmp(rdir, dir) != 0 &&
	    check_dir(rdir, err, errlen) == -1)
		goto out;
	rc = 0;
out:
	free(rdir);
	free(real);
	free(dir);
	return rc;
}

/*
 * A module's name: "MyApp" then suffix (".Exit", ".Policy"), no more than
 * 128 characters, none of them a blank, '/', '[', ']' or '=', and not a
 * section certmint reads itself ("Exit.Exit" would be [exit.NAME]).
 */
static int
name_ok(const char *name, const char *suffix)
{
	size_t	 n, s = strlen(suffix);

	if (name == NULL)
		return 0;
	n = strlen(name);
	return n > s && strcmp(name + n - s, suffix) == 0 && n <= 128 &&
	    strpbrk(name, "/[]=\n\t ") == NULL &&
	    !config_section_reserved(name);
}

/*
 * Check a module's descriptor d; messages name path. Returns 0 or -1.
 */
static int
check_desc(const struct cm_exit *d, const char *path, const char *want_name,
    char *err, size_t errlen)
{
	if (d->magic != CM_EXIT_MAGIC) {
		snprintf(err, errlen, "%s: wrong magic 0x%08x (expected 0x%08x)",
		    path, d->magic, CM_EXIT_MAGIC);
		return -1;
	}
	if (d->abi_major != CM_ABI_MAJOR) {
		snprintf(err, errlen, "%s: built for ABI %u.%u, this certmint "
		    "speaks ABI %d.x", path, d->abi_major, d->abi_minor,
		    CM_ABI_MAJOR);
		return -1;
	}
	if (d->size < EXIT_DESC_MIN) {
		snprintf(err, errlen, "%s: descriptor size %u is smaller than "
		    "ABI %d.0's %zu", path, d->size, CM_ABI_MAJOR, EXIT_DESC_MIN);
		return -1;
	}
	if (!name_ok(d->name, ".Exit")) {
		snprintf(err, errlen, "%s: module name \"%s\" must look like "
		    "MyApp.Exit (and not begin with exit., acme. or profile.)",
		    path, d->name ? d->name : "(null)");
		return -1;
	}
	if (want_name != NULL && strcmp(d->name, want_name) != 0) {
		snprintf(err, errlen, "%s: declares name \"%s\", expected \"%s\"",
		    path, d->name, want_name);
		return -1;
	}
	if (d->threading != CM_THREADING_SERIAL &&
	    d->threading != CM_THREADING_CONCURRENT) {
		snprintf(err, errlen, "%s: unknown threading model %u", path,
		    d->threading);
		return -1;
	}
	if (d->initialize == NULL || d->notify == NULL ||
	    d->get_description == NULL) {
		snprintf(err, errlen, "%s: entry point %s is missing", path,
		    d->initialize == NULL ? "initialize" : d->notify == NULL ?
		    "notify" : "get_description");
		return -1;
	}
	return 0;
}

/*
 * dlopen what (a path, or /proc/self/fd/N for the file path) and check the
 * descriptor; messages name path.
 */
static int
module_open(const char *what, const char *path, const char *want_name,
    struct exit_module *m, char *err, size_t errlen)
{
	const struct cm_exit *d;
	cm_exit_entry_fn entry;
	void		*dl;

	if ((dl = dlopen(what, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		snprintf(err, errlen, "%s: cannot load: %s", path, dlerror());
		return -1;
	}
	*(void **)&entry = dlsym(dl, CM_EXIT_ENTRY_SYMBOL);
	if (entry == NULL) {
		snprintf(err, errlen, "%s: no %s() entry function (is it an exit "
		    "module?)", path, CM_EXIT_ENTRY_SYMBOL);
		goto fail;
	}
	if ((d = entry()) == NULL) {
		snprintf(err, errlen, "%s: %s() returned NULL", path,
		    CM_EXIT_ENTRY_SYMBOL);
		goto fail;
	}
	if (check_desc(d, path, want_name, err, errlen) == -1)
		goto fail;
	m->dl = dl;
	m->desc = d;
	m->name = xstrdup(d->name);
	m->path = xstrdup(path);
	return 0;
fail:
	dlclose(dl);
	return -1;
}

/*
 * A Lua script (path ends in ".lua"; read from fd when fd >= 0) as a
 * module: the Lua room builds its descriptor, and initialize finds the
 * script in the state seeded here (src/lua/luamod.h).
 */
static int
script_open(int fd, const char *path, const char *want_name,
    struct exit_module *m, char *err, size_t errlen)
{
	const struct cm_exit *d;

	if ((d = luamod_exit_open(path, fd, err, errlen)) == NULL)
		return -1;
	if (check_desc(d, path, want_name, err, errlen) == -1) {
		luamod_exit_free(d);
		return -1;
	}
	m->script = 1;
	m->desc = d;
	m->state = (void *)d;
	m->name = xstrdup(d->name);
	m->path = xstrdup(path);
	return 0;
}

int
exit_module_open(const char *path, const char *want_name,
    struct exit_module *m, char *err, size_t errlen)
{
	memset(m, 0, sizeof(*m));
	if (check_file(path, err, errlen) == -1)
		return -1;
	if (luamod_is_script(path))
		return script_open(-1, path, want_name, m, err, errlen);
	return module_open(path, path, want_name, m, err, errlen);
}

int
exit_module_open_fd(int fd, const char *path, const char *want_name,
    struct exit_module *m, char *err, size_t errlen)
{
	struct stat	 st;
	char		 what[64];

	memset(m, 0, sizeof(*m));
	if (fstat(fd, &st) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (check_stat(path, &st, err, errlen) == -1)
		return -1;
	if (luamod_is_script(path))
		return script_open(fd, path, want_name, m, err, errlen);
	snprintf(what, sizeof(what), "/proc/self/fd/%d", fd);
	return module_open(what, path, want_name, m, err, errlen);
}

const char *
exit_pkg_modules_dir(void)
{
	return CERTMINT_PKG_MODULES_DIR;
}

void
exit_module_close(struct exit_module *m)
{
	if (m->initialized && m->desc->shutdown != NULL)
		m->desc->shutdown(m->state);
	m->initialized = 0;
	if (m->script)
		luamod_exit_free(m->desc);
	else if (m->dl != NULL)
		dlclose(m->dl);
	free(m->name);
	free(m->path);
	memset(m, 0, sizeof(*m));
}

int
exit_path_is_script(const char *path)
{
	return luamod_is_script(path);
}

char *
exit_module_file(const char *dir, const char *name)
{
	char	 file[300], *path;

	snprintf(file, sizeof(file), "%s.lua", name);
	if ((path = path_join(dir, file)) != NULL && access(path, F_OK) == 0)
		return path;
	free(path);
	snprintf(file, sizeof(file), "%s.so", name);
	return path_join(dir, file);
}

int
exit_module_reload(struct exit_module *m, cm_server_exit *srv, char *err,
    size_t errlen)
{
	if (!m->script || !m->initialized)
		return 0;
	if (exit_module_dir_check(m->path, err, errlen) == -1 ||
	    check_file(m->path, err, errlen) == -1)
		return -1;
	return luamod_exit_reload(m->state, m->path, srv, err, errlen);
}

int
policy_module_check(const char *path, void **dlp, const struct cm_policy **pd,
    char *err, size_t errlen)
{
	const struct cm_policy *d;
	cm_policy_entry_fn entry;
	void		*dl;

	*dlp = NULL;
	*pd = NULL;
	if (check_file(path, err, errlen) == -1)
		return -1;
	if (luamod_is_script(path)) {
		if ((d = luamod_policy_open(path, err, errlen)) == NULL)
			return -1;
		if (!name_ok(d->name, ".Policy")) {
			snprintf(err, errlen, "%s: module name \"%s\" must look "
			    "like MyApp.Policy", path, d->name);
			luamod_policy_free(d);
			return -1;
		}
		*pd = d;
		return 0;
	}
	if ((dl = dlopen(path, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		snprintf(err, errlen, "%s: cannot load: %s", path, dlerror());
		return -1;
	}
	*(void **)&entry = dlsym(dl, CM_POLICY_ENTRY_SYMBOL);
	if (entry == NULL || (d = entry()) == NULL) {
		snprintf(err, errlen, "%s: no %s() entry function", path,
		    CM_POLICY_ENTRY_SYMBOL);
		goto fail;
	}
	if (d->magic != CM_POLICY_MAGIC || d->abi_major != CM_ABI_MAJOR ||
	    d->size < POLICY_DESC_MIN) {
		snprintf(err, errlen, "%s: wrong magic, ABI (%u.%u) or size",
		    path, d->abi_major, d->abi_minor);
		goto fail;
	}
	if (!name_ok(d->name, ".Policy")) {
		snprintf(err, errlen, "%s: module name \"%s\" must look like "
		    "MyApp.Policy", path, d->name ? d->name : "(null)");
		goto fail;
	}
	if (d->initialize == NULL || d->verify_request == NULL ||
	    d->get_description == NULL) {
		snprintf(err, errlen, "%s: an entry point is missing", path);
		goto fail;
	}
	*dlp = dl;
	*pd = d;
	return 0;
fail:
	dlclose(dl);
	return -1;
}
