/*
 * cmd_exit.c - `certmint exit ...` and `certmint policy show`: module
 * registration works on the files (then asks the daemon to reload); the
 * rest asks certmintd's module host.
 */

#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../exit/exit_host.h"
#include "../store/store.h"
#include "cli.h"
#include "../lua/luamod.h"

#define MAX_MODULE	(256 << 20)

static const char *
jstr(const json_t *o, const char *key, const char *dflt)
{
	const char	*s = json_string_value(json_object_get(o, key));

	return s != NULL ? s : dflt;
}

/*
 * jstr for the terminal: a module's own text (description, errors,
 * reports) escaped as a requester's is, so that it cannot drive the
 * terminal or forge lines. At most four in one printf (term_safe).
 */
static const char *
tstr(const json_t *o, const char *key, const char *dflt)
{
	return term_safe(jstr(o, key, dflt));
}

static int
exit_usage(void)
{
	fprintf(stderr,
	    "usage: certmint exit list | status [NAME] | show NAME\n"
	    "       certmint exit set NAME PROPERTY VALUE\n"
	    "       certmint exit configure NAME [--refresh]\n"
	    "       certmint exit replay NAME [--from SEQ | --dead]\n"
	    "       certmint exit resume NAME\n"
	    "       certmint exit register FILE.so|FILE.lua|NAME [--from newest|cursor|SEQ]\n"
	    "       certmint exit unregister NAME\n"
	    "       certmint exit test FILE.so|FILE.lua [options] (see --help)\n");
	return CLI_USAGE;
}

static void
print_module(const json_t *m)
{
	json_t	*lat;

	printf("%s\n", tstr(m, "name", "?"));
	if (!json_is_true(json_object_get(m, "loaded"))) {
		printf("  NOT LOADED: %s\n", tstr(m, "error", "?"));
		return;
	}
	printf("  description:  %s\n", tstr(m, "description", ""));
	printf("  events:       %s\n", jstr(m, "events", ""));
	printf("  threading:    %s\n", jstr(m, "threading", ""));
	if (json_object_get(m, "pid") != NULL)
		printf("  isolation:    %s (pid %" JSON_INTEGER_FORMAT ")\n",
		    jstr(m, "isolation", ""),
		    json_integer_value(json_object_get(m, "pid")));
	else
		printf("  isolation:    %s\n", jstr(m, "isolation", ""));
	if (json_object_get(m, "suspended") != NULL)
		printf("  suspended:    %s (since %s); `certmint exit resume "
		    "%s` delivers again\n", tstr(m, "suspended", ""),
		    tstr(m, "suspended_since", ""), tstr(m, "name", ""));
	if (json_object_get(m, "unchecked_settings") != NULL)
		printf("  unchecked:    %s (saved while suspended; read when "
		    "`certmint exit resume %s` starts it)\n",
		    tstr(m, "unchecked_settings", ""), tstr(m, "name", ""));
	if (json_integer_value(json_object_get(m, "crashes")) > 0)
		printf("  crashes:      %" JSON_INTEGER_FORMAT " recently, "
		    "last: %s\n", json_integer_value(json_object_get(m,
		    "crashes")), tstr(m, "last_crash", ""));
	printf("  file:         %s\n", tstr(m, "path", ""));
	if (json_object_get(m, "reload_error") != NULL)
		printf("  reload error: %s (the version loaded before runs "
		    "on)\n", tstr(m, "reload_error", ""));
	printf("  cursor:       %" JSON_INTEGER_FORMAT " (queue %"
	    JSON_INTEGER_FORMAT ")\n",
	    json_integer_value(json_object_get(m, "cursor")),
	    json_integer_value(json_object_get(m, "queue")));
	printf("  delivered:    %" JSON_INTEGER_FORMAT ", failures %"
	    JSON_INTEGER_FORMAT ", dead letters %" JSON_INTEGER_FORMAT "\n",
	    json_integer_value(json_object_get(m, "delivered")),
	    json_integer_value(json_object_get(m, "failures")),
	    json_integer_value(json_object_get(m, "dead_letters")));
	if (json_integer_value(json_object_get(m, "yielded_ms")) > 0)
		printf("  gave way:     %" JSON_INTEGER_FORMAT " ms to issuance "
		    "([exit] yield_ms)\n",
		    json_integer_value(json_object_get(m, "yielded_ms")));
	if ((lat = json_object_get(m, "latency_us")) != NULL &&
	    json_integer_value(json_object_get(lat, "samples")) > 0)
		printf("  latency:      p50 %" JSON_INTEGER_FORMAT " us, p99 %"
		    JSON_INTEGER_FORMAT " us\n",
		    json_integer_value(json_object_get(lat, "p50")),
		    json_integer_value(json_object_get(lat, "p99")));
	if ((lat = json_object_get(m, "late_notify")) != NULL)
		printf("  in notify:    %s of event %" JSON_INTEGER_FORMAT
		    " for %" JSON_INTEGER_FORMAT " s, past the deadline\n",
		    tstr(lat, "event", "?"),
		    json_integer_value(json_object_get(lat, "seq")),
		    json_integer_value(json_object_get(lat, "ms")) / 1000);
	if (json_object_get(m, "last_error") != NULL)
		printf("  last error:   %s (%s)\n", tstr(m, "last_error", ""),
		    tstr(m, "last_error_time", ""));
}

