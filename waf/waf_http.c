/* waf_http: a connection is a small state machine (enum waf_http_stage) moved only by
 * waf_http_enter(). Request bodies are collected up to max-body; larger ones are refused from
 * their Content-Length before a byte is read. Headers and body are written in two separate
 * WRITEABLE callbacks, one lws_write() each, as the libwebsockets examples do.
 *
 * One request per connection: libwebsockets 4.1.6 replays bytes pipelined after a request from
 * its rx buffer list, and loops for ever when a replayed request has a body, or busy-loops while
 * a request waits in the BODY state (docs/security-http.md). So every response carries
 * Connection: close and the connection closes after it (lws_http_transaction_completed() is
 * never called); a replay that reaches us again (a second LWS_CALLBACK_HTTP or
 * LWS_CALLBACK_HTTP_BODY_COMPLETION) closes the connection at once, dropping the bytes. */
#include "waf_http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>

#include "log.h"
#include "peer.h"
#include "tlsconf.h"
#include "waf_authorize.h"
#include "waf_client.h"
#include "waf_grant.h"
#include "waf_imscred.h"
#include "waf_metadata.h"
#include "waf_work.h"

#define WAF_HTTP_HEADER_MAX 4096 /* request header bytes lws keeps; longer requests are refused */
#define WAF_HTTP_TIMEOUT_S 10    /* a request must arrive whole within this */
#define WAF_HTTP_KEEPALIVE_S 5   /* idle keep-alive connections are closed after this */

enum waf_http_stage {
    WAF_ST_IDLE,    /* between requests */
    WAF_ST_BODY,    /* collecting a request body */
    WAF_ST_WAITING, /* waiting for a worker thread (password check or store work) */
    WAF_ST_HEADERS, /* response ready, headers to write */
    WAF_ST_PAYLOAD, /* headers written, body to write */
};

struct waf_http_session {
    enum waf_http_stage stage;
    struct waf_req req;
    struct waf_resp resp;
    char *body;
    size_t body_len, body_cap;
    int head_only;
    int cors_wanted; /* an Origin on a CORS path: a store thread checks it (cors) */
    int cors;
    int seen;        /* a request was dispatched: anything more is a pipelined replay */
    int completions; /* LWS_CALLBACK_HTTP_BODY_COMPLETION calls for that request */
    int finished;    /* last byte handed to lws: close once it has flushed it */
    uint64_t job;
    waf_resume_fn resume;
    struct lws *wsi;
    struct waf_http_session *next; /* in waf_http.waiting */
};

struct waf_http {
    struct lws_context *ctx;
    struct waf_app *app;
    char *metadata;
    char metadata_alias[WAF_ISSUER_MAX + 64]; /* RFC 8414 §3.1 path form when issuer has a path */
    struct waf_http_session *waiting;
    uint64_t next_job;
    struct waf_work *work;
    lws_sorted_usec_list_t tick;
    struct tls_listener tls; /* cert and key paths, and lws' SSL_CTX for reloads */
    char hsts[32];           /* Strict-Transport-Security value over TLS, "" = none */
};

static const struct {
    enum lws_token_indexes token;
    enum waf_method method;
} waf_http_methods[] = {
    {WSI_TOKEN_GET_URI, WAF_M_GET},      {WSI_TOKEN_HEAD_URI, WAF_M_HEAD},
    {WSI_TOKEN_POST_URI, WAF_M_POST},    {WSI_TOKEN_OPTIONS_URI, WAF_M_OPTIONS},
    {WSI_TOKEN_PUT_URI, WAF_M_OTHER},    {WSI_TOKEN_PATCH_URI, WAF_M_OTHER},
    {WSI_TOKEN_DELETE_URI, WAF_M_OTHER},
};

static const char *const waf_http_method_names[] = {"GET", "HEAD", "POST", "OPTIONS", "OTHER"};

static void waf_http_reset(struct waf_http_session *ss)
{
    form_free(&ss->req.query);
    form_free(&ss->req.form);
    free(ss->resp.body);
    free(ss->body);
    struct lws *wsi = ss->wsi;
    int seen = ss->seen, completions = ss->completions; /* for the connection's whole life */
    memset(ss, 0, sizeof(*ss));
    ss->wsi = wsi;
    ss->seen = seen;
    ss->completions = completions;
}

