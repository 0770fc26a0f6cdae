/* dpop_seen: the gateway's DPoP jti replay cache (RFC 9449 §11.1), one for all worker
 * processes. The DPoP nonce key is derived from the shared flow key, so a proof made for one
 * worker passes the nonce check at any other; only a cache the workers share keeps a proof
 * lifted off one connection from being used again on a connection that another worker accepted
 * (docs/dpop-sip.md). It lives in an anonymous shared mapping made before the workers are
 * forked, under a process-shared robust mutex held only for one scan of the table. */
#ifndef IMSGW_DPOP_SEEN_H
#define IMSGW_DPOP_SEEN_H

#include <stddef.h>
#include <stdint.h>

#include "dpop.h"

/* Maps the cache for capacity live proofs, at most key_max of them of one key; call before
 * forking the workers. 0, or -1. */
int dpop_seen_start(size_t capacity, size_t key_max);
/* Records (jkt, jti) of p until expires_at: 0 new, 1 replayed, -1 full or not started, -2 the
 * key's share is full (the proof is then refused: forgetting would allow a replay). */
int dpop_seen_add(const struct dpop_proof *p, int64_t now, int64_t expires_at);
/* Unmaps this process's view (shutdown). */
void dpop_seen_stop(void);

#endif
