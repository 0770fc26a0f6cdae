/* media: the media relay the gateway controls as eIMS-AGW (TS 23.228 Annex U). Every SDP that
 * crosses between the WebSocket side and the IMS side is handed here before it is forwarded;
 * the relay backend (off, rtpengine) is chosen once at start by the `media` setting. */
#ifndef IMSGW_MEDIA_H
#define IMSGW_MEDIA_H

#include <stddef.h>
#include <stdint.h>

#include <sofia-sip/msg.h>

/* Which side the message is going to. */
enum media_to { MEDIA_TO_IMS, MEDIA_TO_WS };

/* Called exactly once, possibly before media_sdp() returns. status 0: forward msg (its SDP
 * rewritten when it had one). status >= 500: the relay failed (phrase says why in plain words);
 * msg is unchanged and must not be forwarded. status < 0: the gateway is stopping; free
 * everything, send nothing. The callee owns msg again in every case. */
typedef void (*media_done_fn)(void *arg, msg_t *msg, int status, const char *phrase);

struct media_stats {
    unsigned sessions;
    uint64_t relay_requests_total, relay_errors_total, relay_rtt_ms_total, relay_answered_total;
};

/* One backend. */
struct media_backend {
    const char *name;
    int (*start)(char *err, size_t errlen);
    void (*stop)(void);
    void (*sdp)(uint64_t conn_id, msg_t *msg, enum media_to to, media_done_fn done, void *arg);
    void (*end)(uint64_t conn_id, const char *call_id);
    void (*flow_closed)(uint64_t conn_id);
    void (*rebind)(uint64_t from, uint64_t to);
    void (*stats)(struct media_stats *st);
};

extern const struct media_backend media_off, media_rtpengine;

/* Picks the backend named by the `media` setting and starts it; -1 with a reason in err. */
int media_start(char *err, size_t errlen);
/* Ends every session (a delete each) and stops; pending callbacks get status -1. */
void media_stop(void);
/* Anchors the SDP of msg (request or response on the leg of WebSocket flow conn_id) for the
 * side it goes to; see media_done_fn. */
void media_sdp(uint64_t conn_id, msg_t *msg, enum media_to to, media_done_fn done, void *arg);
/* The call (SIP Call-ID on flow conn_id) ended: BYE, CANCEL, failure final answer, Timer C. */
void media_end(uint64_t conn_id, const char *call_id);
/* The flow closed: every session of its calls ends. */
void media_flow_closed(uint64_t conn_id);
/* Flow `from` was recovered by flow `to` (recover.c): its calls' sessions belong to `to` now,
 * for media_sdp, media_end and media_flow_closed alike. */
void media_rebind(uint64_t from, uint64_t to);
void media_get_stats(struct media_stats *st);

#endif
