/* waf_store: the WAF's state through the waf_db seam (SQLite or PostgreSQL), with bound
 * parameters only; user input never becomes SQL text. Writes run in exclusive write transactions
 * (waf_db_begin) so a failure leaves nothing half-written, and several processes (the CLI and
 * the daemon, or several WAF replicas on PostgreSQL) can share the database. */
#include "waf_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "timeutil.h"

struct waf_store {
    struct waf_db *db;
    struct waf_kek kek; /* seals the signing keys at rest (waf_keyring) */
};

const struct waf_kek *waf_store_kek(struct waf_store *st)
{
    return &st->kek;
}

void waf_store_set_busy_wait(struct waf_store *st, int ms)
{
    waf_db_set_busy_wait(st->db, ms);
}

int waf_store_unavailable(struct waf_store *st)
{
    switch (waf_db_down(st->db)) {
    case WAF_DB_BUSY:
        return WAF_STORE_BUSY;
    case WAF_DB_CANNOT_WRITE:
        return WAF_STORE_CANNOT_WRITE;
    default:
        return 0;
    }
}

/* Schema steps, applied in order; step i brings user_version from i to i + 1. Later versions
 * append steps here and never edit a published one. */
static const char *const waf_store_migrations[] = {
    /* 1: users and their public identities. AUTOINCREMENT keeps ids from ever being reused, so
     * the sub of a deleted user never names a new one. */
    "CREATE TABLE users ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " name TEXT NOT NULL UNIQUE,"
    " password_hash TEXT NOT NULL,"
    " impi TEXT NOT NULL,"
    " created_at INTEGER NOT NULL);"
    "CREATE TABLE user_impus ("
    " user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    " impu TEXT NOT NULL,"
    " position INTEGER NOT NULL,"
    " PRIMARY KEY (user_id, position),"
    " UNIQUE (user_id, impu));",
    /* 2: OAuth state. Every secret (code, token, device code) is stored as the hex SHA-256 of its
     * value: the secrets have >= 128 bits, so a stolen file gives nothing usable. Deleting a user
     * or a client cascades to everything issued for it, so its tokens turn inactive at once. */
    "CREATE TABLE clients ("
    " id TEXT PRIMARY KEY,"
    " type TEXT NOT NULL CHECK (type IN ('public', 'confidential')),"
    " secret_hash TEXT,"
    " token_format TEXT NOT NULL CHECK (token_format IN ('jwt', 'opaque')),"
    " scope TEXT NOT NULL,"
    " created_at INTEGER NOT NULL);"
    "CREATE TABLE client_redirect_uris ("
    " client_id TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,"
    " uri TEXT NOT NULL,"
    " PRIMARY KEY (client_id, uri));"
    "CREATE TABLE client_origins ("
    " client_id TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,"
    " origin TEXT NOT NULL,"
    " PRIMARY KEY (client_id, origin));"
    "CREATE INDEX client_origins_origin ON client_origins(origin);"
    "CREATE TABLE families ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " client_id TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,"
    " user_id INTEGER REFERENCES users(id) ON DELETE CASCADE,"
    " scope TEXT NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " expires_at INTEGER NOT NULL,"
    " revoked INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE auth_codes ("
    " hash TEXT PRIMARY KEY,"
    " client_id TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,"
    " user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    " redirect_uri TEXT NOT NULL,"
    " scope TEXT NOT NULL,"
    " challenge TEXT,"
    " expires_at INTEGER NOT NULL,"
    " used INTEGER NOT NULL DEFAULT 0,"
    " family_id INTEGER REFERENCES families(id) ON DELETE SET NULL);"
    "CREATE TABLE refresh_tokens ("
    " hash TEXT PRIMARY KEY,"
    " family_id INTEGER NOT NULL REFERENCES families(id) ON DELETE CASCADE,"
    " used INTEGER NOT NULL DEFAULT 0,"
    " expires_at INTEGER NOT NULL);"
    "CREATE TABLE access_tokens ("
    " jti TEXT PRIMARY KEY,"
    " hash TEXT UNIQUE,"
    " family_id INTEGER REFERENCES families(id) ON DELETE CASCADE,"
    " client_id TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,"
    " user_id INTEGER REFERENCES users(id) ON DELETE CASCADE,"
    " scope TEXT NOT NULL,"
    " issued_at INTEGER NOT NULL,"
    " expires_at INTEGER NOT NULL,"
    " revoked INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX access_tokens_family ON access_tokens(family_id);"
    "CREATE TABLE device_codes ("
    " hash TEXT PRIMARY KEY,"
    " user_code TEXT NOT NULL UNIQUE,"
    " client_id TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,"
    " scope TEXT NOT NULL,"
    " expires_at INTEGER NOT NULL,"
    " interval INTEGER NOT NULL,"
    " last_poll INTEGER NOT NULL DEFAULT 0,"
    " state INTEGER NOT NULL DEFAULT 0,"
    " user_id INTEGER REFERENCES users(id) ON DELETE CASCADE);"
    "CREATE TABLE numeric_codes ("
    " impu TEXT PRIMARY KEY,"
    " user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    " hash TEXT NOT NULL,"
    " expires_at INTEGER NOT NULL,"
    " attempts INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE signing_keys ("
    " kid TEXT PRIMARY KEY,"
    " alg TEXT NOT NULL CHECK (alg IN ('ES256', 'RS256')),"
    " private_pem TEXT NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " retired_at INTEGER,"
    " public_until INTEGER);",
    /* 3: IMS Digest credentials (issue 11), as HA1 for one realm, next to the web identity. */
    "CREATE TABLE ims_credentials ("
    " user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,"
    " realm TEXT NOT NULL,"
    " ha1 TEXT NOT NULL);",
    /* 4: DPoP (RFC 9449): the key thumbprint a refresh family and an access token are bound to;
     * NULL for bearer tokens. */
    ("ALTER TABLE families ADD COLUMN dpop_jkt TEXT;"
     "ALTER TABLE access_tokens ADD COLUMN dpop_jkt TEXT;"),
    /* 5: sign-in and device-authorization throttles, shared by the WAF replicas of one
     * PostgreSQL database (waf_throttle; unused on SQLite, where one process counts in memory).
     * key is "<table>/<key>"; rows whose window has passed are garbage. */
    "CREATE TABLE throttles ("
    " key TEXT PRIMARY KEY,"
    " window_start INTEGER NOT NULL,"
    " last_at INTEGER NOT NULL,"
    " count INTEGER NOT NULL);",
    /* 6: the DPoP jti replay cache shared by the WAF replicas of one PostgreSQL database
     * (waf_dpop; unused on SQLite, where one process remembers proofs in memory). id is the
     * hex SHA-256 of the proof key's thumbprint and jti; a row past expires_at is garbage. */
    "CREATE TABLE dpop_jtis ("
    " id TEXT PRIMARY KEY,"
    " expires_at INTEGER NOT NULL);",
    /* 7: the proof key of each shared DPoP row (hex SHA-256 of its thumbprint), so that one key
     * holds at most WAF_DPOP_REPLAY_PER_KEY live rows, as in memory (waf_dpop). Rows from
     * before have none and count for no key until they expire. */
    ("ALTER TABLE dpop_jtis ADD COLUMN jkt TEXT;"
     "CREATE INDEX dpop_jtis_jkt ON dpop_jtis(jkt, expires_at);"),
};

