/*
 * certmint/exit.h - the exit module interface (AD CS's ICertExit/ICertExit2).
 *
 * An exit module is a shared object exporting one function,
 *
 *     const struct cm_exit *cm_exit_module_entry(void);
 *
 * which returns a pointer to a static const descriptor. The loader checks
 * magic, ABI major and name before calling anything else. See
 * docs/exit-modules.md for the full contract.
 *
 * Part of the certmint SDK. C99 and C++ compatible.
 */
#ifndef CERTMINT_EXIT_H
#define CERTMINT_EXIT_H

#include <certmint/server.h>
#include <certmint/manage.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CM_EXIT_MAGIC 0x434d4558u  /* "CMEX" */
#define CM_ABI_MAJOR  1
#define CM_ABI_MINOR  2   /* 1: CM_E_PERMANENT, CM_E_SUSPEND;
                             2: config_get(srv, "*") lists the keys */

/* Exit events (AD CS EXITEVENT_* values). One bit per notify call. */
#define CM_EXITEVENT_INVALID             0x000
#define CM_EXITEVENT_CERTISSUED          0x001
#define CM_EXITEVENT_CERTPENDING         0x002
#define CM_EXITEVENT_CERTDENIED          0x004
#define CM_EXITEVENT_CERTREVOKED         0x008
#define CM_EXITEVENT_CERTRETRIEVEPENDING 0x010
#define CM_EXITEVENT_CRLISSUED           0x020
#define CM_EXITEVENT_SHUTDOWN            0x040
#define CM_EXITEVENT_STARTUP             0x080
#define CM_EXITEVENT_CERTUNREVOKED       0x100  /* release from hold */
#define CM_EXITEVENT_CERTIMPORTED        0x200
#define CM_EXITEVENT_ALL                 0x3ff

/* Threading models (ATL THREADFLAGS_* values). */
#define CM_THREADING_SERIAL     0x1  /* apartment: never two calls at once */
#define CM_THREADING_CONCURRENT 0x2  /* both/free: calls may overlap */

#define CM_EXIT_ENTRY_SYMBOL "cm_exit_module_entry"

/*
 * initialize: config is the CA's config string ("host\CA Name"). Create the
 *   module's state, store it in *state and the OR of CM_EXITEVENT_* bits the
 *   module wants in *event_mask. Return CM_OK or an error (module not loaded).
 * notify: one event; context is the request id for request and certificate
 *   events and 0 for CRLISSUED, STARTUP and SHUTDOWN. Return CM_OK, or an
 *   error to have the event retried later (CM_E_PERMANENT: never, a dead
 *   letter now; CM_E_SUSPEND: the module waits for `certmint exit resume`).
 *   Delivery is at least once: read the EventSequence property to drop
 *   duplicates.
 * get_description: a static or state-owned UTF-8 string.
 * get_manage_module: may be NULL; the table must outlive the state.
 * shutdown: after the last notify; free the state.
 */
typedef int  (*cm_exit_initialize_fn)(const char *config, cm_server_exit *srv,
    void **state, int32_t *event_mask);
typedef int  (*cm_exit_notify_fn)(void *state, int32_t event, int64_t context,
    cm_server_exit *srv);
typedef const char *(*cm_exit_get_description_fn)(void *state);
typedef const cm_manage_module *(*cm_exit_get_manage_module_fn)(void *state);
typedef void (*cm_exit_shutdown_fn)(void *state);

struct cm_exit {
	uint32_t magic;       /* CM_EXIT_MAGIC */
	uint16_t abi_major;   /* CM_ABI_MAJOR */
	uint16_t abi_minor;   /* CM_ABI_MINOR */
	uint32_t size;        /* sizeof(struct cm_exit) */
	const char *name;     /* "MyApp.Exit" */
	uint32_t threading;   /* CM_THREADING_* */

	cm_exit_initialize_fn        initialize;
	cm_exit_notify_fn            notify;
	cm_exit_get_description_fn   get_description;
	cm_exit_get_manage_module_fn get_manage_module;  /* may be NULL */
	cm_exit_shutdown_fn          shutdown;           /* may be NULL */
	/* new members are appended here */
};

typedef const struct cm_exit *(*cm_exit_entry_fn)(void);

/* Declare the entry point with this so C++ modules get C linkage. */
#ifdef __cplusplus
#define CM_EXIT_EXTERN_C extern "C"
#else
#define CM_EXIT_EXTERN_C
#endif
#define CM_EXIT_MODULE(desc) \
	CM_EXIT_EXTERN_C const struct cm_exit *cm_exit_module_entry(void); \
	CM_EXIT_EXTERN_C const struct cm_exit *cm_exit_module_entry(void) \
	{ return &(desc); }

#ifdef __cplusplus
}
#endif
#endif /* CERTMINT_EXIT_H */
