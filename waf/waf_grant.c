/* waf_grant: each grant runs in one IMMEDIATE transaction — read the code or token, check it,
 * mark it used, issue — so two concurrent redemptions of one code cannot both succeed and a
 * failure leaves nothing half-written. Error descriptions never quote the presented value. */
#include "waf_grant.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "log.h"
#include "timeutil.h"
#include "waf_codes.h"
#include "waf_dpop.h"
#include "waf_limits.h"
#include "waf_oauth.h"

#define WAF_BASIC_MAX 700

/* Splits "Basic base64(urlenc(id):urlenc(secret))" (RFC 6749 §2.3.1); 0, -1 if malformed,
 * 1 if there is no Basic header at all. */
static int waf_grant_basic(const char *auth, char **id, char **secret)
{
    if (!auth[0])
        return 1;
    if (strncasecmp(auth, "Basic ", 6) != 0)
        return -1;
    const char *b64 = auth + 6;
    size_t n = strlen(b64);
    unsigned char raw[WAF_BASIC_MAX];
    if (n == 0 || n % 4 || n / 4 * 3 >= sizeof(raw))
        return -1;
    int len = EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)n);
    if (len < 0)
        return -1;
    len -= (b64[n - 1] == '=') + (n > 1 && b64[n - 2] == '=');
    raw[len] = '\0';
    if (memchr(raw, '\0', (size_t)len))
        return -1;
    char *colon = strchr((char *)raw, ':');
    if (!colon)
        return -1;
    *id = form_decode((char *)raw, (size_t)(colon - (char *)raw));
    *secret = form_decode(colon + 1, strlen(colon + 1));
    if (!*id || !*secret) {
        free(*id);
        free(*secret);
        return -1;
    }
    return 0;
}

static int waf_grant_invalid_client(struct waf_resp *resp, int basic, const char *desc)
{
    waf_resp_error(resp, 401, "invalid_client", desc);
    if (basic)
        snprintf(resp->www_authenticate, sizeof(resp->www_authenticate),
                 "Basic realm=\"imsgw-waf\"");
    return -1;
}

/* Authenticates the caller into c; -1 with resp filled when it cannot. */
static int waf_grant_client(struct waf_app *app, struct waf_req *req, struct waf_client *c,
                            struct waf_resp *resp)
{
    char *bid = NULL, *bsecret = NULL;
    const char *fid = form_get(&req->form, "client_id");
    const char *fsecret = form_get(&req->form, "client_secret");
    int b = waf_grant_basic(req->authorization, &bid, &bsecret);
    int rc = -1;
    if (b < 0) {
        waf_grant_invalid_client(resp, 1, "malformed Basic credentials");
    } else if (b == 0 && (fsecret || (fid && strcmp(fid, bid) != 0))) {
        waf_resp_error(resp, 400, "invalid_request", "use one client authentication method");
    } else {
        const char *id = b == 0 ? bid : fid;
        const char *secret = b == 0 ? bsecret : fsecret;
        int got = id ? waf_client_get(app->store, id, c) : WAF_STORE_NOT_FOUND;
        /* a database that cannot answer (PostgreSQL down) is a 503, not an unknown client */
        if (got == WAF_STORE_ERROR && waf_resp_store_unavailable(app, resp))
            ;
        else if (got != 0)
            waf_grant_invalid_client(resp, b == 0, "unknown client");
        else if (c->type == WAF_CLIENT_CONFIDENTIAL && !waf_client_secret_ok(c, secret))
            waf_grant_invalid_client(resp, b == 0, "client authentication failed");
        else if (c->type == WAF_CLIENT_PUBLIC && secret)
            waf_grant_invalid_client(resp, b == 0, "a public client has no secret");
        else
            rc = 0;
    }
    free(bid);
    free(bsecret);
    return rc;
}

