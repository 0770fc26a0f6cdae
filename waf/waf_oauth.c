/* waf_oauth: every token has a row. JWT access tokens are found by jti after their signature
 * checked out; opaque and refresh tokens by the SHA-256 of their value. A token is active only
 * while its row, its family and its user exist and none of them is revoked or expired. */
#include "waf_oauth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jws.h"
#include "log.h"
#include "rnd.h"
#include "timeutil.h"
#include "waf_secret.h"

static struct waf_db *waf_oauth_db(struct waf_app *app)
{
    return waf_store_db(app->store);
}

int64_t waf_oauth_family_new(struct waf_app *app, const char *client_id, int64_t user_id,
                             const char *scope, const char *dpop_jkt)
{
    struct waf_db *db = waf_oauth_db(app);
    struct waf_stmt *s;
    int64_t now = time_now_s(), id = -1;
    if (waf_db_prepare(db,
                       "INSERT INTO families (client_id, user_id, scope, created_at, "
                       "expires_at, dpop_jkt) VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id",
                       &s) != WAF_DB_OK)
        return -1;
    waf_db_bind_text(s, 1, client_id);
    if (user_id > 0)
        waf_db_bind_int64(s, 2, user_id);
    waf_db_bind_text(s, 3, scope);
    waf_db_bind_int64(s, 4, now);
    waf_db_bind_int64(s, 5, now + app->s->refresh_lifetime);
    if (dpop_jkt)
        waf_db_bind_text(s, 6, dpop_jkt);
    if (waf_db_step(s) == WAF_DB_ROW)
        id = waf_db_column_int64(s, 0);
    waf_db_finalize(s);
    return id;
}

static int waf_oauth_exec_id(struct waf_db *db, const char *sql, int64_t id)
{
    struct waf_stmt *s;
    if (waf_db_prepare(db, sql, &s) != WAF_DB_OK)
        return -1;
    waf_db_bind_int64(s, 1, id);
    int rc = waf_db_step(s) == WAF_DB_DONE ? 0 : -1;
    waf_db_finalize(s);
    return rc;
}

int waf_oauth_family_revoke(struct waf_app *app, int64_t family)
{
    struct waf_db *db = waf_oauth_db(app);
    return waf_oauth_exec_id(db, "UPDATE families SET revoked = 1 WHERE id = ?1", family) |
           waf_oauth_exec_id(db, "UPDATE access_tokens SET revoked = 1 WHERE family_id = ?1",
                             family) |
           waf_oauth_exec_id(db, "UPDATE refresh_tokens SET used = 1 WHERE family_id = ?1", family);
}

static int waf_oauth_record(struct waf_app *app, const struct waf_issue *in, const char *jti,
                            const char *hash, int64_t iat)
{
    struct waf_stmt *s;
    if (waf_db_prepare(waf_oauth_db(app),
                       "INSERT INTO access_tokens (jti, hash, family_id, client_id, user_id, "
                       "scope, issued_at, expires_at, dpop_jkt) VALUES (?1, ?2, ?3, ?4, ?5, "
                       "?6, ?7, ?8, ?9)",
                       &s) != WAF_DB_OK)
        return -1;
    waf_db_bind_text(s, 1, jti);
    if (hash)
        waf_db_bind_text(s, 2, hash);
    if (in->family > 0)
        waf_db_bind_int64(s, 3, in->family);
    waf_db_bind_text(s, 4, in->client->id);
    if (in->user)
        waf_db_bind_int64(s, 5, in->user->id);
    waf_db_bind_text(s, 6, in->scope);
    waf_db_bind_int64(s, 7, iat);
    waf_db_bind_int64(s, 8, iat + app->s->token_lifetime);
    if (in->jkt && in->jkt[0])
        waf_db_bind_text(s, 9, in->jkt);
    int rc = waf_db_step(s) == WAF_DB_DONE ? 0 : -1;
    waf_db_finalize(s);
    return rc;
}

static int waf_oauth_refresh_new(struct waf_app *app, int64_t family, char out[WAF_SECRET_LEN])
{
    char hash[WAF_HASH_HEX];
    struct waf_stmt *s;
    waf_secret_new(out);
    waf_secret_hash(out, hash);
    if (waf_db_prepare(waf_oauth_db(app),
                       "INSERT INTO refresh_tokens (hash, family_id, expires_at) "
                       "SELECT ?1, id, expires_at FROM families WHERE id = ?2",
                       &s) != WAF_DB_OK)
        return -1;
    waf_db_bind_text(s, 1, hash);
    waf_db_bind_int64(s, 2, family);
    int rc = waf_db_step(s) == WAF_DB_DONE && waf_db_changes(waf_oauth_db(app)) == 1 ? 0 : -1;
    waf_db_finalize(s);
    return rc;
}

