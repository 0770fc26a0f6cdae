/* JWS parsing and ES256 verification against the T19 vectors. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include "b64url.h"
#include "jwk.h"
#include "jws.h"
#include "testkeys.h"
#include "vectors.h"

static int verify(const char *token, EVP_PKEY *key)
{
    struct jws_parsed p;
    char err[128];
    if (jws_parse(token, strlen(token), &p, err, sizeof(err)) < 0)
        return -1;
    int rc = jws_verify_es256(&p, key, err, sizeof(err));
    jws_parsed_free(&p);
    return rc;
}

static int verify_with(const char *token, EVP_PKEY *key)
{
    struct jws_parsed p;
    char err[128];
    if (jws_parse(token, strlen(token), &p, err, sizeof(err)) < 0)
        return -1;
    int rc = jws_verify(&p, key, err, sizeof(err));
    jws_parsed_free(&p);
    return rc;
}

static void test_es256_vector_verifies(void **state)
{
    EVP_PKEY *k = t19_public_key();
    struct jws_parsed p;
    char err[128];
    assert_int_equal(jws_parse(T19_TOKEN_ES256, strlen(T19_TOKEN_ES256), &p, err, sizeof(err)), 0);
    assert_string_equal(p.alg, "ES256");
    assert_string_equal(p.kid, "waf-es256-1");
    assert_string_equal(p.typ, "at+jwt");
    assert_int_equal(json_integer_value(json_object_get(p.claims, "exp")), 1767229200);
    assert_int_equal(jws_verify_es256(&p, k, err, sizeof(err)), 0);
    jws_parsed_free(&p);
    EVP_PKEY_free(k);
}

static void test_flipped_signature_fails(void **state)
{
    EVP_PKEY *k = t19_public_key();
    char tok[] = T19_TOKEN_ES256;
    size_t n = strlen(tok);
    tok[n - 5] = tok[n - 5] == 'A' ? 'B' : 'A';
    assert_int_equal(verify(tok, k), -1);
    EVP_PKEY_free(k);
}

static void test_none_refused(void **state)
{
    struct jws_parsed p;
    char err[128];
    assert_int_equal(jws_parse(T19_TOKEN_NONE, strlen(T19_TOKEN_NONE), &p, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "none"));
}

static void test_hs256_with_ec_key_refused(void **state)
{
    EVP_PKEY *k = t19_public_key();
    assert_int_equal(verify(T19_TOKEN_HS256, k), -1); /* key/alg confusion blocked */
    EVP_PKEY_free(k);
}

