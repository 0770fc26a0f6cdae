/* ws_conn: the SIP WebSocket server (RFC 7118 over RFC 6455 by libwebsockets). Each accepted
 * connection is a gw_conn: one RFC 5626 flow, with its send queue and registration state. */
#ifndef IMSGW_WS_CONN_H
#define IMSGW_WS_CONN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include <libwebsockets.h>

#include "flow.h"
#include "peer.h"
#include "ws_ka_wheel.h"

#define WS_SIP_PATH "/sip"
#define WS_SUBPROTOCOL "sip"
/* Messages waiting to be written to one connection; more means a peer that does not read. */
#define WS_MAX_QUEUED 4096
#define WS_MAX_QUEUED_BYTES (1024 * 1024)
/* Bytes of one message lws hands to send() at once (lws_protocols.tx_packet_size). */
#define WS_TX_PACKET_SIZE (64 * 1024)

struct gw_out;
struct gw_lat_mark;
struct reg_state;

struct gw_conn {
    uint64_t id;
    struct lws *wsi;
    char peer[64];              /* client address (behind a trusted proxy: from X-Forwarded-For) */
    char source[PEER_ADDR_MAX]; /* per-source limit key: IPv4 address or IPv6 /64 */
    unsigned char *rx;          /* message being reassembled; NULL between messages */
    size_t rx_len;
    struct gw_out *out_head, *out_tail;
    unsigned out_count;
    size_t out_bytes;
    int close_code;        /* non-zero: close with this code once the queue is written */
    struct reg_state *reg; /* NULL until a REGISTER succeeded on this flow */
    unsigned ntx;          /* proxy transactions in flight on this flow */
    int64_t opened_ms;     /* time_mono_ms() when it opened (its age on the operator page) */
    int64_t rx_ns;         /* the last complete message reached the kernel (gw_latency) */
    char flow_token[FLOW_CONN_TOKEN_LEN + 1]; /* made on first use (route_flow_token) */

    struct ka_entry ka;        /* its place in the keepalive wheel (ws_keepalive) */
    unsigned ka_ping_due : 1;  /* a ping waits for the writeable callback */
    unsigned flush_listed : 1; /* in ws_flush()'s list for this loop turn */
    unsigned closing : 1;      /* lws closes it (failed, or the peer's close): write nothing */
};

/* Queues one WebSocket text message, written by ws_flush() (after the GLib dispatch or loop turn
 * that queued it); drops the connection if its queue is full. */
void ws_send(struct gw_conn *c, const char *data, size_t len);
/* ws_send() of the n pieces' concatenation, copied once into the queue (a sofia-sip message's
 * encoded chunks, msg_iovec()). */
void ws_sendv(struct gw_conn *c, const struct iovec *iov, size_t n);
/* Writes the messages queued in this loop turn (gw_evloop calls it before the loop blocks). */
void ws_flush(void);
/* The message just queued by ws_send() (when the queue grew from count_before) counts its time
 * in the gateway once written (gw_latency); nothing when it was not queued. */
void ws_mark_latency(struct gw_conn *c, unsigned count_before, const struct gw_lat_mark *m);
/* Closes the connection with code (RFC 6455 §7.4) after what is queued. */
void ws_close(struct gw_conn *c, int code);
/* The open connection with this id, or NULL (it may have closed meanwhile). */
struct gw_conn *ws_find(uint64_t id);
/* Allowed Origin? (none = non-browser client: allowed; empty list = any). */
int ws_origin_allowed(const char *origin, char *const *allowed);

/* The client address of an HTTP request or handshake: the peer, or behind trusted-proxies the
 * rightmost untrusted X-Forwarded-For entry. */
void ws_client_address(struct lws *wsi, char *out, size_t len);
/* 1 if a Sec-WebSocket-Protocol value lists the sip subprotocol. */
int ws_offers_sip(const char *list);
/* LWS_CALLBACK_HTTP_CONFIRM_UPGRADE: 0 lets the upgrade go on, -1 answered 400 (no sip). */
int ws_confirm_upgrade(struct lws *wsi, const char *upgrade);

/* What the SIP layer does with a whole WebSocket message (0, or -(close code)) and with a flow
 * that closed (end its registration state and transactions). */
struct ws_hooks {
    int (*on_message)(struct gw_conn *c, const char *data, size_t len);
    void (*on_closed)(struct gw_conn *c);
};
void ws_set_hooks(const struct ws_hooks *hooks);

/* Frees the per-source table at exit. */
void ws_shutdown(void);

extern const struct lws_protocols ws_sip_protocol;

#endif