json_t *waf_oauth_issue(struct waf_app *app, const struct waf_issue *in)
{
    char jti[WAF_SECRET_LEN], opaque[WAF_SECRET_LEN], hash[WAF_HASH_HEX], err[128];
    char refresh[WAF_SECRET_LEN];
    int64_t now = time_now_s();
    rnd_token(jti, 24);
    char *access = NULL;
    const char *hash_or_null = NULL;
    if (in->client->format == WAF_FORMAT_OPAQUE) {
        waf_secret_new(opaque);
        waf_secret_hash(opaque, hash);
        access = strdup(opaque);
        hash_or_null = hash;
    } else {
        waf_keyring_refresh(&app->keys, app->store);
        struct waf_token_request req = {
            app->s->issuer,         app->s->audience, in->client->id, in->scope, now,
            app->s->token_lifetime, in->jkt};
        access = waf_token_issue_jti(waf_keyring_current(&app->keys), &req, in->user, jti, err,
                                     sizeof(err));
    }
    if (!access || waf_oauth_record(app, in, jti, hash_or_null, now) < 0 ||
        (in->refresh && waf_oauth_refresh_new(app, in->family, refresh) < 0)) {
        free(access);
        return NULL;
    }
    int bound = in->jkt && in->jkt[0];
    if (bound)
        app->metrics.dpop_bound++;
    json_t *r = json_pack("{s:s, s:s, s:I, s:s}", "access_token", access, "token_type",
                          bound ? "DPoP" : "Bearer", "expires_in",
                          (json_int_t)app->s->token_lifetime, "scope", in->scope);
    if (r && in->refresh)
        json_object_set_new(r, "refresh_token", json_string(refresh));
    free(access);
    return r;
}

static json_t *waf_oauth_inactive(void)
{
    return json_pack("{s:b}", "active", 0);
}

/* Verifies a JWT of ours and returns its jti (pointing into p's claims), or NULL. */
static const char *waf_oauth_jwt_jti(struct waf_app *app, const char *token, struct jws_parsed *p)
{
    char err[128];
    if (jws_parse(token, strlen(token), p, err, sizeof(err)) < 0)
        return NULL;
    waf_keyring_refresh(&app->keys, app->store);
    const struct waf_signing_key *k = waf_keyring_find(&app->keys, p->kid);
    if (!k || strcmp(k->alg, p->alg) != 0 || waf_keys_verify(k, p) < 0)
        return NULL;
    const char *iss = json_string_value(json_object_get(p->claims, "iss"));
    if (!iss || strcmp(iss, app->s->issuer) != 0)
        return NULL;
    return json_string_value(json_object_get(p->claims, "jti"));
}

#define WAF_OAUTH_ACTIVE_SQL                                                                       \
    "SELECT a.client_id, a.user_id, a.scope, a.issued_at, a.expires_at, a.jti, a.dpop_jkt "        \
    "FROM access_tokens "                                                                          \
    "a LEFT JOIN families f ON f.id = a.family_id WHERE a.revoked = 0 AND a.expires_at > ?2 AND "  \
    "coalesce(f.revoked, 0) = 0 AND "

static json_t *waf_oauth_describe(struct waf_app *app, struct waf_stmt *s, const char *type)
{
    const char *client = waf_db_column_text(s, 0);
    int64_t user_id = waf_db_column_int64(s, 1);
    json_t *r =
        json_pack("{s:b, s:s, s:s, s:s, s:s, s:I, s:I, s:s}", "active", 1, "client_id",
                  client ? client : "", "scope", waf_db_column_text(s, 2), "iss", app->s->issuer,
                  "aud", app->s->audience, "iat", (json_int_t)waf_db_column_int64(s, 3), "exp",
                  (json_int_t)waf_db_column_int64(s, 4), "token_type", type);
    if (!r)
        return NULL;
    if (waf_db_column_type(s, 5) == WAF_DB_TEXT)
        json_object_set_new(r, "jti", json_string(waf_db_column_text(s, 5)));
    if (waf_db_column_type(s, 6) == WAF_DB_TEXT) { /* RFC 9449 §6.2 */
        json_object_set_new(r, "token_type", json_string("DPoP"));
        json_object_set_new(r, "cnf", json_pack("{s:s}", "jkt", waf_db_column_text(s, 6)));
    }
    struct waf_user u;
    if (waf_db_column_type(s, 1) == WAF_DB_NULL) {
        json_object_set_new(r, "sub", json_string(client ? client : ""));
    } else if (waf_store_user_by_id(app->store, user_id, &u) == 0) {
        char sub[32];
        snprintf(sub, sizeof(sub), "user-%lld", (long long)u.id);
        json_t *impu = json_array();
        for (size_t i = 0; i < u.n_impu; i++)
            json_array_append_new(impu, json_string(u.impu[i]));
        json_object_set_new(r, "sub", json_string(sub));
        json_object_set_new(r, "username", json_string(u.name));
        json_object_set_new(r, "impi", json_string(u.impi));
        json_object_set_new(r, "impu", impu);
    } else {
        json_decref(r);
        return waf_oauth_inactive();
    }
    return r;
}

