/* reg_dpop: DPoP on REGISTER, the SIP profile of RFC 9449 written down in docs/dpop-sip.md:
 * `Authorization: DPoP <token>` plus a `DPoP` header whose proof has htm = the method and
 * htu = the Request-URI, a gateway nonce, and a replay cache of jti. One seam for reg.c. */
#ifndef IMSGW_REG_DPOP_H
#define IMSGW_REG_DPOP_H

#include <stddef.h>

#include <sofia-sip/sip.h>

#include "tok.h"

#define REG_DPOP_REPLAY_MAX 8192 /* live proofs remembered, all flows of all workers */
/* Live proofs of one key: 128 in max-age + leeway (61 s by default) is a REGISTER every half
 * second, far above any client's refreshes and recoveries; one account alone filled the whole
 * cache at ~125 REGISTERs/s before, and every DPoP client of the gateway was refused. */
#define REG_DPOP_REPLAY_PER_KEY 128
#define REG_DPOP_WHY_MAX 160

/* What the check of one REGISTER found. */
struct reg_dpop_result {
    const char *error; /* NULL when it passed; else the RFC 6750/9449 error code of the 401 */
    char why[REG_DPOP_WHY_MAX];
    char jkt[TOK_JKT_SIZE]; /* the proven key; "" for a bearer token without proof */
};

/* Checks the DPoP header of req against the token (tok, len) that came with scheme DPoP
 * (dpop_scheme = 1) or Bearer (0) and validated as id. Refused: a bound token under Bearer or
 * without a valid proof, a proof for another key, htm/htu/iat/ath wrong, a missing or stale
 * nonce, a replayed jti, an unbound token when require-dpop is set. 0 when it passed, -1 with
 * out->error and out->why. */
int reg_dpop_check(sip_t const *req, int dpop_scheme, const char *tok, size_t len,
                   const struct tok_identity *id, struct reg_dpop_result *out);
/* "DPoP-Nonce: <fresh nonce>" for a 401 or a 200. */
void reg_dpop_nonce_header(char out[96]);
/* The WWW-Authenticate value of a DPoP challenge with error and its description. */
void reg_dpop_challenge(char *out, size_t len, const char *error, const char *why);
/* Maps the replay cache shared by the workers: before they are forked (else on first use, for
 * this process alone). 0, or -1. */
int reg_dpop_start(void);
/* Unmaps the replay cache (shutdown). */
void reg_dpop_shutdown(void);

#endif
