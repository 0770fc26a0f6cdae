/* gw_http: /healthz, the web client's files and what admin.c answers (/admin, /metrics), one
 * request per connection.
 *
 * libwebsockets 4.1.6 keeps bytes that arrive after a request (a pipelined request) on the
 * connection's rx buffer list and replays them from an idle callback. In some states it replays
 * without consuming them (ISSUING_FILE, BODY, FLUSHING_BEFORE_CLOSE: a busy loop for as long as
 * the state lasts), and once a transaction is completed for keep-alive, a replayed request with
 * a body loops for ever inside lws_http_action() (docs/security-http.md). So this server:
 *  - closes every connection after its response (Connection: close, -1 after the last byte),
 *    never calling lws_http_transaction_completed(): no replayed request is ever dispatched;
 *  - answers from LWS_CALLBACK_HTTP_WRITEABLE in the ESTABLISHED state only (files too, not
 *    through lws's file mount), where a replay re-enters lws_http_action() and reaches
 *    gw_http_filter() a second time: the connection is then closed, which drops the bytes;
 *  - takes no request body: one is refused with 413 before lws reads it, and the connection
 *    closed with the unread bytes. */
#include "gw_http.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin.h"
#include "admin_fanout.h"
#include "gw.h"
#include "gw_files.h"
#include "gw_proxyproto.h"
#include "gw_tls.h"
#include "log.h"
#include "ws_conn.h"
#include "ws_mask.h"

#define GW_HTTP_MAX_BODY 16384 /* /healthz and error texts */
#define GW_HTTP_CHUNK 16384    /* file bytes per lws_write() */

struct gw_http_pss {
    int seen;     /* a request was dispatched on this connection */
    char *body;   /* response body in memory, LWS_PRE bytes of headroom first; or */
    int fd;       /* a file to stream (fd + 1 stored, so 0 means none) */
    size_t len;   /* body length */
    size_t sent;  /* body bytes written */
    int finished; /* every byte handed to lws: close once lws has flushed them */
    int deferred; /* admin.c answers later (gw_http_resume), from other workers' answers */
    struct admin_reply later; /* that answer, once in (later.body set), headers not yet sent */
};

static struct lws_http_mount gw_mount_root = {
    .mountpoint = "/",
    .origin = "http",
    .origin_protocol = LWSMPRO_CALLBACK,
    .mountpoint_len = 1,
};
static const char *gw_http_root;

const struct lws_http_mount *gw_http_mounts(const char *wwsf_dir)
{
    gw_http_root = wwsf_dir;
    return &gw_mount_root;
}

static void gw_http_release(struct gw_http_pss *pss)
{
    free(pss->body);
    pss->body = NULL;
    if (pss->fd)
        close(pss->fd - 1);
    pss->fd = 0;
    free(pss->later.body);
    pss->later.body = NULL;
}

/* Writes the headers now (as the lws examples do) and asks for WRITEABLE for the body. extra:
 * "name:", "value" pairs ending with NULL, or NULL. */
static int gw_http_headers(struct lws *wsi, struct gw_http_pss *pss, unsigned status,
                           const char *type, const char *cache, const char *const *extra)
{
    unsigned char hdr[LWS_PRE + 1024], *start = hdr + LWS_PRE, *p = start,
                                       *end = hdr + sizeof(hdr) - 1;
    if (lws_add_http_common_headers(wsi, status, type, pss->len, &p, end))
        return -1;
    for (; extra && extra[0]; extra += 2)
        if (lws_add_http_header_by_name(wsi, (const unsigned char *)extra[0],
                                        (const unsigned char *)extra[1], (int)strlen(extra[1]), &p,
                                        end))
            return -1;
    if (lws_add_http_header_by_name(wsi, (const unsigned char *)"cache-control:",
                                    (const unsigned char *)cache, (int)strlen(cache), &p, end) ||
        lws_add_http_header_by_name(wsi, (const unsigned char *)"x-content-type-options:",
                                    (const unsigned char *)"nosniff", 7, &p, end) ||
        lws_add_http_header_by_token(wsi, WSI_TOKEN_CONNECTION, (const unsigned char *)"close", 5,
                                     &p, end) ||
        gw_tls_add_hsts(wsi, &p, end) || lws_finalize_write_http_header(wsi, start, &p, end))
        return -1;
    if (lws_hdr_total_length(wsi, WSI_TOKEN_HEAD_URI) > 0)
        gw_http_release(pss); /* HEAD: headers only */
    lws_callback_on_writable(wsi);
    return 0;
}

