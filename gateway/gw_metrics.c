#include "gw_metrics.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

static const char *const gw_reg_outcome_names[REG_OUTCOME_COUNT] = {
    "ok",          "challenge",      "invalid_token", "invalid_scope", "forbidden_identity",
    "bad_request", "upstream_error", "overloaded"};

struct gw_out {
    char *buf;
    size_t len, used;
};

__attribute__((format(printf, 2, 3))) static void gw_put(struct gw_out *o, const char *fmt, ...)
{
    if (o->used + 1 >= o->len)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(o->buf + o->used, o->len - o->used, fmt, ap);
    va_end(ap);
    if (n > 0)
        o->used += (size_t)n < o->len - o->used ? (size_t)n : o->len - o->used - 1;
}

static void gw_metric(struct gw_out *o, const char *name, const char *type, const char *help,
                      uint64_t v)
{
    gw_put(o, "# HELP %s %s\n# TYPE %s %s\n%s %" PRIu64 "\n", name, help, name, type, name, v);
}

size_t gw_metrics_render(const struct gw_metrics *m, char *buf, size_t len)
{
    struct gw_out o = {buf, len, 0};
    buf[0] = '\0';
    gw_metric(&o, "imsgw_ws_connections", "gauge", "Open SIP WebSocket connections.", m->ws_open);
    gw_metric(&o, "imsgw_ws_accepted_total", "counter", "SIP WebSocket handshakes accepted.",
              m->ws_accepted_total);
    gw_metric(&o, "imsgw_ws_refused_total", "counter",
              "WebSocket handshakes refused (subprotocol, path, origin, limit).",
              m->ws_refused_total);
    gw_metric(&o, "imsgw_ws_refused_full_total", "counter",
              "WebSocket handshakes refused with 503 because max-connections was reached.",
              m->ws_refused_full_total);
    gw_metric(&o, "imsgw_ws_messages_total", "counter", "SIP messages received over WebSocket.",
              m->ws_messages_total);
    gw_metric(&o, "imsgw_ws_bad_messages_total", "counter",
              "WebSocket messages that were not acceptable SIP.", m->ws_bad_messages_total);
    gw_metric(&o, "imsgw_registrations", "gauge", "Connections with a live registration.",
              m->registrations);
    gw_put(&o, "# HELP imsgw_register_total REGISTER requests by outcome.\n"
               "# TYPE imsgw_register_total counter\n");
    for (int i = 0; i < REG_OUTCOME_COUNT; i++)
        gw_put(&o, "imsgw_register_total{outcome=\"%s\"} %" PRIu64 "\n", gw_reg_outcome_names[i],
               m->register_outcomes[i]);
    gw_metric(&o, "imsgw_register_inflight", "gauge",
              "REGISTERs sent to the IMS core and not yet answered (at most "
              "register-inflight-max per worker).",
              m->register_inflight);
    gw_metric(&o, "imsgw_register_queued", "gauge",
              "REGISTERs waiting for the IMS core to have room (register-queue-max).",
              m->register_queued);
    gw_metric(&o, "imsgw_register_queued_total", "counter",
              "REGISTERs that had to wait for the IMS core to have room.",
              m->register_queued_total);
    gw_metric(&o, "imsgw_regevent_inflight", "gauge",
              "reg-event SUBSCRIBEs sent to the IMS core and not yet answered (at most "
              "regevent-inflight-max per worker).",
              m->regevent_inflight);
    gw_metric(&o, "imsgw_regevent_queued", "gauge",
              "reg-event SUBSCRIBEs waiting for their turn (after a registration burst).",
              m->regevent_queued);
    gw_metric(&o, "imsgw_regevent_queued_total", "counter",
              "reg-event SUBSCRIBEs that had to wait for their turn.", m->regevent_queued_total);
    gw_put(&o,
           "# HELP imsgw_jwks_fetch_total JWKS fetches from the WAF by result.\n"
           "# TYPE imsgw_jwks_fetch_total counter\n"
           "imsgw_jwks_fetch_total{result=\"ok\"} %" PRIu64 "\n"
           "imsgw_jwks_fetch_total{result=\"error\"} %" PRIu64 "\n",
           m->jwks_fetch_ok_total, m->jwks_fetch_fail_total);
    gw_metric(&o, "imsgw_introspection_total", "counter",
              "RFC 7662 introspection calls to the WAF.", m->introspection_total);
    gw_metric(&o, "imsgw_introspection_failures_total", "counter",
              "Introspection calls without a usable answer.", m->introspection_fail_total);
    gw_put(&o,
           "# HELP imsgw_introspection_seconds_total Time spent waiting for introspection "
           "(divide by calls for the mean).\n# TYPE imsgw_introspection_seconds_total counter\n"
           "imsgw_introspection_seconds_total %.3f\n",
           (double)m->introspection_ms_total / 1000);
    gw_metric(&o, "imsgw_proxy_transactions", "gauge",
              "Proxy transactions in flight (calls and messages, both directions).",
              m->proxy_transactions);
    gw_metric(&o, "imsgw_dialogs", "gauge", "Dialogs (early and confirmed) the gateway tracks.",
              m->dialogs);
    gw_metric(&o, "imsgw_token_cache_hits_total", "counter",
              "REGISTERs whose token was already validated.", m->token_cache_hits_total);
    gw_metric(&o, "imsgw_token_signature_checks_total", "counter",
              "JWS access tokens not found in the cache, so checked by their signature.",
              m->token_signature_checks_total);
    gw_metric(&o, "imsgw_http_refused_total", "counter",
              "Plain HTTP requests refused (a request body where none is taken).",
              m->http_refused_total);
    gw_metric(&o, "imsgw_ws_queued_bytes", "gauge",
              "Bytes waiting in all WebSocket send queues together.", m->ws_queued_bytes);
    gw_metric(&o, "imsgw_ws_slow_readers_closed_total", "counter",
              "WebSocket connections closed because their send queue was over its bound "
              "(per connection, or the biggest while all queues were over "
              "max-queued-bytes-total).",
              m->ws_slow_readers_closed_total);
    gw_metric(&o, "imsgw_ws_write_failures_total", "counter",
              "WebSocket connections closed because a write to them failed.",
              m->ws_write_failures_total);
    gw_metric(&o, "imsgw_ws_pings_sent_total", "counter",
              "WebSocket pings sent to connections idle for ws-ping-interval.",
              m->ws_pings_sent_total);
    gw_metric(&o, "imsgw_ws_unresponsive_closed_total", "counter",
              "WebSocket connections closed because nothing (not even a pong) arrived for twice "
              "ws-ping-interval.",
              m->ws_unresponsive_closed_total);
    gw_metric(&o, "imsgw_dpop_refused_total", "counter",
              "REGISTERs refused for a missing or invalid DPoP proof.", m->dpop_refused_total);
    gw_put(&o,
           "# HELP imsgw_flow_recoveries_total Closed DPoP-proven flows by what became of them.\n"
           "# TYPE imsgw_flow_recoveries_total counter\n"
           "imsgw_flow_recoveries_total{result=\"held\"} %" PRIu64 "\n"
           "imsgw_flow_recoveries_total{result=\"recovered\"} %" PRIu64 "\n"
           "imsgw_flow_recoveries_total{result=\"refused\"} %" PRIu64 "\n"
           "imsgw_flow_recoveries_total{result=\"expired\"} %" PRIu64 "\n",
           m->recovery_held_total, m->recovery_done_total, m->recovery_refused_total,
           m->recovery_expired_total);
    gw_metric(&o, "imsgw_flow_recovery_dialogs_total", "counter",
              "Dialogs carried over from a closed flow to the client's new one.",
              m->recovery_dialogs_total);
    gw_metric(&o, "imsgw_flow_recovery_routed_total", "counter",
              "Requests from the core that named a recovered flow's old token and were delivered "
              "on the client's new connection.",
              m->recovery_routed_total);
    gw_metric(&o, "imsgw_flow_recovery_held", "gauge",
              "Closed DPoP-proven flows whose calls wait for the client now.", m->recovery_held);
    gw_metric(&o, "imsgw_media_sessions", "gauge", "Calls anchored on the media relay.",
              m->media_sessions);
    gw_metric(&o, "imsgw_media_relay_requests_total", "counter",
              "Control requests sent to the media relay.", m->media_relay_requests_total);
    gw_metric(&o, "imsgw_media_relay_errors_total", "counter",
              "Relay requests that timed out, found it unreachable or were refused.",
              m->media_relay_errors_total);
    gw_put(&o,
           "# HELP imsgw_media_relay_rtt_seconds_total Round-trip time of answered relay "
           "requests (divide by imsgw_media_relay_answered_total for the mean).\n"
           "# TYPE imsgw_media_relay_rtt_seconds_total counter\n"
           "imsgw_media_relay_rtt_seconds_total %.3f\n",
           (double)m->media_relay_rtt_ms_total / 1000);
    gw_metric(&o, "imsgw_media_relay_answered_total", "counter",
              "Relay requests that got an answer.", m->media_relay_answered_total);
    gw_metric(&o, "imsgw_tls_reloads_total", "counter",
              "Certificate reloads on SIGHUP that took effect.", m->tls_reloads_total);
    gw_metric(&o, "imsgw_tls_reload_failures_total", "counter",
              "Certificate reloads on SIGHUP that failed (the previous certificate stays).",
              m->tls_reload_failures_total);
    gw_metric(&o, "imsgw_admin_auth_failures_total", "counter",
              "Requests for the operator page or /metrics with a wrong credential.",
              m->admin_auth_failures_total);
    gw_put(&o,
           "# HELP imsgw_loop_cpu_seconds_total Time the event loop's thread ran on a CPU "
           "(all workers).\n# TYPE imsgw_loop_cpu_seconds_total counter\n"
           "imsgw_loop_cpu_seconds_total %.6f\n"
           "# HELP imsgw_loop_runqueue_wait_seconds_total Time the event loop's thread was "
           "runnable but waited for a CPU (all workers): CPU contention, not the gateway's work.\n"
           "# TYPE imsgw_loop_runqueue_wait_seconds_total counter\n"
           "imsgw_loop_runqueue_wait_seconds_total %.6f\n"
           "# HELP imsgw_loop_busy_poll_seconds_total Time the event loop polled without work "
           "before sleeping (busy-poll-us; all workers; wall time, yielded to other threads "
           "meanwhile).\n"
           "# TYPE imsgw_loop_busy_poll_seconds_total counter\n"
           "imsgw_loop_busy_poll_seconds_total %.6f\n"
           "# HELP imsgw_loop_busy_polls_total Spells of polling without work, by how they ended: "
           "work came, or the window ran out and the loop slept.\n"
           "# TYPE imsgw_loop_busy_polls_total counter\n"
           "imsgw_loop_busy_polls_total{outcome=\"work\"} %llu\n"
           "imsgw_loop_busy_polls_total{outcome=\"timeout\"} %llu\n",
           (double)m->loop_cpu_ns_total / 1e9, (double)m->loop_wait_ns_total / 1e9,
           (double)m->loop_busy_poll_ns_total / 1e9,
           (unsigned long long)m->loop_busy_poll_hits_total,
           (unsigned long long)m->loop_busy_poll_misses_total);
    if (o.used + 1 < o.len)
        o.used += gw_lat_render(m->register_latency, o.buf + o.used, o.len - o.used);
    return o.used;
}
