/* stub_server: the SIP side of the stub, an nta agent on the caller's su_root that answers
 * REGISTER through stub_registrar, OPTIONS with 200 and everything else with 501. */
#ifndef IMSGW_STUB_SERVER_H
#define IMSGW_STUB_SERVER_H

#include <stddef.h>

#include <sofia-sip/su_wait.h>

#include "stub_registrar.h"

struct stub_server;

/* Binds UDP and TCP on listen (a sip: URI) and starts the binding expiry sweep. NULL with err
 * when the address cannot be bound. reg must outlive the server. */
struct stub_server *stub_server_create(su_root_t *root, const struct stub_registrar *reg,
                                       const char *listen, char *err, size_t errlen);
/* Closes the transports and frees the agent. */
void stub_server_destroy(struct stub_server *srv);

#endif
