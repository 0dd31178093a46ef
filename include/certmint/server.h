/*
 * certmint/server.h - values, errors and the server callback table that the
 * CA hands to exit and policy modules (AD CS's ICertServerExit).
 *
 * Part of the certmint SDK. C99 and C++ compatible. Structs grow only by
 * appending members behind their leading size field; a module built against
 * an older header keeps working.
 */
#ifndef CERTMINT_SERVER_H
#define CERTMINT_SERVER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Return codes shared by every call across the module boundary. */
#define CM_OK                 0
#define CM_S_FALSE            1   /* success, but nothing (more) to return */
#define CM_E_FAIL           (-1)  /* generic failure */
#define CM_E_PROPERTY_EMPTY (-2)  /* property absent for this request/event (CERTSRV_E_PROPERTY_EMPTY) */
#define CM_E_TYPE           (-3)  /* property exists, but not with the requested CM_PROPTYPE_* */
#define CM_E_INVALIDARG     (-4)  /* NULL pointer, unknown flag, bad name */
#define CM_E_NOMEM          (-5)
#define CM_E_NOCONTEXT      (-6)  /* call needs a request context (or context 0) that is not set */
#define CM_E_NOTFOUND       (-7)  /* unknown request id, serial, name */
#define CM_E_UNSUPPORTED    (-8)  /* not implemented by this server/module */
/*
 * From an exit module's notify (ABI 1.1; an older server retries them as
 * any error). Log the cause at CM_LOG_ERROR or CM_LOG_WARN first: the
 * last such line of the call is recorded with the outcome.
 */
#define CM_E_PERMANENT      (-9)  /* this event can never be delivered: dead-letter it now, no retry */
#define CM_E_SUSPEND        (-10) /* stop delivering to this module (the event stays queued) until `certmint exit resume` */

/* Property types (AD CS PROPTYPE_* values). */
#define CM_PROPTYPE_LONG    0x1   /* int64_t */
#define CM_PROPTYPE_DATE    0x2   /* int64_t, Unix seconds UTC */
#define CM_PROPTYPE_BINARY  0x3   /* bytes */
#define CM_PROPTYPE_STRING  0x4   /* NUL-terminated UTF-8 */
#define CM_PROPTYPE_MASK    0xff

/* Extension flags (AD CS EXTENSION_* values). */
#define CM_EXTENSION_CRITICAL_FLAG      0x00000001
#define CM_EXTENSION_DISABLE_FLAG       0x00000002
#define CM_EXTENSION_POLICY_MASK        0x0000ffff
#define CM_EXTENSION_ORIGIN_REQUEST     0x00010000
#define CM_EXTENSION_ORIGIN_POLICY      0x00020000
#define CM_EXTENSION_ORIGIN_ADMIN       0x00030000
#define CM_EXTENSION_ORIGIN_SERVER      0x00040000
#define CM_EXTENSION_ORIGIN_IMPORTEDCERT 0x00060000
#define CM_EXTENSION_ORIGIN_CACERT      0x00090000
#define CM_EXTENSION_ORIGIN_MASK        0x000f0000

/* Request dispositions (AD CS DB_DISP_* values), property "Disposition". */
#define CM_DISP_ACTIVE    8
#define CM_DISP_PENDING   9
#define CM_DISP_FOREIGN  12
#define CM_DISP_CA_CERT  15
#define CM_DISP_ISSUED   20
#define CM_DISP_REVOKED  21
#define CM_DISP_ERROR    30
#define CM_DISP_DENIED   31

/* CA types (ENUM_CATYPES), CA property "CAType". */
#define CM_CATYPE_STANDALONE_ROOTCA 3
#define CM_CATYPE_STANDALONE_SUBCA  4

/* CA_DISP_* values for the CertState and CRLState CA properties. */
#define CM_CA_DISP_INCOMPLETE 0
#define CM_CA_DISP_ERROR      1
#define CM_CA_DISP_REVOKED    2
#define CM_CA_DISP_VALID      3
#define CM_CA_DISP_INVALID    4

