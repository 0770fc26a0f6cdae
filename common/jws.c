/* jws: the JOSE ES256 signature is R‖S (64 octets) while OpenSSL speaks DER; converting in both
 * directions here keeps that classic bug out of every caller. */
#include "jws.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/rsa.h>

#include "b64url.h"

#define JWS_MAX_PART 4096
#define ES256_COORD 32

static json_t *jws_decode_json(const char *s, size_t len)
{
    unsigned char buf[JWS_MAX_PART];
    ssize_t n = b64url_decode(s, len, buf, sizeof(buf));
    if (n <= 0)
        return NULL;
    json_t *o = json_loadb((const char *)buf, (size_t)n, JSON_REJECT_DUPLICATES, NULL);
    if (o && !json_is_object(o)) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static const char *jws_header_str(const json_t *h, const char *name)
{
    return json_string_value(json_object_get(h, name));
}

int jws_parse(const char *token, size_t len, struct jws_parsed *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (len == 0 || len > JWS_MAX_TOKEN) {
        snprintf(err, errlen, "token length %zu out of bounds", len);
        return -1;
    }
    const char *dot1 = memchr(token, '.', len);
    const char *dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;
    if (!dot2 || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token))) {
        snprintf(err, errlen, "not a compact JWS (needs exactly 3 parts)");
        return -1;
    }
    size_t hlen = (size_t)(dot1 - token), plen = (size_t)(dot2 - dot1 - 1);
    size_t slen = len - (size_t)(dot2 + 1 - token);
    if (hlen > JWS_MAX_PART || plen > JWS_MAX_PART) {
        snprintf(err, errlen, "header or payload too large");
        return -1;
    }
    out->header = jws_decode_json(token, hlen);
    out->claims = jws_decode_json(dot1 + 1, plen);
    if (!out->header || !out->claims) {
        snprintf(err, errlen, "header or payload is not base64url JSON object");
        goto fail;
    }
    out->alg = jws_header_str(out->header, "alg");
    if (!out->alg) {
        snprintf(err, errlen, "header has no alg");
        goto fail;
    }
    if (strcmp(out->alg, "none") == 0) {
        snprintf(err, errlen, "alg none refused");
        goto fail;
    }
    if (json_object_get(out->header, "crit")) {
        snprintf(err, errlen, "crit header refused");
        goto fail;
    }
    out->kid = jws_header_str(out->header, "kid");
    if (json_object_get(out->header, "kid") && (!out->kid || strlen(out->kid) > JWS_MAX_KID)) {
        snprintf(err, errlen, "kid is not a short string");
        goto fail;
    }
    out->typ = jws_header_str(out->header, "typ");
    ssize_t sl = b64url_decode(dot2 + 1, slen, out->sig, sizeof(out->sig));
    if (sl <= 0) {
        snprintf(err, errlen, "signature is empty or not base64url");
        goto fail;
    }
    out->sig_len = (size_t)sl;
    out->signing_input = token;
    out->signing_input_len = (size_t)(dot2 - token);
    return 0;
fail:
    jws_parsed_free(out);
    return -1;
}

void jws_parsed_free(struct jws_parsed *p)
{
    json_decref(p->header);
    json_decref(p->claims);
    p->header = p->claims = NULL;
}

/* One DER INTEGER (X.690 §8.3): unsigned big-endian value, leading zero octets dropped, one
 * 0x00 put back when the top bit is set so it stays positive. */
static size_t jws_der_uint(const unsigned char *v, size_t n, unsigned char *out)
{
    while (n > 1 && v[0] == 0) {
        v++;
        n--;
    }
    size_t pad = v[0] & 0x80 ? 1 : 0;
    out[0] = 0x02;
    out[1] = (unsigned char)(n + pad);
    out[2] = 0;
    memcpy(out + 2 + pad, v, n);
    return 2 + pad + n;
}

/* Built by hand rather than with BIGNUMs and i2d_ECDSA_SIG(): at most 72 octets, so every length
 * fits the short form, and this runs once per token verified. */
size_t jws_es256_raw_to_der(const unsigned char raw[2 * ES256_COORD],
                            unsigned char out[JWS_ES256_DER_MAX])
{
    size_t n = 2;
    n += jws_der_uint(raw, ES256_COORD, out + n);
    n += jws_der_uint(raw + ES256_COORD, ES256_COORD, out + n);
    out[0] = 0x30;
    out[1] = (unsigned char)(n - 2);
    return n;
}

struct jws_verifier {
    EVP_PKEY *key;
    EVP_PKEY_CTX *ctx; /* EVP_PKEY_verify_init() done, SHA-256 set: reused for every token */
    EVP_MD *sha256;    /* fetched once: EVP_sha256() makes OpenSSL 3 look it up on each use */
    int ec;            /* 1: the key verifies ES256; 0: RS256 */
};

void jws_verifier_free(struct jws_verifier *v)
{
    if (!v)
        return;
    EVP_PKEY_CTX_free(v->ctx);
    EVP_MD_free(v->sha256);
    EVP_PKEY_free(v->key);
    free(v);
}

struct jws_verifier *jws_verifier_new(EVP_PKEY *key)
{
    int ec = EVP_PKEY_is_a(key, "EC");
    if (!ec && !EVP_PKEY_is_a(key, "RSA"))
        return NULL;
    struct jws_verifier *v = calloc(1, sizeof(*v));
    if (!v)
        return NULL;
    v->ec = ec;
    if (EVP_PKEY_up_ref(key) != 1) {
        free(v);
        return NULL;
    }
    v->key = key;
    v->sha256 = EVP_MD_fetch(NULL, "SHA2-256", NULL);
    v->ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
    /* With the signature digest set, the provider also refuses a digest of any other length. */
    if (!v->sha256 || !v->ctx || EVP_PKEY_verify_init(v->ctx) != 1 ||
        EVP_PKEY_CTX_set_signature_md(v->ctx, v->sha256) != 1 ||
        (!ec && EVP_PKEY_CTX_set_rsa_padding(v->ctx, RSA_PKCS1_PADDING) != 1)) {
        jws_verifier_free(v);
        return NULL;
    }
    return v;
}

