#include "gw_settings.h"

#include "peer.h"
#include "proxy.h"
#include "recover_url.h"
#include "tlsconf.h"
#include "urlcheck.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define F(...) CFG_FIELD(struct gw_settings, __VA_ARGS__)

static const struct cfg_field gw_fields[] = {
    F("listen", CFG_STR, listen, 0, 0, "HTTP and WebSocket address (default 127.0.0.1)"),
    F("port", CFG_INT, port, 0, 65535,
      "HTTP and WebSocket port (default 0: 8080, or 8443 with tls-cert)"),
    F("wwsf-dir", CFG_STR, wwsf_dir, 0, 0,
      "folder of the web client served at / (default: wwsf-static/ of the source tree)"),
    F("allowed-origins", CFG_STRLIST, allowed_origins, 0, 0,
      "Origins allowed to open the SIP WebSocket (empty list = any)"),
    F("max-message-size", CFG_INT, max_message_size, 1024, 1 << 20,
      "largest SIP message over WebSocket, bytes (default 65536)"),
    F("max-connections", CFG_INT, max_connections, 1, 1000000,
      "open WebSocket connections at most, per worker (default 18000)"),
    F("workers", CFG_INT, workers, 0, 64,
      "gateway processes sharing the WebSocket port, each on sip-listen's port + its number "
      "(default 0 = one per core)"),
    F("busy-poll-us", CFG_INT, busy_poll_us, 0, 1000,
      "after work, each worker's loop polls without sleeping for up to this many microseconds "
      "(a window that adapts to the gaps between messages) before it blocks: less wake-up "
      "latency on a virtual machine whose idle vCPUs halt, for CPU (default 0 = off)"),
    F("sip-listen", CFG_STR, sip_listen, 0, 0, "IMS-side SIP URI to bind (UDP and TCP)"),
    F("sip-host", CFG_STR, sip_host, 0, 0, "host:port put in Path (default from sip-listen)"),
    F("next-hop", CFG_STR, next_hop, 0, 0, "SIP URI of the I-CSCF/S-CSCF"),
    F("core-tcp-only", CFG_BOOL, core_tcp_only, 0, 0,
      "with a next-hop over TCP, every request to the core goes over TCP, also along a "
      "Service-Route or Record-Route without a transport (UDP only if TCP is refused); false: "
      "such routes use UDP as RFC 3263 picks (default true)"),
    F("realm", CFG_STR, realm, 0, 0, "home domain and challenge realm (default ims.test)"),
    F("visited-network-id", CFG_STR, visited_network_id, 0, 0, "P-Visited-Network-ID value"),
    F("authz-server", CFG_STR, authz_server, 0, 0, "issuer URL of the WAF"),
    F("jwks-uri", CFG_STR, jwks_uri, 0, 0, "JWKS URL (default authz-server + /jwks.json)"),
    F("audience", CFG_STR, audience, 0, 0, "aud a token must name (default sip:ims.test)"),
    F("register-scope", CFG_STR, register_scope, 0, 0, "scope needed to register"),
    F("token-leeway", CFG_INT, token_leeway, 0, 60, "clock skew accepted on exp/nbf/iat, s"),
    F("jwks-refetch-interval", CFG_INT, jwks_refetch_interval, 1, 86400,
      "at most one JWKS refetch per this many seconds (default 30)"),
    F("min-expires", CFG_INT, min_expires, 1, 86400, "shortest registration, s (default 60)"),
    F("default-expires", CFG_INT, default_expires, 1, 86400,
      "registration asked when the client names none, s (default 600)"),
    F("flow-key", CFG_STR, flow_key, 0, 0,
      "40 hex digits of flow-token HMAC key shared by workers (default random)"),
    F("challenge", CFG_STR, challenge, 0, 0,
      "bearer (401 + WWW-Authenticate: Bearer, default) or redirect (302 to the WAF)"),
    F("authorization-endpoint", CFG_STR, authorization_endpoint, 0, 0,
      "WAF authorization URL for the redirect challenge (default authz-server + /authorize)"),
    F("token-endpoint", CFG_STR, token_endpoint, 0, 0,
      "WAF token URL for codes carried in REGISTER (default authz-server + /token)"),
    F("introspection-endpoint", CFG_STR, introspection_endpoint, 0, 0,
      "WAF RFC 7662 URL for opaque tokens (default authz-server + /introspect)"),
    F("waf-client-id", CFG_STR, waf_client_id, 0, 0,
      "client id of the gateway at the WAF (default gateway)"),
    F("waf-client-secret-file", CFG_STR, waf_client_secret_file, 0, 0,
      "file holding the gateway's client secret at the WAF (none: no introspection)"),
    F("introspection-cache-ttl", CFG_INT, introspection_cache_ttl, 0, 3600,
      "seconds an introspection result is reused at most (default 60)"),
    F("token-cache-size", CFG_INT, token_cache_size, 0, 1000000,
      "validated tokens remembered until they expire (default 10000; 0 = off)"),
    F("ims-peers", CFG_STRLIST, ims_peers, 0, 0,
      "IP addresses of the IMS core allowed to send requests here (default: next-hop's host "
      "and the Service-Route hosts learnt at registration)"),
    F("ims-auth", CFG_STR, ims_auth, 0, 0,
      "tna (trusted-node REGISTER, default) or digest (answer the core's MD5 Digest challenge "
      "with a response the WAF computes from the user's IMS credentials)"),
    F("require-dpop", CFG_BOOL, require_dpop, 0, 0,
      "refuse REGISTERs whose token is not DPoP-bound (RFC 9449; docs/dpop-sip.md; default false)"),
    F("dpop-max-age", CFG_INT, dpop_max_age, 10, 600,
      "seconds a REGISTER's DPoP proof stays acceptable after its iat (default 60)"),
    F("dpop-nonce-lifetime", CFG_INT, dpop_nonce_lifetime, 10, 86400,
      "seconds a DPoP-Nonce given by the gateway stays acceptable (default 900)"),
    F("flow-recovery-grace", CFG_INT, flow_recovery_grace, 0, 600,
      "seconds the calls of a closed DPoP-proven WebSocket wait for the client to come back "
      "with a proof before they are ended (0 = off; default 30)"),
    F("recovery-port", CFG_INT, recovery_port, 0, 65535,
      "with it, worker n also listens on this port + n (TLS and PROXY protocol as on port) and "
      "names that URL to DPoP clients, which reconnect there to keep their calls "
      "(docs/dpop-sip.md; default 0 = off)"),
    F("recovery-url", CFG_STR, recovery_url, 0, 0,
      "the URL clients are told to reconnect to, {worker} and {port} replaced, e.g. "
      "wss://gw.example.com:{port}/sip (default: ws[s]://listen:{port}/sip; required behind a "
      "balancer or on a wildcard listen address)"),
    F("dereg-grace", CFG_INT, dereg_grace, 0, 86400,
      "seconds after a WebSocket closes before its user is de-registered upstream (0 = off)"),
    F("timer-c", CFG_INT, timer_c, 1, 3600,
      "seconds an INVITE may wait for a final answer before it is cancelled (default 181)"),
    F("sip-transaction-timeout", CFG_INT, sip_transaction_timeout, 1, 64,
      "seconds a request towards the IMS core waits for a final answer (Timer B/F; default "
      "10)"),
    F("max-connections-per-source", CFG_INT, max_connections_per_source, 1, 1000000,
      "open WebSocket connections per source: IPv4 address, IPv6 /64 (default 1000)"),
    F("ws-ping-interval", CFG_INT, ws_ping_interval, 0, 3600,
      "seconds without anything received (message or pong) before a WebSocket ping; closed after "
      "twice that; 0 = no pings (default 60)"),
    F("max-queued-bytes-total", CFG_INT, max_queued_bytes_total, 1 << 16, 1L << 36,
      "bytes waiting to be written to all WebSocket clients together; past it the biggest "
      "queue's connection is closed (default 268435456)"),
    F("trusted-proxies", CFG_STRLIST, trusted_proxies, 0, 0,
      "addresses or prefixes of HTTP proxies in front of the gateway; from them the client is "
      "the rightmost other X-Forwarded-For entry (default none)"),
    F("proxy-protocol-from", CFG_STRLIST, proxy_protocol_from, 0, 0,
      "addresses or prefixes of TCP load balancers that start each connection with a PROXY "
      "protocol v2 header (HAProxy send-proxy-v2); from them the header is required and gives "
      "the client address, from elsewhere it is refused (default none)"),
    F("media", CFG_STR, media, 0, 0,
      "media relay for calls between WebSocket and IMS: off (SDP unchanged) or rtpengine"),
    F("media-relay", CFG_STR, media_relay, 0, 0,
      "rtpengine ng control address host:port (default 127.0.0.1:2223)"),
    F("media-timeout", CFG_INT, media_timeout, 100, 30000,
      "ms a relay request may take before the call fails with 503 (default 2000)"),
    F("media-reconcile-interval", CFG_INT, media_reconcile_interval, 0, 86400,
      "s between deletions of relay sessions without a call (default 60; 0 = at start only)"),
    F("media-ws-codecs", CFG_STRLIST, media_ws_codecs, 0, 0,
      "codecs added to offers towards browsers, transcoded when needed (default opus)"),
    F("media-ims-codecs", CFG_STRLIST, media_ims_codecs, 0, 0,
      "codecs added to offers towards IMS, transcoded when needed (default PCMA,PCMU)"),
    F("tls-cert", CFG_STR, tls_cert, 0, 0,
      "PEM certificate (then its chain) for HTTPS and WSS; reloaded on SIGHUP (default none)"),
    F("tls-key", CFG_STR, tls_key, 0, 0, "PEM private key of tls-cert, unencrypted (default none)"),
    F("allow-plain-http", CFG_BOOL, allow_plain_http, 0, 0,
      "serve plain http/ws on a non-loopback listen address, for a TLS-terminating proxy in "
      "front (default false: refused)"),
    F("hsts-max-age", CFG_INT, hsts_max_age, 0, 1L << 30,
      "Strict-Transport-Security max-age sent over TLS, s (default 31536000; 0 = not sent)"),
    F("http-redirect-port", CFG_INT, http_redirect_port, 0, 65535,
      "with TLS: a plain HTTP port that answers 301 to the https URL (default 0 = none)"),
    F("waf-ca-file", CFG_STR, waf_ca_file, 0, 0,
      "PEM CA certificates that verify the WAF's https certificate (default: the system's)"),
    F("sip-tls-listen", CFG_STR, sip_tls_listen, 0, 0,
      "IMS-side SIP over TLS: a sips: URI to bind (e.g. sips:0.0.0.0:5061); a next-hop "
      "with ;transport=tls then goes over it (default none)"),
    F("sip-tls-dir", CFG_STR, sip_tls_dir, 0, 0,
      "directory with agent.pem (private key and certificate) and cafile.pem (CAs that verify "
      "the IMS core's certificate) for sip-tls-listen"),
    F("media-bypass-ws-to-ws", CFG_BOOL, media_bypass_ws_to_ws, 0, 0,
      "a call from a browser that comes back through this gateway to another browser skips the "
      "relay: the browsers connect directly, which needs STUN/TURN for them and shows each "
      "browser's addresses to the other (default false)"),
    F("admin-listen", CFG_STR, admin_listen, 0, 0,
      "host:port of a separate listener for the operator page (/admin/) and /metrics, which the "
      "WebSocket port then no longer answers; worker n listens on port + n (default none)"),
    F("admin-credential-file", CFG_STR, admin_credential_file, 0, 0,
      "file holding the operator's password (HTTP Basic, user operator; at least 16 characters): "
      "enables the operator page and puts /metrics on the WebSocket port behind it (default "
      "none: no operator page)"),
    F("register-inflight-max", CFG_INT, register_inflight_max, 1, GW_TRUNK_QUEUE,
      "REGISTERs sent to the IMS core and not yet answered, at most, per worker; more wait "
      "(default 256)"),
    F("register-queue-max", CFG_INT, register_queue_max, 0, 1000000,
      "REGISTERs that may wait for the IMS core to have room, per worker; more are answered 503 "
      "with Retry-After at once (default 4096)"),
    F("register-queue-ms", CFG_INT, register_queue_ms, 0, 60000,
      "ms a REGISTER may wait for the IMS core to have room before it is answered 503 with "
      "Retry-After (default 5000)"),
    F("regevent-inflight-max", CFG_INT, regevent_inflight_max, 1, 256,
      "reg-event SUBSCRIBEs sent to the IMS core and not yet answered, at most, per worker; "
      "after a registration burst the others wait their turn, which keeps the burst's memory "
      "peak low (default 128)"),
    {NULL, 0, 0, 0, 0, NULL},
};

