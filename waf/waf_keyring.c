/* waf_keyring: the keys live in SQLite so that a rotation by the CLI is one transaction the daemon
 * picks up on its own; the old key file (issue 2) is imported once and then no longer read. */
#include "waf_keyring.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "jwk.h"
#include "log.h"
#include "timeutil.h"

#define WAF_KEYRING_CHECK_MS 2000

/* Stores a new key, sealed with the key-encryption key when there is one. A shared PostgreSQL
 * database is reached over the network and backed up elsewhere: there a clear private key is
 * refused (SQLite's file is itself a secret file, 0600, so it may hold one). */
static int waf_keyring_insert(struct waf_store *st, const struct waf_signing_key *k,
                              const char *pem)
{
    struct waf_db *db = waf_store_db(st);
    const struct waf_kek *kek = waf_store_kek(st);
    char *sealed = NULL;
    if (!kek->set && db->postgres) {
        log_error("on PostgreSQL the signing keys are encrypted at rest: set "
                  "key-encryption-key-file (or " WAF_KEK_ENV ")");
        return -1;
    }
    if (kek->set && !(sealed = waf_kek_seal(kek, k->kid, pem)))
        return -1;
    struct waf_stmt *s;
    if (waf_db_prepare(db,
                       "INSERT INTO signing_keys (kid, alg, private_pem, created_at) "
                       "VALUES (?1, ?2, ?3, ?4)",
                       &s) != WAF_DB_OK) {
        free(sealed);
        return -1;
    }
    waf_db_bind_text(s, 1, k->kid);
    waf_db_bind_text(s, 2, k->alg);
    waf_db_bind_text(s, 3, sealed ? sealed : pem);
    waf_db_bind_int64(s, 4, time_now_s());
    int rc = waf_db_step(s) == WAF_DB_DONE ? 0 : -1;
    waf_db_finalize(s);
    free(sealed);
    return rc;
}

static int waf_keyring_count_current(struct waf_db *db)
{
    struct waf_stmt *s;
    int n = -1;
    if (waf_db_prepare(db, "SELECT count(*) FROM signing_keys WHERE retired_at IS NULL", &s) ==
            WAF_DB_OK &&
        waf_db_step(s) == WAF_DB_ROW)
        n = waf_db_column_int(s, 0);
    waf_db_finalize(s);
    return n;
}

/* The first key: the pre-store key file if there is one (so tokens signed before the upgrade
 * stay valid), else a new key. Inside one write transaction, so two starters agree. */
static int waf_keyring_first(struct waf_store *st, const char *data_dir, const char *alg, char *err,
                             size_t errlen)
{
    struct waf_db *db = waf_store_db(st);
    if (waf_store_begin(st) < 0) {
        snprintf(err, errlen, "locking the database: %s", waf_db_errmsg(db));
        return -1;
    }
    int n = waf_keyring_count_current(db);
    if (n != 0) {
        waf_store_rollback(st);
        return n > 0 ? 0 : -1;
    }
    struct waf_signing_key k;
    char *pem = NULL, path[4200];
    snprintf(path, sizeof(path), "%s/%s", data_dir, WAF_KEYS_FILE);
    int imported = access(path, F_OK) == 0;
    if (imported) {
        if (waf_keys_load_or_create(data_dir, &k, err, errlen) < 0 ||
            !(pem = jwk_private_pem(k.pkey))) {
            waf_store_rollback(st);
            waf_keys_free(&k);
            return -1;
        }
    } else if (waf_keys_generate(alg, &k, &pem) < 0) {
        waf_store_rollback(st);
        snprintf(err, errlen, "cannot generate a %s signing key", alg);
        return -1;
    }
    int rc = waf_keyring_insert(st, &k, pem) < 0 || waf_store_commit(st) < 0 ? -1 : 0;
    if (rc < 0) {
        snprintf(err, errlen, "storing the signing key: %s", waf_db_errmsg(db));
        waf_store_rollback(st);
    } else
        log_info("%s signing key kid %s", imported ? "imported" : "created", k.kid);
    OPENSSL_cleanse(pem, strlen(pem));
    free(pem);
    waf_keys_free(&k);
    return rc;
}

static void waf_keyring_stamp(struct waf_db *db, char *out, size_t size)
{
    struct waf_stmt *s;
    out[0] = '\0';
    if (waf_db_prepare(
            db,
            "SELECT count(*), coalesce(max(created_at), 0), coalesce(sum(retired_at), 0) "
            "FROM signing_keys",
            &s) == WAF_DB_OK &&
        waf_db_step(s) == WAF_DB_ROW)
        snprintf(out, size, "%lld/%lld/%lld", (long long)waf_db_column_int64(s, 0),
                 (long long)waf_db_column_int64(s, 1), (long long)waf_db_column_int64(s, 2));
    waf_db_finalize(s);
}

