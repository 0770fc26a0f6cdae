/* http_client: asynchronous HTTP requests from the gateway to the WAF (JWKS, RFC 7662
 * introspection, token endpoint) on the gateway's one loop, through a libwebsockets client
 * connection. Nothing blocks: the caller gets its answer in a callback. */
#ifndef IMSGW_HTTP_CLIENT_H
#define IMSGW_HTTP_CLIENT_H

#include <stddef.h>

struct lws_context;
struct lws_protocols;

#define HC_MAX_BODY 65536   /* larger responses are failures */
#define HC_MAX_INFLIGHT 512 /* concurrent requests; more are refused at once */
/* Slots only reserved requests (JWKS refetch, token refresh) may take, so a flood of REGISTERs
 * with tokens to introspect or codes to redeem cannot starve them (issue 9 item 6). */
#define HC_RESERVED_SLOTS 64
#define HC_TIMEOUT_MS 3000 /* a request without its whole answer by then fails with -1 */

/* status: the HTTP status, or -1 when no response came (connection, timeout, oversize).
 * body is NUL-terminated and valid only during the call. */
typedef void (*hc_done_fn)(void *arg, int status, const char *body, size_t len);

struct hc_request {
    const char *method;       /* "GET" or "POST" */
    const char *url;          /* http:// or https:// */
    const char *content_type; /* for POST */
    const char *body;         /* for POST */
    size_t body_len;
    const char *authorization; /* full header value, e.g. "Basic …"; NULL for none */
    int reserved;              /* may use the HC_RESERVED_SLOTS (JWKS, refresh) */
    size_t max_body;           /* a larger answer is a failure; 0: HC_MAX_BODY */
    const char *header;        /* one more header "name:" (short), or NULL */
    const char *header_value;
};

/* Starts a request; done(arg, …) runs exactly once later, within HC_TIMEOUT_MS. Returns -1 (done
 * never runs) when the request cannot start (bad URL, too many in flight for its class). */
int hc_start(struct lws_context *ctx, const struct hc_request *req, hc_done_fn done, void *arg);
/* Requests in flight now (a gauge for /metrics). */
unsigned hc_inflight(void);

extern const struct lws_protocols hc_protocol;

#endif
