/* gw_http: the plain HTTP side of the gateway: the web client files (WWSF) at /, /healthz and
 * /metrics. */
#ifndef IMSGW_GW_HTTP_H
#define IMSGW_GW_HTTP_H

#include <libwebsockets.h>

/* The mount chain for a context; wwsf_dir is the folder served at /. */
const struct lws_http_mount *gw_http_mounts(const char *wwsf_dir);

/* protocols[0]: answers /healthz and /metrics, and refuses WebSocket upgrades that did not ask
 * for the sip subprotocol (libwebsockets binds those to the first protocol). */
extern const struct lws_protocols gw_http_protocol;

struct admin_reply;
/* The answer to a request admin_http() deferred (2), for wsi; r->body is taken. */
void gw_http_resume(struct lws *wsi, struct admin_reply *r);

#endif
