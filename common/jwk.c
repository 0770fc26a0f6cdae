/* jwk: OpenSSL 3 parameter API only; the key is checked on the curve when it is built, so a JWK
 * with a bogus point never reaches the verifier (RFC 8725 §3.4). */
#include "jwk.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include "b64url.h"

#define JWK_COORD_LEN 32

static int jwk_coord(EVP_PKEY *key, const char *name, char out[64])
{
    BIGNUM *bn = NULL;
    unsigned char raw[JWK_COORD_LEN];
    if (!EVP_PKEY_get_bn_param(key, name, &bn))
        return -1;
    int ok = BN_bn2binpad(bn, raw, sizeof(raw)) == JWK_COORD_LEN;
    BN_free(bn);
    if (!ok)
        return -1;
    b64url_encode(raw, sizeof(raw), out);
    return 0;
}

json_t *jwk_from_ec_key(EVP_PKEY *key, const char *kid)
{
    char x[64], y[64];
    if (jwk_coord(key, OSSL_PKEY_PARAM_EC_PUB_X, x) < 0 ||
        jwk_coord(key, OSSL_PKEY_PARAM_EC_PUB_Y, y) < 0)
        return NULL;
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "kty", "EC", "crv", "P-256", "kid", kid,
                     "use", "sig", "alg", "ES256", "x", x, "y", y);
}

static int jwk_get_coord(const json_t *jwk, const char *name, unsigned char out[JWK_COORD_LEN])
{
    const char *s = json_string_value(json_object_get(jwk, name));
    return s && b64url_decode(s, strlen(s), out, JWK_COORD_LEN) == JWK_COORD_LEN ? 0 : -1;
}

EVP_PKEY *jwk_to_ec_key(const json_t *jwk, char *err, size_t errlen)
{
    const char *kty = json_string_value(json_object_get(jwk, "kty"));
    const char *crv = json_string_value(json_object_get(jwk, "crv"));
    const json_t *alg = json_object_get(jwk, "alg");
    unsigned char point[1 + 2 * JWK_COORD_LEN] = {0x04};
    if (!kty || strcmp(kty, "EC") != 0 || !crv || strcmp(crv, "P-256") != 0) {
        snprintf(err, errlen, "not an EC P-256 key");
        return NULL;
    }
    if (alg && (!json_is_string(alg) || strcmp(json_string_value(alg), "ES256") != 0)) {
        snprintf(err, errlen, "key is bound to another algorithm");
        return NULL;
    }
    if (jwk_get_coord(jwk, "x", point + 1) < 0 ||
        jwk_get_coord(jwk, "y", point + 1 + JWK_COORD_LEN) < 0) {
        snprintf(err, errlen, "x or y is not 32 bytes of base64url");
        return NULL;
    }
    EVP_PKEY *key = NULL;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    if (!bld || !ctx ||
        !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) ||
        !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point)) ||
        !(params = OSSL_PARAM_BLD_to_param(bld)) || EVP_PKEY_fromdata_init(ctx) <= 0 ||
        EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) <= 0) {
        snprintf(err, errlen, "the point is not on the P-256 curve");
        EVP_PKEY_free(key);
        key = NULL;
    }
    if (key) {
        EVP_PKEY_CTX *check = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
        if (!check || EVP_PKEY_public_check(check) != 1) {
            snprintf(err, errlen, "the point is not on the P-256 curve");
            EVP_PKEY_free(key);
            key = NULL;
        }
        EVP_PKEY_CTX_free(check);
    }
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    EVP_PKEY_CTX_free(ctx);
    return key;
}

#define JWK_RSA_MIN_BITS 2048
#define JWK_RSA_MAX_BYTES 1024 /* 8192-bit modulus */

static BIGNUM *jwk_get_bn(const json_t *jwk, const char *name)
{
    const char *s = json_string_value(json_object_get(jwk, name));
    unsigned char raw[JWK_RSA_MAX_BYTES];
    ssize_t n = s ? b64url_decode(s, strlen(s), raw, sizeof(raw)) : -1;
    return n > 0 ? BN_bin2bn(raw, (int)n, NULL) : NULL;
}