static int
print_dead(void *arg, const struct db_dead_letter *d)
{
	char	 ts[32];

	time_format(d->time, ts);
	printf("  dead letter: seq %" PRId64 " %s context %" PRId64 ", %d "
	    "attempts, %s: %s\n", d->seq, exit_event_name(d->event),
	    d->context, d->attempts, ts, term_safe(d->error));
	(*(int64_t *)arg)++;
	return 0;
}

/* exit list, exit status [NAME] */
static int
exit_list(const struct cli *cli, int argc, char **argv, int status)
{
	struct cm_config cfg;
	struct store	*st;
	json_t		*ans, *m;
	const char	*only = argc > 1 ? argv[1] : NULL;
	char		 err[512];
	size_t		 i;
	int64_t		 n;

	if (argc > (status ? 2 : 1))
		return exit_usage();
	if ((ans = admin_call(cli, "exit-list", NULL)) == NULL)
		return CLI_FAIL;
	if (cli->json) {
		print_json(json_object_get(ans, "modules"));
		json_decref(ans);
		return CLI_OK;
	}
	if (json_array_size(json_object_get(ans, "modules")) == 0)
		printf("no exit modules active ([exit] active is empty)\n");
	st = NULL;
	if (status && cli_config(cli, &cfg) == 0) {
		if ((st = store_open(cfg.db_file, STORE_READONLY, err,
		    sizeof(err))) == NULL)
			fprintf(stderr, "certmint: %s\n", err);
		config_free(&cfg);
	}
	json_array_foreach(json_object_get(ans, "modules"), i, m) {
		if (only != NULL && !str_ieq(only, jstr(m, "name", "")))
			continue;
		print_module(m);
		n = 0;
		if (st != NULL)
			store_dead_letter_each(st, jstr(m, "name", ""),
			    print_dead, &n);
	}
	store_close(st);
	json_decref(ans);
	return CLI_OK;
}