#define WAF_STORE_VERSION ((int)(sizeof(waf_store_migrations) / sizeof(waf_store_migrations[0])))

int waf_store_schema_version(void)
{
    return WAF_STORE_VERSION;
}

static int waf_store_fail(struct waf_store *st, const char *what, char *err, size_t errlen)
{
    snprintf(err, errlen, "%s: %s", what, waf_db_errmsg(st->db));
    return WAF_STORE_ERROR;
}

static int waf_store_exec(struct waf_store *st, const char *sql)
{
    return waf_db_exec(st->db, sql);
}

void waf_store_rollback(struct waf_store *st)
{
    waf_db_rollback(st->db);
}

struct waf_db *waf_store_db(struct waf_store *st)
{
    return st->db;
}

int waf_store_begin(struct waf_store *st)
{
    return waf_db_begin(st->db);
}

int waf_store_commit(struct waf_store *st)
{
    return waf_db_commit(st->db);
}

void waf_store_gc(struct waf_store *st, int64_t now)
{
    static const char *const sql[] = {
        "DELETE FROM auth_codes WHERE expires_at < ?1 - 600",
        "DELETE FROM access_tokens WHERE expires_at < ?1",
        "DELETE FROM refresh_tokens WHERE expires_at < ?1",
        "DELETE FROM families WHERE expires_at < ?1",
        "DELETE FROM device_codes WHERE expires_at < ?1",
        "DELETE FROM numeric_codes WHERE expires_at < ?1",
        "DELETE FROM signing_keys WHERE retired_at IS NOT NULL AND public_until < ?1",
        "DELETE FROM throttles WHERE last_at < ?1 - 86400", /* longer than any window */
        "DELETE FROM dpop_jtis WHERE expires_at < ?1",
    };
    for (size_t i = 0; i < sizeof(sql) / sizeof(sql[0]); i++) {
        struct waf_stmt *s;
        if (waf_db_prepare(st->db, sql[i], &s) != WAF_DB_OK)
            continue;
        waf_db_bind_int64(s, 1, now);
        waf_db_step(s);
        waf_db_finalize(s);
    }
}

