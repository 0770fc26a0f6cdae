/* stub_pauth: the home proxy's Digest challenge of originating requests (setting
 * proxy-challenge, auth-mode digest), like an S-CSCF that authenticates every MESSAGE or INVITE
 * with 407 Proxy-Authenticate (RFC 3261 §22.3). It lets the tests prove that imsgw answers such
 * challenges on the user's behalf, once, and gives up on a second one. */
#ifndef IMSGW_STUB_PAUTH_H
#define IMSGW_STUB_PAUTH_H

#include <stddef.h>
#include <stdint.h>

#include <sofia-sip/sip.h>

#include "stub_registrar.h"

enum stub_pauth_result {
    STUB_PAUTH_PASS,      /* not challenged, or a valid answer */
    STUB_PAUTH_CHALLENGE, /* 407 with hdr (the Proxy-Authenticate value) */
    STUB_PAUTH_FORBIDDEN, /* 403: unknown user, identity not the user's, wrong digest-uri */
};

/* Decides for one initial originating request; reason: a word for the log line. */
enum stub_pauth_result stub_pauth_check(const struct stub_registrar *reg, const sip_t *sip,
                                        int64_t now, char *hdr, size_t hdrlen, const char **reason);

#endif
