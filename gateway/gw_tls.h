/* gw_tls: HTTPS and WSS on the gateway's listener (tls-cert/tls-key), the certificate reload on
 * SIGHUP, HSTS, and the optional plain port that redirects to https. The certificate checks
 * themselves are common/tlsconf.c; this is the libwebsockets side. */
#ifndef IMSGW_GW_TLS_H
#define IMSGW_GW_TLS_H

#include <libwebsockets.h>

/* 1 when the listener serves TLS. */
int gw_tls_on(void);
/* Puts the certificate paths and TLS options into the listener's creation info. */
void gw_tls_vhost_info(struct lws_context_creation_info *info);
/* The listener's SSL_CTX, from LWS_CALLBACK_OPENSSL_LOAD_EXTRA_SERVER_VERIFY_CERTS. */
void gw_tls_set_ssl_ctx(void *ssl_ctx);
/* Starts the redirect vhost when http-redirect-port is set: 0, or -1 (logged). */
int gw_tls_start_redirect(struct lws_context *ctx);
/* Reloads certificate and key (SIGHUP); established connections keep theirs. */
void gw_tls_reload(void);
/* Adds Strict-Transport-Security to a response being built, over TLS only: 0 or -1. */
int gw_tls_add_hsts(struct lws *wsi, unsigned char **p, unsigned char *end);
/* Adds the IMS-side TLS transport (sip-tls-listen) to the agent: 0, or -1 (logged). */
int gw_tls_sip_start(void);
/* The Via transport of requests sent to browsers: "WSS" or "WS" (RFC 7118 §5). */
const char *gw_tls_via_transport(void);

#endif