static void waf_http_unlink(struct waf_http *h, struct waf_http_session *ss)
{
    for (struct waf_http_session **p = &h->waiting; *p; p = &(*p)->next)
        if (*p == ss) {
            *p = ss->next;
            return;
        }
}

/* The one place a connection changes stage. */
static void waf_http_enter(struct waf_http *h, struct waf_http_session *ss,
                           enum waf_http_stage next)
{
    if (ss->stage == WAF_ST_WAITING)
        waf_http_unlink(h, ss);
    ss->stage = next;
    if (next == WAF_ST_WAITING) {
        ss->next = h->waiting;
        h->waiting = ss;
    }
    if (next == WAF_ST_HEADERS || next == WAF_ST_PAYLOAD)
        lws_callback_on_writable(ss->wsi);
}

static void waf_http_copy(struct lws *wsi, char *dst, size_t size, enum lws_token_indexes tok)
{
    int n = lws_hdr_total_length(wsi, tok);
    dst[0] = '\0';
    if (n > 0 && (size_t)n < size)
        lws_hdr_copy(wsi, dst, (int)size, tok);
    else if (n > 0)
        snprintf(dst, size, "!"); /* too long: no valid value of ours is this long */
}

/* The DPoP header (RFC 9449 §4.1), an lws custom header (names arrive lowercased with the colon).
 * A proof never holds a comma, so one means the header was repeated and folded together. */
static void waf_http_dpop(struct lws *wsi, struct waf_req *req)
{
    int n = lws_hdr_custom_length(wsi, "dpop:", 5);
    req->dpop[0] = '\0';
    if (n < 0)
        return;
    req->dpop_count = 1;
    if ((size_t)n >= sizeof(req->dpop)) {
        req->dpop_too_long = 1;
        return;
    }
    if (lws_hdr_custom_copy(wsi, req->dpop, (int)sizeof(req->dpop), "dpop:", 5) < 0)
        req->dpop_too_long = 1;
    else if (strchr(req->dpop, ','))
        req->dpop_count = 2;
}

/* The peer, or behind trusted-proxies the rightmost untrusted X-Forwarded-For entry. */
static void waf_http_client_address(struct lws *wsi, char *const *trusted, char *out, size_t len)
{
    char peer[PEER_ADDR_MAX], xff[512] = "";
    lws_get_peer_simple(wsi, peer, sizeof(peer));
    int n = lws_hdr_total_length(wsi, WSI_TOKEN_X_FORWARDED_FOR);
    if (n > 0 && n < (int)sizeof(xff))
        lws_hdr_copy(wsi, xff, sizeof(xff), WSI_TOKEN_X_FORWARDED_FOR);
    peer_client(peer, xff, trusted, out, len);
}

static int waf_http_query(struct lws *wsi, struct waf_req *req)
{
    char frag[FORM_VALUE_MAX + 64];
    for (int i = 0;; i++) {
        int n = lws_hdr_copy_fragment(wsi, frag, sizeof(frag), WSI_TOKEN_HTTP_URI_ARGS, i);
        if (n < 0)
            return 0;
        char *eq = strchr(frag, '=');
        if (eq)
            *eq = '\0';
        if (form_add(&req->query, frag, eq ? eq + 1 : "") != FORM_OK)
            return -1;
    }
}

static int waf_http_cors_path(const char *path)
{
    return strcmp(path, WAF_PATH_TOKEN) == 0 || strcmp(path, WAF_PATH_REVOKE) == 0;
}

static void waf_http_text(struct waf_resp *resp, unsigned status, const char *type,
                          const char *cache, char *body)
{
    free(resp->body);
    resp->status = body ? status : 500;
    resp->content_type = type;
    resp->cache_control = cache;
    resp->body = body;
    resp->len = body ? strlen(body) : 0;
}