const struct cfg_program gw_program = {
    "imsgw-gateway",
    "IMS-WebRTC gateway (eP-CSCF): SIP over WebSocket towards browsers, SIP towards IMS.",
    gw_fields,
};

void gw_settings_defaults(struct gw_settings *s)
{
    memset(s, 0, sizeof(*s));
    cfg_set_str(&s->listen, "127.0.0.1");
    s->hsts_max_age = 31536000;
    s->allowed_origins = calloc(3, sizeof(char *));
    s->allowed_origins[0] = strdup("http://127.0.0.1:8080");
    s->allowed_origins[1] = strdup("http://localhost:8080");
    s->max_message_size = 65536;
    s->max_connections = 18000;
    s->workers = 0; /* one per core */
    cfg_set_str(&s->sip_listen, "sip:127.0.0.1:5070");
    cfg_set_str(&s->next_hop, "sip:127.0.0.1:5060;transport=tcp");
    s->core_tcp_only = 1;
    cfg_set_str(&s->realm, "ims.test");
    cfg_set_str(&s->visited_network_id, "gw.ims.test");
    cfg_set_str(&s->authz_server, "http://127.0.0.1:9090");
    cfg_set_str(&s->audience, "sip:ims.test");
    cfg_set_str(&s->register_scope, "ims:register");
    s->token_leeway = 60;
    s->jwks_refetch_interval = 30;
    s->min_expires = 60;
    s->default_expires = 600;
    cfg_set_str(&s->challenge, "bearer");
    cfg_set_str(&s->ims_auth, "tna");
    cfg_set_str(&s->waf_client_id, "gateway");
    s->introspection_cache_ttl = 60;
    s->token_cache_size = 10000;
    s->max_connections_per_source = 1000;
    s->ws_ping_interval = 60;
    s->max_queued_bytes_total = 256L << 20;
    s->timer_c = PROXY_TIMER_C_S;
    s->dpop_max_age = 60;
    s->dpop_nonce_lifetime = 900;
    s->flow_recovery_grace = 30;
    s->sip_transaction_timeout = PROXY_TX_TIMEOUT_S;
    s->register_inflight_max = 256;
    s->register_queue_max = 4096;
    s->register_queue_ms = 5000;
    s->regevent_inflight_max = 128;
    cfg_set_str(&s->media, "off");
    cfg_set_str(&s->media_relay, "127.0.0.1:2223");
    s->media_timeout = 2000;
    s->media_reconcile_interval = 60;
    s->media_ws_codecs = calloc(2, sizeof(char *));
    s->media_ws_codecs[0] = strdup("opus");
    s->media_ims_codecs = calloc(3, sizeof(char *));
    s->media_ims_codecs[0] = strdup("PCMA");
    s->media_ims_codecs[1] = strdup("PCMU");
}

