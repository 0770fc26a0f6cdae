/* waf_http: every response body is built once at start (the key and issuer do not change while
 * the daemon runs), so a request costs no allocation. Headers go out when the request is complete
 * and the body only from LWS_CALLBACK_HTTP_WRITEABLE, as the libwebsockets examples do it. */
#include "waf_http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>

#include "log.h"
#include "waf_metadata.h"

#define WAF_HTTP_BODY_MAX 4096   /* every body is a fixed document well below this */
#define WAF_HTTP_HEADER_MAX 4096 /* request header bytes lws keeps; longer requests are refused */
#define WAF_HTTP_TIMEOUT_S 10    /* a request must arrive whole within this */
#define WAF_HTTP_KEEPALIVE_S 5   /* idle keep-alive connections are closed after this */

struct waf_http_response {
    unsigned int status;
    const char *content_type;
    const char *cache_control;
    char *body; /* malloc'ed */
    size_t len;
};

struct waf_http {
    struct lws_context *ctx;
    struct waf_http_response jwks, metadata, healthz, not_found, not_allowed;
    char metadata_alias[WAF_ISSUER_MAX + 64]; /* RFC 8414 §3.1 path form when issuer has a path */
};

/* Per connection, reset for each request. */
struct waf_http_session {
    const struct waf_http_response *resp; /* set while a response waits for its body */
    unsigned char head_only;
    unsigned char close_after;
};

enum waf_http_method { WAF_GET, WAF_HEAD, WAF_OTHER };

static const struct {
    enum lws_token_indexes token;
    const char *name;
} waf_http_methods[] = {
    {WSI_TOKEN_GET_URI, "GET"},         {WSI_TOKEN_HEAD_URI, "HEAD"},
    {WSI_TOKEN_POST_URI, "POST"},       {WSI_TOKEN_PUT_URI, "PUT"},
    {WSI_TOKEN_PATCH_URI, "PATCH"},     {WSI_TOKEN_DELETE_URI, "DELETE"},
    {WSI_TOKEN_OPTIONS_URI, "OPTIONS"},
};

static enum waf_http_method waf_http_method(struct lws *wsi, const char **name)
{
    for (size_t i = 0; i < sizeof(waf_http_methods) / sizeof(waf_http_methods[0]); i++)
        if (lws_hdr_total_length(wsi, waf_http_methods[i].token) > 0) {
            *name = waf_http_methods[i].name;
            return i == 0 ? WAF_GET : i == 1 ? WAF_HEAD : WAF_OTHER;
        }
    *name = "?";
    return WAF_OTHER;
}

static const struct waf_http_response *waf_http_route(const struct waf_http *h, const char *path)
{
    if (strcmp(path, WAF_PATH_JWKS) == 0)
        return &h->jwks;
    if (strcmp(path, WAF_PATH_METADATA) == 0 ||
        (h->metadata_alias[0] && strcmp(path, h->metadata_alias) == 0))
        return &h->metadata;
    if (strcmp(path, WAF_PATH_HEALTHZ) == 0)
        return &h->healthz;
    return NULL;
}

/* The path as it may appear in a log line: printable, bounded. */
static void waf_http_loggable(const char *path, char *out, size_t size)
{
    size_t i = 0;
    for (; path[i] && i + 1 < size; i++)
        out[i] = path[i] > 0x20 && path[i] < 0x7f ? path[i] : '?';
    out[i] = '\0';
}

static int waf_http_header(struct lws *wsi, const char *name, const char *value, unsigned char **p,
                           unsigned char *end)
{
    return lws_add_http_header_by_name(wsi, (const unsigned char *)name,
                                       (const unsigned char *)value, (int)strlen(value), p, end);
}

