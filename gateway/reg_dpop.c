/* reg_dpop: the gateway checks proofs like a resource server (RFC 9449 §7): the token says
 * which key (cnf.jkt), the proof shows the key is here now. The nonce is stateless (HMAC of its
 * time under a key derived from the flow key and this gateway's instance, so every worker makes
 * and accepts the same nonces, and no other gateway does), and the jti cache is shared by all flows
 * of all workers (dpop_seen.c), so a proof copied off one flow is as dead on another. */
#include "reg_dpop.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "dpop.h"
#include "dpop_seen.h"
#include "flow.h"
#include "gw.h"
#include "log.h"
#include "rnd.h"
#include "sipmsg.h"
#include "timeutil.h"

#define REG_DPOP_NONCE_TAG "imsgw-gw-register"
#define REG_DPOP_NONCE_LABEL "imsgw dpop-nonce v2" /* HKDF info: the key's one purpose */
#define REG_DPOP_LEEWAY 5 /* seconds a proof's iat may be ahead of our clock */

static uint8_t reg_dpop_key[DPOP_NONCE_KEY_LEN];
static int reg_dpop_keyed;

static const uint8_t *reg_dpop_nonce_key(void)
{
    if (!reg_dpop_keyed) {
        /* The instance in the derivation: a nonce is good where the jti cache that goes with
         * it is (this gateway's workers), not at another gateway with the same flow-key nor
         * after a restart, where a used proof would otherwise pass once more. */
        if (flow_derive_instance_key(REG_DPOP_NONCE_LABEL, reg_dpop_key, sizeof(reg_dpop_key)) <
            0) {
            /* Only this process knows its nonces then: other workers cost a retry. */
            log_warn("dpop: cannot derive the nonce key from the flow key; using a random one");
            rnd_bytes(reg_dpop_key, sizeof(reg_dpop_key));
        }
        reg_dpop_keyed = 1;
    }
    return reg_dpop_key;
}

int reg_dpop_start(void)
{
    return dpop_seen_start(REG_DPOP_REPLAY_MAX, REG_DPOP_REPLAY_PER_KEY);
}

void reg_dpop_nonce_header(char out[96])
{
    char nonce[DPOP_NONCE_MAX + 1];
    dpop_nonce_make(reg_dpop_nonce_key(), REG_DPOP_NONCE_TAG, time_now_s(), nonce);
    snprintf(out, 96, "DPoP-Nonce: %s", nonce);
}

void reg_dpop_challenge(char *out, size_t len, const char *error, const char *why)
{
    const struct gw_settings *cfg = gw->cfg;
    snprintf(out, len,
             "DPoP realm=\"%s\", error=\"%s\", error_description=\"%s\", scope=\"%s\", "
             "authz_server=\"%s\", algs=\"%s\"",
             cfg->realm, error, why, cfg->register_scope, cfg->authz_server, DPOP_ALGS);
}

static int reg_dpop_fail(struct reg_dpop_result *out, const char *error, const char *why)
{
    out->error = error;
    snprintf(out->why, sizeof(out->why), "%s", why);
    gw->metrics.dpop_refused_total++;
    return -1;
}

/* The one DPoP header of req: 1 found, 0 none, -1 more than one. */
static int reg_dpop_header(sip_t const *req, const char **value)
{
    int n = 0;
    for (sip_unknown_t const *u = req->sip_unknown; u; u = u->un_next)
        if (u->un_name && strcasecmp(u->un_name, "DPoP") == 0) {
            *value = u->un_value ? u->un_value : "";
            n++;
        }
    return n > 1 ? -1 : n;
}

int reg_dpop_check(sip_t const *req, int dpop_scheme, const char *tok, size_t len,
                   const struct tok_identity *id, struct reg_dpop_result *out)
{
    const struct gw_settings *cfg = gw->cfg;
    memset(out, 0, sizeof(*out));
    const char *proof = NULL;
    int found = reg_dpop_header(req, &proof);
    if (!id->jkt[0]) {
        /* A bearer token: DPoP is only demanded where the realm says so (RFC 9449 §7.2). */
        if (cfg->require_dpop)
            return reg_dpop_fail(out, "invalid_token", "this realm requires DPoP-bound tokens");
        if (dpop_scheme)
            return reg_dpop_fail(out, "invalid_token", "a bearer token under the DPoP scheme");
        return 0;
    }
    /* §7.1: a bound token presented as Bearer would let its thief skip the proof. */
    if (!dpop_scheme)
        return reg_dpop_fail(out, "invalid_token", "a DPoP-bound token needs the DPoP scheme");
    if (found == 0)
        return reg_dpop_fail(out, "invalid_dpop_proof", "the DPoP header is missing");
    if (found < 0)
        return reg_dpop_fail(out, "invalid_dpop_proof", "more than one DPoP header");
    char ruri[TOK_MAX_URI], method[32];
    if (sipmsg_url(ruri, sizeof(ruri), req->sip_request->rq_url) < 0)
        return reg_dpop_fail(out, "invalid_dpop_proof", "the Request-URI is too long");
    snprintf(method, sizeof(method), "%s", req->sip_request->rq_method_name);
    int64_t now = time_now_s();
    struct dpop_expect want = {.htm = method,
                               .htu = ruri,
                               .now = now,
                               .max_age = cfg->dpop_max_age,
                               .leeway = REG_DPOP_LEEWAY,
                               .access_token = tok,
                               .access_token_len = len,
                               .jkt = id->jkt};
    struct dpop_proof p;
    char why[REG_DPOP_WHY_MAX];
    if (dpop_verify(proof, strlen(proof), &want, &p, why, sizeof(why)) < 0)
        return reg_dpop_fail(out, "invalid_dpop_proof", why);
    if (!dpop_nonce_check(reg_dpop_nonce_key(), REG_DPOP_NONCE_TAG, p.nonce, now,
                          cfg->dpop_nonce_lifetime))
        return reg_dpop_fail(out, "use_dpop_nonce",
                             p.nonce[0] ? "the DPoP nonce is stale or not this gateway's"
                                        : "the proof needs the gateway's DPoP nonce");
    if (reg_dpop_start() < 0)
        return reg_dpop_fail(out, "invalid_dpop_proof", "the replay cache is not available");
    int seen = dpop_seen_add(&p, now, now + cfg->dpop_max_age + REG_DPOP_LEEWAY + 1);
    if (seen)
        return reg_dpop_fail(out, "invalid_dpop_proof",
                             seen > 0 ? "the DPoP proof was already used (jti)"
                             : seen == -2
                                 ? "too many recent DPoP proofs with this key; try again shortly"
                                 : "too many recent DPoP proofs; try again shortly");
    memcpy(out->jkt, p.jkt, sizeof(out->jkt));
    return 0;
}

void reg_dpop_shutdown(void)
{
    dpop_seen_stop();
}
