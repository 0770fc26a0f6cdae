/* Temporary data directories for the WAF unit tests (linked into each of them). */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

char *waf_test_tmpdir(void);
void waf_test_rmtree(char *dir);

char *waf_test_tmpdir(void)
{
    char *dir = strdup("/tmp/imsgw-waf-test-XXXXXX");
    if (!dir || !mkdtemp(dir)) {
        perror("mkdtemp");
        abort();
    }
    return dir;
}

static int waf_test_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

void waf_test_rmtree(char *dir)
{
    nftw(dir, waf_test_rm, 8, FTW_DEPTH | FTW_PHYS);
    free(dir);
}

/* The database the WAF tests use: "" (SQLite in the data directory), or, when the suite runs
 * under tests/pg/with-pg.sh (IMSGW_TEST_PG set), a fresh PostgreSQL database per call, so each
 * test starts empty as it does with a new data directory. The URL is valid until the next call. */
const char *waf_test_database(void);

const char *waf_test_database(void)
{
    static char url[600];
    static int n;
    const char *base = getenv("IMSGW_TEST_PG"), *host = getenv("IMSGW_TEST_PG_HOST");
    if (!base || !host)
        return "";
    PGconn *c = PQconnectdb(base);
    char sql[96];
    snprintf(sql, sizeof(sql), "CREATE DATABASE unit_%d_%d", (int)getpid(), ++n);
    PGresult *r = c && PQstatus(c) == CONNECTION_OK ? PQexec(c, sql) : NULL;
    if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) {
        fprintf(stderr, "waf_test_database: %s\n", c ? PQerrorMessage(c) : "out of memory");
        abort();
    }
    PQclear(r);
    PQfinish(c);
    snprintf(url, sizeof(url), "postgresql:///unit_%d_%d?host=%s&user=imsgw", (int)getpid(), n,
             host);
    return url;
}
