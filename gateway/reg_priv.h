/* reg_priv: what the REGISTER modules share among themselves (reg.c, reg_grant.c); no other
 * module includes it. */
#ifndef IMSGW_REG_PRIV_H
#define IMSGW_REG_PRIV_H

#include <stdint.h>

#include <sofia-sip/nta.h>
#include <sofia-sip/sip.h>

#include "gw.h"
#include "gw_latency.h"
#include "reg.h"
#include "tok.h"

/* One REGISTER between its arrival and its final response. */
struct reg_pending {
    uint64_t conn_id;
    msg_t *req; /* as received from the client */
    struct tok_identity id;
    nta_outgoing_t *orq;
    long expires;               /* as sent upstream, after the clamp to the token's lifetime */
    struct sipmsg_frozen *sent; /* the REGISTER sent upstream (not for a de-REGISTER) */
    char *held_access;          /* tokens redeemed or refreshed for this REGISTER (flows 2 and 3) */
    char *held_refresh;
    int64_t held_access_exp;
    int refreshing;              /* this REGISTER refreshes the flow's held tokens */
    int answered;                /* the core's Digest challenge was answered once (no second) */
    int admitted;                /* holds one of reg_admit's places towards the core */
    int dpop_scheme;             /* the client's token came as "Authorization: DPoP" */
    char dpop_jkt[TOK_JKT_SIZE]; /* the key its DPoP proof proved; "" for none */
    struct reg_pending *next;    /* in its flow's list of REGISTERs waiting for that refresh */
    struct gw_lat_mark lat;      /* its time in the gateway (gw_latency) */
};

static inline void reg_count(enum gw_reg_outcome o)
{
    gw->metrics.register_outcomes[o]++;
}

/* reg.c */
/* Wipes a token before freeing it; NULL is fine. */
void reg_secret_free(char *s);
/* Frees p and gives back the places it holds (flow quota, reg_admit). */
void reg_pending_free(struct reg_pending *p);
/* 401 with the RFC 8898 challenge (error NULL: the first one), or the 302 of challenge redirect. */
void reg_challenge(struct gw_conn *c, sip_t const *sip, const char *error);
/* 503 + Retry-After: the WAF or the gateway's own capacity failed, not the client. */
void reg_busy(struct gw_conn *c, sip_t const *sip, const char *why);
/* auth_token()'s callback for a REGISTER (arg: its reg_pending): goes on towards the core. */
void reg_on_auth(void *arg, enum tok_result r, const struct tok_identity *id, const char *why);

/* reg_grant.c: REGISTERs held while a code or refresh grant at the WAF completes */
/* Redeems the code in the body of p's REGISTER for the tokens of to; resumes in reg_on_auth(). */
void reg_grant_redeem(sip_t const *sip, const char *to, struct reg_pending *p);
/* A REGISTER without credentials on a flow whose tokens the gateway holds: uses them. */
void reg_grant_use_held(struct gw_conn *c, struct reg_pending *p);

#endif