/* Answers on the loop what needs no store: documents, health, counters, and 404/405. */
static void waf_http_route(struct waf_http *h, struct waf_http_session *ss)
{
    struct waf_req *req = &ss->req;
    struct waf_resp *resp = &ss->resp;
    const char *p = req->path;
    int get = req->method == WAF_M_GET || req->method == WAF_M_HEAD;
    if (!get && (strcmp(p, WAF_PATH_JWKS) == 0 || strcmp(p, WAF_PATH_METADATA) == 0 ||
                 strcmp(p, WAF_PATH_HEALTHZ) == 0 || strcmp(p, WAF_PATH_METRICS) == 0))
        waf_http_text(resp, 405, "application/json", "no-store",
                      strdup("{\"error\":\"method_not_allowed\"}"));
    else if (strcmp(p, WAF_PATH_JWKS) == 0)
        /* Short cache: a rotation must reach verifiers well within a token lifetime. */
        waf_http_text(resp, 200, "application/json", "public, max-age=60",
                      strdup(waf_work_jwks(h->work)));
    else if (strcmp(p, WAF_PATH_METADATA) == 0 ||
             (h->metadata_alias[0] && strcmp(p, h->metadata_alias) == 0))
        waf_http_text(resp, 200, "application/json", "public, max-age=300", strdup(h->metadata));
    else if (strcmp(p, WAF_PATH_HEALTHZ) == 0)
        waf_http_text(resp, 200, "text/plain", "no-store", strdup("ok"));
    else if (strcmp(p, WAF_PATH_METRICS) == 0)
        waf_http_text(resp, 200, "text/plain; version=0.0.4", "no-store",
                      waf_metrics_text(&h->app->metrics));
    else
        waf_http_text(resp, 404, "application/json", "no-store",
                      strdup("{\"error\":\"not_found\"}"));
}

/* The endpoints served on a store thread: every one of them reads or writes the store. */
static int waf_http_store_call(const char *path, struct waf_store_call *call)
{
    static const struct {
        const char *path;
        waf_handler_fn handler;
        waf_page_fn page;
    } calls[] = {
        {WAF_PATH_TOKEN, waf_grant_token, NULL},
        {WAF_PATH_INTROSPECT, waf_grant_introspect, NULL},
        {WAF_PATH_REVOKE, waf_grant_revoke, NULL},
        {WAF_PATH_IMS_DIGEST, waf_imscred_digest, NULL},
        {WAF_PATH_DEVICE_AUTHZ, waf_grant_device_authorization, NULL},
        {WAF_PATH_AUTHORIZE, NULL, waf_authorize_page},
        {WAF_PATH_CODE, NULL, waf_authorize_code_page},
        {WAF_PATH_DEVICE, NULL, waf_authorize_device_page},
    };
    for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++)
        if (strcmp(path, calls[i].path) == 0) {
            call->handler = calls[i].handler;
            call->page = calls[i].page;
            return 1;
        }
    return 0;
}

/* Hands the request to a store thread; a full queue is a 503 at once (for a CORS-only call the
 * answer already made goes out without CORS). */
static void waf_http_to_store(struct waf_http *h, struct waf_http_session *ss,
                              struct waf_store_call *call)
{
    ss->job = ++h->next_job;
    call->cors_wanted = ss->cors_wanted;
    if (waf_work_request(h->work, ss->job, call, &ss->req, &ss->resp) == 0) {
        waf_http_enter(h, ss, WAF_ST_WAITING);
        return;
    }
    if (call->handler || call->page || call->resume || call->preflight) {
        log_warn("store queue full: request refused with 503");
        waf_resp_error(&ss->resp, 503, "temporarily_unavailable",
                       "too many requests are waiting for the store; try again");
        ss->resp.retry_after = WAF_RETRY_BUSY_S;
    }
    waf_http_enter(h, ss, WAF_ST_HEADERS);
}

/* An answer made on the loop: out now, or after the store's CORS check of its Origin. */
static void waf_http_respond(struct waf_http *h, struct waf_http_session *ss)
{
    struct waf_store_call call = {0};
    if (ss->cors_wanted)
        waf_http_to_store(h, ss, &call);
    else
        waf_http_enter(h, ss, WAF_ST_HEADERS);
}

/* A page asked for a password check: to the password threads, then back to a store thread. */
static void waf_http_to_verify(struct waf_http *h, struct waf_http_session *ss,
                               const struct waf_verify *v)
{
    ss->job = ++h->next_job;
    ss->resume = v->resume;
    if (waf_work_verify(h->work, ss->job, v->hash, v->password) == 0) {
        waf_http_enter(h, ss, WAF_ST_WAITING);
        return;
    }
    log_warn("password pool full; sign-in refused with 503");
    waf_resp_error(&ss->resp, 503, "temporarily_unavailable", "too many sign-ins at once");
    ss->resp.retry_after = 2;
    waf_http_enter(h, ss, WAF_ST_HEADERS);
}

