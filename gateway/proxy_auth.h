/* proxy_auth: Digest on behalf of the user for requests other than REGISTER (issue 11). A 407
 * from the core to a request of a WebSocket flow is answered once through ims_auth (in digest
 * mode the WAF computes the response; the gateway never holds the secret): the same request goes
 * up again as a new client transaction with Proxy-Authorization, the same Call-ID and CSeq + 1
 * (RFC 3261 §22.3, §8.1.3.5). The client never sees the challenge: its own CSeq is given back in
 * the responses, and its later requests in the dialog are shifted up by one (dialog.c). A second
 * 407 is a refusal (403 to the client), never a loop. In tna mode nothing changes: the 407 is
 * relayed. */
#ifndef IMSGW_PROXY_AUTH_H
#define IMSGW_PROXY_AUTH_H

#include <sofia-sip/sip.h>

struct proxy_tx;

enum proxy_auth_verdict {
    PROXY_AUTH_RELAY,   /* not answered here: relay the 407 as usual */
    PROXY_AUTH_HANDLED, /* being answered (or ended locally): the caller leaves tx alone */
    PROXY_AUTH_REFUSE,  /* already answered once: the client gets 403 instead */
};

/* The core answered tx's current orq with the 407 rsp (called from its response callback). */
enum proxy_auth_verdict proxy_auth_challenged(struct proxy_tx *tx, sip_t const *rsp);
/* tx is being freed: an answer still at the WAF finds nothing when it comes. */
void proxy_auth_forget(struct proxy_tx *tx);

#endif
