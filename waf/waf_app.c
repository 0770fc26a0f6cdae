/* waf_app: the state the handlers share, opened once by the daemon (and by unit tests). */
#include "waf_app.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "log.h"
#include "waf_dpop.h"
#include "rnd.h"
#include "waf_limits.h"
#include "timeutil.h"

#define WAF_APP_GC_MS 60000

int waf_app_open(struct waf_app *app, const struct waf_settings *s, char *err, size_t errlen)
{
    memset(app, 0, sizeof(*app));
    app->s = s;
    rnd_bytes(app->csrf_key, sizeof(app->csrf_key));
    char pw[WAF_PASSWORD_GEN_SIZE];
    waf_password_generate(pw);
    struct waf_argon2 params = {(uint32_t)s->argon2_t_cost, (uint32_t)s->argon2_m_cost_kib,
                                (uint32_t)s->argon2_parallelism};
    if (waf_password_hash(&params, pw, app->dummy_hash, sizeof(app->dummy_hash), err, errlen) < 0 ||
        waf_store_open_db(&app->store, s->database, s->data_dir, s->key_encryption_key_file, err,
                          errlen) < 0 ||
        waf_keyring_open(&app->keys, app->store, s->data_dir, s->token_alg, err, errlen) < 0)
        goto fail;
    /* Replicas behind a balancer accept each other's sign-in forms: with a key-encryption key
     * (the same on every replica) the CSRF key is derived from it instead of drawn at random. */
    waf_kek_derive(waf_store_kek(app->store), "imsgw-waf csrf v1", app->csrf_key);
    if (!(app->throttle = waf_throttle_open(s->throttle_window, "fail", app->store)) ||
        waf_limits_open(app) < 0 || waf_dpop_open(app) < 0) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    /* So is the DPoP nonce key: a nonce one replica gave is accepted by the others. */
    waf_kek_derive(waf_store_kek(app->store), "imsgw-waf dpop-nonce v1", app->dpop_nonce_key);
    /* The store runs on the only loop: another process's lock may stall it this long at most. */
    waf_store_set_busy_wait(app->store, WAF_STORE_LOOP_WAIT_MS);
    app->gc_ms = time_mono_ms();
    return 0;
fail:
    waf_app_close(app);
    return -1;
}

void waf_app_close(struct waf_app *app)
{
    waf_keyring_free(&app->keys);
    waf_store_close(app->store);
    app->store = NULL;
    waf_throttle_destroy(app->throttle);
    app->throttle = NULL;
    waf_limits_close(app);
    waf_dpop_close(app);
}

void waf_app_tick(struct waf_app *app)
{
    uint64_t now = time_mono_ms();
    if (now - app->gc_ms >= WAF_APP_GC_MS) {
        app->gc_ms = now;
        waf_store_gc(app->store, time_now_s());
    }
    waf_keyring_refresh(&app->keys, app->store);
}

void waf_resp_json(struct waf_resp *resp, unsigned status, char *body)
{
    free(resp->body);
    resp->status = body ? status : 500;
    resp->content_type = "application/json";
    resp->cache_control = "no-store";
    resp->body = body ? body : strdup("{\"error\":\"server_error\"}");
    resp->len = resp->body ? strlen(resp->body) : 0;
}

void waf_resp_error(struct waf_resp *resp, unsigned status, const char *error, const char *desc)
{
    json_t *e = desc ? json_pack("{s:s, s:s}", "error", error, "error_description", desc)
                     : json_pack("{s:s}", "error", error);
    waf_resp_json(resp, status, e ? json_dumps(e, JSON_COMPACT) : NULL);
    json_decref(e);
}

int waf_resp_store_unavailable(struct waf_app *app, struct waf_resp *resp)
{
    int why = waf_store_unavailable(app->store);
    if (!why)
        return 0;
    int busy = why == WAF_STORE_BUSY;
    log_warn("store unavailable (%s): request answered 503, nothing written",
             busy ? "locked by another process" : "cannot write: disk full or I/O error");
    waf_resp_error(resp, 503, "temporarily_unavailable",
                   busy ? "the store is busy; try again"
                        : "the store cannot write (disk full or I/O error); try again later");
    resp->retry_after = busy ? WAF_RETRY_BUSY_S : WAF_RETRY_CANNOT_WRITE_S;
    return 1;
}

void waf_resp_html(struct waf_resp *resp, unsigned status, char *body)
{
    free(resp->body);
    resp->status = body ? status : 500;
    resp->content_type = "text/html; charset=utf-8";
    resp->cache_control = "no-store";
    resp->html = 1;
    resp->body = body ? body : strdup("<!DOCTYPE html><p>Internal error</p>");
    resp->len = resp->body ? strlen(resp->body) : 0;
}
