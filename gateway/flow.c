/* flow: the token carries the process instance, worker number and connection id instead of the
 * example's IP/port tuple: a connection id is never reused within a process, so a token can never
 * point at a later connection that happens to reuse an old port; the instance (random per
 * process) keeps several gateways sharing one flow-key (docs/scale-out.md), and a restarted one,
 * from taking each other's tokens for their own connections: such a token is answered 430. */
#include "flow.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include "b64url.h"
#include "rnd.h"

#define FLOW_S_VERSION 2
#define FLOW_S_LEN 15 /* version ‖ instance(4) ‖ worker(2) ‖ conn_id(8) */
_Static_assert(((FLOW_MAC_LEN + FLOW_S_LEN) * 4 + 2) / 3 == FLOW_CONN_TOKEN_LEN,
               "FLOW_CONN_TOKEN_LEN is the length of a connection's token");

static uint8_t flow_key[FLOW_KEY_LEN];
static uint32_t flow_instance;

/* The process key's HMAC, keyed once: every REGISTER and every request from the core makes or
 * checks a token, and OpenSSL 3's one-shot HMAC() fetches and keys anew each time (~16,000
 * instructions; a copy of a keyed context is a fraction of that, docs/benchmarks.md). */
static EVP_MAC_CTX *flow_keyed;

static EVP_MAC_CTX *flow_keyed_new(const uint8_t key[FLOW_KEY_LEN])
{
    EVP_MAC *hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = hmac ? EVP_MAC_CTX_new(hmac) : NULL;
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", "SHA1", 0),
                           OSSL_PARAM_construct_end()};
    if (ctx && !EVP_MAC_init(ctx, key, FLOW_KEY_LEN, params)) {
        EVP_MAC_CTX_free(ctx);
        ctx = NULL;
    }
    EVP_MAC_free(hmac);
    return ctx;
}

void flow_set_key(const uint8_t key[FLOW_KEY_LEN])
{
    memcpy(flow_key, key, FLOW_KEY_LEN);
    rnd_bytes(&flow_instance, sizeof(flow_instance));
    EVP_MAC_CTX_free(flow_keyed);
    flow_keyed = flow_keyed_new(key);
}

static int flow_hkdf(const void *info, size_t info_len, uint8_t *out, size_t len)
{
    EVP_KDF *hkdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    EVP_KDF_CTX *ctx = hkdf ? EVP_KDF_CTX_new(hkdf) : NULL;
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", "SHA256", 0),
                           OSSL_PARAM_construct_octet_string("key", flow_key, FLOW_KEY_LEN),
                           OSSL_PARAM_construct_octet_string("info", (void *)info, info_len),
                           OSSL_PARAM_construct_end()};
    int ok = ctx && EVP_KDF_derive(ctx, out, len, params) > 0;
    EVP_KDF_CTX_free(ctx);
    EVP_KDF_free(hkdf);
    return ok ? 0 : -1;
}

int flow_derive_key(const char *label, uint8_t *out, size_t len)
{
    return flow_hkdf(label, strlen(label), out, len);
}

int flow_derive_instance_key(const char *label, uint8_t *out, size_t len)
{
    /* label ‖ 0 ‖ instance (big-endian): the 0 keeps it apart from every plain label */
    uint8_t info[128];
    size_t n = strlen(label);
    if (n + 5 > sizeof(info))
        return -1;
    memcpy(info, label, n);
    info[n] = 0;
    for (int i = 0; i < 4; i++)
        info[n + 1 + i] = (uint8_t)(flow_instance >> (24 - 8 * i));
    return flow_hkdf(info, n + 5, out, len);
}

static void flow_mac(const uint8_t key[FLOW_KEY_LEN], const uint8_t *s, size_t slen,
                     uint8_t mac[FLOW_MAC_LEN])
{
    unsigned char full[EVP_MAX_MD_SIZE];
    size_t n = 0;
    EVP_MAC_CTX *ctx = key == flow_key && flow_keyed ? EVP_MAC_CTX_dup(flow_keyed) : NULL;
    if (ctx && EVP_MAC_update(ctx, s, slen) && EVP_MAC_final(ctx, full, &n, sizeof(full)) &&
        n >= FLOW_MAC_LEN) {
        EVP_MAC_CTX_free(ctx);
        memcpy(mac, full, FLOW_MAC_LEN);
        return;
    }
    EVP_MAC_CTX_free(ctx);
    unsigned int len = 0;
    HMAC(EVP_sha1(), key, FLOW_KEY_LEN, s, slen, full, &len);
    memcpy(mac, full, FLOW_MAC_LEN);
}

size_t flow_token_encode(const uint8_t key[FLOW_KEY_LEN], const uint8_t *s, size_t slen,
                         char out[FLOW_TOKEN_MAX])
{
    uint8_t raw[FLOW_MAC_LEN + 48];
    if (slen > sizeof(raw) - FLOW_MAC_LEN) {
        out[0] = '\0';
        return 0;
    }
    flow_mac(key, s, slen, raw);
    memcpy(raw + FLOW_MAC_LEN, s, slen);
    return b64url_encode(raw, FLOW_MAC_LEN + slen, out);
}

size_t flow_token_make(const struct flow_ref *ref, char out[FLOW_TOKEN_MAX])
{
    uint8_t s[FLOW_S_LEN] = {FLOW_S_VERSION};
    for (int i = 0; i < 4; i++)
        s[1 + i] = (uint8_t)(flow_instance >> (24 - 8 * i));
    s[5] = (uint8_t)(ref->worker >> 8);
    s[6] = (uint8_t)ref->worker;
    for (int i = 0; i < 8; i++)
        s[7 + i] = (uint8_t)(ref->conn_id >> (56 - 8 * i));
    return flow_token_encode(flow_key, s, sizeof(s), out);
}

int flow_token_parse(const char *token, size_t len, struct flow_ref *ref)
{
    uint8_t raw[FLOW_MAC_LEN + FLOW_S_LEN], mac[FLOW_MAC_LEN];
    if (b64url_decode(token, len, raw, sizeof(raw)) != (ssize_t)sizeof(raw))
        return -1;
    const uint8_t *s = raw + FLOW_MAC_LEN;
    flow_mac(flow_key, s, FLOW_S_LEN, mac);
    if (CRYPTO_memcmp(mac, raw, FLOW_MAC_LEN) != 0 || s[0] != FLOW_S_VERSION)
        return -1;
    ref->instance = (uint32_t)s[1] << 24 | (uint32_t)s[2] << 16 | (uint32_t)s[3] << 8 | s[4];
    ref->worker = (uint16_t)(s[5] << 8 | s[6]);
    ref->conn_id = 0;
    for (int i = 0; i < 8; i++)
        ref->conn_id = ref->conn_id << 8 | s[7 + i];
    return 0;
}

int flow_ref_ours(const struct flow_ref *ref, uint16_t worker)
{
    return ref->instance == flow_instance && ref->worker == worker;
}
