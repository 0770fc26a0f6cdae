/* WAF store: users and IMPUs in SQLite, validation before any write, values stored literally. */
#include <sys/stat.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <libpq-fe.h>
#include <sqlite3.h>

#include "waf_db.h"
#include "waf_password.h"
#include "waf_store.h"

char *waf_test_tmpdir(void);
const char *waf_test_database(void);
void waf_test_rmtree(char *dir);

/* A syntactically valid argon2id hash; the store does not verify it. */
#define FAKE_HASH                                                                                  \
    "$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$"                                        \
    "aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"

struct fixture {
    char *dir;
    char database[600]; /* "" = SQLite in dir */
    struct waf_store *st;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    char err[256];
    f->dir = waf_test_tmpdir();
    snprintf(f->database, sizeof(f->database), "%s", waf_test_database());
    if (waf_store_open_db(&f->st, f->database, f->dir, NULL, err, sizeof(err)) != WAF_STORE_OK) {
        fprintf(stderr, "open: %s\n", err);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    waf_store_close(f->st);
    waf_test_rmtree(f->dir);
    free(f);
    return 0;
}

static int add(struct waf_store *st, const char *name, const char *impi, const char *impu1,
               const char *impu2, char *err)
{
    const char *impus[] = {impu1, impu2};
    struct waf_user u;
    if (waf_user_build(&u, name, impi, "ims.test", impus, impu2 ? 2 : 1, err, 256) < 0)
        return WAF_STORE_INVALID;
    return waf_store_user_add(st, &u, FAKE_HASH, err, 256);
}

static void test_add_get_default_impi(void **state)
{
    struct fixture *f = *state;
    char err[256];
    assert_int_equal(add(f->st, "alice", NULL, "sip:alice@ims.test", "tel:+15551234", err), 0);
    struct waf_user u;
    assert_int_equal(waf_store_user_get(f->st, "alice", &u, err, sizeof(err)), 0);
    assert_string_equal(u.name, "alice");
    assert_string_equal(u.impi, "alice@ims.test");
    assert_int_equal(u.n_impu, 2);
    assert_string_equal(u.impu[0], "sip:alice@ims.test");
    assert_string_equal(u.impu[1], "tel:+15551234");
    assert_true(u.id > 0);
    assert_true(u.created_at > 0);
    char hash[WAF_HASH_MAX];
    assert_int_equal(waf_store_user_password(f->st, "alice", hash, sizeof(hash), err, sizeof(err)),
                     0);
    assert_string_equal(hash, FAKE_HASH);
    assert_int_equal(waf_store_user_get(f->st, "bob", &u, err, sizeof(err)), WAF_STORE_NOT_FOUND);
}

static void test_duplicate_refused(void **state)
{
    struct fixture *f = *state;
    char err[256];
    assert_int_equal(add(f->st, "alice", NULL, "sip:alice@ims.test", NULL, err), 0);
    assert_int_equal(add(f->st, "alice", NULL, "sip:other@ims.test", NULL, err), WAF_STORE_EXISTS);
    assert_non_null(strstr(err, "already exists"));
    struct waf_user u;
    assert_int_equal(waf_store_user_get(f->st, "alice", &u, err, sizeof(err)), 0);
    assert_string_equal(u.impu[0], "sip:alice@ims.test"); /* the first one is untouched */
}

static void test_invalid_input_refused(void **state)
{
    struct fixture *f = *state;
    char err[256], long_name[80], long_impu[300];
    memset(long_name, 'a', 65);
    long_name[65] = '\0';
    snprintf(long_impu, sizeof(long_impu), "sip:%0253d", 0); /* 257 characters */
    const char *names[] = {"", "Alice", "a b", "../x", "al'ce", "a;b", long_name, "ali\xc3\xa9"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        assert_int_equal(add(f->st, names[i], NULL, "sip:x@ims.test", NULL, err),
                         WAF_STORE_INVALID);
    const char *impus[] = {"http://x", "sip:",    "sip:a b@x", "sip:a\x01@x",
                           "SIP:a@x",  long_impu, "sips:a@x"};
    for (size_t i = 0; i < sizeof(impus) / sizeof(impus[0]); i++)
        assert_int_equal(add(f->st, "carol", NULL, impus[i], NULL, err), WAF_STORE_INVALID);
    assert_int_equal(add(f->st, "carol", NULL, "sip:c@x", "sip:c@x", err), WAF_STORE_INVALID);
    assert_int_equal(add(f->st, "carol", "no-realm", "sip:c@x", NULL, err), WAF_STORE_INVALID);
    assert_int_equal(add(f->st, "carol", "c @x", "sip:c@x", NULL, err), WAF_STORE_INVALID);
    /* 256 characters is still fine */
    long_impu[256] = '\0';
    assert_int_equal(add(f->st, "carol", NULL, long_impu, NULL, err), 0);

    struct waf_user u;
    const char *none[] = {NULL};
    assert_int_equal(waf_user_build(&u, "dave", NULL, "ims.test", none, 0, err, sizeof(err)), -1);
    assert_int_equal(waf_store_user_get(f->st, "Alice'--", &u, err, sizeof(err)),
                     WAF_STORE_INVALID);
    assert_int_equal(waf_store_user_add(f->st, &(struct waf_user){0}, FAKE_HASH, err, sizeof(err)),
                     WAF_STORE_INVALID);
    assert_int_equal(add(f->st, "erin", NULL, "sip:e@x", NULL, err), 0);
    assert_int_equal(waf_store_user_get(f->st, "erin", &u, err, sizeof(err)), 0);
    assert_int_equal(waf_store_user_add(f->st, &u, "plaintext-password", err, sizeof(err)),
                     WAF_STORE_INVALID);
}

static int count_user(const struct waf_user *u, void *arg)
{
    (*(int *)arg)++;
    return 0;
}

static void test_sql_looking_values_are_literal(void **state)
{
    struct fixture *f = *state;
    char err[256];
    const char *impi = "x');DROP_TABLE_users;--@ims.test";
    const char *impu = "sip:'OR'1'='1\";--@ims.test";
    assert_int_equal(add(f->st, "mallory", impi, impu, "tel:1;DELETE_FROM_users", err), 0);
    struct waf_user u;
    assert_int_equal(waf_store_user_get(f->st, "mallory", &u, err, sizeof(err)), 0);
    assert_string_equal(u.impi, impi);
    assert_string_equal(u.impu[0], impu);
    assert_string_equal(u.impu[1], "tel:1;DELETE_FROM_users");
    int n = 0;
    assert_int_equal(waf_store_user_list(f->st, count_user, &n, err, sizeof(err)), 0);
    assert_int_equal(n, 1);
}

struct names {
    char list[4][WAF_NAME_MAX + 1];
    size_t n_impu[4];
    int n;
};

static int collect(const struct waf_user *u, void *arg)
{
    struct names *c = arg;
    if (c->n < 4) {
        strcpy(c->list[c->n], u->name);
        c->n_impu[c->n] = u->n_impu;
    }
    c->n++;
    return 0;
}

static void test_list_del_and_ids_not_reused(void **state)
{
    struct fixture *f = *state;
    char err[256];
    assert_int_equal(add(f->st, "carol", NULL, "sip:carol@ims.test", NULL, err), 0);
    assert_int_equal(add(f->st, "alice", NULL, "sip:alice@ims.test", "sip:a2@ims.test", err), 0);
    assert_int_equal(add(f->st, "bob", NULL, "sip:bob@ims.test", NULL, err), 0);
    struct names c = {0};
    assert_int_equal(waf_store_user_list(f->st, collect, &c, err, sizeof(err)), 0);
    assert_int_equal(c.n, 3);
    assert_string_equal(c.list[0], "alice"); /* ordered by name */
    assert_int_equal(c.n_impu[0], 2);
    assert_string_equal(c.list[2], "carol");

    struct waf_user u;
    assert_int_equal(waf_store_user_get(f->st, "bob", &u, err, sizeof(err)), 0);
    int64_t old_id = u.id;
    assert_int_equal(waf_store_user_del(f->st, "bob", err, sizeof(err)), 0);
    assert_int_equal(waf_store_user_del(f->st, "bob", err, sizeof(err)), WAF_STORE_NOT_FOUND);
    assert_int_equal(waf_store_user_get(f->st, "bob", &u, err, sizeof(err)), WAF_STORE_NOT_FOUND);
    assert_int_equal(add(f->st, "bob", NULL, "sip:bob@ims.test", NULL, err), 0);
    assert_int_equal(waf_store_user_get(f->st, "bob", &u, err, sizeof(err)), 0);
    assert_true(u.id > old_id); /* a new bob never inherits the old bob's sub */
    memset(&c, 0, sizeof(c));
    assert_int_equal(waf_store_user_list(f->st, collect, &c, err, sizeof(err)), 0);
    assert_int_equal(c.n, 3);
}

static sqlite3 *raw_open(const char *dir)
{
    char path[512];
    sqlite3 *db;
    snprintf(path, sizeof(path), "%s/%s", dir, WAF_STORE_FILE);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    return db;
}

static int raw_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    int v = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    return v;
}

static void test_schema_wal_reopen_and_newer_refused(void **state)
{
    struct fixture *f = *state;
    char err[256];
    assert_int_equal(add(f->st, "alice", NULL, "sip:alice@ims.test", NULL, err), 0);
    if (f->database[0]) {
        /* PostgreSQL: reopening keeps the data and migrates nothing; the version is stored in
         * waf_schema, and one written by a newer imsgw-waf is refused */
        waf_store_close(f->st);
        assert_int_equal(waf_store_open_db(&f->st, f->database, f->dir, NULL, err, sizeof(err)), 0);
        struct waf_user u;
        assert_int_equal(waf_store_user_get(f->st, "alice", &u, err, sizeof(err)), 0);
        assert_int_equal(waf_db_exec(waf_store_db(f->st), "UPDATE waf_schema SET version = 99"), 0);
        waf_store_close(f->st);
        f->st = NULL;
        assert_int_equal(waf_store_open_db(&f->st, f->database, f->dir, NULL, err, sizeof(err)),
                         WAF_STORE_ERROR);
        assert_non_null(strstr(err, "newer"));
        return;
    }
    sqlite3 *db = raw_open(f->dir);
    assert_int_equal(raw_int(db, "PRAGMA user_version"), waf_store_schema_version());
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(s, 0), "wal");
    sqlite3_finalize(s);