static void waf_http_dispatch(struct waf_http *h, struct waf_http_session *ss)
{
    struct waf_store_call call = {0};
    h->app->metrics.requests++;
    if (ss->req.method == WAF_M_OPTIONS && waf_http_cors_path(ss->req.path)) {
        call.preflight = 1;
        waf_http_to_store(h, ss, &call);
    } else if (waf_http_store_call(ss->req.path, &call)) {
        waf_http_to_store(h, ss, &call);
    } else {
        waf_http_route(h, ss);
        waf_http_enter(h, ss, WAF_ST_HEADERS);
    }
}

static int waf_http_request(struct lws *wsi, struct waf_http *h, struct waf_http_session *ss,
                            const char *path)
{
    if (ss->seen)
        return -1; /* lws replays a pipelined request: see the top of this file */
    waf_http_reset(ss);
    ss->wsi = wsi;
    ss->seen = 1;
    struct waf_req *req = &ss->req;
    req->method = WAF_M_OTHER;
    for (size_t i = 0; i < sizeof(waf_http_methods) / sizeof(waf_http_methods[0]); i++)
        if (lws_hdr_total_length(wsi, waf_http_methods[i].token) > 0) {
            req->method = waf_http_methods[i].method;
            break;
        }
    snprintf(req->path, sizeof(req->path), "%s", path);
    waf_http_copy(wsi, req->content_type, sizeof(req->content_type), WSI_TOKEN_HTTP_CONTENT_TYPE);
    waf_http_copy(wsi, req->authorization, sizeof(req->authorization),
                  WSI_TOKEN_HTTP_AUTHORIZATION);
    waf_http_copy(wsi, req->origin, sizeof(req->origin), WSI_TOKEN_ORIGIN);
    waf_http_copy(wsi, req->cookie, sizeof(req->cookie), WSI_TOKEN_HTTP_COOKIE);
    waf_http_dpop(wsi, req);
    waf_http_client_address(wsi, h->app->s->trusted_proxies, req->peer, sizeof(req->peer));
    ss->head_only = req->method == WAF_M_HEAD;
    ss->cors_wanted = req->origin[0] && waf_http_cors_path(path);

    char cl[24];
    waf_http_copy(wsi, cl, sizeof(cl), WSI_TOKEN_HTTP_CONTENT_LENGTH);
    int chunked = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0;
    char *end;
    unsigned long long length = cl[0] ? strtoull(cl, &end, 10) : 0;
    if (waf_http_query(wsi, req) < 0) {
        waf_resp_error(&ss->resp, 400, "invalid_request", "the query string is malformed");
    } else if (req->method == WAF_M_POST && (chunked || !cl[0])) {
        waf_resp_error(&ss->resp, chunked ? 400 : 411, "invalid_request",
                       "a request body needs a Content-Length");
    } else if (cl[0] && (*end || cl[0] == '-')) {
        waf_resp_error(&ss->resp, 400, "invalid_request", "the Content-Length is malformed");
    } else if (req->method != WAF_M_POST && (chunked || length > 0)) {
        waf_resp_error(&ss->resp, 413, "invalid_request", "only a POST request takes a body");
    } else if (length > (unsigned long long)h->app->s->max_body) {
        waf_resp_error(&ss->resp, 413, "invalid_request", "the request body is too large");
    } else if (req->method == WAF_M_POST && length > 0) {
        ss->body_cap = (size_t)length;
        ss->body = malloc(ss->body_cap + 1);
        if (!ss->body)
            return -1;
        ss->stage = WAF_ST_BODY;
        return 0;
    } else {
        waf_http_dispatch(h, ss);
        return 0;
    }
    waf_http_respond(h, ss);
    return 0;
}

static void waf_http_body_done(struct waf_http *h, struct waf_http_session *ss)
{
    ss->body[ss->body_len] = '\0';
    ss->req.form_rc = form_parse(&ss->req.form, ss->body, ss->body_len);
    waf_http_dispatch(h, ss);
}

static int waf_http_header(struct lws *wsi, const char *name, const char *value, unsigned char **p,
                           unsigned char *end)
{
    return lws_add_http_header_by_name(wsi, (const unsigned char *)name,
                                       (const unsigned char *)value, (int)strlen(value), p, end);
}

