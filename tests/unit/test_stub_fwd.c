/* The edits the home proxy makes to a request before forwarding it, on parsed text: popping
 * our own Routes (and spotting the originating Service-Route), the strict-router fix,
 * Max-Forwards, Record-Route on top, and a branch target with its Path pushed as Route in
 * order (RFC 3327 §5.4, checklist 62). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <sofia-sip/msg.h>
#include <sofia-sip/msg_header.h>
#include <sofia-sip/sip.h>
#include <sofia-sip/sip_header.h>

#include "stub_fwd.h"

struct fix {
    su_home_t home[1];
    struct stub_self self;
    msg_t *msg;
};

static int setup(void **state)
{
    struct fix *f = calloc(1, sizeof(*f));
    su_home_init(f->home);
    f->self.listen = url_make(f->home, "sip:127.0.0.1:5070");
    f->self.orig = url_make(f->home, "sip:orig@127.0.0.1:5070;lr");
    f->self.rr = url_make(f->home, "sip:127.0.0.1:5070;transport=tcp;lr");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fix *f = *state;
    if (f->msg)
        msg_destroy(f->msg);
    su_home_deinit(f->home);
    free(f);
    return 0;
}

static sip_t *parse(struct fix *f, const char *head)
{
    char text[2048];
    snprintf(text, sizeof(text),
             "%sVia: SIP/2.0/TCP 127.0.0.1:5080;branch=z9hG4bK-1\r\n"
             "From: <sip:alice@ims.test>;tag=a\r\nTo: <sip:bob@ims.test>\r\n"
             "Call-ID: c1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n",
             head);
    if (f->msg)
        msg_destroy(f->msg);
    f->msg = msg_make(sip_default_mclass(), 0, text, strlen(text));
    assert_non_null(f->msg);
    sip_t *sip = sip_object(f->msg);
    assert_non_null(sip);
    return sip;
}

/* The message as it would be sent. */
static char *text_of(struct fix *f)
{
    size_t len = 0;
    msg_serialize(f->msg, NULL);
    char *s = msg_as_string(f->home, f->msg, NULL, 0, &len);
    assert_non_null(s);
    return s;
}

static void test_pop_own_routes(void **state)
{
    struct fix *f = *state;
    int orig, popped;
    sip_t *sip = parse(f, "INVITE sip:bob@ims.test SIP/2.0\r\n"
                          "Route: <sip:orig@127.0.0.1:5070;lr>, <sip:next.invalid;lr>\r\n"
                          "Max-Forwards: 70\r\n");
    assert_int_equal(stub_fwd_preprocess(f->msg, sip, &f->self, &orig, &popped), 0);
    assert_int_equal(orig, 1);
    assert_int_equal(popped, 1);
    assert_non_null(sip->sip_route);
    assert_string_equal(sip->sip_route->r_url->url_host, "next.invalid");
    assert_null(sip->sip_route->r_next);

    /* Our Record-Route URI (in-dialog) is popped but is not originating; another port is not
     * us. */
    sip = parse(f, "BYE sip:bob@192.0.2.5 SIP/2.0\r\n"
                   "Route: <sip:127.0.0.1:5070;transport=tcp;lr>\r\n"
                   "Route: <sip:127.0.0.1:5071;lr>\r\n");
    assert_int_equal(stub_fwd_preprocess(f->msg, sip, &f->self, &orig, &popped), 0);
    assert_int_equal(orig, 0);
    assert_int_equal(popped, 1);
    assert_string_equal(sip->sip_route->r_url->url_port, "5071");

    sip = parse(f, "MESSAGE sip:bob@ims.test SIP/2.0\r\n");
    assert_int_equal(stub_fwd_preprocess(f->msg, sip, &f->self, &orig, &popped), 0);
    assert_int_equal(popped, 0);
}

static void test_strict_router(void **state)
{
    struct fix *f = *state;
    int orig, popped;
    sip_t *sip = parse(f, "BYE sip:127.0.0.1:5070;transport=tcp;lr SIP/2.0\r\n"
                          "Route: <sip:next.invalid;lr>, <sip:bob@192.0.2.5:5062>\r\n");
    assert_int_equal(stub_fwd_preprocess(f->msg, sip, &f->self, &orig, &popped), 0);
    assert_string_equal(sip->sip_request->rq_url->url_host, "192.0.2.5");
    assert_string_equal(sip->sip_request->rq_url->url_port, "5062");
    assert_non_null(sip->sip_route);
    assert_null(sip->sip_route->r_next);
}

static void test_max_forwards(void **state)
{
    struct fix *f = *state;
    int oom;
    sip_t *sip = parse(f, "INVITE sip:bob@ims.test SIP/2.0\r\nMax-Forwards: 5\r\n");
    assert_int_equal(stub_fwd_max_forwards(f->msg, sip, &oom), 0);
    assert_int_equal(sip->sip_max_forwards->mf_count, 4);
    sip = parse(f, "INVITE sip:bob@ims.test SIP/2.0\r\n");
    assert_int_equal(stub_fwd_max_forwards(f->msg, sip, &oom), 0);
    assert_int_equal(sip->sip_max_forwards->mf_count, 70);
    sip = parse(f, "INVITE sip:bob@ims.test SIP/2.0\r\nMax-Forwards: 0\r\n");
    assert_int_equal(stub_fwd_max_forwards(f->msg, sip, &oom), -1);
    assert_int_equal(oom, 0);
    sip = parse(f, "INVITE sip:bob@ims.test SIP/2.0\r\nMax-Forwards: 4000\r\n");
    assert_int_equal(stub_fwd_max_forwards(f->msg, sip, &oom), 0);
    assert_int_equal(sip->sip_max_forwards->mf_count, 255);
}