static int
exit_show(const struct cli *cli, int argc, char **argv)
{
	json_t		*args, *ans, *props, *v;
	const char	*k;

	if (argc != 2)
		return exit_usage();
	args = json_object();
	json_object_set_new(args, "name", json_string(argv[1]));
	if ((ans = admin_call(cli, "exit-show", args)) == NULL)
		return CLI_FAIL;
	json_object_del(ans, "ok");
	if (cli->json)
		print_json(ans);
	else {
		printf("%s\n  %s\n", tstr(ans, "name", argv[1]),
		    tstr(ans, "description", ""));
		props = json_object_get(ans, "properties");
		json_object_foreach(props, k, v)
			printf("  %-16s %s\n", term_safe(k), json_is_string(v) ?
			    term_safe(json_string_value(v)) : "");
		if (!json_is_true(json_object_get(ans, "manageable")))
			printf("  (no manage module: properties cannot be "
			    "set)\n");
		if (json_object_get(ans, "suspended") != NULL)
			printf("  suspended:       %s\n",
			    tstr(ans, "suspended", ""));
		if (json_object_get(ans, "unchecked_settings") != NULL)
			printf("  unchecked:       %s (saved while suspended; "
			    "read when `certmint exit resume %s` starts it)\n",
			    tstr(ans, "unchecked_settings", ""),
			    tstr(ans, "name", ""));
	}
	json_decref(ans);
	return CLI_OK;
}

static int
exit_set(const struct cli *cli, int argc, char **argv)
{
	json_t	*args, *ans;

	if (argc != 4)
		return exit_usage();
	args = json_object();
	json_object_set_new(args, "name", json_string(argv[1]));
	json_object_set_new(args, "property", json_string(argv[2]));
	json_object_set_new(args, "value", json_string(argv[3]));
	if ((ans = admin_call(cli, "exit-set", args)) == NULL)
		return CLI_FAIL;
	printf("%s: %s = %s\n", argv[1], argv[2], argv[3]);
	if (json_object_get(ans, "note") != NULL)
		printf("%s\n", tstr(ans, "note", ""));
	json_decref(ans);
	return CLI_OK;
}

static int
exit_configure(const struct cli *cli, int argc, char **argv)
{
	json_t	*args, *ans;
	int	 refresh = 0;

	if (argc == 3 && strcmp(argv[2], "--refresh") == 0)
		refresh = 1;
	else if (argc != 2)
		return exit_usage();
	args = json_object();
	json_object_set_new(args, "name", json_string(argv[1]));
	json_object_set_new(args, "refresh", json_boolean(refresh));
	if ((ans = admin_call(cli, "exit-configure", args)) == NULL)
		return CLI_FAIL;
	if (cli->json)
		print_json(ans);
	else
		printf("%s\n", tstr(ans, "report", "configured"));
	json_decref(ans);
	return CLI_OK;
}

static int
exit_replay(const struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "from", required_argument, NULL, 'f' },
		{ "dead", no_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 }
	};
	json_t		*args, *ans;
	int64_t		 from = -1;
	int		 ch, dead = 0;

	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ch == 'f') {
			if (parse_int64(optarg, &from) == -1 || from < 0)
				return exit_usage();
		} else if (ch == 'd')
			dead = 1;
		else
			return exit_usage();
	}
	if (argc - optind != 1 || (dead && from >= 0) || (!dead && from < 0))
		return exit_usage();
	args = json_object();
	json_object_set_new(args, "name", json_string(argv[optind]));
	if (dead)
		json_object_set_new(args, "dead", json_true());
	else
		json_object_set_new(args, "from", json_integer(from));
	if ((ans = admin_call(cli, "exit-replay", args)) == NULL)
		return CLI_FAIL;
	printf("%s: %" JSON_INTEGER_FORMAT " events queued for delivery\n",
	    argv[optind], json_integer_value(json_object_get(ans, "events")));
	json_decref(ans);
	return CLI_OK;
}

/* exit resume NAME: a suspended module delivers again. */
static int
exit_resume(const struct cli *cli, int argc, char **argv)
{
	json_t		*args, *ans;

	if (argc != 2)
		return exit_usage();
	args = json_object();
	json_object_set_new(args, "name", json_string(argv[1]));
	if ((ans = admin_call(cli, "exit-resume", args)) == NULL)
		return CLI_FAIL;
	printf("%s resumed: its queued events are delivered\n", argv[1]);
	json_decref(ans);
	return CLI_OK;
}

/*
 * The names in [exit] active, without name; or with it appended. *found:
 * whether it was there (in any case), spelt as there into spelt when not
 * NULL (a buffer as large as name).
 */
