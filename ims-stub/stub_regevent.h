/* stub_regevent: the S-CSCF's "reg" event package (RFC 3680) as far as a P-CSCF uses it:
 * SUBSCRIBE → 200 + a full reginfo NOTIFY; network-initiated de-registration (a test hook)
 * → the user's bindings removed and a NOTIFY with the contacts terminated ("deactivated");
 * shortening (a test hook too) → a NOTIFY with event "shortened". */
#ifndef IMSGW_STUB_REGEVENT_H
#define IMSGW_STUB_REGEVENT_H

#include <sofia-sip/nta.h>

#include "stub_registrar.h"

struct stub_regevent;

struct stub_regevent *stub_regevent_create(nta_agent_t *agent, const struct stub_registrar *reg);
void stub_regevent_destroy(struct stub_regevent *re);
/* An initial SUBSCRIBE with Event: reg; answers it (returns the status). */
int stub_regevent_subscribe(struct stub_regevent *re, nta_incoming_t *irq, const sip_t *sip);
/* Network-initiated de-registration of aor (canonical form): bindings removed, subscribers told.
 * Returns the number of bindings removed. */
int stub_regevent_deregister(struct stub_regevent *re, const char *aor);
/* The registrar shortens aor's bindings to seconds from now (TS 24.229 §5.4.1.6, e.g. to force
 * re-authentication); subscribers get event "shortened". Returns the number of bindings shortened.
 */
int stub_regevent_shorten(struct stub_regevent *re, const char *aor, long seconds);

#endif
