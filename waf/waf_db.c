/* waf_db: picks the back end once, then forwards every call through its table. */
#include "waf_db.h"

#include <stdio.h>
#include <string.h>

#define WAF_DB_SQLITE_FILE "waf.sqlite"

int waf_db_is_postgres(const char *database)
{
    return database && (strncmp(database, "postgresql://", 13) == 0 ||
                        strncmp(database, "postgres://", 11) == 0);
}

int waf_db_open(struct waf_db **out, const char *database, const char *data_dir, char *err,
                size_t errlen)
{
    *out = NULL;
    if (waf_db_is_postgres(database))
        return waf_db_pg_open(out, database, err, errlen);
    if (database && database[0]) {
        snprintf(err, errlen,
                 "database must be empty (SQLite in the data directory) or a postgresql:// URL");
        return -1;
    }
    char path[4096];
    if ((size_t)snprintf(path, sizeof(path), "%s/%s", data_dir, WAF_DB_SQLITE_FILE) >=
        sizeof(path)) {
        snprintf(err, errlen, "the data directory path is too long");
        return -1;
    }
    return waf_db_sqlite_open(out, path, err, errlen);
}

void waf_db_close(struct waf_db *db)
{
    if (db)
        db->ops->close(db);
}

int waf_db_exec(struct waf_db *db, const char *sql)
{
    return db->ops->exec(db, sql);
}

int waf_db_prepare(struct waf_db *db, const char *sql, struct waf_stmt **out)
{
    return db->ops->prepare(db, sql, out);
}

void waf_db_bind_text(struct waf_stmt *s, int i, const char *v)
{
    s->db->ops->bind_text(s, i, v);
}

void waf_db_bind_int64(struct waf_stmt *s, int i, int64_t v)
{
    s->db->ops->bind_int64(s, i, v);
}

int waf_db_step(struct waf_stmt *s)
{
    return s->db->ops->step(s);
}

int waf_db_column_type(struct waf_stmt *s, int col)
{
    return s->db->ops->column_type(s, col);
}

const char *waf_db_column_text(struct waf_stmt *s, int col)
{
    return s->db->ops->column_text(s, col);
}

int waf_db_column_bytes(struct waf_stmt *s, int col)
{
    return s->db->ops->column_bytes(s, col);
}

int64_t waf_db_column_int64(struct waf_stmt *s, int col)
{
    return s->db->ops->column_int64(s, col);
}

int waf_db_column_int(struct waf_stmt *s, int col)
{
    return (int)s->db->ops->column_int64(s, col);
}

void waf_db_reset(struct waf_stmt *s)
{
    s->db->ops->reset(s);
}

void waf_db_finalize(struct waf_stmt *s)
{
    if (s)
        s->db->ops->finalize(s);
}

int64_t waf_db_changes(struct waf_db *db)
{
    return db->ops->changes(db);
}

const char *waf_db_errmsg(struct waf_db *db)
{
    return db->ops->errmsg(db);
}

int waf_db_begin(struct waf_db *db)
{
    return db->ops->begin(db);
}

int waf_db_commit(struct waf_db *db)
{
    return db->ops->commit(db);
}

void waf_db_rollback(struct waf_db *db)
{
    db->ops->rollback(db);
}

int waf_db_down(struct waf_db *db)
{
    return db->ops->down(db);
}

void waf_db_set_busy_wait(struct waf_db *db, int ms)
{
    db->ops->set_busy_wait(db, ms);
}

int waf_db_get_version(struct waf_db *db, int *version)
{
    return db->ops->get_version(db, version);
}

int waf_db_set_version(struct waf_db *db, int version)
{
    return db->ops->set_version(db, version);
}
