/* waf_db_sqlite: the default back end, one file in the data directory (WAL, so the CLI and the
 * daemon share it: readers go on while one of them writes). Writers take BEGIN IMMEDIATE. */
#include "waf_db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "secretfile.h"
#include "timeutil.h"

#define WAF_DB_SQLITE_BUSY_MS 2000      /* default wait for another process's write lock */
#define WAF_DB_SQLITE_FAIL_FAST_MS 1000 /* after a wait ran out, writers fail at once this long */

struct waf_db_sqlite {
    struct waf_db base;
    sqlite3 *db;
    int busy_ms;              /* longest wait for another process's write lock */
    uint64_t wait_start;      /* monotonic ms the current wait began */
    uint64_t fail_fast_until; /* no waiting before this monotonic ms */
    int failed_rc;            /* why the last BEGIN or COMMIT failed (a ROLLBACK clears errcode) */
};

struct waf_stmt_sqlite {
    struct waf_stmt base;
    sqlite3_stmt *s;
};

#define DB(d) ((struct waf_db_sqlite *)(d))
#define ST(s) (((struct waf_stmt_sqlite *)(s))->s)

/* SQLite's busy handler. The daemon runs SQLite on its only loop, so every wait stalls every
 * client: a lock held for long (another process in a long transaction) must cost one bounded
 * wait, not one per request, hence the fail-fast window after a wait that ran out. */
static int waf_db_sqlite_busy(void *arg, int count)
{
    struct waf_db_sqlite *d = arg;
    uint64_t now = time_mono_ms();
    if (count == 0) {
        if (now < d->fail_fast_until)
            return 0;
        d->wait_start = now;
    }
    if (now - d->wait_start >= (uint64_t)d->busy_ms) {
        d->fail_fast_until = now + WAF_DB_SQLITE_FAIL_FAST_MS;
        return 0;
    }
    sqlite3_sleep(5);
    return 1;
}

static void waf_db_sqlite_close(struct waf_db *db)
{
    sqlite3_close(DB(db)->db);
    free(db);
}

static int waf_db_sqlite_exec(struct waf_db *db, const char *sql)
{
    return sqlite3_exec(DB(db)->db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

static int waf_db_sqlite_prepare(struct waf_db *db, const char *sql, struct waf_stmt **out)
{
    struct waf_stmt_sqlite *s = calloc(1, sizeof(*s));
    *out = NULL;
    if (!s)
        return WAF_DB_ERROR;
    if (sqlite3_prepare_v2(DB(db)->db, sql, -1, &s->s, NULL) != SQLITE_OK) {
        free(s);
        return WAF_DB_ERROR;
    }
    s->base.db = db;
    *out = &s->base;
    return WAF_DB_OK;
}

static void waf_db_sqlite_bind_text(struct waf_stmt *s, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(ST(s), i, v, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(ST(s), i);
}

static void waf_db_sqlite_bind_int64(struct waf_stmt *s, int i, int64_t v)
{
    sqlite3_bind_int64(ST(s), i, v);
}

static int waf_db_sqlite_step(struct waf_stmt *s)
{
    int rc = sqlite3_step(ST(s));
    switch (rc) {
    case SQLITE_ROW:
        return WAF_DB_ROW;
    case SQLITE_DONE:
        return WAF_DB_DONE;
    case SQLITE_CONSTRAINT_UNIQUE:
    case SQLITE_CONSTRAINT_PRIMARYKEY:
        return WAF_DB_CONSTRAINT_UNIQUE;
    default:
        return (rc & 0xff) == SQLITE_CONSTRAINT ? WAF_DB_CONSTRAINT : WAF_DB_ERROR;
    }
}

static int waf_db_sqlite_column_type(struct waf_stmt *s, int col)
{
    switch (sqlite3_column_type(ST(s), col)) {
    case SQLITE_NULL:
        return WAF_DB_NULL;
    case SQLITE_INTEGER:
        return WAF_DB_INTEGER;
    default:
        return WAF_DB_TEXT;
    }
}

static const char *waf_db_sqlite_column_text(struct waf_stmt *s, int col)
{
    return (const char *)sqlite3_column_text(ST(s), col);
}

static int waf_db_sqlite_column_bytes(struct waf_stmt *s, int col)
{
    return sqlite3_column_bytes(ST(s), col);
}

static int64_t waf_db_sqlite_column_int64(struct waf_stmt *s, int col)
{
    return sqlite3_column_int64(ST(s), col);
}

static void waf_db_sqlite_reset(struct waf_stmt *s)
{
    sqlite3_reset(ST(s));
}

static void waf_db_sqlite_finalize(struct waf_stmt *s)
{
    sqlite3_finalize(ST(s));
    free(s);
}

static int64_t waf_db_sqlite_changes(struct waf_db *db)
{
    return sqlite3_changes(DB(db)->db);
}

static const char *waf_db_sqlite_errmsg(struct waf_db *db)
{
    return sqlite3_errmsg(DB(db)->db);
}

static void waf_db_sqlite_rollback(struct waf_db *db)
{
    struct waf_db_sqlite *d = DB(db);
    if (sqlite3_get_autocommit(d->db))
        return; /* none open (a failed COMMIT rolled back already): keep the error it left */
    int rc = sqlite3_errcode(d->db);
    if (rc != SQLITE_OK && rc != SQLITE_ROW && rc != SQLITE_DONE)
        d->failed_rc = rc; /* kept for waf_db_down(): ROLLBACK clears the errcode */
    sqlite3_exec(d->db, "ROLLBACK", NULL, NULL, NULL);
}

static int waf_db_sqlite_begin(struct waf_db *db)
{
    struct waf_db_sqlite *d = DB(db);
    d->failed_rc = SQLITE_OK;
    if (waf_db_sqlite_exec(db, "BEGIN IMMEDIATE") == 0)
        return 0;
    d->failed_rc = sqlite3_errcode(d->db);
    return -1;
}

static int waf_db_sqlite_commit(struct waf_db *db)
{
    struct waf_db_sqlite *d = DB(db);
    if (waf_db_sqlite_exec(db, "COMMIT") == 0)
        return 0;
    d->failed_rc = sqlite3_errcode(d->db);
    waf_db_sqlite_rollback(db);
    return -1;
}

static int waf_db_sqlite_down(struct waf_db *db)
{
    struct waf_db_sqlite *d = DB(db);
    int rc = sqlite3_errcode(d->db);
    if (rc == SQLITE_OK || rc == SQLITE_ROW || rc == SQLITE_DONE)
        rc = d->failed_rc;
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return WAF_DB_BUSY;
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
        return WAF_DB_CANNOT_WRITE;
    default:
        return WAF_DB_UP;
    }
}

static void waf_db_sqlite_set_busy_wait(struct waf_db *db, int ms)
{
    DB(db)->busy_ms = ms;
}

static int waf_db_sqlite_get_version(struct waf_db *db, int *version)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(DB(db)->db, "PRAGMA user_version", -1, &s, NULL) != SQLITE_OK)
        return -1;
    int rc = -1;
    if (sqlite3_step(s) == SQLITE_ROW) {
        *version = sqlite3_column_int(s, 0);
        rc = 0;
    }
    sqlite3_finalize(s);
    return rc;
}

