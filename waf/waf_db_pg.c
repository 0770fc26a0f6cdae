/* waf_db_pg: PostgreSQL through libpq, for WAF replicas that share one database. Statements are
 * sent with PQexecParams (parameters travel apart from the SQL text, as with SQLite's binds).
 * A write transaction takes one transaction-scoped advisory lock first, so what runs inside is
 * serialised against every other WAF exactly as SQLite's BEGIN IMMEDIATE serialises the daemon
 * and the CLI: the read-check-write sequences of the grants (code redemption, refresh rotation
 * and family revocation, numeric-code attempts, device-code polling) stay atomic across
 * replicas without a retry loop in every caller. Waits are bounded by lock_timeout and
 * statement_timeout (the busy wait); a lost connection is re-opened on the next statement. */
#include "waf_db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#define WAF_DB_PG_PARAMS 16
#define WAF_DB_PG_BUSY_MS 2000
#define WAF_DB_PG_CONNECT_TIMEOUT_S "2"
#define WAF_DB_PG_TCP_USER_TIMEOUT_MS "10000" /* unacknowledged data over TCP: the link is gone */
/* Longest statement: a bound for a server that hangs, not a latency target (a loaded host may
 * take hundreds of milliseconds for a simple SELECT; failing those would be worse). */
#define WAF_DB_PG_STATEMENT_MS 2000
/* Any constant shared by all WAFs: the key of the advisory lock that makes writers take turns. */
#define WAF_DB_PG_WRITE_LOCK "7421207"

struct waf_db_pg {
    struct waf_db base;
    PGconn *conn;
    char sqlstate[6]; /* of the last failure, "" after success */
    char errmsg[256];
    int64_t changes;
    int busy_ms;
    int broken; /* the connection failed: reset before the next statement */
};

struct waf_stmt_pg {
    struct waf_stmt base;
    char *sql; /* with $N for ?N */
    char *values[WAF_DB_PG_PARAMS];
    int n_params;
    PGresult *res;
    int row; /* -1 before the first step */
};

#define DB(d) ((struct waf_db_pg *)(d))
#define ST(s) ((struct waf_stmt_pg *)(s))

static void waf_db_pg_quiet(void *arg, const char *message)
{
    (void)arg;
    (void)message; /* NOTICEs ("already exists, skipping") are not errors: keep them out */
}

/* Records the outcome of res (NULL = out of memory or no connection); 0 when it succeeded. */
static int waf_db_pg_note(struct waf_db_pg *d, PGresult *res)
{
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
        d->sqlstate[0] = '\0';
        d->errmsg[0] = '\0';
        return 0;
    }
    const char *code = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    snprintf(d->sqlstate, sizeof(d->sqlstate), "%s", code ? code : "08000");
    const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    snprintf(d->errmsg, sizeof(d->errmsg), "%s",
             msg ? msg : (PQerrorMessage(d->conn)[0] ? PQerrorMessage(d->conn) : "no result"));
    d->errmsg[strcspn(d->errmsg, "\n")] = '\0';
    if (PQstatus(d->conn) != CONNECTION_OK)
        d->broken = 1;
    return -1;
}

static int waf_db_pg_settings(struct waf_db_pg *d)
{
    char sql[160];
    snprintf(sql, sizeof(sql), "SET lock_timeout = %d; SET statement_timeout = %d", d->busy_ms,
             d->busy_ms > WAF_DB_PG_STATEMENT_MS ? d->busy_ms : WAF_DB_PG_STATEMENT_MS);
    PGresult *r = PQexec(d->conn, sql);
    int rc = waf_db_pg_note(d, r);
    PQclear(r);
    return rc;
}

/* A connection that broke (server restarted, network cut) is re-opened before the next
 * statement; the statement that saw the break failed as "cannot write". */
static int waf_db_pg_ready(struct waf_db_pg *d)
{
    if (!d->broken && PQstatus(d->conn) == CONNECTION_OK)
        return 0;
    PQreset(d->conn);
    if (PQstatus(d->conn) != CONNECTION_OK) {
        waf_db_pg_note(d, NULL);
        return -1;
    }
    d->broken = 0;
    return waf_db_pg_settings(d);
}

static void waf_db_pg_close(struct waf_db *db)
{
    PQfinish(DB(db)->conn);
    free(db);
}

/* After the server restarted, the old connection fails on its next use. Outside a transaction
 * nothing was done yet, so the statement is sent once more on a new connection: the first
 * request after a restart succeeds instead of answering 503. */
