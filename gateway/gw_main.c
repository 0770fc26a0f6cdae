/* imsgw-gateway: one event loop (gw_evloop: libev, with GLib's main context driven from it)
 * runs libwebsockets (through libwebsockets-evlib-ev) and sofia-sip (through su_glib), so a SIP
 * transaction timer and a WebSocket read never race. */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib-unix.h>
#include <sofia-sip/su_glib.h>
#include <sofia-sip/su_log.h>
#include <sofia-sip/sip_tag.h>
#include <sofia-sip/nta_tag.h>
#include <sofia-sip/tport_tag.h>
#include <sofia-sip/nta_stateless.h>
#include <sofia-sip/msg.h>

#include "admin.h"
#include "auth.h"
#include "dereg.h"
#include "flow.h"
#include "gw.h"
#include "gw_busypoll.h"
#include "gw_evloop.h"
#include "gw_fds.h"
#include "gw_workers.h"
#include "gw_http.h"
#include "gw_proxyproto.h"
#include "gw_tls.h"
#include "http_client.h"
#include "ims_auth.h"
#include "ims_peers.h"
#include "regevent.h"
#include "jwks.h"
#include "log.h"
#include "media.h"
#include "proxy.h"
#include "recover.h"
#include "reg.h"
#include "reg_admit.h"
#include "reg_onbehalf.h"
#include "reg_dpop.h"
#include "rnd.h"
#include "timeutil.h"
#include "gw_sip.h"
#include "ws_conn.h"
#include "ws_mask.h"

#define GW_NTA_TIMER_C_EXTRA_MS 5000

struct gw *gw;

static gboolean gw_on_sighup(gpointer unused)
{
    (void)unused;
    gw_tls_reload();
    return G_SOURCE_CONTINUE;
}

static gboolean gw_on_signal(gpointer unused)
{
    (void)unused;
    log_info("stopping on signal");
    gw_workers_drain();
    return G_SOURCE_CONTINUE;
}

/* Requests from the IMS side outside any transaction we started: terminating calls and messages
 * come in a later step; until then they are refused cleanly. */
static int gw_on_ims_request(nta_agent_magic_t *ctx, nta_agent_t *agent, msg_t *msg, sip_t *sip)
{
    if (sip && sip->sip_request && sip->sip_request->rq_method != sip_method_ack)
        nta_msg_treply(agent, msg, 501, "Not Implemented", TAG_END());
    else
        msg_destroy(msg);
    return 0;
}

static int gw_flow_key(const char *hex)
{
    uint8_t key[FLOW_KEY_LEN];
    if (!hex || !*hex) {
        rnd_bytes(key, sizeof(key));
    } else {
        for (int i = 0; i < FLOW_KEY_LEN; i++)
            if (sscanf(hex + 2 * i, "%2hhx", &key[i]) != 1)
                return -1;
    }
    flow_set_key(key);
    return 0;
}

static void gw_lws_log(int level, const char *line)
{
    char buf[512];
    snprintf(buf, sizeof(buf), "%s", line);
    buf[strcspn(buf, "\n")] = '\0';
    log_msg(level == LLL_ERR ? LOGL_ERROR : LOGL_WARN, "lws: %s", buf);
}

/* sofia-sip's own diagnostics go through our logger (and its redaction) at debug level. */
__attribute__((format(printf, 2, 0))) static void gw_su_log(void *stream, char const *fmt,
                                                            va_list ap)
{
    char buf[512];
    vsnprintf(buf, sizeof(buf), fmt, ap);
    buf[strcspn(buf, "\n")] = '\0';
    if (buf[0])
        log_debug("sofia: %s", buf);
}

static struct lws_context *gw_lws_start(struct ev_loop *loop, int fd_limit)
{
    static struct lws_protocols list[4];
    list[0] = gw_http_protocol;
    list[1] = ws_sip_protocol;
    list[2] = hc_protocol;
    memset(&list[3], 0, sizeof(list[3]));
    void *foreign[] = {loop};
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof(info));
    info.port = (int)gw->cfg->port;
    info.iface = gw->cfg->listen;
    info.protocols = list;
    info.mounts = gw_http_mounts(gw->cfg->wwsf_dir);
    info.options = LWS_SERVER_OPTION_LIBEV | LWS_SERVER_OPTION_VALIDATE_UTF8 |
                   LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    if (!strchr(gw->cfg->listen, ':'))
        info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
    if (gw_workers_count() > 1) /* each worker accepts on its own socket (gw_workers_listen) */
        info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
    info.foreign_loops = foreign;
    info.timeout_secs = 10;
    /* No libwebsockets validity timer (its sorted re-insertion costs O(connections) per
     * confirmation; without a policy the vhost would get its default 300 s one): ws_keepalive
     * pings idle connections and hangs up on silent ones. */
    static const lws_retry_bo_t no_validity_policy;
    info.retry_and_idle_policy = &no_validity_policy;
    info.max_http_header_data = 4096;
    gw_tls_vhost_info(&info);
    if (gw->cfg->waf_ca_file && *gw->cfg->waf_ca_file)
        info.client_ssl_ca_filepath = gw->cfg->waf_ca_file; /* e.g. a private or demo CA */
    struct lws_context *ctx = gw_fds_create_context(&info, fd_limit); /* the rest: the core's */
    char err[512];
    if (ctx && admin_listen(ctx, &gw_http_protocol, info.mounts, err, sizeof(err)) < 0) {
        log_error("%s", err);
        lws_context_destroy(ctx);
        return NULL;
    }
    if (ctx && gw_tls_start_redirect(ctx) < 0) {
        lws_context_destroy(ctx);
        return NULL;
    }
    return ctx;
}

