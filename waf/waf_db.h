/* waf_db: the one SQL seam of the WAF. A small statement API (prepare with ?N parameters, bind,
 * step through rows, read columns) with two back ends chosen once when the store opens:
 * waf_db_sqlite.c (a file in the data directory, the default) and waf_db_pg.c (a shared
 * PostgreSQL server, for several WAF replicas). The modules write one portable SQL and never
 * learn which engine runs it. */
#ifndef IMSGW_WAF_DB_H
#define IMSGW_WAF_DB_H

#include <stddef.h>
#include <stdint.h>

enum waf_db_rc {
    WAF_DB_OK = 0,
    WAF_DB_ERROR = 1,
    WAF_DB_CONSTRAINT = 19,          /* a NOT NULL, CHECK or foreign key constraint failed */
    WAF_DB_CONSTRAINT_UNIQUE = 2067, /* a UNIQUE or PRIMARY KEY constraint failed */
    WAF_DB_ROW = 100,
    WAF_DB_DONE = 101,
};

enum waf_db_type { WAF_DB_INTEGER = 1, WAF_DB_TEXT = 3, WAF_DB_NULL = 5 };

/* Why the store cannot serve, rather than the request being wrong (see waf_store_unavailable). */
enum waf_db_down { WAF_DB_UP = 0, WAF_DB_BUSY = 1, WAF_DB_CANNOT_WRITE = 2 };

struct waf_db;
/* Every back end's statement starts with this header. */
struct waf_stmt {
    struct waf_db *db;
};

/* The back-end table each engine fills; callers use the waf_db_* functions below. */
struct waf_db_ops {
    const char *name;
    void (*close)(struct waf_db *db);
    int (*exec)(struct waf_db *db, const char *sql);
    int (*prepare)(struct waf_db *db, const char *sql, struct waf_stmt **out);
    void (*bind_text)(struct waf_stmt *s, int i, const char *v);
    void (*bind_int64)(struct waf_stmt *s, int i, int64_t v);
    int (*step)(struct waf_stmt *s);
    int (*column_type)(struct waf_stmt *s, int col);
    const char *(*column_text)(struct waf_stmt *s, int col);
    int (*column_bytes)(struct waf_stmt *s, int col);
    int64_t (*column_int64)(struct waf_stmt *s, int col);
    void (*reset)(struct waf_stmt *s);
    void (*finalize)(struct waf_stmt *s);
    int64_t (*changes)(struct waf_db *db);
    const char *(*errmsg)(struct waf_db *db);
    int (*begin)(struct waf_db *db);
    int (*commit)(struct waf_db *db);
    void (*rollback)(struct waf_db *db);
    int (*down)(struct waf_db *db);
    void (*set_busy_wait)(struct waf_db *db, int ms);
    int (*get_version)(struct waf_db *db, int *version);
    int (*set_version)(struct waf_db *db, int version);
};

/* Every back end's handle starts with this header. */
struct waf_db {
    const struct waf_db_ops *ops;
    int postgres; /* 1 on PostgreSQL: the migrations adapt their column types */
};

/* Opens database: "" = <data_dir>/waf.sqlite, "postgresql://…" or "postgres://…" = PostgreSQL.
 * 0, or -1 with err. */
int waf_db_open(struct waf_db **out, const char *database, const char *data_dir, char *err,
                size_t errlen);
/* The back ends' own openers (waf_db_open picks one). */
int waf_db_sqlite_open(struct waf_db **out, const char *path, char *err, size_t errlen);
int waf_db_pg_open(struct waf_db **out, const char *conninfo, char *err, size_t errlen);
/* 1 when database names a PostgreSQL server. */
int waf_db_is_postgres(const char *database);

void waf_db_close(struct waf_db *db);
/* Runs SQL without parameters (one or more statements); 0 or -1. */
int waf_db_exec(struct waf_db *db, const char *sql);
/* Prepares sql (parameters ?1..?16); WAF_DB_OK or WAF_DB_ERROR (then *out is NULL). */
int waf_db_prepare(struct waf_db *db, const char *sql, struct waf_stmt **out);
/* Binds a copy of v (NULL binds SQL NULL); a parameter never bound is NULL. */
void waf_db_bind_text(struct waf_stmt *s, int i, const char *v);
void waf_db_bind_int64(struct waf_stmt *s, int i, int64_t v);
/* WAF_DB_ROW, WAF_DB_DONE, WAF_DB_CONSTRAINT(_UNIQUE) or WAF_DB_ERROR. */
int waf_db_step(struct waf_stmt *s);
int waf_db_column_type(struct waf_stmt *s, int col);
/* Valid until the next step, reset or finalize. */
const char *waf_db_column_text(struct waf_stmt *s, int col);
int waf_db_column_bytes(struct waf_stmt *s, int col);
int64_t waf_db_column_int64(struct waf_stmt *s, int col);
int waf_db_column_int(struct waf_stmt *s, int col);
/* Back to before the first step, bindings kept. */
void waf_db_reset(struct waf_stmt *s);
/* Frees s (NULL is fine). */
void waf_db_finalize(struct waf_stmt *s);
/* Rows changed by the last INSERT/UPDATE/DELETE. */
int64_t waf_db_changes(struct waf_db *db);
const char *waf_db_errmsg(struct waf_db *db);
/* A write transaction that excludes every other writer, in this and every other process (SQLite
 * BEGIN IMMEDIATE; PostgreSQL a transaction-scoped advisory lock): what runs inside is atomic
 * across WAF replicas. 0 or -1. */
int waf_db_begin(struct waf_db *db);
/* 0, or -1 after rolling back. */
int waf_db_commit(struct waf_db *db);
void waf_db_rollback(struct waf_db *db);
/* WAF_DB_UP, WAF_DB_BUSY or WAF_DB_CANNOT_WRITE for the last failure. */
int waf_db_down(struct waf_db *db);
/* Longest wait for another writer or a statement, ms. */
void waf_db_set_busy_wait(struct waf_db *db, int ms);
/* The schema version stored in the database (0 when new). */
int waf_db_get_version(struct waf_db *db, int *version);
int waf_db_set_version(struct waf_db *db, int version);

#endif
