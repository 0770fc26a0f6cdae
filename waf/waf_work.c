/* waf_work: a store thread serves requests through its own copy of waf_app (a "view"): the same
 * settings and shared keys, but its own store connection, its own keyring (reloaded from its own
 * connection) and its own counters, whose increments travel back to the loop with each job.
 * What the views still share is read-only after start, except the DPoP replay cache (waf_dpop
 * locks it) and, on SQLite, the throttle tables in memory (they lock; on PostgreSQL each view
 * has its own handles on the shared table, waf_limits_view). SQLite: one connection per thread
 * on the WAL file; PostgreSQL: one backend per thread, so the database sees
 * database-connections + 1 per WAF (the loop's own, used only at start). */
#include "waf_work.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "log.h"
#include "waf_client.h"
#include "waf_limits.h"
#include "waf_password.h"

struct waf_work {
    struct waf_app *app;
    struct waf_pool *passwords, *store;
    struct waf_app *views;
    int n_views;
    int ticking; /* a tick job is queued or running */
    char *jwks;
};

static void waf_work_free_job(struct waf_pool_job *pj)
{
    struct waf_work_job *j = (struct waf_work_job *)pj;
    OPENSSL_cleanse(j->password, sizeof(j->password));
    form_free(&j->req.query);
    form_free(&j->req.form);
    free(j->resp.body);
    free(j->jwks);
    free(j);
}

static void waf_work_run_verify(struct waf_pool_job *pj, void *ctx)
{
    (void)ctx;
    struct waf_work_job *j = (struct waf_work_job *)pj;
    j->ok = waf_password_verify(j->hash, j->password);
    OPENSSL_cleanse(j->password, sizeof(j->password));
}

static void waf_work_run_request(struct waf_pool_job *pj, void *ctx)
{
    struct waf_work_job *j = (struct waf_work_job *)pj;
    struct waf_app *view = ctx;
    memset(&view->metrics, 0, sizeof(view->metrics));
    const struct waf_store_call *c = &j->call;
    if (c->cors_wanted)
        j->cors = waf_client_origin_allowed(view->store, j->req.origin);
    if (c->preflight) {
        free(j->resp.body);
        j->resp.status = j->cors ? 204 : 403;
        j->resp.content_type = "text/plain";
        j->resp.cache_control = "no-store";
        j->resp.body = strdup("");
        j->resp.len = 0;
        if (!j->resp.body)
            j->resp.status = 500;
    } else if (c->handler) {
        c->handler(view, &j->req, &j->resp);
    } else if (c->page) {
        j->pending = c->page(view, &j->req, &j->resp, &j->verify) == WAF_PENDING;
    } else if (c->resume) {
        c->resume(view, &j->req, c->ok, &j->resp);
    }
    j->delta = view->metrics;
}

static void waf_work_run_tick(struct waf_pool_job *pj, void *ctx)
{
    struct waf_work_job *j = (struct waf_work_job *)pj;
    struct waf_app *view = ctx;
    view->keys.checked_ms = 0; /* look now: the loop's JWKS follows a rotation within a tick */
    waf_app_tick(view);
    json_t *jwks = waf_keyring_jwks(&view->keys);
    j->jwks = jwks ? json_dumps(jwks, JSON_COMPACT) : NULL;
    json_decref(jwks);
}

static struct waf_work_job *waf_work_job_new(enum waf_work_kind kind, uint64_t id,
                                             void (*run)(struct waf_pool_job *, void *))
{
    struct waf_work_job *j = calloc(1, sizeof(*j));
    if (!j)
        return NULL;
    j->base.id = id;
    j->base.run = run;
    j->base.drop = waf_work_free_job;
    j->kind = kind;
    return j;
}

static void waf_work_close_views(struct waf_work *w)
{
    for (int i = 0; i < w->n_views; i++) {
        waf_limits_view_close(&w->views[i], w->app);
        waf_keyring_free(&w->views[i].keys);
        waf_store_close(w->views[i].store);
    }
    free(w->views);
    w->views = NULL;
    w->n_views = 0;
}

static int waf_work_open_views(struct waf_work *w, char *err, size_t errlen)
{
    const struct waf_settings *s = w->app->s;
    int n = (int)s->database_connections;
    err[0] = '\0';
    w->views = calloc((size_t)n, sizeof(*w->views));
    if (!w->views) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (; w->n_views < n; w->n_views++) {
        struct waf_app *v = &w->views[w->n_views];
        *v = *w->app; /* settings, keys for CSRF and DPoP nonces, shared caches */
        v->store = NULL;
        memset(&v->keys, 0, sizeof(v->keys));
        v->throttle = v->pace = v->rate = NULL; /* waf_limits_view */
        if (waf_store_open_db(&v->store, s->database, s->data_dir, s->key_encryption_key_file, err,
                              errlen) < 0 ||
            waf_keyring_open(&v->keys, v->store, s->data_dir, s->token_alg, err, errlen) < 0 ||
            waf_limits_view(v, w->app) < 0) {
            waf_limits_view_close(v, w->app);
            waf_keyring_free(&v->keys);
            waf_store_close(v->store);
            if (!*err)
                snprintf(err, errlen, "out of memory");
            return -1;
        }
        waf_store_set_busy_wait(v->store, WAF_STORE_LOOP_WAIT_MS);
    }
    return 0;
}

