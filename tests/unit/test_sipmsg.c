/* sipmsg's frozen messages (issue 13): a REGISTER kept per registration for a later
 * de-REGISTER or re-REGISTER is read from the encoding nta's transport made, without the Via nta
 * put on top, and must thaw into the message as it was before nta touched it. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <sofia-sip/msg.h>
#include <sofia-sip/sip.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_protos.h>

#include "gw.h"
#include "sipmsg.h"

struct gw *gw; /* defined by gw_main.c in the daemon */

static const char reg[] = "REGISTER sip:ims.test SIP/2.0\r\n"
                          "Via: SIP/2.0/WS q7k2.invalid;branch=z9hG4bK-client\r\n"
                          "Max-Forwards: 69\r\n"
                          "From: <sip:alice@ims.test>;tag=1\r\n"
                          "To: <sip:alice@ims.test>\r\n"
                          "Call-ID: c1\r\n"
                          "CSeq: 4 REGISTER\r\n"
                          "Contact: <sip:k3v9@q7k2.invalid;transport=ws>\r\n"
                          "Path: <sip:tok@gw.test;transport=tcp;lr>\r\n"
                          "Expires: 600\r\n"
                          "Content-Length: 0\r\n"
                          "\r\n";

static msg_t *parsed(const char *text)
{
    msg_t *m = msg_make(sip_default_mclass(), 0, text, (ssize_t)strlen(text));
    assert_non_null(m);
    assert_non_null(sip_object(m)->sip_request);
    return m;
}

/* What nta_outgoing_mcreate() does to the request: its own Via on top. */
static void nta_via(msg_t *m)
{
    sip_via_t *v = sip_via_make(msg_home(m), "SIP/2.0/TCP 127.0.0.1:5070;branch=z9hG4bK-nta;rport");
    assert_non_null(v);
    assert_int_equal(msg_header_insert(m, (msg_pub_t *)sip_object(m), (msg_header_t *)v), 0);
}

static void test_sent_without_ntas_via(void **unused)
{
    (void)unused;
    msg_t *m = parsed(reg);
    nta_via(m);
    /* a header changed after parsing, as reg_build_upstream changes CSeq: encoded anew */
    sipmsg_set_cseq(m, sip_object(m), 40);
    struct sipmsg_frozen *f = sipmsg_freeze_sent(m);
    assert_non_null(f);
    char *text = strndup(f->text, f->len);
    assert_null(strstr(text, "z9hG4bK-nta"));
    assert_non_null(strstr(text, "Via: SIP/2.0/WS q7k2.invalid;branch=z9hG4bK-client\r\n"));
    assert_non_null(strstr(text, "CSeq: 40 REGISTER\r\n"));
    assert_non_null(strstr(text, "Path: <sip:tok@gw.test;transport=tcp;lr>\r\n"));
    assert_int_equal(strncmp(text, "REGISTER sip:ims.test SIP/2.0\r\n", 31), 0);
    assert_int_equal(strcmp(text + f->len - 4, "\r\n\r\n"), 0);
    msg_t *back = sipmsg_thaw(f);
    assert_non_null(back);
    sip_t const *s = sip_object(back);
    assert_string_equal(s->sip_via->v_branch, "z9hG4bK-client");
    assert_null(s->sip_via->v_next);
    assert_int_equal(s->sip_cseq->cs_seq, 40);
    assert_int_equal(s->sip_expires->ex_delta, 600);
    msg_destroy(back);
    free(text);
    free(f);
    msg_destroy(m);
}

/* The same text as freezing the message before nta added its Via. */
static void test_same_as_before_sending(void **unused)
{
    (void)unused;
    msg_t *m = parsed(reg);
    struct sipmsg_frozen *before = sipmsg_freeze(m);
    assert_non_null(before);
    nta_via(m);
    struct sipmsg_frozen *after = sipmsg_freeze_sent(m);
    assert_non_null(after);
    assert_int_equal(after->len, before->len);
    assert_memory_equal(after->text, before->text, before->len);
    free(before);
    free(after);
    msg_destroy(m);
}

/* Only a Via header counts, not a header whose value mentions one, and none means no copy. */
static void test_no_via(void **unused)
{
    (void)unused;
    msg_t *m = parsed("OPTIONS sip:ims.test SIP/2.0\r\n"
                      "X-Note: Via: not a header\r\n"
                      "Call-ID: c2\r\n"
                      "CSeq: 1 OPTIONS\r\n"
                      "Content-Length: 0\r\n"
                      "\r\n");
    assert_null(sipmsg_freeze_sent(m));
    msg_destroy(m);
    assert_null(sipmsg_freeze_sent(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sent_without_ntas_via),
        cmocka_unit_test(test_same_as_before_sending),
        cmocka_unit_test(test_no_via),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
