/* stub_proxy: the stub as home proxy (S-CSCF routing, spec §7.4, issue 5). A transaction-
 * stateful forking proxy on nta: each request that is not a REGISTER and not addressed to the
 * stub itself gets one nta server transaction and one nta client transaction per branch.
 *
 * Routing, in order (RFC 3261 §16.4 - §16.6):
 *  - every top Route naming the stub (its listen, Service-Route or Record-Route host:port) is
 *    popped; the Service-Route user part ("orig") marks the request as originating;
 *  - a Route left over → forwarded to it (loose routing), Request-URI unchanged;
 *  - in-dialog (To tag) → forwarded to the Request-URI, but only when the request came
 *    through our Record-Route (a popped Route), else 403;
 *  - otherwise the Request-URI must be an AOR of the home domain (or tel:): its registered
 *    contacts are the branches (Request-URI = contact, stored Path pushed as Route, RFC 3327
 *    §5.4), 404 for users not in the HSS, 480 for known users without a registration.
 * Dialog-forming requests get Record-Route: <record-route setting>. ACK for a 2xx is forwarded
 * statelessly, CANCEL is matched by nta to its INVITE. Log line per request outcome:
 *   proxy method=M from=AOR to=AOR status=N dir=orig|term|dialog [branches=K] [reason=word] */
#ifndef IMSGW_STUB_PROXY_H
#define IMSGW_STUB_PROXY_H

#include <stddef.h>

#include <sofia-sip/nta.h>
#include <sofia-sip/sip.h>
#include <sofia-sip/su_wait.h>

#include "stub_registrar.h"

struct stub_proxy;

/* A proxy on agent; reg (settings, HSS, store) must outlive it. NULL when out of memory or a
 * configured URI does not parse. */
struct stub_proxy *stub_proxy_create(nta_agent_t *agent, su_root_t *root,
                                     const struct stub_registrar *reg);
/* Ends every transaction in progress (each branch destroyed, no callback after this). */
void stub_proxy_destroy(struct stub_proxy *px);
/* 1 when the request is addressed to the stub itself rather than to a user: no user part in
 * the Request-URI, host = home domain or our own address, and no Route beyond ours. */
int stub_proxy_for_me(const struct stub_proxy *px, const sip_t *sip);
/* Takes a request from the default leg. Returns what an nta leg callback returns: 0 when the
 * transaction is kept (answered later), else the status already sent. */
int stub_proxy_request(struct stub_proxy *px, nta_incoming_t *irq, const sip_t *sip);
/* A response outside every client transaction: a retransmitted 2xx to an INVITE whose branch
 * has ended is forwarded statelessly (RFC 3261 §16.7 step 5, §16.11); 0 when it was taken
 * (msg is consumed either way). */
int stub_proxy_stray(struct stub_proxy *px, msg_t *msg, const sip_t *sip);
/* Proxied requests in progress. */
size_t stub_proxy_active(const struct stub_proxy *px);

#endif