static const char *gw_http_reason(unsigned status)
{
    switch (status) {
    case HTTP_STATUS_OK:
        return "ok";
    case HTTP_STATUS_NOT_FOUND:
        return "not found";
    case HTTP_STATUS_METHOD_NOT_ALLOWED:
        return "method not allowed";
    default:
        return "request refused";
    }
}

static int gw_http_text(struct lws *wsi, struct gw_http_pss *pss, unsigned status, const char *type)
{
    pss->body = malloc(LWS_PRE + GW_HTTP_MAX_BODY);
    if (!pss->body)
        return -1;
    char *text = pss->body + LWS_PRE;
    pss->len = (size_t)snprintf(text, GW_HTTP_MAX_BODY, "%s\n", gw_http_reason(status));
    return gw_http_headers(wsi, pss, status, type, "no-store", NULL);
}

/* An answer of admin.c: its body moves behind LWS_PRE bytes of headroom. */
static int gw_http_admin(struct lws *wsi, struct gw_http_pss *pss, struct admin_reply *r)
{
    pss->body = malloc(LWS_PRE + r->len);
    if (pss->body) {
        if (r->len)
            memcpy(pss->body + LWS_PRE, r->body, r->len);
        pss->len = r->len;
    }
    free(r->body);
    if (!pss->body)
        return -1;
    return gw_http_headers(wsi, pss, r->status, r->type, "no-store", r->headers);
}

static int gw_http_request(struct lws *wsi, struct gw_http_pss *pss)
{
    char uri[256];
    int get = lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) > 0,
        head = lws_hdr_total_length(wsi, WSI_TOKEN_HEAD_URI) > 0,
        post = lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0; /* operator actions only */
    if (!get && !head && !post)
        return gw_http_text(wsi, pss, HTTP_STATUS_METHOD_NOT_ALLOWED, "text/plain");
    enum lws_token_indexes which = get    ? WSI_TOKEN_GET_URI
                                   : head ? WSI_TOKEN_HEAD_URI
                                          : WSI_TOKEN_POST_URI;
    if (lws_hdr_copy(wsi, uri, sizeof(uri), which) < 0)
        return gw_http_text(wsi, pss, HTTP_STATUS_REQ_URI_TOO_LONG, "text/plain");
    if (strcmp(uri, "/healthz") == 0 && !post)
        return gw_http_text(wsi, pss, HTTP_STATUS_OK, "text/plain");
    struct admin_reply r;
    pss->deferred = 1; /* before: the answer may come back from inside admin_http() */
    int admin = admin_http(wsi, get ? "GET" : head ? "HEAD" : "POST", uri, &r);
    if (admin == 2)
        return 0;
    pss->deferred = 0;
    if (admin == 0)
        return gw_http_admin(wsi, pss, &r);
    if (post)
        return gw_http_text(wsi, pss, HTTP_STATUS_METHOD_NOT_ALLOWED, "text/plain");
    const char *mime;
    int fd = admin_listener(wsi) ? -1 : gw_files_open(gw_http_root, uri, &pss->len, &mime);
    if (fd < 0)
        return gw_http_text(wsi, pss, HTTP_STATUS_NOT_FOUND, "text/plain");
    pss->fd = fd + 1;
    return gw_http_headers(wsi, pss, HTTP_STATUS_OK, mime, "no-cache", NULL);
}

void gw_http_resume(struct lws *wsi, struct admin_reply *r)
{
    struct gw_http_pss *pss = lws_wsi_user(wsi);
    if (!pss || !pss->deferred || pss->later.body || !r->body) {
        free(r->body);
        lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
        return;
    }
    pss->later = *r;
    lws_callback_on_writable(wsi);
}

