/* dialog: the confirmed INVITE dialogs each flow takes part in. When a WebSocket closes mid-call
 * the gateway ends its calls towards the IMS side with a BYE on the user's behalf, so the other
 * party hangs up and no state outlives the flow. */
#ifndef IMSGW_DIALOG_H
#define IMSGW_DIALOG_H

#include <stdint.h>

#include <sofia-sip/sip.h>

#define DIALOG_MAX_PER_FLOW 16

/* A 2xx to an initial INVITE passed the gateway. ws_is_uac: the WebSocket user called.
 * invite is the INVITE as the WebSocket side saw it (for the callee's Record-Route and
 * Contact when the WebSocket user is called); rsp the 2xx. */
void dialog_confirmed(uint64_t conn_id, int ws_is_uac, sip_t const *invite, sip_t const *rsp);
/* An in-dialog request from the WebSocket user: remember its CSeq (ours must go higher). */
void dialog_seen_cseq(sip_t const *req);
/* A BYE passed (either way): the dialog is over. */
void dialog_ended(sip_t const *bye);
/* The flow closed: BYE every dialog it had towards the IMS side, then forget them. */
void dialog_flow_closed(uint64_t conn_id);
/* Dialogs held now (a gauge for /metrics). */
unsigned dialog_count(void);
/* Frees everything (shutdown). */
void dialog_clear(void);

#endif
