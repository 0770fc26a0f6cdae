/* DPoP proof checks (RFC 9449 §4.3) against the RFC's own example proof and key (Figures 2 and
 * 9), and proofs made with the T19 test key that are wrong in exactly one way each. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "dpop.h"
#include "jwk.h"
#include "jws.h"
#include "testkeys.h"

/* RFC 9449 Figure 2 (the example proof of §4.1) and the thumbprint §6.1 gives for its key. */
#define RFC9449_PROOF                                                                              \
    "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwieCI6Imw4dEZyaHgtMzR0VjNo" \
    "UklDUkRZOXpDa0RscEJoRjQyVVFVZldWQVdCRnMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10NnY5VERW" \
    "clUwQ2R2R1JEQSIsImNydiI6IlAtMjU2In19."                                                        \
    "eyJqdGkiOiItQndDM0VTYzZhY2MybFRjIiwiaHRtIjoiUE9TVCIsImh0"                                     \
    "dSI6Imh0dHBzOi8vc2VydmVyLmV4YW1wbGUuY29tL3Rva2VuIiwiaWF0IjoxNTYyMjYyNjE2fQ.2-"                \
    "GxA6T8lP4vfrg8v-"                                                                             \
    "FdWP0A0zdrj8igiMLvqRMUvwnQg4PtFLbdLXiOSsX0x7NVY-FNyJK70nfbV37xRZT3Lg"
#define RFC9449_JKT "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
#define RFC9449_IAT 1562262616
#define T0 1767225600 /* 2026-01-01, the time of the generated proofs */
#define SIP_URI "sip:ims.example.test"

static struct dpop_expect rfc_expect(void)
{
    return (struct dpop_expect){.htm = "POST",
                                .htu = "https://server.example.com/token",
                                .now = RFC9449_IAT + 10,
                                .max_age = 60,
                                .leeway = 5};
}

static int check(const char *proof, const struct dpop_expect *want, struct dpop_proof *out,
                 const char *reason)
{
    char why[160] = "";
    int rc = dpop_verify(proof, strlen(proof), want, out, why, sizeof(why));
    if (reason && rc == 0)
        fail_msg("accepted; expected: %s", reason);
    if (reason && !strstr(why, reason))
        fail_msg("refused with \"%s\"; expected \"%s\"", why, reason);
    if (!reason && rc != 0)
        fail_msg("refused: %s", why);
    return rc;
}

static void test_rfc_example_verifies(void **state)
{
    struct dpop_expect w = rfc_expect();
    struct dpop_proof p;
    check(RFC9449_PROOF, &w, &p, NULL);
    assert_string_equal(p.jkt, RFC9449_JKT);
    assert_string_equal(p.jti, "-BwC3ESc6acc2lTc");
    assert_int_equal(p.iat, RFC9449_IAT);
    assert_string_equal(p.nonce, "");
    w.jkt = RFC9449_JKT;
    check(RFC9449_PROOF, &w, &p, NULL);
    w.htu = "https://server.example.com/token"; /* a query in the proof's htu is ignored */
}

static void test_rfc_example_wrong_use(void **state)
{
    struct dpop_expect w = rfc_expect();
    struct dpop_proof p;
    w.htm = "GET";
    check(RFC9449_PROOF, &w, &p, "htm");
    w = rfc_expect();
    w.htu = "https://server.example.com/other";
    check(RFC9449_PROOF, &w, &p, "htu");
    w = rfc_expect();
    w.now = RFC9449_IAT + 61; /* stale */
    check(RFC9449_PROOF, &w, &p, "iat");
    w = rfc_expect();
    w.now = RFC9449_IAT - 6; /* from the future */
    check(RFC9449_PROOF, &w, &p, "iat");
    w = rfc_expect();
    w.jkt = "AAAAOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I";
    check(RFC9449_PROOF, &w, &p, "another key");
    w = rfc_expect();
    w.access_token = "token";
    w.access_token_len = 5;
    check(RFC9449_PROOF, &w, &p, "ath");
    char tampered[] = RFC9449_PROOF;
    tampered[strlen(tampered) - 5] ^= 1;
    w = rfc_expect();
    check(tampered, &w, &p, "signature");
}

