/* MD5 Digest for native clients: the RFC 2617 §3.5 known answer, then challenge → verify with
 * every way a response can be wrong: other password, realm, algorithm, no qop, unknown,
 * expired or evicted nonce (stale), a reused nonce count (replay). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <sofia-sip/msg.h>
#include <sofia-sip/sip.h>
#include <sofia-sip/sip_header.h>

#include "stub_digest.h"

#define NOW 1767225601

static void test_rfc2617_vector(void **state)
{
    char out[33];
    assert_int_equal(stub_digest_response("Mufasa", "testrealm@host.com", "Circle Of Life", "GET",
                                          "/dir/index.html", "dcd98b7102dd2f0e8b11d0f600bfb0c093",
                                          "00000001", "0a4f113b", out),
                     0);
    assert_string_equal(out, "6629fae49393a05397450978507c4ef1");
}

/* The nonce of a challenge value. */
static void nonce_of(const char *challenge, char *nonce, size_t len)
{
    const char *p = strstr(challenge, "nonce=\"");
    assert_non_null(p);
    p += 7;
    size_t n = strcspn(p, "\"");
    assert_true(n < len);
    memcpy(nonce, p, n);
    nonce[n] = '\0';
}

/* Parses an Authorization header built from the given parts and verifies it. */
static enum stub_digest_result verify(struct stub_digest *d, const char *realm,
                                      const char *password, const char *nonce, const char *nc,
                                      const char *extra, int64_t now)
{
    char resp[33], text[1024];
    stub_digest_response("bob@ims.test", realm, password, "REGISTER", "sip:ims.test", nonce, nc,
                         "c0ffee", resp);
    snprintf(text, sizeof(text),
             "Digest username=\"bob@ims.test\", realm=\"%s\", nonce=\"%s\", uri=\"sip:ims.test\", "
             "response=\"%s\", cnonce=\"c0ffee\", nc=%s%s",
             realm, nonce, resp, nc, extra);
    su_home_t home[1] = {SU_HOME_INIT(home)};
    sip_authorization_t *au = sip_authorization_make(home, text);
    assert_non_null(au);
    enum stub_digest_result r =
        stub_digest_verify(d, au->au_params, "REGISTER", "ims.test", "bob-pw", now);
    su_home_deinit(home);
    return r;
}

static void test_challenge_and_verify(void **state)
{
    struct stub_digest *d = stub_digest_new(4, 300);
    char ch[256], nonce[64];
    assert_int_equal(stub_digest_challenge(d, "ims.test", 0, NOW, ch, sizeof(ch)), 0);
    assert_non_null(strstr(ch, "Digest realm=\"ims.test\", nonce=\""));
    assert_non_null(strstr(ch, "algorithm=MD5, qop=\"auth\""));
    assert_null(strstr(ch, "stale"));
    nonce_of(ch, nonce, sizeof(nonce));
    const char *ok = ", qop=auth, algorithm=MD5";
    assert_int_equal(verify(d, "ims.test", "wrong", nonce, "00000001", ok, NOW), STUB_DIGEST_BAD);
    assert_int_equal(verify(d, "other.test", "bob-pw", nonce, "00000001", ok, NOW),
                     STUB_DIGEST_BAD);
    assert_int_equal(verify(d, "ims.test", "bob-pw", nonce, "00000001", "", NOW),
                     STUB_DIGEST_BAD); /* no qop */
    assert_int_equal(
        verify(d, "ims.test", "bob-pw", nonce, "00000001", ", qop=auth, algorithm=SHA-256", NOW),
        STUB_DIGEST_BAD);
    assert_int_equal(verify(d, "ims.test", "bob-pw", nonce, "1", ok, NOW), STUB_DIGEST_BAD);
    /* The right answer, once; the same count again is a replay, a higher one is fine. */
    assert_int_equal(verify(d, "ims.test", "bob-pw", nonce, "00000001", ok, NOW), STUB_DIGEST_OK);
    assert_int_equal(verify(d, "ims.test", "bob-pw", nonce, "00000001", ok, NOW),
                     STUB_DIGEST_REPLAY);
    assert_int_equal(verify(d, "ims.test", "bob-pw", nonce, "00000002", ok, NOW + 10),
                     STUB_DIGEST_OK);
    /* Expired. */
    assert_int_equal(verify(d, "ims.test", "bob-pw", nonce, "00000003", ok, NOW + 300),
                     STUB_DIGEST_STALE);
    /* Forged or unknown nonces are stale, never an out-of-range slot. */
    assert_int_equal(
        verify(d, "ims.test", "bob-pw", "ffffAAAAAAAAAAAAAAAAAAAAAA", "00000001", ok, NOW),
        STUB_DIGEST_STALE);
    assert_int_equal(verify(d, "ims.test", "bob-pw", "x", "00000001", ok, NOW), STUB_DIGEST_STALE);
    stub_digest_free(d);
}

static void test_eviction_and_stale_flag(void **state)
{
    struct stub_digest *d = stub_digest_new(2, 300);
    char ch[256], first[64];
    assert_int_equal(stub_digest_challenge(d, "ims.test", 0, NOW, ch, sizeof(ch)), 0);
    nonce_of(ch, first, sizeof(first));
    /* Two more challenges reuse the first slot: the old nonce is gone. */
    assert_int_equal(stub_digest_challenge(d, "ims.test", 0, NOW, ch, sizeof(ch)), 0);
    assert_int_equal(stub_digest_challenge(d, "ims.test", 1, NOW, ch, sizeof(ch)), 0);
    assert_non_null(strstr(ch, ", stale=true"));
    assert_int_equal(verify(d, "ims.test", "bob-pw", first, "00000001", ", qop=auth", NOW),
                     STUB_DIGEST_STALE);
    assert_int_equal(stub_digest_challenge(d, "ims.test", 0, NOW, ch, 10), -1);
    assert_null(stub_digest_new(0, 300));
    assert_null(stub_digest_new(65537, 300));
    stub_digest_free(d);
    stub_digest_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc2617_vector),
        cmocka_unit_test(test_challenge_and_verify),
        cmocka_unit_test(test_eviction_and_stale_flag),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