static int waf_db_sqlite_set_version(struct waf_db *db, int version)
{
    /* PRAGMA takes no bound parameter; the number comes from this code, not from input. */
    char bump[48];
    snprintf(bump, sizeof(bump), "PRAGMA user_version = %d", version);
    return waf_db_sqlite_exec(db, bump);
}

static const struct waf_db_ops waf_db_sqlite_ops = {
    .name = "sqlite",
    .close = waf_db_sqlite_close,
    .exec = waf_db_sqlite_exec,
    .prepare = waf_db_sqlite_prepare,
    .bind_text = waf_db_sqlite_bind_text,
    .bind_int64 = waf_db_sqlite_bind_int64,
    .step = waf_db_sqlite_step,
    .column_type = waf_db_sqlite_column_type,
    .column_text = waf_db_sqlite_column_text,
    .column_bytes = waf_db_sqlite_column_bytes,
    .column_int64 = waf_db_sqlite_column_int64,
    .reset = waf_db_sqlite_reset,
    .finalize = waf_db_sqlite_finalize,
    .changes = waf_db_sqlite_changes,
    .errmsg = waf_db_sqlite_errmsg,
    .begin = waf_db_sqlite_begin,
    .commit = waf_db_sqlite_commit,
    .rollback = waf_db_sqlite_rollback,
    .down = waf_db_sqlite_down,
    .set_busy_wait = waf_db_sqlite_set_busy_wait,
    .get_version = waf_db_sqlite_get_version,
    .set_version = waf_db_sqlite_set_version,
};

static int waf_db_sqlite_wal(struct waf_db_sqlite *d)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(d->db, "PRAGMA journal_mode=WAL", -1, &s, NULL) != SQLITE_OK)
        return -1;
    int ok = sqlite3_step(s) == SQLITE_ROW &&
             strcmp((const char *)sqlite3_column_text(s, 0), "wal") == 0;
    sqlite3_finalize(s);
    return ok ? 0 : -1;
}

int waf_db_sqlite_open(struct waf_db **out, const char *path, char *err, size_t errlen)
{
    *out = NULL;
    /* The database holds the signing keys: it is a secret file (created 0600 under the WAF's
     * umask), and so are its WAL and shared-memory companions. */
    static const char *const parts[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
        char part[4200];
        snprintf(part, sizeof(part), "%s%s", path, parts[i]);
        if (secretfile_check_path("database", part, 1, err, errlen) < 0)
            return -1;
    }
    struct waf_db_sqlite *d = calloc(1, sizeof(*d));
    if (!d) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    d->base.ops = &waf_db_sqlite_ops;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOFOLLOW;
    if (sqlite3_open_v2(path, &d->db, flags, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "cannot open %s: %s", path,
                 d->db ? sqlite3_errmsg(d->db) : "out of memory");
        waf_db_sqlite_close(&d->base);
        return -1;
    }
    sqlite3_extended_result_codes(d->db, 1);
    d->busy_ms = WAF_DB_SQLITE_BUSY_MS;
    sqlite3_busy_handler(d->db, waf_db_sqlite_busy, d);
    if (waf_db_sqlite_wal(d) < 0 || waf_db_sqlite_exec(&d->base, "PRAGMA foreign_keys=ON") < 0) {
        snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(d->db));
        waf_db_sqlite_close(&d->base);
        return -1;
    }
    *out = &d->base;
    return 0;
}