static int waf_store_prepare(struct waf_store *st, const char *sql, struct waf_stmt **stmt)
{
    return waf_db_prepare(st->db, sql, stmt) == WAF_DB_OK ? 0 : -1;
}

/* One schema for both engines: the steps are written for SQLite, and PostgreSQL gets the same
 * text with its names for the two types that differ (64-bit integers, generated ids). */
static char *waf_store_dialect(struct waf_store *st, const char *sql)
{
    static const struct {
        const char *from, *to;
    } pg[] = {{"INTEGER PRIMARY KEY AUTOINCREMENT", "BIGSERIAL PRIMARY KEY"},
              {"INTEGER", "BIGINT"}};
    size_t cap = strlen(sql) * 2 + 1;
    char *out = malloc(cap), *o = out;
    if (!out)
        return NULL;
    for (const char *p = sql; *p;) {
        size_t i = 0, n = st->db->postgres ? sizeof(pg) / sizeof(pg[0]) : 0;
        while (i < n && strncmp(p, pg[i].from, strlen(pg[i].from)) != 0)
            i++;
        if (i < n) {
            o += sprintf(o, "%s", pg[i].to);
            p += strlen(pg[i].from);
        } else
            *o++ = *p++;
    }
    *o = '\0';
    return out;
}

static int waf_store_migrate(struct waf_store *st, char *err, size_t errlen)
{
    for (;;) {
        int version;
        if (waf_store_begin(st) < 0)
            return waf_store_fail(st, "locking the database", err, errlen);
        /* Read under the write lock: another process may have migrated in the meantime. */
        if (waf_db_get_version(st->db, &version) < 0)
            goto fail;
        if (version > WAF_STORE_VERSION) {
            waf_store_rollback(st);
            snprintf(err, errlen,
                     "the database has schema version %d, newer than this imsgw-waf knows (%d)",
                     version, WAF_STORE_VERSION);
            return WAF_STORE_ERROR;
        }
        if (version == WAF_STORE_VERSION)
            return waf_store_commit(st) < 0
                       ? waf_store_fail(st, "reading the database", err, errlen)
                       : WAF_STORE_OK;
        char *step = waf_store_dialect(st, waf_store_migrations[version]);
        /* a step may rewrite or index a table that has grown large (dpop_jtis): on PostgreSQL
         * it is not held to the short statement timeout of requests (the write lock keeps the
         * other WAFs' writers waiting meanwhile, each for its own busy wait) */
        int bad = !step ||
                  (st->db->postgres && waf_store_exec(st, "SET LOCAL statement_timeout = 0") < 0) ||
                  waf_store_exec(st, step) < 0 || waf_db_set_version(st->db, version + 1) < 0 ||
                  waf_store_commit(st) < 0;
        free(step);
        if (bad)
            goto fail;
        log_info("database schema migrated to version %d", version + 1);
    }
fail:
    waf_store_fail(st, "migrating the database", err, errlen);
    waf_store_rollback(st);
    return WAF_STORE_ERROR;
}

int waf_store_open_db(struct waf_store **out, const char *database, const char *data_dir,
                      const char *kek_file, char *err, size_t errlen)
{
    *out = NULL;
    struct waf_store *st = calloc(1, sizeof(*st));
    if (!st) {
        snprintf(err, errlen, "out of memory");
        return WAF_STORE_ERROR;
    }
    if (waf_kek_load(&st->kek, kek_file, err, errlen) < 0 ||
        waf_db_open(&st->db, database, data_dir, err, errlen) < 0 ||
        waf_store_migrate(st, err, errlen) < 0) {
        waf_store_close(st);
        return WAF_STORE_ERROR;
    }
    *out = st;
    return WAF_STORE_OK;
}

