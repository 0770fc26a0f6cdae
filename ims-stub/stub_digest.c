/* stub_digest: the nonce carries its table slot in the first four hex digits, so a lookup is
 * one index, and the rest is 128 random bits compared in constant time. Slots are reused in
 * ring order: a flood of challenges only makes old nonces stale, it cannot grow memory. */
#include "stub_digest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sofia-sip/msg_header.h>
#include <sofia-sip/su_alloc.h>

#include "rnd.h"

#define STUB_NONCE_LEN 26 /* 4 hex slot digits + 22 base64url characters of 16 random bytes */

struct stub_nonce {
    char nonce[STUB_NONCE_LEN + 1];
    int64_t issued;
    unsigned long last_nc;
};

struct stub_digest {
    struct stub_nonce *slots;
    size_t max, next;
    int64_t ttl;
};

struct stub_digest *stub_digest_new(size_t max, int64_t ttl_s)
{
    if (max == 0 || max > 65536)
        return NULL;
    struct stub_digest *d = calloc(1, sizeof(*d));
    if (!d || !(d->slots = calloc(max, sizeof(*d->slots)))) {
        free(d);
        return NULL;
    }
    d->max = max;
    d->ttl = ttl_s;
    return d;
}

void stub_digest_free(struct stub_digest *d)
{
    if (!d)
        return;
    OPENSSL_cleanse(d->slots, d->max * sizeof(*d->slots));
    free(d->slots);
    free(d);
}

int stub_digest_challenge(struct stub_digest *d, const char *realm, int stale, int64_t now,
                          char *out, size_t outlen)
{
    size_t slot = d->next;
    d->next = (d->next + 1) % d->max;
    struct stub_nonce *n = &d->slots[slot];
    char rnd[32];
    rnd_token(rnd, 16);
    snprintf(n->nonce, sizeof(n->nonce), "%04zx%.22s", slot, rnd);
    n->issued = now;
    n->last_nc = 0;
    int len =
        snprintf(out, outlen, "Digest realm=\"%s\", nonce=\"%s\", algorithm=MD5, qop=\"auth\"%s",
                 realm, n->nonce, stale ? ", stale=true" : "");
    return len < 0 || (size_t)len >= outlen ? -1 : 0;
}

static void stub_md5_hex(const char *text, char out[33])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    static const char hex[] = "0123456789abcdef";
    if (EVP_Digest(text, strlen(text), md, &mdlen, EVP_md5(), NULL) != 1 || mdlen != 16) {
        memset(out, 0, 33); /* compares unequal to any response */
        return;
    }
    for (unsigned i = 0; i < 16; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[32] = '\0';
}

int stub_digest_response(const char *user, const char *realm, const char *password,
                         const char *method, const char *uri, const char *nonce, const char *nc,
                         const char *cnonce, char out[33])
{
    char ha1[33], ha2[33];
    char *buf = NULL;
    /* HA1 holds the password: built in heap memory that is wiped before it is freed. */
    size_t len = strlen(user) + strlen(realm) + strlen(password) + 3;
    if (!(buf = malloc(len)))
        return -1;
    snprintf(buf, len, "%s:%s:%s", user, realm, password);
    stub_md5_hex(buf, ha1);
    OPENSSL_cleanse(buf, len);
    free(buf);
    len = strlen(method) + strlen(uri) + 2;
    if (!(buf = malloc(len)))
        return -1;
    snprintf(buf, len, "%s:%s", method, uri);
    stub_md5_hex(buf, ha2);
    free(buf);
    len = 32 + strlen(nonce) + strlen(nc) + strlen(cnonce) + 4 + 32 + 6;
    if (!(buf = malloc(len)))
        return -1;
    snprintf(buf, len, "%s:%s:%s:%s:auth:%s", ha1, nonce, nc, cnonce, ha2);
    stub_md5_hex(buf, out);
    OPENSSL_cleanse(ha1, sizeof(ha1));
    free(buf);
    return 0;
}

/* A parameter's value without quotes, on home; NULL when absent. */
static char *stub_digest_param(su_home_t *home, const msg_param_t *params, const char *name)
{
    const char *v = msg_params_find(params, name);
    if (!v)
        return NULL;
    return *v == '"' ? msg_unquote_dup(home, v) : su_strdup(home, v);
}

static enum stub_digest_result stub_digest_check(struct stub_digest *d, su_home_t *home,
                                                 const msg_param_t *params, const char *method,
                                                 const char *realm, const char *password,
                                                 int64_t now)
{
    char *user = stub_digest_param(home, params, "username=");
    char *rlm = stub_digest_param(home, params, "realm=");
    char *nonce = stub_digest_param(home, params, "nonce=");
    char *uri = stub_digest_param(home, params, "uri=");
    char *resp = stub_digest_param(home, params, "response=");
    char *qop = stub_digest_param(home, params, "qop=");
    char *nc = stub_digest_param(home, params, "nc=");
    char *cnonce = stub_digest_param(home, params, "cnonce=");
    char *alg = stub_digest_param(home, params, "algorithm=");
    if (!user || !rlm || !nonce || !uri || !resp || !qop || !nc || !cnonce || !*cnonce)
        return STUB_DIGEST_BAD;
    /* qop=auth is required: without it RFC 2069 responses carry no nonce count at all. */
    if (strcmp(rlm, realm) != 0 || strcasecmp(qop, "auth") != 0 ||
        (alg && strcasecmp(alg, "MD5") != 0) || strlen(resp) != 32 || strlen(nc) != 8 ||
        strspn(nc, "0123456789abcdefABCDEF") != 8)
        return STUB_DIGEST_BAD;
    unsigned long count = strtoul(nc, NULL, 16);
    char slot_hex[5];
    if (strlen(nonce) != STUB_NONCE_LEN || strspn(nonce, "0123456789abcdef") < 4)
        return STUB_DIGEST_STALE;
    memcpy(slot_hex, nonce, 4);
    slot_hex[4] = '\0';
    size_t slot = strtoul(slot_hex, NULL, 16);
    if (slot >= d->max)
        return STUB_DIGEST_STALE;
    struct stub_nonce *n = &d->slots[slot];
    if (CRYPTO_memcmp(n->nonce, nonce, STUB_NONCE_LEN) != 0 || now - n->issued >= d->ttl ||
        now < n->issued)
        return STUB_DIGEST_STALE;
    char want[33];
    for (char *p = resp; *p; p++)
        *p = (char)(*p >= 'A' && *p <= 'F' ? *p - 'A' + 'a' : *p);
    if (stub_digest_response(user, realm, password, method, uri, nonce, nc, cnonce, want) < 0 ||
        CRYPTO_memcmp(want, resp, 32) != 0)
        return STUB_DIGEST_BAD;
    /* Only a correct response may move the count, so guessing cannot burn a nonce. */
    if (count <= n->last_nc || count > STUB_DIGEST_MAX_NC)
        return STUB_DIGEST_REPLAY;
    n->last_nc = count;
    return STUB_DIGEST_OK;
}

enum stub_digest_result stub_digest_verify(struct stub_digest *d, const msg_param_t *params,
                                           const char *method, const char *realm,
                                           const char *password, int64_t now)
{
    su_home_t home[1] = {SU_HOME_INIT(home)};
    enum stub_digest_result r =
        d && password ? stub_digest_check(d, home, params, method, realm, password, now)
                      : STUB_DIGEST_BAD;
    su_home_deinit(home);
    return r;
}
