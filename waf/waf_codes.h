/* waf_codes: the short-lived codes a signed-in user makes: authorization codes (RFC 6749 §4.1),
 * numeric codes for limited-UI phones (PRODUCT.md flow 3) and RFC 8628 device codes. */
#ifndef IMSGW_WAF_CODES_H
#define IMSGW_WAF_CODES_H

#include <stddef.h>
#include <stdint.h>

#include "waf_app.h"
#include "waf_client.h"
#include "waf_secret.h"

enum waf_device_state { WAF_DEVICE_PENDING = 0, WAF_DEVICE_APPROVED = 1, WAF_DEVICE_DENIED = 2 };

/* Stores a new authorization code (challenge may be NULL); its value goes to code. 0 or -1. */
int waf_codes_auth_new(struct waf_app *app, const char *client_id, int64_t user_id,
                       const char *redirect_uri, const char *scope, const char *challenge,
                       char code[WAF_SECRET_LEN]);
/* Replaces the user's numeric code for impu with a new one (9 digits) into digits. 0 or -1. */
int waf_codes_numeric_new(struct waf_app *app, int64_t user_id, const char *impu,
                          char digits[WAF_NUMERIC_DIGITS + 1]);
/* Stores a new device authorization; values go to device_code and user_code. 0 or -1. */
int waf_codes_device_new(struct waf_app *app, const char *client_id, const char *scope,
                         char device_code[WAF_SECRET_LEN], char user_code[WAF_USER_CODE_LEN + 1]);
/* Approves (or denies) the pending device authorization with user_code for user_id;
 * 0, or -1 when no pending, unexpired one has that code. */
int waf_codes_device_decide(struct waf_app *app, const char *user_code, int64_t user_id,
                            int approve);
/* 1 if S256(verifier) equals challenge (RFC 7636 §4.6) and verifier has the §4.1 syntax. */
int waf_codes_pkce_ok(const char *verifier, const char *challenge);
/* 1 if challenge has the shape of an S256 challenge (43 base64url characters). */
int waf_codes_challenge_valid(const char *challenge);

#endif