int waf_store_open(struct waf_store **out, const char *data_dir, char *err, size_t errlen)
{
    return waf_store_open_db(out, "", data_dir, NULL, err, errlen);
}

void waf_store_close(struct waf_store *st)
{
    if (!st)
        return;
    waf_db_close(st->db);
    waf_kek_clear(&st->kek);
    free(st);
}

static int waf_store_name_arg(const char *name, char *err, size_t errlen)
{
    if (waf_user_name_valid(name))
        return 0;
    snprintf(err, errlen, "user names are 1 to %d characters of a-z 0-9 . _ -", WAF_NAME_MAX);
    return WAF_STORE_INVALID;
}

static int waf_store_insert_impus(struct waf_store *st, const struct waf_user *u)
{
    struct waf_stmt *s;
    if (waf_store_prepare(
            st, "INSERT INTO user_impus (user_id, impu, position) VALUES (?1, ?2, ?3)", &s) < 0)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < u->n_impu && rc == 0; i++) {
        waf_db_reset(s);
        waf_db_bind_int64(s, 1, u->id);
        waf_db_bind_text(s, 2, u->impu[i]);
        waf_db_bind_int64(s, 3, (int)i);
        rc = waf_db_step(s) == WAF_DB_DONE ? 0 : -1;
    }
    waf_db_finalize(s);
    return rc;
}

int waf_store_user_add(struct waf_store *st, struct waf_user *u, const char *password_hash,
                       char *err, size_t errlen)
{
    if (waf_user_check(u, err, errlen) < 0)
        return WAF_STORE_INVALID;
    if (!password_hash || strncmp(password_hash, "$argon2id$", 10) != 0) {
        snprintf(err, errlen, "the password hash is not an argon2id hash");
        return WAF_STORE_INVALID;
    }
    if (waf_store_begin(st) < 0)
        return waf_store_fail(st, "locking the database", err, errlen);
    struct waf_stmt *s;
    if (waf_store_prepare(st,
                          "INSERT INTO users (name, password_hash, impi, created_at) "
                          "VALUES (?1, ?2, ?3, ?4) RETURNING id",
                          &s) < 0)
        goto fail;
    u->created_at = time_now_s();
    waf_db_bind_text(s, 1, u->name);
    waf_db_bind_text(s, 2, password_hash);
    waf_db_bind_text(s, 3, u->impi);
    waf_db_bind_int64(s, 4, u->created_at);
    int step = waf_db_step(s);
    if (step == WAF_DB_ROW)
        u->id = waf_db_column_int64(s, 0);
    waf_db_finalize(s);
    if (step == WAF_DB_CONSTRAINT_UNIQUE) {
        waf_store_rollback(st);
        snprintf(err, errlen, "user \"%s\" already exists", u->name);
        return WAF_STORE_EXISTS;
    }
    if (step != WAF_DB_ROW)
        goto fail;
    if (waf_store_insert_impus(st, u) < 0 || waf_store_commit(st) < 0)
        goto fail;
    return WAF_STORE_OK;
fail:
    waf_store_fail(st, "adding the user", err, errlen);
    waf_store_rollback(st);
    return WAF_STORE_ERROR;
}

/* Copies a TEXT column into a fixed field; a value that does not fit means someone edited the
 * file by hand, and it is refused rather than cut. */
static int waf_store_column(struct waf_stmt *s, int col, char *dst, size_t size)
{
    const char *v = waf_db_column_text(s, col);
    int n = waf_db_column_bytes(s, col);
    if (!v || n < 0 || (size_t)n >= size)
        return -1;
    memcpy(dst, v, (size_t)n + 1);
    return 0;
}

static int waf_store_load_impus(struct waf_store *st, struct waf_user *u)
{
    struct waf_stmt *s;
    if (waf_store_prepare(st, "SELECT impu FROM user_impus WHERE user_id = ?1 ORDER BY position",
                          &s) < 0)
        return -1;
    waf_db_bind_int64(s, 1, u->id);
    int rc = 0, step;
    u->n_impu = 0;
    while (rc == 0 && (step = waf_db_step(s)) == WAF_DB_ROW) {
        if (u->n_impu == WAF_IMPUS_MAX)
            rc = -1;
        else
            rc = waf_store_column(s, 0, u->impu[u->n_impu++], WAF_URI_MAX + 1);
    }
    if (rc == 0 && step != WAF_DB_DONE)
        rc = -1;
    waf_db_finalize(s);
    return rc;
}

