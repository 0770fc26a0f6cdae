/* regevent: the gateway's subscription to each registered user's "reg" event (RFC 3680,
 * TS 24.229 §5.2.3), so that the core can end a registration (network-initiated
 * de-registration) and the edge follows at once. One subscription per registered flow. */
#ifndef IMSGW_REGEVENT_H
#define IMSGW_REGEVENT_H

#include <stddef.h>
#include <stdint.h>

#define REGEVENT_EXPIRES 600000  /* asked of the notifier (TS 24.229 §5.2.3: 600 000 s) */
#define REGEVENT_MAX_SUBS 100000 /* subscriptions at most (one per registered flow) */
#define REGEVENT_WS_CLOSE 4401   /* WebSocket close code: the network ended the registration */

/* After a successful registration of conn_id: subscribes along the Service-Route, unless a
 * subscription for this flow and IMPU exists. contact: the registered Contact URI. */
void regevent_subscribe(uint64_t conn_id, const char *impu, const char *contact,
                        const char *service_route);
/* The flow's registration ended at the edge (de-REGISTER, flow closed): un-SUBSCRIBE. */
void regevent_unsubscribe(uint64_t conn_id);
/* Ends every subscription without signalling (at shutdown). */
void regevent_stop(void);

/* What a reginfo document (RFC 3680 §5) says about one contact of impu. */
struct regevent_verdict {
    int ended;      /* the contact (or the whole registration) was terminated */
    char why[32];   /* the event attribute, e.g. "deactivated" */
    long shortened; /* > 0: the contact's new expiry in seconds ("shortened") */
};
/* Reads a reginfo body (bounded scan, no entity expansion). Returns 0, or -1 when the body
 * is not reginfo at all. */
int regevent_assess(const char *body, size_t len, const char *impu, const char *contact,
                    struct regevent_verdict *v);

#endif
