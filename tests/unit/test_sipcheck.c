/* sipcheck: the strict Request-Line and address rules (RFC 4475 §3.1.2) on a request sofia-sip
 * already parsed leniently. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <sofia-sip/sip.h>
#include <sofia-sip/sip_header.h>

#include "sipcheck.h"

/* Builds "<line>\r\n" + a valid header block with extra headers, parses it and checks it. */
static int check(const char *request_line, const char *to, const char **phrase)
{
    char text[2048];
    snprintf(text, sizeof(text),
             "%s\r\nVia: SIP/2.0/WS x.invalid;branch=z9hG4bK-1\r\nMax-Forwards: 70\r\n"
             "From: \"A <not an uri\" <sip:a@ims.test>;tag=1\r\nTo: %s\r\nCall-ID: c1\r\n"
             "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
             request_line, to);
    msg_t *msg = msg_make(sip_default_mclass(), 0, text, (ssize_t)strlen(text));
    sip_t *sip = sip_object(msg);
    assert_non_null(sip->sip_request);
    int status = sipcheck_request(text, strlen(text), sip, phrase);
    msg_destroy(msg);
    return status;
}

static void test_good(void **state)
{
    const char *phrase = NULL;
    assert_int_equal(check("OPTIONS sip:b@ims.test SIP/2.0", "<sip:b@ims.test>", &phrase), 0);
    assert_int_equal(check("OPTIONS sip:b@ims.test sip/2.0", "\"B <x>\" <sip:b@ims.test>", &phrase),
                     0);
    assert_int_equal(check("OPTIONS sip:b@ims.test SIP/2.0", "sip:b@ims.test ;x=1", &phrase), 0);
}

static void test_request_line(void **state)
{
    const char *phrase = NULL;
    const char *to = "<sip:b@ims.test>";
    assert_int_equal(check("OPTIONS  sip:b@ims.test SIP/2.0", to, &phrase), 400); /* lwsstart */
    assert_int_equal(check("OPTIONS sip:b@ims.test  SIP/2.0", to, &phrase), 400);
    assert_int_equal(check("OPTIONS sip:b@ims.test SIP/2.0 ", to, &phrase), 400); /* trws */
    assert_int_equal(check("OPTIONS sip:b@ims.test SIP/2.0x", to, &phrase), 400);
    assert_int_equal(check("OPTIONS sip:b@ims.test SIP/7.0", to, &phrase), 505); /* badvers */
    assert_string_equal(phrase, "Version Not Supported");
    assert_int_equal(check("OPTIONS sip:b@ims.test?Route=%3Csip:x%3E SIP/2.0", to, &phrase), 400);
    assert_string_equal(phrase, "Bad Request (headers in the Request-URI)");
}

static void test_addresses(void **state)
{
    const char *phrase = NULL;
    const char *line = "OPTIONS sip:b@ims.test SIP/2.0";
    assert_int_equal(check(line, "\"B\" < sip:b@ims.test >", &phrase), 400); /* badaspec */
    assert_string_equal(phrase, "Bad Request (space inside <> in an address)");
    assert_int_equal(check(line, "<sip:b@ims.test\r\n >", &phrase), 400); /* folded inside <> */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),
        cmocka_unit_test(test_request_line),
        cmocka_unit_test(test_addresses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