    /* reopening keeps the data and migrates nothing */
    waf_store_close(f->st);
    assert_int_equal(waf_store_open(&f->st, f->dir, err, sizeof(err)), 0);
    struct waf_user u;
    assert_int_equal(waf_store_user_get(f->st, "alice", &u, err, sizeof(err)), 0);

    /* a database written by a newer imsgw-waf is refused rather than misread */
    waf_store_close(f->st);
    f->st = NULL;
    assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(waf_store_open(&f->st, f->dir, err, sizeof(err)), WAF_STORE_ERROR);
    assert_null(f->st);
    assert_non_null(strstr(err, "newer"));
}

/* A database at schema 6 with DPoP rows in it (as a WAF of before session 14 left it) is
 * migrated to 7: the rows stay, without a key, and the new column and its index work. */
static void test_migration_7_keeps_dpop_rows(void **state)
{
    struct fixture *f = *state;
    char err[256];
    struct waf_db *db = waf_store_db(f->st);
    assert_int_equal(waf_db_exec(db, "DROP INDEX dpop_jtis_jkt"), 0);
    assert_int_equal(waf_db_exec(db, "ALTER TABLE dpop_jtis DROP COLUMN jkt"), 0);
    assert_int_equal(
        waf_db_exec(db, "INSERT INTO dpop_jtis (id, expires_at) VALUES ('old', 4000000000)"), 0);
    assert_int_equal(waf_db_exec(db, f->database[0] ? "UPDATE waf_schema SET version = 6"
                                                    : "PRAGMA user_version = 6"),
                     0);
    waf_store_close(f->st);
    f->st = NULL;
    assert_int_equal(waf_store_open_db(&f->st, f->database, f->dir, NULL, err, sizeof(err)), 0);
    db = waf_store_db(f->st);
    struct waf_stmt *s;
    assert_int_equal(waf_db_prepare(db,
                                    "SELECT count(*) FROM dpop_jtis WHERE id = 'old' AND "
                                    "expires_at = 4000000000 AND jkt IS NULL",
                                    &s),
                     WAF_DB_OK);
    assert_int_equal(waf_db_step(s), WAF_DB_ROW);
    assert_int_equal(waf_db_column_int64(s, 0), 1);
    waf_db_finalize(s);
    assert_int_equal(
        waf_db_exec(db, "INSERT INTO dpop_jtis (id, expires_at, jkt) VALUES ('new', 1, 'k')"), 0);
}

