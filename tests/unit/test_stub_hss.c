/* The stub's HSS file: good tables, JSON syntax errors with their position, and every wrong
 * shape refused with one line naming the file and the entry. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "stub_hss.h"

static char path[64];

/* Writes text to a fresh temporary file named in path. */
static const char *write_tmp(const char *text)
{
    snprintf(path, sizeof(path), "/tmp/imsgw-hss-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

/* Loads text; returns the result and leaves the error in err. */
static int load(struct stub_hss *h, const char *text, char *err, size_t errlen)
{
    int rc = stub_hss_load(h, write_tmp(text), err, errlen);
    unlink(path);
    return rc;
}

static void test_good_file(void **state)
{
    struct stub_hss h;
    char err[256];
    assert_int_equal(load(&h,
                          "[{\"impi\": \"alice@ims.test\", \"impu\": [\"sip:alice@ims.test\", "
                          "\"tel:+15550100\"]},\n {\"impi\": \"bob@ims.test\", \"impu\": "
                          "[\"sip:Bob@IMS.test;user=phone\"], \"password\": \"pw-1\"}]",
                          err, sizeof(err)),
                     0);
    assert_int_equal(h.n, 2);
    const struct stub_hss_entry *a = stub_hss_find(&h, "alice@ims.test");
    assert_non_null(a);
    assert_int_equal(a->n_impu, 2);
    assert_string_equal(a->impu[1], "tel:+15550100");
    assert_int_equal(stub_hss_impu_index(a, "tel:+15550100"), 1);
    assert_int_equal(stub_hss_impu_index(a, "sip:bob@ims.test"), -1);
    /* IMPUs compare as AORs: host case and URI parameters do not matter, the user part does. */
    const struct stub_hss_entry *b = stub_hss_find(&h, "bob@ims.test");
    assert_string_equal(b->aor[0], "sip:Bob@ims.test");
    assert_int_equal(stub_hss_impu_index(b, "sip:Bob@ims.test"), 0);
    assert_int_equal(stub_hss_impu_index(b, "sip:bob@ims.test"), -1);
    assert_null(stub_hss_find(&h, "carol@ims.test"));
    /* A password is optional: only users with one can use Digest. */
    assert_null(a->password);
    assert_string_equal(b->password, "pw-1");
    stub_hss_free(&h);
}

static void test_demo_table(void **state)
{
    struct stub_hss h;
    char err[256];
    assert_int_equal(stub_hss_load(&h, "", err, sizeof(err)), 0);
    assert_int_equal(h.n, 2);
    assert_int_equal(stub_hss_impu_index(stub_hss_find(&h, "alice@ims.test"), "sip:alice@ims.test"),
                     0);
    assert_int_equal(stub_hss_impu_index(stub_hss_find(&h, "bob@ims.test"), "sip:bob@ims.test"), 0);
    stub_hss_free(&h);
    assert_int_equal(stub_hss_load(&h, NULL, err, sizeof(err)), 0);
    stub_hss_free(&h);
}

static void test_syntax_error_position(void **state)
{
    struct stub_hss h;
    char err[256];
    assert_int_equal(load(&h,
                          "[\n  {\"impi\": \"a@ims.test\", \"impu\": [\"sip:a@ims.test\"]}\n"
                          "  {\"impi\": \"b\"}\n]\n",
                          err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, ":3:3:"));
    assert_null(strchr(err, '\n'));
    assert_null(h.entries);
    assert_int_equal(stub_hss_load(&h, "/nonexistent/hss.json", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "/nonexistent/hss.json"));
}

static void test_wrong_shapes(void **state)
{
    static const struct {
        const char *json, *expect;
    } cases[] = {
        {"{\"impi\": \"a\"}", "top level"},
        {"[]", "top level"},
        {"[\"alice\"]", "entry 1: must be an object"},
        {"[{\"impu\": [\"sip:a@x\"]}]", "entry 1: \"impi\""},
        {"[{\"impi\": \"\", \"impu\": [\"sip:a@x\"]}]", "entry 1: \"impi\""},
        {"[{\"impi\": 7, \"impu\": [\"sip:a@x\"]}]", "entry 1: \"impi\""},
        {"[{\"impi\": \"a\"}]", "entry 1: \"impu\""},
        {"[{\"impi\": \"a\", \"impu\": []}]", "entry 1: \"impu\""},
        {"[{\"impi\": \"a\", \"impu\": \"sip:a@x\"}]", "entry 1: \"impu\""},
        {"[{\"impi\": \"a\", \"impu\": [1]}]", "entry 1: \"impu\"[0]"},
        {"[{\"impi\": \"a\", \"impu\": [\"sip:a@x\"], \"password\": 7}]", "entry 1: \"password\""},
        {"[{\"impi\": \"a\", \"impu\": [\"sip:a@x\"], \"password\": \"\"}]",
         "entry 1: \"password\""},
        {"[{\"impi\": \"a\", \"impu\": [\"sip:a@x\"]}, {\"impi\": \"b\", \"impu\": [\"alice\"]}]",
         "entry 2: impu \"alice\" is not"},
        {"[{\"impi\": \"a\", \"impu\": [\"https://x\"]}]", "is not a sip:"},
        {"[{\"impi\": \"a\", \"impu\": [\"sip:a@x>\\r\\nX: 1\"]}]", "is not a sip:"},
        {"[{\"impi\": \"a\", \"impu\": [\"sip:a@x\"], \"pw\": \"x\"}]", "unknown key \"pw\""},
        {"[{\"impi\": \"a\", \"impu\": [\"sip:a@x\"]}, {\"impi\": \"a\", \"impu\": [\"sip:b@x\"]}]",
         "entry 2: impi \"a\" is listed twice"},
        {"[{\"impi\": \"a\", \"impi\": \"b\", \"impu\": [\"sip:a@x\"]}]", "duplicate"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct stub_hss h;
        char err[256] = "";
        assert_int_equal(load(&h, cases[i].json, err, sizeof(err)), -1);
        if (!strstr(err, cases[i].expect))
            fail_msg("case %zu: \"%s\" does not contain \"%s\"", i, err, cases[i].expect);
        assert_non_null(strstr(err, path));
        assert_null(h.entries);
        assert_int_equal(h.n, 0);
    }
}

/* The largest table allowed: every user found, none invented. With a walk per lookup the load
 * alone took minutes (each entry is checked for a duplicate): ctest's TIMEOUT bounds it. */
static void test_largest_table(void **state)
{
    size_t cap = (size_t)STUB_HSS_MAX_ENTRIES * 80 + 16;
    char *text = malloc(cap), *p = text;
    assert_non_null(text);
    *p++ = '[';
    for (int i = 0; i < STUB_HSS_MAX_ENTRIES; i++)
        p += sprintf(p, "%s{\"impi\":\"u%d@ims.test\",\"impu\":[\"sip:u%d@ims.test\"]}",
                     i ? "," : "", i, i);
    strcpy(p, "]");
    struct stub_hss h;
    char err[256], impi[32];
    assert_int_equal(load(&h, text, err, sizeof(err)), 0);
    free(text);
    assert_int_equal(h.n, STUB_HSS_MAX_ENTRIES);
    for (int i = 0; i < STUB_HSS_MAX_ENTRIES; i++) {
        snprintf(impi, sizeof(impi), "u%d@ims.test", i);
        const struct stub_hss_entry *e = stub_hss_find(&h, impi);
        assert_non_null(e);
        assert_string_equal(e->impi, impi);
    }
    assert_null(stub_hss_find(&h, "u100000@ims.test"));
    assert_null(stub_hss_find(&h, ""));
    stub_hss_free(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_file),
        cmocka_unit_test(test_demo_table),
        cmocka_unit_test(test_syntax_error_position),
        cmocka_unit_test(test_wrong_shapes),
        cmocka_unit_test(test_largest_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
