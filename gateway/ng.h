/* ng: a client of rtpengine's ng control protocol ("<cookie> <bencoded dict>" over UDP) on the
 * gateway's GLib loop. Requests are retransmitted with the same cookie (rtpengine answers a
 * repeated cookie from its cache, so an offer is never applied twice) until an answer or the
 * deadline; nothing ever blocks. */
#ifndef IMSGW_NG_H
#define IMSGW_NG_H

#include <stddef.h>
#include <stdint.h>

#include "bencode.h"

#define NG_MAX_PENDING 1024  /* requests in flight; more are refused at once */
#define NG_MAX_PACKET 65000  /* one UDP datagram */
#define NG_MAX_NODES 8192    /* bencode nodes in one reply */
#define NG_RETRANSMIT_MS 500 /* first retransmission; doubles each time */

/* The answer (root: its dictionary, result "ok" or not) or err (a plain sentence: timeout,
 * unreachable, malformed answer). Called exactly once per request, never from inside ng_send. */
typedef void (*ng_reply_fn)(void *arg, const struct bdoc *doc, const struct bnode *root,
                            const char *err);

struct ng_stats {
    uint64_t requests_total;
    uint64_t errors_total; /* timeouts, unreachable, malformed answers */
    uint64_t rtt_ms_total; /* sum of round-trip times of answered requests */
    uint64_t answered_total;
};

/* Opens the control socket towards addr ("host:port"); -1 with a reason in err. */
int ng_start(const char *addr, long timeout_ms, char *err, size_t errlen);
/* Closes the socket; pending requests are dropped without their callbacks. */
void ng_stop(void);
/* Sends one request (a complete bencoded dictionary). Returns a handle > 0, or 0 (not started,
 * too many in flight, too large) and then fn is never called. */
uint64_t ng_send(const char *dict, size_t len, ng_reply_fn fn, void *arg);
/* Forgets a request: its callback will not be called. */
void ng_cancel(uint64_t handle);
const struct ng_stats *ng_stats(void);

#endif
