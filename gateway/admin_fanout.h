/* admin_fanout: one operator view of all workers (workers > 1 with admin-listen): the worker
 * that took the request gathers its siblings' snapshots over loopback without blocking the loop
 * and merges them (docs/operator.md, "Several workers"). */
#ifndef IMSGW_ADMIN_FANOUT_H
#define IMSGW_ADMIN_FANOUT_H

#include <stdint.h>

#include <libwebsockets.h>

/* 1 when a state request should be combined over the workers. */
int admin_fanout_wanted(void);
/* Starts gathering for the request on wsi (authorization: its checked header value, forwarded
 * to the siblings); the answer goes out through gw_http_resume() within ADMIN_FANOUT_MS. 0, or
 * -1 when it cannot start (too many in flight, memory): answer the request otherwise. */
int admin_fanout_state(struct lws *wsi, const char *authorization, unsigned limit, unsigned offset);
/* Relays the removal of flow on another worker to it (its listener, with authorization); its
 * answer goes out through gw_http_resume(). 0, or -1 when it cannot start or worker is no
 * sibling. */
int admin_fanout_remove(struct lws *wsi, const char *authorization, unsigned worker, uint64_t flow);
/* The operator's connection closed before its answer: forget it. */
void admin_fanout_gone(struct lws *wsi);

#endif
