/* waf_store: SQLite with bound parameters only; user input never becomes SQL text. Writes run in
 * IMMEDIATE transactions so a failure leaves nothing half-written, and the CLI and the daemon can
 * share the file (WAL lets readers go on while one of them writes). */
#include "waf_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "log.h"
#include "secretfile.h"
#include "timeutil.h"

#define WAF_STORE_BUSY_MS 2000      /* default wait for another process's write lock (the CLI) */
#define WAF_STORE_FAIL_FAST_MS 1000 /* after a wait ran out, writers fail at once this long */

struct waf_store {
    sqlite3 *db;
    int busy_ms;              /* longest wait for another process's write lock */
    uint64_t wait_start;      /* monotonic ms the current wait began */
    uint64_t fail_fast_until; /* no waiting before this monotonic ms */
    int failed_rc;            /* why the last BEGIN or COMMIT failed (a ROLLBACK clears errcode) */
};

/* SQLite's busy handler. The daemon runs SQLite on its only loop, so every wait stalls every
 * client: a lock held for long (another process in a long transaction) must cost one bounded
 * wait, not one per request, hence the fail-fast window after a wait that ran out. */
static int waf_store_busy(void *arg, int count)
{
    struct waf_store *st = arg;
    uint64_t now = time_mono_ms();
    if (count == 0) {
        if (now < st->fail_fast_until)
            return 0;
        st->wait_start = now;
    }
    if (now - st->wait_start >= (uint64_t)st->busy_ms) {
        st->fail_fast_until = now + WAF_STORE_FAIL_FAST_MS;
        return 0;
    }
    sqlite3_sleep(5);
    return 1;
}

void waf_store_set_busy_wait(struct waf_store *st, int ms)
{
    st->busy_ms = ms;
}

int waf_store_unavailable(struct waf_store *st)
{
    int rc = sqlite3_errcode(st->db);
    if (rc == SQLITE_OK || rc == SQLITE_ROW || rc == SQLITE_DONE)
        rc = st->failed_rc;
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return WAF_STORE_BUSY;
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
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
};

#define WAF_STORE_VERSION ((int)(sizeof(waf_store_migrations) / sizeof(waf_store_migrations[0])))

int waf_store_schema_version(void)
{
    return WAF_STORE_VERSION;
}

static int waf_store_fail(struct waf_store *st, const char *what, char *err, size_t errlen)
{
    snprintf(err, errlen, "%s: %s", what, sqlite3_errmsg(st->db));
    return WAF_STORE_ERROR;
}

