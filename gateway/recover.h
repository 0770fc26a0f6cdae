/* recover: RFC 5626 flow recovery for DPoP-proven clients (issue 14, docs/dpop-sip.md). When the
 * WebSocket of a registration whose token was DPoP-bound closes, its dialogs are held for
 * flow-recovery-grace seconds instead of being ended. A new flow whose REGISTER proves the same
 * key for the same AOR, +sip.instance and reg-id takes them over: they are re-keyed to it, and
 * the old flow's id becomes an alias of the new one for requests from the core that still carry
 * the old flow token. Nobody proven in time: the calls end with BYE as before. */
#ifndef IMSGW_RECOVER_H
#define IMSGW_RECOVER_H

#include <stdint.h>

#include <sofia-sip/sip.h>

#define RECOVER_BINDING_MAX 700
#define RECOVER_MAX_HELD 4096    /* closed flows waiting at once; more end their calls at once */
#define RECOVER_MAX_ALIASES 4096 /* old flow ids still routed to a new flow */

struct gw_conn;

/* "<AOR>|<+sip.instance>|<reg-id>" of an outbound REGISTER; -1 without instance or reg-id (such
 * a client cannot be recognised on a new flow) or when too long. */
int recover_binding(sip_t const *reg, char out[RECOVER_BINDING_MAX]);
/* c's WebSocket closed: hold its dialogs when its registration was DPoP-proven (its reg state
 * names the key and binding). Call before the registration state is freed. */
void recover_flow_closed(struct gw_conn *c);
/* 1 while conn_id's dialogs are held for recovery (they must not be ended yet). */
int recover_holds(uint64_t conn_id);
/* A REGISTER proven with key jkt for binding succeeded on c: take over a held flow of the same
 * key and binding. Returns the dialogs carried over, or -1 when there was none to take. */
int recover_claim(struct gw_conn *c, const char *jkt, const char *binding);
/* A DPoP proof for key jkt was refused: counted when that key has a held flow. */
void recover_note_refused(const char *jkt);
/* The connection id that now serves conn_id (itself when it was not recovered). */
uint64_t recover_route(uint64_t conn_id);
/* Held flows now (a gauge), and ending them (their calls get BYE) at shutdown. */
unsigned recover_held_count(void);
void recover_clear(void);

#endif