/* Common checks of a client-facing POST: form body that parsed. */
static int waf_grant_form_ok(struct waf_req *req, struct waf_resp *resp)
{
    if (req->method != WAF_M_POST) {
        waf_resp_error(resp, 405, "invalid_request", "use POST");
        resp->allow = "POST";
        return -1;
    }
    if (strncasecmp(req->content_type, "application/x-www-form-urlencoded", 33) != 0) {
        waf_resp_error(resp, 400, "invalid_request",
                       "the body must be application/x-www-form-urlencoded");
        return -1;
    }
    if (req->form_rc != FORM_OK) {
        waf_resp_error(resp, 400, "invalid_request",
                       req->form_rc == FORM_DUPLICATE ? "a parameter is repeated"
                                                      : "the form is malformed");
        return -1;
    }
    return 0;
}

static void waf_grant_issued(struct waf_app *app, struct waf_resp *resp, json_t *tokens,
                             enum waf_grant_kind kind)
{
    if (!tokens || waf_store_commit(app->store) < 0) {
        /* Nothing of the grant is kept: a refresh token that was to be rotated stays valid. */
        json_decref(tokens);
        waf_store_rollback(app->store);
        if (!waf_resp_store_unavailable(app, resp))
            waf_resp_error(resp, 500, "server_error", "the tokens could not be stored");
        return;
    }
    app->metrics.tokens_issued[kind]++;
    waf_resp_json(resp, 200, json_dumps(tokens, JSON_COMPACT));
    json_decref(tokens);
}

/* Ends a grant with an error: what the transaction did so far (a revoked family) is kept. */
static void waf_grant_fail(struct waf_app *app, struct waf_resp *resp, const char *error,
                           const char *desc)
{
    if (waf_store_commit(app->store) < 0)
        waf_store_rollback(app->store);
    waf_resp_error(resp, 400, error, desc);
}

static const char *waf_grant_col(struct waf_stmt *s, int i)
{
    const char *v = waf_db_column_text(s, i);
    return v ? v : "";
}

/* The key a new refresh family is bound to: the proof's, for a public client only (RFC 9449
 * §5: a confidential client's refresh token is bound by its client authentication). */
static const char *waf_grant_family_jkt(const struct waf_req *req, const struct waf_client *c)
{
    return c->type == WAF_CLIENT_PUBLIC && req->dpop_jkt[0] ? req->dpop_jkt : NULL;
}

/* Issues a new family for user (and records it on the code row when code_hash is set). */
static void waf_grant_issue_family(struct waf_app *app, struct waf_req *req, struct waf_resp *resp,
                                   const struct waf_client *c, int64_t user_id, const char *scope,
                                   enum waf_grant_kind kind)
{
    struct waf_user u;
    if (waf_store_user_by_id(app->store, user_id, &u) != 0) {
        waf_grant_fail(app, resp, "invalid_grant", "the user no longer exists");
        return;
    }
    int64_t fam = waf_oauth_family_new(app, c->id, user_id, scope, waf_grant_family_jkt(req, c));
    struct waf_issue in = {c, &u, scope, fam, 1, req->dpop_jkt};
    waf_grant_issued(app, resp, fam > 0 ? waf_oauth_issue(app, &in) : NULL, kind);
}

