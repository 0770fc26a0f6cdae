/* waf_dpop: DPoP at /token (RFC 9449 §5): the one place that reads the DPoP header, checks the
 * proof with common/dpop and the WAF's nonce, and says which key the tokens are bound to. */
#ifndef IMSGW_WAF_DPOP_H
#define IMSGW_WAF_DPOP_H

#include "waf_app.h"

#define WAF_DPOP_REPLAY_MAX 8192    /* live proofs remembered (each lives max-age + leeway) */
#define WAF_DPOP_REPLAY_PER_KEY 128 /* of one key: one client cannot fill the cache for all */

/* Prepares the nonce key and the replay cache; -1 when out of memory. */
int waf_dpop_open(struct waf_app *app);
void waf_dpop_close(struct waf_app *app);
/* Checks the DPoP header of a /token request. 0 with req->dpop_jkt set to the proof key's
 * thumbprint ("" when there is no proof), or -1 with resp set: 400 invalid_dpop_proof, or
 * 400 use_dpop_nonce with a fresh DPoP-Nonce (RFC 9449 §8). */
int waf_dpop_check(struct waf_app *app, struct waf_req *req, struct waf_resp *resp);
/* Gives resp a fresh DPoP-Nonce (sent with every answer to a DPoP request, §8.2). */
void waf_dpop_nonce(struct waf_app *app, struct waf_resp *resp);

#endif
