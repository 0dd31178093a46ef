/*
 * tls.h - certmintd's HTTPS listener ([server] tls_port): the server
 * certificate and key (tls_cert, tls_key), swapped without a restart by
 * `certmint reload` or SIGHUP, and the client certificate a connection
 * presented. GnuTLS, as libmicrohttpd uses it.
 */
#ifndef CM_TLS_H
#define CM_TLS_H

#include <stddef.h>

#include <microhttpd.h>

#include "../common/config.h"

/*
 * Load cfg's tls_cert (the certificate, then its chain) and tls_key, and
 * the CA certificates (ca_pem) whose names a client certificate request
 * lists. Returns 0, or -1 with a message in err.
 */
int	 tls_init(const struct cm_config *, const char *ca_pem, char *err,
	    size_t errlen);
/*
 * The options that make an MHD daemon serve TLS with them (an
 * MHD_OPTION_ARRAY), and the flag it needs.
 */
struct MHD_OptionItem *tls_mhd_options(void);
#define TLS_MHD_FLAGS	MHD_USE_TLS
/*
 * Load the files again: new connections get the new certificate, those
 * open keep theirs. A file that does not load leaves the old one.
 * Returns 1 when the certificate changed, 0 when unchanged, -1 with err.
 */
int	 tls_reload(const struct cm_config *, char *err, size_t errlen);
/* After the daemon has stopped. */
void	 tls_free(void);

/*
 * The client certificate (DER) connection c presented in its handshake,
 * valid while c is: 1 with it, 0 when it presented none.
 */
int	 tls_peer_cert(struct MHD_Connection *c, const unsigned char **der,
	    size_t *len);

#endif /* CM_TLS_H */