static char *
active_edit(const char *active, const char *name, int add, int *found,
    char *spelt)
{
	struct buf	 b = { 0 };
	char		*copy, *tok, *save = NULL;

	*found = 0;
	copy = strdup(active ? active : "");
	if (copy == NULL)
		return NULL;
	for (tok = strtok_r(copy, ", \t", &save); tok != NULL;
	    tok = strtok_r(NULL, ", \t", &save)) {
		if (strcasecmp(tok, name) == 0) {
			*found = 1;
			if (spelt != NULL)
				memcpy(spelt, tok, strlen(name) + 1);
			if (!add)
				continue;
		}
		buf_printf(&b, "%s%s", b.len ? ", " : "", tok);
	}
	if (add && !*found)
		buf_printf(&b, "%s%s", b.len ? ", " : "", name);
	free(copy);
	return buf_steal(&b);
}

/*
 * Have a running certmintd reload, and say so; what the reload did not
 * apply (a module that does not load, ...) is said on stderr and makes
 * it -1. 0 otherwise, also when no certmintd runs.
 */
static int
try_reload(const struct cli *cli)
{
	struct cm_config cfg;
	json_t		*ans, *w;
	size_t		 i, n;

	if (cli_config(cli, &cfg) == -1)
		return 0;
	if (access(cfg.admin_socket, F_OK) == -1) {
		printf("certmintd is not running: the change applies when it "
		    "starts\n");
		config_free(&cfg);
		return 0;
	}
	config_free(&cfg);
	if ((ans = admin_call(cli, "reload", NULL)) == NULL)
		return 0;
	printf("certmintd reloaded\n");
	n = json_array_size(json_object_get(ans, "warnings"));
	json_array_foreach(json_object_get(ans, "warnings"), i, w)
		fprintf(stderr, "certmint: but %s\n",
		    term_safe(json_string_value(w)));
	json_decref(ans);
	return n == 0 ? 0 : -1;
}

/* Copy src to dst (mode 0644, atomically). */
static int
install_file(const char *src, const char *dst)
{
	unsigned char	*data;
	size_t		 len;
	int		 rc;

	if (cli_read(src, &data, &len, MAX_MODULE) == -1)
		return -1;
	rc = file_write_atomic(dst, data, len, 0644);
	free(data);
	if (rc == -1)
		fprintf(stderr, "certmint: %s: %s\n", dst, strerror(errno));
	return rc;
}

/*
 * Module NAME of the build tree this certmint runs from (BUILD/src/cli/
 * certmint: BUILD/modules/NAME/NAME.so), or NULL.
 */
static char *
build_tree_module(const char *name)
{
	char	 exe[PATH_MAX], *p, *path = NULL;
	ssize_t	 n;
	int	 up;

	if ((n = readlink("/proc/self/exe", exe, sizeof(exe) - 1)) <= 0)
		return NULL;
	exe[n] = '\0';
	for (up = 0; up < 3; up++) {		/* certmint, cli, src */
		if ((p = strrchr(exe, '/')) == NULL)
			return NULL;
		*p = '\0';
	}
	if (asprintf(&path, "%s/modules/%s/%s.so", exe, name, name) == -1)
		return NULL;
	if (access(path, R_OK) == -1) {
		free(path);
		return NULL;
	}
	return path;
}

/*
 * The file to register for arg: a path (with a "/" or ending in ".so")
 * as given, else a module shipped with certmint by its short name
 * ("files": CertMint_Files.Exit), from $CERTMINT_MODULES_PATH (a build
 * tree) or the directory certmint installs them in. NULL when there is
 * none (said).
 */