static int waf_store_exec(struct waf_store *st, const char *sql)
{
    return sqlite3_exec(st->db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

void waf_store_rollback(struct waf_store *st)
{
    if (sqlite3_get_autocommit(st->db))
        return; /* none open (a failed COMMIT rolled back already): keep the error it left */
    int rc = sqlite3_errcode(st->db);
    if (rc != SQLITE_OK && rc != SQLITE_ROW && rc != SQLITE_DONE)
        st->failed_rc = rc; /* kept for waf_store_unavailable(): ROLLBACK clears the errcode */
    sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
}

sqlite3 *waf_store_db(struct waf_store *st)
{
    return st->db;
}

int waf_store_begin(struct waf_store *st)
{
    st->failed_rc = SQLITE_OK;
    if (waf_store_exec(st, "BEGIN IMMEDIATE") == 0)
        return 0;
    st->failed_rc = sqlite3_errcode(st->db);
    return -1;
}

int waf_store_commit(struct waf_store *st)
{
    if (waf_store_exec(st, "COMMIT") == 0)
        return 0;
    st->failed_rc = sqlite3_errcode(st->db);
    waf_store_rollback(st);
    return -1;
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
    };
    for (size_t i = 0; i < sizeof(sql) / sizeof(sql[0]); i++) {
        sqlite3_stmt *s;
        if (sqlite3_prepare_v2(st->db, sql[i], -1, &s, NULL) != SQLITE_OK)
            continue;
        sqlite3_bind_int64(s, 1, now);
        sqlite3_step(s);
        sqlite3_finalize(s);
    }
}

static int waf_store_prepare(struct waf_store *st, const char *sql, sqlite3_stmt **stmt)
{
    return sqlite3_prepare_v2(st->db, sql, -1, stmt, NULL) == SQLITE_OK ? 0 : -1;
}

static int waf_store_read_version(struct waf_store *st, int *version)
{
    sqlite3_stmt *s;
    if (waf_store_prepare(st, "PRAGMA user_version", &s) < 0)
        return -1;
    int rc = -1;
    if (sqlite3_step(s) == SQLITE_ROW) {
        *version = sqlite3_column_int(s, 0);
        rc = 0;
    }
    sqlite3_finalize(s);
    return rc;
}

static int waf_store_migrate(struct waf_store *st, char *err, size_t errlen)
{
    for (;;) {
        int version;
        if (waf_store_exec(st, "BEGIN IMMEDIATE") < 0)
            return waf_store_fail(st, "locking the database", err, errlen);
        /* Read under the write lock: another process may have migrated in the meantime. */
        if (waf_store_read_version(st, &version) < 0)
            goto fail;
        if (version > WAF_STORE_VERSION) {
            waf_store_rollback(st);
            snprintf(err, errlen,
                     "the database has schema version %d, newer than this imsgw-waf knows (%d)",
                     version, WAF_STORE_VERSION);
            return WAF_STORE_ERROR;
        }
        if (version == WAF_STORE_VERSION)
            return waf_store_exec(st, "COMMIT") < 0
                       ? waf_store_fail(st, "reading the database", err, errlen)
                       : WAF_STORE_OK;
        /* PRAGMA takes no bound parameter; the number comes from this code, not from input. */
        char bump[48];
        snprintf(bump, sizeof(bump), "PRAGMA user_version = %d", version + 1);
        if (waf_store_exec(st, waf_store_migrations[version]) < 0 || waf_store_exec(st, bump) < 0 ||
            waf_store_exec(st, "COMMIT") < 0)
            goto fail;
        log_info("database schema migrated to version %d", version + 1);
    }
fail:
    waf_store_fail(st, "migrating the database", err, errlen);
    waf_store_rollback(st);
    return WAF_STORE_ERROR;
}

static int waf_store_wal(struct waf_store *st)
{
    sqlite3_stmt *s;
    if (waf_store_prepare(st, "PRAGMA journal_mode=WAL", &s) < 0)
        return -1;
    int ok = sqlite3_step(s) == SQLITE_ROW &&
             strcmp((const char *)sqlite3_column_text(s, 0), "wal") == 0;
    sqlite3_finalize(s);
    return ok ? 0 : -1;
}

int waf_store_open(struct waf_store **out, const char *data_dir, char *err, size_t errlen)
{
    char path[4096];
    *out = NULL;
    if ((size_t)snprintf(path, sizeof(path), "%s/%s", data_dir, WAF_STORE_FILE) >= sizeof(path)) {
        snprintf(err, errlen, "the data directory path is too long");
        return WAF_STORE_ERROR;
    }
    struct waf_store *st = calloc(1, sizeof(*st));
    if (!st) {
        snprintf(err, errlen, "out of memory");
        return WAF_STORE_ERROR;
    }
    /* The database holds the signing keys: it is a secret file (created 0600 under the WAF's
     * umask), and so are its WAL and shared-memory companions. */
    static const char *const parts[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
        char part[4200];
        snprintf(part, sizeof(part), "%s%s", path, parts[i]);
        if (secretfile_check_path("database", part, 1, err, errlen) < 0) {
            free(st);
            return WAF_STORE_ERROR;
        }
    }
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOFOLLOW;
    if (sqlite3_open_v2(path, &st->db, flags, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "cannot open %s: %s", path,
                 st->db ? sqlite3_errmsg(st->db) : "out of memory");
        waf_store_close(st);
        return WAF_STORE_ERROR;
    }
    sqlite3_extended_result_codes(st->db, 1);
    st->busy_ms = WAF_STORE_BUSY_MS;
    sqlite3_busy_handler(st->db, waf_store_busy, st);
    if (waf_store_wal(st) < 0 || waf_store_exec(st, "PRAGMA foreign_keys=ON") < 0) {
        waf_store_fail(st, path, err, errlen);
        waf_store_close(st);
        return WAF_STORE_ERROR;
    }
    if (waf_store_migrate(st, err, errlen) < 0) {
        waf_store_close(st);
        return WAF_STORE_ERROR;
    }
    *out = st;
    return WAF_STORE_OK;
}

void waf_store_close(struct waf_store *st)
{
    if (!st)
        return;
    sqlite3_close(st->db);
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
    sqlite3_stmt *s;
    if (waf_store_prepare(
            st, "INSERT INTO user_impus (user_id, impu, position) VALUES (?1, ?2, ?3)", &s) < 0)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < u->n_impu && rc == 0; i++) {
        sqlite3_reset(s);
        sqlite3_bind_int64(s, 1, u->id);
        sqlite3_bind_text(s, 2, u->impu[i], -1, SQLITE_STATIC);
        sqlite3_bind_int(s, 3, (int)i);
        rc = sqlite3_step(s) == SQLITE_DONE ? 0 : -1;
    }
    sqlite3_finalize(s);
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
    if (waf_store_exec(st, "BEGIN IMMEDIATE") < 0)
        return waf_store_fail(st, "locking the database", err, errlen);
    sqlite3_stmt *s;
    if (waf_store_prepare(st,
                          "INSERT INTO users (name, password_hash, impi, created_at) "
                          "VALUES (?1, ?2, ?3, ?4)",
                          &s) < 0)
        goto fail;
    u->created_at = time_now_s();
    sqlite3_bind_text(s, 1, u->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, password_hash, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, u->impi, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, u->created_at);
    int step = sqlite3_step(s);
    sqlite3_finalize(s);
    if (step == SQLITE_CONSTRAINT_UNIQUE) {
        waf_store_rollback(st);
        snprintf(err, errlen, "user \"%s\" already exists", u->name);
        return WAF_STORE_EXISTS;
    }
    if (step != SQLITE_DONE)
        goto fail;
    u->id = sqlite3_last_insert_rowid(st->db);
    if (waf_store_insert_impus(st, u) < 0 || waf_store_exec(st, "COMMIT") < 0)
        goto fail;
    return WAF_STORE_OK;
fail:
    waf_store_fail(st, "adding the user", err, errlen);
    waf_store_rollback(st);
    return WAF_STORE_ERROR;
}