static EVP_PKEY *jwk_to_rsa_key(const json_t *jwk, char *err, size_t errlen)
{
    const json_t *alg = json_object_get(jwk, "alg");
    if (alg && (!json_is_string(alg) || strcmp(json_string_value(alg), "RS256") != 0)) {
        snprintf(err, errlen, "RSA key is bound to another algorithm");
        return NULL;
    }
    BIGNUM *n = jwk_get_bn(jwk, "n"), *e = jwk_get_bn(jwk, "e");
    EVP_PKEY *key = NULL;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    if (!n || !e || BN_num_bits(n) < JWK_RSA_MIN_BITS) {
        snprintf(err, errlen, "RSA n or e missing, or modulus under %d bits", JWK_RSA_MIN_BITS);
    } else if (!bld || !ctx || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
               !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) ||
               !(params = OSSL_PARAM_BLD_to_param(bld)) || EVP_PKEY_fromdata_init(ctx) <= 0 ||
               EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) <= 0) {
        snprintf(err, errlen, "not a usable RSA public key");
        EVP_PKEY_free(key);
        key = NULL;
    }
    BN_free(n);
    BN_free(e);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    EVP_PKEY_CTX_free(ctx);
    return key;
}

EVP_PKEY *jwk_to_public_key(const json_t *jwk, char *err, size_t errlen)
{
    const char *kty = json_string_value(json_object_get(jwk, "kty"));
    if (kty && strcmp(kty, "RSA") == 0)
        return jwk_to_rsa_key(jwk, err, errlen);
    return jwk_to_ec_key(jwk, err, errlen);
}

static char *jwk_bio_text(BIO *bio)
{
    char *data;
    long n = BIO_get_mem_data(bio, &data);
    char *out = n > 0 ? malloc((size_t)n + 1) : NULL;
    if (out) {
        memcpy(out, data, (size_t)n);
        out[n] = '\0';
    }
    BIO_free(bio);
    return out;
}

char *jwk_public_pem(EVP_PKEY *key)
{
    BIO *bio = BIO_new(BIO_s_mem());
    if (!bio || PEM_write_bio_PUBKEY(bio, key) != 1) {
        BIO_free(bio);
        return NULL;
    }
    return jwk_bio_text(bio);
}

char *jwk_private_pem(EVP_PKEY *key)
{
    BIO *bio = BIO_new(BIO_s_mem());
    if (!bio || PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) != 1) {
        BIO_free(bio);
        return NULL;
    }
    return jwk_bio_text(bio);
}

/* RFC 7638 §3: SHA-256 over the required members only, in lexicographic order, no spaces. */
static int jwk_digest_canon(const char *canon, int n, size_t size, char out[JWK_THUMBPRINT_SIZE])
{
    if (n < 0 || (size_t)n >= size)
        return -1;
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)canon, (size_t)n, digest);
    b64url_encode(digest, sizeof(digest), out);
    return 0;
}

static int jwk_rsa_thumbprint(EVP_PKEY *key, char out[JWK_THUMBPRINT_SIZE])
{
    BIGNUM *n = NULL, *e = NULL;
    unsigned char nb[JWK_RSA_MAX_BYTES], eb[16];
    char ns[B64URL_ENCODED_LEN(JWK_RSA_MAX_BYTES) + 1], es[24], canon[1500];
    int len = -1;
    if (EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &n) &&
        EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_E, &e) &&
        BN_num_bytes(n) <= (int)sizeof(nb) && BN_num_bytes(e) <= (int)sizeof(eb)) {
        int nl = BN_bn2bin(n, nb), el = BN_bn2bin(e, eb);
        b64url_encode(nb, (size_t)nl, ns);
        b64url_encode(eb, (size_t)el, es);
        len = snprintf(canon, sizeof(canon), "{\"e\":\"%s\",\"kty\":\"RSA\",\"n\":\"%s\"}", es, ns);
    }
    BN_free(n);
    BN_free(e);
    return jwk_digest_canon(canon, len, sizeof(canon), out);
}

int jwk_thumbprint(EVP_PKEY *key, char out[JWK_THUMBPRINT_SIZE])
{
    if (EVP_PKEY_is_a(key, "RSA"))
        return jwk_rsa_thumbprint(key, out);
    char x[64], y[64], canon[160];
    if (jwk_coord(key, OSSL_PKEY_PARAM_EC_PUB_X, x) < 0 ||
        jwk_coord(key, OSSL_PKEY_PARAM_EC_PUB_Y, y) < 0)
        return -1;
    int n = snprintf(canon, sizeof(canon),
                     "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}", x, y);
    return jwk_digest_canon(canon, n, sizeof(canon), out);
}