static void test_record_route_and_target(void **state)
{
    struct fix *f = *state;
    sip_t *sip = parse(f, "INVITE sip:bob@ims.test SIP/2.0\r\n"
                          "Record-Route: <sip:gw.invalid;lr>\r\nRoute: <sip:after.invalid;lr>\r\n");
    assert_int_equal(stub_fwd_record_route(f->msg, sip, "sip:127.0.0.1:5070;transport=tcp;lr"), 0);
    assert_int_equal(stub_fwd_target(f->msg, sip, "sip:k3v9@q7k2m9x4.invalid;transport=ws",
                                     "<sip:tok@127.0.0.1:5080;transport=tcp;lr;ob>, "
                                     "<sip:second.invalid;lr>"),
                     0);
    char *text = text_of(f);
    assert_non_null(strstr(text, "INVITE sip:k3v9@q7k2m9x4.invalid;transport=ws SIP/2.0\r\n"));
    /* Path first, in its order, then the Route set the request already had. */
    char *r1 = strstr(text, "<sip:tok@127.0.0.1:5080;transport=tcp;lr;ob>");
    char *r2 = strstr(text, "<sip:second.invalid;lr>");
    char *r3 = strstr(text, "<sip:after.invalid;lr>");
    assert_non_null(r1);
    assert_true(r1 < r2 && r2 < r3);
    assert_string_equal(sip->sip_route->r_url->url_user, "tok");
    /* Our Record-Route on top of the one already there. */
    char *rr1 = strstr(text, "<sip:127.0.0.1:5070;transport=tcp;lr>");
    char *rr2 = strstr(text, "<sip:gw.invalid;lr>");
    assert_non_null(rr1);
    assert_true(rr1 < rr2);
    /* Garbage from the store is refused, not sent. */
    assert_int_equal(stub_fwd_target(f->msg, sip, "not a uri", NULL), -1);
    assert_int_equal(stub_fwd_target(f->msg, sip, "sip:x@y", "<<<"), -1);
}

static void test_cancel(void **state)
{
    struct fix *f = *state;
    char text[1024];
    snprintf(text, sizeof(text), "%s",
             "INVITE sip:k3v9@q7k2m9x4.invalid;transport=ws SIP/2.0\r\n"
             "Via: SIP/2.0/TCP 127.0.0.1:5070;branch=z9hG4bK-ours\r\n"
             "Via: SIP/2.0/TCP 127.0.0.1:5080;branch=z9hG4bK-caller\r\n"
             "Route: <sip:tok@127.0.0.1:5080;transport=tcp;lr;ob>\r\n"
             "Record-Route: <sip:127.0.0.1:5070;transport=tcp;lr>\r\n"
             "Max-Forwards: 69\r\nFrom: <sip:alice@ims.test>;tag=a\r\nTo: <sip:bob@ims.test>\r\n"
             "Call-ID: c1\r\nCSeq: 7 INVITE\r\nContact: <sip:alice@192.0.2.1>\r\n"
             "Require: 100rel\r\nSupported: timer\r\nContent-Type: application/sdp\r\n"
             "Content-Length: 4\r\n\r\nv=0\n");
    f->msg = msg_make(sip_default_mclass(), 0, text, strlen(text));
    assert_non_null(f->msg);
    msg_t *c = stub_fwd_cancel(f->msg);
    assert_non_null(c);
    size_t len = 0;
    msg_serialize(c, NULL);
    char *out = msg_as_string(f->home, c, NULL, 0, &len);
    msg_destroy(c);
    assert_non_null(strstr(out, "CANCEL sip:k3v9@q7k2m9x4.invalid;transport=ws SIP/2.0\r\n"));
    assert_non_null(strstr(out, "branch=z9hG4bK-ours"));
    assert_null(strstr(out, "z9hG4bK-caller"));
    assert_non_null(strstr(out, "Route: <sip:tok@127.0.0.1:5080;transport=tcp;lr;ob>\r\n"));
    assert_non_null(strstr(out, "CSeq: 7 CANCEL\r\n"));
    assert_non_null(strstr(out, "To: <sip:bob@ims.test>\r\n"));
    assert_null(strstr(out, "Record-Route"));
    assert_null(strstr(out, "Contact"));
    assert_null(strstr(out, "Require"));
    assert_null(strstr(out, "v=0"));
    /* The request it was made from is untouched. */
    assert_string_equal(sip_object(f->msg)->sip_request->rq_method_name, "INVITE");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pop_own_routes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_strict_router, setup, teardown),
        cmocka_unit_test_setup_teardown(test_max_forwards, setup, teardown),
        cmocka_unit_test_setup_teardown(test_record_route_and_target, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
