/* IMS Digest responses the WAF computes for the gateway (issue 11): RFC 2617 §3.5's example. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "waf_imscred.h"

/* HA1 = MD5("Mufasa:testrealm@host.com:Circle Of Life") */
#define HA1 "939e7578ed9e3c518a452acee763bce9"

static void test_rfc2617_example(void **state)
{
    (void)state;
    char out[33];
    assert_int_equal(waf_imscred_response(HA1, "dcd98b7102dd2f0e8b11d0f600bfb0c093", "00000001",
                                          "0a4f113b", "auth", "GET", "/dir/index.html", out),
                     0);
    assert_string_equal(out, "6629fae49393a05397450978507c4ef1");
}

static void test_without_qop_differs(void **state)
{
    (void)state;
    char a[33], b[33];
    assert_int_equal(waf_imscred_response(HA1, "n", NULL, NULL, NULL, "REGISTER", "sip:x", a), 0);
    assert_int_equal(
        waf_imscred_response(HA1, "n", "00000001", "c", "auth", "REGISTER", "sip:x", b), 0);
    assert_string_not_equal(a, b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc2617_example),
        cmocka_unit_test(test_without_qop_differs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