static void waf_grant_code(struct waf_app *app, struct waf_req *req, const struct waf_client *c,
                           const char *code, struct waf_resp *resp)
{
    struct waf_db *db = waf_store_db(app->store);
    char hash[WAF_HASH_HEX];
    struct waf_stmt *s;
    waf_secret_hash(code, hash);
    if (waf_db_prepare(db,
                       "SELECT client_id, user_id, redirect_uri, scope, challenge, expires_at, "
                       "used, family_id FROM auth_codes WHERE hash = ?1",
                       &s) != WAF_DB_OK) {
        waf_grant_fail(app, resp, "server_error", NULL);
        return;
    }
    waf_db_bind_text(s, 1, hash);
    const char *redirect = form_get(&req->form, "redirect_uri");
    const char *verifier = form_get(&req->form, "code_verifier");
    const char *err = NULL, *desc = NULL;
    /* Who presents the code is settled before a replay may revoke anything: the client the code
     * was issued to, with its PKCE verifier when the code has a challenge. A public client
     * without PKCE proves nothing (its id is public), so its replay revokes nothing either. */
    int has_challenge = 0;
    if (waf_db_step(s) != WAF_DB_ROW) {
        err = "invalid_grant", desc = "unknown authorization code";
    } else if (strcmp(waf_grant_col(s, 0), c->id) != 0) {
        err = "invalid_grant", desc = "the code was issued to another client";
    } else if ((has_challenge = waf_db_column_type(s, 4) != WAF_DB_NULL)
                   ? !waf_codes_pkce_ok(verifier, waf_grant_col(s, 4))
                   : verifier != NULL) {
        err = "invalid_grant", desc = "PKCE verification failed";
    } else if (waf_db_column_int(s, 6)) {
        /* RFC 6749 §4.1.2: a replayed code revokes what it produced (T23). */
        int proven = c->type == WAF_CLIENT_CONFIDENTIAL || has_challenge;
        if (proven && waf_db_column_type(s, 7) != WAF_DB_NULL)
            waf_oauth_family_revoke(app, waf_db_column_int64(s, 7));
        log_warn("authorization code reused by client %s; %s", c->id,
                 proven ? "its tokens are revoked" : "nothing revoked (client not proven)");
        err = "invalid_grant", desc = "the authorization code was already used";
    } else if (waf_db_column_int64(s, 5) <= time_now_s()) {
        err = "invalid_grant", desc = "the authorization code has expired";
    } else if (!redirect || strcmp(redirect, waf_grant_col(s, 2)) != 0) {
        err = "invalid_grant", desc = "redirect_uri differs from the authorization request";
    }
    if (err) {
        waf_db_finalize(s);
        waf_grant_fail(app, resp, err, desc);
        return;
    }
    int64_t user_id = waf_db_column_int64(s, 1);
    char scope[WAF_SCOPE_MAX + 1];
    snprintf(scope, sizeof(scope), "%s", waf_grant_col(s, 3));
    waf_db_finalize(s);
    struct waf_user u;
    int64_t fam =
        waf_store_user_by_id(app->store, user_id, &u) == 0
            ? waf_oauth_family_new(app, c->id, user_id, scope, waf_grant_family_jkt(req, c))
            : -1;
    if (fam < 0 || waf_db_prepare(db,
                                  "UPDATE auth_codes SET used = 1, family_id = ?2 "
                                  "WHERE hash = ?1",
                                  &s) != WAF_DB_OK) {
        waf_grant_fail(app, resp, "invalid_grant", "the code's user no longer exists");
        return;
    }
    waf_db_bind_text(s, 1, hash);
    waf_db_bind_int64(s, 2, fam);
    int ok = waf_db_step(s) == WAF_DB_DONE;
    waf_db_finalize(s);
    struct waf_issue in = {c, &u, scope, fam, 1, req->dpop_jkt};
    waf_grant_issued(app, resp, ok ? waf_oauth_issue(app, &in) : NULL, WAF_GRANT_CODE);
}

/* The numeric code of PRODUCT.md flow 3, redeemed by a confidential client (the gateway) that
 * names the IMPU the phone registers: failures count per IMPU and lock its code. */