static void test_malformed_refused(void **state)
{
    struct jws_parsed p;
    char err[128];
    const char *bad[] = {"",
                         "abc",
                         "a.b",
                         "a.b.c.d",
                         "e30.e30.",
                         "W10.e30.AAAA",
                         "eyJhbGciOiJFUzI1NiIsImNyaXQiOlsieCJdfQ.e30.AAAA"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(jws_parse(bad[i], strlen(bad[i]), &p, err, sizeof(err)), -1);
}

static void test_sign_roundtrip_with_t19_key(void **state)
{
    EVP_PKEY *priv = t19_private_key(), *pub = t19_public_key();
    json_t *claims = json_pack("{s:s, s:i}", "sub", "alice", "exp", 1767229200);
    char *tok = jws_sign_es256(priv, "waf-es256-1", "at+jwt", claims);
    assert_non_null(tok);
    assert_int_equal(verify(tok, pub), 0);
    struct jws_parsed p;
    char err[128];
    assert_int_equal(jws_parse(tok, strlen(tok), &p, err, sizeof(err)), 0);
    assert_string_equal(p.typ, "at+jwt");
    jws_parsed_free(&p);
    free(tok);
    json_decref(claims);
    EVP_PKEY_free(priv);
    EVP_PKEY_free(pub);
}

static void test_jwk_roundtrip_and_bad_points(void **state)
{
    EVP_PKEY *k = t19_public_key();
    json_t *jwk = jwk_from_ec_key(k, "waf-es256-1");
    json_t *ref = json_loads(T19_JWK, 0, NULL);
    assert_true(json_equal(jwk, ref));
    char err[128];
    json_object_set_new(ref, "y", json_string("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
    assert_null(jwk_to_ec_key(ref, err, sizeof(err)));
    json_object_set_new(ref, "kty", json_string("oct"));
    assert_null(jwk_to_ec_key(ref, err, sizeof(err)));
    json_decref(jwk);
    json_decref(ref);
    EVP_PKEY_free(k);
}

/* An RS256 token signed here with a fresh RSA key, and that key as a JWK. */
static char *rs256_token(EVP_PKEY *key, const char *alg_in_header)
{
    char hdr[128], *input = NULL, *tok = NULL;
    snprintf(hdr, sizeof(hdr), "{\"alg\":\"%s\",\"typ\":\"at+jwt\",\"kid\":\"rsa-1\"}",
             alg_in_header);
    char h64[256], p64[64];
    b64url_encode((const unsigned char *)hdr, strlen(hdr), h64);
    b64url_encode((const unsigned char *)"{\"sub\":\"x\"}", 11, p64);
    size_t inlen = strlen(h64) + 1 + strlen(p64);
    input = malloc(inlen + 1);
    snprintf(input, inlen + 1, "%s.%s", h64, p64);
    unsigned char sig[512];
    size_t siglen = sizeof(sig);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    assert_int_equal(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key), 1);
    assert_int_equal(EVP_DigestSign(md, sig, &siglen, (unsigned char *)input, inlen), 1);
    EVP_MD_CTX_free(md);
    tok = malloc(inlen + 2 + B64URL_ENCODED_LEN(siglen) + 1);
    memcpy(tok, input, inlen);
    tok[inlen] = '.';
    b64url_encode(sig, siglen, tok + inlen + 1);
    free(input);
    return tok;
}

static json_t *rsa_jwk(EVP_PKEY *key)
{
    BIGNUM *n = NULL, *e = NULL;
    assert_true(EVP_PKEY_get_bn_param(key, "n", &n));
    assert_true(EVP_PKEY_get_bn_param(key, "e", &e));
    unsigned char nb[1024], eb[8];
    int nl = BN_bn2bin(n, nb), el = BN_bn2bin(e, eb);
    char n64[1400], e64[16];
    b64url_encode(nb, (size_t)nl, n64);
    b64url_encode(eb, (size_t)el, e64);
    BN_free(n);
    BN_free(e);
    return json_pack("{s:s, s:s, s:s, s:s}", "kty", "RSA", "alg", "RS256", "n", n64, "e", e64);
}

static void test_rs256_pinned_by_rsa_key(void **state)
{
    EVP_PKEY *rsa = EVP_RSA_gen(2048);
    json_t *jwk = rsa_jwk(rsa);
    char err[128];
    EVP_PKEY *pub = jwk_to_public_key(jwk, err, sizeof(err));
    assert_non_null(pub);
    char *tok = rs256_token(rsa, "RS256");
    assert_int_equal(verify_with(tok, pub), 0);
    char *lie = rs256_token(rsa, "ES256"); /* RSA signature, header claims ES256 */
    assert_int_equal(verify_with(lie, pub), -1);
    EVP_PKEY *ec = t19_public_key();
    assert_int_equal(verify_with(tok, ec), -1); /* RS256 token against an EC key */
    EVP_PKEY_free(ec);
    /* a 1024-bit modulus is refused */
    EVP_PKEY *weak = EVP_RSA_gen(1024);
    json_t *weak_jwk = rsa_jwk(weak);
    assert_null(jwk_to_public_key(weak_jwk, err, sizeof(err)));
    json_decref(weak_jwk);
    EVP_PKEY_free(weak);
    free(tok);
    free(lie);
    json_decref(jwk);
    EVP_PKEY_free(pub);
    EVP_PKEY_free(rsa);
}

/* The hand-built DER of R‖S must be byte for byte what OpenSSL's i2d_ECDSA_SIG() makes (OpenSSL
 * re-encodes and compares, so any other encoding would fail every token): leading zero octets,
 * top bits set, zero values. */
static void check_der(const unsigned char raw[64])
{
    unsigned char mine[JWS_ES256_DER_MAX], *ref = NULL;
    size_t n = jws_es256_raw_to_der(raw, mine);
    ECDSA_SIG *sig = ECDSA_SIG_new();
    assert_int_equal(ECDSA_SIG_set0(sig, BN_bin2bn(raw, 32, NULL), BN_bin2bn(raw + 32, 32, NULL)),
                     1);
    int rn = i2d_ECDSA_SIG(sig, &ref);
    assert_int_equal((int)n, rn);
    assert_memory_equal(mine, ref, n);
    OPENSSL_free(ref);
    ECDSA_SIG_free(sig);
}

static void test_es256_der_matches_openssl(void **state)
{
    unsigned char raw[64];
    memset(raw, 0, sizeof(raw)); /* r = s = 0 */
    check_der(raw);
    memset(raw, 0xff, sizeof(raw)); /* both need the 0x00 pad: the longest form, 72 octets */
    check_der(raw);
    assert_int_equal(jws_es256_raw_to_der(raw, (unsigned char[JWS_ES256_DER_MAX]){0}),
                     JWS_ES256_DER_MAX);
    for (int i = 0; i < 4000; i++) {
        assert_int_equal(RAND_bytes(raw, sizeof(raw)), 1);
        /* leading zero octets (up to all 32) and a high or low first kept octet, in r and in s */
        size_t zr = (size_t)(raw[0] % 34), zs = (size_t)(raw[32] % 34);
        memset(raw, 0, zr > 32 ? 32 : zr);
        memset(raw + 32, 0, zs > 32 ? 32 : zs);
        if (zr < 32 && i % 3 == 0)
            raw[zr] |= 0x80;
        if (zs < 32 && i % 5 == 0)
            raw[32 + zs] &= 0x7f;
        check_der(raw);
    }
}

/* The gateway keeps one verifier per JWKS key for every token: it must give the same answers on
 * its thousandth use as on its first, also after refusing a forged token. */
static void test_verifier_reused(void **state)
{
    EVP_PKEY *pub = t19_public_key();
    struct jws_verifier *v = jws_verifier_new(pub);
    EVP_PKEY_free(pub); /* the verifier holds its own reference */
    assert_non_null(v);
    assert_true(EVP_PKEY_is_a(jws_verifier_key(v), "EC"));
    char forged[] = T19_TOKEN_ES256;
    size_t n = strlen(forged);
    forged[n - 5] = forged[n - 5] == 'A' ? 'B' : 'A';
    struct jws_parsed good, bad;
    char err[128];
    assert_int_equal(jws_parse(T19_TOKEN_ES256, strlen(T19_TOKEN_ES256), &good, err, sizeof(err)),
                     0);
    assert_int_equal(jws_parse(forged, n, &bad, err, sizeof(err)), 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(jws_verify_with(&good, v, err, sizeof(err)), 0);
        assert_int_equal(jws_verify_with(&bad, v, err, sizeof(err)), -1);
        assert_string_equal(err, "signature does not verify");
    }
    /* another message under the good signature */
    good.signing_input_len--;
    assert_int_equal(jws_verify_with(&good, v, err, sizeof(err)), -1);
    good.signing_input_len++;
    /* a signature of the wrong length */
    good.sig_len = 63;
    assert_int_equal(jws_verify_with(&good, v, err, sizeof(err)), -1);
    assert_string_equal(err, "ES256 signature must be 64 octets");
    good.sig_len = 64;
    assert_int_equal(jws_verify_with(&good, v, err, sizeof(err)), 0);
    jws_parsed_free(&good);
    jws_parsed_free(&bad);

    /* RSA: pinned to RS256, and an RS256 token never passes the EC verifier */
    EVP_PKEY *rsa = EVP_RSA_gen(2048);
    struct jws_verifier *rv = jws_verifier_new(rsa);
    assert_non_null(rv);
    char *tok = rs256_token(rsa, "RS256"), *lie = rs256_token(rsa, "ES256");
    struct jws_parsed pt, pl;
    assert_int_equal(jws_parse(tok, strlen(tok), &pt, err, sizeof(err)), 0);
    assert_int_equal(jws_parse(lie, strlen(lie), &pl, err, sizeof(err)), 0);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(jws_verify_with(&pt, rv, err, sizeof(err)), 0);
        assert_int_equal(jws_verify_with(&pl, rv, err, sizeof(err)), -1);
        assert_int_equal(jws_verify_with(&pt, v, err, sizeof(err)), -1);
        assert_string_equal(err, "alg RS256 does not match the ES256 key");
    }
    pt.sig[10] ^= 1;
    assert_int_equal(jws_verify_with(&pt, rv, err, sizeof(err)), -1);
    jws_parsed_free(&pt);
    jws_parsed_free(&pl);
    free(tok);
    free(lie);
    jws_verifier_free(rv);
    EVP_PKEY_free(rsa);

    /* neither EC nor RSA: no verifier */
    EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    assert_non_null(ed);
    assert_null(jws_verifier_new(ed));
    EVP_PKEY_free(ed);
    jws_verifier_free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_es256_vector_verifies),
        cmocka_unit_test(test_flipped_signature_fails),
        cmocka_unit_test(test_none_refused),
        cmocka_unit_test(test_hs256_with_ec_key_refused),
        cmocka_unit_test(test_malformed_refused),
        cmocka_unit_test(test_sign_roundtrip_with_t19_key),
        cmocka_unit_test(test_jwk_roundtrip_and_bad_points),
        cmocka_unit_test(test_rs256_pinned_by_rsa_key),
        cmocka_unit_test(test_es256_der_matches_openssl),
        cmocka_unit_test(test_verifier_reused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
