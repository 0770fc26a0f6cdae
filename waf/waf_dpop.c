/* waf_dpop: the nonce is stateless (HMAC of its time under a key made at start), so it costs no
 * store write; a restart only makes clients fetch a new one. The jti cache is what stops a
 * proof from being used twice inside its window: in memory on SQLite (one process), and on
 * PostgreSQL in the shared dpop_jtis table (schema step 6), so a proof used at one WAF replica
 * is refused at every other one. */
#include "waf_dpop.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "dpop.h"
#include "log.h"
#include "rnd.h"
#include "timeutil.h"
#include "waf_db.h"
#include "waf_secret.h"

#define WAF_DPOP_NONCE_TAG "imsgw-waf-token"
#define WAF_DPOP_LEEWAY 5 /* seconds an iat may be ahead of our clock */

/* /token runs on the store threads (waf_work): they share the one replay cache. */
static pthread_mutex_t waf_dpop_mu = PTHREAD_MUTEX_INITIALIZER;

int waf_dpop_open(struct waf_app *app)
{
    rnd_bytes(app->dpop_nonce_key, sizeof(app->dpop_nonce_key));
    app->dpop_replay = dpop_replay_new(WAF_DPOP_REPLAY_MAX);
    if (app->dpop_replay) /* the same share as the PostgreSQL table's (waf_dpop_seen_shared) */
        dpop_replay_share(app->dpop_replay, WAF_DPOP_REPLAY_PER_KEY);
    return app->dpop_replay ? 0 : -1;
}

void waf_dpop_close(struct waf_app *app)
{
    dpop_replay_free(app->dpop_replay);
    app->dpop_replay = NULL;
}

void waf_dpop_nonce(struct waf_app *app, struct waf_resp *resp)
{
    dpop_nonce_make(app->dpop_nonce_key, WAF_DPOP_NONCE_TAG, time_now_s(), resp->dpop_nonce);
}

static int waf_dpop_refuse(struct waf_app *app, struct waf_resp *resp, const char *error,
                           const char *why)
{
    app->metrics.dpop_refused++;
    log_info("token: DPoP proof refused: %s", why);
    waf_resp_error(resp, 400, error, why);
    waf_dpop_nonce(app, resp);
    return -1;
}

/* The shared replay cache: one row per proof, keyed by SHA-256 of jkt and jti (a client's jti
 * alone is not unique across keys, and neither is stored as the client sent it), with the
 * SHA-256 of jkt beside it for the per-key share. The insert is one atomic statement: of two
 * replicas racing with one proof exactly one inserts. A row whose time has passed may be taken
 * over (the proof it stood for can no longer pass the iat check). A key that already holds
 * WAF_DPOP_REPLAY_PER_KEY live rows gets none more, as in memory (dpop_replay_share): one key
 * cannot grow the table (a client making a fresh key per request still adds a row each, for
 * max-age + leeway: the table has no total bound; docs/architecture.md). Replicas inserting for
 * one key at the same moment may each see the share not yet full, so it can be passed by as
 * many proofs as race. 0 new, 1 replayed, 2 the key's share is full, -1 the store failed. */
