/* waf_imscred: a user's IMS Digest credential (issue 11, "Digest on behalf of the user"). The
 * WAF keeps it as HA1 = MD5(IMPI ":" realm ":" password) next to the web identity and computes
 * Digest responses (RFC 2617/7616, MD5, qop=auth) for the gateway, an authenticated confidential
 * client: the credential never leaves the WAF. */
#ifndef IMSGW_WAF_IMSCRED_H
#define IMSGW_WAF_IMSCRED_H

#include "waf_app.h"
#include "waf_settings.h"

#define WAF_PATH_IMS_DIGEST "/ims-digest"
#define WAF_IMSCRED_FIELD_MAX 256 /* realm, nonce, uri, cnonce: longer is refused */

/* "user ims-credentials NAME [--realm R] --password-stdin | --remove". Exit status. */
int waf_imscred_cli(const struct waf_settings *s, int argc, char **argv);
/* POST /ims-digest (confidential clients): impi, realm, method, uri, nonce[, qop, nc, cnonce]
 * → {"username":IMPI,"response":hex}; 404 no_credentials when none for that IMPI and realm. */
void waf_imscred_digest(struct waf_app *app, struct waf_req *req, struct waf_resp *resp);
/* RFC 2617 §3.2.2.1 response from HA1 (hex); qop NULL or "auth". out: 33 bytes. 0 or -1. */
int waf_imscred_response(const char *ha1, const char *nonce, const char *nc, const char *cnonce,
                         const char *qop, const char *method, const char *uri, char out[33]);

#endif