/* Every plain HTTP request passes here once its headers are in (see the top of this file). */
static int gw_http_filter(struct lws *wsi, struct gw_http_pss *pss)
{
    char cl[24] = "", peer[PEER_ADDR_MAX];
    if (!pss)
        return -1;
    if (pss->seen)
        return -1; /* lws replays a pipelined request: drop the connection and its bytes */
    pss->seen = 1;
    lws_hdr_copy(wsi, cl, sizeof(cl), WSI_TOKEN_HTTP_CONTENT_LENGTH);
    int has_body = (cl[0] && strspn(cl, "0") != strlen(cl)) ||
                   lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0 ||
                   (lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0 && !cl[0]);
    if (!has_body)
        return 0;
    ws_client_address(wsi, peer, sizeof(peer));
    log_info("http: request with a body from %s refused (413)", peer);
    gw->metrics.http_refused_total++;
    lws_return_http_status(wsi, HTTP_STATUS_REQ_ENTITY_TOO_LARGE,
                           "this server takes no request body");
    return -1;
}

/* Streams the body while the socket takes it; -1 (close) once lws holds nothing more. */
static int gw_http_writeable(struct lws *wsi, struct gw_http_pss *pss)
{
    if (pss->finished)
        return -1;       /* lws wrote what it had buffered before calling us */
    if (pss->deferred) { /* the headers go out from here, where lws allows writing */
        if (!pss->later.body)
            return 0; /* not in yet */
        struct admin_reply r = pss->later;
        pss->later.body = NULL;
        pss->deferred = 0;
        return gw_http_admin(wsi, pss, &r) < 0 ? -1 : 0;
    }
    unsigned char chunk[LWS_PRE + GW_HTTP_CHUNK];
    while (pss->sent < pss->len && !lws_send_pipe_choked(wsi)) {
        size_t n = pss->len - pss->sent < GW_HTTP_CHUNK ? pss->len - pss->sent : GW_HTTP_CHUNK;
        unsigned char *data = (unsigned char *)pss->body + LWS_PRE + pss->sent;
        if (pss->fd) {
            ssize_t r = pread(pss->fd - 1, chunk + LWS_PRE, n, (off_t)pss->sent);
            if (r <= 0)
                return -1; /* the file shrank under us */
            n = (size_t)r;
            data = chunk + LWS_PRE;
        }
        int final = pss->sent + n == pss->len;
        if (lws_write(wsi, data, n, final ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) < 0)
            return -1;
        pss->sent += n;
    }
    if (pss->sent < pss->len || lws_partial_buffered(wsi)) {
        pss->finished = pss->sent == pss->len;
        lws_callback_on_writable(wsi);
        return 0;
    }
    return -1; /* one request per connection */
}

static int gw_http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                            size_t len)
{
    struct gw_http_pss *pss = user;
    switch (reason) {
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
        return admin_listener(wsi) ? -1 : ws_confirm_upgrade(wsi, in);
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        /* only reached if ws_confirm_upgrade() let a handshake without sip through */
        log_info("ws: handshake refused: the sip subprotocol was not offered");
        gw->metrics.ws_refused_total++;
        return -1;
    case LWS_CALLBACK_FILTER_NETWORK_CONNECTION:
        /* every accepted socket, from its first byte: plain bytes or, with TLS, the decrypted */
        gw_pp_track((int)(intptr_t)in); /* a balancer's PROXY header comes before all that */
        ws_mask_track((int)(intptr_t)in, gw_tls_on());
        return 0;
    case LWS_CALLBACK_OPENSSL_LOAD_EXTRA_SERVER_VERIFY_CERTS:
        gw_tls_set_ssl_ctx(user); /* the listener's SSL_CTX, for reloads */
        return 0;
    case LWS_CALLBACK_FILTER_HTTP_CONNECTION:
        return gw_http_filter(wsi, pss);
    case LWS_CALLBACK_HTTP:
        return pss ? gw_http_request(wsi, pss) : -1;
    case LWS_CALLBACK_HTTP_BODY:
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        return 0; /* none is read: gw_http_filter() refused it */
    case LWS_CALLBACK_HTTP_WRITEABLE:
        return pss ? gw_http_writeable(wsi, pss) : -1;
    case LWS_CALLBACK_CLOSED_HTTP:
        /* also sent for connections that never had per-session data (pss == NULL) */
        if (pss && pss->deferred)
            admin_fanout_gone(wsi);
        if (pss)
            gw_http_release(pss);
        ws_mask_forget(lws_get_socket_fd(wsi));
        gw_pp_forget(lws_get_socket_fd(wsi));
        return 0;
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

const struct lws_protocols gw_http_protocol = {
    "http", gw_http_callback, sizeof(struct gw_http_pss), 0, 0, NULL, 0};
