/* ws_keepalive: the gateway's own WebSocket keepalive (ws-ping-interval), in place of
 * libwebsockets' validity timer, which re-inserts a per-connection timer into one sorted list
 * on every confirmation (O(connections) each). A connection from which nothing (no message, no
 * pong) has arrived for ws-ping-interval gets a PING; after twice the interval it is closed.
 * One GLib timer per second drives a wheel (ws_ka_wheel) that visits only the connections due. */
#ifndef IMSGW_WS_KEEPALIVE_H
#define IMSGW_WS_KEEPALIVE_H

#include <libwebsockets.h>

#include "ws_conn.h"

/* A connection opened: watch it (starts the timer with the first one). */
void ws_keepalive_open(struct gw_conn *c);
/* A message or a pong arrived on it. */
void ws_keepalive_seen(struct gw_conn *c);
/* From its writeable callback, before anything else: 1 if a due ping was written (the caller
 * asks for another writeable callback for what else waits), 0 if none was due, -1 on error. */
int ws_keepalive_write(struct gw_conn *c, struct lws *wsi);
/* It closed: stop watching it. */
void ws_keepalive_close(struct gw_conn *c);
/* Stops the timer and frees the wheel at exit. */
void ws_keepalive_shutdown(void);

#endif
