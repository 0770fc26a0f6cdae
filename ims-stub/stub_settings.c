/* stub_settings: demo defaults that work on loopback with no arguments; anything doubtful is a
 * startup error rather than a surprise at the first REGISTER. */
#include "stub_settings.h"

#include "tlsconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sofia-sip/su_alloc.h>
#include <sofia-sip/url.h>

#include "stub_addr.h"

#define F(...) CFG_FIELD(struct stub_settings, __VA_ARGS__)

static const struct cfg_field stub_settings_fields[] = {
    F("listen", CFG_STR, listen, 0, 0, "SIP URI to listen on, UDP and TCP (sip:127.0.0.1:5060)"),
    F("tls-listen", CFG_STR, tls_listen, 0, 0,
      "SIP over TLS too: a sips: URI to bind, e.g. sips:127.0.0.1:5061 (default none)"),
    F("tls-dir", CFG_STR, tls_dir, 0, 0,
      "directory with agent.pem (private key and certificate) and cafile.pem for tls-listen"),
    F("home-domain", CFG_STR, home_domain, 0, 0, "home network domain and realm (ims.test)"),
    F("service-route", CFG_STR, service_route, 0, 0,
      "URI returned in Service-Route; empty = sip:orig@<listen host:port>;lr"),
    F("trusted-peers", CFG_STRLIST, trusted_peers, 0, 0,
      "IP addresses allowed to REGISTER (127.0.0.1)"),
    F("hss-file", CFG_STR, hss_file, 0, 0,
      "JSON file [{\"impi\":…,\"impu\":[…]}]; empty = demo users alice and bob"),
    F("auth-mode", CFG_STR, auth_mode, 0, 0,
      "tna-only (403 without auth-done) or digest (also MD5 Digest for HSS users with a password)"),
    F("record-route", CFG_STR, record_route, 0, 0,
      "URI put in Record-Route by the home proxy; empty = sip:<listen host:port>;transport=tcp;lr"),
    F("proxy-challenge", CFG_STRLIST, proxy_challenge, 0, 0,
      "methods of originating requests the home proxy challenges with 407 Digest, e.g. "
      "MESSAGE,INVITE (auth-mode digest only; default none)"),
    F("min-expires", CFG_INT, min_expires, 1, 86400, "shortest registration in seconds (60)"),
    F("max-expires", CFG_INT, max_expires, 1, 604800, "longest registration in seconds (3600)"),
    F("default-expires", CFG_INT, default_expires, 1, 604800,
      "registration time when the UA names none (3600)"),
    F("max-bindings", CFG_INT, max_bindings, 1, 1000000,
      "most contacts stored at once, and reg-event subscriptions; more get 503 (10000)"),
    F("timer-c", CFG_INT, timer_c_ms, 100, 600000,
      "proxy INVITE timeout in ms after the last provisional response (180000, RFC 3261 Timer C)"),
    F("max-transactions", CFG_INT, max_transactions, 1, 1000000,
      "proxied requests in progress at once; more get 503 + Retry-After (10000)"),
    F("max-branches", CFG_INT, max_branches, 1, 32, "contacts one request forks to (8)"),
    {NULL, 0, 0, 0, 0, NULL},
};

const struct cfg_program stub_settings_program = {
    "imsgw-ims-stub", "S-CSCF registrar stub (with a tiny HSS table) for imsgw demos and tests",
    stub_settings_fields};

void stub_settings_init(struct stub_settings *s)
{
    memset(s, 0, sizeof(*s));
    cfg_set_str(&s->listen, "sip:127.0.0.1:5060");
    cfg_set_str(&s->home_domain, "ims.test");
    cfg_set_str(&s->service_route, "");
    s->trusted_peers = calloc(2, sizeof(char *));
    if (s->trusted_peers)
        s->trusted_peers[0] = strdup("127.0.0.1");
    cfg_set_str(&s->hss_file, "");
    cfg_set_str(&s->auth_mode, "tna-only");
    cfg_set_str(&s->record_route, "");
    s->min_expires = 60;
    s->max_expires = 3600;
    s->default_expires = 3600;
    s->max_bindings = 10000;
    s->timer_c_ms = 180000;
    s->max_transactions = 10000;
    s->max_branches = 8;
}

/* 1 when text is a sip: or sips: URI with a host that can be written between <> as is. */
static int stub_settings_sip_uri(const char *text)
{
    su_home_t home[1] = {SU_HOME_INIT(home)};
    url_t *url = text && stub_aor_text(home, text) ? url_make(home, text) : NULL;
    int ok = url && (url->url_type == url_sip || url->url_type == url_sips) && url->url_host &&
             *url->url_host;
    su_home_deinit(home);
    return ok;
}

