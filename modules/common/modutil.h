/*
 * modutil.h - what the exit modules certmint ships (modules/) share. Built
 * with them, only against the public SDK (<certmint/exit.h>): nothing of
 * certmintd's own code. Every function is thread-safe and allocates with
 * malloc; the caller frees what it returns.
 */
#ifndef CM_MODUTIL_H
#define CM_MODUTIL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <certmint/exit.h>

/* A growable byte string; data is NUL-terminated while len < cap. */
struct mu_buf {
	char	*data;
	size_t	 len, cap;
};
int	 mu_buf_add(struct mu_buf *, const void *, size_t);	/* 0 or -1 */
int	 mu_buf_str(struct mu_buf *, const char *);
int	 mu_buf_printf(struct mu_buf *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	 mu_buf_free(struct mu_buf *);

/*
 * Settings a refresh replaces while calls still run on the old ones. The
 * settings struct begins with a struct mu_ref (refs 1 when made, free_fn
 * frees it); the module keeps the current ones as a struct mu_ref *cur,
 * guarded by its mutex mu. A call holds the settings it began with
 * (mu_ref_hold) and releases them when done; a refresh installs new ones
 * (mu_ref_swap: the old ones go with their last holder).
 */
struct mu_ref {
	int		 refs;
	void		(*free_fn)(void *);
};
struct mu_ref	*mu_ref_hold(pthread_mutex_t *mu, struct mu_ref *const *cur);
void		 mu_ref_release(pthread_mutex_t *mu, struct mu_ref *);
void		 mu_ref_swap(pthread_mutex_t *mu, struct mu_ref **cur,
		    struct mu_ref *);

/* FNV-1a of s: picks one of a module's per-certificate locks. */
uint32_t mu_hash(const char *s);

/*
 * The module's config key (its own section), copied; def (copied, may be
 * NULL) when unset. *out NULL only for def NULL. 0 or -1 (no memory).
 */
int	 mu_config(cm_server_exit *, const char *key, const char *def,
	    char **out);
/*
 * Key as an integer in [min, max] (def when unset), a boolean (true/false,
 * yes/no, on/off, 1/0), or a duration in milliseconds ("500ms", "10s",
 * "2m"; a bare number is seconds). 0, or -1 with err naming key and why.
 */
int	 mu_config_int(cm_server_exit *, const char *key, long long def,
	    long long min, long long max, long long *out, char *err,
	    size_t errlen);
/*
 * Refuse a key set in the module's section that known() does not take:
 * -1 with "KEY: not a setting of NAME (see DOC)" in err, else 0 (also
 * when the server cannot list the keys: SDK 1.0 and 1.1).
 */
int	 mu_config_unknown(cm_server_exit *, int (*known)(const char *key),
	    const char *name, const char *doc, char *err, size_t errlen);
int	 mu_config_bool(cm_server_exit *, const char *key, int def, int *out,
	    char *err, size_t errlen);
int	 mu_config_ms(cm_server_exit *, const char *key, long long def,
	    long long *out, char *err, size_t errlen);

/*
 * A secret from a file (password_file, secret_file): a regular file that
 * neither group nor others may read or write, its first line (without the
 * newline). 0, or -1 with err (the path and why, never the content).
 */
int	 mu_secret_file(const char *path, char **out, char *err,
	    size_t errlen);

/*
 * A property of the event's request or certificate as text, whatever its
 * type: STRING as is, LONG in decimal, DATE as RFC 3339 UTC
 * ("2026-12-01T10:00:00Z"), BINARY in lowercase hex. The name may be a
 * request property ("RequesterName", "Request.RequestID"), a certificate
 * property ("SerialNumber", "Subject.CommonName") or an attribute
 * ("Attribute.CertFile" reads get_request_attribute). Context must be set.
 * Returns 0 with *out, CM_E_PROPERTY_EMPTY when absent, or another CM_E_*.
 */
int	 mu_prop_text(cm_server_exit *, const char *name, char **out);
/* The binary property name (RawCertificate, RawCRL, ...), copied. */
int	 mu_prop_binary(cm_server_exit *, const char *name,
	    unsigned char **out, size_t *len);

/*
 * Expand "%{Name}" in tmpl with mu_prop_text (Name may carry a ":-default"
 * suffix: "%{Request.RequesterName:-nobody}"); a property that is absent
 * becomes missing (AD CS's SMTP module prints "???"). "%%" is "%". 0, or -1
 * with err for a bad template (an unclosed "%{").
 */
int	 mu_expand(cm_server_exit *, const char *tmpl, const char *missing,
	    char **out, char *err, size_t errlen);

/*
 * As mu_expand, each value (a default and missing too) appended through
 * esc (0 or -1): for a text whose template may use a markup that a value
 * must not (a chat message's).
 */
int	 mu_expand_quoted(cm_server_exit *, const char *tmpl,
	    const char *missing, int (*esc)(struct mu_buf *, const char *),
	    char **out, char *err, size_t errlen);

/*
 * As mu_expand, for values that land in a syntax (an LDAP DN or filter):
 * each value (a default too) goes through esc, which appends it escaped to
 * b (0 or -1), and a property that is absent with no ":-default" is an
 * error. 0, CM_E_PROPERTY_EMPTY (err names the property), or -1 (err).
 */
int	 mu_expand_esc(cm_server_exit *, const char *tmpl,
	    int (*esc)(struct mu_buf *, const char *), char **out, char *err,
	    size_t errlen);

/*
 * A bundled module's cm_manage_module get_property (AD CS's
 * ICertManageModule::GetProperty): CM_CMM_PROP_NAME is title,
 * CM_CMM_PROP_DESCRIPTION description, the copyright and versions are the
 * bundle's. CM_OK with out set, or CM_S_FALSE for another name.
 */
int	 mu_manage_info(const char *prop, const char *title,
	    const char *description, cm_value *out);

/*
 * A server table whose config_get knows one key, key = value (and, when
 * dflt is not NULL, the keys it answers for): `exit set` gives a module one
 * value, which it checks with its own section reader run on this table.
 * Any other key is CM_E_PROPERTY_EMPTY, as an unset one is.
 */
struct mu_one_key {
	cm_server_exit	 vt;
	const char	*key, *value;
	const char	*(*dflt)(const char *key);	/* NULL: unset */
};
void	 mu_one_key_init(struct mu_one_key *, const char *key,
	    const char *value, const char *(*dflt)(const char *key));

/* CM_EXITEVENT_* as certmint names them: "issued", "crl_issued", ... */
const char *mu_event_name(int32_t event);
/* AD CS's names, for mail templates: "Issued", "CRLIssued", ... */
const char *mu_event_adcs_name(int32_t event);

/* s escaped for a JSON string (without the quotes), appended to b. */
int	 mu_json_escape(struct mu_buf *b, const char *s);
/*
 * Is s UTF-8 text that shows what it is: no control character (C0, DEL,
 * C1), no bidirectional control (U+202E turns "gnp.exe" around), nothing
 * invisible (zero-width characters and joiners, soft hyphen, U+FEFF) and
 * no line or paragraph separator? 1 or 0.
 */
int	 mu_plain_text(const char *s);
/* PEM of a DER certificate ("CERTIFICATE") or CRL ("X509 CRL"). */
char	*mu_pem(const char *label, const unsigned char *der, size_t len);
/* RFC 3339 UTC of t into buf (at least 21 bytes). */
void	 mu_time(int64_t t, char *buf, size_t len);

#endif /* CM_MODUTIL_H */
