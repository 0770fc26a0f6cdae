/* Fuzz target token: a Bearer credential as the gateway validates it (gateway/tok.c over
 * common/jws.c): shape check, compact JWS split and base64url/JSON decoding, the key chosen by
 * kid (the T19 P-256 test key, or an RSA-2048 key made at start), signature verification pinned
 * by key type, then the RFC 9068 claims under the T19 policy at T19's "now", so the valid T19
 * token of the corpus passes. An input that is not JWS-shaped is taken as a claims object, so
 * the claims checks are fuzzed without a signature in the way. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "jws.h"
#include "tok.h"
#include "vectors.h"
#include "testkeys.h"

static struct jws_verifier *token_ec, *token_rsa;

static struct jws_verifier *token_lookup(void *ctx, const char *kid)
{
    if (strcmp(kid, "waf-es256-1") == 0)
        return token_ec;
    if (strcmp(kid, "rsa-1") == 0)
        return token_rsa;
    return NULL;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    EVP_PKEY *ec = t19_public_key(), *rsa = EVP_RSA_gen(2048);
    token_ec = ec ? jws_verifier_new(ec) : NULL;
    token_rsa = rsa ? jws_verifier_new(rsa) : NULL;
    EVP_PKEY_free(ec);
    EVP_PKEY_free(rsa);
    if (!token_ec || !token_rsa)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct tok_policy pol = {"https://waf.example.net", "sip:epcscf.example.net",
                                          "ims:register", 60};
    const char *token = (const char *)data;
    struct tok_identity id;
    char why[160];
    if (tok_is_jws(token, size)) {
        tok_validate(token, size, &pol, token_lookup, NULL, T19_NOW, &id, why, sizeof(why));
        /* Past the signature only with a real one: check the decoded claims directly too. */
        struct jws_parsed p;
        if (jws_parse(token, size, &p, why, sizeof(why)) == 0) {
            tok_validate_claims(p.claims, TOK_FROM_JWT, &pol, T19_NOW, &id, why, sizeof(why));
            jws_parsed_free(&p);
        }
        return 0;
    }
    json_t *claims = json_loadb(token, size, JSON_REJECT_DUPLICATES, NULL);
    if (json_is_object(claims)) {
        tok_validate_claims(claims, TOK_FROM_JWT, &pol, T19_NOW, &id, why, sizeof(why));
        tok_validate_claims(claims, TOK_FROM_INTROSPECTION, &pol, T19_NOW, &id, why, sizeof(why));
    }
    json_decref(claims);
    return 0;
}