static int waf_http_write_headers(struct lws *wsi, struct waf_http_session *ss)
{
    struct waf_resp *r = &ss->resp;
    char logpath[64], retry[16];
    snprintf(logpath, sizeof(logpath), "%.63s", ss->req.path);
    for (char *c = logpath; *c; c++)
        if (*c <= 0x20 || *c >= 0x7f)
            *c = '?';
    log_info("http %s %s %u", waf_http_method_names[ss->req.method], logpath, r->status);
    unsigned char buf[LWS_PRE + 4096], *start = buf + LWS_PRE, *p = start,
                                       *end = buf + sizeof(buf) - 1;
    int err =
        lws_add_http_common_headers(
            wsi, r->status, r->content_type ? r->content_type : "text/plain", r->len, &p, end) ||
        waf_http_header(wsi, "cache-control:", r->cache_control ? r->cache_control : "no-store", &p,
                        end) ||
        waf_http_header(wsi, "x-content-type-options:", "nosniff", &p, end);
    if (!err && r->cache_control && strcmp(r->cache_control, "no-store") == 0)
        err = waf_http_header(wsi, "pragma:", "no-cache", &p, end);
    if (!err && r->html)
        err = waf_http_header(wsi, "x-frame-options:", "DENY", &p, end) ||
              waf_http_header(wsi, "content-security-policy:",
                              "default-src 'none'; style-src 'unsafe-inline'; "
                              "frame-ancestors 'none'; base-uri 'none'",
                              &p, end) ||
              waf_http_header(wsi, "referrer-policy:", "no-referrer", &p, end);
    if (!err && r->location[0])
        err = waf_http_header(wsi, "location:", r->location, &p, end);
    if (!err && r->set_cookie[0])
        err = waf_http_header(wsi, "set-cookie:", r->set_cookie, &p, end);
    if (!err && r->dpop_nonce[0])
        err = waf_http_header(wsi, "dpop-nonce:", r->dpop_nonce, &p, end);
    if (!err && r->www_authenticate[0])
        err = waf_http_header(wsi, "www-authenticate:", r->www_authenticate, &p, end);
    if (!err && r->retry_after) {
        snprintf(retry, sizeof(retry), "%d", r->retry_after);
        err = waf_http_header(wsi, "retry-after:", retry, &p, end);
    }
    if (!err && ss->cors)
        err = waf_http_header(wsi, "access-control-allow-origin:", ss->req.origin, &p, end) ||
              waf_http_header(wsi, "vary:", "Origin", &p, end) ||
              waf_http_header(wsi, "access-control-expose-headers:", "DPoP-Nonce", &p, end);
    if (!err && ss->cors && ss->req.method == WAF_M_OPTIONS)
        err =
            waf_http_header(wsi, "access-control-allow-methods:", "POST", &p, end) ||
            waf_http_header(wsi, "access-control-allow-headers:", "Content-Type, DPoP", &p, end) ||
            waf_http_header(wsi, "access-control-max-age:", "600", &p, end);
    if (!err && r->status == 405)
        err = waf_http_header(wsi, "allow:", r->allow ? r->allow : "GET, HEAD", &p, end);
    if (!err) /* one request per connection: see the top of this file */
        err = waf_http_header(wsi, "connection:", "close", &p, end);
    const struct waf_http *h = lws_context_user(lws_get_context(wsi));
    if (!err && lws_is_ssl(wsi) && h->hsts[0])
        err = waf_http_header(wsi, "strict-transport-security:", h->hsts, &p, end);
    if (err || lws_finalize_write_http_header(wsi, start, &p, end))
        return -1;
    return 0;
}

/* After the last byte: close once lws holds nothing unsent (closing with bytes still buffered
 * would leave the connection in FLUSHING_BEFORE_CLOSE, another state lws busy-loops in). */
static int waf_http_finish(struct lws *wsi, struct waf_http *h, struct waf_http_session *ss)
{
    waf_http_enter(h, ss, WAF_ST_IDLE);
    waf_http_reset(ss);
    if (!lws_partial_buffered(wsi))
        return -1;
    ss->finished = 1;
    lws_callback_on_writable(wsi);
    return 0;
}

