/* gw_workers: `workers` > 1 runs a small supervisor that forks that many gateways. They share
 * the WebSocket port (SO_REUSEPORT: the kernel spreads new connections), each has its own
 * IMS-side SIP port (sip-listen's port + worker number, likewise sip-host's) so the core reaches
 * the worker that holds a flow through its Path / Record-Route, each puts its number in its flow
 * tokens, and all share one flow key. A worker that dies is restarted (its clients reconnect and
 * re-register); SIGTERM drains every worker. /metrics, served by whichever worker accepts the
 * scrape, sums all workers' counters from a shared-memory table. */
#ifndef IMSGW_GW_WORKERS_H
#define IMSGW_GW_WORKERS_H

#include <stddef.h>
#include <stdint.h>

#include <glib.h>

#include "gw_settings.h"

#define GW_WORKERS_MAX 64

/* Called once settings are final. With one worker: returns 0 and nothing changes. With more:
 * in the supervisor it returns 1 when every worker has stopped (*exit_code for main); in a
 * worker it returns 0 after giving cfg that worker's SIP ports. -1 with err filled when the
 * settings do not allow workers (a sip-listen or sip-host without a port). */
int gw_workers_start(struct gw_settings *cfg, int json, int *exit_code, char *err, size_t errlen);
/* This process's worker number (0 when there is one gateway). */
unsigned gw_workers_self(void);
/* How many workers the supervisor had restarted when it forked this one (0 at the first start;
 * larger at each restart of the same slot): connection ids start from it (gw_main.c). */
uint64_t gw_workers_start_number(void);
/* In a worker, once the stop handlers are in place: lets SIGTERM/SIGINT in (held until then). */
void gw_workers_signals_ready(void);
/* Number of workers configured (1 = no supervisor). */
unsigned gw_workers_count(void);
/* Copies this worker's counters into the shared table (a timer calls it every second). */
void gw_workers_publish(void);
/* /metrics: all workers' counters summed, then per-worker connection gauges. */
size_t gw_workers_metrics_render(char *buf, size_t len);
/* Opens this process's own listening sockets and feeds what they accept to gw->lws: with
 * workers, its SO_REUSEPORT socket on listen:port (lws is created without a listener); with
 * recovery-port, listen:recovery-port + its number (recover_url.h). -1 when it cannot. */
int gw_workers_listen(const struct gw_settings *cfg);
/* Closes them (drain, stop). */
void gw_workers_unlisten(void);
/* On SIGTERM: one gateway stops at once; a worker first drains (bounded), then quits loop. */
void gw_workers_drain(void);

#endif
