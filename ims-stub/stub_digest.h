/* stub_digest: RFC 3261 §22 / RFC 2617 MD5 Digest with qop="auth" for IMS-native clients that
 * register at the stub directly (the gateway's users come as TNA, never through this). Nonces
 * are random, stored in a bounded table with their issue time and the highest nonce count
 * seen, so a nonce expires and a captured response cannot be replayed. */
#ifndef IMSGW_STUB_DIGEST_H
#define IMSGW_STUB_DIGEST_H

#include <stddef.h>
#include <stdint.h>

#include <sofia-sip/msg_types.h>

/* Nonce table size and nonce lifetime. An evicted or expired nonce gets stale=true. */
#define STUB_DIGEST_NONCES 4096
#define STUB_DIGEST_TTL_S 300
/* Most requests one nonce may authenticate (nc 1..this). */
#define STUB_DIGEST_MAX_NC 1000

struct stub_digest;

enum stub_digest_result {
    STUB_DIGEST_OK,
    STUB_DIGEST_STALE,  /* unknown, evicted or expired nonce: challenge again, stale=true */
    STUB_DIGEST_REPLAY, /* nonce count not above the last one accepted */
    STUB_DIGEST_BAD,    /* malformed, wrong realm/algorithm/qop, or wrong response */
};

/* A table of at most max nonces (max <= 65536) living ttl_s seconds; NULL when out of memory. */
struct stub_digest *stub_digest_new(size_t max, int64_t ttl_s);
void stub_digest_free(struct stub_digest *d);

/* Issues a nonce and writes the WWW-Authenticate value (Digest realm, nonce, algorithm=MD5,
 * qop="auth"[, stale=true]) to out. -1 when out is too small. */
int stub_digest_challenge(struct stub_digest *d, const char *realm, int stale, int64_t now,
                          char *out, size_t outlen);

/* Checks the Digest parameters of one Authorization header (params as parsed by sofia-sip)
 * for method, against realm and the user's password. On OK the nonce count is recorded. */
enum stub_digest_result stub_digest_verify(struct stub_digest *d, const msg_param_t *params,
                                           const char *method, const char *realm,
                                           const char *password, int64_t now);

/* The 32 lower-case hex characters of the RFC 2617 response (qop=auth) into out[33]. Exposed
 * for the unit tests' known-answer vector. */
int stub_digest_response(const char *user, const char *realm, const char *password,
                         const char *method, const char *uri, const char *nonce, const char *nc,
                         const char *cnonce, char out[33]);

#endif
