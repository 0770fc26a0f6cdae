/* stub_settings: the IMS stub's configuration, described once in a common/config.h table. */
#ifndef IMSGW_STUB_SETTINGS_H
#define IMSGW_STUB_SETTINGS_H

#include <stddef.h>

#include "config.h"

struct stub_settings {
    char *listen;           /* SIP URI; nta binds UDP and TCP on it */
    char *tls_listen;       /* SIP over TLS: sips: URI; NULL = none */
    char *tls_dir;          /* sofia-sip's TLS directory: agent.pem (key + cert), cafile.pem */
    char *home_domain;      /* realm of Digest challenges */
    char *service_route;    /* URI returned in Service-Route */
    char **trusted_peers;   /* IP addresses allowed to send REGISTER */
    char *hss_file;         /* JSON IMPI→IMPU table; "" = built-in demo table */
    char *auth_mode;        /* "tna-only" or "digest" (TNA from trusted peers, Digest for anyone) */
    char *record_route;     /* URI the home proxy puts in Record-Route; "" = from listen */
    char **proxy_challenge; /* methods of originating requests challenged with 407; NULL = none */
    long min_expires, max_expires, default_expires, max_bindings;
    long timer_c_ms;       /* INVITE without a final answer this long after the last 1xx */
    long max_transactions; /* proxied requests in progress at once; more get 503 */
    long max_branches;     /* contacts one request forks to at most */
    int auth_digest;       /* derived from auth_mode by stub_settings_check() */
};

extern const struct cfg_program stub_settings_program;

/* Fills s with the demo defaults. */
void stub_settings_init(struct stub_settings *s);
/* Defaults < --config file < flags, then stub_settings_check(). CFG_EXIT_OK after --help. */
enum cfg_result stub_settings_load(struct stub_settings *s, int argc, char **argv, int *log_json,
                                   char *err, size_t errlen);
/* Checks what the table cannot (URIs, IP addresses, modes, expiry order); -1 with err on error. */
int stub_settings_check(struct stub_settings *s, char *err, size_t errlen);
/* Frees every string of s. */
void stub_settings_free(struct stub_settings *s);

#endif
