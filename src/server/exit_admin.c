/*
 * exit_admin.c - the admin commands of the module hosts: exit-list,
 * exit-show, exit-set, exit-configure, exit-replay and exit-resume
 * (`certmint exit ...`),
 * and policy-show (`certmint policy show`).
 */
#include <stdio.h>
#include <string.h>

#include "../exit/exit_host.h"
#include "server.h"

static struct exit_host *host;

static const char *
arg_str(json_t *args, const char *key)
{
	return json_string_value(json_object_get(args, key));
}

static int
missing(const char *what, char *err, size_t errlen, enum ca_status *code)
{
	snprintf(err, errlen, "\"%s\" is required", what);
	*code = CA_E_BADREQ;
	return -1;
}

static int
cmd_exit_list(struct server *srv, const char *officer, json_t *args,
    json_t *reply, char *err, size_t errlen, enum ca_status *code)
{
	json_t	*arr = json_array();

	exit_host_list(host, arr);
	json_object_set_new(reply, "modules", arr);
	return 0;
}

static int
cmd_exit_show(struct server *srv, const char *officer, json_t *args,
    json_t *reply, char *err, size_t errlen, enum ca_status *code)
{
	const char	*name = arg_str(args, "name");

	if (name == NULL)
		return missing("name", err, errlen, code);
	if (exit_host_show(host, name, reply, err, errlen) == -1) {
		*code = CA_E_NOTFOUND;
		return -1;
	}
	return 0;
}

static int
cmd_exit_set(struct server *srv, const char *officer, json_t *args,
    json_t *reply, char *err, size_t errlen, enum ca_status *code)
{
	const char	*name = arg_str(args, "name");
	const char	*prop = arg_str(args, "property");
	const char	*value = arg_str(args, "value");
	char		 note[512];

	if (name == NULL || prop == NULL || value == NULL)
		return missing(name == NULL ? "name" : prop == NULL ? "property" :
		    "value", err, errlen, code);
	if (exit_host_set(host, name, prop, value, note, sizeof(note), err,
	    errlen) == -1) {
		*code = CA_E_CONFLICT;
		return -1;
	}
	if (note[0] != '\0') {
		json_object_set_new(reply, "note", json_string(note));
		log_info("exit module %s: %s set by %s, unchecked: %s", name,
		    prop, officer, note);
	} else
		log_info("exit module %s: %s set by %s", name, prop, officer);
	return 0;
}

static int
cmd_exit_configure(struct server *srv, const char *officer, json_t *args,
    json_t *reply, char *err, size_t errlen, enum ca_status *code)
{
	const char	*name = arg_str(args, "name");
	char		 report[4096];
	int		 flags = json_is_true(json_object_get(args, "refresh")) ?
			    CM_CMM_REFRESHONLY : 0;
	int		 rc;

	if (name == NULL)
		return missing("name", err, errlen, code);
	rc = exit_host_configure(host, name, flags, report, sizeof(report), err,
	    errlen);
	if (rc == 0)
		json_object_set_new(reply, "report", json_string(report));
	else
		*code = CA_E_CONFLICT;
	return rc;
}

static int
cmd_exit_replay(struct server *srv, const char *officer, json_t *args,
    json_t *reply, char *err, size_t errlen, enum ca_status *code)
{
	const char	*name = arg_str(args, "name");
	json_t		*from = json_object_get(args, "from");
	int64_t		 count;

	if (name == NULL)
		return missing("name", err, errlen, code);
	if (exit_host_replay(host, name, json_is_integer(from) ?
	    json_integer_value(from) : 0,
	    json_is_true(json_object_get(args, "dead")), &count, err,
	    errlen) == -1) {
		*code = CA_E_BADREQ;
		return -1;
	}
	json_object_set_new(reply, "events", json_integer(count));
	log_info("exit module %s: replay requested by %s", name, officer);
	return 0;
}

static int
cmd_exit_resume(struct server *srv, const char *officer, json_t *args,
    json_t *reply, char *err, size_t errlen, enum ca_status *code)
{
	const char	*name = arg_str(args, "name");

	if (name == NULL)
		return missing("name", err, errlen, code);
	if (exit_host_resume(host, name, err, errlen) == -1) {
		*code = CA_E_NOTFOUND;
		return -1;
	}
	log_info("exit module %s: resumed by %s", name, officer);
	return 0;
}

static int
cmd_policy_show(struct server *srv, const char *officer, json_t *args,
    json_t *reply, char *err, size_t errlen, enum ca_status *code)
{
	json_t	*obj = json_object();

	pthread_mutex_lock(&srv->modules_mu);
	policy_host_show(srv->policy, obj);
	pthread_mutex_unlock(&srv->modules_mu);
	json_object_set_new(reply, "policy", obj);
	return 0;
}

/*
 * Register the exit and policy module commands. Call before admin_start.
 */
void
exit_admin_register(struct exit_host *h, struct policy_host *ph)
{
	host = h;
	admin_register("policy-show", cmd_policy_show);
	admin_register("exit-list", cmd_exit_list);
	admin_register("exit-status", cmd_exit_list);
	admin_register("exit-show", cmd_exit_show);
	admin_register("exit-set", cmd_exit_set);
	admin_register("exit-configure", cmd_exit_configure);
	admin_register("exit-replay", cmd_exit_replay);
	admin_register("exit-resume", cmd_exit_resume);
}
