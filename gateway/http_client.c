/* http_client: one connection per request keeps the state machine trivial (connect, write body,
 * read, done) and is cheap on loopback; the WAF sits next to the gateway. The body is sent only
 * from LWS_CALLBACK_CLIENT_HTTP_WRITEABLE, as libwebsockets requires. */
#include "http_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <libwebsockets.h>
#include <openssl/crypto.h>

#include "log.h"

struct hc_call {
    hc_done_fn done;
    void *arg;
    char *body; /* LWS_PRE bytes of headroom, then the request body */
    size_t body_len;
    char content_type[128];
    char authorization[1024]; /* a Basic credential of up to 512 characters, base64 */
    char *rsp;
    size_t rsp_len;
    size_t max_body;
    char header[64], header_value[64];
    int empty_post; /* a POST without a body still says Content-Length: 0 (RFC 9110 8.6) */
    int status;
    int finished;
    int starting;    /* inside lws_client_connect_via_info() */
    int sync_failed; /* it failed before returning: the caller gets -1, done() never runs */
    struct lws *wsi;
    guint timer; /* HC_TIMEOUT_MS deadline: a WAF that accepts but never answers cannot hang us */
};

static unsigned hc_count;

unsigned hc_inflight(void)
{
    return hc_count;
}

static void hc_finish(struct hc_call *c, int status)
{
    if (c->finished)
        return;
    c->finished = 1;
    c->done(c->arg, status, c->rsp ? c->rsp : "", c->rsp_len);
}

/* Bodies carry codes, refresh tokens and client credentials: wiped before they are freed. */
static void hc_free(struct hc_call *c)
{
    if (c->timer)
        g_source_remove(c->timer);
    if (c->body)
        OPENSSL_cleanse(c->body, LWS_PRE + c->body_len);
    if (c->rsp)
        OPENSSL_cleanse(c->rsp, c->rsp_len);
    OPENSSL_cleanse(c->authorization, sizeof(c->authorization));
    free(c->body);
    free(c->rsp);
    free(c);
    hc_count--;
}

/* The deadline passed: answer the caller now and let lws close the connection, whose close
 * callback frees the call. */
static gboolean hc_timeout(gpointer arg)
{
    struct hc_call *c = arg;
    c->timer = 0;
    log_warn("http: no complete answer within %d ms; request abandoned", HC_TIMEOUT_MS);
    hc_finish(c, -1);
    if (c->wsi)
        lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
    return G_SOURCE_REMOVE;
}

int hc_start(struct lws_context *ctx, const struct hc_request *req, hc_done_fn done, void *arg)
{
    char url[1024];
    const char *prot, *addr, *path;
    int port;
    unsigned limit = req->reserved ? HC_MAX_INFLIGHT : HC_MAX_INFLIGHT - HC_RESERVED_SLOTS;
    if (hc_count >= limit || strlen(req->url) >= sizeof(url) ||
        (req->header &&
         (strlen(req->header) >= 64 || !req->header_value || strlen(req->header_value) >= 64)) ||
        (req->authorization &&
         strlen(req->authorization) >= sizeof(((struct hc_call *)0)->authorization)))
        return -1;
    snprintf(url, sizeof(url), "%s", req->url);
    if (lws_parse_uri(url, &prot, &addr, &port, &path) ||
        (strcmp(prot, "http") != 0 && strcmp(prot, "https") != 0))
        return -1;
    char fullpath[1024];
    snprintf(fullpath, sizeof(fullpath), "/%s", path);

    struct hc_call *c = calloc(1, sizeof(*c));
    if (!c)
        return -1;
    c->done = done;
    c->arg = arg;
    if (req->body_len) {
        c->body = malloc(LWS_PRE + req->body_len);
        if (!c->body) {
            free(c);
            return -1;
        }
        memcpy(c->body + LWS_PRE, req->body, req->body_len);
        c->body_len = req->body_len;
    }
    snprintf(c->content_type, sizeof(c->content_type), "%s",
             req->content_type ? req->content_type : "");
    snprintf(c->authorization, sizeof(c->authorization), "%s",
             req->authorization ? req->authorization : "");
    c->max_body = req->max_body ? req->max_body : HC_MAX_BODY;
    c->empty_post = !req->body_len && strcmp(req->method, "POST") == 0;
    if (req->header) {
        snprintf(c->header, sizeof(c->header), "%s", req->header);
        snprintf(c->header_value, sizeof(c->header_value), "%s", req->header_value);
    }
    hc_count++;

    struct lws_client_connect_info ci;
    memset(&ci, 0, sizeof(ci));
    ci.context = ctx;
    ci.address = addr;
    ci.port = port;
    ci.path = fullpath;
    ci.host = addr;
    ci.origin = addr;
    ci.method = req->method;
    ci.protocol = hc_protocol.name;
    ci.local_protocol_name = hc_protocol.name;
    ci.ssl_connection = strcmp(prot, "https") == 0 ? LCCSCF_USE_SSL : 0;
    ci.opaque_user_data = c;
    c->starting = 1;
    struct lws *wsi = lws_client_connect_via_info(&ci);
    c->starting = 0;
    if (!wsi || c->sync_failed) {
        hc_free(c);
        return -1;
    }
    c->wsi = wsi;
    c->timer = g_timeout_add(HC_TIMEOUT_MS, hc_timeout, c);
    return 0;
}