static int waf_http_writeable(struct lws *wsi, struct waf_http *h, struct waf_http_session *ss)
{
    if (ss->finished)
        return -1; /* lws wrote what it had buffered before calling us */
    if (ss->stage == WAF_ST_HEADERS) {
        if (waf_http_write_headers(wsi, ss) < 0)
            return -1;
        if (ss->head_only || ss->resp.len == 0)
            return waf_http_finish(wsi, h, ss);
        waf_http_enter(h, ss, WAF_ST_PAYLOAD);
        return 0;
    }
    if (ss->stage != WAF_ST_PAYLOAD)
        return 0;
    unsigned char *buf = malloc(LWS_PRE + ss->resp.len);
    if (!buf)
        return -1;
    memcpy(buf + LWS_PRE, ss->resp.body, ss->resp.len);
    int n = lws_write(wsi, buf + LWS_PRE, ss->resp.len, LWS_WRITE_HTTP_FINAL);
    free(buf);
    if (n != (int)ss->resp.len)
        return -1;
    return waf_http_finish(wsi, h, ss);
}

/* Worker results come back here, on the loop, after the pools' lws_cancel_service(). */
static void waf_http_collect(struct waf_http *h)
{
    struct waf_work_job *j;
    while ((j = waf_work_take(h->work))) {
        struct waf_http_session *ss = h->waiting;
        while (ss && ss->job != j->base.id)
            ss = ss->next;
        if (!ss) {
            waf_work_done(j); /* the browser went away meanwhile */
            continue;
        }
        if (j->kind == WAF_WORK_VERIFY) {
            struct waf_store_call call = {.resume = ss->resume, .ok = j->ok};
            waf_work_done(j);
            waf_http_to_store(h, ss, &call);
            continue;
        }
        /* the request and its answer come back to the connection */
        form_free(&ss->req.query);
        form_free(&ss->req.form);
        free(ss->resp.body);
        ss->req = j->req;
        ss->resp = j->resp;
        ss->cors = j->cors;
        memset(&j->req, 0, sizeof(j->req));
        memset(&j->resp, 0, sizeof(j->resp));
        struct waf_verify v = j->verify; /* v.password points into ss->req now */
        int pending = j->pending;
        waf_work_done(j);
        if (pending)
            waf_http_to_verify(h, ss, &v);
        else
            waf_http_enter(h, ss, WAF_ST_HEADERS);
    }
}