static int waf_db_pg_retry(struct waf_db_pg *d, int was_idle)
{
    return was_idle && d->broken && waf_db_pg_ready(d) == 0;
}

static int waf_db_pg_exec(struct waf_db *db, const char *sql)
{
    struct waf_db_pg *d = DB(db);
    if (waf_db_pg_ready(d) < 0)
        return -1;
    int idle = PQtransactionStatus(d->conn) == PQTRANS_IDLE;
    PGresult *r = PQexec(d->conn, sql);
    if (waf_db_pg_note(d, r) < 0 && waf_db_pg_retry(d, idle)) {
        PQclear(r);
        r = PQexec(d->conn, sql);
    }
    int rc = waf_db_pg_note(d, r);
    if (rc == 0)
        d->changes = strtoll(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    return rc;
}

/* ?N becomes $N outside quoted text; a number past the limit refuses the statement. */
static char *waf_db_pg_sql(const char *sql, int *n_params)
{
    char *out = malloc(strlen(sql) + 1), *o = out;
    char quote = 0;
    *n_params = 0;
    if (!out)
        return NULL;
    for (const char *p = sql; *p; p++) {
        if (quote) {
            if (*p == quote)
                quote = 0;
        } else if (*p == '\'' || *p == '"')
            quote = *p;
        else if (*p == '?') {
            char *end;
            long n = strtol(p + 1, &end, 10);
            if (end == p + 1 || n < 1 || n > WAF_DB_PG_PARAMS) {
                free(out);
                return NULL;
            }
            if (n > *n_params)
                *n_params = (int)n;
            *o++ = '$';
            continue; /* the digits follow as they are */
        }
        *o++ = *p;
    }
    *o = '\0';
    return out;
}

static int waf_db_pg_prepare(struct waf_db *db, const char *sql, struct waf_stmt **out)
{
    struct waf_stmt_pg *s = calloc(1, sizeof(*s));
    *out = NULL;
    if (!s || !(s->sql = waf_db_pg_sql(sql, &s->n_params))) {
        snprintf(DB(db)->errmsg, sizeof(DB(db)->errmsg), "statement refused");
        free(s);
        return WAF_DB_ERROR;
    }
    s->base.db = db;
    s->row = -1;
    *out = &s->base;
    return WAF_DB_OK;
}

static void waf_db_pg_bind_text(struct waf_stmt *s, int i, const char *v)
{
    struct waf_stmt_pg *p = ST(s);
    if (i < 1 || i > WAF_DB_PG_PARAMS)
        return;
    free(p->values[i - 1]);
    p->values[i - 1] = v ? strdup(v) : NULL;
}

static void waf_db_pg_bind_int64(struct waf_stmt *s, int i, int64_t v)
{
    char text[24];
    snprintf(text, sizeof(text), "%lld", (long long)v);
    waf_db_pg_bind_text(s, i, text);
}

static int waf_db_pg_fail_code(const char *sqlstate)
{
    if (strcmp(sqlstate, "23505") == 0)
        return WAF_DB_CONSTRAINT_UNIQUE;
    return strncmp(sqlstate, "23", 2) == 0 ? WAF_DB_CONSTRAINT : WAF_DB_ERROR;
}

static int waf_db_pg_step(struct waf_stmt *s)
{
    struct waf_stmt_pg *p = ST(s);
    struct waf_db_pg *d = DB(s->db);
    if (p->row < 0) {
        if (waf_db_pg_ready(d) < 0)
            return WAF_DB_ERROR;
        int idle = PQtransactionStatus(d->conn) == PQTRANS_IDLE;
        p->res = PQexecParams(d->conn, p->sql, p->n_params, NULL, (const char *const *)p->values,
                              NULL, NULL, 0);
        if (waf_db_pg_note(d, p->res) < 0 && waf_db_pg_retry(d, idle)) {
            PQclear(p->res);
            p->res = PQexecParams(d->conn, p->sql, p->n_params, NULL,
                                  (const char *const *)p->values, NULL, NULL, 0);
        }
        if (waf_db_pg_note(d, p->res) < 0) {
            PQclear(p->res);
            p->res = NULL;
            p->row = 0;
            return waf_db_pg_fail_code(d->sqlstate);
        }
        d->changes = strtoll(PQcmdTuples(p->res), NULL, 10);
        p->row = 0;
    } else if (p->res)
        p->row++;
    return p->res && p->row < PQntuples(p->res) ? WAF_DB_ROW : WAF_DB_DONE;
}

static int waf_db_pg_has(struct waf_stmt_pg *p, int col)
{
    return p->res && p->row >= 0 && p->row < PQntuples(p->res) && col >= 0 &&
           col < PQnfields(p->res);
}

static int waf_db_pg_column_type(struct waf_stmt *s, int col)
{
    struct waf_stmt_pg *p = ST(s);
    if (!waf_db_pg_has(p, col) || PQgetisnull(p->res, p->row, col))
        return WAF_DB_NULL;
    return WAF_DB_TEXT;
}

static const char *waf_db_pg_column_text(struct waf_stmt *s, int col)
{
    struct waf_stmt_pg *p = ST(s);
    if (!waf_db_pg_has(p, col) || PQgetisnull(p->res, p->row, col))
        return NULL;
    return PQgetvalue(p->res, p->row, col);
}

static int waf_db_pg_column_bytes(struct waf_stmt *s, int col)
{
    struct waf_stmt_pg *p = ST(s);
    return waf_db_pg_has(p, col) ? PQgetlength(p->res, p->row, col) : 0;
}

static int64_t waf_db_pg_column_int64(struct waf_stmt *s, int col)
{
    const char *v = waf_db_pg_column_text(s, col);
    if (!v)
        return 0;
    if (strcmp(v, "t") == 0)
        return 1; /* a boolean expression */
    return strtoll(v, NULL, 10);
}

static void waf_db_pg_reset(struct waf_stmt *s)
{
    struct waf_stmt_pg *p = ST(s);
    PQclear(p->res);
    p->res = NULL;
    p->row = -1;
}

static void waf_db_pg_finalize(struct waf_stmt *s)
{
    struct waf_stmt_pg *p = ST(s);
    PQclear(p->res);
    for (int i = 0; i < WAF_DB_PG_PARAMS; i++)
        free(p->values[i]);
    free(p->sql);
    free(p);
}

static int64_t waf_db_pg_changes(struct waf_db *db)
{
    return DB(db)->changes;
}

static const char *waf_db_pg_errmsg(struct waf_db *db)
{
    return DB(db)->errmsg[0] ? DB(db)->errmsg : "not an error";
}

static void waf_db_pg_rollback(struct waf_db *db);

static int waf_db_pg_begin(struct waf_db *db)
{
    if (waf_db_pg_exec(db, "BEGIN; SELECT pg_advisory_xact_lock(" WAF_DB_PG_WRITE_LOCK ")") == 0)
        return 0;
    /* BEGIN ran but the lock timed out: the transaction is open and aborted. The caller saw the
     * begin fail and will not roll back, so do it here, or every later statement on this
     * connection fails ("current transaction is aborted"). */
    waf_db_pg_rollback(db);
    return -1;
}

static void waf_db_pg_rollback(struct waf_db *db)
{
    struct waf_db_pg *d = DB(db);
    if (PQtransactionStatus(d->conn) == PQTRANS_IDLE || d->broken)
        return;
    /* Keep the failure that caused the rollback for waf_db_down(). */
    char sqlstate[6], errmsg[256];
    memcpy(sqlstate, d->sqlstate, sizeof(sqlstate));
    memcpy(errmsg, d->errmsg, sizeof(errmsg));
    PQclear(PQexec(d->conn, "ROLLBACK"));
    memcpy(d->sqlstate, sqlstate, sizeof(sqlstate));
    memcpy(d->errmsg, errmsg, sizeof(errmsg));
}

static int waf_db_pg_commit(struct waf_db *db)
{
    struct waf_db_pg *d = DB(db);
    PGresult *r = PQexec(d->conn, "COMMIT");
    /* A COMMIT of an aborted transaction answers ROLLBACK: that is a failure too. */
    int rc = waf_db_pg_note(d, r);
    if (rc == 0 && strcmp(PQcmdStatus(r), "COMMIT") != 0) {
        snprintf(d->sqlstate, sizeof(d->sqlstate), "40000");
        snprintf(d->errmsg, sizeof(d->errmsg), "the transaction was rolled back");
        rc = -1;
    }
    PQclear(r);
    if (rc < 0)
        waf_db_pg_rollback(db);
    return rc;
}

static int waf_db_pg_down(struct waf_db *db)
{
    struct waf_db_pg *d = DB(db);
    const char *c = d->sqlstate;
    if (d->broken || PQstatus(d->conn) != CONNECTION_OK)
        return WAF_DB_CANNOT_WRITE;
    if (!c[0])
        return WAF_DB_UP;
    /* serialization failure, deadlock, lock or statement timeout: another writer held on */
    if (strncmp(c, "40", 2) == 0 || strcmp(c, "55P03") == 0 || strcmp(c, "57014") == 0)
        return WAF_DB_BUSY;
    /* out of resources, connection trouble, shutdown, read-only standby */
    if (strncmp(c, "53", 2) == 0 || strncmp(c, "08", 2) == 0 || strncmp(c, "57P", 3) == 0 ||
        strcmp(c, "25006") == 0)
        return WAF_DB_CANNOT_WRITE;
    return WAF_DB_UP;
}

static void waf_db_pg_set_busy_wait(struct waf_db *db, int ms)
{
    DB(db)->busy_ms = ms;
    waf_db_pg_settings(DB(db));
}

static int waf_db_pg_get_version(struct waf_db *db, int *version)
{
    struct waf_db_pg *d = DB(db);
    if (waf_db_pg_exec(db, "CREATE TABLE IF NOT EXISTS waf_schema (version INTEGER NOT NULL)") < 0)
        return -1;
    PGresult *r = PQexec(d->conn, "SELECT max(version) FROM waf_schema");
    int rc = waf_db_pg_note(d, r);
    if (rc == 0)
        *version = PQntuples(r) == 1 && !PQgetisnull(r, 0, 0) ? atoi(PQgetvalue(r, 0, 0)) : 0;
    PQclear(r);
    return rc;
}

static int waf_db_pg_set_version(struct waf_db *db, int version)
{
    char sql[96];
    snprintf(sql, sizeof(sql), "DELETE FROM waf_schema; INSERT INTO waf_schema VALUES (%d)",
             version);
    return waf_db_pg_exec(db, sql);
}

static const struct waf_db_ops waf_db_pg_ops = {
    .name = "postgresql",
    .close = waf_db_pg_close,
    .exec = waf_db_pg_exec,
    .prepare = waf_db_pg_prepare,
    .bind_text = waf_db_pg_bind_text,
    .bind_int64 = waf_db_pg_bind_int64,
    .step = waf_db_pg_step,
    .column_type = waf_db_pg_column_type,
    .column_text = waf_db_pg_column_text,
    .column_bytes = waf_db_pg_column_bytes,
    .column_int64 = waf_db_pg_column_int64,
    .reset = waf_db_pg_reset,
    .finalize = waf_db_pg_finalize,
    .changes = waf_db_pg_changes,
    .errmsg = waf_db_pg_errmsg,
    .begin = waf_db_pg_begin,
    .commit = waf_db_pg_commit,
    .rollback = waf_db_pg_rollback,
    .down = waf_db_pg_down,
    .set_busy_wait = waf_db_pg_set_busy_wait,
    .get_version = waf_db_pg_get_version,
    .set_version = waf_db_pg_set_version,
};

int waf_db_pg_open(struct waf_db **out, const char *conninfo, char *err, size_t errlen)
{
    *out = NULL;
    struct waf_db_pg *d = calloc(1, sizeof(*d));
    if (!d) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    d->base.ops = &waf_db_pg_ops;
    d->base.postgres = 1;
    d->busy_ms = WAF_DB_PG_BUSY_MS;
    /* A server that does not answer must not hold the WAF for long (libpq waits forever by
     * default): bounded connect, and over TCP a sent statement that the server's host never
     * acknowledges (a network partition) breaks the connection after tcp_user_timeout instead
     * of holding a store thread. The same keys in the URL itself win, as later parameters. */
    static const char *const keys[] = {"connect_timeout", "tcp_user_timeout", "dbname", NULL};
    const char *const values[] = {WAF_DB_PG_CONNECT_TIMEOUT_S, WAF_DB_PG_TCP_USER_TIMEOUT_MS,
                                  conninfo, NULL};
    d->conn = PQconnectdbParams(keys, values, 1);
    if (!d->conn || PQstatus(d->conn) != CONNECTION_OK) {
        /* libpq's message names host and port, never the password of the URL */
        const char *why = d->conn ? PQerrorMessage(d->conn) : "out of memory";
        snprintf(err, errlen, "cannot connect to PostgreSQL: %.*s", (int)strcspn(why, "\n"), why);
        waf_db_pg_close(&d->base);
        return -1;
    }
    PQsetNoticeProcessor(d->conn, waf_db_pg_quiet, NULL);
    if (waf_db_pg_exec(&d->base, "SET client_min_messages = warning") < 0 ||
        waf_db_pg_settings(d) < 0) {
        snprintf(err, errlen, "PostgreSQL: %s", d->errmsg);
        waf_db_pg_close(&d->base);
        return -1;
    }
    *out = &d->base;
    return 0;
}