int main(int argc, char **argv)
{
    struct gw_settings cfg;
    struct gw state;
    char err[512];
    int json = 0;
    gw_settings_defaults(&cfg);
    switch (cfg_load_args(&gw_program, &cfg, argc, argv, &json, err, sizeof(err))) {
    case CFG_EXIT_OK:
        cfg_free(&gw_program, &cfg);
        return 0;
    case CFG_ERROR:
        fprintf(stderr, "imsgw-gateway: %s\n", err);
        cfg_free(&gw_program, &cfg);
        return 2;
    case CFG_OK:
        break;
    }
    if (gw_settings_finish(&cfg, err, sizeof(err)) < 0 || gw_flow_key(cfg.flow_key) < 0) {
        fprintf(stderr, "imsgw-gateway: %s\n", err[0] ? err : "flow-key is not hex");
        cfg_free(&gw_program, &cfg);
        return 2;
    }
    ims_auth_select(cfg.ims_auth); /* the name was checked by gw_settings_finish() */
    log_init("imsgw-gateway", json, LOGL_INFO);
    if (reg_dpop_start() < 0) { /* before the fork: the workers share it */
        cfg_free(&gw_program, &cfg);
        return 2;
    }
    int exit_code = 0;
    switch (gw_workers_start(&cfg, json, &exit_code, err, sizeof(err))) {
    case -1:
        fprintf(stderr, "imsgw-gateway: %s\n", err);
        cfg_free(&gw_program, &cfg);
        return 2;
    case 1: /* the supervisor, once every worker has stopped */
        cfg_free(&gw_program, &cfg);
        return exit_code;
    }
    lws_set_log_level(LLL_ERR | LLL_WARN, gw_lws_log);
    signal(SIGPIPE, SIG_IGN);

    memset(&state, 0, sizeof(state));
    gw = &state;
    gw->cfg = &cfg;
    gw->worker = (uint16_t)gw_workers_self();
    /* Connection ids of a restarted worker start past those of the worker it replaces: the core
     * still holds Path and Record-Route flow tokens that name the dead worker's connections (same
     * gateway instance, same worker number), and a new connection with an old id would receive
     * requests meant for another user's flow; now they get 430 Flow Failed. 2^32 connections per
     * start, ids below 2^53 (JSON numbers of the operator API) for 2^21 restarts. */
    gw->next_conn_id = gw_workers_start_number() << 32;
    gw->conns = g_hash_table_new(g_int64_hash, g_int64_equal);
    gw->jwks = jwks_new(cfg.jwks_uri, cfg.jwks_refetch_interval);
    int rc = 1;

    struct ev_loop *loop = gw_evloop_create(); /* here, after the fork: each worker its own */
    if (!loop) {
        cfg_free(&gw_program, &cfg);
        return 1;
    }
    gw_evloop_set_flush(ws_flush);
    gw_busypoll_start(loop, (unsigned)cfg.busy_poll_us);
    su_init();
    su_log_redirect(su_log_default, gw_su_log, NULL);
    gw->root = su_glib_root_create(NULL);
    /* GLib 2.74 blocks a source while it dispatches and, unblocking it, re-adds its fds, which
     * signals the context's wakeup eventfd: a write, a read and one more loop turn after every
     * dispatch of sofia-sip's source (per SIP message). Nothing here runs a nested GLib
     * iteration, so the source may stay unblocked. */
    g_source_set_can_recurse(su_glib_root_gsource(gw->root), TRUE);
    g_source_attach(su_glib_root_gsource(gw->root), NULL);
    gw->next_hop = (url_string_t *)cfg.next_hop;
    reg_admit_configure((unsigned)cfg.register_inflight_max, (unsigned)cfg.register_queue_max,
                        (unsigned)cfg.register_queue_ms);
    /* Secrets first: a bad secret file stops the start before any port is opened. */
    if (auth_init(err, sizeof(err)) < 0 || admin_init(err, sizeof(err)) < 0) {
        fprintf(stderr, "imsgw-gateway: %s\n", err);
        rc = 2;
        goto out;
    }
    /* Timer B/F = sip-transaction-timeout, so a silent core gets a timely final answer. nta's
     * own Timer C would end an INVITE client transaction silently on TCP (no answer to us, so
     * none to the client): it is set past ours (timer-c, then the CANCEL's wait). */
    unsigned tx_ms = (unsigned)cfg.sip_transaction_timeout * 1000;
    /* A core reached over TCP (next-hop ;transport=tcp) gets every request over TCP, also those
     * routed by a Service-Route or Record-Route without a transport parameter, which RFC 3263
     * would send over UDP. Over UDP a reg-event SUBSCRIBE keeps its finished transaction, both
     * messages and a receive buffer for Timer K (5 s): after a burst of 10,000 registrations
     * that was 16 KiB of heap per idle connection against 6.7 over TCP (bench/idle-mem.sh), and
     * a busy worker lost UDP answers. nta's RFC 3261 18.1.1 rule does it: a request larger than
     * the UDP MTU goes over TCP, and back to UDP if the core refuses TCP; so the MTU is 1 byte.
     * `core-tcp-only false` is for a core with a hop that drops TCP rather than refusing it. */
    unsigned udp_mtu =
        cfg.core_tcp_only && strstr(cfg.next_hop, "transport=tcp") ? 1 : 0; /* 0: nta's 1300 */
    gw->agent = nta_agent_create(
        gw->root, (url_string_t *)cfg.sip_listen, gw_on_ims_request, NULL, NTATAG_UA(0),
        NTATAG_SIP_T1X64(tx_ms), NTATAG_UDP_MTU(udp_mtu),
        NTATAG_TIMER_C((unsigned)cfg.timer_c * 1000 + 2 * tx_ms + GW_NTA_TIMER_C_EXTRA_MS),
        TPTAG_QUEUESIZE(GW_TRUNK_QUEUE), TAG_END());
    if (!gw->agent) {
        log_error("cannot listen for SIP on %s", cfg.sip_listen);
        goto out;
    }
    if (gw_tls_sip_start() < 0)
        goto out;
    static const struct ws_hooks sip_hooks = {gw_sip_on_ws_message, gw_sip_flow_closed};
    ws_set_hooks(&sip_hooks);
    int fd_limit = gw_fds_budget(&cfg.max_connections);
    if (fd_limit < 0)
        goto out;
    gw->lws = gw_lws_start(loop, fd_limit);
    if (!gw->lws || gw_workers_listen(&cfg) < 0) {
        log_error("cannot listen for HTTP on %s:%ld", cfg.listen, cfg.port);
        goto out;
    }
    if (proxy_start() < 0) {
        log_error("cannot start the SIP proxy");
        goto out;
    }
    if (media_start(err, sizeof(err)) < 0) {
        fprintf(stderr, "imsgw-gateway: %s\n", err);
        rc = 2;
        goto out;
    }
    jwks_refresh(gw->jwks, gw->lws, (int64_t)time_mono_ms(), NULL, NULL);
    g_unix_signal_add(SIGINT, gw_on_signal, NULL);
    g_unix_signal_add(SIGTERM, gw_on_signal, NULL);
    g_unix_signal_add(SIGHUP, gw_on_sighup, NULL);
    gw_workers_signals_ready();
    log_info("listening: %s://%s:%ld (WebSocket %s, at most %ld connections), SIP %s, next hop %s",
             gw_tls_on() ? "https" : "http", cfg.listen, cfg.port, WS_SIP_PATH, cfg.max_connections,
             cfg.sip_listen, cfg.next_hop);
    gw_evloop_run();
    rc = 0;
out:
    gw_workers_unlisten();
    if (gw->lws)
        lws_context_destroy(gw->lws);
    recover_clear();   /* held calls end now, like those of the flows closed just above */
    reg_admit_clear(); /* REGISTERs still waiting for a place towards the core */
    reg_dpop_shutdown();
    media_stop(); /* before the proxy: pending media steps hold its transactions */
    proxy_stop();
    reg_stop(); /* REGISTERs the core has not answered */
    rob_clear();
    regevent_stop();
    ims_peers_clear();
    dereg_clear();
    if (gw->agent)
        nta_agent_destroy(gw->agent);
    su_root_destroy(gw->root);
    su_deinit();
    auth_shutdown();
    ws_shutdown();
    ws_mask_shutdown();
    gw_pp_shutdown();
    jwks_free(gw->jwks);
    g_hash_table_destroy(gw->conns);
    gw_busypoll_stop();
    gw_evloop_destroy();
    cfg_free(&gw_program, &cfg);
    return rc;
}