static int waf_dpop_seen_shared(struct waf_app *app, const struct dpop_proof *p, int64_t now,
                                int64_t until)
{
    /* jkt with its NUL, then jti: the two cannot run together */
    unsigned char key[sizeof(p->jkt) + sizeof(p->jti)];
    size_t kl = strlen(p->jkt) + 1, jl = strlen(p->jti);
    memcpy(key, p->jkt, kl);
    memcpy(key + kl, p->jti, jl);
    char id[WAF_HASH_HEX], jkt[WAF_HASH_HEX];
    waf_secret_hash_bytes(key, kl + jl, id);
    waf_secret_hash(p->jkt, jkt);
    struct waf_db *db = waf_store_db(app->store);
    struct waf_stmt *s;
    if (waf_db_prepare(db,
                       "INSERT INTO dpop_jtis (id, expires_at, jkt) "
                       "SELECT ?1, CAST(?2 AS BIGINT), ?4 WHERE (SELECT count(*) FROM dpop_jtis "
                       "WHERE jkt = ?4 AND expires_at >= ?3) < ?5 "
                       "ON CONFLICT (id) DO UPDATE SET expires_at = ?2, jkt = ?4 "
                       "WHERE dpop_jtis.expires_at < ?3",
                       &s) != WAF_DB_OK)
        return -1;
    waf_db_bind_text(s, 1, id);
    waf_db_bind_int64(s, 2, until);
    waf_db_bind_int64(s, 3, now);
    waf_db_bind_text(s, 4, jkt);
    waf_db_bind_int64(s, 5, WAF_DPOP_REPLAY_PER_KEY);
    int rc = waf_db_step(s);
    waf_db_finalize(s);
    if (rc != WAF_DB_DONE)
        goto failed;
    if (waf_db_changes(db) == 1)
        return 0;
    /* nothing written: the proof is live already (a replay), or the key's share is full */
    if (waf_db_prepare(db, "SELECT count(*) FROM dpop_jtis WHERE id = ?1 AND expires_at >= ?2",
                       &s) != WAF_DB_OK)
        return -1;
    waf_db_bind_text(s, 1, id);
    waf_db_bind_int64(s, 2, now);
    rc = waf_db_step(s);
    int64_t live = rc == WAF_DB_ROW ? waf_db_column_int64(s, 0) : 0;
    waf_db_finalize(s);
    if (rc != WAF_DB_ROW)
        goto failed;
    return live ? 1 : 2;
failed:
    log_warn("token: the DPoP replay cache cannot be used (%s)", waf_db_errmsg(db));
    return -1;
}

int waf_dpop_check(struct waf_app *app, struct waf_req *req, struct waf_resp *resp)
{
    req->dpop_jkt[0] = '\0';
    if (req->dpop_count == 0)
        return 0;
    if (req->dpop_count > 1 || req->dpop_too_long)
        return waf_dpop_refuse(app, resp, "invalid_dpop_proof",
                               "one DPoP header of at most 4096 bytes is allowed");
    char htu[WAF_ISSUER_MAX + 16], why[160];
    snprintf(htu, sizeof(htu), "%s/token", app->s->issuer);
    int64_t now = time_now_s();
    struct dpop_expect want = {.htm = "POST",
                               .htu = htu,
                               .now = now,
                               .max_age = app->s->dpop_max_age,
                               .leeway = WAF_DPOP_LEEWAY};
    struct dpop_proof p;
    if (dpop_verify(req->dpop, strlen(req->dpop), &want, &p, why, sizeof(why)) < 0)
        return waf_dpop_refuse(app, resp, "invalid_dpop_proof", why);
    if (app->s->dpop_nonce && !dpop_nonce_check(app->dpop_nonce_key, WAF_DPOP_NONCE_TAG, p.nonce,
                                                now, app->s->dpop_max_age))
        return waf_dpop_refuse(app, resp, "use_dpop_nonce",
                               p.nonce[0] ? "the DPoP nonce is stale or not ours"
                                          : "the authorization server requires a DPoP nonce");
    int64_t until = now + app->s->dpop_max_age + WAF_DPOP_LEEWAY + 1;
    int seen;
    if (app->store && waf_store_db(app->store)->postgres) {
        if ((seen = waf_dpop_seen_shared(app, &p, now, until)) < 0)
            return waf_resp_store_unavailable(app, resp)
                       ? -1
                       : waf_dpop_refuse(app, resp, "invalid_dpop_proof",
                                         "the DPoP proof could not be recorded; try again");
        if (seen == 2)
            seen = -2; /* as dpop_replay_add says it: this key's share is full */
    } else {
        pthread_mutex_lock(&waf_dpop_mu);
        seen = dpop_replay_add(app->dpop_replay, &p, now, until);
        pthread_mutex_unlock(&waf_dpop_mu);
    }
    if (seen)
        return waf_dpop_refuse(app, resp, "invalid_dpop_proof",
                               seen > 0 ? "the DPoP proof was already used (jti)"
                               : seen == -2
                                   ? "too many recent DPoP proofs with this key; try again shortly"
                                   : "too many recent DPoP proofs; try again shortly");
    snprintf(req->dpop_jkt, sizeof(req->dpop_jkt), "%s", p.jkt);
    return 0;
}