int gw_settings_host_port(const char *hostport, char *host, size_t hostlen, long *port)
{
    const char *colon = strrchr(hostport, ':');
    if (!colon || colon == hostport)
        return -1;
    const char *h = hostport;
    size_t hlen = (size_t)(colon - hostport);
    if (h[0] == '[') { /* [v6]:port */
        if (hlen < 3 || h[hlen - 1] != ']')
            return -1;
        h++, hlen -= 2;
    } else if (memchr(h, ':', hlen)) {
        return -1; /* a bare IPv6 address needs its brackets */
    }
    char *end;
    *port = strtol(colon + 1, &end, 10);
    if (*end || colon[1] < '0' || colon[1] > '9' || *port < 1 || *port > 65535 || hlen >= hostlen)
        return -1;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    return 0;
}

/* An endpoint left empty is the authz server's URL plus path; either way it must be https
 * (plain http on loopback only). */
static int gw_endpoint(char **field, const char *name, const char *base, const char *path,
                       char *err, size_t errlen)
{
    if (!*field || !**field) {
        char buf[512];
        snprintf(buf, sizeof(buf), "%s%s", base, path);
        cfg_set_str(field, buf);
    }
    return url_check_https_or_loopback(name, *field, err, errlen);
}

int gw_settings_finish(struct gw_settings *s, char *err, size_t errlen)
{
    if (tls_settings_check(s->listen, s->tls_cert, s->tls_key, s->allow_plain_http, err, errlen) <
        0)
        return -1;
    if (!s->wwsf_dir || !*s->wwsf_dir)
        cfg_set_str(&s->wwsf_dir, IMSGW_SOURCE_DIR "/wwsf-static");
    if (!s->port)
        s->port = s->tls_cert && *s->tls_cert ? 8443 : 8080;
    if (sip_tls_settings_check(s->sip_tls_listen, s->sip_tls_dir, err, errlen) < 0)
        return -1;
    if (s->http_redirect_port && !(s->tls_cert && *s->tls_cert)) {
        snprintf(err, errlen, "http-redirect-port needs tls-cert and tls-key");
        return -1;
    }
    if (url_check_https_or_loopback("authz-server", s->authz_server, err, errlen) < 0)
        return -1;
    if (gw_endpoint(&s->jwks_uri, "jwks-uri", s->authz_server, "/jwks.json", err, errlen) < 0 ||
        gw_endpoint(&s->authorization_endpoint, "authorization-endpoint", s->authz_server,
                    "/authorize", err, errlen) < 0 ||
        gw_endpoint(&s->token_endpoint, "token-endpoint", s->authz_server, "/token", err, errlen) <
            0 ||
        gw_endpoint(&s->introspection_endpoint, "introspection-endpoint", s->authz_server,
                    "/introspect", err, errlen) < 0)
        return -1;
    if (!s->register_scope[0] ||
        strspn(s->register_scope, "abcdefghijklmnopqrstuvwxyz0123456789:._- ") !=
            strlen(s->register_scope)) {
        snprintf(err, errlen, "register-scope must be scope tokens of [a-z0-9:._-]");
        return -1;
    }
    if (strcmp(s->ims_auth, "tna") != 0 && strcmp(s->ims_auth, "digest") != 0) {
        snprintf(err, errlen, "ims-auth must be tna or digest");
        return -1;
    }
    if (strcmp(s->challenge, "bearer") != 0 && strcmp(s->challenge, "redirect") != 0) {
        snprintf(err, errlen, "challenge must be bearer or redirect");
        return -1;
    }
    if (strncmp(s->sip_listen, "sip:", 4) != 0 || strncmp(s->next_hop, "sip:", 4) != 0) {
        snprintf(err, errlen, "sip-listen and next-hop must be sip: URIs");
        return -1;
    }
    if (!s->sip_host || !*s->sip_host) {
        char buf[256];
        snprintf(buf, sizeof(buf), "%.*s", (int)strcspn(s->sip_listen + 4, ";>"),
                 s->sip_listen + 4);
        cfg_set_str(&s->sip_host, buf);
    }
    if (!s->ims_peers || !s->ims_peers[0]) {
        /* The core's entry point is the one peer we know at start; the S-CSCFs are learnt from
         * Service-Route (ims_peers.c). A next hop given by name (not IP) must be listed. */
        s->ims_peers_default = 1;
        char host[256];
        snprintf(host, sizeof(host), "%.*s", (int)strcspn(s->next_hop + 4, ":;>"), s->next_hop + 4);
        free(s->ims_peers);
        s->ims_peers = calloc(2, sizeof(char *));
        s->ims_peers[0] = strdup(host);
    }
    /* sscanf("%2hhx") would take " 1", "+f" or a short tail: the key is checked digit by digit */
    if (s->flow_key && *s->flow_key &&
        (strlen(s->flow_key) != 40 ||
         strspn(s->flow_key, "0123456789abcdefABCDEF") != strlen(s->flow_key))) {
        snprintf(err, errlen, "flow-key must be exactly 40 hex digits");
        return -1;
    }
    if (!peer_list_valid(s->trusted_proxies, err, errlen)) {
        char reason[256];
        snprintf(reason, sizeof(reason), "trusted-proxies: %s", err);
        snprintf(err, errlen, "%s", reason);
        return -1;
    }
    if (!peer_list_valid(s->proxy_protocol_from, err, errlen)) {
        char reason[256];
        snprintf(reason, sizeof(reason), "proxy-protocol-from: %s", err);
        snprintf(err, errlen, "%s", reason);
        return -1;
    }
    if (strcmp(s->media, "off") != 0 && strcmp(s->media, "rtpengine") != 0) {
        snprintf(err, errlen, "media must be off or rtpengine");
        return -1;
    }
    for (char **lists[] = {s->media_ws_codecs, s->media_ims_codecs}, ***l = lists; l < lists + 2;
         l++)
        for (char **c = *l; c && *c; c++)
            if (!**c || strlen(*c) > 32 ||
                strspn(*c, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/-") !=
                    strlen(*c)) {
                snprintf(err, errlen, "media codecs are names such as opus, PCMA, AMR-WB/16000");
                return -1;
            }
    if (s->admin_listen && *s->admin_listen) {
        char host[256];
        long port;
        if (gw_settings_host_port(s->admin_listen, host, sizeof(host), &port) < 0) {
            snprintf(err, errlen, "admin-listen must be host:port (e.g. 127.0.0.1:9180)");
            return -1;
        }
        if (!s->allow_plain_http && !tls_addr_is_loopback(host)) {
            snprintf(err, errlen,
                     "admin-listen %s is plain http on a non-loopback address: use a loopback "
                     "address, or set allow-plain-http with a TLS proxy in front",
                     s->admin_listen);
            return -1;
        }
    }
    if (recover_url_check(s, err, errlen) < 0)
        return -1;
    if (s->min_expires > s->default_expires) {
        snprintf(err, errlen, "min-expires must not exceed default-expires");
        return -1;
    }
    return 0;
}