EVP_PKEY *jws_verifier_key(const struct jws_verifier *v)
{
    return v->key;
}

int jws_verify_with(const struct jws_parsed *p, struct jws_verifier *v, char *err, size_t errlen)
{
    const char *want = v->ec ? "ES256" : "RS256";
    if (strcmp(p->alg, want) != 0) {
        snprintf(err, errlen, "alg %.16s does not match the %s key", p->alg, want);
        return -1;
    }
    const unsigned char *sig = p->sig;
    size_t sig_len = p->sig_len;
    unsigned char der[JWS_ES256_DER_MAX];
    if (v->ec) {
        if (p->sig_len != 2 * ES256_COORD) {
            snprintf(err, errlen, "ES256 signature must be 64 octets");
            return -1;
        }
        sig_len = jws_es256_raw_to_der(p->sig, der);
        sig = der;
    }
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;
    int ok =
        EVP_Digest(p->signing_input, p->signing_input_len, digest, &dlen, v->sha256, NULL) == 1 &&
        EVP_PKEY_verify(v->ctx, sig, sig_len, digest, dlen) == 1;
    if (!ok) {
        ERR_clear_error(); /* a forged token must not leave errors behind for the next TLS call */
        snprintf(err, errlen, "signature does not verify");
        return -1;
    }
    return 0;
}

/* One-shot forms (the WAF, DPoP proofs, tests): a verifier made for one token. */
static int jws_verify_once(const struct jws_parsed *p, EVP_PKEY *key, char *err, size_t errlen)
{
    struct jws_verifier *v = jws_verifier_new(key);
    if (!v) {
        snprintf(err, errlen, "cannot set up the signature check");
        return -1;
    }
    int rc = jws_verify_with(p, v, err, errlen);
    jws_verifier_free(v);
    return rc;
}

int jws_verify_es256(const struct jws_parsed *p, EVP_PKEY *key, char *err, size_t errlen)
{
    if (strcmp(p->alg, "ES256") != 0 || !EVP_PKEY_is_a(key, "EC")) {
        snprintf(err, errlen, "alg %.16s does not match the ES256 key", p->alg);
        return -1;
    }
    return jws_verify_once(p, key, err, errlen);
}

int jws_verify(const struct jws_parsed *p, EVP_PKEY *key, char *err, size_t errlen)
{
    if (!EVP_PKEY_is_a(key, "EC") && !EVP_PKEY_is_a(key, "RSA")) {
        snprintf(err, errlen, "alg %.16s does not match the key", p->alg);
        return -1;
    }
    return jws_verify_once(p, key, err, errlen);
}

static char *jws_b64_json(const json_t *o)
{
    char *txt = json_dumps(o, JSON_COMPACT);
    if (!txt)
        return NULL;
    size_t n = strlen(txt);
    char *out = malloc(B64URL_ENCODED_LEN(n) + 1);
    if (out)
        b64url_encode((const unsigned char *)txt, n, out);
    free(txt);
    return out;
}

char *jws_sign_es256(EVP_PKEY *key, const char *kid, const char *typ, const json_t *claims)
{
    json_t *hdr = json_pack("{s:s, s:s, s:s}", "alg", "ES256", "typ", typ, "kid", kid);
    char *token = hdr ? jws_sign_es256_header(key, hdr, claims) : NULL;
    json_decref(hdr);
    return token;
}

char *jws_sign_es256_header(EVP_PKEY *key, const json_t *hdr, const json_t *claims)
{
    char *h = jws_b64_json(hdr);
    char *c = jws_b64_json(claims);
    char *token = NULL;
    unsigned char *der = NULL;
    size_t derlen = 0;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    ECDSA_SIG *sig = NULL;
    if (!h || !c || !md)
        goto out;
    size_t inlen = strlen(h) + 1 + strlen(c);
    char *input = malloc(inlen + 1);
    if (!input)
        goto out;
    snprintf(input, inlen + 1, "%s.%s", h, c);
    if (EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) != 1 ||
        EVP_DigestSign(md, NULL, &derlen, (unsigned char *)input, inlen) != 1 ||
        !(der = OPENSSL_malloc(derlen)) ||
        EVP_DigestSign(md, der, &derlen, (unsigned char *)input, inlen) != 1) {
        free(input);
        goto out;
    }
    const unsigned char *dp = der;
    unsigned char raw[2 * ES256_COORD];
    if (!(sig = d2i_ECDSA_SIG(NULL, &dp, (long)derlen)) ||
        BN_bn2binpad(ECDSA_SIG_get0_r(sig), raw, ES256_COORD) != ES256_COORD ||
        BN_bn2binpad(ECDSA_SIG_get0_s(sig), raw + ES256_COORD, ES256_COORD) != ES256_COORD) {
        free(input);
        goto out;
    }
    token = malloc(inlen + 1 + B64URL_ENCODED_LEN(sizeof(raw)) + 1);
    if (token) {
        memcpy(token, input, inlen);
        token[inlen] = '.';
        b64url_encode(raw, sizeof(raw), token + inlen + 1);
    }
    free(input);
out:
    ECDSA_SIG_free(sig);
    OPENSSL_free(der);
    EVP_MD_CTX_free(md);
    free(h);
    free(c);
    return token;
}
