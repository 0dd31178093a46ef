/*
 * ldap_exit.h - CertMint_LDAP.Exit's internal interface between the module
 * (ldap.c: events, manage module), its settings (settings.c: each key read
 * and checked) and the directory (conn.c: connection, bind, reads and
 * writes, what an LDAP error means).
 */
#ifndef CM_LDAP_EXIT_H
#define CM_LDAP_EXIT_H

#include <ldap.h>

#include "modutil.h"

/* The settings of [CertMint_LDAP.Exit] (docs/modules/ldap.md). */
struct ld_settings {
	char		*url;
	char		*ca_file;
	char		*bind_dn;
	char		*password;	/* from password_file; never logged */
	int		 starttls;
	long long	 connect_ms;	/* connect_timeout */
	long long	 op_ms;		/* timeout: of each operation */
	char		*user_dn;	/* template */
	char		*user_base;
	char		*user_filter;	/* template */
	char		*user_attr;
	char		*user_classes;
	char		*crl_dn;	/* template */
	char		*ca_dn;		/* template; default crl_dn */
	char		*crl_classes;
	char		*ca_classes;
	int		 create;	/* create_entries */
};

/* What a failure means for the event (CM_OK, or how notify returns). */
enum ld_outcome {
	LD_OK = CM_OK,
	LD_RETRY = CM_E_FAIL,		/* transient: the host retries */
	LD_PERMANENT = CM_E_PERMANENT,	/* this event: a dead letter */
	LD_SUSPEND = CM_E_SUSPEND	/* every event: wait for resume */
};

/* One attribute to write: values, or none with LDAP_MOD_DELETE. */
struct ld_attr {
	const char	*name;
	int		 op;		/* LDAP_MOD_ADD, _DELETE, _REPLACE */
	struct berval	*vals[8];	/* NULL-terminated */
};

/* settings.c */
/* Read and check the section into s; the number of problems, each in r. */
int	 settings_read(cm_server_exit *srv, struct ld_settings *s,
	    char **state_file, struct mu_buf *r);
void	 settings_free(struct ld_settings *s);
int	 ld_set_property(void *state, const char *name, int32_t flags,
	    const cm_value *value);

/* conn.c */
int	 ld_connect(const struct ld_settings *, LDAP **, char *, size_t);
int	 ld_outcome_of(int rc);
int	 ld_modify(LDAP *, const char *dn, struct ld_attr *, size_t n,
	    char *err, size_t errlen);
int	 ld_add(LDAP *, const char *dn, const char *classes,
	    struct ld_attr *, size_t n, char *err, size_t errlen);
int	 ld_find(LDAP *, const char *base, const char *filter, char **dn,
	    char *err, size_t errlen);
int	 ld_read(LDAP *, const char *dn, char **attrs, LDAPMessage **res,
	    char *err, size_t errlen);
int	 ld_esc_dn(struct mu_buf *, const char *);
int	 ld_esc_filter(struct mu_buf *, const char *);

#endif /* CM_LDAP_EXIT_H */
