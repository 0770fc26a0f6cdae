/* The stub's settings (defaults, file, flags, checks) and its address helpers. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <sofia-sip/su_alloc.h>

#include "stub_addr.h"
#include "stub_settings.h"

/* Loads the given flags over the defaults; returns the result, err holds the reason. */
static enum cfg_result load(struct stub_settings *s, char **flags, int n, char *err)
{
    char *argv[16] = {"imsgw-ims-stub"};
    for (int i = 0; i < n; i++)
        argv[i + 1] = flags[i];
    int json = 0;
    stub_settings_init(s);
    return stub_settings_load(s, n + 1, argv, &json, err, 256);
}

static void test_defaults(void **state)
{
    struct stub_settings s;
    char err[256];
    assert_int_equal(load(&s, NULL, 0, err), CFG_OK);
    assert_string_equal(s.listen, "sip:127.0.0.1:5060");
    assert_string_equal(s.home_domain, "ims.test");
    assert_string_equal(s.service_route, "sip:orig@127.0.0.1:5060;lr");
    assert_string_equal(s.record_route, "sip:127.0.0.1:5060;transport=tcp;lr");
    assert_int_equal(s.timer_c_ms, 180000);
    assert_int_equal(s.max_transactions, 10000);
    assert_int_equal(s.max_branches, 8);
    assert_string_equal(s.trusted_peers[0], "127.0.0.1");
    assert_null(s.trusted_peers[1]);
    assert_string_equal(s.hss_file, "");
    assert_int_equal(s.auth_digest, 0);
    assert_int_equal(s.min_expires, 60);
    assert_int_equal(s.max_expires, 3600);
    assert_int_equal(s.default_expires, 3600);
    assert_int_equal(s.max_bindings, 10000);
    stub_settings_free(&s);
}

/* The URIs that name the stub follow --listen unless set. */
static void test_derived_uris(void **state)
{
    struct stub_settings s;
    char err[256];
    char *flags[] = {"--listen", "sip:127.0.0.1:5999"};
    assert_int_equal(load(&s, flags, 2, err), CFG_OK);
    assert_string_equal(s.service_route, "sip:orig@127.0.0.1:5999;lr");
    assert_string_equal(s.record_route, "sip:127.0.0.1:5999;transport=tcp;lr");
    stub_settings_free(&s);
    char *set[] = {"--listen",       "sip:127.0.0.1:5999",
                   "--record-route", "sip:stub.invalid:5999;lr",
                   "--timer-c",      "2000"};
    assert_int_equal(load(&s, set, 6, err), CFG_OK);
    assert_string_equal(s.record_route, "sip:stub.invalid:5999;lr");
    assert_int_equal(s.timer_c_ms, 2000);
    stub_settings_free(&s);
    char *bad[] = {"--record-route", "sip:x>\r\nX: 1"};
    assert_int_equal(load(&s, bad, 2, err), CFG_ERROR);
    stub_settings_free(&s);
}

static void test_file_and_flags(void **state)
{
    struct stub_settings s;
    char err[256], path[] = "/tmp/imsgw-stubcfg-XXXXXX";
    const char *json = "{\"auth-mode\": \"digest\", \"trusted-peers\": [\"::1\", \"10.0.0.1\"], "
                       "\"max-expires\": 7200}";
    int fd = mkstemp(path);
    assert_int_equal(write(fd, json, strlen(json)), (ssize_t)strlen(json));
    close(fd);
    char *flags[] = {"--config", path, "--listen", "sip:127.0.0.1:5999"};
    assert_int_equal(load(&s, flags, 4, err), CFG_OK);
    unlink(path);
    assert_int_equal(s.auth_digest, 1);
    assert_string_equal(s.trusted_peers[1], "10.0.0.1");
    assert_int_equal(s.max_expires, 7200);
    assert_string_equal(s.listen, "sip:127.0.0.1:5999");
    stub_settings_free(&s);
}

static void test_bad_settings(void **state)
{
    static const struct {
        char *flag, *value, *expect;
    } cases[] = {
        {"--auth-mode", "none", "auth-mode"},
        {"--trusted-peers", "127.0.0.1,localhost", "\"localhost\" is not an IP address"},
        {"--listen", "http://127.0.0.1", "listen"},
        {"--service-route", "not a uri", "service-route"},
        {"--service-route", "sip:orig@x>\r\nX-Evil: 1", "service-route"},
        {"--min-expires", "0", "min-expires"},
        {"--min-expires", "4000", "min-expires <= default-expires"},
        {"--default-expires", "30", "min-expires <= default-expires"},
        {"--max-bindings", "0", "max-bindings"},
        {"--home-domain", "", "home-domain"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct stub_settings s;
        char err[256] = "";
        char *flags[] = {cases[i].flag, cases[i].value};
        assert_int_equal(load(&s, flags, 2, err), CFG_ERROR);
        if (!strstr(err, cases[i].expect))
            fail_msg("case %zu: \"%s\" does not contain \"%s\"", i, err, cases[i].expect);
        stub_settings_free(&s);
    }
}

static void test_aor(void **state)
{
    su_home_t home[1] = {SU_HOME_INIT(home)};
    assert_string_equal(stub_aor_text(home, "sip:Alice@IMS.Test;transport=tcp"),
                        "sip:Alice@ims.test");
    assert_string_equal(stub_aor_text(home, "sip:alice@ims.test:5060"), "sip:alice@ims.test:5060");
    assert_string_equal(stub_aor_text(home, "sips:ims.test"), "sips:ims.test");
    assert_string_equal(stub_aor_text(home, "tel:+15550100"), "tel:+15550100");
    assert_null(stub_aor_text(home, "https://ims.test/"));
    assert_null(stub_aor_text(home, "alice"));
    assert_null(stub_aor_text(home, "sip:a@x>, <sip:b@y"));
    assert_null(stub_aor_text(home, "sip:a@x\r\nX: y"));
    assert_null(stub_aor_text(home, NULL));
    su_home_deinit(home);
}

static void test_ip(void **state)
{
    char *list[] = {"127.0.0.1", "2001:db8::1", NULL};
    assert_true(stub_ip_in_list("127.0.0.1", list));
    assert_true(stub_ip_in_list("::ffff:127.0.0.1", list));
    assert_true(stub_ip_in_list("2001:DB8:0::1", list));
    assert_false(stub_ip_in_list("127.0.0.2", list));
    assert_false(stub_ip_in_list("-", list));
    assert_false(stub_ip_in_list(NULL, list));
    assert_true(stub_ip_valid("::1"));
    assert_false(stub_ip_valid("127.0.0.1/8"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),     cmocka_unit_test(test_file_and_flags),
        cmocka_unit_test(test_bad_settings), cmocka_unit_test(test_aor),
        cmocka_unit_test(test_ip),           cmocka_unit_test(test_derived_uris),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
