/* admin: who may see what.
 *  - no admin-credential-file: no operator page anywhere (404); /metrics as before, open on the
 *    WebSocket port (backward compatible; docs/operator.md says how to restrict it);
 *  - admin-listen set: /admin and /metrics only there, the WebSocket port answers 404 for both;
 *  - otherwise /admin, and /metrics too, on the WebSocket port need the operator's credential.
 * The page's only state-changing request is a POST that needs the credential (Basic, which a
 * browser attaches to cross-site requests too) and a custom header, which a cross-site page
 * cannot send without a CORS preflight that this server never grants: no CSRF. */
#include "admin.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "admin_api.h"
#include "admin_auth.h"
#include "admin_events.h"
#include "admin_fanout.h"
#include "admin_page.h"
#include "gw.h"
#include "gw_workers.h"
#include "log.h"
#include "ws_conn.h"

#define ADMIN_METRICS_MAX 65536
#define ADMIN_CSRF_HEADER "x-imsgw-operator:"

static struct lws_vhost *admin_vhost;

static const char *const admin_challenge[] = {
    "www-authenticate:", "Basic realm=\"imsgw operator\", charset=\"UTF-8\"", NULL};
static const char *const admin_page_headers[] = {
    "content-security-policy:",
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src "
    "'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    "x-frame-options:",
    "DENY",
    "referrer-policy:",
    "no-referrer",
    NULL};

int admin_init(char *err, size_t errlen)
{
    const char *file = gw->cfg->admin_credential_file;
    if (file && *file && admin_auth_load(file, err, errlen) < 0)
        return -1;
    admin_events_start();
    return 0;
}

int admin_listen(struct lws_context *ctx, const struct lws_protocols *http,
                 const struct lws_http_mount *mount, char *err, size_t errlen)
{
    const struct gw_settings *cfg = gw->cfg;
    if (!cfg->admin_listen || !*cfg->admin_listen)
        return 0;
    static char host[256];
    static struct lws_protocols list[2];
    long port;
    gw_settings_host_port(cfg->admin_listen, host, sizeof(host), &port); /* checked at start */
    port += gw_workers_self();
    list[0] = *http;
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof(info));
    info.vhost_name = "admin";
    info.port = (int)port;
    info.iface = host;
    info.protocols = list;
    info.mounts = mount;
    info.timeout_secs = 10;
    info.max_http_header_data = 4096;
    if (!strchr(host, ':'))
        info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
    admin_vhost = lws_create_vhost(ctx, &info);
    if (!admin_vhost) {
        snprintf(err, errlen, "cannot listen for the operator page on %s:%ld", host, port);
        return -1;
    }
    log_info("operator page and /metrics on http://%s%s%s:%ld/admin/ (%s)",
             strchr(host, ':') ? "[" : "", host, strchr(host, ':') ? "]" : "", port,
             admin_auth_enabled() ? "credential required" : "no credential: /metrics only");
    return 0;
}

int admin_listener(struct lws *wsi)
{
    return admin_vhost && lws_get_vhost(wsi) == admin_vhost;
}

static int admin_text(struct admin_reply *r, unsigned status, const char *text)
{
    r->status = status;
    r->type = "text/plain";
    r->body = strdup(text);
    r->len = r->body ? strlen(r->body) : 0;
    return 0;
}

static int admin_json(struct admin_reply *r, unsigned status, json_t *o)
{
    char *txt = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!txt)
        return admin_text(r, HTTP_STATUS_INTERNAL_SERVER_ERROR, "out of memory\n");
    r->status = status;
    r->type = "application/json";
    r->body = txt;
    r->len = strlen(txt);
    return 0;
}

static int admin_authorized(struct lws *wsi)
{
    char value[1024] = "", peer[PEER_ADDR_MAX];
    if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_AUTHORIZATION) < (int)sizeof(value))
        lws_hdr_copy(wsi, value, sizeof(value), WSI_TOKEN_HTTP_AUTHORIZATION);
    if (admin_auth_check(value))
        return 1;
    if (value[0]) { /* a wrong credential; a request without any is a browser's first try */
        gw->metrics.admin_auth_failures_total++;
        ws_client_address(wsi, peer, sizeof(peer));
        log_warn("admin: wrong operator credential from %s", peer);
    }
    return 0;
}

static unsigned admin_urlarg(struct lws *wsi, const char *name, unsigned dflt, unsigned max)
{
    char buf[48];
    const char *text = lws_get_urlarg_by_name(wsi, name, buf, sizeof(buf)); /* after "name=" */
    if (!text)
        return dflt;
    char *end;
    unsigned long v = strtoul(text, &end, 10);
    if (*end || end == text || *text == '-')
        return dflt;
    return v > max ? max : (unsigned)v;
}