static char *
bundled_module(const char *arg)
{
	const char	*dir = getenv("CERTMINT_MODULES_PATH");
	char		*path, file[80];
	size_t		 i;

	if (strchr(arg, '/') != NULL || (strlen(arg) > 3 &&
	    strcmp(arg + strlen(arg) - 3, ".so") == 0) ||
	    exit_path_is_script(arg))
		return xstrdup(arg);
	for (i = 0; arg[i] != '\0'; i++)
		if (!islower((unsigned char)arg[i]) || i > 32)
			break;
	if (i == 0 || arg[i] != '\0') {
		fprintf(stderr, "certmint: %s: neither a module file (FILE.so, "
		    "a path) nor the name of one certmint ships (files, mail, "
		    "ldap, command, webhook)\n", arg);
		return NULL;
	}
	if (dir == NULL || *dir == '\0')
		dir = exit_pkg_modules_dir();
	snprintf(file, sizeof(file), "%s.so", arg);
	path = path_join(dir, file);
	/* A build tree has modules/NAME/NAME.so (modules/NAME/meson.build). */
	if (path != NULL && access(path, R_OK) == -1 &&
	    getenv("CERTMINT_MODULES_PATH") != NULL) {
		snprintf(file, sizeof(file), "%s/%s.so", arg, arg);
		free(path);
		path = path_join(dir, file);
	}
	/* Not installed: this certmint may run from a build tree. */
	if (path != NULL && access(path, R_OK) == -1 &&
	    getenv("CERTMINT_MODULES_PATH") == NULL) {
		char	*alt = build_tree_module(arg);

		if (alt != NULL) {
			free(path);
			return alt;
		}
	}
	if (path != NULL && access(path, R_OK) == -1) {
		fprintf(stderr, "certmint: %s: %s (no module \"%s\" is "
		    "installed there: give the module file's path, or set "
		    "CERTMINT_MODULES_PATH to the directory of the modules, "
		    "BUILD/modules in a build tree)\n", path, strerror(errno),
		    arg);
		free(path);
		return NULL;
	}
	return path;
}

/*
 * A .so registered under a name a script had: the daemon prefers NAME.lua,
 * so the old script file goes.
 */
static void
unlink_script(const char *dir, const char *name)
{
	char	 file[300], *p;

	snprintf(file, sizeof(file), "%s.lua", name);
	if ((p = path_join(dir, file)) != NULL)
		unlink(p);
	free(p);
}

/*
 * exit register FILE [--from newest|cursor|SEQ]: check the module in a
 * child (exit_register_check), write its cursor (exit_register_cursor),
 * install the file, name it in [exit] active, and ask the daemon to
 * reload. The cursor's transaction is committed only once the config
 * names the module: a refusal changes neither.
 */
