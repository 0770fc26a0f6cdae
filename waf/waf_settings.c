/* waf_settings: defaults < config file < flags (common/config.c), then the cross-checks here;
 * a value that fails any check stops the daemon before it touches its data directory. */
#include "waf_settings.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "peer.h"
#include "waf_db.h"
#include "waf_kek.h"
#include "tlsconf.h"
#include "urlcheck.h"
#include "waf_user.h"

#define WAF_FIELD(...) CFG_FIELD(struct waf_settings, __VA_ARGS__)

static const struct cfg_field waf_fields[] = {
    WAF_FIELD("listen", CFG_STR, listen, 0, 0, "address to listen on (default 127.0.0.1)"),
    WAF_FIELD("port", CFG_INT, port, 1, 65535, "HTTP port (default 9090)"),
    WAF_FIELD("issuer", CFG_STR, issuer, 0, 0,
              "issuer URL, https unless on loopback (default http://127.0.0.1:9090)"),
    WAF_FIELD("data-dir", CFG_STR, data_dir, 0, 0,
              "directory for the user database and signing key, created 0700 "
              "(default imsgw-waf-data)"),
    WAF_FIELD("key-encryption-key-file", CFG_STR, key_encryption_key_file, 0, 0,
              "secret file of 64 hex digits (openssl rand -hex 32) that encrypts the signing keys "
              "in the database; required on PostgreSQL (else " WAF_KEK_ENV ")"),
    WAF_FIELD("database", CFG_STR, database, 0, 0,
              "empty for SQLite in the data directory (default), or a postgresql:// URL of a "
              "database shared by several WAFs (password from PGPASSFILE, not the URL)"),
    WAF_FIELD("audience", CFG_STR, audience, 0, 0, "aud of access tokens (default sip:ims.test)"),
    WAF_FIELD("home-domain", CFG_STR, home_domain, 0, 0,
              "IMS home domain, realm of default IMPIs (default ims.test)"),
    WAF_FIELD("token-lifetime", CFG_INT, token_lifetime, 60, 86400,
              "access token lifetime in seconds (default 900)"),
    WAF_FIELD("argon2-t-cost", CFG_INT, argon2_t_cost, 1, 64,
              "argon2id passes for password hashes (default 3)"),
    WAF_FIELD("argon2-m-cost-kib", CFG_INT, argon2_m_cost_kib, 1024, 4194304,
              "argon2id memory in KiB (default 65536)"),
    WAF_FIELD("argon2-parallelism", CFG_INT, argon2_parallelism, 1, 16,
              "argon2id lanes (default 1)"),
    WAF_FIELD("token-alg", CFG_STR, token_alg, 0, 0,
              "algorithm of new signing keys: ES256 or RS256 (default ES256)"),
    WAF_FIELD("code-lifetime", CFG_INT, code_lifetime, 10, 600,
              "authorization code lifetime in seconds (default 300)"),
    WAF_FIELD("refresh-lifetime", CFG_INT, refresh_lifetime, 60, 31536000,
              "refresh token lifetime in seconds (default 2592000)"),
    WAF_FIELD("numeric-code-lifetime", CFG_INT, numeric_code_lifetime, 10, 300,
              "lifetime of /code numeric codes in seconds (default 300)"),
    WAF_FIELD("device-code-lifetime", CFG_INT, device_code_lifetime, 10, 600,
              "RFC 8628 device code lifetime in seconds (default 600)"),
    WAF_FIELD("device-interval", CFG_INT, device_interval, 5, 60,
              "RFC 8628 polling interval in seconds (default 5)"),
    WAF_FIELD("login-max-failures-user", CFG_INT, login_max_failures_user, 1, 1000,
              "failed sign-ins for one user from one source within throttle-window before they "
              "back off (2, 4, 8 ... s; default 5)"),
    WAF_FIELD("login-max-failures-ip", CFG_INT, login_max_failures_ip, 1, 100000,
              "failed attempts per source (IPv4 address, IPv6 /64) within throttle-window "
              "(default 20)"),
    WAF_FIELD("throttle-window", CFG_INT, throttle_window, 1, 86400,
              "seconds a failed attempt counts (default 900)"),
    WAF_FIELD("numeric-max-attempts", CFG_INT, numeric_max_attempts, 1, 20,
              "failed numeric-code redemptions per IMPU before its code is locked (default 3)"),
    WAF_FIELD("workers", CFG_INT, workers, 1, 8, "password-hashing threads (default 2)"),
    WAF_FIELD("database-connections", CFG_INT, database_connections, 1, 16,
              "store threads, each with its own database connection, that serve /token, "
              "/introspect, /revoke and /ims-digest off the event loop (default 2)"),
    WAF_FIELD("max-body", CFG_INT, max_body, 1024, 65536,
              "largest accepted request body in bytes (default 8192)"),
    WAF_FIELD("login-user-pace-after", CFG_INT, login_user_pace_after, 1, 1000000,
              "failed sign-ins for one user from all sources within throttle-window after which "
              "that user's sign-ins are paced to one per second (default 50)"),
    WAF_FIELD("device-authorization-per-source", CFG_INT, device_authz_per_source, 1, 100000,
              "device authorization requests per minute per source (default 10)"),
    WAF_FIELD("device-authorization-per-client", CFG_INT, device_authz_per_client, 1, 1000000,
              "device authorization requests per minute per client (default 120)"),
    WAF_FIELD("trusted-proxies", CFG_STRLIST, trusted_proxies, 0, 0,
              "addresses or prefixes of HTTP proxies in front of the WAF; from them the client is "
              "the rightmost other X-Forwarded-For entry (default none)"),
    WAF_FIELD("tls-cert", CFG_STR, tls_cert, 0, 0,
              "PEM certificate (then its chain) for HTTPS; reloaded on SIGHUP (default none)"),
    WAF_FIELD("tls-key", CFG_STR, tls_key, 0, 0,
              "PEM private key of tls-cert, unencrypted (default none)"),
    WAF_FIELD("allow-plain-http", CFG_BOOL, allow_plain_http, 0, 0,
              "serve plain http on a non-loopback listen address, for a TLS-terminating proxy in "
              "front (default false: refused)"),
    WAF_FIELD("hsts-max-age", CFG_INT, hsts_max_age, 0, 1L << 30,
              "Strict-Transport-Security max-age sent over TLS, s (default 31536000; 0 = not "
              "sent)"),
    WAF_FIELD("dpop-nonce", CFG_BOOL, dpop_nonce, 0, 0,
              "DPoP proofs at /token must carry a nonce from this WAF (RFC 9449 §8; default true)"),
    WAF_FIELD("dpop-max-age", CFG_INT, dpop_max_age, 10, 600,
              "seconds a DPoP proof's iat and a DPoP nonce stay acceptable (default 60)"),
    {NULL, 0, 0, 0, 0, NULL},
};

