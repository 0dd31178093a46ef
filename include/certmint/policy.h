/*
 * certmint/policy.h - the policy module interface (AD CS's ICertPolicy2 and
 * ICertServerPolicy). Exactly one policy module is active; certmint's
 * built-in default policy ("CertMint_Default.Policy") implements it too.
 *
 * Part of the certmint SDK. C99 and C++ compatible.
 */
#ifndef CERTMINT_POLICY_H
#define CERTMINT_POLICY_H

#include <certmint/exit.h>	/* CM_ABI_*, CM_THREADING_*, CM_EXIT_EXTERN_C */
#include <certmint/server.h>
#include <certmint/manage.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CM_POLICY_MAGIC 0x434d504fu  /* "CMPO" */
#define CM_POLICY_ENTRY_SYMBOL "cm_policy_module_entry"

/* verify_request results (VR_*). */
#define CM_VR_PENDING    0
#define CM_VR_INSTANT_OK 1
#define CM_VR_INSTANT_BAD 2

/*
 * The policy callback table: the getters of cm_server_exit (same slot types)
 * plus setters for the certificate being built.
 */
typedef struct cm_server_policy cm_server_policy;

typedef int (*cm_set_property_fn)(cm_server_policy *srv, const char *name,
    const cm_value *value);
typedef int (*cm_set_extension_fn)(cm_server_policy *srv, const char *oid,
    int32_t flags, const cm_value *value);

struct cm_server_policy {
	uint32_t size;
	uint32_t abi_minor;
	/* Getters: called with the cm_server_policy pointer cast to
	 * cm_server_exit *, exactly as for exit modules. */
	cm_server_exit *getters;
	cm_set_property_fn  set_certificate_property;   /* NotBefore, NotAfter, Subject.*, CertificateTemplate */
	cm_set_extension_fn set_certificate_extension;  /* BINARY value = DER extension value */
};

/*
 * verify_request: new_request is 1 for a fresh submission, 0 when an officer
 * resubmits a pending or denied request (treat it as an approval). Set
 * *disposition to CM_VR_*, and optionally write a message (UTF-8) for the
 * requester into message (message_size bytes including the NUL).
 */
typedef int  (*cm_policy_initialize_fn)(const char *config, cm_server_policy *srv,
    void **state);
typedef int  (*cm_policy_verify_request_fn)(void *state, int64_t context,
    int new_request, int32_t flags, cm_server_policy *srv, int32_t *disposition,
    char *message, size_t message_size);
typedef const char *(*cm_policy_get_description_fn)(void *state);
typedef const cm_manage_module *(*cm_policy_get_manage_module_fn)(void *state);
typedef void (*cm_policy_shutdown_fn)(void *state);

struct cm_policy {
	uint32_t magic;       /* CM_POLICY_MAGIC */
	uint16_t abi_major;   /* CM_ABI_MAJOR (certmint/exit.h) */
	uint16_t abi_minor;
	uint32_t size;
	const char *name;     /* "MyApp.Policy" */
	uint32_t threading;   /* CM_THREADING_* */

	cm_policy_initialize_fn        initialize;
	cm_policy_verify_request_fn    verify_request;
	cm_policy_get_description_fn   get_description;
	cm_policy_get_manage_module_fn get_manage_module;  /* may be NULL */
	cm_policy_shutdown_fn          shutdown;           /* may be NULL */
};

typedef const struct cm_policy *(*cm_policy_entry_fn)(void);

/* Declare the entry point: CM_POLICY_MODULE(my_policy_descriptor) */
#define CM_POLICY_MODULE(desc) \
	CM_EXIT_EXTERN_C const struct cm_policy *cm_policy_module_entry(void); \
	CM_EXIT_EXTERN_C const struct cm_policy *cm_policy_module_entry(void) \
	{ return &(desc); }

#ifdef __cplusplus
}
#endif
#endif /* CERTMINT_POLICY_H */
