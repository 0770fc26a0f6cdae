/* gw_evloop: the gateway's one event loop. libev (epoll) watches the WebSocket connections
 * through libwebsockets' libev event library, so an iteration costs what is ready, not what is
 * held; GLib's default main context (sofia-sip's su_glib source, the gateway's timeouts, idles,
 * signal and fd sources) is driven from the same loop, so nothing else changes. */
#ifndef IMSGW_GW_EVLOOP_H
#define IMSGW_GW_EVLOOP_H

/* Creates the loop (in each worker, after the fork) and takes GLib's default context. Returns
 * the libev loop to hand to libwebsockets as its foreign loop, or NULL (already logged). */
struct ev_loop *gw_evloop_create(void);

/* fn writes what the loop's callbacks queued (ws_flush): it runs after each dispatch of GLib's
 * sources (sofia-sip: the core's answers) and before the loop blocks. One such function, set
 * once at start. */
void gw_evloop_set_flush(void (*fn)(void));

/* Runs until gw_evloop_stop(). */
void gw_evloop_run(void);

/* Ends gw_evloop_run() once the callback calling it has returned. */
void gw_evloop_stop(void);

/* After lws_context_destroy(): releases GLib's context and frees the loop. */
void gw_evloop_destroy(void);

#endif
