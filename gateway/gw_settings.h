/* gw_settings: every setting of imsgw-gateway, its default and its check. */
#ifndef IMSGW_GW_SETTINGS_H
#define IMSGW_GW_SETTINGS_H

#include <stddef.h>

#include "config.h"

/* Messages sofia-sip may queue on one IMS-side connection while its socket is full
 * (TPTAG_QUEUESIZE: sofia's default is 64, its maximum 1000). One more fails at once with 503
 * from nta; register-inflight-max is bounded by it, so REGISTERs alone never overflow it. */
#define GW_TRUNK_QUEUE 1000

struct gw_settings {
    char *listen; /* HTTP + WebSocket address */
    long port;
    char *wwsf_dir;         /* static files served at / */
    char **allowed_origins; /* WebSocket Origin allow-list; empty = any */
    long max_message_size;  /* bytes per SIP message over WebSocket */
    long max_connections;   /* open WebSocket connections */
    char *sip_listen;       /* IMS-side SIP address (UDP + TCP) */
    char *sip_host;         /* host:port we put in Path (defaults to sip_listen's) */
    char *next_hop;         /* I-CSCF/S-CSCF the REGISTER goes to */
    int core_tcp_only;      /* next hop over TCP: every request to the core over TCP (gw_main.c) */
    char *realm;            /* home domain */
    char *visited_network_id;
    char *authz_server; /* WAF issuer, named in the Bearer challenge */
    char *jwks_uri;     /* defaults to authz_server + /jwks.json */
    char *audience;
    char *register_scope;
    long token_leeway;
    long jwks_refetch_interval;
    long min_expires;
    long default_expires;
    char *flow_key;  /* 40 hex digits; random per start when empty */
    char *challenge; /* "bearer" (RFC 8898 401) or "redirect" (302 to the WAF) */
    char *authorization_endpoint;
    char *token_endpoint;
    char *introspection_endpoint;
    char *waf_client_id; /* the gateway as a confidential client of the WAF */
    char *waf_client_secret_file;
    long introspection_cache_ttl;
    long token_cache_size;
    long max_connections_per_source;
    char **ims_peers;      /* addresses allowed to send requests on the IMS side */
    int ims_peers_default; /* not configured: next hop + learnt Service-Route hosts */
    long ws_ping_interval;
    long timer_c;
    long dereg_grace;
    char *ims_auth;                /* "tna" or "digest" (ims_auth.h) */
    long max_queued_bytes_total;   /* all WebSocket send queues together */
    char **trusted_proxies;        /* X-Forwarded-For is believed from these peers only */
    char **proxy_protocol_from;    /* balancers that put a PROXY v2 header first */
    char *media;                   /* media relay: off | rtpengine */
    char *media_relay;             /* rtpengine ng control address host:port */
    long media_timeout;            /* ms an ng request may take, retransmissions included */
    long media_reconcile_interval; /* s between relay-session reconciliations; 0 = only at start */
    char **media_ws_codecs;        /* codecs always offered to the WebSocket side (transcoded) */
    char **media_ims_codecs;       /* codecs always offered to the IMS side (transcoded) */
    char *tls_cert;                /* PEM certificate (+ chain): HTTPS and WSS when set */
    char *tls_key;                 /* PEM private key of tls_cert */
    int allow_plain_http;      /* plain http/ws on a non-loopback address (a TLS proxy in front) */
    long hsts_max_age;         /* Strict-Transport-Security max-age over TLS; 0 = not sent */
    long http_redirect_port;   /* plain port answering 301 to the https URL; 0 = none */
    char *waf_ca_file;         /* CA bundle for the WAF's https certificate; NULL = system's */
    char *sip_tls_listen;      /* IMS-side SIP over TLS: sips: URI; NULL = none */
    char *sip_tls_dir;         /* sofia-sip TLS directory: agent.pem (key + cert), cafile.pem */
    int media_bypass_ws_to_ws; /* browser-to-browser calls through this gateway skip the relay */
    /* seconds after a flow closes before de-REGISTER upstream; 0 = never */ /* seconds an
                                                                                INVITE may stay
                                                                                without a final
                                                                                answer (RFC
                                                                                3261: > 180) */
    long sip_transaction_timeout; /* Timer B/F towards the core, s (docs/faults.md) */
    long workers;                 /* gateway processes (gw_workers.h); 0 = one per core */
    long busy_poll_us;           /* loop polls this long after work before sleeping (gw_busypoll) */
    int require_dpop;            /* every client token must be DPoP-bound (docs/dpop-sip.md) */
    long dpop_max_age;           /* seconds a REGISTER's DPoP proof (iat) stays acceptable */
    long dpop_nonce_lifetime;    /* seconds a gateway DPoP nonce stays acceptable */
    long flow_recovery_grace;    /* seconds a DPoP-proven flow's calls wait for its return */
    long recovery_port;          /* first per-worker recovery port (recover_url.h); 0 = off */
    char *recovery_url;          /* URL template told to clients; NULL = from listen */
    char *admin_listen;          /* host:port of the operator page and /metrics; NULL = none */
    char *admin_credential_file; /* the operator's password (HTTP Basic); NULL = page off */
    long register_inflight_max;  /* REGISTERs with the IMS core at once, per worker (reg_admit) */
    long register_queue_max;     /* REGISTERs waiting for a place; beyond: 503 + Retry-After */
    long register_queue_ms;      /* longest wait for a place before 503 + Retry-After */
    long regevent_inflight_max;  /* reg-event SUBSCRIBEs with the core at once (regevent_pace) */
};

extern const struct cfg_program gw_program;

/* Fills in the demo defaults. */
void gw_settings_defaults(struct gw_settings *s);
/* Checks values and derives the rest; -1 with a one-line reason in err. */
int gw_settings_finish(struct gw_settings *s, char *err, size_t errlen);
/* Splits "host:port" or "[v6]:port"; -1 when it is neither. */
int gw_settings_host_port(const char *hostport, char *host, size_t hostlen, long *port);

#endif
