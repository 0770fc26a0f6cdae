/* waf_http: the WAF's HTTP server on libwebsockets (one context, default poll loop, no threads):
 * GET /jwks.json, /.well-known/oauth-authorization-server and /healthz. */
#ifndef IMSGW_WAF_HTTP_H
#define IMSGW_WAF_HTTP_H

#include <stddef.h>

#include "waf_keys.h"
#include "waf_settings.h"

struct waf_http;

/* Listens on the settings' address and port, serving the JWKS of key; NULL with err. */
struct waf_http *waf_http_create(const struct waf_settings *s, const struct waf_signing_key *key,
                                 char *err, size_t errlen);
/* The port actually listened on (useful when port 0 asked the kernel to pick one). */
int waf_http_port(struct waf_http *h);
/* Runs the loop until the next event has been handled; < 0 when it cannot go on. */
int waf_http_service(struct waf_http *h);
/* Wakes waf_http_service() (async-signal-safe), so the caller can look at its stop flag. */
void waf_http_wake(struct waf_http *h);
/* Closes every connection and the listener and frees h (NULL is fine). */
void waf_http_destroy(struct waf_http *h);

#endif
