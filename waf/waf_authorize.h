/* waf_authorize: the browser-facing pages — /authorize (RFC 6749 §4.1 with PKCE), /code (numeric
 * codes, PRODUCT.md flow 3) and /device (RFC 8628 user-code entry) — all behind a sign-in form
 * with CSRF protection and login throttling. */
#ifndef IMSGW_WAF_AUTHORIZE_H
#define IMSGW_WAF_AUTHORIZE_H

#include "waf_app.h"

/* GET or POST /authorize; WAF_PENDING (with v filled) when a password must be checked first. */
int waf_authorize_page(struct waf_app *app, struct waf_req *req, struct waf_resp *resp,
                       struct waf_verify *v);
/* GET or POST /code. */
int waf_authorize_code_page(struct waf_app *app, struct waf_req *req, struct waf_resp *resp,
                            struct waf_verify *v);
/* GET or POST /device. */
int waf_authorize_device_page(struct waf_app *app, struct waf_req *req, struct waf_resp *resp,
                              struct waf_verify *v);

#endif
