/* gw_tls: libwebsockets 4.1.6 loads the files named in the creation info into the vhost's
 * SSL_CTX at start (after tlsconf checked them); it hands that SSL_CTX to protocol 0 in
 * LWS_CALLBACK_OPENSSL_LOAD_EXTRA_SERVER_VERIFY_CERTS, which is how a reload reaches it.
 * lws_tls_cert_updated() exists too, but it loads cert and key in two steps into the live
 * SSL_CTX: a mismatched pair would be half-applied. */
#include "gw_tls.h"

#include <stdio.h>
#include <string.h>

#include <openssl/ssl.h>
#include <sofia-sip/nta.h>
#include <sofia-sip/tport_tag.h>

#include "gw.h"
#include "log.h"
#include "tlsconf.h"

static struct tls_listener gw_tls;

int gw_tls_on(void)
{
    return gw->cfg->tls_cert && *gw->cfg->tls_cert;
}

const char *gw_tls_via_transport(void)
{
    return gw_tls_on() ? "WSS" : "WS";
}

void gw_tls_vhost_info(struct lws_context_creation_info *info)
{
    if (!gw_tls_on())
        return;
    gw_tls.cert_path = gw->cfg->tls_cert;
    gw_tls.key_path = gw->cfg->tls_key;
    info->ssl_cert_filepath = gw->cfg->tls_cert;
    info->ssl_private_key_filepath = gw->cfg->tls_key;
    info->ssl_options_set = SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1 | SSL_OP_NO_COMPRESSION;
    /* HTTP/1.1 only: the one-request-per-connection server (gw_http.c) is HTTP/1.1's, and lws
     * would otherwise offer h2, where "Connection: close" is a protocol error. */
    info->alpn = "http/1.1";
}

void gw_tls_set_ssl_ctx(void *ssl_ctx)
{
    if (gw_tls_on() && !gw_tls.ssl_ctx)
        gw_tls.ssl_ctx = ssl_ctx; /* the listener's; the redirect vhost has none */
}

void gw_tls_reload(void)
{
    char err[512], fp[100];
    if (!gw_tls_on()) {
        log_info("SIGHUP: no TLS configured, nothing to reload");
        return;
    }
    if (tls_listener_reload(&gw_tls, err, sizeof(err)) < 0) {
        gw->metrics.tls_reload_failures_total++;
        log_error("SIGHUP: certificate not reloaded, the previous one stays: %s", err);
        return;
    }
    gw->metrics.tls_reloads_total++;
    tls_fingerprint(gw_tls.cert_path, fp, sizeof(fp));
    log_info("SIGHUP: certificate reloaded from %s (sha256 %s); open connections are kept",
             gw_tls.cert_path, fp);
}

int gw_tls_add_hsts(struct lws *wsi, unsigned char **p, unsigned char *end)
{
    char v[48];
    if (!gw_tls_on() || !gw->cfg->hsts_max_age || !lws_is_ssl(wsi))
        return 0;
    int n = snprintf(v, sizeof(v), "max-age=%ld", gw->cfg->hsts_max_age);
    return lws_add_http_header_by_name(wsi, (const unsigned char *)"strict-transport-security:",
                                       (const unsigned char *)v, n, p, end);
}

/* The host of the Host header without its port, if it is a plain name or address: anything
 * else is not echoed into a Location. */
static int gw_tls_redirect_host(struct lws *wsi, char *host, size_t len)
{
    if (lws_hdr_copy(wsi, host, (int)len, WSI_TOKEN_HOST) <= 0)
        return -1;
    if (host[0] == '[') {
        char *close = strchr(host, ']');
        if (!close)
            return -1;
        close[1] = '\0';
    } else {
        host[strcspn(host, ":")] = '\0';
    }
    if (!host[0] ||
        strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-[]:") !=
            strlen(host))
        return -1;
    return 0;
}

static int gw_tls_redirect_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                              void *in, size_t len)
{
    char host[256], loc[600];
    unsigned char hdr[LWS_PRE + 1024], *start = hdr + LWS_PRE, *p = start,
                                       *end = hdr + sizeof(hdr) - 1;
    switch (reason) {
    case LWS_CALLBACK_HTTP: {
        const char *path = in && *(const char *)in == '/' ? in : "/";
        if (gw_tls_redirect_host(wsi, host, sizeof(host)) < 0) {
            lws_return_http_status(wsi, HTTP_STATUS_BAD_REQUEST, "no usable Host header");
            return -1;
        }
        int n = gw->cfg->port == 443
                    ? snprintf(loc, sizeof(loc), "https://%s%s", host, path)
                    : snprintf(loc, sizeof(loc), "https://%s:%ld%s", host, gw->cfg->port, path);
        if (n < 0 || (size_t)n >= sizeof(loc) || strpbrk(loc, "\r\n"))
            snprintf(loc, sizeof(loc), "https://%s:%ld/", host, gw->cfg->port);
        if (lws_http_redirect(wsi, HTTP_STATUS_MOVED_PERMANENTLY, (unsigned char *)loc,
                              (int)strlen(loc), &p, end) < 0)
            return -1;
        return -1; /* one request per connection: the 301 is written, then closed */
    }
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

int gw_tls_start_redirect(struct lws_context *ctx)
{
    static const struct lws_protocols list[] = {
        {"http-redirect", gw_tls_redirect_cb, 0, 0, 0, NULL, 0}, {NULL, NULL, 0, 0, 0, NULL, 0}};
    if (!gw_tls_on() || !gw->cfg->http_redirect_port)
        return 0;
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof(info));
    info.vhost_name = "http-redirect";
    info.port = (int)gw->cfg->http_redirect_port;
    info.iface = gw->cfg->listen;
    info.protocols = list;
    info.timeout_secs = 10;
    info.max_http_header_data = 4096;
    if (!strchr(gw->cfg->listen, ':'))
        info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
    if (!lws_create_vhost(ctx, &info)) {
        log_error("cannot listen for the http redirect on %s:%ld", gw->cfg->listen,
                  gw->cfg->http_redirect_port);
        return -1;
    }
    return 0;
}

/* sofia-sip's tport_tls reads dir/agent.pem (key and certificate) and dir/cafile.pem; the
 * gateway verifies the core's certificate chain on the connections it opens (VERIFY_OUT).
 * sofia-sip 1.12 checks the peer's name only against a configured subject list, which is not
 * set: the chain is checked, the name is not (docs/deploy.md). */
int gw_tls_sip_start(void)
{
    const char *uri = gw->cfg->sip_tls_listen;
    if (!uri || !*uri)
        return 0;
    if (nta_agent_add_tport(gw->agent, (url_string_t *)uri, TPTAG_CERTIFICATE(gw->cfg->sip_tls_dir),
                            TPTAG_TLS_VERIFY_POLICY(TPTLS_VERIFY_OUT), TAG_END()) < 0) {
        log_error("cannot listen for SIP over TLS on %s (certificates in %s)", uri,
                  gw->cfg->sip_tls_dir);
        return -1;
    }
    return 0;
}