/* PostgreSQL: a write lock that another WAF holds too long makes begin fail as "busy"; the
 * connection must stay usable afterwards (BEGIN had run: its aborted transaction is rolled back),
 * or every later request of that WAF fails. */
static void test_pg_lock_timeout_leaves_connection_usable(void **state)
{
    struct fixture *f = *state;
    char err[256];
    if (!f->database[0])
        skip();
    assert_int_equal(add(f->st, "alice", NULL, "sip:alice@ims.test", NULL, err), 0);
    PGconn *other = PQconnectdb(f->database);
    assert_int_equal(PQstatus(other), CONNECTION_OK);
    PQclear(PQexec(other, "BEGIN; SELECT pg_advisory_xact_lock(7421207)"));
    waf_store_set_busy_wait(f->st, 100);
    assert_int_equal(waf_store_begin(f->st), -1);
    assert_int_equal(waf_store_unavailable(f->st), WAF_STORE_BUSY);
    PQclear(PQexec(other, "ROLLBACK"));
    PQfinish(other);
    struct waf_user u;
    assert_int_equal(waf_store_user_get(f->st, "alice", &u, err, sizeof(err)), 0);
    assert_int_equal(waf_store_begin(f->st), 0);
    assert_int_equal(waf_store_commit(f->st), 0);
}

