/* Flow tokens: the T18 vector (RFC 5626 §5.2 example algorithm) and tamper evidence. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "flow.h"

static void test_t18_vector(void **state)
{
    uint8_t key[FLOW_KEY_LEN];
    for (int i = 0; i < FLOW_KEY_LEN; i++)
        key[i] = (uint8_t)i;
    const uint8_t s[] = {0x02, 0xc0, 0x00, 0x02, 0x0a, 0x01, 0xbb,
                         0xc6, 0x33, 0x64, 0x07, 0xc3, 0xcb};
    char out[FLOW_TOKEN_MAX];
    flow_token_encode(key, s, sizeof(s), out);
    assert_string_equal(out, "0OAF46_HQ8snJwLAAAIKAbvGM2QHw8s");
}

static void test_roundtrip_and_tamper(void **state)
{
    uint8_t key[FLOW_KEY_LEN] = {7, 7, 7};
    flow_set_key(key);
    struct flow_ref ref = {.worker = 3, .conn_id = 0x0102030405060708ULL}, back;
    char tok[FLOW_TOKEN_MAX];
    size_t n = flow_token_make(&ref, tok);
    assert_int_equal(flow_token_parse(tok, n, &back), 0);
    assert_int_equal(back.worker, 3);
    assert_true(back.conn_id == ref.conn_id);
    for (size_t i = 0; i < n; i++) {
        char bad[FLOW_TOKEN_MAX];
        memcpy(bad, tok, n + 1);
        bad[i] = bad[i] == 'A' ? 'B' : 'A';
        assert_int_equal(flow_token_parse(bad, n, &back), -1);
    }
    assert_int_equal(flow_token_parse(tok, n - 1, &back), -1);
    assert_int_equal(flow_token_parse("", 0, &back), -1);
    uint8_t other[FLOW_KEY_LEN] = {8};
    flow_set_key(other);
    assert_int_equal(flow_token_parse(tok, n, &back), -1);
}

/* HKDF-SHA256 (RFC 5869) of the flow key, no salt, the label as info: the value below was
 * computed with Python's hmac module from the RFC's definition, independently of OpenSSL. */
static void test_derive_key(void **state)
{
    uint8_t key[FLOW_KEY_LEN];
    for (int i = 0; i < FLOW_KEY_LEN; i++)
        key[i] = (uint8_t)(i + 1);
    flow_set_key(key);
    static const uint8_t want[32] = {0x84, 0x07, 0x79, 0x4c, 0x79, 0xad, 0xcb, 0x58,
                                     0x17, 0xd1, 0x25, 0x37, 0x20, 0x6c, 0x0c, 0x02,
                                     0xfc, 0x86, 0x0c, 0xe4, 0xa5, 0x4a, 0xef, 0x4e,
                                     0x50, 0x65, 0xab, 0xcc, 0x3f, 0xc2, 0x12, 0x1f};
    uint8_t got[32], other[32];
    assert_int_equal(flow_derive_key("imsgw dpop-nonce v1", got, sizeof(got)), 0);
    assert_memory_equal(got, want, sizeof(want));
    assert_int_equal(flow_derive_key("imsgw something else", other, sizeof(other)), 0);
    assert_memory_not_equal(got, other, sizeof(got));
    key[0] ^= 1;
    flow_set_key(key);
    assert_int_equal(flow_derive_key("imsgw dpop-nonce v1", other, sizeof(other)), 0);
    assert_memory_not_equal(got, other, sizeof(got));
}

/* Several gateways share one flow-key (docs/scale-out.md): a token another gateway made is
 * authentic here, but names none of our connections (the core gets 430, not another user's flow).
 */
static void test_other_instance_not_ours(void **state)
{
    uint8_t key[FLOW_KEY_LEN] = {9, 9, 9};
    flow_set_key(key);
    struct flow_ref ref = {.worker = 0, .conn_id = 5}, back;
    char tok[FLOW_TOKEN_MAX];
    size_t n = flow_token_make(&ref, tok);
    assert_int_equal(flow_token_parse(tok, n, &back), 0);
    assert_true(flow_ref_ours(&back, 0));
    assert_false(flow_ref_ours(&back, 1));
    flow_set_key(key); /* another gateway (or this one restarted): same key, new instance */
    assert_int_equal(flow_token_parse(tok, n, &back), 0);
    assert_true(back.conn_id == 5);
    assert_false(flow_ref_ours(&back, 0));
}

/* A key paired with per-gateway state (the DPoP nonce key with its jti cache): stable within
 * this gateway, different at another one with the same flow-key, and apart from the plain one. */
static void test_derive_instance_key(void **state)
{
    uint8_t key[FLOW_KEY_LEN] = {7, 7, 7};
    uint8_t a[32], again[32], plain[32], other[32];
    flow_set_key(key);
    assert_int_equal(flow_derive_instance_key("imsgw dpop-nonce v2", a, sizeof(a)), 0);
    assert_int_equal(flow_derive_instance_key("imsgw dpop-nonce v2", again, sizeof(again)), 0);
    assert_memory_equal(a, again, sizeof(a));
    assert_int_equal(flow_derive_key("imsgw dpop-nonce v2", plain, sizeof(plain)), 0);
    assert_memory_not_equal(a, plain, sizeof(a));
    flow_set_key(key); /* another gateway (or a restart): same flow-key, new instance */
    assert_int_equal(flow_derive_instance_key("imsgw dpop-nonce v2", other, sizeof(other)), 0);
    assert_memory_not_equal(a, other, sizeof(a));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_t18_vector),          cmocka_unit_test(test_roundtrip_and_tamper),
        cmocka_unit_test(test_derive_key),          cmocka_unit_test(test_other_instance_not_ours),
        cmocka_unit_test(test_derive_instance_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