/* A proof by the T19 key with header and claims adjusted by the caller. */
static char *make_proof(json_t *hdr_extra, json_t *claims_extra, int with_private)
{
    EVP_PKEY *priv = t19_private_key();
    json_t *jwk = jwk_from_ec_key(priv, "x");
    json_object_del(jwk, "kid");
    json_object_del(jwk, "use");
    json_object_del(jwk, "alg");
    if (with_private)
        json_object_set_new(jwk, "d", json_string("AAAA"));
    json_t *hdr = json_pack("{s:s, s:s, s:o}", "typ", "dpop+jwt", "alg", "ES256", "jwk", jwk);
    json_t *claims = json_pack("{s:s, s:s, s:s, s:I}", "jti", "jti-1", "htm", "REGISTER", "htu",
                               SIP_URI, "iat", (json_int_t)T0);
    if (hdr_extra)
        json_object_update(hdr, hdr_extra);
    if (claims_extra)
        json_object_update(claims, claims_extra);
    char *tok = jws_sign_es256_header(priv, hdr, claims);
    json_decref(hdr);
    json_decref(claims);
    json_decref(hdr_extra);
    json_decref(claims_extra);
    EVP_PKEY_free(priv);
    assert_non_null(tok);
    return tok;
}

static struct dpop_expect sip_expect(void)
{
    return (struct dpop_expect){
        .htm = "REGISTER", .htu = SIP_URI, .now = T0, .max_age = 60, .leeway = 5};
}