static int
exit_register(const struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "from", required_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 }
	};
	struct cm_config cfg;
	struct store	*st = NULL;
	const char	*mdir, *path;
	char		 err[1024], msg[512], name[256], file[300];
	char		*dir = NULL, *dst = NULL, *active = NULL, *bundled;
	int64_t		 from = REGISTER_FROM_DEFAULT;
	int		 ch, found, threading, rc = CLI_FAIL;

	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ch != 'f')
			return exit_usage();
		if (exit_register_from(optarg, &from, err, sizeof(err)) == -1) {
			fprintf(stderr, "certmint: refused: %s\n", err);
			return CLI_FAIL;
		}
	}
	if (argc - optind != 1)
		return exit_usage();
	if ((bundled = bundled_module(argv[optind])) == NULL)
		return CLI_FAIL;
	path = bundled;
	if (cli_config(cli, &cfg) == -1) {
		free(bundled);
		return CLI_FAIL;
	}
	if (exit_register_check(path, name, sizeof(name), &threading, err,
	    sizeof(err)) == -1) {
		fprintf(stderr, "certmint: refused: %s\n", err);
		goto out;
	}
	/* A script keeps its extension: the daemon loads NAME.lua first. */
	snprintf(file, sizeof(file), "%s.%s", name, exit_path_is_script(path) ?
	    "lua" : "so");
	active = active_edit(config_get(&cfg, "exit", "active"), name, 1,
	    &found, NULL);
	if (found) {
		fprintf(stderr, "certmint: refused: a module named %s is "
		    "already registered (unregister it first)\n", name);
		goto out;
	}
	if (exit_register_cursor(cfg.db_file, name, from, &st, msg,
	    sizeof(msg), err, sizeof(err)) == -1) {
		fprintf(stderr, "certmint: refused: %s\n", err);
		goto out;
	}
	mdir = config_get(&cfg, "exit", "modules_dir");
	if ((dir = path_join(cfg.dir, mdir ? mdir : "modules")) == NULL ||
	    mkdir_p(dir, 0755) == -1 || (dst = path_join(dir, file)) == NULL) {
		fprintf(stderr, "certmint: %s: cannot create\n",
		    dir ? dir : "modules directory");
		goto out;
	}
	/* certmintd would not load it from there: said now. */
	if (exit_module_dir_check(dst, err, sizeof(err)) == -1) {
		fprintf(stderr, "certmint: refused: %s\n", err);
		goto out;
	}
	if (install_file(path, dst) == -1)
		goto out;
	if (!exit_path_is_script(path))
		unlink_script(dir, name);
	if (active == NULL || config_edit(cfg.path, "exit", "active", active,
	    err, sizeof(err)) == -1) {
		fprintf(stderr, "certmint: %s\n", active ? err : "out of "
		    "memory");
		unlink(dst);
		goto out;
	}
	printf("registered %s (%s, %s): %s\n", name,
	    threading == CM_THREADING_SERIAL ? "serial" : "concurrent", path,
	    dst);
	if (exit_register_done(st, 1) == -1)
		fprintf(stderr, "certmint: %s: the cursor was not saved: the "
		    "module starts with the next event\n", name);
	else
		printf("%s\n", msg);
	st = NULL;
	rc = try_reload(cli) == 0 ? CLI_OK : CLI_FAIL;
 out:
	exit_register_done(st, 0);
	free(bundled);
	free(active);
	free(dir);
	free(dst);
	config_free(&cfg);
	return rc;
}

static int
exit_unregister(const struct cli *cli, int argc, char **argv)
{
	struct cm_config cfg;
	const char	*name;
	char		 err[512], *active, full[256];
	int		 found, rc = CLI_FAIL;

	if (argc != 2)
		return exit_usage();
	if (cli_config(cli, &cfg) == -1)
		return CLI_FAIL;
	name = argv[1];
	active = active_edit(config_get(&cfg, "exit", "active"), name, 0,
	    &found, NULL);
	/*
	 * As register takes it: a bundled module by its short name ("files":
	 * CertMint_Files.Exit, bundled_module; names compare in any case).
	 */
	if (!found && strchr(name, '.') == NULL && strchr(name, '/') == NULL) {
		free(active);
		snprintf(full, sizeof(full), "CertMint_%.200s.Exit", name);
		active = active_edit(config_get(&cfg, "exit", "active"), full,
		    0, &found, full);
		if (found)
			name = full;
	}
	if (!found) {
		fprintf(stderr, "certmint: %s is not registered (registered: "
		    "%s)\n", term_safe(argv[1]), config_get(&cfg, "exit",
		    "active") ? config_get(&cfg, "exit", "active") : "none");
		goto out;
	}
	if (active == NULL || config_edit(cfg.path, "exit", "active",
	    *active ? active : NULL, err, sizeof(err)) == -1) {
		fprintf(stderr, "certmint: %s\n", active ? err : "out of "
		    "memory");
		goto out;
	}
	/* The file stays in the modules directory: its events may replay. */
	printf("unregistered %s\n", name);
	rc = try_reload(cli) == 0 ? CLI_OK : CLI_FAIL;
 out:
	free(active);
	config_free(&cfg);
	return rc;
}

