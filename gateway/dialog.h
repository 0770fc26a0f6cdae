/* dialog: the INVITE dialogs (early and confirmed) each flow takes part in, with the route set
 * the gateway learned for them. An in-dialog request from a WebSocket is relayed only inside a
 * dialog held here and only along its stored route set, never along the client's Route (which
 * would make the gateway an open relay from its trusted IMS address). When a WebSocket closes
 * mid-call the gateway ends its calls towards the IMS side with a BYE on the user's behalf. */
#ifndef IMSGW_DIALOG_H
#define IMSGW_DIALOG_H

#include <stdint.h>

#include <sofia-sip/sip.h>

#define DIALOG_MAX_PER_FLOW 32 /* early (forked) and confirmed dialogs together */

struct dialog;

/* A 1xx with a To-tag (early dialog) or a 2xx (confirmed) to an initial INVITE passed the
 * gateway. ws_is_uac: the WebSocket user called. invite is the INVITE as the WebSocket side saw
 * it (for the caller's Record-Route and Contact when the WebSocket user is called; for the CSeq
 * the client used when it called, NULL = as in rsp); rsp the response as the core sent it. */
void dialog_learn(uint64_t conn_id, int ws_is_uac, sip_t const *invite, sip_t const *rsp);
/* An initial INVITE of flow conn_id ended without 2xx (final failure, timeout, Timer C): the
 * early dialogs of its Call-ID are over. */
void dialog_early_over(uint64_t conn_id, const char *call_id);
/* The dialog an in-dialog request from the WebSocket user belongs to (Call-ID, From-tag =
 * the user's tag, To-tag = the far end's), or NULL. */
struct dialog *dialog_find_ws(uint64_t conn_id, sip_t const *req);
/* The route set towards the far end as "<uri>, <uri>", or NULL when empty (next hop). */
const char *dialog_route(const struct dialog *d);
/* An in-dialog request from the WebSocket user, as it goes upstream: remember its CSeq (ours
 * must go higher). */
void dialog_seen_cseq(struct dialog *d, sip_t const *req);
/* The CSeq upstream for the WebSocket user's in-dialog request numbered client_cseq: the same,
 * plus one for every request of the dialog the gateway re-sent with credentials (proxy_auth). */
uint32_t dialog_upstream_cseq(const struct dialog *d, uint32_t client_cseq);
/* An in-dialog request was re-sent upstream with CSeq sent (one above the client's mapping). */
void dialog_resent(struct dialog *d, uint32_t sent);
/* A BYE from the WebSocket user was relayed: the dialog is over. */
void dialog_remove(struct dialog *d);
/* A BYE from the IMS side was relayed to flow conn_id: its dialog is over. */
void dialog_ended(uint64_t conn_id, sip_t const *bye);
/* A 2xx to an INVITE of flow conn_id arrived after the flow closed (it crossed our CANCEL):
 * ACK it and BYE the call on the caller's behalf, so the callee is not left in a call. */
void dialog_orphan_answered(uint64_t conn_id, sip_t const *rsp);
/* The flow closed: BYE every confirmed dialog it had towards the IMS side, then forget all. */
void dialog_flow_closed(uint64_t conn_id);
/* Flow recovery: the dialogs of flow from now belong to flow to; returns how many moved. */
unsigned dialog_rebind(uint64_t from, uint64_t to);
/* Dialogs held now (a gauge for /metrics). */
unsigned dialog_count(void);
/* What the operator page shows of one dialog. */
struct dialog_view {
    uint64_t conn_id;
    int confirmed; /* 2xx seen (else early) */
    int ws_is_uac; /* the WebSocket user called */
    const char *call_id, *ws_uri, *far_uri;
    uint64_t created_ms; /* time_mono_ms() */
};
/* Calls fn for each dialog held, oldest last, until it returns < 0. */
typedef int (*dialog_visit_fn)(void *arg, const struct dialog_view *v);
void dialog_visit(dialog_visit_fn fn, void *arg);
/* Frees everything (shutdown). */
void dialog_clear(void);

#endif