/* Current key first, then the retired ones still published, newest first. */
static int waf_keyring_load(struct waf_keyring *kr, struct waf_store *st)
{
    struct waf_db *db = waf_store_db(st);
    struct waf_stmt *s;
    struct waf_keyring next = {0};
    if (waf_db_prepare(db,
                       "SELECT alg, private_pem, kid FROM signing_keys "
                       "WHERE retired_at IS NULL OR public_until > ?1 "
                       "ORDER BY retired_at IS NOT NULL, created_at DESC, kid DESC LIMIT 8",
                       &s) != WAF_DB_OK)
        return -1;
    waf_db_bind_int64(s, 1, time_now_s());
    while (waf_db_step(s) == WAF_DB_ROW && next.n < WAF_KEYRING_MAX) {
        const char *alg = waf_db_column_text(s, 0), *stored = waf_db_column_text(s, 1);
        const char *kid = waf_db_column_text(s, 2);
        char why[160];
        char *pem = alg && stored && kid
                        ? waf_kek_unseal(waf_store_kek(st), kid, stored, why, sizeof(why))
                        : NULL;
        if (!pem && alg && stored && kid)
            log_error("%s", why); /* names the kid only, never the key */
        if (pem && waf_keys_from_pem(pem, alg, &next.keys[next.n]) == 0)
            next.n++;
        if (pem)
            OPENSSL_cleanse(pem, strlen(pem));
        free(pem);
    }
    waf_db_finalize(s);
    if (next.n == 0)
        return -1;
    waf_keyring_stamp(db, next.stamp, sizeof(next.stamp));
    waf_keyring_free(kr);
    *kr = next;
    kr->checked_ms = time_mono_ms();
    return 0;
}

int waf_keyring_open(struct waf_keyring *kr, struct waf_store *st, const char *data_dir,
                     const char *alg, char *err, size_t errlen)
{
    memset(kr, 0, sizeof(*kr));
    if (waf_keyring_first(st, data_dir, alg, err, errlen) < 0)
        return -1;
    if (waf_keyring_load(kr, st) < 0) {
        snprintf(err, errlen, "no usable signing key in the database");
        return -1;
    }
    return 0;
}

void waf_keyring_refresh(struct waf_keyring *kr, struct waf_store *st)
{
    uint64_t now = time_mono_ms();
    if (now - kr->checked_ms < WAF_KEYRING_CHECK_MS)
        return;
    kr->checked_ms = now;
    char stamp[64];
    waf_keyring_stamp(waf_store_db(st), stamp, sizeof(stamp));
    if (strcmp(stamp, kr->stamp) != 0 && waf_keyring_load(kr, st) == 0)
        log_info("signing keys reloaded, current kid %s", kr->keys[0].kid);
}

int waf_keyring_rotate(struct waf_store *st, const char *alg, long overlap, char *kid_out,
                       char *err, size_t errlen)
{
    struct waf_db *db = waf_store_db(st);
    struct waf_signing_key k;
    char *pem;
    if (waf_keys_generate(alg, &k, &pem) < 0) {
        snprintf(err, errlen, "cannot generate a %s signing key", alg);
        return -1;
    }
    struct waf_stmt *s = NULL;
    int rc = -1;
    int64_t now = time_now_s();
    if (waf_store_begin(st) == 0 &&
        waf_db_prepare(db,
                       "UPDATE signing_keys SET retired_at = ?1, public_until = ?2 "
                       "WHERE retired_at IS NULL",
                       &s) == WAF_DB_OK) {
        waf_db_bind_int64(s, 1, now);
        waf_db_bind_int64(s, 2, now + overlap);
        if (waf_db_step(s) == WAF_DB_DONE && waf_keyring_insert(st, &k, pem) == 0 &&
            waf_store_commit(st) == 0)
            rc = 0;
    }
    waf_db_finalize(s);
    if (rc < 0) {
        snprintf(err, errlen, "rotating the signing key: %s", waf_db_errmsg(db));
        waf_store_rollback(st);
    } else
        snprintf(kid_out, WAF_KID_SIZE, "%s", k.kid);
    OPENSSL_cleanse(pem, strlen(pem));
    free(pem);
    waf_keys_free(&k);
    return rc;
}

const struct waf_signing_key *waf_keyring_current(const struct waf_keyring *kr)
{
    return kr->n ? &kr->keys[0] : NULL;
}

const struct waf_signing_key *waf_keyring_find(const struct waf_keyring *kr, const char *kid)
{
    for (size_t i = 0; kid && i < kr->n; i++)
        if (strcmp(kr->keys[i].kid, kid) == 0)
            return &kr->keys[i];
    return NULL;
}

json_t *waf_keyring_jwks(const struct waf_keyring *kr)
{
    json_t *keys = json_array();
    for (size_t i = 0; keys && i < kr->n; i++)
        json_array_append_new(keys, waf_keys_public_jwk(&kr->keys[i]));
    return keys ? json_pack("{s:o}", "keys", keys) : NULL;
}

void waf_keyring_free(struct waf_keyring *kr)
{
    for (size_t i = 0; i < kr->n; i++)
        waf_keys_free(&kr->keys[i]);
    kr->n = 0;
}