const struct cfg_program waf_program = {
    "imsgw-waf",
    "WebRTC Authorisation Function: OAuth 2.0 authorization server issuing IMS access tokens.",
    waf_fields,
};

void waf_settings_defaults(struct waf_settings *s)
{
    memset(s, 0, sizeof(*s));
    cfg_set_str(&s->listen, "127.0.0.1");
    s->port = 9090;
    cfg_set_str(&s->issuer, "http://127.0.0.1:9090");
    cfg_set_str(&s->data_dir, "imsgw-waf-data");
    cfg_set_str(&s->database, "");
    cfg_set_str(&s->key_encryption_key_file, "");
    cfg_set_str(&s->audience, "sip:ims.test");
    cfg_set_str(&s->home_domain, "ims.test");
    s->token_lifetime = 900;
    s->argon2_t_cost = 3;
    s->argon2_m_cost_kib = 65536;
    s->argon2_parallelism = 1;
    cfg_set_str(&s->token_alg, "ES256");
    s->code_lifetime = 300;
    s->refresh_lifetime = 2592000;
    s->numeric_code_lifetime = 300;
    s->device_code_lifetime = 600;
    s->device_interval = 5;
    s->login_max_failures_user = 5;
    s->login_max_failures_ip = 20;
    s->throttle_window = 900;
    s->numeric_max_attempts = 3;
    s->workers = 2;
    s->database_connections = 2;
    s->max_body = 8192;
    s->login_user_pace_after = 50;
    s->device_authz_per_source = 10;
    s->device_authz_per_client = 120;
    s->hsts_max_age = 31536000;
    s->dpop_nonce = 1;
    s->dpop_max_age = 60;
}

void waf_settings_free(struct waf_settings *s)
{
    cfg_free(&waf_program, s);
}

static int waf_settings_text(const char *name, const char *value, size_t max, char *err,
                             size_t errlen)
{
    if (!value)
        value = "";
    size_t n = strnlen(value, max + 1);
    int ok = n > 0 && n <= max;
    for (const unsigned char *c = (const unsigned char *)value; ok && *c; c++)
        ok = *c > 0x20 && *c < 0x7f;
    if (!ok)
        snprintf(err, errlen, "\"%s\" must be 1 to %zu characters without spaces", name, max);
    return ok ? 0 : -1;
}

int waf_settings_check(const struct waf_settings *s, char *err, size_t errlen)
{
    if (waf_settings_text("listen", s->listen, 255, err, errlen) < 0 ||
        waf_settings_text("audience", s->audience, WAF_URI_MAX, err, errlen) < 0)
        return -1;
    if (!s->data_dir || !s->data_dir[0] || strlen(s->data_dir) > 3000) {
        snprintf(err, errlen, "\"data-dir\" must be a path of 1 to 3000 characters");
        return -1;
    }
    if (!s->database || strlen(s->database) > 1000 ||
        (s->database[0] && !waf_db_is_postgres(s->database))) {
        snprintf(err, errlen,
                 "\"database\" must be empty (SQLite) or a postgresql:// URL of 1000 characters "
                 "at most");
        return -1;
    }
    if (!waf_user_domain_valid(s->home_domain)) {
        snprintf(err, errlen, "\"home-domain\" must be a lowercase domain name");
        return -1;
    }
    if (!s->token_alg || (strcmp(s->token_alg, "ES256") && strcmp(s->token_alg, "RS256"))) {
        snprintf(err, errlen, "\"token-alg\" must be ES256 or RS256");
        return -1;
    }
    char why[160];
    if (!peer_list_valid(s->trusted_proxies, why, sizeof(why))) {
        snprintf(err, errlen, "\"trusted-proxies\": %s", why);
        return -1;
    }
    if (tls_settings_check(s->listen, s->tls_cert, s->tls_key, s->allow_plain_http, err, errlen) <
        0)
        return -1;
    if (s->tls_cert && *s->tls_cert && strncmp(s->issuer, "https://", 8) != 0) {
        snprintf(err, errlen, "\"issuer\" must be an https URL when tls-cert is set");
        return -1;
    }
    return url_check_https_or_loopback("issuer", s->issuer, err, errlen);
}
