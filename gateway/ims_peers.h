/* ims_peers: which addresses may send requests to the gateway on the IMS side. Either the list
 * configured as ims-peers, or by default the next hop plus the hosts of the Service-Routes the
 * core returned at registration (the S-CSCF sends terminating requests, not the I-CSCF that the
 * next hop usually is). */
#ifndef IMSGW_IMS_PEERS_H
#define IMSGW_IMS_PEERS_H

#define IMS_PEERS_MAX_LEARNT 32 /* learnt addresses (and host names) at most */

/* Learns the hosts of a Service-Route header value; names resolve asynchronously. A no-op when
 * ims-peers is configured. */
void ims_peers_learn(const char *service_route);
/* 1 when ip (textual, as inet_ntop writes it) may send requests on the IMS side. */
int ims_peers_allowed(const char *ip);
/* 1 when the message came from an allowed address. */
#include <sofia-sip/msg.h>
int ims_peers_msg_allowed(msg_t *msg);
/* Forgets what was learnt (at shutdown). */
void ims_peers_clear(void);

#endif