/* Copies a TEXT column into a fixed field; a value that does not fit means someone edited the
 * file by hand, and it is refused rather than cut. */
static int waf_store_column(sqlite3_stmt *s, int col, char *dst, size_t size)
{
    const unsigned char *v = sqlite3_column_text(s, col);
    int n = sqlite3_column_bytes(s, col);
    if (!v || n < 0 || (size_t)n >= size)
        return -1;
    memcpy(dst, v, (size_t)n + 1);
    return 0;
}

static int waf_store_load_impus(struct waf_store *st, struct waf_user *u)
{
    sqlite3_stmt *s;
    if (waf_store_prepare(st, "SELECT impu FROM user_impus WHERE user_id = ?1 ORDER BY position",
                          &s) < 0)
        return -1;
    sqlite3_bind_int64(s, 1, u->id);
    int rc = 0, step;
    u->n_impu = 0;
    while (rc == 0 && (step = sqlite3_step(s)) == SQLITE_ROW) {
        if (u->n_impu == WAF_IMPUS_MAX)
            rc = -1;
        else
            rc = waf_store_column(s, 0, u->impu[u->n_impu++], WAF_URI_MAX + 1);
    }
    if (rc == 0 && step != SQLITE_DONE)
        rc = -1;
    sqlite3_finalize(s);
    return rc;
}

/* Fills u from a row (id, name, impi, created_at) and its IMPUs. */
static int waf_store_row_user(struct waf_store *st, sqlite3_stmt *s, struct waf_user *u)
{
    memset(u, 0, sizeof(*u));
    u->id = sqlite3_column_int64(s, 0);
    u->created_at = sqlite3_column_int64(s, 3);
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
    sqlite3_stmt *s;
    if (waf_store_prepare(st, "SELECT id, name, impi, created_at FROM users WHERE name = ?1", &s) <
        0)
        return waf_store_fail(st, "reading the user", err, errlen);
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    int step = sqlite3_step(s);
    if (step == SQLITE_ROW)
        rc = waf_store_row_user(st, s, out) < 0
                 ? waf_store_fail(st, "reading the user's identities", err, errlen)
                 : WAF_STORE_OK;
    else if (step == SQLITE_DONE) {
        snprintf(err, errlen, "no user \"%s\"", name);
        rc = WAF_STORE_NOT_FOUND;
    } else
        rc = waf_store_fail(st, "reading the user", err, errlen);
    sqlite3_finalize(s);
    return rc;
}