/* The URIs that name the stub default to its listen address, so that --listen alone gives a
 * consistent set. Service-Route carries the "orig" user part that marks originating requests
 * (24.229 §5.4.3.1); Record-Route names TCP: the gateway keeps one TCP connection to the stub,
 * and in-dialog requests then reuse it instead of opening a UDP path. */
static int stub_settings_default_uri(char **field, const char *listen, const char *prefix,
                                     const char *suffix)
{
    su_home_t home[1] = {SU_HOME_INIT(home)};
    url_t *url = url_make(home, listen);
    char *hostport = NULL, *uri = NULL;
    if (url && url->url_host)
        hostport = su_sprintf(home, "%s%s%s", url->url_host, url->url_port ? ":" : "",
                              url->url_port ? url->url_port : "");
    if (hostport)
        uri = su_sprintf(home, "%s%s%s", prefix, hostport, suffix);
    if (uri)
        cfg_set_str(field, uri);
    su_home_deinit(home);
    return uri ? 0 : -1;
}

int stub_settings_check(struct stub_settings *s, char *err, size_t errlen)
{
    if (!stub_settings_sip_uri(s->listen)) {
        snprintf(err, errlen, "\"listen\": \"%s\" is not a sip: URI with a host", s->listen);
        return -1;
    }
    if ((!*s->service_route &&
         stub_settings_default_uri(&s->service_route, s->listen, "sip:orig@", ";lr") < 0) ||
        (!*s->record_route &&
         stub_settings_default_uri(&s->record_route, s->listen, "sip:", ";transport=tcp;lr") < 0)) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (!stub_settings_sip_uri(s->service_route)) {
        snprintf(err, errlen, "\"service-route\": \"%s\" is not a sip: URI", s->service_route);
        return -1;
    }
    if (!stub_settings_sip_uri(s->record_route)) {
        snprintf(err, errlen, "\"record-route\": \"%s\" is not a sip: URI", s->record_route);
        return -1;
    }
    if (sip_tls_settings_check(s->tls_listen, s->tls_dir, err, errlen) < 0)
        return -1;
    if (!s->home_domain || !*s->home_domain || strpbrk(s->home_domain, "\" \t\r\n")) {
        snprintf(err, errlen, "\"home-domain\" must be a non-empty domain name");
        return -1;
    }
    if (!s->trusted_peers || !s->trusted_peers[0]) {
        snprintf(err, errlen, "\"trusted-peers\" must list at least one IP address");
        return -1;
    }
    for (char **p = s->trusted_peers; *p; p++) {
        if (!stub_ip_valid(*p)) {
            snprintf(err, errlen, "\"trusted-peers\": \"%s\" is not an IP address", *p);
            return -1;
        }
    }
    if (strcmp(s->auth_mode, "tna-only") == 0) {
        s->auth_digest = 0;
    } else if (strcmp(s->auth_mode, "digest") == 0) {
        s->auth_digest = 1;
    } else {
        snprintf(err, errlen, "\"auth-mode\": expected tna-only or digest, got \"%s\"",
                 s->auth_mode);
        return -1;
    }
    for (char **p = s->proxy_challenge; p && *p; p++) {
        if (!s->auth_digest || !**p || strspn(*p, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != strlen(*p) ||
            strcmp(*p, "ACK") == 0 || strcmp(*p, "CANCEL") == 0 || strcmp(*p, "REGISTER") == 0) {
            snprintf(err, errlen,
                     "\"proxy-challenge\": \"%s\" is not a method the home proxy can challenge "
                     "(upper-case, not ACK, CANCEL or REGISTER; needs auth-mode digest)",
                     *p);
            return -1;
        }
    }
    if (s->min_expires > s->max_expires || s->default_expires < s->min_expires ||
        s->default_expires > s->max_expires) {
        snprintf(err, errlen,
                 "expiry settings must satisfy min-expires <= default-expires <= max-expires "
                 "(got %ld, %ld, %ld)",
                 s->min_expires, s->default_expires, s->max_expires);
        return -1;
    }
    return 0;
}

enum cfg_result stub_settings_load(struct stub_settings *s, int argc, char **argv, int *log_json,
                                   char *err, size_t errlen)
{
    enum cfg_result r = cfg_load_args(&stub_settings_program, s, argc, argv, log_json, err, errlen);
    if (r == CFG_OK && stub_settings_check(s, err, errlen) < 0)
        return CFG_ERROR;
    return r;
}

void stub_settings_free(struct stub_settings *s)
{
    cfg_free(&stub_settings_program, s);
}
