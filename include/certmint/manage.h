/*
 * certmint/manage.h - the module management interface (AD CS's
 * ICertManageModule): the strings an operator sees, settable properties and
 * "configure".
 *
 * Part of the certmint SDK. C99 and C++ compatible.
 */
#ifndef CERTMINT_MANAGE_H
#define CERTMINT_MANAGE_H

#include <certmint/server.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Property names understood by get_property (wszCMM_PROP_*). */
#define CM_CMM_PROP_NAME        "Name"
#define CM_CMM_PROP_DESCRIPTION "Description"
#define CM_CMM_PROP_COPYRIGHT   "Copyright"
#define CM_CMM_PROP_FILEVER     "File Version"
#define CM_CMM_PROP_PRODUCTVER  "Product Version"

/* configure() flags. */
#define CM_CMM_REFRESHONLY 0x1  /* reload the configuration, no checks */
#define CM_CMM_READONLY    0x2  /* report only, change nothing */

/*
 * get_property: fill *out (a STRING for the five names above); the value is
 * owned by the module and must stay valid until the module's next call.
 * Returns CM_OK, CM_S_FALSE for an unknown name.
 *
 * set_property: called by `certmint exit set NAME PROP VALUE`; the server
 * persists accepted values in the module's config section. Returns CM_OK,
 * CM_S_FALSE for a property the module ignores, or an error.
 *
 * configure: with CM_CMM_REFRESHONLY reread the module's config (srv's
 * config_get) and return. Without it, validate the configuration and test
 * connections; write a human-readable report (UTF-8) into report, at most
 * report_size bytes including the NUL. Returns CM_OK when everything works.
 */
typedef struct cm_manage_module cm_manage_module;

typedef int (*cm_manage_get_property_fn)(void *state, const char *name,
    int32_t flags, cm_value *out);
typedef int (*cm_manage_set_property_fn)(void *state, const char *name,
    int32_t flags, const cm_value *value);
typedef int (*cm_manage_configure_fn)(void *state, cm_server_exit *srv,
    int32_t flags, char *report, size_t report_size);

struct cm_manage_module {
	uint32_t size;  /* sizeof(struct cm_manage_module) of the module */
	cm_manage_get_property_fn get_property;
	cm_manage_set_property_fn set_property;  /* may be NULL */
	cm_manage_configure_fn    configure;     /* may be NULL */
};

#ifdef __cplusplus
}
#endif
#endif /* CERTMINT_MANAGE_H */