struct waf_work *waf_work_create(struct waf_app *app, void (*notify)(void *), void *arg, char *err,
                                 size_t errlen)
{
    struct waf_work *w = calloc(1, sizeof(*w));
    if (!w) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    w->app = app;
    json_t *jwks = waf_keyring_jwks(&app->keys);
    w->jwks = jwks ? json_dumps(jwks, JSON_COMPACT) : NULL;
    json_decref(jwks);
    if (!w->jwks) {
        snprintf(err, errlen, "cannot build the JWK Set");
        goto fail;
    }
    if (waf_work_open_views(w, err, errlen) < 0)
        goto fail;
    void *ctx[WAF_POOL_THREADS_MAX];
    for (int i = 0; i < w->n_views; i++)
        ctx[i] = &w->views[i];
    w->passwords = waf_pool_create((int)app->s->workers, NULL, WAF_WORK_PASSWORD_JOBS, notify, arg);
    w->store = waf_pool_create(w->n_views, ctx, WAF_WORK_STORE_JOBS, notify, arg);
    if (!w->passwords || !w->store) {
        snprintf(err, errlen, "cannot start the worker threads");
        goto fail;
    }
    return w;
fail:
    waf_work_destroy(w);
    return NULL;
}

void waf_work_destroy(struct waf_work *w)
{
    if (!w)
        return;
    waf_pool_destroy(w->passwords);
    waf_pool_destroy(w->store);
    waf_work_close_views(w);
    free(w->jwks);
    free(w);
}

int waf_work_verify(struct waf_work *w, uint64_t id, const char *hash, const char *password)
{
    if (strlen(hash) >= WAF_HASH_MAX || strlen(password) > WAF_PASSWORD_MAX)
        return -1;
    struct waf_work_job *j = waf_work_job_new(WAF_WORK_VERIFY, id, waf_work_run_verify);
    if (!j)
        return -1;
    strcpy(j->hash, hash);
    strcpy(j->password, password);
    if (waf_pool_submit(w->passwords, &j->base) == 0)
        return 0;
    waf_work_free_job(&j->base);
    return -1;
}

int waf_work_request(struct waf_work *w, uint64_t id, const struct waf_store_call *call,
                     struct waf_req *req, struct waf_resp *resp)
{
    struct waf_work_job *j = waf_work_job_new(WAF_WORK_REQUEST, id, waf_work_run_request);
    if (!j)
        return -1;
    j->call = *call;
    j->req = *req;
    j->resp = *resp;
    if (waf_pool_submit(w->store, &j->base) == 0) {
        memset(req, 0, sizeof(*req));
        memset(resp, 0, sizeof(*resp));
        return 0;
    }
    memset(&j->req, 0, sizeof(j->req)); /* still the connection's */
    memset(&j->resp, 0, sizeof(j->resp));
    waf_work_free_job(&j->base);
    return -1;
}

void waf_work_tick(struct waf_work *w)
{
    if (w->ticking)
        return;
    struct waf_work_job *j = waf_work_job_new(WAF_WORK_TICK, 0, waf_work_run_tick);
    if (j && waf_pool_submit(w->store, &j->base) == 0)
        w->ticking = 1;
    else if (j)
        waf_work_free_job(&j->base); /* full: the next tick tries again */
}

struct waf_work_job *waf_work_take(struct waf_work *w)
{
    for (;;) {
        struct waf_pool_job *pj = waf_pool_take(w->passwords);
        if (!pj)
            pj = waf_pool_take(w->store);
        if (!pj)
            return NULL;
        struct waf_work_job *j = (struct waf_work_job *)pj;
        if (j->kind == WAF_WORK_REQUEST)
            waf_metrics_add(&w->app->metrics, &j->delta);
        if (j->kind != WAF_WORK_TICK)
            return j;
        w->ticking = 0;
        if (j->jwks) {
            free(w->jwks);
            w->jwks = j->jwks;
            j->jwks = NULL;
        }
        waf_work_free_job(pj);
    }
}

void waf_work_done(struct waf_work_job *job)
{
    if (job)
        waf_work_free_job(&job->base);
}

const char *waf_work_jwks(const struct waf_work *w)
{
    return w->jwks;
}