static void test_password_hash_and_verify(void **state)
{
    struct waf_argon2 p = {1, 1024, 1};
    char h1[WAF_HASH_MAX], h2[WAF_HASH_MAX], err[256];
    assert_int_equal(waf_password_hash(&p, "correct horse", h1, sizeof(h1), err, sizeof(err)), 0);
    assert_int_equal(waf_password_hash(&p, "correct horse", h2, sizeof(h2), err, sizeof(err)), 0);
    assert_int_equal(strncmp(h1, "$argon2id$v=19$m=1024,t=1,p=1$", 30), 0);
    assert_string_not_equal(h1, h2); /* fresh salt each time */
    assert_true(waf_password_verify(h1, "correct horse"));
    assert_false(waf_password_verify(h1, "correct horsE"));
    assert_false(waf_password_verify("$argon2id$garbage", "correct horse"));
    char tiny[20];
    assert_int_equal(waf_password_hash(&p, "x", tiny, sizeof(tiny), err, sizeof(err)), -1);
    assert_int_equal(waf_password_policy("1234567", err, sizeof(err)), -1);
    assert_int_equal(waf_password_policy("12345678", err, sizeof(err)), 0);
    char g1[WAF_PASSWORD_GEN_SIZE], g2[WAF_PASSWORD_GEN_SIZE];
    waf_password_generate(g1);
    waf_password_generate(g2);
    assert_int_equal(strlen(g1), 16);
    assert_string_not_equal(g1, g2);
}

int main(void)
{
    /* As imsgw-waf does: the database is a secret file (0600), or waf_store_open() refuses it. */
    umask(077);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_add_get_default_impi, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_input_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sql_looking_values_are_literal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_del_and_ids_not_reused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_schema_wal_reopen_and_newer_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migration_7_keeps_dpop_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pg_lock_timeout_leaves_connection_usable, setup,
                                        teardown),
        cmocka_unit_test(test_password_hash_and_verify),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
