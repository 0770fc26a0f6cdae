/* gw_metrics: counters and gauges an operator can graph, served as Prometheus text at /metrics. */
#ifndef IMSGW_GW_METRICS_H
#define IMSGW_GW_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "gw_latency.h"

/* Why a REGISTER ended the way it did; one counter each. */
enum gw_reg_outcome {
    REG_OK,
    REG_CHALLENGE,
    REG_INVALID_TOKEN,
    REG_INVALID_SCOPE,
    REG_FORBIDDEN_IDENTITY,
    REG_BAD_REQUEST,
    REG_UPSTREAM_ERROR,
    REG_OVERLOADED, /* 503 + Retry-After: REGISTERs towards the core at their bound (reg_admit) */
    REG_OUTCOME_COUNT
};

/* Every field is a uint64_t: the workers' copies are summed word by word (gw_workers.c). */
struct gw_metrics {
    uint64_t ws_open; /* gauge */
    uint64_t ws_accepted_total;
    uint64_t ws_refused_total;      /* handshakes refused (subprotocol, path, origin, limit) */
    uint64_t ws_refused_full_total; /* of which: max-connections reached (503) */
    uint64_t ws_messages_total;
    uint64_t ws_bad_messages_total;
    uint64_t registrations; /* gauge: connections with a live registration */
    uint64_t register_outcomes[REG_OUTCOME_COUNT];
    uint64_t jwks_fetch_ok_total;
    uint64_t jwks_fetch_fail_total;
    uint64_t introspection_total;
    uint64_t introspection_fail_total;
    uint64_t introspection_ms_total; /* sum of latencies; / introspection_total = mean */
    uint64_t token_cache_hits_total;
    uint64_t token_signature_checks_total; /* JWS access tokens not in the cache: verified */
    uint64_t http_refused_total; /* plain HTTP requests refused (a body, a second request) */
    uint64_t ws_queued_bytes;    /* gauge: bytes in all WebSocket send queues */
    uint64_t ws_slow_readers_closed_total; /* closed for a send queue over its bound */
    uint64_t ws_write_failures_total;      /* closed because a write to it failed */
    uint64_t ws_pings_sent_total;          /* keepalive pings to idle connections */
    uint64_t ws_unresponsive_closed_total; /* closed: nothing for 2 x ws-ping-interval */
    uint64_t tls_reloads_total;            /* certificate reloads on SIGHUP that took */
    uint64_t tls_reload_failures_total;    /* ... that failed (the previous pair stays) */
    uint64_t proxy_transactions;           /* gauge, filled in just before rendering */
    uint64_t dialogs;                      /* gauge, likewise */
    uint64_t media_sessions;               /* gauge, likewise (media_get_stats) */
    uint64_t media_relay_requests_total;   /* likewise, and the next three */
    uint64_t media_relay_errors_total;
    uint64_t media_relay_rtt_ms_total;
    uint64_t media_relay_answered_total;
    uint64_t dpop_refused_total;        /* REGISTERs refused for their DPoP proof */
    uint64_t recovery_held_total;       /* flows closed whose calls wait for recovery */
    uint64_t recovery_done_total;       /* … that a proven client took over */
    uint64_t recovery_refused_total;    /* REGISTERs for a held flow without a valid proof */
    uint64_t recovery_expired_total;    /* … whose grace ran out (calls ended) */
    uint64_t recovery_dialogs_total;    /* dialogs carried over to a new flow */
    uint64_t recovery_routed_total;     /* core requests that followed an old token to a new flow */
    uint64_t recovery_held;             /* gauge: flows held now (recover_held_count) */
    uint64_t admin_auth_failures_total; /* operator requests with a wrong credential */
    uint64_t register_inflight;         /* gauge: REGISTERs with the IMS core (reg_admit) */
    uint64_t register_queued;           /* gauge: REGISTERs waiting for a place */
    uint64_t register_queued_total;     /* REGISTERs that had to wait for a place */
    uint64_t regevent_inflight;     /* gauge: reg-event SUBSCRIBEs with the core (regevent_pace) */
    uint64_t regevent_queued;       /* gauge: reg-event SUBSCRIBEs waiting for a place */
    uint64_t regevent_queued_total; /* reg-event SUBSCRIBEs that had to wait */
    uint64_t loop_cpu_ns_total;     /* the event loop's thread on a CPU (gw_sched) */
    uint64_t loop_wait_ns_total;    /* ... runnable but waiting for a CPU */
    uint64_t loop_busy_poll_ns_total;     /* ... polling without work (gw_busypoll) */
    uint64_t loop_busy_poll_hits_total;   /* polling spells that work ended */
    uint64_t loop_busy_poll_misses_total; /* ... that ran out of window (the loop slept) */
    struct gw_lat_hist register_latency[GW_LAT_LEGS]; /* time in the gateway (gw_latency) */
};

/* Writes the Prometheus text exposition into buf; returns its length (truncated to len - 1). */
size_t gw_metrics_render(const struct gw_metrics *m, char *buf, size_t len);

#endif