static json_t *waf_oauth_lookup(struct waf_app *app, const char *sql, const char *key,
                                const char *type)
{
    struct waf_stmt *s;
    json_t *r = NULL;
    if (waf_db_prepare(waf_oauth_db(app), sql, &s) != WAF_DB_OK)
        return waf_oauth_inactive();
    waf_db_bind_text(s, 1, key);
    waf_db_bind_int64(s, 2, time_now_s());
    if (waf_db_step(s) == WAF_DB_ROW)
        r = waf_oauth_describe(app, s, type);
    waf_db_finalize(s);
    return r;
}

json_t *waf_oauth_introspect(struct waf_app *app, const char *token)
{
    json_t *r = NULL;
    if (!token || !*token || strlen(token) > JWS_MAX_TOKEN)
        return waf_oauth_inactive();
    if (strchr(token, '.')) {
        struct jws_parsed p;
        memset(&p, 0, sizeof(p));
        const char *jti = waf_oauth_jwt_jti(app, token, &p);
        if (jti)
            r = waf_oauth_lookup(app, WAF_OAUTH_ACTIVE_SQL "a.jti = ?1", jti, "Bearer");
        jws_parsed_free(&p);
    } else {
        char hash[WAF_HASH_HEX];
        waf_secret_hash(token, hash);
        r = waf_oauth_lookup(app, WAF_OAUTH_ACTIVE_SQL "a.hash = ?1", hash, "Bearer");
        if (!r)
            r = waf_oauth_lookup(
                app,
                "SELECT f.client_id, f.user_id, f.scope, f.created_at, r.expires_at, NULL, NULL "
                "FROM refresh_tokens r JOIN families f ON f.id = r.family_id WHERE r.hash = ?1 "
                "AND r.used = 0 AND f.revoked = 0 AND r.expires_at > ?2",
                hash, "refresh_token");
    }
    return r ? r : waf_oauth_inactive();
}

static void waf_oauth_revoke_sql(struct waf_app *app, const char *sql, const char *key,
                                 const char *client_id)
{
    struct waf_stmt *s;
    if (waf_db_prepare(waf_oauth_db(app), sql, &s) != WAF_DB_OK)
        return;
    waf_db_bind_text(s, 1, key);
    waf_db_bind_text(s, 2, client_id);
    waf_db_step(s);
    waf_db_finalize(s);
}

void waf_oauth_revoke(struct waf_app *app, const struct waf_client *client, const char *token)
{
    if (!token || !*token || strlen(token) > JWS_MAX_TOKEN)
        return;
    if (strchr(token, '.')) {
        struct jws_parsed p;
        memset(&p, 0, sizeof(p));
        const char *jti = waf_oauth_jwt_jti(app, token, &p);
        if (jti)
            waf_oauth_revoke_sql(
                app, "UPDATE access_tokens SET revoked = 1 WHERE jti = ?1 AND client_id = ?2", jti,
                client->id);
        jws_parsed_free(&p);
        return;
    }
    char hash[WAF_HASH_HEX];
    waf_secret_hash(token, hash);
    if (waf_store_begin(app->store) < 0)
        return;
    waf_oauth_revoke_sql(app,
                         "UPDATE access_tokens SET revoked = 1 WHERE hash = ?1 AND client_id = ?2",
                         hash, client->id);
    struct waf_stmt *s;
    if (waf_db_prepare(waf_oauth_db(app),
                       "SELECT r.family_id FROM refresh_tokens r JOIN families f ON "
                       "f.id = r.family_id WHERE r.hash = ?1 AND f.client_id = ?2",
                       &s) == WAF_DB_OK) {
        waf_db_bind_text(s, 1, hash);
        waf_db_bind_text(s, 2, client->id);
        if (waf_db_step(s) == WAF_DB_ROW)
            waf_oauth_family_revoke(app, waf_db_column_int64(s, 0));
        waf_db_finalize(s);
    }
    if (waf_store_commit(app->store) < 0)
        log_warn("revocation not stored: %s", waf_db_errmsg(waf_oauth_db(app)));
}
