/* bencode: the ng protocol's encoding, against hand-written vectors and hostile input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "bencode.h"

static void encodes_an_ng_request(void **state)
{
    (void)state;
    char buf[256];
    struct benc b;
    benc_init(&b, buf, sizeof(buf));
    benc_dict(&b);
    benc_kv(&b, "command", "offer");
    benc_str(&b, "flags");
    benc_list(&b);
    benc_str(&b, "trust-address");
    benc_end(&b);
    benc_str(&b, "n");
    benc_int(&b, -42);
    benc_end(&b);
    assert_int_equal(benc_finish(&b), (long)strlen(buf));
    assert_string_equal(buf, "d7:command5:offer5:flagsl13:trust-addresse1:ni-42ee");
}

static void encoder_refuses_overflow_and_imbalance(void **state)
{
    (void)state;
    char buf[8];
    struct benc b;
    benc_init(&b, buf, sizeof(buf));
    benc_str(&b, "longer than eight");
    assert_int_equal(benc_finish(&b), -1);
    benc_init(&b, buf, sizeof(buf));
    benc_dict(&b);
    assert_int_equal(benc_finish(&b), -1); /* never closed */
    benc_init(&b, buf, sizeof(buf));
    benc_end(&b);
    assert_int_equal(benc_finish(&b), -1); /* closed what was never opened */
}

static void decodes_a_reply(void **state)
{
    (void)state;
    const char *in = "d6:result2:ok3:sdp5:v=0\r\n5:callsl1:a1:bee";
    struct bnode nodes[16];
    struct bdoc d = {nodes, 16, 0};
    assert_int_equal(bdec_parse(&d, in, strlen(in)), 0);
    const struct bnode *root = &nodes[0];
    assert_true(bdec_is(bdec_get(&d, root, "result"), "ok"));
    char sdp[16];
    assert_int_equal(bdec_copy(bdec_get(&d, root, "sdp"), sdp, sizeof(sdp)), 0);
    assert_string_equal(sdp, "v=0\r\n");
    const struct bnode *calls = bdec_get(&d, root, "calls");
    assert_int_equal(calls->type, BNODE_LIST);
    const struct bnode *a = bdec_child(&d, calls);
    assert_true(bdec_is(a, "a"));
    assert_true(bdec_is(bdec_next(&d, a), "b"));
    assert_null(bdec_next(&d, bdec_next(&d, a)));
    assert_null(bdec_get(&d, root, "missing"));
    assert_int_equal(bdec_copy(bdec_get(&d, root, "sdp"), sdp, 5), -1); /* does not fit */
}

static void decodes_integers_canonically(void **state)
{
    (void)state;
    struct bnode nodes[4];
    struct bdoc d = {nodes, 4, 0};
    assert_int_equal(bdec_parse(&d, "i-7e", 4), 0);
    assert_int_equal(nodes[0].num, -7);
    assert_int_equal(bdec_parse(&d, "i9223372036854775807e", 21), 0);
    const char *bad[] = {"i-0e", "i007e", "ie", "i9223372036854775808e", "i1", "i-e", "i1xe"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(bdec_parse(&d, bad[i], strlen(bad[i])), -1);
}

static void refuses_hostile_input(void **state)
{
    (void)state;
    struct bnode nodes[8];
    struct bdoc d = {nodes, 8, 0};
    const char *bad[] = {
        "",                       /* nothing */
        "5:abc",                  /* string longer than the input */
        "99999999999999999999:x", /* length overflow */
        "d1:ae",                  /* key without a value */
        "di1e1:ae",               /* key that is not a string */
        "l",                      /* unterminated list */
        "1:a1:b",                 /* trailing bytes */
        "x",                      /* not bencode */
        "le"
        "le", /* two values */
        "llllllllle"
        "eeeeeeeee", /* more nodes than the budget */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(bdec_parse(&d, bad[i], strlen(bad[i])), -1);
    /* nesting deeper than BENC_MAX_DEPTH, with nodes to spare */
    struct bnode many[128];
    struct bdoc deep = {many, 128, 0};
    char in[2 * (BENC_MAX_DEPTH + 2)];
    size_t n = 0;
    for (int i = 0; i < BENC_MAX_DEPTH + 1; i++)
        in[n++] = 'l';
    for (int i = 0; i < BENC_MAX_DEPTH + 1; i++)
        in[n++] = 'e';
    assert_int_equal(bdec_parse(&deep, in, n), -1);
    assert_int_equal(bdec_parse(&deep, in + 1, n - 2), 0); /* one level less is fine */
    /* a string holding a NUL is never copied out as a C string */
    char out[8];
    assert_int_equal(bdec_parse(&d, "3:a\0b", 5), 0);
    assert_int_equal(bdec_copy(&nodes[0], out, sizeof(out)), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(encodes_an_ng_request),
        cmocka_unit_test(encoder_refuses_overflow_and_imbalance),
        cmocka_unit_test(decodes_a_reply),
        cmocka_unit_test(decodes_integers_canonically),
        cmocka_unit_test(refuses_hostile_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
