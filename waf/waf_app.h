/* waf_app: what every endpoint handler shares (settings, store, keys, counters, throttling)
 * and the request/response shapes between the HTTP layer and the handlers. */
#ifndef IMSGW_WAF_APP_H
#define IMSGW_WAF_APP_H

#include <stddef.h>
#include <stdint.h>

#include "dpop.h"
#include "form.h"
#include "waf_keyring.h"
#include "waf_metrics.h"
#include "waf_password.h"
#include "waf_settings.h"
#include "waf_store.h"
#include "waf_throttle.h"

#define WAF_STORE_LOOP_WAIT_MS 250  /* the daemon's longest wait for the store's write lock */
#define WAF_RETRY_BUSY_S 1          /* Retry-After when the store is locked */
#define WAF_RETRY_CANNOT_WRITE_S 30 /* Retry-After when the store cannot write */

struct waf_app {
    const struct waf_settings *s;
    struct waf_store *store;
    struct waf_keyring keys;
    struct waf_metrics metrics;
    struct waf_throttle *throttle; /* failures per window (waf_limits) */
    struct waf_throttle *pace;     /* paced users' sign-ins per second (waf_limits) */
    struct waf_throttle *rate;     /* /device_authorization per minute (waf_limits) */
    char dummy_hash[WAF_HASH_MAX]; /* verified for unknown users, so timing names no user */
    unsigned char csrf_key[32];
    uint8_t dpop_nonce_key[DPOP_NONCE_KEY_LEN]; /* waf_dpop */
    struct dpop_replay *dpop_replay;
    uint64_t gc_ms;
};

enum waf_method { WAF_M_GET, WAF_M_HEAD, WAF_M_POST, WAF_M_OPTIONS, WAF_M_OTHER };

struct waf_req {
    enum waf_method method;
    char path[256];
    struct form query;
    struct form form; /* the urlencoded body of a POST */
    int form_rc;      /* FORM_OK or why the body did not parse */
    char content_type[128];
    char authorization[1024];
    char origin[256];
    char cookie[512];
    char peer[64]; /* client address (behind trusted-proxies: from X-Forwarded-For) */
    char dpop[DPOP_MAX_PROOF + 1]; /* the DPoP header (RFC 9449) */
    int dpop_count;                /* DPoP headers seen (more than one is refused) */
    int dpop_too_long;
    char dpop_jkt[JWK_THUMBPRINT_SIZE]; /* set by waf_dpop_check(): the proven key, or "" */
};

struct waf_resp {
    unsigned status;
    const char *content_type;
    const char *cache_control;
    char *body; /* malloc'ed */
    size_t len;
    int html; /* add anti-framing headers */
    char location[2400];
    char set_cookie[256];
    char www_authenticate[64];
    char dpop_nonce[DPOP_NONCE_MAX + 1]; /* DPoP-Nonce header when set */
    const char *allow;                   /* the Allow header of a 405 */
    int retry_after;
};

/* A handler that must verify a password first stores this and returns WAF_PENDING; the HTTP
 * layer calls it on the loop with the result (ok = 1: the password matched). */
typedef void (*waf_resume_fn)(struct waf_app *app, struct waf_req *req, int ok,
                              struct waf_resp *resp);

#define WAF_PENDING 1

/* What a handler returning WAF_PENDING wants checked: password against hash (password points
 * into the request, which lives until resume has run). */
struct waf_verify {
    char hash[WAF_HASH_MAX];
    const char *password;
    waf_resume_fn resume;
};

/* Opens the store and keys and prepares the dummy hash; 0, or -1 with err. */
int waf_app_open(struct waf_app *app, const struct waf_settings *s, char *err, size_t errlen);
/* Frees what waf_app_open() made (not the pool). */
void waf_app_close(struct waf_app *app);
/* Sets resp to a JSON body (taking ownership of the text) with no-store. */
void waf_resp_json(struct waf_resp *resp, unsigned status, char *body);
/* Sets resp to an RFC 6749 §5.2 error {"error":…,"error_description":…}. */
void waf_resp_error(struct waf_resp *resp, unsigned status, const char *error, const char *desc);
/* When the last store failure was the store's own (locked, disk full): 503 temporarily_unavailable
 * with Retry-After, a log line, and 1; else 0 (the caller answers as it would). */
int waf_resp_store_unavailable(struct waf_app *app, struct waf_resp *resp);
/* Sets resp to an HTML page (taking ownership), with no-store and anti-framing headers. */
void waf_resp_html(struct waf_resp *resp, unsigned status, char *body);
/* Runs periodic store clean-up and key reloads (cheap; called per request). */
void waf_app_tick(struct waf_app *app);

#endif
