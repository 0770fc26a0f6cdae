/* Access-token validation against the T19 vectors (spec §11) and derived negatives. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>

#include "b64url.h"
#include "jws.h"
#include "testkeys.h"
#include "tok.h"
#include "vectors.h"

static struct jws_verifier *t19_key; /* prepared once, as the gateway's JWKS keys are */

static const struct tok_policy t19_policy = {
    .issuer = "https://waf.example.net",
    .audience = "sip:epcscf.example.net",
    .required_scope = "ims:register",
    .leeway = 60,
};

static struct jws_verifier *lookup(void *ctx, const char *kid)
{
    return strcmp(kid, "waf-es256-1") == 0 ? t19_key : NULL;
}

static enum tok_result check_at(const char *token, const struct tok_policy *pol, int64_t now,
                                struct tok_identity *id)
{
    char why[128];
    return tok_validate(token, strlen(token), pol, lookup, NULL, now, id, why, sizeof(why));
}

static enum tok_result check(const char *token)
{
    struct tok_identity id;
    return check_at(token, &t19_policy, T19_NOW, &id);
}

/* The T19 claims, re-signed with the T19 key after edit() changed them. */
static char *resign(void (*edit)(json_t *claims), const char *typ)
{
    unsigned char raw[1024];
    ssize_t n = b64url_decode(T19_PAYLOAD, strlen(T19_PAYLOAD), raw, sizeof(raw));
    json_t *claims = json_loadb((const char *)raw, (size_t)n, 0, NULL);
    if (edit)
        edit(claims);
    EVP_PKEY *priv = t19_private_key();
    char *tok = jws_sign_es256(priv, "waf-es256-1", typ, claims);
    EVP_PKEY_free(priv);
    json_decref(claims);
    return tok;
}

static int setup(void **state)
{
    EVP_PKEY *pub = t19_public_key();
    t19_key = jws_verifier_new(pub);
    EVP_PKEY_free(pub);
    return t19_key ? 0 : -1;
}

static int teardown(void **state)
{
    jws_verifier_free(t19_key);
    return 0;
}

static void test_t3_es256_accepted(void **state)
{
    struct tok_identity id;
    assert_int_equal(check_at(T19_TOKEN_ES256, &t19_policy, T19_NOW, &id), TOK_OK);
    assert_string_equal(id.impi, "alice_private@ims.example.net");
    assert_int_equal(id.nimpu, 1);
    assert_true(tok_has_impu(&id, "sip:alice@ims.example.net"));
    assert_false(tok_has_impu(&id, "sip:bob@ims.example.net"));
    assert_int_equal(id.exp, 1767229200);
}

static void test_t6_expiry_leeway(void **state)
{
    struct tok_identity id;
    assert_int_equal(check_at(T19_TOKEN_ES256, &t19_policy, 1767229260, &id), TOK_OK);
    assert_int_equal(check_at(T19_TOKEN_ES256, &t19_policy, 1767229261, &id), TOK_INVALID);
    /* iat in the future beyond the leeway */
    assert_int_equal(check_at(T19_TOKEN_ES256, &t19_policy, 1767225600 - 61, &id), TOK_INVALID);
}

static void test_t7_none_and_t8_hs256_refused(void **state)
{
    assert_int_equal(check(T19_TOKEN_NONE), TOK_INVALID);
    assert_int_equal(check(T19_TOKEN_HS256), TOK_INVALID);
}

static void test_flipped_signature_refused(void **state)
{
    char tok[] = T19_TOKEN_ES256;
    size_t n = strlen(tok);
    tok[n - 3] = tok[n - 3] == 'x' ? 'y' : 'x';
    assert_int_equal(check(tok), TOK_INVALID);
}

static void test_wrong_iss_aud_refused(void **state)
{
    struct tok_identity id;
    struct tok_policy p = t19_policy;
    p.issuer = "https://evil.example.net";
    assert_int_equal(check_at(T19_TOKEN_ES256, &p, T19_NOW, &id), TOK_INVALID);
    p = t19_policy;
    p.audience = "sip:other.example.net";
    assert_int_equal(check_at(T19_TOKEN_ES256, &p, T19_NOW, &id), TOK_INVALID);
}

static void test_t10_scope(void **state)
{
    struct tok_identity id;
    struct tok_policy p = t19_policy;
    p.required_scope = "ims:message";
    assert_int_equal(check_at(T19_TOKEN_ES256, &p, T19_NOW, &id), TOK_INVALID_SCOPE);
    p.required_scope = "ims:reg"; /* a prefix of a granted scope is not that scope */
    assert_int_equal(check_at(T19_TOKEN_ES256, &p, T19_NOW, &id), TOK_INVALID_SCOPE);
}

static void drop_exp(json_t *c)
{
    json_object_del(c, "exp");
}

static void aud_array(json_t *c)
{
    json_object_set_new(c, "aud", json_pack("[s,s]", "sip:x", "sip:epcscf.example.net"));
}

static void impu_array(json_t *c)
{
    json_object_set_new(c, "impu", json_pack("[s,s]", "sip:alice@ims.example.net", "tel:+1555"));
}