static int waf_http_request(struct lws *wsi, struct waf_http *h, struct waf_http_session *ss,
                            const char *path)
{
    const char *mname;
    enum waf_http_method m = waf_http_method(wsi, &mname);
    const struct waf_http_response *r = waf_http_route(h, path);
    if (!r)
        r = &h->not_found;
    else if (m == WAF_OTHER)
        r = &h->not_allowed;
    ss->resp = r;
    ss->head_only = m == WAF_HEAD;
    /* No request body is read yet; one left unread would be parsed as the next request. */
    ss->close_after = m == WAF_OTHER ||
                      lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0 ||
                      lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0;

    char logpath[128];
    waf_http_loggable(path, logpath, sizeof(logpath));
    log_info("http %s %s %u", mname, logpath, r->status);

    unsigned char buf[LWS_PRE + 1024], *start = buf + LWS_PRE, *p = start,
                                       *end = buf + sizeof(buf) - 1;
    if (lws_add_http_common_headers(wsi, r->status, r->content_type, r->len, &p, end) ||
        waf_http_header(wsi, "cache-control:", r->cache_control, &p, end) ||
        waf_http_header(wsi, "x-content-type-options:", "nosniff", &p, end) ||
        (r == &h->not_allowed && waf_http_header(wsi, "allow:", "GET, HEAD", &p, end)) ||
        (ss->close_after && waf_http_header(wsi, "connection:", "close", &p, end)) ||
        lws_finalize_write_http_header(wsi, start, &p, end))
        return -1;
    lws_callback_on_writable(wsi);
    return 0;
}

static int waf_http_write_body(struct lws *wsi, struct waf_http_session *ss)
{
    const struct waf_http_response *r = ss->resp;
    ss->resp = NULL;
    if (!ss->head_only) {
        unsigned char buf[LWS_PRE + WAF_HTTP_BODY_MAX];
        memcpy(buf + LWS_PRE, r->body, r->len);
        if (lws_write(wsi, buf + LWS_PRE, r->len, LWS_WRITE_HTTP_FINAL) != (int)r->len)
            return -1;
    }
    if (ss->close_after)
        return -1; /* lws flushes what is still queued before it closes */
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static int waf_http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                             void *in, size_t len)
{
    struct waf_http_session *ss = user;
    struct waf_http *h = lws_context_user(lws_get_context(wsi));
    switch (reason) {
    case LWS_CALLBACK_HTTP:
        return waf_http_request(wsi, h, ss, in ? (const char *)in : "");
    case LWS_CALLBACK_HTTP_WRITEABLE:
        return ss && ss->resp ? waf_http_write_body(wsi, ss) : 0;
    case LWS_CALLBACK_HTTP_BODY:
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        return 0; /* discarded: the response to a request with a body closes the connection */
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

static int waf_http_set(struct waf_http_response *r, unsigned int status, const char *type,
                        const char *cache, char *body)
{
    r->status = status;
    r->content_type = type;
    r->cache_control = cache;
    r->body = body;
    r->len = body ? strlen(body) : 0;
    return body && r->len <= WAF_HTTP_BODY_MAX ? 0 : -1;
}

static char *waf_http_json(json_t *doc)
{
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    return text;
}

/* JWKS and metadata may be cached briefly; the gateway refetches on an unknown kid anyway. */
static int waf_http_build(struct waf_http *h, const struct waf_settings *s,
                          const struct waf_signing_key *key)
{
    static const char json[] = "application/json";
    const char *path = strchr(strstr(s->issuer, "://") + 3, '/');
    if (path)
        snprintf(h->metadata_alias, sizeof(h->metadata_alias), "%s%s", WAF_PATH_METADATA, path);
    return waf_http_set(&h->jwks, 200, json, "public, max-age=300",
                        waf_http_json(waf_keys_jwks(key))) |
           waf_http_set(&h->metadata, 200, json, "public, max-age=300",
                        waf_http_json(waf_metadata_build(s->issuer))) |
           waf_http_set(&h->healthz, 200, "text/plain", "no-store", strdup("ok")) |
           waf_http_set(&h->not_found, 404, json, "no-store", strdup("{\"error\":\"not_found\"}")) |
           waf_http_set(&h->not_allowed, 405, json, "no-store",
                        strdup("{\"error\":\"method_not_allowed\"}"));
}

struct waf_http *waf_http_create(const struct waf_settings *s, const struct waf_signing_key *key,
                                 char *err, size_t errlen)
{
    struct waf_http *h = calloc(1, sizeof(*h));
    if (!h || waf_http_build(h, s, key) < 0) {
        snprintf(err, errlen, "cannot build the HTTP documents");
        waf_http_destroy(h);
        return NULL;
    }
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
    h->ctx = lws_create_context(&info);
    if (!h->ctx) {
        snprintf(err, errlen, "cannot listen on %s port %ld", s->listen, s->port);
        waf_http_destroy(h);
        return NULL;
    }
    return h;
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
    if (h->ctx)
        lws_context_destroy(h->ctx);
    struct waf_http_response *all[] = {&h->jwks, &h->metadata, &h->healthz, &h->not_found,
                                       &h->not_allowed};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        free(all[i]->body);
    free(h);
}
