/* admin: the operator's side of the gateway's HTTP server: the operator page (/admin/), its JSON
 * API and /metrics, with who may reach them (docs/operator.md). gw_http asks here first. */
#ifndef IMSGW_ADMIN_H
#define IMSGW_ADMIN_H

#include <stddef.h>

#include <libwebsockets.h>

/* An answer for gw_http to send: body (malloc'd, taken) of len bytes; headers: extra
 * "name:", "value" pairs ending with NULL. */
struct admin_reply {
    unsigned status;
    const char *type;
    char *body;
    size_t len;
    const char *const *headers;
};

/* Loads the credential (before any port opens) and starts the ring of recent errors. 0, or -1
 * with one line in err. */
int admin_init(char *err, size_t errlen);
/* Opens admin-listen (its port + this worker's number), if set, on ctx with protocol http at
 * mount. 0, or -1 with one line in err. */
int admin_listen(struct lws_context *ctx, const struct lws_protocols *http,
                 const struct lws_http_mount *mount, char *err, size_t errlen);
/* 1 when the request arrived on admin-listen. */
int admin_listener(struct lws *wsi);
/* A request for uri (method "GET", "HEAD" or "POST"): 0 with r filled when it is the
 * operator's (/admin…, /metrics), 1 when it is not, 2 when its answer comes later through
 * gw_http_resume() (the combined view of several workers, admin_fanout.c). */
int admin_http(struct lws *wsi, const char *method, const char *uri, struct admin_reply *r);

#endif
