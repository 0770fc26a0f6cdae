/* dpop: DPoP proofs (RFC 9449): the checks of §4.3 on a proof JWS that carries its own public
 * JWK, stateless server nonces (§8) and a bounded jti replay cache (§11.1). Used by the WAF at
 * /token and by the gateway on REGISTER (docs/dpop-sip.md). */
#ifndef IMSGW_DPOP_H
#define IMSGW_DPOP_H

#include <stddef.h>
#include <stdint.h>

#include "jwk.h"

#define DPOP_MAX_PROOF 4096 /* longer DPoP header values are refused unparsed */
#define DPOP_JTI_MAX 64     /* a jti is an identifier, not a payload */
#define DPOP_NONCE_MAX 64
#define DPOP_NONCE_KEY_LEN 32
#define DPOP_ALGS "ES256 RS256" /* dpop_signing_alg_values_supported */

/* What a proof must match. */
struct dpop_expect {
    const char *htm;          /* the method: "POST" at /token, the SIP method on REGISTER */
    const char *htu;          /* the target URI without query and fragment */
    int64_t now;              /* epoch seconds */
    long max_age;             /* iat may be this old … */
    long leeway;              /* … or this far in the future (clock skew) */
    const char *access_token; /* when set, ath must be base64url(SHA-256(access_token)) */
    size_t access_token_len;
    const char *jkt; /* when set, the proof's key must have this RFC 7638 thumbprint */
};

/* What a valid proof tells. */
struct dpop_proof {
    char jkt[JWK_THUMBPRINT_SIZE]; /* thumbprint of the proof's key */
    char jti[DPOP_JTI_MAX + 1];
    char nonce[DPOP_NONCE_MAX + 1]; /* "" when the proof has none (the caller decides) */
    int64_t iat;
};

/* Checks one proof (RFC 9449 §4.3 steps 2–9, 11, 12; the nonce and jti replay are the caller's
 * with dpop_nonce_check() and dpop_replay_add()). 0, or -1 with a reason in why that names the
 * failed check and never quotes the proof. */
int dpop_verify(const char *proof, size_t len, const struct dpop_expect *want,
                struct dpop_proof *out, char *why, size_t whylen);

/* A server nonce: base64url(time ‖ HMAC-SHA256(key, tag ‖ time)[0..15]). Stateless, so any
 * worker with the key checks it; tag keeps nonces of one service from being used at another. */
void dpop_nonce_make(const uint8_t key[DPOP_NONCE_KEY_LEN], const char *tag, int64_t now,
                     char out[DPOP_NONCE_MAX + 1]);
/* 1 when nonce was made with key and tag no more than lifetime seconds before now. */
int dpop_nonce_check(const uint8_t key[DPOP_NONCE_KEY_LEN], const char *tag, const char *nonce,
                     int64_t now, long lifetime);

/* Seen (jkt, jti) pairs until their proof would be too old anyway. Bounded: when full of live
 * entries a proof is refused rather than an entry forgotten (forgetting would allow a replay);
 * and each key (jkt) may hold at most its share, so one account sending proofs fast cannot fill
 * the cache and lock every other client out until its entries expire. */
struct dpop_replay;
struct dpop_replay *dpop_replay_new(size_t capacity);
/* The same in memory the caller provides (e.g. a mapping shared by worker processes, which then
 * serialise dpop_replay_add themselves): bytes needed, and the cache made empty in mem. */
size_t dpop_replay_size(size_t capacity);
struct dpop_replay *dpop_replay_init(void *mem, size_t capacity);
void dpop_replay_free(struct dpop_replay *r);
/* At most key_max live entries per key (0, or the capacity: no share; the default). */
void dpop_replay_share(struct dpop_replay *r, size_t key_max);
/* Records the proof until expires_at. 0 new, 1 replayed (seen before), -1 the cache is full,
 * -2 this key holds its share already. */
int dpop_replay_add(struct dpop_replay *r, const struct dpop_proof *p, int64_t now,
                    int64_t expires_at);
/* Live entries (a gauge for metrics and tests). */
size_t dpop_replay_count(const struct dpop_replay *r, int64_t now);

#endif
