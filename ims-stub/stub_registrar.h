/* stub_registrar: the S-CSCF REGISTER rules (TNA, Path, Outbound, RFC 3261 §10.3) as one
 * function of (parsed request, source address, settings, HSS, binding store, time), so the
 * rules are tested without sockets. */
#ifndef IMSGW_STUB_REGISTRAR_H
#define IMSGW_STUB_REGISTRAR_H

#include <stdint.h>

#include <sofia-sip/sip.h>

#include "stub_bindings.h"
#include "stub_digest.h"
#include "stub_hss.h"
#include "stub_settings.h"

/* Most contacts one REGISTER may carry. */
#define STUB_MAX_CONTACTS 16

struct stub_registrar {
    const struct stub_settings *set;
    const struct stub_hss *hss;
    struct stub_bindings *store;
    struct stub_digest *digest; /* nonces of Digest challenges; NULL = no Digest at all */
};

struct stub_reply {
    int status;
    const char *phrase;
    const char *reason; /* short word for the log line; NULL on 200 */
    char *headers;      /* header lines to add, each ending in CRLF (malloc'd), or NULL */
};

/* Decides the answer to one REGISTER (src_ip: where it came from; TNA only from a trusted
 * peer, Digest from anywhere when auth-mode is digest), updates reg->store when it is accepted,
 * fills r and logs "register aor=<AOR> from=<src_ip> status=<code>[ reason=<word>]". */
void stub_register(const struct stub_registrar *reg, const sip_t *sip, const char *src_ip,
                   int64_t now, struct stub_reply *r);
/* Frees r->headers. */
void stub_reply_clear(struct stub_reply *r);

#endif