/* Fills u from a row (id, name, impi, created_at) and its IMPUs. */
static int waf_store_row_user(struct waf_store *st, struct waf_stmt *s, struct waf_user *u)
{
    memset(u, 0, sizeof(*u));
    u->id = waf_db_column_int64(s, 0);
    u->created_at = waf_db_column_int64(s, 3);
    if (waf_store_column(s, 1, u->name, sizeof(u->name)) < 0 ||
        waf_store_column(s, 2, u->impi, sizeof(u->impi)) < 0)
        return -1;
    return waf_store_load_impus(st, u);
}

int waf_store_user_get(struct waf_store *st, const char *name, struct waf_user *out, char *err,
                       size_t errlen)
{
    int rc = waf_store_name_arg(name, err, errlen);
    if (rc < 0)
        return rc;
    struct waf_stmt *s;
    if (waf_store_prepare(st, "SELECT id, name, impi, created_at FROM users WHERE name = ?1", &s) <
        0)
        return waf_store_fail(st, "reading the user", err, errlen);
    waf_db_bind_text(s, 1, name);
    int step = waf_db_step(s);
    if (step == WAF_DB_ROW)
        rc = waf_store_row_user(st, s, out) < 0
                 ? waf_store_fail(st, "reading the user's identities", err, errlen)
                 : WAF_STORE_OK;
    else if (step == WAF_DB_DONE) {
        snprintf(err, errlen, "no user \"%s\"", name);
        rc = WAF_STORE_NOT_FOUND;
    } else
        rc = waf_store_fail(st, "reading the user", err, errlen);
    waf_db_finalize(s);
    return rc;
}

int waf_store_user_password(struct waf_store *st, const char *name, char *out, size_t outlen,
                            char *err, size_t errlen)
{
    int rc = waf_store_name_arg(name, err, errlen);
    if (rc < 0)
        return rc;
    struct waf_stmt *s;
    if (waf_store_prepare(st, "SELECT password_hash FROM users WHERE name = ?1", &s) < 0)
        return waf_store_fail(st, "reading the user", err, errlen);
    waf_db_bind_text(s, 1, name);
    int step = waf_db_step(s);
    if (step == WAF_DB_ROW && waf_store_column(s, 0, out, outlen) == 0)
        rc = WAF_STORE_OK;
    else if (step == WAF_DB_DONE) {
        snprintf(err, errlen, "no user \"%s\"", name);
        rc = WAF_STORE_NOT_FOUND;
    } else
        rc = waf_store_fail(st, "reading the user", err, errlen);
    waf_db_finalize(s);
    return rc;
}

int waf_store_user_list(struct waf_store *st, waf_store_user_fn fn, void *arg, char *err,
                        size_t errlen)
{
    struct waf_stmt *s;
    if (waf_store_prepare(st, "SELECT id, name, impi, created_at FROM users ORDER BY name", &s) < 0)
        return waf_store_fail(st, "listing users", err, errlen);
    struct waf_user *u = malloc(sizeof(*u));
    int rc = u ? WAF_STORE_OK : WAF_STORE_ERROR, step = WAF_DB_DONE;
    while (rc == WAF_STORE_OK && (step = waf_db_step(s)) == WAF_DB_ROW) {
        if (waf_store_row_user(st, s, u) < 0)
            rc = waf_store_fail(st, "listing users", err, errlen);
        else if (fn(u, arg))
            break;
    }
    if (rc == WAF_STORE_OK && step != WAF_DB_DONE && step != WAF_DB_ROW)
        rc = waf_store_fail(st, "listing users", err, errlen);
    if (!u)
        snprintf(err, errlen, "out of memory");
    free(u);
    waf_db_finalize(s);
    return rc;
}

/* Runs one UPDATE/DELETE of the user called name (?1, with ?2 = arg2 when given); a user that
 * does not exist is WAF_STORE_NOT_FOUND. */
