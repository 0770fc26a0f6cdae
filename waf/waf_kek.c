/* waf_kek: AES-256-GCM with a fresh 96-bit random nonce per sealing (a key is sealed once per
 * rotation, far below the 2^32 sealings a random nonce allows under one key). */
#include "waf_kek.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "b64url.h"
#include "rnd.h"
#include "secretfile.h"

#define WAF_KEK_NONCE 12
#define WAF_KEK_TAG 16
#define WAF_KEK_PEM_MAX 8192

static int waf_kek_hex(struct waf_kek *k, const char *text, size_t n)
{
    while (n && (text[n - 1] == '\n' || text[n - 1] == '\r'))
        n--;
    if (n != 2 * sizeof(k->key))
        return -1;
    for (size_t i = 0; i < sizeof(k->key); i++) {
        unsigned v;
        char pair[3] = {text[2 * i], text[2 * i + 1], 0};
        if (!strchr("0123456789abcdefABCDEF", pair[0]) ||
            !strchr("0123456789abcdefABCDEF", pair[1]) || sscanf(pair, "%x", &v) != 1)
            return -1;
        k->key[i] = (unsigned char)v;
    }
    k->set = 1;
    return 0;
}

int waf_kek_load(struct waf_kek *k, const char *path, char *err, size_t errlen)
{
    memset(k, 0, sizeof(*k));
    char text[80];
    ssize_t n;
    const char *from;
    if (path && path[0]) {
        int fd = secretfile_open("key-encryption key", path, err, errlen);
        if (fd < 0)
            return -1;
        n = read(fd, text, sizeof(text));
        close(fd);
        from = path;
    } else {
        const char *env = getenv(WAF_KEK_ENV);
        if (!env)
            return 0;
        n = (ssize_t)strnlen(env, sizeof(text));
        memcpy(text, env, (size_t)n);
        from = WAF_KEK_ENV;
    }
    int rc = n > 0 && n < (ssize_t)sizeof(text) ? waf_kek_hex(k, text, (size_t)n) : -1;
    OPENSSL_cleanse(text, sizeof(text));
    if (rc < 0) {
        waf_kek_clear(k);
        snprintf(err, errlen,
                 "key-encryption key %s: not 64 hex digits; make one with openssl rand -hex 32",
                 from);
    }
    return rc;
}

int waf_kek_derive(const struct waf_kek *k, const char *label, unsigned char out[32])
{
    unsigned int len = 32;
    if (!k->set)
        return -1;
    return HMAC(EVP_sha256(), k->key, sizeof(k->key), (const unsigned char *)label, strlen(label),
                out, &len)
               ? 0
               : -1;
}

void waf_kek_clear(struct waf_kek *k)
{
    OPENSSL_cleanse(k, sizeof(*k));
}

/* One AES-256-GCM pass; enc 1 seals (writes tag), 0 opens (checks tag). Returns 0 or -1. */
static int waf_kek_gcm(const struct waf_kek *k, int enc, const char *kid,
                       const unsigned char *nonce, const unsigned char *in, int n,
                       unsigned char *out, unsigned char *tag)
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int len,
        ok = c && EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, k->key, nonce, enc) == 1 &&
             EVP_CipherUpdate(c, NULL, &len, (const unsigned char *)kid, (int)strlen(kid)) == 1 &&
             EVP_CipherUpdate(c, out, &len, in, n) == 1 &&
             (enc || EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, WAF_KEK_TAG, tag) == 1) &&
             EVP_CipherFinal_ex(c, out + len, &len) == 1 &&
             (!enc || EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, WAF_KEK_TAG, tag) == 1);
    EVP_CIPHER_CTX_free(c);
    return ok ? 0 : -1;
}

char *waf_kek_seal(const struct waf_kek *k, const char *kid, const char *pem)
{
    size_t n = strlen(pem);
    if (!k->set || n > WAF_KEK_PEM_MAX)
        return NULL;
    size_t raw_len = WAF_KEK_NONCE + n + WAF_KEK_TAG;
    unsigned char *raw = malloc(raw_len);
    char *out = malloc(strlen(WAF_KEK_PREFIX) + B64URL_ENCODED_LEN(raw_len) + 1);
    if (!raw || !out)
        goto fail;
    rnd_bytes(raw, WAF_KEK_NONCE);
    if (waf_kek_gcm(k, 1, kid, raw, (const unsigned char *)pem, (int)n, raw + WAF_KEK_NONCE,
                    raw + WAF_KEK_NONCE + n) < 0)
        goto fail;
    strcpy(out, WAF_KEK_PREFIX);
    b64url_encode(raw, raw_len, out + strlen(WAF_KEK_PREFIX));
    free(raw);
    return out;
fail:
    free(raw);
    free(out);
    return NULL;
}

char *waf_kek_unseal(const struct waf_kek *k, const char *kid, const char *stored, char *err,
                     size_t errlen)
{
    size_t plen = strlen(WAF_KEK_PREFIX);
    if (strncmp(stored, WAF_KEK_PREFIX, plen) != 0) {
        char *pem = strdup(stored); /* a key stored before encryption was configured */
        if (!pem)
            snprintf(err, errlen, "out of memory");
        return pem;
    }
    if (!k->set) {
        snprintf(err, errlen, "signing key %s is encrypted: set key-encryption-key-file", kid);
        return NULL;
    }
    size_t len = strlen(stored + plen), cap = len; /* decoding only shrinks */
    unsigned char *raw = malloc(cap + 1);
    char *pem = malloc(cap + 1);
    ssize_t n = raw ? b64url_decode(stored + plen, len, raw, cap) : -1;
    if (!pem || n < WAF_KEK_NONCE + WAF_KEK_TAG + 1 ||
        waf_kek_gcm(k, 0, kid, raw, raw + WAF_KEK_NONCE, (int)(n - WAF_KEK_NONCE - WAF_KEK_TAG),
                    (unsigned char *)pem, raw + n - WAF_KEK_TAG) < 0) {
        snprintf(err, errlen,
                 "signing key %s does not open with this key-encryption key (wrong key or "
                 "altered value)",
                 kid);
        if (pem)
            OPENSSL_cleanse(pem, cap + 1);
        free(pem);
        free(raw);
        return NULL;
    }
    pem[n - WAF_KEK_NONCE - WAF_KEK_TAG] = '\0';
    OPENSSL_cleanse(raw, cap + 1);
    free(raw);
    return pem;
}
