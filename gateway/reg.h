/* reg: REGISTER from a WebSocket flow: RFC 8898 Bearer challenge and token validation, then the
 * 3GPP trusted-node REGISTER towards the IMS core (spec §7.1 steps 1–9). */
#ifndef IMSGW_REG_H
#define IMSGW_REG_H

#include <stdint.h>

#include <sofia-sip/msg.h>

#include "tok.h"

struct gw_conn;
struct reg_pending;

/* What a flow holds once the core accepted its REGISTER. */
struct reg_state {
    char *impu; /* registered AOR (To) */
    char *impi;
    char *scope;        /* of the token that registered: what the flow may do (ims:call, …) */
    int64_t expires_at; /* registration end, epoch seconds */
    int64_t token_exp;
    char *service_route;   /* as received in the 200, for originating requests */
    char *associated_uris; /* P-Associated-URI of the 200 */
    /* Tokens the gateway redeemed for this flow (flows 2 and 3), else NULL. */
    char *held_access;
    char *held_refresh;
    int64_t held_access_exp;
    int refreshing;                      /* a refresh of the held tokens is at the WAF */
    struct reg_pending *refresh_waiters; /* REGISTERs on this flow waiting for it */
    /* the REGISTER as last forwarded, for a de-REGISTER when the flow dies or a re-REGISTER on
     * the user's behalf; kept as text (sipmsg_thaw() when needed: rarely) */
    struct sipmsg_frozen *upstream;
    char dpop_jkt[TOK_JKT_SIZE]; /* the key the last REGISTER proved; "" for bearer tokens */
    char *binding;               /* recover_binding() of that REGISTER, when DPoP-proven */
};

/* Handles one REGISTER received on c; takes ownership of msg. */
void reg_handle(struct gw_conn *c, msg_t *msg);
/* The registration of c lapsed or was removed: forget its state. */
void reg_flow_closed(struct gw_conn *c);
/* Ends the registration of c at the edge and sends its de-REGISTER upstream now (why: for the
 * log); 1 when one was sent (the REGISTER it undoes was kept), 0 when not. The caller tells the
 * client (closes the flow). */
int reg_remove(struct gw_conn *c, const char *why);
/* The WebSocket of c closed: de-register upstream after dereg-grace (if set), forget the state. */
void reg_flow_gone(struct gw_conn *c);
/* At stop, before the SIP agent goes: ends the REGISTERs still waiting for the core. */
void reg_stop(void);

#endif
