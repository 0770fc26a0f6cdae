/* The home proxy's routing decisions without sockets: the RFC 5626 §7 target set of an AOR
 * (one branch per instance, every binding without instance, the bound), the next flow of an
 * instance after a 430, the RFC 3261 §16.7 best response, and recognising our own URIs. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <sofia-sip/su_alloc.h>
#include <sofia-sip/url.h>

#include "stub_route.h"

#define NOW 1767225601
#define AOR "sip:bob@ims.test"
#define INST1 "\"<urn:uuid:00000000-0000-0000-0000-000000000001>\""
#define INST2 "\"<urn:uuid:00000000-0000-0000-0000-000000000002>\""

static void add(struct stub_bindings *s, const char *inst, long reg_id, const char *uri,
                const char *path, int64_t expires_at)
{
    struct stub_binding_data d = {uri, path, "call-id", 1, expires_at};
    assert_non_null(stub_bindings_add(s, AOR, inst, reg_id, uri, &d));
}

static void test_targets_one_per_instance(void **state)
{
    su_home_t home[1] = {SU_HOME_INIT(home)};
    struct stub_bindings *s = stub_bindings_new(100);
    struct stub_target t[8];
    assert_int_equal(stub_route_targets(home, s, AOR, NOW, t, 8), 0);
    /* Instance 1 on two flows: the one refreshed last is the one tried first. */
    add(s, INST1, 1, "sip:a@ws1.invalid;transport=ws", "<sip:tok1@127.0.0.1:5070;lr;ob>",
        NOW + 100);
    add(s, INST1, 2, "sip:a@ws1.invalid;transport=ws", "<sip:tok2@127.0.0.1:5070;lr;ob>",
        NOW + 600);
    add(s, INST2, 1, "sip:b@ws2.invalid;transport=ws", NULL, NOW + 600);
    add(s, NULL, 0, "sip:bob@192.0.2.5:5060", NULL, NOW + 600);
    add(s, NULL, 0, "sip:bob@192.0.2.6:5060", NULL, NOW - 1); /* expired */
    size_t n = stub_route_targets(home, s, AOR, NOW, t, 8);
    assert_int_equal(n, 3);
    int seen_inst1 = 0, seen_inst2 = 0, seen_plain = 0;
    for (size_t i = 0; i < n; i++) {
        if (t[i].instance && strcmp(t[i].instance, INST1) == 0) {
            seen_inst1++;
            assert_int_equal(t[i].reg_id, 2);
            assert_string_equal(t[i].path, "<sip:tok2@127.0.0.1:5070;lr;ob>");
        } else if (t[i].instance) {
            seen_inst2++;
            assert_null(t[i].path);
        } else {
            seen_plain++;
            assert_string_equal(t[i].uri, "sip:bob@192.0.2.5:5060");
        }
    }
    assert_int_equal(seen_inst1 + seen_inst2 + seen_plain, 3);
    assert_int_equal(seen_inst1, 1);
    /* The branch bound. */
    assert_int_equal(stub_route_targets(home, s, AOR, NOW, t, 2), 2);
    assert_int_equal(stub_route_targets(home, s, "sip:alice@ims.test", NOW, t, 8), 0);
    stub_bindings_free(s);
    su_home_deinit(home);
}

static void test_alternate_flow(void **state)
{
    su_home_t home[1] = {SU_HOME_INIT(home)};
    struct stub_bindings *s = stub_bindings_new(100);
    struct stub_target t;
    add(s, INST1, 1, "sip:a@ws1.invalid;transport=ws", "<sip:tok1@gw;lr;ob>", NOW + 600);
    add(s, INST1, 2, "sip:a@ws1.invalid;transport=ws", "<sip:tok2@gw;lr;ob>", NOW + 300);
    add(s, INST2, 7, "sip:b@ws2.invalid;transport=ws", "<sip:tok7@gw;lr;ob>", NOW + 600);
    long tried[2] = {1};
    assert_int_equal(stub_route_alternate(home, s, AOR, INST1, tried, 1, NOW, &t), 0);
    assert_int_equal(t.reg_id, 2);
    assert_string_equal(t.path, "<sip:tok2@gw;lr;ob>");
    /* Another instance is never an alternate, and every flow tried means none is left. */
    tried[1] = 2;
    assert_int_equal(stub_route_alternate(home, s, AOR, INST1, tried, 2, NOW, &t), -1);
    assert_int_equal(stub_route_alternate(home, s, AOR, NULL, tried, 1, NOW, &t), -1);
    /* An expired flow is not tried. */
    assert_int_equal(stub_route_alternate(home, s, AOR, INST1, tried, 1, NOW + 400, &t), -1);
    stub_bindings_free(s);
    su_home_deinit(home);
}

static int best(const int *status, size_t n, int *send)
{
    return stub_route_best(status, n, send);
}

static void test_best_response(void **state)
{
    int send = 0;
    /* 6xx wins over everything, even a lower class seen first. */
    assert_int_equal(best((int[]){486, 603, 302}, 3, &send), 1);
    assert_int_equal(send, 603);
    /* Otherwise the lowest class. */
    assert_int_equal(best((int[]){500, 486, 302}, 3, &send), 2);
    assert_int_equal(send, 302);
    /* Inside 4xx, 401/407 beat the rest, and a real answer beats a timeout or a dead flow. */
    assert_int_equal(best((int[]){404, 407, 486}, 3, &send), 1);
    assert_int_equal(best((int[]){408, 486, 430}, 3, &send), 1);
    assert_int_equal(send, 486);
    assert_int_equal(best((int[]){408, 430}, 2, &send), 0);
    assert_int_equal(send, 408);
    /* A dead flow alone is 480 upstream, a 503 is 500 (§16.7 step 6). */
    assert_int_equal(best((int[]){430}, 1, &send), 0);
    assert_int_equal(send, 480);
    assert_int_equal(best((int[]){503}, 1, &send), 0);
    assert_int_equal(send, 500);
    assert_int_equal(best((int[]){503, 502}, 2, &send), 1);
    assert_int_equal(send, 502);
    /* 4xx beats 5xx; unanswered branches (0) and 1xx/2xx are not candidates. */
    assert_int_equal(best((int[]){0, 500, 480}, 3, &send), 2);
    assert_int_equal(best((int[]){0, 180, 200}, 3, &send), -1);
    assert_int_equal(best(NULL, 0, &send), -1);
}

static void test_is_self(void **state)
{
    su_home_t home[1] = {SU_HOME_INIT(home)};
    url_t *self = url_make(home, "sip:127.0.0.1:5070");
    url_t *dflt = url_make(home, "sip:127.0.0.1");
    assert_true(stub_route_is_self(self, url_make(home, "sip:orig@127.0.0.1:5070;lr")));
    assert_true(stub_route_is_self(self, url_make(home, "sip:127.0.0.1:5070;transport=tcp;lr")));
    assert_false(stub_route_is_self(self, url_make(home, "sip:127.0.0.1:5071;lr")));
    assert_false(stub_route_is_self(self, url_make(home, "sip:127.0.0.2:5070;lr")));
    assert_false(stub_route_is_self(self, url_make(home, "tel:+15550100")));
    assert_true(stub_route_is_self(dflt, url_make(home, "sip:127.0.0.1:5060;lr")));
    assert_false(stub_route_is_self(dflt, url_make(home, "sips:127.0.0.1;lr")));
    assert_false(stub_route_is_self(NULL, dflt));
    su_home_deinit(home);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_targets_one_per_instance),
        cmocka_unit_test(test_alternate_flow),
        cmocka_unit_test(test_best_response),
        cmocka_unit_test(test_is_self),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
