/* JWS parsing and ES256 verification against the T19 vectors. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
