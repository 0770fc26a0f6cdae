/* WAF settings: defaults, bounds, the issuer rule (https off loopback) and the RFC 8414 document.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "waf_metadata.h"
#include "waf_settings.h"

static void test_defaults_are_valid(void **state)
{
    struct waf_settings s;
    char err[256];
    waf_settings_defaults(&s);
    assert_int_equal(waf_settings_check(&s, err, sizeof(err)), 0);
    assert_string_equal(s.issuer, "http://127.0.0.1:9090");
    assert_int_equal(s.port, 9090);
    assert_int_equal(s.token_lifetime, 900);
    assert_string_equal(s.audience, "sip:ims.test");
    waf_settings_free(&s);
}

static void test_issuer_accepted(void **state)
{
    const char *good[] = {"http://127.0.0.1:9090",   "http://localhost:9090",
                          "http://[::1]:9090",       "http://127.0.0.1",
                          "https://waf.example.net", "https://waf.example.net:8443/oauth",
                          "https://[2001:db8::1]"};
    char err[256];
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        if (url_check_https_or_loopback("issuer", good[i], err, sizeof(err)) != 0)
            fail_msg("%s refused: %s", good[i], err);
    }
}

static void test_issuer_refused(void **state)
{
    const char *bad[] = {"http://waf.example.net",
                         "http://127.0.0.1.evil.example",
                         "http://127.0.0.1@evil.example",
                         "http://localhost.evil.example:9090",
                         "http://[::2]:9090",
                         "https://waf.example.net/",
                         "https://x/?a=1",
                         "https://x#f",
                         "ftp://x",
                         "",
                         "https://",
                         "https://:443",
                         "http://127.0.0.1:99999",
                         "http://127.0.0.1:0",
                         "http://127.0.0.1:9x",
                         "https://[::1",
                         "https://wa f.example.net",
                         "HTTPS://waf.example.net",
                         "https://user:pw@waf.example.net",
                         "waf.example.net"};
    char err[256];
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (url_check_https_or_loopback("issuer", bad[i], err, sizeof(err)) == 0)
            fail_msg("issuer \"%s\" accepted", bad[i]);
    assert_int_equal(
        url_check_https_or_loopback("issuer", "http://waf.example.net", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "https"));
}

static enum cfg_result load(struct waf_settings *s, int argc, char **argv, char *err)
{
    int json = 0;
    waf_settings_defaults(s);
    return cfg_load_args(&waf_program, s, argc, argv, &json, err, 256);
}

static void test_flags_and_bounds(void **state)
{
    struct waf_settings s;
    char err[256];
    char *ok[] = {"imsgw-waf",        "--port", "19090", "--issuer", "https://waf.example.net",
                  "--token-lifetime", "600"};
    assert_int_equal(load(&s, 7, ok, err), CFG_OK);
    assert_int_equal(waf_settings_check(&s, err, sizeof(err)), 0);
    assert_int_equal(s.port, 19090);
    assert_int_equal(s.token_lifetime, 600);
    waf_settings_free(&s);

    char *short_life[] = {"imsgw-waf", "--token-lifetime", "59"};
    assert_int_equal(load(&s, 3, short_life, err), CFG_ERROR);
    waf_settings_free(&s);
    char *long_life[] = {"imsgw-waf", "--token-lifetime", "86401"};
    assert_int_equal(load(&s, 3, long_life, err), CFG_ERROR);
    waf_settings_free(&s);

    char *plain[] = {"imsgw-waf", "--issuer", "http://waf.example.net"};
    assert_int_equal(load(&s, 3, plain, err), CFG_OK);
    assert_int_equal(waf_settings_check(&s, err, sizeof(err)), -1);
    waf_settings_free(&s);

    char *domain[] = {"imsgw-waf", "--home-domain", "IMS.test"};
    assert_int_equal(load(&s, 3, domain, err), CFG_OK);
    assert_int_equal(waf_settings_check(&s, err, sizeof(err)), -1);
    waf_settings_free(&s);
}

static const char *member(json_t *doc, const char *name)
{
    return json_string_value(json_object_get(doc, name));
}

static int list_has(json_t *doc, const char *name, const char *value)
{
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(doc, name), i,
                       v) if (strcmp(json_string_value(v), value) == 0) return 1;
    return 0;
}

static void test_metadata_document(void **state)
{
    json_t *m = waf_metadata_build("https://waf.example.net/oauth");
    assert_non_null(m);
    assert_string_equal(member(m, "issuer"), "https://waf.example.net/oauth");
    assert_string_equal(member(m, "jwks_uri"), "https://waf.example.net/oauth/jwks.json");
    assert_string_equal(member(m, "token_endpoint"), "https://waf.example.net/oauth/token");
    assert_string_equal(member(m, "authorization_endpoint"),
                        "https://waf.example.net/oauth/authorize");
    assert_string_equal(member(m, "introspection_endpoint"),
                        "https://waf.example.net/oauth/introspect");
    assert_string_equal(member(m, "revocation_endpoint"), "https://waf.example.net/oauth/revoke");
    assert_true(list_has(m, "response_types_supported", "code"));
    assert_int_equal(json_array_size(json_object_get(m, "response_types_supported")), 1);
    assert_true(list_has(m, "code_challenge_methods_supported", "S256"));
    assert_false(list_has(m, "code_challenge_methods_supported", "plain"));
    assert_true(list_has(m, "grant_types_supported", "client_credentials"));
    assert_true(list_has(m, "token_endpoint_auth_methods_supported", "none"));
    assert_true(list_has(m, "scopes_supported", "ims:register"));
    json_decref(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_are_valid), cmocka_unit_test(test_issuer_accepted),
        cmocka_unit_test(test_issuer_refused),     cmocka_unit_test(test_flags_and_bounds),
        cmocka_unit_test(test_metadata_document),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
