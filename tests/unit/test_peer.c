/* peer: trusted-proxy client addresses and per-source keys (issue 9 item 8). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "peer.h"

static char *trusted[] = {"127.0.0.1", "10.0.0.0/8", "2001:db8:ffff::/48", NULL};

static const char *client(const char *peer, const char *xff)
{
    static char out[PEER_ADDR_MAX];
    peer_client(peer, xff, trusted, out, sizeof(out));
    return out;
}

static void test_untrusted_peer_ignores_xff(void **state)
{
    (void)state;
    assert_string_equal(client("192.0.2.7", "198.51.100.1"), "192.0.2.7");
    assert_string_equal(client("::ffff:192.0.2.7", "198.51.100.1"), "192.0.2.7");
    char *none[] = {NULL};
    char out[PEER_ADDR_MAX];
    peer_client("127.0.0.1", "198.51.100.1", none, out, sizeof(out));
    assert_string_equal(out, "127.0.0.1");
}

static void test_rightmost_untrusted_entry(void **state)
{
    (void)state;
    /* the client may forge entries on the left; the proxies' own entries are on the right */
    assert_string_equal(client("127.0.0.1", "6.6.6.6, 198.51.100.1"), "198.51.100.1");
    assert_string_equal(client("127.0.0.1", "6.6.6.6, 198.51.100.1, 10.1.2.3"), "198.51.100.1");
    assert_string_equal(client("10.9.9.9", "2001:db8:1:2::5,10.0.0.1"), "2001:db8:1:2::5");
    assert_string_equal(client("::ffff:127.0.0.1", "198.51.100.1"), "198.51.100.1");
    assert_string_equal(client("127.0.0.1", " 198.51.100.1 "), "198.51.100.1");
}

static void test_malformed_entries_stop_the_walk(void **state)
{
    (void)state;
    assert_string_equal(client("127.0.0.1", "198.51.100.1, nonsense"), "127.0.0.1");
    assert_string_equal(client("127.0.0.1", "nonsense, 10.0.0.1"), "10.0.0.1");
    assert_string_equal(client("127.0.0.1", ""), "127.0.0.1");
    assert_string_equal(client("127.0.0.1", ",,,"), "127.0.0.1");
    /* every entry a trusted proxy: the leftmost one is as far as we can see */
    assert_string_equal(client("127.0.0.1", "10.0.0.2, 10.0.0.1"), "10.0.0.2");
}

static void test_source_keys(void **state)
{
    (void)state;
    char k[PEER_ADDR_MAX];
    peer_source_key("192.0.2.7", k, sizeof(k));
    assert_string_equal(k, "192.0.2.7");
    peer_source_key("::ffff:192.0.2.7", k, sizeof(k));
    assert_string_equal(k, "192.0.2.7");
    peer_source_key("2001:db8:1:2:aaaa:bbbb:cccc:dddd", k, sizeof(k));
    assert_string_equal(k, "2001:db8:1:2::/64");
    char k2[PEER_ADDR_MAX];
    peer_source_key("2001:0db8:0001:0002::1", k2, sizeof(k2));
    assert_string_equal(k, k2);
    peer_source_key("2001:db8:1:3::1", k2, sizeof(k2));
    assert_string_not_equal(k, k2);
    peer_source_key("not-an-address", k, sizeof(k));
    assert_string_equal(k, "not-an-address");
}

static void test_lists(void **state)
{
    (void)state;
    char err[128];
    assert_true(peer_in_list("10.255.0.1", trusted));
    assert_false(peer_in_list("11.0.0.1", trusted));
    assert_true(peer_in_list("2001:db8:ffff:1::1", trusted));
    assert_false(peer_in_list("2001:db8:fffe::1", trusted));
    assert_true(peer_list_valid(trusted, err, sizeof(err)));
    char *bad[] = {"10.0.0.0/33", NULL};
    assert_false(peer_list_valid(bad, err, sizeof(err)));
    char *bad2[] = {"proxy.example", NULL};
    assert_false(peer_list_valid(bad2, err, sizeof(err)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_untrusted_peer_ignores_xff),
        cmocka_unit_test(test_rightmost_untrusted_entry),
        cmocka_unit_test(test_malformed_entries_stop_the_walk),
        cmocka_unit_test(test_source_keys),
        cmocka_unit_test(test_lists),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
