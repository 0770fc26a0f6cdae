/* identity: the identity the gateway asserts to the IMS core for a registered flow
 * (P-Asserted-Identity, RFC 3325 / TS 24.229 §5.2.6.3 for requests, §5.2.6.4 for responses).
 * The client's own claim never passes: only one of the identities the registrar associated. */
#ifndef IMSGW_IDENTITY_H
#define IMSGW_IDENTITY_H

#include <stddef.h>

#include <sofia-sip/msg.h>
#include <sofia-sip/sip.h>

struct reg_state;

/* "<uri>" to assert for the flow registered as r: P-Preferred-Identity of msg when it is one of
 * the P-Associated-URIs, else the default (first associated) identity, else the registered
 * IMPU. */
void identity_asserted(const struct reg_state *r, sip_t const *sip, char *out, size_t outlen);
/* Removes every P- header the client sent and adds the asserted identity of r (none when r is
 * NULL). Returns 0 or -1. */
int identity_assert_on(msg_t *msg, sip_t *sip, const struct reg_state *r);

#endif
