/* waf_grant: the client-facing JSON endpoints — /token (every grant), /introspect, /revoke and
 * /device_authorization — with client authentication (RFC 6749 §2.3) and §5.2 errors. */
#ifndef IMSGW_WAF_GRANT_H
#define IMSGW_WAF_GRANT_H

#include "waf_app.h"

struct waf_client;

#define WAF_GRANT_TYPE_DEVICE "urn:ietf:params:oauth:grant-type:device_code"

/* Client authentication of a form POST (RFC 6749 §2.3) for other endpoints; -1 with resp
 * filled when it fails. */
int waf_grant_client_auth(struct waf_app *app, struct waf_req *req, struct waf_client *c,
                          struct waf_resp *resp);
/* POST /token. */
void waf_grant_token(struct waf_app *app, struct waf_req *req, struct waf_resp *resp);
/* POST /introspect (confidential clients only). */
void waf_grant_introspect(struct waf_app *app, struct waf_req *req, struct waf_resp *resp);
/* POST /revoke. */
void waf_grant_revoke(struct waf_app *app, struct waf_req *req, struct waf_resp *resp);
/* POST /device_authorization (RFC 8628 §3.1). */
void waf_grant_device_authorization(struct waf_app *app, struct waf_req *req,
                                    struct waf_resp *resp);

#endif
