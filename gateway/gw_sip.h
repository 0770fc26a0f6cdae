/* gw_sip: the dispatcher of the WebSocket side: one SIP message per WebSocket message (RFC 7118
 * §5), parsed by sofia-sip and handed to reg (REGISTER) or proxy (everything else). */
#ifndef IMSGW_GW_SIP_H
#define IMSGW_GW_SIP_H

#include <stddef.h>

#include <sofia-sip/msg.h>
#include <sofia-sip/sip.h>
#include <sofia-sip/su_tag.h>

struct gw_conn;

/* Handles one whole WebSocket message. Returns 0, or -(WebSocket close code) when the message
 * is so broken that the connection must close (RFC 6455 §7.4: 1002 / 1007). */
int gw_sip_on_ws_message(struct gw_conn *c, const char *data, size_t len);
/* A flow closed: its registration state and proxy transactions end. */
void gw_sip_flow_closed(struct gw_conn *c);
#endif
