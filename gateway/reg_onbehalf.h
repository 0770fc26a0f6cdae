/* reg_onbehalf: REGISTERs the gateway sends for a user without a request from the client, built
 * from the REGISTER last forwarded for the flow (reg_state.upstream):
 *   - the dereg-grace de-REGISTER of a closed flow (dereg.c),
 *   - the re-REGISTER after the core "shortened" the registration in a reg-event NOTIFY
 *     (TS 24.229 §5.2.3, RFC 3680 §5.2.4), sent before the new expiry so the edge registration
 *     does not lapse under a client that refreshes on its own, longer schedule.
 * Each goes to next-hop; a 401/407 is answered once through ims_auth (in digest mode the WAF
 * computes the response), like the client's own REGISTER in reg.c. */
#ifndef IMSGW_REG_ONBEHALF_H
#define IMSGW_REG_ONBEHALF_H

#include <stdint.h>

#include <sofia-sip/msg.h>

struct gw_conn;

/* Rewrites m (a REGISTER as once sent) for sending again: Vias off, Expires (header and Contact
 * parameters) = expires, CSeq + 1 in the same Call-ID, or 1 in a fresh Call-ID. 0 or -1. */
int rob_prepare(msg_t *m, long expires, int fresh_call_id);
/* Sends m (prepared; taken) upstream. label names it in the log (an AOR or binding key, no
 * secret). done, if set, runs once with the final status and the REGISTER as last sent (taken;
 * NULL when none), unless rob_clear() comes first. 0, or -1 (done never runs). */
typedef void (*rob_done_fn)(uint64_t conn_id, int status, msg_t *sent);
int rob_send(msg_t *m, const char *label, uint64_t conn_id, rob_done_fn done);

/* The core shortened c's registration to seconds from now: re-register before then. */
void rob_shortened(struct gw_conn *c, long seconds);

/* Shutdown, after the WAF client and before the SIP agent: frees what is in flight. */
void rob_clear(void);

#endif