static int waf_http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                             void *in, size_t len)
{
    struct waf_http_session *ss = user;
    struct waf_http *h = lws_context_user(lws_get_context(wsi));
    switch (reason) {
    case LWS_CALLBACK_HTTP:
        return waf_http_request(wsi, h, ss, in ? (const char *)in : "");
    case LWS_CALLBACK_HTTP_BODY:
        if (ss->stage != WAF_ST_BODY)
            return 0;
        if (len > ss->body_cap - ss->body_len)
            return -1; /* more than Content-Length announced */
        memcpy(ss->body + ss->body_len, in, len);
        ss->body_len += len;
        return 0;
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        if (++ss->completions > 1)
            return -1; /* a replay over pipelined bytes: see the top of this file */
        if (ss->stage == WAF_ST_BODY)
            waf_http_body_done(h, ss);
        return 0;
    case LWS_CALLBACK_HTTP_WRITEABLE:
        return ss ? waf_http_writeable(wsi, h, ss) : 0;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        if (h && h->work)
            waf_http_collect(h);
        return 0;
    case LWS_CALLBACK_CLOSED_HTTP:
        if (ss) {
            waf_http_enter(h, ss, WAF_ST_IDLE);
            waf_http_reset(ss);
        }
        return 0;
    case LWS_CALLBACK_OPENSSL_LOAD_EXTRA_SERVER_VERIFY_CERTS:
        if (h && !h->tls.ssl_ctx)
            h->tls.ssl_ctx = user; /* the listener's SSL_CTX, for reloads */
        return 0;
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
        log_info("http upgrade refused");
        return -1; /* the WAF speaks plain HTTP only */
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

static const struct lws_protocols waf_http_protocols[] = {
    {"http", waf_http_callback, sizeof(struct waf_http_session), 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static void waf_http_lws_log(int level, const char *line)
{
    char buf[512];
    snprintf(buf, sizeof(buf), "%s", line);
    size_t n = strlen(buf);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
        buf[--n] = '\0';
    if (level & LLL_ERR)
        log_error("lws: %s", buf);
    else
        log_warn("lws: %s", buf);
}

/* Every WAF_WORK_TICK_MS: key reloads and store clean-up, on a store thread. */
static void waf_http_tick(lws_sorted_usec_list_t *sul)
{
    struct waf_http *h = lws_container_of(sul, struct waf_http, tick);
    waf_work_tick(h->work);
    lws_sul_schedule(h->ctx, 0, &h->tick, waf_http_tick, WAF_WORK_TICK_MS * LWS_US_PER_MS);
}

static void waf_http_notify(void *arg)
{
    struct waf_http *h = arg;
    lws_cancel_service(h->ctx);
}

struct waf_http *waf_http_create(struct waf_app *app, char *err, size_t errlen)
{
    const struct waf_settings *s = app->s;
    struct waf_http *h = calloc(1, sizeof(*h));
    json_t *meta = waf_metadata_build(s->issuer);
    if (h) {
        h->app = app;
        h->metadata = meta ? json_dumps(meta, JSON_COMPACT) : NULL;
    }
    json_decref(meta);
    if (!h || !h->metadata) {
        snprintf(err, errlen, "cannot build the HTTP documents");
        waf_http_destroy(h);
        return NULL;
    }
    const char *path = strchr(strstr(s->issuer, "://") + 3, '/');
    if (path)
        snprintf(h->metadata_alias, sizeof(h->metadata_alias), "%s%s", WAF_PATH_METADATA, path);
    lws_set_log_level(LLL_ERR | LLL_WARN, waf_http_lws_log);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof(info));
    info.iface = s->listen;
    info.port = (int)s->port;
    info.protocols = waf_http_protocols;
    info.user = h;
    info.vhost_name = "default";
    info.server_string = "imsgw-waf";
    info.max_http_header_data = WAF_HTTP_HEADER_MAX;
    info.timeout_secs = WAF_HTTP_TIMEOUT_S;
    info.keepalive_timeout = WAF_HTTP_KEEPALIVE_S;
    if (s->tls_cert && *s->tls_cert) {
        h->tls.cert_path = s->tls_cert;
        h->tls.key_path = s->tls_key;
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
        info.ssl_cert_filepath = s->tls_cert;
        info.ssl_private_key_filepath = s->tls_key;
        info.ssl_options_set = SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1 | SSL_OP_NO_COMPRESSION;
        info.alpn = "http/1.1"; /* one request per connection is HTTP/1.1's (no h2) */
        if (s->hsts_max_age)
            snprintf(h->hsts, sizeof(h->hsts), "max-age=%ld", s->hsts_max_age);
    }
    h->ctx = lws_create_context(&info);
    if (!h->ctx) {
        snprintf(err, errlen, "cannot listen on %s port %ld", s->listen, s->port);
        waf_http_destroy(h);
        return NULL;
    }
    if (!(h->work = waf_work_create(app, waf_http_notify, h, err, errlen))) {
        waf_http_destroy(h);
        return NULL;
    }
    lws_sul_schedule(h->ctx, 0, &h->tick, waf_http_tick, WAF_WORK_TICK_MS * LWS_US_PER_MS);
    return h;
}

void waf_http_reload_tls(struct waf_http *h)
{
    char err[512], fp[100];
    if (!h->tls.cert_path) {
        log_info("SIGHUP: no TLS configured, nothing to reload");
        return;
    }
    if (tls_listener_reload(&h->tls, err, sizeof(err)) < 0) {
        log_error("SIGHUP: certificate not reloaded, the previous one stays: %s", err);
        return;
    }
    tls_fingerprint(h->tls.cert_path, fp, sizeof(fp));
    log_info("SIGHUP: certificate reloaded from %s (sha256 %s); open connections are kept",
             h->tls.cert_path, fp);
}

int waf_http_port(struct waf_http *h)
{
    return lws_get_vhost_listen_port(lws_get_vhost_by_name(h->ctx, "default"));
}

int waf_http_service(struct waf_http *h)
{
    return lws_service(h->ctx, 0);
}

void waf_http_wake(struct waf_http *h)
{
    lws_cancel_service(h->ctx);
}

void waf_http_destroy(struct waf_http *h)
{
    if (!h)
        return;
    /* The threads first: they call lws_cancel_service() on the context. */
    waf_work_destroy(h->work);
    h->work = NULL;
    if (h->ctx) {
        lws_sul_cancel(&h->tick);
        lws_context_destroy(h->ctx);
    }
    free(h->metadata);
    free(h);
}
