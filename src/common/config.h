/*
 * config.h - the CA's INI configuration file (AD CS keeps this in the
 * registry). Relative paths are resolved against the file's directory.
 * See docs/configuration.md for every key.
 */
#ifndef CM_CONFIG_H
#define CM_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "profile.h"

/* Default policy RequestDisposition (AD CS REQDISP_* values). */
#define REQDISP_PENDING		0
#define REQDISP_ISSUE		1
#define REQDISP_DENY		2
#define REQDISP_USEREQUESTATTRIBUTE 3
#define REQDISP_MASK		0xff
#define REQDISP_PENDINGFIRST	0x100

/* [rest] anonymous: what an unauthenticated submission gets. */
#define CM_ANON_NO	0	/* refused: 401 */
#define CM_ANON_PENDING	1	/* taken, always pending */
#define CM_ANON_ISSUE	2	/* as the policy decides */

/* [ca] startup_check: when certmintd runs PRAGMA quick_check. */
#define CM_CHECK_AUTO		0	/* full up to CM_CHECK_FULL_MAX bytes */
#define CM_CHECK_FULL		1	/* before serving */
#define CM_CHECK_BACKGROUND	2	/* while serving */
#define CM_CHECK_FULL_MAX	((int64_t)256 << 20)

/*
 * A line of the file, at most: Debian's libinih reads lines of 199 bytes
 * with the newline (INI_MAX_LINE 200), and a longer one as two.
 */
#define CONFIG_MAX_LINE		198
#define CONFIG_MAX_SIZE		((off_t)16 << 20)

struct cfg_entry {
	char	*section;
	char	*key;
	char	*value;
};

struct cm_config {
	char		*path;		/* the config file */
	char		*dir;		/* its directory */
	uid_t		 file_uid;	/* its owner and mode as read (fstat), */
	mode_t		 file_mode;	/* for certmintd's check at start */
	int		 unended_line;	/* the last line's number, when it has
					   no newline (cut short?); 0 */

	/* [ca] */
	char		*ca_name;	/* "certmint Demo CA" */
	int		 ca_type;	/* CM_CATYPE_STANDALONE_{ROOT,SUB}CA */
	char		*key_file;	/* absolute */
	char		*cert_file;	/* absolute */
	char		*chain_file;	/* absolute; parent chain for a sub CA, may not exist */
	char		*db_file;	/* absolute */
	char		*hash;		/* "sha256", "sha384", "sha512" */
	char		*machine_dns_name;
	int		 serials_random;	/* [ca] serials = random (default ordered) */
	int		 startup_check;	/* CM_CHECK_*, default CM_CHECK_AUTO */

	/* [server] */
	char		*listen_addr;	/* "127.0.0.1" */
	int		 listen_port;	/* 8080 */
	char		*admin_socket;	/* absolute */
	char		*pid_file;	/* absolute */
	size_t		 max_body;	/* bytes, default 65536 */
	int		 threads;	/* HTTP threads, 0 = 2 per core, at least 4 */
	int		 trust_requester_header; /* X-Certmint-Requester, default 0 */
	int		 max_connections;	/* HTTP connections, default 1000 */
	int		 max_client_connections; /* from one address, default 256 */
	int		 header_timeout;	/* s from accept to headers, default 10 */
	int		 body_timeout;	/* s from headers to body, default 30 */
	int		 tls_port;	/* HTTPS, 0 = none (init writes one) */
	char		*tls_cert;	/* absolute; default tls.crt */
	char		*tls_key;	/* absolute; default tls.key */
	char		*tls_names;	/* more names for tls renew, "a,b" */
	int		 plain_api;	/* the API on the plain port too */

	/* [rest]: who may use the enrollment API (docs/rest-api.md) */
	int		 anonymous;	/* CM_ANON_*, default CM_ANON_NO */
	char		*client_profiles; /* client certificates' profiles */
	char		*client_names;	/* and name patterns, "" = own names */

