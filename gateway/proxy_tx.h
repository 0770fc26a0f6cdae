/* proxy_tx: the transactions the proxy has in flight, in both directions, keyed so that a
 * CANCEL, an ACK or a response finds its request: WebSocket → IMS by (flow, client branch),
 * IMS → WebSocket by the branch of the Via we added on the WebSocket side. */
#ifndef IMSGW_PROXY_TX_H
#define IMSGW_PROXY_TX_H

#include <stdint.h>

#include <glib.h>
#include <sofia-sip/nta.h>

struct gw_conn;
struct proxy_auth_job;

struct proxy_tx {
    int out; /* 1: WebSocket → IMS (orq); 0: IMS → WebSocket (irq) */
    uint64_t conn_id;
    char key[128];   /* table key */
    char branch[96]; /* out: the client's branch; in: ours on the WebSocket side */
    msg_t *req;      /* out: as received from the client; in: as sent to the client */
    nta_outgoing_t *orq;
    nta_outgoing_t *corq;     /* our CANCEL of orq, while it runs */
    url_string_t const *next; /* where orq went (NULL: by its Route set) */
    nta_incoming_t *irq;
    int invite;
    int final;
    guint timer_c;
    guint linger;                /* a failed INVITE waiting for its ACK */
    struct proxy_auth_job *auth; /* out: the core's 407 is being answered (orq is the old one) */
    int answered;                /* out: re-sent with credentials once; a second 407 fails */
    int cancelled;               /* out: CANCEL or Timer C decided while auth was running */
};

#define PROXY_ACK_WAIT_MS 4000 /* reliable transports: the ACK follows at once */

struct proxy_tx *proxy_tx_find_out(uint64_t conn_id, const char *branch);
struct proxy_tx *proxy_tx_find_in(const char *branch);
/* Sends fwd (built from req, which is kept for local answers) upstream through nta, to next
 * (NULL: by its Route set), and relays the responses to the flow. Takes req and fwd. */
void proxy_tx_send_out(struct gw_conn *c, msg_t *req, msg_t *fwd, url_string_t const *next);
/* Cancels an outgoing INVITE upstream (the 487 still comes back through the INVITE). */
void proxy_tx_cancel_out(struct proxy_tx *tx);
/* Sends fwd upstream as a new client transaction of tx, replacing its orq (proxy_auth). Takes
 * fwd. Returns 0 or -1. */
int proxy_tx_resend(struct proxy_tx *tx, msg_t *fwd);
/* Ends an outgoing tx with a local answer to the client (status, phrase; NULL = standard) as if
 * the core had sent it: a failed INVITE then waits for its ACK, anything else is freed. */
void proxy_tx_end_local(struct proxy_tx *tx, int status, const char *phrase);
/* Registers an IMS → WebSocket transaction (irq answered later by proxy_in_response()); NULL
 * when out of memory. */
struct proxy_tx *proxy_tx_add_in(struct gw_conn *c, nta_incoming_t *irq, const char *branch,
                                 msg_t *sent, int invite);
/* Forgets tx (final answer given or flow gone). */
void proxy_tx_free(struct proxy_tx *tx);
/* Calls fn for every transaction of a flow (fn may free tx). */
void proxy_tx_foreach_conn(uint64_t conn_id, void (*fn)(struct proxy_tx *tx));
/* Frees everything (shutdown). */
void proxy_tx_clear(void);

#endif