/* Log levels for cm_server_exit.log. */
#define CM_LOG_ERROR 0
#define CM_LOG_WARN  1
#define CM_LOG_INFO  2
#define CM_LOG_DEBUG 3

/*
 * A property value. The server fills it; the pointed-to bytes are borrowed
 * and stay valid until the module's current call (notify, verify_request...)
 * returns. Copy what you keep.
 */
typedef struct cm_value {
	uint32_t type;       /* CM_PROPTYPE_* */
	int64_t  l;          /* LONG and DATE */
	const void *data;    /* STRING (NUL-terminated UTF-8) or BINARY */
	size_t   len;        /* bytes of data; for STRING without the NUL */
} cm_value;

/*
 * The server callback table (ICertServerExit). The module receives a pointer
 * to it in every call and passes that pointer back as the first argument.
 * Each call into a module gets its own object: a module must not keep it
 * after the call returns. Names are matched case-insensitively.
 *
 * set_context(ctx): bind to the request given in notify, or 0 for the CA
 * itself. Request properties need a non-zero context; CA properties (CAType,
 * CertCount, RawCRL.N, ...) need context 0.
 */
typedef struct cm_server_exit cm_server_exit;

typedef int  (*cm_set_context_fn)(cm_server_exit *srv, int64_t context);
typedef int  (*cm_get_property_fn)(cm_server_exit *srv, const char *name,
    uint32_t proptype, cm_value *out);
typedef int  (*cm_get_attribute_fn)(cm_server_exit *srv, const char *name,
    const char **value);
typedef int  (*cm_get_extension_fn)(cm_server_exit *srv, const char *oid,
    uint32_t proptype, cm_value *out);
typedef int  (*cm_get_extension_flags_fn)(cm_server_exit *srv, int32_t *flags);
typedef int  (*cm_enum_setup_fn)(cm_server_exit *srv, int32_t flags);
typedef int  (*cm_enum_next_fn)(cm_server_exit *srv, const char **name);
typedef int  (*cm_enum_close_fn)(cm_server_exit *srv);
typedef void (*cm_log_fn)(cm_server_exit *srv, int level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/*
 * config_get(srv, key, &value): the raw value of key in the module's own
 * config section ([MyApp.Exit]), CM_E_PROPERTY_EMPTY when unset. The key
 * "*" (ABI 1.2) gives the names of every key set in the section, one per
 * line, so that a module can refuse the ones it does not know (a typo
 * would otherwise be silently ignored); a 1.0 or 1.1 server answers it
 * CM_E_PROPERTY_EMPTY, as for an empty section.
 */
typedef int  (*cm_config_get_fn)(cm_server_exit *srv, const char *key,
    const char **value);

struct cm_server_exit {
	uint32_t size;        /* sizeof(struct cm_server_exit) of the server */
	uint32_t abi_minor;   /* CM_ABI_MINOR of the server */

	cm_set_context_fn          set_context;
	cm_get_property_fn         get_request_property;
	cm_get_attribute_fn        get_request_attribute;
	cm_get_property_fn         get_certificate_property;
	cm_get_extension_fn        get_certificate_extension;
	cm_get_extension_flags_fn  get_certificate_extension_flags;
	cm_enum_setup_fn           enumerate_extensions_setup;
	cm_enum_next_fn            enumerate_extensions;      /* CM_S_FALSE at end */
	cm_enum_close_fn           enumerate_extensions_close;
	cm_enum_setup_fn           enumerate_attributes_setup;
	cm_enum_next_fn            enumerate_attributes;      /* CM_S_FALSE at end */
	cm_enum_close_fn           enumerate_attributes_close;
	cm_log_fn                  log;
	cm_config_get_fn           config_get;  /* the module's own config section */
	/* new members are appended here; check size before using them */
};

#ifdef __cplusplus
}
#endif
#endif /* CERTMINT_SERVER_H */
