/* waf_work: what the HTTP layer hands to threads so the event loop never waits — argon2id checks
 * (the password pool, `workers` threads) and every request that needs the store (the store pool,
 * `database-connections` threads, each with its own connection and its own view of waf_app).
 * Both queues are bounded: a full queue is the caller's 503. */
#ifndef IMSGW_WAF_WORK_H
#define IMSGW_WAF_WORK_H

#include <stdint.h>

#include "waf_app.h"
#include "waf_pool.h"

#define WAF_WORK_PASSWORD_JOBS 64 /* sign-ins waiting for a password thread */
#define WAF_WORK_STORE_JOBS 64    /* requests waiting for a store thread */
#define WAF_WORK_TICK_MS 1000     /* key reloads (JWKS) and store clean-up, off the loop */

/* A handler that runs whole on a store thread (app is that thread's view). */
typedef void (*waf_handler_fn)(struct waf_app *app, struct waf_req *req, struct waf_resp *resp);
/* A sign-in page: on a store thread too, returning WAF_PENDING with what to verify in v. */
typedef int (*waf_page_fn)(struct waf_app *app, struct waf_req *req, struct waf_resp *resp,
                           struct waf_verify *v);

/* What a store job runs: one of handler, page or resume (none: only the CORS check, for an
 * answer already made), or a CORS preflight. */
struct waf_store_call {
    waf_handler_fn handler;
    waf_page_fn page;
    waf_resume_fn resume; /* after a password check: runs with ok */
    int ok;
    int preflight;   /* 204 for an allowed origin, else 403 */
    int cors_wanted; /* check req.origin against the clients' origins */
};

enum waf_work_kind { WAF_WORK_VERIFY, WAF_WORK_REQUEST, WAF_WORK_TICK };

struct waf_work_job {
    struct waf_pool_job base; /* base.id: the connection's job id */
    enum waf_work_kind kind;
    /* VERIFY: in hash and password, out ok (1 = the password matches) */
    char hash[WAF_HASH_MAX];
    char password[WAF_PASSWORD_MAX + 1];
    int ok;
    /* REQUEST: the request and response, moved here from the connection and back */
    struct waf_store_call call;
    int cors;    /* out: the origin is allowed */
    int pending; /* out: the page wants verify checked, then call.resume */
    struct waf_verify verify;
    struct waf_req req;
    struct waf_resp resp;
    struct waf_metrics delta; /* the counters the handler moved, added on the loop */
    /* TICK: the JWK Set as the store now has it (malloc'ed), or NULL */
    char *jwks;
};

struct waf_work;

/* Opens one store connection and keyring per store thread and starts both pools; notify(arg)
 * wakes the loop. NULL with err. */
struct waf_work *waf_work_create(struct waf_app *app, void (*notify)(void *), void *arg, char *err,
                                 size_t errlen);
/* Stops the threads, then closes their connections (NULL is fine). */
void waf_work_destroy(struct waf_work *w);
/* Queues a check of password against hash; -1 when the pool is full. */
int waf_work_verify(struct waf_work *w, uint64_t id, const char *hash, const char *password);
/* Moves *req and *resp into a store job running call (they are left empty); -1 when the pool is
 * full (then nothing moved). */
int waf_work_request(struct waf_work *w, uint64_t id, const struct waf_store_call *call,
                     struct waf_req *req, struct waf_resp *resp);
/* Queues a tick unless one is in flight (call every WAF_WORK_TICK_MS). */
void waf_work_tick(struct waf_work *w);
/* The next finished VERIFY or REQUEST job (metrics already added), or NULL; ticks are consumed
 * here. Give it back to waf_work_done(). */
struct waf_work_job *waf_work_take(struct waf_work *w);
void waf_work_done(struct waf_work_job *job);
/* The JWK Set text as last loaded (a tick refreshes it). */
const char *waf_work_jwks(const struct waf_work *w);

#endif
