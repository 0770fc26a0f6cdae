/* flow: one WebSocket connection = one RFC 5626 flow. A flow has a process-unique id and a
 * tamper-evident flow token (RFC 5626 §5.2) that the IMS side carries back to us in Path and
 * Record-Route URIs. */
#ifndef IMSGW_FLOW_H
#define IMSGW_FLOW_H

#include <stddef.h>
#include <stdint.h>

#define FLOW_KEY_LEN 20        /* HMAC-SHA1 key, as in RFC 5626 §5.2 */
#define FLOW_MAC_LEN 10        /* HMAC-SHA1-80 */
#define FLOW_TOKEN_MAX 96      /* base64url of MAC ‖ S, NUL included */
#define FLOW_CONN_TOKEN_LEN 34 /* flow_token_make's output: base64url of 10 + 15 bytes */

/* What our token identifies: the gateway process (a random instance number drawn at start, so a
 * token another gateway made under the same flow-key, or this one before a restart, never names
 * one of our connections), the worker process and its connection id. */
struct flow_ref {
    uint32_t instance;
    uint16_t worker;
    uint64_t conn_id;
};

/* Sets the process-wide HMAC key (from config in a multi-worker deployment, else random) and
 * draws this process's instance number. */
void flow_set_key(const uint8_t key[FLOW_KEY_LEN]);
/* 1 if ref (from flow_token_parse) names a connection of this process, worker `worker`. */
int flow_ref_ours(const struct flow_ref *ref, uint16_t worker);
/* Generic RFC 5626 §5.2 encoding: base64url(HMAC-SHA1-80(key, s) ‖ s). Returns the length. */
size_t flow_token_encode(const uint8_t key[FLOW_KEY_LEN], const uint8_t *s, size_t slen,
                         char out[FLOW_TOKEN_MAX]);
/* A key for another purpose derived from the flow key: HKDF-SHA256 (RFC 5869) with label as
 * info, so every worker (and every restart with the same configured flow-key) derives the same
 * one while nothing derived reveals the flow key. 0, or -1 when OpenSSL could not. */
int flow_derive_key(const char *label, uint8_t *out, size_t len);
/* The same, with this gateway's instance number in the info too: shared by its workers (the
 * instance is drawn before they are forked) but by no other gateway with the same flow-key, nor
 * by this one after a restart. For keys whose use is paired with per-gateway state. */
int flow_derive_instance_key(const char *label, uint8_t *out, size_t len);
/* The token for ref's worker and connection under the process key and instance. */
size_t flow_token_make(const struct flow_ref *ref, char out[FLOW_TOKEN_MAX]);
/* Decodes and authenticates a token; -1 when malformed or tampered (→ 403 upstream). */
int flow_token_parse(const char *token, size_t len, struct flow_ref *ref);

#endif
