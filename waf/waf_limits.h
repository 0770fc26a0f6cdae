/* waf_limits: how often a source may try: sign-in back-off that a stranger cannot turn into a
 * lock-out of the real user, and the /device_authorization request rate. Keys count under the
 * client's source (IPv4 address, IPv6 /64; see common/peer.h). */
#ifndef IMSGW_WAF_LIMITS_H
#define IMSGW_WAF_LIMITS_H

#include <stdint.h>

#include "waf_app.h"

/* Tables for the limits below; 0, or -1 (out of memory). */
int waf_limits_open(struct waf_app *app);
/* Frees them. */
void waf_limits_close(struct waf_app *app);
/* Gives a store thread's view the limits of app: the same tables in memory (they lock), or on
 * PostgreSQL tables that reach the database through the view's own connection. 0 or -1. */
int waf_limits_view(struct waf_app *view, const struct waf_app *app);
/* Frees what waf_limits_view made (not app's). */
void waf_limits_view_close(struct waf_app *view, const struct waf_app *app);

/* Whether user may try a password from client address source now: 0, or the seconds to wait
 * with a sentence for the page in why. Counts the attempt for the per-user pace. */
long waf_limits_signin(struct waf_app *app, const char *user, const char *source, int64_t now,
                       const char **why);
/* A wrong password (or an unknown user) for user from source. */
void waf_limits_signin_failed(struct waf_app *app, const char *user, const char *source,
                              int64_t now);
/* A successful sign-in: forgets the back-off of this user from this source. */
void waf_limits_signin_ok(struct waf_app *app, const char *user, const char *source);
/* Another failed guess from source that is not a password (e.g. a user code). */
void waf_limits_source_failed(struct waf_app *app, const char *source, int64_t now);

/* Counts one /device_authorization request from source, or (client_id set) by that client;
 * 1 if over the per-minute limit: resp then holds 429 slow_down with Retry-After. */
int waf_limits_device(struct waf_app *app, const char *source, const char *client_id, int64_t now,
                      struct waf_resp *resp);

#endif
