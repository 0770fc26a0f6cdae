/* flow: one WebSocket connection = one RFC 5626 flow. A flow has a process-unique id and a
 * tamper-evident flow token (RFC 5626 §5.2) that the IMS side carries back to us in Path and
 * Record-Route URIs. */
#ifndef IMSGW_FLOW_H
#define IMSGW_FLOW_H

#include <stddef.h>
#include <stdint.h>

#define FLOW_KEY_LEN 20   /* HMAC-SHA1 key, as in RFC 5626 §5.2 */
#define FLOW_MAC_LEN 10   /* HMAC-SHA1-80 */
#define FLOW_TOKEN_MAX 96 /* base64url of MAC ‖ S, NUL included */

/* What our token identifies: the worker process and its connection id. */
struct flow_ref {
    uint16_t worker;
    uint64_t conn_id;
};

/* Sets the process-wide HMAC key (from config in a multi-worker deployment, else random). */
void flow_set_key(const uint8_t key[FLOW_KEY_LEN]);
/* Generic RFC 5626 §5.2 encoding: base64url(HMAC-SHA1-80(key, s) ‖ s). Returns the length. */
size_t flow_token_encode(const uint8_t key[FLOW_KEY_LEN], const uint8_t *s, size_t slen,
                         char out[FLOW_TOKEN_MAX]);
/* A key for another purpose derived from the flow key: HKDF-SHA256 (RFC 5869) with label as
 * info, so every worker (and every restart with the same configured flow-key) derives the same
 * one while nothing derived reveals the flow key. 0, or -1 when OpenSSL could not. */
int flow_derive_key(const char *label, uint8_t *out, size_t len);
/* The token for ref under the process key. */
size_t flow_token_make(const struct flow_ref *ref, char out[FLOW_TOKEN_MAX]);
/* Decodes and authenticates a token; -1 when malformed or tampered (→ 403 upstream). */
int flow_token_parse(const char *token, size_t len, struct flow_ref *ref);

#endif
