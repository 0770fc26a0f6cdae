/* route: our own URIs in Path, Record-Route and Route: recognising them, the flow tokens in
 * their user part, and building the double Record-Route of RFC 7118 §8.2 / RFC 5626 §5.3. */
#ifndef IMSGW_ROUTE_H
#define IMSGW_ROUTE_H

#include <stddef.h>

#include <sofia-sip/msg.h>
#include <sofia-sip/sip.h>
#include <sofia-sip/url.h>

#include "flow.h"

struct gw_conn;

enum route_flow { ROUTE_NO_TOKEN, ROUTE_TOKEN_OK, ROUTE_TOKEN_BAD };

/* 1 when u names this gateway (host:port of sip-host). */
int route_is_ours(const url_t *u);
/* Pops every leading Route entry that is ours; the first flow token among them is decoded into
 * ref. Returns what was found (a tampered token wins: the request must get 403). */
enum route_flow route_pop_ours(msg_t *msg, sip_t *sip, struct flow_ref *ref);
/* Adds the two Record-Route entries of a dialog-forming request crossing WebSocket ↔ IMS:
 * the WebSocket-side entry (flow token of c, transport=ws) and the core-side entry.
 * towards_ws = 1 when the request goes to the WebSocket (the ws entry is then on top). */
int route_record_route(msg_t *msg, sip_t *sip, struct gw_conn *c, int towards_ws);
/* The flow token of connection c on this worker (Path, Record-Route): the HMAC is computed once
 * per connection, not at every REGISTER refresh (3 % of a worker's CPU at half load). */
const char *route_flow_token(struct gw_conn *c);
/* 1 when the method forms a dialog (RFC 3261: INVITE, SUBSCRIBE, REFER; NOTIFY may). */
int route_forms_dialog(sip_t const *sip);

#endif
