/* The operator's credential (admin_auth) and the admin-listen address parser, with hostile
 * input: only "Basic base64(operator:password)" of the file's password is accepted. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <libwebsockets.h>

#include "admin_auth.h"
#include "gw_settings.h"

struct gw;
struct gw *gw; /* not touched by the code under test (defined by gw_main.c) */

#define PASSWORD "correct-horse-battery-9"

static char *basic(const char *pair)
{
    static char out[1024];
    char b64[900];
    lws_b64_encode_string(pair, (int)strlen(pair), b64, sizeof(b64));
    snprintf(out, sizeof(out), "Basic %s", b64);
    return out;
}

static int load(const char *content, mode_t mode, char *err, size_t errlen)
{
    char path[] = "/tmp/imsgw-admin-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
    fchmod(fd, mode);
    close(fd);
    int rc = admin_auth_load(path, err, errlen);
    unlink(path);
    return rc;
}

static void test_credential(void **state)
{
    (void)state;
    char err[256];
    assert_false(admin_auth_enabled());
    assert_false(admin_auth_check(basic("operator:" PASSWORD)));
    assert_int_equal(load("short\n", 0600, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "16 to 512"));
    assert_int_equal(load(PASSWORD "\n", 0644, err, sizeof(err)), -1); /* readable by others */
    assert_false(admin_auth_enabled());
    assert_int_equal(load(PASSWORD "\nsecond line ignored\n", 0600, err, sizeof(err)), 0);
    assert_true(admin_auth_enabled());

    assert_true(admin_auth_check(basic("operator:" PASSWORD)));
    char lower[1024];
    snprintf(lower, sizeof(lower), "basic %s", basic("operator:" PASSWORD) + 6);
    assert_true(admin_auth_check(lower)); /* the scheme is case-insensitive (RFC 7617) */

    assert_false(admin_auth_check(NULL));
    assert_false(admin_auth_check(""));
    assert_false(admin_auth_check("Basic"));
    assert_false(admin_auth_check("Basic "));
    assert_false(admin_auth_check("Bearer " PASSWORD));
    assert_false(admin_auth_check(basic("admin:" PASSWORD)));
    assert_false(admin_auth_check(basic("operator:" PASSWORD "x")));
    assert_false(admin_auth_check(basic("operator:"
                                        "correct-horse-battery-")));
    assert_false(admin_auth_check(basic("operator:")));
    assert_false(admin_auth_check(basic(":" PASSWORD)));
    assert_false(admin_auth_check("Basic !!!!not base64!!!!"));
    char huge[4096];
    memset(huge, 'A', sizeof(huge) - 1);
    huge[sizeof(huge) - 1] = '\0';
    memcpy(huge, "Basic ", 6);
    assert_false(admin_auth_check(huge)); /* longer than any acceptable pair: refused unread */
}

static void test_host_port(void **state)
{
    (void)state;
    char host[64];
    long port;
    assert_int_equal(gw_settings_host_port("127.0.0.1:9180", host, sizeof(host), &port), 0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 9180);
    assert_int_equal(gw_settings_host_port("[::1]:80", host, sizeof(host), &port), 0);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 80);
    const char *bad[] = {"",     "9180",  ":9180",  "127.0.0.1:", "127.0.0.1:0", "h:65536", "h:-1",
                         "h:+1", "h:80x", "::1:80", "[::1:80",    "[]:80",       "h: 80",   NULL};
    for (const char **b = bad; *b; b++)
        assert_int_equal(gw_settings_host_port(*b, host, sizeof(host), &port), -1);
    char tiny[4];
    assert_int_equal(gw_settings_host_port("localhost:80", tiny, sizeof(tiny), &port), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_credential),
        cmocka_unit_test(test_host_port),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
