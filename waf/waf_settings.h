/* waf_settings: every setting of imsgw-waf, described once in a cfg_field table (JSON key = flag
 * name), plus the checks a per-field bound cannot express (issuer scheme, name syntax). */
#ifndef IMSGW_WAF_SETTINGS_H
#define IMSGW_WAF_SETTINGS_H

#include <stddef.h>

#include "config.h"
#include "urlcheck.h"

#define WAF_ISSUER_MAX URL_CHECK_MAX

struct waf_settings {
    char *listen;
    long port;
    char *issuer;
    char *data_dir;
    char *database;                /* "" = SQLite in data_dir, else a postgresql:// URL */
    char *key_encryption_key_file; /* seals the signing keys at rest ("" = env or none) */
    char *audience;
    char *home_domain;
    long token_lifetime;
    long argon2_t_cost;
    long argon2_m_cost_kib;
    long argon2_parallelism;
    char *token_alg;            /* ES256 or RS256: the algorithm of new signing keys */
    long code_lifetime;         /* authorization codes, <= 600 s */
    long refresh_lifetime;      /* refresh-token families */
    long numeric_code_lifetime; /* /code page codes, <= 300 s */
    long device_code_lifetime;  /* RFC 8628 device codes, <= 600 s */
    long device_interval;       /* RFC 8628 polling interval, >= 5 s */
    long login_max_failures_user;
    long login_max_failures_ip;
    long throttle_window;         /* seconds a failure counts against a user or an address */
    long numeric_max_attempts;    /* failed redemptions per IMPU before its code is locked */
    long workers;                 /* password-hashing threads */
    long database_connections;    /* store threads, one connection each (waf_work) */
    long max_body;                /* request body bytes */
    long login_user_pace_after;   /* failures for one user (all sources) before pacing */
    long device_authz_per_source; /* /device_authorization per minute per source */
    long device_authz_per_client; /* … per client */
    char **trusted_proxies;       /* X-Forwarded-For is believed from these peers only */
    char *tls_cert;               /* PEM certificate (+ chain): HTTPS when set */
    char *tls_key;                /* PEM private key of tls_cert */
    int allow_plain_http;         /* plain http on a non-loopback address (a TLS proxy in front) */
    long hsts_max_age;            /* Strict-Transport-Security max-age over TLS; 0 = not sent */
    int dpop_nonce;               /* /token demands a DPoP nonce of its own (RFC 9449 §8) */
    long dpop_max_age;            /* seconds a DPoP proof (and a WAF nonce) stays acceptable */
};

extern const struct cfg_program waf_program;

/* Fills s with the demo defaults; the strings are owned and freed by waf_settings_free(). */
void waf_settings_defaults(struct waf_settings *s);
/* Checks what the table's bounds cannot; 0, or -1 with one line in err. */
int waf_settings_check(const struct waf_settings *s, char *err, size_t errlen);
/* Frees the strings of s. */
void waf_settings_free(struct waf_settings *s);

#endif