static void waf_grant_numeric(struct waf_app *app, struct waf_req *req, const struct waf_client *c,
                              const char *code, struct waf_resp *resp)
{
    const char *impu = form_get(&req->form, "impu");
    if (c->type != WAF_CLIENT_CONFIDENTIAL) {
        waf_grant_fail(app, resp, "unauthorized_client",
                       "only a confidential client may redeem numeric codes");
        return;
    }
    if (!impu || !waf_user_impu_valid(impu)) {
        waf_grant_fail(app, resp, "invalid_request", "numeric codes need the impu parameter");
        return;
    }
    struct waf_db *db = waf_store_db(app->store);
    struct waf_stmt *s;
    char hash[WAF_HASH_HEX];
    waf_secret_hash(code, hash);
    if (waf_db_prepare(db,
                       "SELECT hash, expires_at, attempts, user_id FROM numeric_codes "
                       "WHERE impu = ?1",
                       &s) != WAF_DB_OK) {
        waf_grant_fail(app, resp, "server_error", NULL);
        return;
    }
    waf_db_bind_text(s, 1, impu);
    int found = waf_db_step(s) == WAF_DB_ROW;
    int match = found && waf_secret_equal(waf_grant_col(s, 0), hash);
    int live = found && waf_db_column_int64(s, 1) > time_now_s() &&
               waf_db_column_int64(s, 2) < app->s->numeric_max_attempts;
    int64_t user_id = found ? waf_db_column_int64(s, 3) : 0;
    waf_db_finalize(s);
    if (match && live) {
        /* single use: no tokens unless the code is gone */
        int gone = waf_db_prepare(db, "DELETE FROM numeric_codes WHERE impu = ?1", &s) == WAF_DB_OK;
        if (gone) {
            waf_db_bind_text(s, 1, impu);
            gone = waf_db_step(s) == WAF_DB_DONE;
            waf_db_finalize(s);
        }
        if (!gone) {
            waf_store_rollback(app->store);
            waf_resp_error(resp, 500, "server_error", "the code could not be consumed");
            return;
        }
        waf_grant_issue_family(app, req, resp, c, user_id, c->scope, WAF_GRANT_NUMERIC);
        return;
    }
    app->metrics.numeric_failures++;
    /* A wrong guess counts; the code dies at the limit (or at once when it is expired). */
    if (waf_db_prepare(db, "UPDATE numeric_codes SET attempts = attempts + 1 WHERE impu = ?1",
                       &s) == WAF_DB_OK) {
        waf_db_bind_text(s, 1, impu);
        waf_db_step(s);
        waf_db_finalize(s);
    }
    if (waf_db_prepare(db,
                       "DELETE FROM numeric_codes WHERE impu = ?1 AND (attempts >= ?2 OR "
                       "expires_at <= ?3)",
                       &s) == WAF_DB_OK) {
        waf_db_bind_text(s, 1, impu);
        waf_db_bind_int64(s, 2, app->s->numeric_max_attempts);
        waf_db_bind_int64(s, 3, time_now_s());
        waf_db_step(s);
        waf_db_finalize(s);
    }
    log_info("numeric code refused for %s", impu);
    waf_grant_fail(app, resp, "invalid_grant", "the code is wrong, expired, used or locked");
}