static int waf_store_change_user(struct waf_store *st, const char *sql, const char *name,
                                 const char *arg2, const char *what, char *err, size_t errlen)
{
    struct waf_stmt *s;
    int rc = WAF_STORE_OK;
    if (waf_store_prepare(st, sql, &s) < 0)
        return waf_store_fail(st, what, err, errlen);
    waf_db_bind_text(s, 1, name);
    if (arg2)
        waf_db_bind_text(s, 2, arg2);
    if (waf_db_step(s) != WAF_DB_DONE)
        rc = waf_store_fail(st, what, err, errlen);
    else if (waf_db_changes(st->db) == 0) {
        snprintf(err, errlen, "no user \"%s\"", name);
        rc = WAF_STORE_NOT_FOUND;
    }
    waf_db_finalize(s);
    return rc;
}

int waf_store_user_del(struct waf_store *st, const char *name, char *err, size_t errlen)
{
    int rc = waf_store_name_arg(name, err, errlen);
    if (rc < 0)
        return rc;
    return waf_store_change_user(st, "DELETE FROM users WHERE name = ?1", name, NULL,
                                 "deleting the user", err, errlen);
}

int waf_store_user_by_id(struct waf_store *st, int64_t id, struct waf_user *out)
{
    struct waf_stmt *s;
    if (waf_store_prepare(st, "SELECT id, name, impi, created_at FROM users WHERE id = ?1", &s) < 0)
        return WAF_STORE_ERROR;
    waf_db_bind_int64(s, 1, id);
    int step = waf_db_step(s);
    int rc = step == WAF_DB_ROW    ? (waf_store_row_user(st, s, out) < 0 ? WAF_STORE_ERROR : 0)
             : step == WAF_DB_DONE ? WAF_STORE_NOT_FOUND
                                   : WAF_STORE_ERROR;
    waf_db_finalize(s);
    return rc;
}

int waf_store_user_set_password(struct waf_store *st, const char *name, const char *password_hash,
                                char *err, size_t errlen)
{
    int rc = waf_store_name_arg(name, err, errlen);
    if (rc < 0)
        return rc;
    if (!password_hash || strncmp(password_hash, "$argon2id$", 10) != 0) {
        snprintf(err, errlen, "the password hash is not an argon2id hash");
        return WAF_STORE_INVALID;
    }
    if (waf_store_begin(st) < 0)
        return waf_store_fail(st, "changing the password", err, errlen);
    rc = waf_store_change_user(st, "UPDATE users SET password_hash = ?2 WHERE name = ?1", name,
                               password_hash, "changing the password", err, errlen);
    /* Whoever knew the old password may hold tokens made with it: a new password ends every
     * grant of the user, and codes not yet redeemed die with them (issue 9 item 9). */
    static const char *const revoke[] = {
        "UPDATE families SET revoked = 1 WHERE user_id = (SELECT id FROM users WHERE name = ?1)",
        "UPDATE refresh_tokens SET used = 1 WHERE family_id IN (SELECT f.id FROM families f "
        "JOIN users u ON u.id = f.user_id WHERE u.name = ?1)",
        "UPDATE access_tokens SET revoked = 1 WHERE user_id = (SELECT id FROM users WHERE name = "
        "?1)",
        "DELETE FROM auth_codes WHERE used = 0 AND user_id = (SELECT id FROM users WHERE name = "
        "?1)",
        "DELETE FROM numeric_codes WHERE user_id = (SELECT id FROM users WHERE name = ?1)",
        "DELETE FROM device_codes WHERE user_id = (SELECT id FROM users WHERE name = ?1)",
    };
    for (size_t i = 0; rc == WAF_STORE_OK && i < sizeof(revoke) / sizeof(revoke[0]); i++) {
        struct waf_stmt *s;
        if (waf_store_prepare(st, revoke[i], &s) < 0) {
            rc = waf_store_fail(st, "revoking the user's tokens", err, errlen);
            break;
        }
        waf_db_bind_text(s, 1, name);
        if (waf_db_step(s) != WAF_DB_DONE)
            rc = waf_store_fail(st, "revoking the user's tokens", err, errlen);
        waf_db_finalize(s);
    }
    if (rc != WAF_STORE_OK) {
        waf_store_rollback(st); /* nothing half-applied: the old password stays */
        return rc;
    }
    if (waf_store_commit(st) < 0)
        return waf_store_fail(st, "changing the password", err, errlen);
    return WAF_STORE_OK;
}
