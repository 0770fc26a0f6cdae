#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "log.h"

static void redacted(const char *in, const char *secret)
{
    char buf[512];
    snprintf(buf, sizeof(buf), "%s", in);
    log_redact(buf);
    assert_null(strstr(buf, secret));
}

static void test_bearer_forms(void **state)
{
    redacted("Authorization: Bearer abc.def.ghi", "abc.def");
    redacted("credentials Bearer access_token=\"s3cr3tOpaque\" seen", "s3cr3tOpaque");
    redacted("Proxy-Authorization: Bearer zzzTOKENzzz\r\nVia: x", "zzzTOKENzzz");
}

static void test_jwt_anywhere(void **state)
{
    redacted("token eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln in text", "eyJzdWIiOiJ4In0");
}

static void test_key_value_secrets(void **state)
{
    redacted("grant_type=authorization_code&code=123456&redirect_uri=x", "123456");
    redacted("username=alice&password=hunter2", "hunter2");
    redacted("{\"refresh_token\":\"rt-XYZ\",\"expires_in\":900}", "rt-XYZ");
    redacted("client_secret=topsecret", "topsecret");
}

static void test_keeps_ordinary_text(void **state)
{
    char buf[] = "REGISTER sip:alice@ims.test unicode=yes status 401";
    log_redact(buf);
    assert_string_equal(buf, "REGISTER sip:alice@ims.test unicode=yes status 401");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bearer_forms),
        cmocka_unit_test(test_jwt_anywhere),
        cmocka_unit_test(test_key_value_secrets),
        cmocka_unit_test(test_keeps_ordinary_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