int
cmd_exit(const struct cli *cli, int argc, char **argv)
{
	const char	*sub;

	if (argc < 2)
		return exit_usage();
	sub = argv[1];
	argc--;
	argv++;
	optind = 0;
	if (strcmp(sub, "list") == 0)
		return exit_list(cli, argc, argv, 0);
	if (strcmp(sub, "status") == 0)
		return exit_list(cli, argc, argv, 1);
	if (strcmp(sub, "show") == 0)
		return exit_show(cli, argc, argv);
	if (strcmp(sub, "set") == 0)
		return exit_set(cli, argc, argv);
	if (strcmp(sub, "configure") == 0)
		return exit_configure(cli, argc, argv);
	if (strcmp(sub, "replay") == 0)
		return exit_replay(cli, argc, argv);
	if (strcmp(sub, "resume") == 0)
		return exit_resume(cli, argc, argv);
	if (strcmp(sub, "register") == 0)
		return exit_register(cli, argc, argv);
	if (strcmp(sub, "unregister") == 0)
		return exit_unregister(cli, argc, argv);
	if (strcmp(sub, "test") == 0)
		return cmd_exit_test(cli->config_path, argc, argv);
	fprintf(stderr, "certmint: unknown exit command \"%s\"\n", sub);
	return exit_usage();
}

/*
 * policy set FILE.lua|FILE.so|CertMint_Default.Policy: check the module,
 * install it in the modules directory as NAME.lua or NAME.so, name it in
 * [policy] module and ask the daemon to reload (which refuses a module
 * that does not initialize, keeping the one in use).
 */
static int
policy_set(const struct cli *cli, const char *arg)
{
	const struct cm_policy *d = NULL;
	struct cm_config cfg;
	const char	*mdir, *name = arg;
	char		 err[1024], file[300], *dir = NULL, *dst = NULL;
	void		*dl = NULL;
	int		 script = exit_path_is_script(arg), rc = CLI_FAIL;

	if (cli_config(cli, &cfg) == -1)
		return CLI_FAIL;
	if (strcmp(arg, "CertMint_Default.Policy") != 0) {
		if (policy_module_check(arg, &dl, &d, err, sizeof(err)) == -1) {
			fprintf(stderr, "certmint: refused: %s\n", err);
			goto out;
		}
		name = d->name;
		snprintf(file, sizeof(file), "%s.%s", name, script ? "lua" :
		    "so");
		mdir = config_get(&cfg, "exit", "modules_dir");
		if ((dir = path_join(cfg.dir, mdir ? mdir : "modules")) ==
		    NULL || mkdir_p(dir, 0755) == -1 ||
		    (dst = path_join(dir, file)) == NULL) {
			fprintf(stderr, "certmint: %s: cannot create\n",
			    dir ? dir : "modules directory");
			goto out;
		}
		if (install_file(arg, dst) == -1)
			goto out;
		if (!script)
			unlink_script(dir, name);
	}
	if (config_edit(cfg.path, "policy", "module", name, err,
	    sizeof(err)) == -1) {
		fprintf(stderr, "certmint: %s\n", err);
		goto out;
	}
	printf("policy module %s%s%s\n", name, dst ? ": " : "",
	    dst ? dst : "");
	rc = try_reload(cli) == 0 ? CLI_OK : CLI_FAIL;
out:
	if (script)
		luamod_policy_free(d);
	else if (dl != NULL)
		dlclose(dl);
	free(dir);
	free(dst);
	config_free(&cfg);
	return rc;
}

int
cmd_policy(const struct cli *cli, int argc, char **argv)
{
	json_t	*ans, *p;

	if (argc == 3 && strcmp(argv[1], "set") == 0)
		return policy_set(cli, argv[2]);
	if (argc != 2 || strcmp(argv[1], "show") != 0) {
		fprintf(stderr, "usage: certmint policy show | set "
		    "FILE.lua|FILE.so|CertMint_Default.Policy\n");
		return CLI_USAGE;
	}
	if ((ans = admin_call(cli, "policy-show", NULL)) == NULL)
		return CLI_FAIL;
	p = json_object_get(ans, "policy");
	if (cli->json)
		print_json(p);
	else
		printf("%s%s\n  %s\n", tstr(p, "name", "?"),
		    json_is_true(json_object_get(p, "builtin")) ?
		    " (built in)" : "", tstr(p, "description", ""));
	json_decref(ans);
	return CLI_OK;
}