static void test_generated_checks(void **state)
{
    struct dpop_expect w = sip_expect();
    struct dpop_proof p;
    char *ok = make_proof(NULL, NULL, 0);
    check(ok, &w, &p, NULL);
    char t19_jkt[JWK_THUMBPRINT_SIZE];
    EVP_PKEY *pub = t19_public_key();
    assert_int_equal(jwk_thumbprint(pub, t19_jkt), 0);
    EVP_PKEY_free(pub);
    assert_string_equal(p.jkt, t19_jkt);
    free(ok);

    struct {
        json_t *hdr, *claims;
        int priv;
        const char *reason;
    } bad[] = {
        {json_pack("{s:s}", "typ", "JWT"), NULL, 0, "typ"},
        {json_pack("{s:s}", "alg", "HS256"), NULL, 0, "alg"},
        {json_pack("{s:n}", "jwk"), NULL, 0, "jwk"},
        {NULL, NULL, 1, "private"},
        {NULL, json_pack("{s:s}", "htm", "INVITE"), 0, "htm"},
        {NULL, json_pack("{s:s}", "htu", "sip:other.example.test"), 0, "htu"},
        {NULL, json_pack("{s:s}", "iat", "1767225600"), 0, "iat"},
        {NULL, json_pack("{s:I}", "iat", (json_int_t)(T0 - 120)), 0, "iat"},
        {NULL, json_pack("{s:s}", "jti", ""), 0, "jti"},
        {NULL, json_pack("{s:i}", "nonce", 7), 0, "nonce"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *tok = make_proof(bad[i].hdr, bad[i].claims, bad[i].priv);
        check(tok, &w, &p, bad[i].reason);
        free(tok);
    }
}

static void test_ath_and_nonce_claims(void **state)
{
    struct dpop_expect w = sip_expect();
    struct dpop_proof p;
    /* ath of "token": base64url(SHA-256("token")) */
    char *tok = make_proof(NULL,
                           json_pack("{s:s, s:s}", "ath",
                                     "PEaenWxYddN6Q_NT1PiOYfz4EsZu7jRXRlpAsNpBU-A", "nonce", "n1"),
                           0);
    w.access_token = "token";
    w.access_token_len = 5;
    check(tok, &w, &p, NULL);
    assert_string_equal(p.nonce, "n1");
    w.access_token = "tokeN";
    check(tok, &w, &p, "ath");
    free(tok);
}

static void test_nonce(void **state)
{
    uint8_t key[DPOP_NONCE_KEY_LEN] = {1, 2, 3}, other[DPOP_NONCE_KEY_LEN] = {9};
    char n[DPOP_NONCE_MAX + 1];
    dpop_nonce_make(key, "sip", T0, n);
    assert_true(dpop_nonce_check(key, "sip", n, T0, 300));
    assert_true(dpop_nonce_check(key, "sip", n, T0 + 300, 300));
    assert_false(dpop_nonce_check(key, "sip", n, T0 + 301, 300)); /* stale */
    assert_false(dpop_nonce_check(key, "sip", n, T0 - 1, 300));   /* from the future */
    assert_false(dpop_nonce_check(key, "token", n, T0, 300));     /* another service's */
    assert_false(dpop_nonce_check(other, "sip", n, T0, 300));     /* another key's */
    n[3] ^= 1;
    assert_false(dpop_nonce_check(key, "sip", n, T0, 300));
    assert_false(dpop_nonce_check(key, "sip", "", T0, 300));
    assert_false(dpop_nonce_check(key, "sip", NULL, T0, 300));
}

static void test_replay_cache(void **state)
{
    struct dpop_replay *r = dpop_replay_new(2);
    struct dpop_proof a = {.jkt = "k1", .jti = "j1"}, b = {.jkt = "k2", .jti = "j1"},
                      c = {.jkt = "k1", .jti = "j2"};
    assert_int_equal(dpop_replay_add(r, &a, T0, T0 + 60), 0);
    assert_int_equal(dpop_replay_add(r, &a, T0 + 1, T0 + 61), 1); /* replayed */
    assert_int_equal(dpop_replay_add(r, &b, T0, T0 + 60), 0);     /* same jti, another key */
    assert_int_equal(dpop_replay_add(r, &c, T0, T0 + 60), -1);    /* full of live entries */
    assert_int_equal(dpop_replay_count(r, T0), 2);
    assert_int_equal(dpop_replay_add(r, &c, T0 + 60, T0 + 120), 0); /* the old ones lapsed */
    assert_int_equal(dpop_replay_add(r, &a, T0 + 60, T0 + 120), 0);
    dpop_replay_free(r);
    /* The same cache in memory the caller provides (the gateway's shared mapping), dirty first. */
    _Alignas(16) unsigned char mem[256];
    assert_true(dpop_replay_size(2) <= sizeof(mem));
    memset(mem, 0xa5, sizeof(mem));
    r = dpop_replay_init(mem, 2);
    assert_int_equal(dpop_replay_count(r, T0), 0);
    assert_int_equal(dpop_replay_add(r, &a, T0, T0 + 60), 0);
    assert_int_equal(dpop_replay_add(r, &a, T0, T0 + 60), 1);
    assert_int_equal(dpop_replay_add(r, &b, T0, T0 + 60), 0);
    assert_int_equal(dpop_replay_add(r, &c, T0, T0 + 60), -1);
}

/* One key holds at most its share of the cache: its next proof is refused (-2) while other keys
 * go on; a replay is still reported as one; the share comes back as its entries lapse. */
static void test_replay_key_share(void **state)
{
    (void)state;
    struct dpop_replay *r = dpop_replay_new(16);
    dpop_replay_share(r, 3);
    for (int i = 0; i < 3; i++) {
        struct dpop_proof p = {.jkt = "k1"};
        snprintf(p.jti, sizeof(p.jti), "j%d", i);
        assert_int_equal(dpop_replay_add(r, &p, T0, T0 + 60), 0);
    }
    struct dpop_proof more = {.jkt = "k1", .jti = "j3"}, again = {.jkt = "k1", .jti = "j0"},
                      other = {.jkt = "k2", .jti = "j3"};
    assert_int_equal(dpop_replay_add(r, &more, T0, T0 + 60), -2); /* k1's share is full */
    assert_int_equal(dpop_replay_add(r, &again, T0, T0 + 60), 1); /* a replay stays a replay */
    assert_int_equal(dpop_replay_add(r, &other, T0, T0 + 60), 0); /* other keys go on */
    assert_int_equal(dpop_replay_count(r, T0), 4);
    assert_int_equal(dpop_replay_add(r, &more, T0 + 60, T0 + 120), 0); /* k1's entries lapsed */
    dpop_replay_share(r, 0); /* 0: no share below the capacity */
    for (int i = 4; i < 16; i++) {
        struct dpop_proof p = {.jkt = "k1"};
        snprintf(p.jti, sizeof(p.jti), "j%d", i);
        assert_int_equal(dpop_replay_add(r, &p, T0 + 60, T0 + 120), 0);
    }
    dpop_replay_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc_example_verifies),
        cmocka_unit_test(test_rfc_example_wrong_use),
        cmocka_unit_test(test_generated_checks),
        cmocka_unit_test(test_ath_and_nonce_claims),
        cmocka_unit_test(test_nonce),
        cmocka_unit_test(test_replay_cache),
        cmocka_unit_test(test_replay_key_share),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
