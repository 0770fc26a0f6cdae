/* waf_codes: every code is stored hashed; the numeric code table has one row per IMPU, so asking
 * for a new code invalidates the previous one and attempts are counted where the guesser aims. */
#include "waf_codes.h"

#include <string.h>

#include <openssl/sha.h>

#include "b64url.h"
#include "timeutil.h"

static int waf_codes_step(struct waf_stmt *s)
{
    int rc = waf_db_step(s) == WAF_DB_DONE ? 0 : -1;
    waf_db_finalize(s);
    return rc;
}

int waf_codes_auth_new(struct waf_app *app, const char *client_id, int64_t user_id,
                       const char *redirect_uri, const char *scope, const char *challenge,
                       char code[WAF_SECRET_LEN])
{
    char hash[WAF_HASH_HEX];
    struct waf_stmt *s;
    waf_secret_new(code);
    waf_secret_hash(code, hash);
    if (waf_db_prepare(waf_store_db(app->store),
                       "INSERT INTO auth_codes (hash, client_id, user_id, redirect_uri, scope, "
                       "challenge, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                       &s) != WAF_DB_OK)
        return -1;
    waf_db_bind_text(s, 1, hash);
    waf_db_bind_text(s, 2, client_id);
    waf_db_bind_int64(s, 3, user_id);
    waf_db_bind_text(s, 4, redirect_uri);
    waf_db_bind_text(s, 5, scope);
    if (challenge)
        waf_db_bind_text(s, 6, challenge);
    waf_db_bind_int64(s, 7, time_now_s() + app->s->code_lifetime);
    return waf_codes_step(s);
}

int waf_codes_numeric_new(struct waf_app *app, int64_t user_id, const char *impu,
                          char digits[WAF_NUMERIC_DIGITS + 1])
{
    char hash[WAF_HASH_HEX];
    struct waf_stmt *s;
    waf_secret_digits(digits, WAF_NUMERIC_DIGITS);
    waf_secret_hash(digits, hash);
    if (waf_db_prepare(waf_store_db(app->store),
                       "INSERT INTO numeric_codes (impu, user_id, hash, expires_at, attempts) "
                       "VALUES (?1, ?2, ?3, ?4, 0) ON CONFLICT (impu) DO UPDATE SET "
                       "user_id = excluded.user_id, hash = excluded.hash, "
                       "expires_at = excluded.expires_at, attempts = 0",
                       &s) != WAF_DB_OK)
        return -1;
    waf_db_bind_text(s, 1, impu);
    waf_db_bind_int64(s, 2, user_id);
    waf_db_bind_text(s, 3, hash);
    waf_db_bind_int64(s, 4, time_now_s() + app->s->numeric_code_lifetime);
    return waf_codes_step(s);
}

int waf_codes_device_new(struct waf_app *app, const char *client_id, const char *scope,
                         char device_code[WAF_SECRET_LEN], char user_code[WAF_USER_CODE_LEN + 1])
{
    char hash[WAF_HASH_HEX];
    waf_secret_new(device_code);
    waf_secret_hash(device_code, hash);
    /* 20^8 codes: a collision with a live one is rare; try a few times, then give up. */
    for (int attempt = 0; attempt < 4; attempt++) {
        struct waf_stmt *s;
        waf_secret_user_code(user_code);
        if (waf_db_prepare(waf_store_db(app->store),
                           "INSERT INTO device_codes (hash, user_code, client_id, scope, "
                           "expires_at, \"interval\") VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                           &s) != WAF_DB_OK)
            return -1;
        waf_db_bind_text(s, 1, hash);
        waf_db_bind_text(s, 2, user_code);
        waf_db_bind_text(s, 3, client_id);
        waf_db_bind_text(s, 4, scope);
        waf_db_bind_int64(s, 5, time_now_s() + app->s->device_code_lifetime);
        waf_db_bind_int64(s, 6, app->s->device_interval);
        if (waf_codes_step(s) == 0)
            return 0;
    }
    return -1;
}

int waf_codes_device_decide(struct waf_app *app, const char *user_code, int64_t user_id,
                            int approve)
{
    struct waf_db *db = waf_store_db(app->store);
    struct waf_stmt *s;
    if (waf_db_prepare(db,
                       "UPDATE device_codes SET state = ?3, user_id = ?2 WHERE user_code = ?1 "
                       "AND state = 0 AND expires_at > ?4",
                       &s) != WAF_DB_OK)
        return -1;
    waf_db_bind_text(s, 1, user_code);
    waf_db_bind_int64(s, 2, user_id);
    waf_db_bind_int64(s, 3, approve ? WAF_DEVICE_APPROVED : WAF_DEVICE_DENIED);
    waf_db_bind_int64(s, 4, time_now_s());
    int rc = waf_codes_step(s);
    return rc == 0 && waf_db_changes(db) == 1 ? 0 : -1;
}

static int waf_codes_b64url_chars(const char *s, size_t min, size_t max)
{
    size_t n = strnlen(s, max + 1);
    return n >= min && n <= max &&
           strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~") == n;
}

int waf_codes_challenge_valid(const char *challenge)
{
    return challenge && strlen(challenge) == 43 && waf_codes_b64url_chars(challenge, 43, 43) &&
           !strpbrk(challenge, ".~");
}

int waf_codes_pkce_ok(const char *verifier, const char *challenge)
{
    if (!verifier || !challenge || !waf_codes_b64url_chars(verifier, 43, 128))
        return 0;
    unsigned char d[SHA256_DIGEST_LENGTH];
    char enc[48];
    SHA256((const unsigned char *)verifier, strlen(verifier), d);
    b64url_encode(d, sizeof(d), enc);
    return waf_secret_equal(enc, challenge);
}
