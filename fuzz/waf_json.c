/* Fuzz target waf_json: the JSON the gateway receives from the WAF, through the gateway's own
 * response handlers (a fake http_client hands the input over as the response body):
 *   first byte % 3 == 0: RFC 7662 introspection response of an opaque token (auth.c),
 *                  == 1: token endpoint response of a refresh grant (code_grant.c),
 *                  == 2: the JWKS document (jwks.c → common/jwk.c key parsing);
 *   first byte & 4: HTTP status 400 instead of 200. The rest of the input is the body. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "code_grant.h"
#include "fake_http_client.h"
#include "fuzz_gw.h"
#include "gw.h"
#include "jwks.h"
#include "tok.h"

#define FUZZ_MAX_LIFETIME (10LL * 366 * 86400)

static int waf_json_calls;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_gw_init(1);
    fake_hc_refuse = 0;
    return 0;
}

static void waf_json_on_auth(void *arg, enum tok_result r, const struct tok_identity *id,
                             const char *why)
{
    waf_json_calls++;
}

static void waf_json_on_grant(void *arg, const struct grant_result *g)
{
    waf_json_calls++;
    /* An ok grant carries its access token and a lifetime reg.c can add to the clock
     * (time_now_s() + expires_in): positive, and at most FUZZ_MAX_LIFETIME. */
    if (g->ok && (!g->access_token || g->expires_in < 1 || g->expires_in > FUZZ_MAX_LIFETIME))
        abort();
}

static void waf_json_on_keys(void *arg, int ok)
{
    waf_json_calls++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > HC_MAX_BODY)
        return 0;
    int status = data[0] & 4 ? 400 : 200;
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    waf_json_calls = 0;
    struct jwks *keys = NULL;
    switch (data[0] % 3) {
    case 0: {
        /* A fresh opaque token each time, so no answer comes from the cache. */
        static unsigned long n;
        char token[64];
        snprintf(token, sizeof(token), "opaque-token-%lu", ++n);
        auth_token(token, strlen(token), waf_json_on_auth, NULL);
        break;
    }
    case 1:
        grant_refresh("refresh-token", waf_json_on_grant, NULL);
        break;
    default:
        keys = jwks_new(gw->cfg->jwks_uri, gw->cfg->jwks_refetch_interval);
        if (jwks_refresh(keys, NULL, 1000000, waf_json_on_keys, NULL) < 0)
            abort();
        break;
    }
    if (fake_hc_answer(status, body, len) != 1 || waf_json_calls != 1)
        abort(); /* every request is answered exactly once */
    if (keys) {
        jwks_lookup(keys, "waf-es256-1");
        jwks_free(keys);
    }
    return 0;
}
