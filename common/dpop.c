/* dpop: the proof is verified with the key it carries, so what makes it worth anything is the
 * binding around it: the key's thumbprint must be the token's cnf.jkt, htm/htu/ath tie it to one
 * use, iat and the nonce bound its age and jti its reuse. Every check fails closed. */
#include "dpop.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "b64url.h"
#include "jws.h"

#define DPOP_NONCE_MAC 16
#define DPOP_NONCE_RAW (8 + DPOP_NONCE_MAC)

static const char *dpop_claim_str(const json_t *claims, const char *name)
{
    return json_string_value(json_object_get(claims, name));
}

/* The htu of a proof without its query and fragment (RFC 9449 §4.3 step 9). */
static int dpop_htu_matches(const char *htu, const char *want)
{
    size_t n = strcspn(htu, "?#");
    return strlen(want) == n && strncmp(htu, want, n) == 0;
}

static int dpop_ath_matches(const char *ath, const struct dpop_expect *want)
{
    unsigned char digest[SHA256_DIGEST_LENGTH];
    char b64[B64URL_ENCODED_LEN(SHA256_DIGEST_LENGTH) + 1];
    SHA256((const unsigned char *)want->access_token, want->access_token_len, digest);
    b64url_encode(digest, sizeof(digest), b64);
    return strlen(ath) == strlen(b64) && CRYPTO_memcmp(ath, b64, strlen(b64)) == 0;
}

/* The public key in the proof header: a JWK object without any private member (§4.3 step 7). */
static EVP_PKEY *dpop_header_key(const json_t *header, char *why, size_t whylen)
{
    const json_t *jwk = json_object_get(header, "jwk");
    static const char *const private_members[] = {"d", "p", "q", "dp", "dq", "qi", "k"};
    if (!json_is_object(jwk)) {
        snprintf(why, whylen, "the proof has no jwk header");
        return NULL;
    }
    for (size_t i = 0; i < sizeof(private_members) / sizeof(private_members[0]); i++)
        if (json_object_get(jwk, private_members[i])) {
            snprintf(why, whylen, "the proof's jwk holds a private key");
            return NULL;
        }
    char err[96];
    EVP_PKEY *key = jwk_to_public_key(jwk, err, sizeof(err));
    if (!key)
        snprintf(why, whylen, "the proof's jwk is not usable: %s", err);
    return key;
}

static int dpop_check_claims(const json_t *c, const struct dpop_expect *want,
                             struct dpop_proof *out, char *why, size_t whylen)
{
    const char *jti = dpop_claim_str(c, "jti"), *htm = dpop_claim_str(c, "htm");
    const char *htu = dpop_claim_str(c, "htu"), *ath = dpop_claim_str(c, "ath");
    const json_t *iat = json_object_get(c, "iat"), *nonce = json_object_get(c, "nonce");
    if (!jti || !htm || !htu || !json_is_integer(iat)) {
        snprintf(why, whylen, "the proof lacks jti, htm, htu or a numeric iat");
        return -1;
    }
    if (!jti[0] || strlen(jti) > DPOP_JTI_MAX) {
        snprintf(why, whylen, "the proof's jti is empty or longer than %d", DPOP_JTI_MAX);
        return -1;
    }
    if (strcmp(htm, want->htm) != 0) {
        snprintf(why, whylen, "the proof's htm is not %s", want->htm);
        return -1;
    }
    if (!dpop_htu_matches(htu, want->htu)) {
        snprintf(why, whylen, "the proof's htu is not this request's URI");
        return -1;
    }
    int64_t t = json_integer_value(iat);
    if (t < want->now - want->max_age || t > want->now + want->leeway) {
        snprintf(why, whylen, "the proof's iat is outside the accepted window");
        return -1;
    }
    if (want->access_token && (!ath || !dpop_ath_matches(ath, want))) {
        snprintf(why, whylen, "the proof's ath does not match the access token");
        return -1;
    }
    if (nonce && (!json_is_string(nonce) || strlen(json_string_value(nonce)) > DPOP_NONCE_MAX)) {
        snprintf(why, whylen, "the proof's nonce is not a short string");
        return -1;
    }
    snprintf(out->jti, sizeof(out->jti), "%s", jti);
    snprintf(out->nonce, sizeof(out->nonce), "%s", nonce ? json_string_value(nonce) : "");
    out->iat = t;
    return 0;
}

int dpop_verify(const char *proof, size_t len, const struct dpop_expect *want,
                struct dpop_proof *out, char *why, size_t whylen)
{
    struct jws_parsed p;
    char err[96];
    memset(out, 0, sizeof(*out));
    if (len > DPOP_MAX_PROOF) {
        snprintf(why, whylen, "the proof is longer than %d bytes", DPOP_MAX_PROOF);
        return -1;
    }
    if (jws_parse(proof, len, &p, err, sizeof(err)) < 0) {
        snprintf(why, whylen, "the proof is not a JWS: %s", err);
        return -1;
    }
    int rc = -1;
    EVP_PKEY *key = NULL;
    if (!p.typ || strcmp(p.typ, "dpop+jwt") != 0) {
        snprintf(why, whylen, "the proof's typ is not dpop+jwt");
    } else if (strcmp(p.alg, "ES256") != 0 && strcmp(p.alg, "RS256") != 0) {
        snprintf(why, whylen, "the proof's alg is not one of " DPOP_ALGS);
    } else if (!(key = dpop_header_key(p.header, why, whylen))) {
        /* why is set */
    } else if (jws_verify(&p, key, err, sizeof(err)) < 0) {
        snprintf(why, whylen, "the proof's signature does not verify with its jwk (%s)", err);
    } else if (jwk_thumbprint(key, out->jkt) < 0) {
        snprintf(why, whylen, "the proof's key has no thumbprint");
    } else if (want->jkt && strcmp(out->jkt, want->jkt) != 0) {
        snprintf(why, whylen, "the proof is signed by another key than the token is bound to");
    } else {
        rc = dpop_check_claims(p.claims, want, out, why, whylen);
    }
    EVP_PKEY_free(key);
    jws_parsed_free(&p);
    return rc;
}

