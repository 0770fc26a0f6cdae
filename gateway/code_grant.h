/* code_grant: PRODUCT.md flows 2 and 3. A REGISTER whose body carries an authorization code
 * (rich UI, after the 302/401 challenge) or a numeric code (limited UI) is redeemed by the
 * gateway at the WAF token endpoint as a confidential client; the gateway then holds the tokens
 * for that flow and refreshes them itself (refresh_token grant, rotated by the WAF). */
#ifndef IMSGW_CODE_GRANT_H
#define IMSGW_CODE_GRANT_H

#include <stddef.h>
#include <stdint.h>

#include <sofia-sip/sip.h>

#define GRANT_MAX_BODY 2048 /* a REGISTER body holding a code is small */
/* Longest access-token lifetime taken from the token endpoint: reg.c adds it to the clock. */
#define GRANT_MAX_EXPIRES_IN (366LL * 86400)

/* What the WAF returned; strings are valid only during the callback. ok = 0: why says why, and
 * unavailable says the WAF did not answer the grant at all (down, timeout, 5xx, no slot). */
struct grant_result {
    int ok;
    int unavailable;
    const char *access_token;
    const char *refresh_token; /* may be NULL */
    int64_t expires_in;
    const char *why;
};
typedef void (*grant_done_fn)(void *arg, const struct grant_result *r);

/* The code request in a REGISTER body: 1 when the body is application/x-www-form-urlencoded
 * with grant_type=authorization_code and a code, 0 when the body is not such a request, -1 when
 * it tries to be one but is malformed (→ 400). */
int grant_body_is_code(sip_t const *sip);
/* Redeems the code in the REGISTER body at the token endpoint; impu (the AOR being registered)
 * is sent along for numeric codes, which the WAF binds to an IMPU. done runs exactly once. */
void grant_redeem(sip_t const *sip, const char *impu, grant_done_fn done, void *arg);
/* Exchanges a held refresh token for a new token pair; done runs exactly once. */
void grant_refresh(const char *refresh_token, grant_done_fn done, void *arg);

#endif