int waf_store_user_password(struct waf_store *st, const char *name, char *out, size_t outlen,
                            char *err, size_t errlen)
{
    int rc = waf_store_name_arg(name, err, errlen);
    if (rc < 0)
        return rc;
    sqlite3_stmt *s;
    if (waf_store_prepare(st, "SELECT password_hash FROM users WHERE name = ?1", &s) < 0)
        return waf_store_fail(st, "reading the user", err, errlen);
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    int step = sqlite3_step(s);
    if (step == SQLITE_ROW && waf_store_column(s, 0, out, outlen) == 0)
        rc = WAF_STORE_OK;
    else if (step == SQLITE_DONE) {
        snprintf(err, errlen, "no user \"%s\"", name);
        rc = WAF_STORE_NOT_FOUND;
    } else
        rc = waf_store_fail(st, "reading the user", err, errlen);
    sqlite3_finalize(s);
    return rc;
}

int waf_store_user_list(struct waf_store *st, waf_store_user_fn fn, void *arg, char *err,
                        size_t errlen)
{
    sqlite3_stmt *s;
    if (waf_store_prepare(st, "SELECT id, name, impi, created_at FROM users ORDER BY name", &s) < 0)
        return waf_store_fail(st, "listing users", err, errlen);
    struct waf_user *u = malloc(sizeof(*u));
    int rc = u ? WAF_STORE_OK : WAF_STORE_ERROR, step = SQLITE_DONE;
    while (rc == WAF_STORE_OK && (step = sqlite3_step(s)) == SQLITE_ROW) {
        if (waf_store_row_user(st, s, u) < 0)
            rc = waf_store_fail(st, "listing users", err, errlen);
        else if (fn(u, arg))
            break;
    }
    if (rc == WAF_STORE_OK && step != SQLITE_DONE && step != SQLITE_ROW)
        rc = waf_store_fail(st, "listing users", err, errlen);
    if (!u)
        snprintf(err, errlen, "out of memory");
    free(u);
    sqlite3_finalize(s);
    return rc;
}

/* Runs one UPDATE/DELETE of the user called name (?1, with ?2 = arg2 when given); a user that
 * does not exist is WAF_STORE_NOT_FOUND. */
static int waf_store_change_user(struct waf_store *st, const char *sql, const char *name,
                                 const char *arg2, const char *what, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    int rc = WAF_STORE_OK;
    if (waf_store_prepare(st, sql, &s) < 0)
        return waf_store_fail(st, what, err, errlen);
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    if (arg2)
        sqlite3_bind_text(s, 2, arg2, -1, SQLITE_STATIC);
    if (sqlite3_step(s) != SQLITE_DONE)
        rc = waf_store_fail(st, what, err, errlen);
    else if (sqlite3_changes(st->db) == 0) {
        snprintf(err, errlen, "no user \"%s\"", name);
        rc = WAF_STORE_NOT_FOUND;
    }
    sqlite3_finalize(s);
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
    sqlite3_stmt *s;
    if (waf_store_prepare(st, "SELECT id, name, impi, created_at FROM users WHERE id = ?1", &s) < 0)
        return WAF_STORE_ERROR;
    sqlite3_bind_int64(s, 1, id);
    int step = sqlite3_step(s);
    int rc = step == SQLITE_ROW    ? (waf_store_row_user(st, s, out) < 0 ? WAF_STORE_ERROR : 0)
             : step == SQLITE_DONE ? WAF_STORE_NOT_FOUND
                                   : WAF_STORE_ERROR;
    sqlite3_finalize(s);
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
        sqlite3_stmt *s;
        if (waf_store_prepare(st, revoke[i], &s) < 0) {
            rc = waf_store_fail(st, "revoking the user's tokens", err, errlen);
            break;
        }
        sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
        if (sqlite3_step(s) != SQLITE_DONE)
            rc = waf_store_fail(st, "revoking the user's tokens", err, errlen);
        sqlite3_finalize(s);
    }
    if (rc != WAF_STORE_OK) {
        waf_store_rollback(st); /* nothing half-applied: the old password stays */
        return rc;
    }
    if (waf_store_commit(st) < 0)
        return waf_store_fail(st, "changing the password", err, errlen);
    return WAF_STORE_OK;
}