static void waf_grant_refresh(struct waf_app *app, struct waf_req *req, const struct waf_client *c,
                              struct waf_resp *resp)
{
    const char *token = form_get(&req->form, "refresh_token");
    const char *want = form_get(&req->form, "scope");
    if (!token) {
        waf_grant_fail(app, resp, "invalid_request", "refresh_token is missing");
        return;
    }
    struct waf_db *db = waf_store_db(app->store);
    struct waf_stmt *s;
    char hash[WAF_HASH_HEX];
    waf_secret_hash(token, hash);
    if (waf_db_prepare(db,
                       "SELECT r.family_id, r.used, r.expires_at, f.client_id, f.user_id, "
                       "f.scope, f.revoked, f.dpop_jkt FROM refresh_tokens r JOIN families f ON "
                       "f.id = r.family_id WHERE r.hash = ?1",
                       &s) != WAF_DB_OK) {
        waf_grant_fail(app, resp, "server_error", NULL);
        return;
    }
    waf_db_bind_text(s, 1, hash);
    const char *err = NULL, *desc = NULL;
    int64_t fam = 0, user_id = 0;
    char scope[WAF_SCOPE_MAX + 1] = "";
    if (waf_db_step(s) != WAF_DB_ROW) {
        err = "invalid_grant", desc = "unknown refresh token";
    } else if (strcmp(waf_grant_col(s, 3), c->id) != 0) {
        err = "invalid_grant", desc = "the refresh token was issued to another client";
    } else if (waf_db_column_int(s, 1) || waf_db_column_int(s, 6)) {
        /* RFC 9700 §4.14.2: an old refresh token came back, so one of its holders is not the
         * client. Nobody in the family can be trusted any more. */
        waf_oauth_family_revoke(app, waf_db_column_int64(s, 0));
        app->metrics.refresh_reuse++;
        log_warn("refresh token reused by client %s; its family is revoked", c->id);
        err = "invalid_grant", desc = "the refresh token was already used";
    } else if (waf_db_column_int64(s, 2) <= time_now_s()) {
        err = "invalid_grant", desc = "the refresh token has expired";
    } else if (waf_db_column_type(s, 7) != WAF_DB_NULL &&
               strcmp(waf_grant_col(s, 7), req->dpop_jkt) != 0) {
        /* RFC 9449 §5.2: a bound refresh token is only worth anything with its key's proof. */
        err = "invalid_dpop_proof", desc = "the refresh token is bound to another DPoP key";
    } else {
        fam = waf_db_column_int64(s, 0);
        user_id = waf_db_column_int64(s, 4);
        snprintf(scope, sizeof(scope), "%s", waf_grant_col(s, 5));
    }
    waf_db_finalize(s);
    if (!err && want) {
        struct waf_client granted = *c;
        snprintf(granted.scope, sizeof(granted.scope), "%s", scope);
        if (!waf_token_scope_valid(want) || !waf_client_scope_ok(&granted, want))
            err = "invalid_scope", desc = "the scope exceeds the original grant";
        else
            snprintf(scope, sizeof(scope), "%s", want);
    }
    if (err) {
        waf_grant_fail(app, resp, err, desc);
        return;
    }
    struct waf_user u;
    if (waf_store_user_by_id(app->store, user_id, &u) != 0 ||
        waf_db_prepare(db, "UPDATE refresh_tokens SET used = 1 WHERE hash = ?1", &s) != WAF_DB_OK) {
        waf_grant_fail(app, resp, "invalid_grant", "the user no longer exists");
        return;
    }
    waf_db_bind_text(s, 1, hash);
    int ok = waf_db_step(s) == WAF_DB_DONE;
    waf_db_finalize(s);
    struct waf_issue in = {c, &u, scope, fam, 1, req->dpop_jkt};
    waf_grant_issued(app, resp, ok ? waf_oauth_issue(app, &in) : NULL, WAF_GRANT_REFRESH);
}

static void waf_grant_client_credentials(struct waf_app *app, struct waf_req *req,
                                         const struct waf_client *c, struct waf_resp *resp)
{
    const char *want = form_get(&req->form, "scope");
    if (c->type != WAF_CLIENT_CONFIDENTIAL) {
        waf_grant_fail(app, resp, "unauthorized_client", "public clients cannot use this grant");
        return;
    }
    if (want && (!waf_token_scope_valid(want) || !waf_client_scope_ok(c, want))) {
        waf_grant_fail(app, resp, "invalid_scope", "the scope is unknown or not allowed");
        return;
    }
    struct waf_issue in = {c, NULL, want ? want : c->scope, 0, 0, req->dpop_jkt};
    waf_grant_issued(app, resp, waf_oauth_issue(app, &in), WAF_GRANT_CLIENT);
}

