/*
 * files.h - CertMint_Files.Exit (docs/modules/files.md): the module
 * (files.c), its settings (settings.c) and its file writing (publish.c).
 */
#ifndef CM_FILES_H
#define CM_FILES_H

#include <stddef.h>
#include <sys/types.h>

#include "modutil.h"

#define FMT_DER		0x1
#define FMT_PEM		0x2

enum certs_when { CERTS_ALL, CERTS_CERTFILE, CERTS_NONE };
enum on_revoke { REVOKE_KEEP, REVOKE_MOVE, REVOKE_MARK, REVOKE_DELETE };

/* The module's section, parsed; never changed once made. */
struct fcfg {
	char		*dir, *cert_name, *revoked_dir, *state_dir;
	int		 certs, formats, on_revoke, sync, latest_link;
	mode_t		 mode;
	char		*crl_dir, *crl_name, *aia_dir, *aia_name;
	long long	 crl_keep, crl_max_age;
};

/* settings.c: the section read and checked, and exit set. */
int	 cfg_read(cm_server_exit *srv, struct fcfg **out,
	    struct mu_buf *errs);
void	 cfg_free(struct fcfg *c);
void	 trim(struct mu_buf *b);
void	 report_put(char *report, size_t size, struct mu_buf *b);
int	 files_set_property(void *state, const char *name, int32_t flags,
	    const cm_value *value);

/* publish.c */

/* What a file operation ended with. */
#define FS_OK		0
#define FS_TRANSIENT	(-1)	/* an I/O error: retrying may help */
#define FS_PERMANENT	(-2)	/* retrying cannot help (a name taken) */

/*
 * Create dir/name with data, never over another file (AD CS's
 * CREATE_NEW): written to a temporary file, fsynced (sync), then linked
 * into place, and the directory fsynced. An existing file with the same
 * bytes is success (a redelivery); with other bytes FS_PERMANENT.
 */
int	 fs_create(const char *dir, const char *name, const void *data,
	    size_t len, mode_t mode, int sync, char *err, size_t errlen);
/* Replace dir/name with data atomically (temporary file, rename). */
int	 fs_replace(const char *dir, const char *name, const void *data,
	    size_t len, mode_t mode, int sync, char *err, size_t errlen);
/* Point the symbolic link dir/name at target, atomically. */
int	 fs_symlink(const char *dir, const char *name, const char *target,
	    int sync, char *err, size_t errlen);
/* Remove dir/name; an absent file is success. */
int	 fs_remove(const char *dir, const char *name, int sync, char *err,
	    size_t errlen);
/* mkdir dir (mode 0755) unless it is there. */
int	 fs_mkdir(const char *dir, char *err, size_t errlen);
/*
 * The whole of dir/name (following links) into *data (malloc'd).
 * FS_OK, FS_TRANSIENT, or 1 when the file does not exist.
 */
int	 fs_read(const char *dir, const char *name, unsigned char **data,
	    size_t *len, char *err, size_t errlen);
/* dir exists, is a directory and a file can be created there. */
int	 fs_check_dir(const char *dir, char *err, size_t errlen);

/*
 * The numbered copies of a CRL, "<stem>-<N><ext>" in dir: keep the
 * newest keep of them (0: any number) and remove those older than
 * max_age seconds (0: any age), never the newest.
 */
int	 fs_retain(const char *dir, const char *stem, const char *ext,
	    long long keep, long long max_age, int sync, char *err,
	    size_t errlen);

#endif /* CM_FILES_H */
