/* recover_url: see recover_url.h. */
#include "recover_url.h"

#include <stdio.h>
#include <string.h>

#include <sofia-sip/sip_header.h>

#include "gw.h"
#include "gw_workers.h"
#include "sipmsg.h"

static int recover_url_wildcard(const char *listen)
{
    return !listen || !*listen || strcmp(listen, "0.0.0.0") == 0 || strcmp(listen, "::") == 0 ||
           strcmp(listen, "[::]") == 0;
}

/* Replaces {worker} and {port} in tmpl; -1 on any other '{' or '}', a character that does not
 * belong in a URL (or would end a SIP header), or when the result does not fit. */
static int recover_url_expand(const char *tmpl, unsigned worker, long port, char *out, size_t len)
{
    size_t n = 0;
    for (const char *p = tmpl; *p;) {
        char num[24] = "";
        if (strncmp(p, "{worker}", 8) == 0) {
            snprintf(num, sizeof(num), "%u", worker);
            p += 8;
        } else if (strncmp(p, "{port}", 6) == 0) {
            snprintf(num, sizeof(num), "%ld", port);
            p += 6;
        } else if (*p <= ' ' || *p >= 0x7f || strchr("{}<>\"\\^`|", *p)) {
            return -1;
        }
        const char *piece = num[0] ? num : p;
        size_t k = num[0] ? strlen(num) : 1;
        if (n + k >= len || n + k > RECOVER_URL_MAX)
            return -1;
        memcpy(out + n, piece, k);
        n += k;
        if (!num[0])
            p++;
    }
    out[n] = '\0';
    return 0;
}

long recover_url_port(const struct gw_settings *s, unsigned worker)
{
    return s->recovery_port ? s->recovery_port + (long)worker : 0;
}

int recover_url_format(const struct gw_settings *s, unsigned worker, char *out, size_t len)
{
    if (!s->recovery_port)
        return -1;
    if (s->recovery_url && *s->recovery_url)
        return recover_url_expand(s->recovery_url, worker, recover_url_port(s, worker), out, len);
    /* No template: the address the worker listens on, as the page reached it on one host. */
    int tls = s->tls_cert && *s->tls_cert, v6 = strchr(s->listen, ':') != NULL;
    char tmpl[RECOVER_URL_MAX + 1];
    int k = snprintf(tmpl, sizeof(tmpl), "%s://%s%s%s:{port}/sip", tls ? "wss" : "ws",
                     v6 ? "[" : "", s->listen, v6 ? "]" : "");
    if (k < 0 || (size_t)k >= sizeof(tmpl))
        return -1;
    return recover_url_expand(tmpl, worker, recover_url_port(s, worker), out, len);
}

int recover_url_check(const struct gw_settings *s, char *err, size_t errlen)
{
    const char *tmpl = s->recovery_url && *s->recovery_url ? s->recovery_url : NULL;
    if (!s->recovery_port) {
        if (tmpl)
            snprintf(err, errlen, "recovery-url needs recovery-port");
        return tmpl ? -1 : 0;
    }
    int balanced = (s->proxy_protocol_from && s->proxy_protocol_from[0]) ||
                   (s->trusted_proxies && s->trusted_proxies[0]);
    if (!tmpl && (balanced || recover_url_wildcard(s->listen))) {
        snprintf(err, errlen,
                 "recovery-port %s needs recovery-url, the public URL of each worker's recovery "
                 "port (e.g. wss://gw.example.com:{port}/sip)",
                 balanced ? "behind a balancer" : "on a wildcard listen address");
        return -1;
    }
    char url[RECOVER_URL_MAX + 1];
    if (recover_url_format(s, GW_WORKERS_MAX - 1, url, sizeof(url)) < 0) {
        snprintf(err, errlen,
                 "recovery-url must be a URL of at most %d characters without spaces, quotes or "
                 "<>, with {worker} and {port} its only placeholders",
                 RECOVER_URL_MAX);
        return -1;
    }
    int tls = s->tls_cert && *s->tls_cert;
    if (tmpl && strncmp(tmpl, "wss://", 6) != 0 && (tls || strncmp(tmpl, "ws://", 5) != 0)) {
        snprintf(err, errlen, "recovery-url must start with %s",
                 tls ? "wss://" : "ws:// or wss://");
        return -1;
    }
    if (tmpl && s->workers != 1 && !strstr(tmpl, "{port}") && !strstr(tmpl, "{worker}")) {
        snprintf(err, errlen, "recovery-url needs {port} or {worker}: each worker has its own URL");
        return -1;
    }
    return 0;
}

void recover_url_answer(msg_t *msg, sip_t *sip, int proven)
{
    const sip_header_t *h;
    while ((h = sipmsg_find_unknown(sip, RECOVER_URL_HEADER)))
        sip_header_remove(msg, sip, (sip_header_t *)h);
    if (!proven || !gw->cfg->flow_recovery_grace)
        return;
    char url[RECOVER_URL_MAX + 1], line[RECOVER_URL_MAX + sizeof(RECOVER_URL_HEADER) + 8];
    if (recover_url_format(gw->cfg, gw_workers_self(), url, sizeof(url)) < 0)
        return;
    snprintf(line, sizeof(line), RECOVER_URL_HEADER ": <%s>", url);
    sipmsg_add_unknown(msg, sip, line);
}