static void waf_grant_device(struct waf_app *app, struct waf_req *req, const struct waf_client *c,
                             struct waf_resp *resp)
{
    const char *code = form_get(&req->form, "device_code");
    if (!code) {
        waf_grant_fail(app, resp, "invalid_request", "device_code is missing");
        return;
    }
    struct waf_db *db = waf_store_db(app->store);
    struct waf_stmt *s;
    char hash[WAF_HASH_HEX], scope[WAF_SCOPE_MAX + 1] = "";
    waf_secret_hash(code, hash);
    if (waf_db_prepare(db,
                       "SELECT client_id, scope, expires_at, \"interval\", last_poll, state, "
                       "user_id FROM device_codes WHERE hash = ?1",
                       &s) != WAF_DB_OK) {
        waf_grant_fail(app, resp, "server_error", NULL);
        return;
    }
    waf_db_bind_text(s, 1, hash);
    int64_t now = time_now_s(), user_id = 0;
    const char *err = NULL, *desc = NULL,
               *update = "UPDATE device_codes SET last_poll = ?2 "
                         "WHERE hash = ?1";
    if (waf_db_step(s) != WAF_DB_ROW || strcmp(waf_grant_col(s, 0), c->id) != 0) {
        err = "invalid_grant", desc = "unknown device code";
        update = NULL;
    } else if (waf_db_column_int64(s, 2) <= now) {
        err = "expired_token", desc = NULL;
    } else if (now - waf_db_column_int64(s, 4) < waf_db_column_int64(s, 3)) {
        /* RFC 8628 §3.5: polling too fast adds 5 s to this device's interval for good. */
        err = "slow_down", desc = NULL;
        update = "UPDATE device_codes SET last_poll = ?2, \"interval\" = \"interval\" + 5 WHERE "
                 "hash = ?1";
    } else if (waf_db_column_int(s, 5) == WAF_DEVICE_PENDING) {
        err = "authorization_pending", desc = NULL;
    } else if (waf_db_column_int(s, 5) == WAF_DEVICE_DENIED) {
        err = "access_denied", desc = NULL;
        update = "DELETE FROM device_codes WHERE hash = ?1 AND ?2 > 0";
    } else {
        user_id = waf_db_column_int64(s, 6);
        snprintf(scope, sizeof(scope), "%s", waf_grant_col(s, 1));
        update = "DELETE FROM device_codes WHERE hash = ?1 AND ?2 > 0";
    }
    waf_db_finalize(s);
    if (update && waf_db_prepare(db, update, &s) == WAF_DB_OK) {
        waf_db_bind_text(s, 1, hash);
        waf_db_bind_int64(s, 2, now);
        waf_db_step(s);
        waf_db_finalize(s);
    }
    if (err)
        waf_grant_fail(app, resp, err, desc);
    else
        waf_grant_issue_family(app, req, resp, c, user_id, scope, WAF_GRANT_DEVICE);
}

void waf_grant_token(struct waf_app *app, struct waf_req *req, struct waf_resp *resp)
{
    struct waf_client c;
    if (waf_grant_form_ok(req, resp) < 0 || waf_grant_client(app, req, &c, resp) < 0 ||
        waf_dpop_check(app, req, resp) < 0) {
        app->metrics.token_errors++;
        return;
    }
    const char *grant = form_get(&req->form, "grant_type");
    const char *code = form_get(&req->form, "code");
    if (!grant) {
        waf_resp_error(resp, 400, "invalid_request", "grant_type is missing");
    } else if (strcmp(grant, "authorization_code") != 0 && strcmp(grant, "refresh_token") != 0 &&
               strcmp(grant, "client_credentials") != 0 &&
               strcmp(grant, WAF_GRANT_TYPE_DEVICE) != 0) {
        waf_resp_error(resp, 400, "unsupported_grant_type", NULL);
    } else if (strcmp(grant, "authorization_code") == 0 && !code) {
        waf_resp_error(resp, 400, "invalid_request", "code is missing");
    } else if (waf_store_begin(app->store) < 0) {
        if (!waf_resp_store_unavailable(app, resp))
            waf_resp_error(resp, 503, "temporarily_unavailable", "the store is busy");
    } else if (strcmp(grant, "authorization_code") == 0) {
        if (waf_secret_is_numeric(code))
            waf_grant_numeric(app, req, &c, code, resp);
        else
            waf_grant_code(app, req, &c, code, resp);
    } else if (strcmp(grant, "refresh_token") == 0) {
        waf_grant_refresh(app, req, &c, resp);
    } else if (strcmp(grant, "client_credentials") == 0) {
        waf_grant_client_credentials(app, req, &c, resp);
    } else {
        waf_grant_device(app, req, &c, resp);
    }
    if (resp->status != 200)
        app->metrics.token_errors++;
    if (req->dpop_count)
        waf_dpop_nonce(app, resp); /* the next proof's nonce, whatever the outcome (§8.2) */
}

