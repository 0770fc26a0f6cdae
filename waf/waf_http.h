/* waf_http: the WAF's HTTP server on libwebsockets (one context, lws' own poll loop): reads each
 * request (bounded), routes it to a handler, hands password checks to the worker pool and
 * writes the response from LWS_CALLBACK_HTTP_WRITEABLE only. */
#ifndef IMSGW_WAF_HTTP_H
#define IMSGW_WAF_HTTP_H

#include <stddef.h>

#include "waf_app.h"

struct waf_http;

/* Listens on the settings' address and port and starts the password pool; NULL with err. */
struct waf_http *waf_http_create(struct waf_app *app, char *err, size_t errlen);
/* The port actually listened on (useful when port 0 asked the kernel to pick one). */
int waf_http_port(struct waf_http *h);
/* Runs the loop until the next event has been handled; < 0 when it cannot go on. */
int waf_http_service(struct waf_http *h);
/* Wakes waf_http_service() (async-signal-safe), so the caller can look at its stop flag. */
void waf_http_wake(struct waf_http *h);
/* Reloads the TLS certificate and key (SIGHUP); open connections keep theirs. Logged. */
void waf_http_reload_tls(struct waf_http *h);
/* Stops the pool, closes every connection and the listener and frees h (NULL is fine). */
void waf_http_destroy(struct waf_http *h);

#endif