static void dpop_nonce_mac(const uint8_t key[DPOP_NONCE_KEY_LEN], const char *tag,
                           const uint8_t when[8], uint8_t mac[DPOP_NONCE_MAC])
{
    uint8_t full[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    uint8_t msg[64 + 8];
    size_t tl = strnlen(tag, 64);
    memcpy(msg, tag, tl);
    memcpy(msg + tl, when, 8);
    HMAC(EVP_sha256(), key, DPOP_NONCE_KEY_LEN, msg, tl + 8, full, &n);
    memcpy(mac, full, DPOP_NONCE_MAC);
}

void dpop_nonce_make(const uint8_t key[DPOP_NONCE_KEY_LEN], const char *tag, int64_t now,
                     char out[DPOP_NONCE_MAX + 1])
{
    uint8_t raw[DPOP_NONCE_RAW];
    for (int i = 0; i < 8; i++)
        raw[i] = (uint8_t)((uint64_t)now >> (56 - 8 * i));
    dpop_nonce_mac(key, tag, raw, raw + 8);
    b64url_encode(raw, sizeof(raw), out);
}

int dpop_nonce_check(const uint8_t key[DPOP_NONCE_KEY_LEN], const char *tag, const char *nonce,
                     int64_t now, long lifetime)
{
    uint8_t raw[DPOP_NONCE_RAW], mac[DPOP_NONCE_MAC];
    if (!nonce || b64url_decode(nonce, strlen(nonce), raw, sizeof(raw)) != DPOP_NONCE_RAW)
        return 0;
    dpop_nonce_mac(key, tag, raw, mac);
    if (CRYPTO_memcmp(mac, raw + 8, DPOP_NONCE_MAC) != 0)
        return 0;
    uint64_t t = 0;
    for (int i = 0; i < 8; i++)
        t = t << 8 | raw[i];
    return (int64_t)t <= now && now - (int64_t)t <= lifetime;
}

/* A linear table: capacity is a few thousand and a proof is checked at most once per REGISTER
 * or token request, so a scan costs less than the signature check before it. */
struct dpop_replay_entry {
    uint8_t id[16]; /* SHA-256(jkt ‖ 0 ‖ jti), truncated: no attacker text is kept */
    uint8_t key[8]; /* SHA-256(jkt), truncated: whose proof it is (the key's share) */
    int64_t expires_at;
};

struct dpop_replay {
    size_t capacity;
    size_t key_max; /* live entries one key may hold */
    struct dpop_replay_entry e[];
};

struct dpop_replay *dpop_replay_new(size_t capacity)
{
    struct dpop_replay *r = calloc(1, sizeof(*r) + capacity * sizeof(r->e[0]));
    if (r)
        r->capacity = r->key_max = capacity;
    return r;
}

void dpop_replay_share(struct dpop_replay *r, size_t key_max)
{
    r->key_max = key_max && key_max < r->capacity ? key_max : r->capacity;
}

size_t dpop_replay_size(size_t capacity)
{
    return sizeof(struct dpop_replay) + capacity * sizeof(struct dpop_replay_entry);
}

struct dpop_replay *dpop_replay_init(void *mem, size_t capacity)
{
    struct dpop_replay *r = mem;
    memset(r, 0, dpop_replay_size(capacity));
    r->capacity = r->key_max = capacity;
    return r;
}

void dpop_replay_free(struct dpop_replay *r)
{
    free(r);
}

int dpop_replay_add(struct dpop_replay *r, const struct dpop_proof *p, int64_t now,
                    int64_t expires_at)
{
    uint8_t digest[SHA256_DIGEST_LENGTH], key[SHA256_DIGEST_LENGTH];
    char msg[JWK_THUMBPRINT_SIZE + 1 + DPOP_JTI_MAX + 1];
    int n = snprintf(msg, sizeof(msg), "%s%c%s", p->jkt, 0, p->jti);
    SHA256((const unsigned char *)msg, (size_t)n, digest);
    SHA256((const unsigned char *)p->jkt, strlen(p->jkt), key);
    struct dpop_replay_entry *free_slot = NULL;
    size_t of_key = 0;
    for (size_t i = 0; i < r->capacity; i++) {
        struct dpop_replay_entry *e = &r->e[i];
        if (e->expires_at <= now) {
            if (!free_slot)
                free_slot = e;
            continue;
        }
        if (memcmp(e->id, digest, sizeof(e->id)) == 0)
            return 1;
        of_key += memcmp(e->key, key, sizeof(e->key)) == 0;
    }
    if (of_key >= r->key_max)
        return -2;
    if (!free_slot)
        return -1;
    memcpy(free_slot->id, digest, sizeof(free_slot->id));
    memcpy(free_slot->key, key, sizeof(free_slot->key));
    free_slot->expires_at = expires_at;
    return 0;
}

size_t dpop_replay_count(const struct dpop_replay *r, int64_t now)
{
    size_t n = 0;
    for (size_t i = 0; i < r->capacity; i++)
        n += r->e[i].expires_at > now;
    return n;
}
