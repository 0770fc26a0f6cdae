/* WAF access tokens: RFC 9068 header and claims, verified with the key published in the JWKS. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "jwk.h"
#include "jws.h"
#include "waf_token.h"

char *waf_test_tmpdir(void);
void waf_test_rmtree(char *dir);

static const struct waf_token_request req = {"https://waf.example.net",
                                             "sip:ims.test",
                                             "wwsf-portal",
                                             "ims:register ims:call",
                                             1767225600,
                                             900,
                                             NULL};

static void make_user(struct waf_user *u)
{
    const char *impus[] = {"sip:alice@ims.test", "tel:+15551234"};
    char err[256];
    assert_int_equal(waf_user_build(u, "alice", NULL, "ims.test", impus, 2, err, sizeof(err)), 0);
    u->id = 42;
}

static EVP_PKEY *jwks_key(const struct waf_signing_key *k)
{
    char err[128];
    json_t *jwks = waf_keys_jwks(k);
    EVP_PKEY *pub =
        jwk_to_ec_key(json_array_get(json_object_get(jwks, "keys"), 0), err, sizeof(err));
    json_decref(jwks);
    assert_non_null(pub);
    return pub;
}

static const char *claim(const struct jws_parsed *p, const char *name)
{
    return json_string_value(json_object_get(p->claims, name));
}

static void test_token_claims_and_signature(void **state)
{
    char *dir = waf_test_tmpdir(), *other = waf_test_tmpdir();
    char err[256];
    struct waf_signing_key key, wrong;
    struct waf_user u;
    make_user(&u);
    assert_int_equal(waf_keys_load_or_create(dir, &key, err, sizeof(err)), 0);
    assert_int_equal(waf_keys_load_or_create(other, &wrong, err, sizeof(err)), 0);
    char *tok = waf_token_issue(&key, &req, &u, err, sizeof(err));
    assert_non_null(tok);

    struct jws_parsed p;
    assert_int_equal(jws_parse(tok, strlen(tok), &p, err, sizeof(err)), 0);
    assert_string_equal(p.alg, "ES256");
    assert_string_equal(p.typ, "at+jwt");
    assert_string_equal(p.kid, key.kid);
    EVP_PKEY *pub = jwks_key(&key), *wrong_pub = jwks_key(&wrong);
    assert_int_equal(jws_verify_es256(&p, pub, err, sizeof(err)), 0);
    assert_int_equal(jws_verify_es256(&p, wrong_pub, err, sizeof(err)), -1);

    assert_string_equal(claim(&p, "iss"), "https://waf.example.net");
    assert_string_equal(claim(&p, "sub"), "user-42");
    assert_string_equal(claim(&p, "aud"), "sip:ims.test");
    assert_string_equal(claim(&p, "client_id"), "wwsf-portal");
    assert_string_equal(claim(&p, "scope"), "ims:register ims:call");
    assert_string_equal(claim(&p, "impi"), "alice@ims.test");
    assert_int_equal(json_integer_value(json_object_get(p.claims, "iat")), 1767225600);
    assert_int_equal(json_integer_value(json_object_get(p.claims, "exp")), 1767225600 + 900);
    assert_int_equal(strlen(claim(&p, "jti")), 22);
    json_t *impu = json_object_get(p.claims, "impu");
    assert_true(json_is_array(impu));
    assert_int_equal(json_array_size(impu), 2);
    assert_string_equal(json_string_value(json_array_get(impu, 0)), "sip:alice@ims.test");
    assert_string_equal(json_string_value(json_array_get(impu, 1)), "tel:+15551234");
    assert_int_equal(json_object_size(p.claims), 10);

    char *tok2 = waf_token_issue(&key, &req, &u, err, sizeof(err));
    struct jws_parsed p2;
    assert_int_equal(jws_parse(tok2, strlen(tok2), &p2, err, sizeof(err)), 0);
    assert_string_not_equal(claim(&p, "jti"), claim(&p2, "jti"));

    jws_parsed_free(&p);
    jws_parsed_free(&p2);
    free(tok);
    free(tok2);
    EVP_PKEY_free(pub);
    EVP_PKEY_free(wrong_pub);
    waf_keys_free(&key);
    waf_keys_free(&wrong);
    waf_test_rmtree(dir);
    waf_test_rmtree(other);
}

static void test_scope_and_client_id_rules(void **state)
{
    assert_true(waf_token_scope_valid("ims:register"));
    assert_true(waf_token_scope_valid("ims:register ims:call ims:message"));
    assert_true(waf_token_scope_valid("ims:message ims:register"));
    const char *bad[] = {"",
                         " ",
                         "openid",
                         "ims:register  ims:call",
                         " ims:call",
                         "ims:call ",
                         "ims:call ims:call",
                         "ims:register\tims:call",
                         "ims:registerx",
                         "ims:regist"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (waf_token_scope_valid(bad[i]))
            fail_msg("scope \"%s\" accepted", bad[i]);
    assert_true(waf_token_client_id_valid("imsgw-cli"));
    assert_false(waf_token_client_id_valid(""));
    assert_false(waf_token_client_id_valid("a b"));
    assert_false(waf_token_client_id_valid("a\nb"));

    char *dir = waf_test_tmpdir();
    char err[256];
    struct waf_signing_key key;
    struct waf_user u;
    make_user(&u);
    assert_int_equal(waf_keys_load_or_create(dir, &key, err, sizeof(err)), 0);
    struct waf_token_request r = req;
    r.scope = "openid";
    assert_null(waf_token_issue(&key, &r, &u, err, sizeof(err)));
    r = req;
    r.client_id = "";
    assert_null(waf_token_issue(&key, &r, &u, err, sizeof(err)));
    waf_keys_free(&key);
    waf_test_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token_claims_and_signature),
        cmocka_unit_test(test_scope_and_client_id_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