static void impu_http(json_t *c)
{
    json_object_set_new(c, "impu", json_string("https://alice"));
}

static void test_derived_negatives_and_positives(void **state)
{
    char *t;
    t = resign(NULL, "JWT");
    assert_int_equal(check(t), TOK_INVALID); /* typ must be at+jwt */
    free(t);
    t = resign(drop_exp, "at+jwt");
    assert_int_equal(check(t), TOK_INVALID);
    free(t);
    t = resign(impu_http, "at+jwt");
    assert_int_equal(check(t), TOK_INVALID);
    free(t);
    t = resign(aud_array, "at+jwt");
    assert_int_equal(check(t), TOK_OK);
    free(t);
    struct tok_identity id;
    t = resign(impu_array, "application/at+jwt");
    assert_int_equal(check_at(t, &t19_policy, T19_NOW, &id), TOK_OK);
    assert_int_equal(id.nimpu, 2);
    free(t);
}

static void test_unknown_kid(void **state)
{
    EVP_PKEY *priv = t19_private_key();
    json_t *c = json_pack("{s:s}", "sub", "x");
    char *t = jws_sign_es256(priv, "other-kid", "at+jwt", c);
    assert_int_equal(check(t), TOK_UNKNOWN_KID);
    free(t);
    json_decref(c);
    EVP_PKEY_free(priv);
}

static void test_t16_bearer_forms(void **state)
{
    const char *tok;
    size_t len;
    const char *plain[] = {"abc.def.ghi", NULL};
    assert_int_equal(tok_from_bearer_params(plain, &tok, &len), 0);
    assert_int_equal(len, 11);
    const char *quoted[] = {"access_token=\"abc.def.ghi\"", NULL};
    assert_int_equal(tok_from_bearer_params(quoted, &tok, &len), 0);
    assert_int_equal(len, 11);
    assert_memory_equal(tok, "abc.def.ghi", 11);
    const char *padded[] = {"YWJj==", NULL};
    assert_int_equal(tok_from_bearer_params(padded, &tok, &len), 0);
    const char *space[] = {"a b", NULL};
    assert_int_equal(tok_from_bearer_params(space, &tok, &len), -1);
    const char *two[] = {"a", "b", NULL};
    assert_int_equal(tok_from_bearer_params(two, &tok, &len), -1);
    const char *unquoted[] = {"access_token=abc", NULL};
    assert_int_equal(tok_from_bearer_params(unquoted, &tok, &len), -1);
    const char *mid_pad[] = {"ab=c", NULL};
    assert_int_equal(tok_from_bearer_params(mid_pad, &tok, &len), -1);
    assert_int_equal(tok_from_bearer_params(NULL, &tok, &len), -1);
}

/* RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="; every
 * byte value is tried in the middle of a token. */
static void test_b64token_every_byte(void **state)
{
    static const char allowed[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                  "0123456789-._~+/";
    int accepted = 0;
    for (int c = 1; c < 256; c++) {
        char text[4] = {'a', (char)c, 'b', '\0'};
        const char *params[] = {text, NULL}, *tok;
        size_t len;
        int ok = tok_from_bearer_params(params, &tok, &len) == 0;
        assert_int_equal(ok, strchr(allowed, c) != NULL);
        accepted += ok;
    }
    assert_int_equal(accepted, 68);
}

/* Issue 9 item 3: an introspection answer is an access token only with token_type Bearer. */
static void test_introspection_token_type(void **state)
{
    unsigned char raw[1024];
    ssize_t n = b64url_decode(T19_PAYLOAD, strlen(T19_PAYLOAD), raw, sizeof(raw));
    json_t *claims = json_loadb((const char *)raw, (size_t)n, 0, NULL);
    json_object_set_new(claims, "active", json_true());
    struct tok_identity id;
    char why[128];
    const char *types[] = {"Bearer", "bearer", "refresh_token", "access_token", NULL};
    const enum tok_result want[] = {TOK_OK, TOK_OK, TOK_INVALID, TOK_INVALID, TOK_INVALID};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        if (types[i])
            json_object_set_new(claims, "token_type", json_string(types[i]));
        else
            json_object_del(claims, "token_type");
        assert_int_equal(tok_validate_claims(claims, TOK_FROM_INTROSPECTION, &t19_policy, T19_NOW,
                                             &id, why, sizeof(why)),
                         want[i]);
    }
    json_decref(claims);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_t3_es256_accepted),
        cmocka_unit_test(test_t6_expiry_leeway),
        cmocka_unit_test(test_t7_none_and_t8_hs256_refused),
        cmocka_unit_test(test_flipped_signature_refused),
        cmocka_unit_test(test_wrong_iss_aud_refused),
        cmocka_unit_test(test_t10_scope),
        cmocka_unit_test(test_derived_negatives_and_positives),
        cmocka_unit_test(test_unknown_kid),
        cmocka_unit_test(test_t16_bearer_forms),
        cmocka_unit_test(test_b64token_every_byte),
        cmocka_unit_test(test_introspection_token_type),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
