/* gw_http: bodies are written from LWS_CALLBACK_HTTP_WRITEABLE only, after the headers. */
#include "gw_http.h"

#include <stdlib.h>
#include <string.h>

#include "gw.h"
#include "log.h"

#define GW_HTTP_MAX_BODY 16384

struct gw_http_pss {
    char *body;
    size_t len;
};

static struct lws_http_mount gw_mount_static = {
    .mountpoint = "/",
    .def = "index.html",
    .origin_protocol = LWSMPRO_FILE,
    .mountpoint_len = 1,
};
static struct lws_http_mount gw_mount_metrics = {
    .mount_next = &gw_mount_static,
    .mountpoint = "/metrics",
    .origin = "http",
    .origin_protocol = LWSMPRO_CALLBACK,
    .mountpoint_len = 8,
};
static struct lws_http_mount gw_mount_health = {
    .mount_next = &gw_mount_metrics,
    .mountpoint = "/healthz",
    .origin = "http",
    .origin_protocol = LWSMPRO_CALLBACK,
    .mountpoint_len = 8,
};

const struct lws_http_mount *gw_http_mounts(const char *wwsf_dir)
{
    gw_mount_static.origin = wwsf_dir;
    return &gw_mount_health;
}

static int gw_http_respond(struct lws *wsi, struct gw_http_pss *pss, int status, const char *type,
                           char *body, size_t len)
{
    unsigned char hdr[LWS_PRE + 512], *start = hdr + LWS_PRE, *p = start,
                                      *end = hdr + sizeof(hdr) - 1;
    pss->body = body;
    pss->len = len;
    if (lws_add_http_common_headers(wsi, (unsigned int)status, type, len, &p, end) ||
        lws_add_http_header_by_name(wsi, (const unsigned char *)"cache-control:",
                                    (const unsigned char *)"no-store", 8, &p, end) ||
        lws_finalize_write_http_header(wsi, start, &p, end))
        return 1;
    lws_callback_on_writable(wsi);
    return 0;
}

static int gw_http_request(struct lws *wsi, struct gw_http_pss *pss)
{
    char uri[64] = "";
    lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI);
    char *body = malloc(LWS_PRE + GW_HTTP_MAX_BODY);
    char *text = body + LWS_PRE;
    if (strcmp(uri, "/healthz") == 0) {
        size_t n = (size_t)snprintf(text, GW_HTTP_MAX_BODY, "ok\n");
        return gw_http_respond(wsi, pss, 200, "text/plain", body, n);
    }
    if (strcmp(uri, "/metrics") == 0) {
        size_t n = gw_metrics_render(&gw->metrics, text, GW_HTTP_MAX_BODY);
        return gw_http_respond(wsi, pss, 200, "text/plain; version=0.0.4", body, n);
    }
    size_t n = (size_t)snprintf(text, GW_HTTP_MAX_BODY, "not found\n");
    return gw_http_respond(wsi, pss, 404, "text/plain", body, n);
}

static int gw_http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                            size_t len)
{
    struct gw_http_pss *pss = user;
    switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        log_info("ws: handshake refused: the sip subprotocol was not offered");
        gw->metrics.ws_refused_total++;
        return -1;
    case LWS_CALLBACK_HTTP:
        return pss ? gw_http_request(wsi, pss) : -1;
    case LWS_CALLBACK_HTTP_WRITEABLE: {
        if (!pss || !pss->body)
            return 0;
        int n =
            lws_write(wsi, (unsigned char *)pss->body + LWS_PRE, pss->len, LWS_WRITE_HTTP_FINAL);
        free(pss->body);
        pss->body = NULL;
        if (n < 0 || lws_http_transaction_completed(wsi))
            return -1;
        return 0;
    }
    case LWS_CALLBACK_CLOSED_HTTP:
        /* also sent for connections that never had per-session data (pss == NULL) */
        if (pss) {
            free(pss->body);
            pss->body = NULL;
        }
        return 0;
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

const struct lws_protocols gw_http_protocol = {
    "http", gw_http_callback, sizeof(struct gw_http_pss), 0, 0, NULL, 0};
