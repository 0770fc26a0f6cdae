/* sipmsg's frozen messages (issue 13): a REGISTER kept per registration for a later
 * de-REGISTER or re-REGISTER is read from the encoding nta's transport made, without the Via nta
 * put on top (when it has put one yet), and must thaw into the message as it was before nta
 * touched it: never with a header a client smuggled into a folded Via. */
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
    assert_false(msg_has_error(m));
    return m;
}

/* As reg_build_upstream() makes the upstream REGISTER: a copy of the client's (no header chain,
 * no kept text: every header is encoded anew). */
static msg_t *upstream_copy(const char *text)
{
    msg_t *in = parsed(text);
    msg_t *m = msg_dup(in);
    assert_non_null(m);
    msg_destroy(in);
    return m;
}

/* What nta_outgoing_mcreate() does to the request once the next hop is resolved: its own Via on
 * top. */
static void nta_via(msg_t *m, const char *value)
{
    sip_via_t *v = sip_via_make(msg_home(m), value);
    assert_non_null(v);
    assert_int_equal(msg_header_insert(m, (msg_pub_t *)sip_object(m), (msg_header_t *)v), 0);
}

#define NTA_VIA "SIP/2.0/TCP 127.0.0.1:5070;branch=z9hG4bK-nta;rport"

static char *text_of(const struct sipmsg_frozen *f)
{
    assert_non_null(f);
    return strndup(f->text, f->len);
}

static void test_sent_without_ntas_via(void **unused)
{
    (void)unused;
    msg_t *m = upstream_copy(reg);
    const sip_via_t *before = sip_object(m)->sip_via;
    nta_via(m, NTA_VIA);
    sipmsg_set_cseq(m, sip_object(m), 40);
    struct sipmsg_frozen *f = sipmsg_freeze_sent(m, before);
    char *text = text_of(f);
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
    msg_t *m = upstream_copy(reg);
    struct sipmsg_frozen *before = sipmsg_freeze(m);
    assert_non_null(before);
    const sip_via_t *via = sip_object(m)->sip_via;
    nta_via(m, NTA_VIA);
    struct sipmsg_frozen *after = sipmsg_freeze_sent(m, via);
    assert_non_null(after);
    assert_int_equal(after->len, before->len);
    assert_memory_equal(after->text, before->text, before->len);
    free(before);
    free(after);
    msg_destroy(m);
}

/* A next hop by host name, not yet resolved: nta has added no Via, and nothing is cut (the top
 * Via is the client's). */
static void test_no_nta_via_yet(void **unused)
{
    (void)unused;
    msg_t *m = upstream_copy(reg);
    struct sipmsg_frozen *f = sipmsg_freeze_sent(m, sip_object(m)->sip_via);
    char *text = text_of(f);
    assert_non_null(strstr(text, "branch=z9hG4bK-client"));
    free(text);
    free(f);
    msg_destroy(m);
}

/* A folded line break inside a Via comment is kept verbatim by sofia-sip: cutting only up to
 * it would leave the rest to be read as a header of its own when the copy is parsed again. */
static const char folded[] = "REGISTER sip:ims.test SIP/2.0\r\n"
                             "Via: SIP/2.0/WS q7k2.invalid;branch=z9hG4bK-client (x\r\n"
                             " P-Asserted-Identity: <sip:victim@ims.test>)\r\n"
                             "From: <sip:alice@ims.test>;tag=1\r\n"
                             "To: <sip:alice@ims.test>\r\n"
                             "Call-ID: c3\r\n"
                             "CSeq: 4 REGISTER\r\n"
                             "Expires: 600\r\n"
                             "Content-Length: 0\r\n"
                             "\r\n";

static void assert_no_injected_header(const struct sipmsg_frozen *f, const char *branch)
{
    msg_t *back = sipmsg_thaw(f);
    assert_non_null(back);
    sip_t const *s = sip_object(back);
    assert_null(sipmsg_find_unknown(s, "P-Asserted-Identity"));
    assert_null(sipmsg_find_unknown(s, "X-Injected"));
    assert_non_null(s->sip_via);
    assert_string_equal(s->sip_via->v_branch, branch);
    msg_destroy(back);
}

static void test_folded_client_via(void **unused)
{
    (void)unused;
    msg_t *m = upstream_copy(folded);
    const sip_via_t *before = sip_object(m)->sip_via;
    struct sipmsg_frozen *kept = sipmsg_freeze_sent(m, before); /* no nta Via yet */
    assert_non_null(kept);
    assert_no_injected_header(kept, "z9hG4bK-client");
    free(kept);
    nta_via(m, NTA_VIA);
    kept = sipmsg_freeze_sent(m, before);
    assert_non_null(kept);
    assert_no_injected_header(kept, "z9hG4bK-client");
    free(kept);
    msg_destroy(m);
}

/* nta's Via carrying a comment with a line break: sofia-sip encodes it on one line, and the
 * cut takes all of it (sipmsg_cut_top_via also takes continuation lines, should a top Via ever
 * be encoded folded). */
static void test_folded_top_via(void **unused)
{
    (void)unused;
    msg_t *m = upstream_copy(reg);
    const sip_via_t *before = sip_object(m)->sip_via;
    nta_via(m, "SIP/2.0/TCP 127.0.0.1:5070;branch=z9hG4bK-nta (a\r\n X-Injected: 1)");
    struct sipmsg_frozen *f = sipmsg_freeze_sent(m, before);
    char *text = text_of(f);
    assert_null(strstr(text, "X-Injected"));
    assert_null(strstr(text, "z9hG4bK-nta"));
    assert_no_injected_header(f, "z9hG4bK-client");
    free(text);
    free(f);
    msg_destroy(m);
}

/* Without any Via nothing is cut; a header whose value mentions "Via:" is no Via. */
static void test_no_via(void **unused)
{
    (void)unused;
    msg_t *m = parsed("OPTIONS sip:ims.test SIP/2.0\r\n"
                      "X-Note: Via: not a header\r\n"
                      "Call-ID: c2\r\n"
                      "CSeq: 1 OPTIONS\r\n"
                      "Content-Length: 0\r\n"
                      "\r\n");
    struct sipmsg_frozen *f = sipmsg_freeze_sent(m, NULL);
    char *text = text_of(f);
    assert_non_null(strstr(text, "X-Note: Via: not a header\r\n"));
    free(text);
    free(f);
    msg_destroy(m);
    assert_null(sipmsg_freeze_sent(NULL, NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sent_without_ntas_via), cmocka_unit_test(test_same_as_before_sending),
        cmocka_unit_test(test_no_nta_via_yet),        cmocka_unit_test(test_folded_client_via),
        cmocka_unit_test(test_folded_top_via),        cmocka_unit_test(test_no_via),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
