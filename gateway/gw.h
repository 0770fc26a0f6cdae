/* gw: the state one gateway process holds, shared by its modules. One event loop (gw_evloop)
 * drives both libwebsockets (browser side) and sofia-sip (IMS side, through GLib's main context);
 * nothing here is touched by any thread. */
#ifndef IMSGW_GW_H
#define IMSGW_GW_H

#include <stdint.h>

#include <glib.h>
#include <libwebsockets.h>
#include <sofia-sip/nta.h>
#include <sofia-sip/su_wait.h>

#include "gw_metrics.h"
#include "gw_settings.h"

struct jwks;
struct gw_conn;

struct gw {
    struct gw_settings *cfg;
    su_root_t *root;
    nta_agent_t *agent;
    url_string_t *next_hop;
    struct lws_context *lws;
    GHashTable *conns; /* conn id (uint64) → struct gw_conn */
    uint64_t next_conn_id;
    uint16_t worker; /* worker number carried in flow tokens */
    struct jwks *jwks;
    struct gw_metrics metrics;
};

/* The one gateway of this process (set by main; modules reach shared state through it). */
extern struct gw *gw;

#endif