/* POST /admin/api/flows/<id>/deregister */
static int admin_remove(struct lws *wsi, const char *uri, struct admin_reply *r)
{
    static const char prefix[] = "/admin/api/flows/", suffix[] = "/deregister";
    char csrf[32] = "";
    if (lws_hdr_custom_copy(wsi, csrf, sizeof(csrf), ADMIN_CSRF_HEADER,
                            (int)strlen(ADMIN_CSRF_HEADER)) < 0 ||
        strcmp(csrf, "1") != 0)
        return admin_text(r, HTTP_STATUS_FORBIDDEN,
                          "a request that changes state needs the header X-Imsgw-Operator: 1\n");
    if (strncmp(uri, prefix, strlen(prefix)) != 0)
        return admin_text(r, HTTP_STATUS_NOT_FOUND, "not found\n");
    const char *id_text = uri + strlen(prefix);
    char *end;
    unsigned long long id = strtoull(id_text, &end, 10);
    if (!isdigit((unsigned char)id_text[0]) || strcmp(end, suffix) != 0)
        return admin_text(r, HTTP_STATUS_NOT_FOUND, "not found\n");
    /* ?worker=n: the combined view names the worker holding the flow; relay it there */
    unsigned worker = admin_urlarg(wsi, "worker=", gw_workers_self(), GW_WORKERS_MAX);
    if (worker != gw_workers_self() && admin_fanout_wanted()) {
        char auth[1024] = "";
        if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_AUTHORIZATION) < (int)sizeof(auth))
            lws_hdr_copy(wsi, auth, sizeof(auth), WSI_TOKEN_HTTP_AUTHORIZATION);
        int rc = admin_fanout_remove(wsi, auth, worker, (uint64_t)id);
        OPENSSL_cleanse(auth, sizeof(auth));
        if (rc == 0)
            return 2;
        return admin_json(r, HTTP_STATUS_NOT_FOUND,
                          json_pack("{s:b, s:s}", "removed", 0, "error", "no such worker"));
    }
    char aor[256];
    if (admin_api_remove((uint64_t)id, aor, sizeof(aor)) < 0)
        return admin_json(r, HTTP_STATUS_NOT_FOUND,
                          json_pack("{s:b, s:s}", "removed", 0, "error",
                                    "no registration on that connection (in this worker)"));
    return admin_json(
        r, HTTP_STATUS_OK,
        json_pack("{s:b, s:I, s:s}", "removed", 1, "flow", (json_int_t)id, "aor", aor));
}

static int admin_metrics(struct admin_reply *r)
{
    r->body = malloc(ADMIN_METRICS_MAX);
    if (!r->body)
        return admin_text(r, HTTP_STATUS_INTERNAL_SERVER_ERROR, "out of memory\n");
    r->len = gw_workers_metrics_render(r->body, ADMIN_METRICS_MAX);
    r->status = HTTP_STATUS_OK;
    r->type = "text/plain; version=0.0.4";
    return 0;
}

/* The state of every worker, gathered by admin_fanout: 2 (answered later), or a 503 now. */
static int admin_state_combined(struct lws *wsi, struct admin_reply *r)
{
    char auth[1024] = "";
    if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_AUTHORIZATION) < (int)sizeof(auth))
        lws_hdr_copy(wsi, auth, sizeof(auth), WSI_TOKEN_HTTP_AUTHORIZATION);
    int rc = admin_fanout_state(wsi, auth,
                                admin_urlarg(wsi, "limit=", ADMIN_LIST_DEFAULT, ADMIN_LIST_MAX),
                                admin_urlarg(wsi, "offset=", 0, 1u << 30));
    OPENSSL_cleanse(auth, sizeof(auth));
    if (rc < 0)
        return admin_text(r, HTTP_STATUS_SERVICE_UNAVAILABLE,
                          "too many combined views in flight; try again\n");
    return 2;
}

int admin_http(struct lws *wsi, const char *method, const char *uri, struct admin_reply *r)
{
    memset(r, 0, sizeof(*r));
    int metrics = strcmp(uri, "/metrics") == 0,
        page = strcmp(uri, "/admin") == 0 || strncmp(uri, "/admin/", 7) == 0;
    if (!metrics && !page)
        return 1;
    int on_admin = admin_listener(wsi), separate = admin_vhost != NULL;
    if ((separate && !on_admin) || (page && !admin_auth_enabled()))
        return admin_text(r, HTTP_STATUS_NOT_FOUND, "not found\n");
    /* on the WebSocket port, a credential (once configured) guards /metrics too */
    int guarded = page || (!on_admin && admin_auth_enabled());
    if (guarded && !admin_authorized(wsi)) {
        admin_text(r, HTTP_STATUS_UNAUTHORIZED, "the operator's credential is needed\n");
        r->headers = admin_challenge;
        return 0;
    }
    int post = strcmp(method, "POST") == 0;
    if (metrics)
        return post ? admin_text(r, HTTP_STATUS_METHOD_NOT_ALLOWED, "method not allowed\n")
                    : admin_metrics(r);
    if (post)
        return admin_remove(wsi, uri, r);
    if (strcmp(uri, "/admin/api/state") == 0 && admin_fanout_wanted() &&
        !lws_get_urlarg_by_name(wsi, "local=", (char[8]){0}, 8))
        return admin_state_combined(wsi, r);
    if (strcmp(uri, "/admin/api/state") == 0)
        return admin_json(
            r, HTTP_STATUS_OK,
            admin_api_state(admin_urlarg(wsi, "limit=", ADMIN_LIST_DEFAULT, ADMIN_LIST_MAX),
                            admin_urlarg(wsi, "offset=", 0, 1u << 30)));
    const struct admin_asset *a = admin_page_find(uri);
    if (!a)
        return admin_text(r, HTTP_STATUS_NOT_FOUND, "not found\n");
    r->status = HTTP_STATUS_OK;
    r->type = a->type;
    r->body = malloc(a->len ? a->len : 1);
    if (!r->body)
        return admin_text(r, HTTP_STATUS_INTERNAL_SERVER_ERROR, "out of memory\n");
    memcpy(r->body, a->data, a->len);
    r->len = a->len;
    r->headers = admin_page_headers;
    return 0;
}
