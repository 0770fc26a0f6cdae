#include "testkeys.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/param_build.h>

#include "b64url.h"
#include "jwk.h"
#include "vectors.h"

EVP_PKEY *t19_public_key(void)
{
    char err[128];
    json_t *j = json_loads(T19_JWK, 0, NULL);
    EVP_PKEY *k = jwk_to_ec_key(j, err, sizeof(err));
    json_decref(j);
    if (!k)
        abort();
    return k;
}

EVP_PKEY *t19_private_key(void)
{
    unsigned char d[32], point[65];
    size_t plen = 0;
    if (b64url_decode(T19_D, strlen(T19_D), d, sizeof(d)) != 32)
        abort();
    EVP_PKEY *pub = t19_public_key();
    if (!EVP_PKEY_get_octet_string_param(pub, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point), &plen))
        abort();
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    BIGNUM *bn = BN_bin2bn(d, 32, NULL);
    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0);
    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, bn);
    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, plen);
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    EVP_PKEY *key = NULL;
    if (EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_KEYPAIR, params) != 1)
        abort();
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn);
    EVP_PKEY_free(pub);
    return key;
}