static int hc_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                       size_t len)
{
    struct hc_call *c = lws_get_opaque_user_data(wsi);
    if (!c)
        return 0;
    if (c->starting && (reason == LWS_CALLBACK_CLIENT_CONNECTION_ERROR ||
                        reason == LWS_CALLBACK_CLOSED_CLIENT_HTTP)) {
        c->sync_failed = 1;
        lws_set_opaque_user_data(wsi, NULL);
        return 0;
    }
    switch (reason) {
    case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER: {
        unsigned char **p = (unsigned char **)in, *end = (*p) + len;
        if (c->authorization[0] &&
            lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_AUTHORIZATION,
                                         (unsigned char *)c->authorization,
                                         (int)strlen(c->authorization), p, end))
            return -1;
        if (c->header[0] && lws_add_http_header_by_name(wsi, (unsigned char *)c->header,
                                                        (unsigned char *)c->header_value,
                                                        (int)strlen(c->header_value), p, end))
            return -1;
        if (c->body) {
            char n[24];
            snprintf(n, sizeof(n), "%zu", c->body_len);
            if (lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE,
                                             (unsigned char *)c->content_type,
                                             (int)strlen(c->content_type), p, end) ||
                lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH, (unsigned char *)n,
                                             (int)strlen(n), p, end))
                return -1;
            lws_client_http_body_pending(wsi, 1);
            lws_callback_on_writable(wsi);
        } else if (c->empty_post && lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH,
                                                                 (unsigned char *)"0", 1, p, end))
            return -1;
        return 0;
    }
    case LWS_CALLBACK_CLIENT_HTTP_WRITEABLE:
        if (!c->body)
            return 0;
        lws_client_http_body_pending(wsi, 0);
        if (lws_write(wsi, (unsigned char *)c->body + LWS_PRE, c->body_len, LWS_WRITE_HTTP_FINAL) !=
            (int)c->body_len)
            return -1;
        return 0;
    case LWS_CALLBACK_ESTABLISHED_CLIENT_HTTP:
        c->status = (int)lws_http_client_http_response(wsi);
        return 0;
    case LWS_CALLBACK_RECEIVE_CLIENT_HTTP_READ:
        if (c->rsp_len + len > c->max_body) {
            log_warn("http: response larger than %zu bytes refused", c->max_body);
            return -1;
        }
        char *grown = realloc(c->rsp, c->rsp_len + len + 1);
        if (!grown)
            return -1;
        c->rsp = grown;
        memcpy(c->rsp + c->rsp_len, in, len);
        c->rsp_len += len;
        c->rsp[c->rsp_len] = '\0';
        return 0;
    case LWS_CALLBACK_RECEIVE_CLIENT_HTTP: {
        char buffer[2048 + LWS_PRE], *px = buffer + LWS_PRE;
        int lenx = sizeof(buffer) - LWS_PRE;
        return lws_http_client_read(wsi, &px, &lenx) < 0 ? -1 : 0;
    }
    case LWS_CALLBACK_COMPLETED_CLIENT_HTTP:
        hc_finish(c, c->status ? c->status : -1);
        return -1; /* one request per connection */
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        log_warn("http: request failed: %s", in ? (const char *)in : "connection error");
        hc_finish(c, -1);
        lws_set_opaque_user_data(wsi, NULL);
        hc_free(c);
        return 0;
    case LWS_CALLBACK_CLOSED_CLIENT_HTTP:
        hc_finish(c, -1);
        lws_set_opaque_user_data(wsi, NULL);
        hc_free(c);
        return 0;
    default:
        return 0;
    }
}

const struct lws_protocols hc_protocol = {"imsgw-http-client", hc_callback, 0, 0, 0, NULL, 0};
