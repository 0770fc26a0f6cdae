#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "config.h"

struct settings {
    char *listen;
    long port;
    int flag;
    char **origins;
};

static const struct cfg_field fields[] = {
    {"listen", CFG_STR, offsetof(struct settings, listen), 0, 0, "address"},
    {"port", CFG_INT, offsetof(struct settings, port), 1, 65535, "port"},
    {"flag", CFG_BOOL, offsetof(struct settings, flag), 0, 0, "a flag"},
    {"origins", CFG_STRLIST, offsetof(struct settings, origins), 0, 0, "origins"},
    {NULL, 0, 0, 0, 0, NULL},
};
static const struct cfg_program prog = {"test", "test program", fields};

static char *write_tmp(const char *text)
{
    static char path[64];
    snprintf(path, sizeof(path), "/tmp/imsgw-cfg-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

static enum cfg_result load(struct settings *s, const char *json, int extra, char **more, char *err)
{
    char *argv[8] = {"prog"};
    int argc = 1;
    char *path = NULL;
    if (json) {
        path = write_tmp(json);
        argv[argc++] = "--config";
        argv[argc++] = path;
    }
    for (int i = 0; i < extra; i++)
        argv[argc++] = more[i];
    memset(s, 0, sizeof(*s));
    cfg_set_str(&s->listen, "127.0.0.1");
    s->port = 8080;
    int json_log = 0;
    enum cfg_result r = cfg_load_args(&prog, s, argc, argv, &json_log, err, 256);
    if (path)
        unlink(path);
    return r;
}

static void test_file_then_flags(void **state)
{
    struct settings s;
    char err[256];
    char *flags[] = {"--port", "9000"};
    assert_int_equal(
        load(&s, "{\"port\": 5000, \"flag\": true, \"origins\": [\"a\", \"b\"]}", 2, flags, err),
        CFG_OK);
    assert_int_equal(s.port, 9000);
    assert_true(s.flag);
    assert_string_equal(s.origins[1], "b");
    assert_null(s.origins[2]);
    assert_string_equal(s.listen, "127.0.0.1");
    cfg_free(&prog, &s);
}

static void test_syntax_error_names_position(void **state)
{
    struct settings s;
    char err[256];
    assert_int_equal(load(&s, "{\n  \"port\": 5000,\n  oops\n}", 0, NULL, err), CFG_ERROR);
    assert_non_null(strstr(err, "/tmp/imsgw-cfg-"));
    assert_non_null(strstr(err, ":3:"));
    cfg_free(&prog, &s);
}

static void test_rejects_unknown_wrong_type_range(void **state)
{
    struct settings s;
    char err[256];
    assert_int_equal(load(&s, "{\"prot\": 1}", 0, NULL, err), CFG_ERROR);
    assert_non_null(strstr(err, "unknown setting \"prot\""));
    cfg_free(&prog, &s);
    assert_int_equal(load(&s, "{\"port\": \"x\"}", 0, NULL, err), CFG_ERROR);
    cfg_free(&prog, &s);
    assert_int_equal(load(&s, "{\"port\": 70000}", 0, NULL, err), CFG_ERROR);
    cfg_free(&prog, &s);
    char *bad[] = {"--port", "12x"};
    assert_int_equal(load(&s, NULL, 2, bad, err), CFG_ERROR);
    cfg_free(&prog, &s);
    char *unknown[] = {"--nope", "1"};
    assert_int_equal(load(&s, NULL, 2, unknown, err), CFG_ERROR);
    cfg_free(&prog, &s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_file_then_flags),
        cmocka_unit_test(test_syntax_error_names_position),
        cmocka_unit_test(test_rejects_unknown_wrong_type_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
