/* jwks: one fetch in flight at a time; every caller that needs it waits on that fetch. A failed
 * fetch may be retried after one second, a successful one only after the refetch interval, so an
 * attacker sending tokens with random kids cannot make us hammer the WAF. */
#include "jwks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "gw.h"
#include "http_client.h"
#include "jwk.h"
#include "jws.h"
#include "log.h"

#define JWKS_MAX_WAITERS 1024
#define JWKS_RETRY_AFTER_FAIL_MS 1000

struct jwks_key {
    char kid[128];
    struct jws_verifier *key; /* verify context set up once per key, not per token */
};

struct jwks_waiter {
    jwks_done_fn done;
    void *arg;
};

struct jwks {
    char *uri;
    int64_t interval_ms;
    struct jwks_key keys[JWKS_MAX_KEYS];
    size_t nkeys;
    /* fetch state */
    int in_flight;
    int64_t last_ok_ms, last_try_ms;
    struct jwks_waiter waiters[JWKS_MAX_WAITERS];
    size_t nwaiters;
};

struct jwks *jwks_new(const char *uri, long refetch_interval_s)
{
    struct jwks *j = calloc(1, sizeof(*j));
    if (!j || !(j->uri = strdup(uri))) {
        free(j);
        return NULL;
    }
    j->interval_ms = (int64_t)refetch_interval_s * 1000;
    j->last_ok_ms = j->last_try_ms = -1;
    return j;
}

static void jwks_clear(struct jwks_key *keys, size_t n)
{
    for (size_t i = 0; i < n; i++)
        jws_verifier_free(keys[i].key);
}

void jwks_free(struct jwks *j)
{
    if (!j)
        return;
    jwks_clear(j->keys, j->nkeys);
    free(j->uri);
    free(j);
}

int jwks_load(struct jwks *j, const char *text, size_t len, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    json_t *arr = doc ? json_object_get(doc, "keys") : NULL;
    if (!json_is_array(arr)) {
        snprintf(err, errlen, "not a JWKS document (no keys array)");
        json_decref(doc);
        return -1;
    }
    struct jwks_key fresh[JWKS_MAX_KEYS];
    size_t n = 0, i;
    json_t *k;
    json_array_foreach(arr, i, k)
    {
        const char *kid = json_string_value(json_object_get(k, "kid"));
        const char *use = json_string_value(json_object_get(k, "use"));
        char why[128];
        if (!kid || strlen(kid) >= sizeof(fresh[0].kid) || (use && strcmp(use, "sig") != 0))
            continue;
        EVP_PKEY *pkey = jwk_to_public_key(k, why, sizeof(why));
        if (!pkey) /* unknown kty/alg: skipped, as RFC 7517 §5 asks */
            continue;
        struct jws_verifier *key = n < JWKS_MAX_KEYS ? jws_verifier_new(pkey) : NULL;
        EVP_PKEY_free(pkey);
        if (n == JWKS_MAX_KEYS)
            break;
        if (!key) {
            log_warn("jwks: key %.64s skipped: cannot set up its signature check", kid);
            continue;
        }
        snprintf(fresh[n].kid, sizeof(fresh[n].kid), "%s", kid);
        fresh[n++].key = key;
    }
    json_decref(doc);
    if (n == 0) {
        snprintf(err, errlen, "JWKS has no usable ES256 or RS256 signing key");
        return -1;
    }
    jwks_clear(j->keys, j->nkeys);
    memcpy(j->keys, fresh, n * sizeof(fresh[0]));
    j->nkeys = n;
    return (int)n;
}

struct jws_verifier *jwks_lookup(void *jv, const char *kid)
{
    struct jwks *j = jv;
    for (size_t i = 0; i < j->nkeys; i++)
        if (strcmp(j->keys[i].kid, kid) == 0)
            return j->keys[i].key;
    return NULL;
}

static void jwks_finish(struct jwks *j, int ok)
{
    j->in_flight = 0;
    if (ok)
        gw->metrics.jwks_fetch_ok_total++;
    else
        gw->metrics.jwks_fetch_fail_total++;
    /* Callbacks may queue a new refresh; hand them a snapshot. */
    size_t n = j->nwaiters;
    struct jwks_waiter *w = malloc(n * sizeof(*w) + 1);
    if (!w) { /* cannot snapshot: answer in place, later refreshes then wait for the next fetch */
        log_error("jwks: out of memory; %zu waiter(s) answered in place", n);
        w = j->waiters;
    } else {
        memcpy(w, j->waiters, n * sizeof(*w));
    }
    j->nwaiters = 0;
    for (size_t i = 0; i < n; i++)
        w[i].done(w[i].arg, ok);
    if (w != j->waiters)
        free(w);
}

static void jwks_on_response(void *arg, int status, const char *body, size_t len)
{
    struct jwks *j = arg;
    char err[128];
    int n = -1;
    if (status == 200)
        n = jwks_load(j, body, len, err, sizeof(err));
    else
        snprintf(err, sizeof(err), status < 0 ? "no response" : "HTTP status %d", status);
    if (n > 0) {
        log_info("jwks: loaded %d key(s) from %s", n, j->uri);
        j->last_ok_ms = j->last_try_ms;
    } else {
        log_warn("jwks: fetch of %s failed: %s", j->uri, err);
    }
    jwks_finish(j, n > 0);
}

static int jwks_start(struct jwks *j, struct lws_context *ctx)
{
    struct hc_request req = {.method = "GET", .url = j->uri, .reserved = 1};
    if (hc_start(ctx, &req, jwks_on_response, j) < 0)
        return -1;
    j->in_flight = 1;
    return 0;
}

int jwks_refresh(struct jwks *j, struct lws_context *ctx, int64_t now_ms, jwks_done_fn done,
                 void *arg)
{
    if (!j->in_flight) {
        int recent_ok = j->last_ok_ms >= 0 && now_ms - j->last_ok_ms < j->interval_ms;
        int recent_try = j->last_try_ms >= 0 && now_ms - j->last_try_ms < JWKS_RETRY_AFTER_FAIL_MS;
        if (recent_ok || recent_try)
            return -1;
        j->last_try_ms = now_ms;
        if (jwks_start(j, ctx) < 0) {
            log_warn("jwks: cannot start a fetch of %s", j->uri);
            gw->metrics.jwks_fetch_fail_total++;
            return -1;
        }
    }
    if (!done)
        return 0;
    if (j->nwaiters == JWKS_MAX_WAITERS)
        return -1;
    j->waiters[j->nwaiters].done = done;
    j->waiters[j->nwaiters++].arg = arg;
    return 0;
}
