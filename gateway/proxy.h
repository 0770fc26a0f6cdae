/* proxy: calls and messages through the gateway, a transaction-stateful edge proxy in both
 * directions (spec §7.1 "Non-REGISTER from WIC" and "Requests towards WIC"). SDP and other
 * bodies pass unchanged. */
#ifndef IMSGW_PROXY_H
#define IMSGW_PROXY_H

#include <sofia-sip/msg.h>

struct gw_conn;

#define PROXY_MAX_TX_PER_FLOW 32 /* concurrent requests one flow may have in flight */
#define PROXY_TIMER_C_S 181      /* default timer-c: > 3 min (RFC 3261 §16.6 step 11) */
/* Default Timer B/F towards the core. RFC 3261's 64*T1 = 32 s is as long as the browser's own
 * Timer F, so the client would give up before our answer came; a core that has not answered in
 * 10 s is down for a web user (docs/faults.md). */
#define PROXY_TX_TIMEOUT_S 10

/* Starts receiving requests from the IMS side (a default nta leg). Returns 0 or -1. */
int proxy_start(void);
void proxy_stop(void);
/* A non-REGISTER request from a WebSocket flow; takes msg. */
void proxy_out_request(struct gw_conn *c, msg_t *msg);
/* A response from the WebSocket client to a request we forwarded to it; takes msg. */
void proxy_in_response(struct gw_conn *c, msg_t *msg);
/* The flow closed: end what is in flight on it. */
void proxy_flow_closed(struct gw_conn *c);
/* Transactions in flight (a gauge for /metrics). */
unsigned proxy_active(void);

#endif