	/* [publish] */
	char		*base_url;	/* "http://127.0.0.1:8080" */
	char		*cdp_url;	/* default base_url "/ca.crl" */
	char		*aia_url;	/* default base_url "/ca.crt" */
	char		*delta_url;	/* default base_url "/delta.crl" */

	/*
	 * [crl], in seconds (docs/user-guide.md): a CRL is valid for period
	 * + overlap and its successor is published after period (AD CS's
	 * CRLPeriod and CRLOverlapPeriod); the delta's likewise.
	 */
	int64_t		 crl_period;		/* default 7d */
	int64_t		 crl_overlap;		/* default 10% of period, >= 1h */
	int		 delta_enabled;		/* default 0 */
	int64_t		 delta_period;		/* default 1d */
	int64_t		 delta_overlap;		/* default 10%, >= 1h */
	int		 crl_on_revoke;		/* publish_on_revoke, default 0 */

	/* [policy] - the default policy */
	char		*policy_module;		/* "CertMint_Default.Policy" */
	int		 request_disposition;	/* REQDISP_*, default ISSUE */
	uint32_t	 key_types;		/* bit (1 << KEY_*) allowed */
	uint32_t	 san_types;		/* bit (1 << SAN_*) allowed */
	int		 default_profile;	/* index in profile_list */
	int		 validity_days;		/* default 365 */
	int		 max_validity_days;	/* default 825 */
	int		 backdate_seconds;	/* notBefore = now - this, default 300 */

	/* the built-in profiles, changed and added to by [profile.NAME] */
	struct cm_profile *profile_list;
	size_t		  nprofiles;

	/* every entry, for module sections and config_get */
	struct cfg_entry *entries;
	size_t		  nentries;
};

/*
 * Load and validate path. Returns 0, or -1 with a message naming the line
 * or key in err.
 */
int	 config_load(const char *path, struct cm_config *, char *err, size_t errlen);
void	 config_free(struct cm_config *);
/*
 * The path [sec] key names in the file at path (relative to its directory;
 * def when unset), read whatever else the file holds, even a file that
 * config_load refuses: for the CLI to reach a daemon that runs on the
 * configuration it loaded before the file went wrong. Caller frees; NULL
 * when the file cannot be read.
 */
char	*config_peek_path(const char *path, const char *sec, const char *key,
	    const char *def);
/*
 * certmintd's check of the file config_load read: owned by root or us,
 * not writable by group or others (file_check_mode). 0, or -1 with err.
 */
int	 config_check_mode(const struct cm_config *, char *err, size_t errlen);

/* The raw value of section/key, or NULL. Names are case-insensitive. */
const char *config_get(const struct cm_config *, const char *section,
	    const char *key);

/*
 * The names of the keys set in section, one per line, each once, in the
 * file's order (malloc'd), or NULL when none is set.
 */
char	*config_keys(const struct cm_config *, const char *section);

/*
 * Is name one of the sections certmint reads itself ([ca], [exit.NAME],
 * [acme.NAME], [profile.NAME], ...)? Such is no name for a module, whose
 * own section is named after it: [Exit.Exit] would be read as the
 * hosting section of a module "Exit".
 */
int	 config_section_reserved(const char *name);

/*
 * Set (value != NULL) or remove (value == NULL) section/key in the file at
 * path, keeping every other line and comment, and replace the file
 * atomically. Returns 0 or -1 with a message in err.
 */
int	 config_edit(const char *path, const char *section, const char *key,
	    const char *value, char *err, size_t errlen);
/* Would text (len bytes) load as the config file at path? 0 or -1 (err). */
int	 config_text_loads(const char *path, const void *text, size_t len,
	    char *err, size_t errlen);

/* Parse "1d", "12h", "30m", "90s" or plain seconds. Returns 0 or -1. */
int	 parse_duration(const char *, int64_t *seconds);

#endif /* CM_CONFIG_H */