int waf_grant_client_auth(struct waf_app *app, struct waf_req *req, struct waf_client *c,
                          struct waf_resp *resp)
{
    return waf_grant_form_ok(req, resp) < 0 ? -1 : waf_grant_client(app, req, c, resp);
}

void waf_grant_introspect(struct waf_app *app, struct waf_req *req, struct waf_resp *resp)
{
    struct waf_client c;
    if (waf_grant_form_ok(req, resp) < 0 || waf_grant_client(app, req, &c, resp) < 0)
        return;
    if (c.type != WAF_CLIENT_CONFIDENTIAL) {
        waf_grant_invalid_client(resp, 0, "introspection needs a confidential client");
        return;
    }
    const char *token = form_get(&req->form, "token");
    if (!token) {
        waf_resp_error(resp, 400, "invalid_request", "token is missing");
        return;
    }
    json_t *r = waf_oauth_introspect(app, token);
    waf_resp_json(resp, 200, r ? json_dumps(r, JSON_COMPACT) : NULL);
    json_decref(r);
}

void waf_grant_revoke(struct waf_app *app, struct waf_req *req, struct waf_resp *resp)
{
    struct waf_client c;
    if (waf_grant_form_ok(req, resp) < 0 || waf_grant_client(app, req, &c, resp) < 0)
        return;
    const char *token = form_get(&req->form, "token");
    const char *hint = form_get(&req->form, "token_type_hint");
    if (!token) {
        waf_resp_error(resp, 400, "invalid_request", "token is missing");
        return;
    }
    if (hint && strcmp(hint, "access_token") != 0 && strcmp(hint, "refresh_token") != 0) {
        waf_resp_error(resp, 400, "unsupported_token_type", NULL);
        return;
    }
    waf_oauth_revoke(app, &c, token);
    waf_resp_json(resp, 200, strdup(""));
    resp->content_type = "text/plain";
}

void waf_grant_device_authorization(struct waf_app *app, struct waf_req *req, struct waf_resp *resp)
{
    struct waf_client c;
    int64_t now = time_now_s();
    if (waf_limits_device(app, req->peer, NULL, now, resp) || waf_grant_form_ok(req, resp) < 0 ||
        waf_grant_client(app, req, &c, resp) < 0 ||
        waf_limits_device(app, req->peer, c.id, now, resp))
        return;
    const char *want = form_get(&req->form, "scope");
    if (want && (!waf_token_scope_valid(want) || !waf_client_scope_ok(&c, want))) {
        waf_resp_error(resp, 400, "invalid_scope", NULL);
        return;
    }
    char device[WAF_SECRET_LEN], user[WAF_USER_CODE_LEN + 1], shown[WAF_USER_CODE_LEN + 2];
    char uri[WAF_ISSUER_MAX + 16], complete[WAF_ISSUER_MAX + 48];
    if (waf_codes_device_new(app, c.id, want ? want : c.scope, device, user) < 0) {
        waf_resp_error(resp, 500, "server_error", NULL);
        return;
    }
    snprintf(shown, sizeof(shown), "%.4s-%.4s", user, user + 4);
    snprintf(uri, sizeof(uri), "%s/device", app->s->issuer);
    snprintf(complete, sizeof(complete), "%s?user_code=%s", uri, shown);
    json_t *r = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I}", "device_code", device, "user_code",
                          shown, "verification_uri", uri, "verification_uri_complete", complete,
                          "expires_in", (json_int_t)app->s->device_code_lifetime, "interval",
                          (json_int_t)app->s->device_interval);
    waf_resp_json(resp, 200, r ? json_dumps(r, JSON_COMPACT) : NULL);
    json_decref(r);
}
