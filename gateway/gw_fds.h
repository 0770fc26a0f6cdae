/* gw_fds: the process's file-descriptor budget. WebSocket clients may only use what is left after
 * a reserve for the IMS core (sofia-sip), the WAF/JWKS client, listen sockets and handshakes in
 * progress, so a full gateway refuses newcomers instead of losing its trunk to the core. */
#ifndef IMSGW_GW_FDS_H
#define IMSGW_GW_FDS_H

/* Descriptors never given to libwebsockets: sofia-sip's sockets to and from the core, stdio, the
 * GLib wake-up fds, /dev/urandom. */
#define GW_FDS_CORE_RESERVE 48
/* Descriptors libwebsockets keeps beyond max-connections: listen socket, WAF / JWKS /
 * introspection calls, /metrics scrapes, and upgrades being refused with 503. */
#define GW_FDS_LWS_RESERVE 32

/* Raises the soft RLIMIT_NOFILE towards what *max_connections needs (never past the hard
 * limit), lowers *max_connections to what the limit leaves after both reserves (saying so in
 * the log), and returns the descriptor count libwebsockets may use (its fd_limit_per_thread);
 * -1 when the limit is too small to serve even one connection. */
int gw_fds_budget(long *max_connections);

struct lws_context;
struct lws_context_creation_info;
/* lws_create_context() with libwebsockets held to lws_fds descriptors. Not through
 * fd_limit_per_thread: below RLIMIT_NOFILE that makes libwebsockets 4.1 find the connection of
 * every ready descriptor by walking its whole table ("slow fds handling", 8 % of a worker's
 * time with 5,000 connections, growing with them). The soft limit is lowered to lws_fds while
 * the context sizes its tables, then restored: lws refuses a socket numbered past its table. */
struct lws_context *gw_fds_create_context(struct lws_context_creation_info *info, int lws_fds);

#endif
