/* waf_limits: three counters decide a sign-in, none of which a stranger can fill for someone
 * else's address:
 *  - "us:<user>|<source>": failures of this user from this source; past
 *    login-max-failures-user they back off exponentially (2, 4, 8 … s, at most the window);
 *  - "ip:<source>": failures from this source for any user; past login-max-failures-ip the
 *    source is refused for the rest of the window;
 *  - "user:<user>": failures for this user from everywhere; past login-user-pace-after the
 *    user's sign-ins are paced to one per second (a distributed guesser gets one guess a second,
 *    the real user at worst retries after a second).
 * The old hard lock on "user:<user>" let anyone lock alice out by failing for her. */
#include "waf_limits.h"

#include <stdio.h>

#include "peer.h"

#define WAF_LIMITS_PACE_S 1  /* one sign-in per user per this, once paced */
#define WAF_LIMITS_RATE_S 60 /* /device_authorization counts per minute */

int waf_limits_open(struct waf_app *app)
{
    app->pace = waf_throttle_open(WAF_LIMITS_PACE_S, "pace", app->store);
    app->rate = waf_throttle_open(WAF_LIMITS_RATE_S, "rate", app->store);
    return app->pace && app->rate ? 0 : -1;
}

void waf_limits_close(struct waf_app *app)
{
    waf_throttle_destroy(app->pace);
    waf_throttle_destroy(app->rate);
    app->pace = app->rate = NULL;
}

int waf_limits_view(struct waf_app *view, const struct waf_app *app)
{
    if (!waf_throttle_in_store(app->throttle)) {
        view->throttle = app->throttle;
        view->pace = app->pace;
        view->rate = app->rate;
        return 0;
    }
    view->throttle = waf_throttle_open(app->s->throttle_window, "fail", view->store);
    view->pace = waf_throttle_open(WAF_LIMITS_PACE_S, "pace", view->store);
    view->rate = waf_throttle_open(WAF_LIMITS_RATE_S, "rate", view->store);
    return view->throttle && view->pace && view->rate ? 0 : -1;
}

void waf_limits_view_close(struct waf_app *view, const struct waf_app *app)
{
    if (view->throttle != app->throttle) {
        waf_throttle_destroy(view->throttle);
        waf_throttle_destroy(view->pace);
        waf_throttle_destroy(view->rate);
    }
    view->throttle = view->pace = view->rate = NULL;
}

static void waf_limits_key(char *out, size_t size, const char *kind, const char *user,
                           const char *source)
{
    char key[PEER_ADDR_MAX];
    if (source)
        peer_source_key(source, key, sizeof(key));
    if (user && source)
        snprintf(out, size, "%s:%s|%s", kind, user, key);
    else
        snprintf(out, size, "%s:%s", kind, user ? user : key);
}

long waf_limits_signin(struct waf_app *app, const char *user, const char *source, int64_t now,
                       const char **why)
{
    const struct waf_settings *s = app->s;
    char us[160], ip[96], u[96], pace[96];
    waf_limits_key(us, sizeof(us), "us", user, source);
    waf_limits_key(ip, sizeof(ip), "ip", NULL, source);
    waf_limits_key(u, sizeof(u), "user", user, NULL);
    waf_limits_key(pace, sizeof(pace), "pace", user, NULL);
    if (waf_throttle_blocked(app->throttle, ip, s->login_max_failures_ip, now)) {
        *why = "Too many failed sign-ins from your network. For your security, sign-in from here "
               "is paused for a while.";
        return s->throttle_window;
    }
    long wait = waf_throttle_wait(app->throttle, us, s->login_max_failures_user, now);
    if (wait) {
        *why = "Too many failed sign-ins. For your security, please wait before trying again.";
        return wait;
    }
    if (waf_throttle_blocked(app->throttle, u, s->login_user_pace_after, now)) {
        if (waf_throttle_blocked(app->pace, pace, 1, now)) {
            *why = "Too many failed sign-ins for this account. Please try again in a second.";
            return WAF_LIMITS_PACE_S;
        }
        waf_throttle_fail(app->pace, pace, now);
    }
    return 0;
}

void waf_limits_signin_failed(struct waf_app *app, const char *user, const char *source,
                              int64_t now)
{
    char us[160], u[96];
    waf_limits_key(us, sizeof(us), "us", user, source);
    waf_limits_key(u, sizeof(u), "user", user, NULL);
    waf_throttle_fail(app->throttle, us, now);
    waf_throttle_fail(app->throttle, u, now);
    waf_limits_source_failed(app, source, now);
}

void waf_limits_signin_ok(struct waf_app *app, const char *user, const char *source)
{
    char us[160];
    waf_limits_key(us, sizeof(us), "us", user, source);
    waf_throttle_clear(app->throttle, us);
}

void waf_limits_source_failed(struct waf_app *app, const char *source, int64_t now)
{
    char ip[96];
    waf_limits_key(ip, sizeof(ip), "ip", NULL, source);
    waf_throttle_fail(app->throttle, ip, now);
}

int waf_limits_device(struct waf_app *app, const char *source, const char *client_id, int64_t now,
                      struct waf_resp *resp)
{
    char key[160];
    long limit;
    if (client_id) {
        waf_limits_key(key, sizeof(key), "da-client", client_id, NULL);
        limit = app->s->device_authz_per_client;
    } else {
        waf_limits_key(key, sizeof(key), "da-ip", NULL, source);
        limit = app->s->device_authz_per_source;
    }
    if (!waf_throttle_blocked(app->rate, key, limit, now)) {
        waf_throttle_fail(app->rate, key, now);
        return 0;
    }
    app->metrics.throttled++;
    waf_resp_error(resp, 429, "slow_down",
                   client_id ? "too many device authorizations for this client; retry later"
                             : "too many device authorizations from your address; retry later");
    resp->retry_after = WAF_LIMITS_RATE_S;
    return 1;
}
