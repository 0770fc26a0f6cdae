/* tlsconf: the certificate and key of a daemon's HTTPS/WSS listener, and the rule for plain
 * listeners. The pair is read and checked here (readable PEM, key matches certificate) before
 * libwebsockets sees it, so a bad pair is one plain line and a non-zero exit, and a reload never
 * half-applies: SIGHUP loads and checks the new pair first, then swaps it into the listener's
 * SSL_CTX in one call. New handshakes present the new certificate; an established connection
 * keeps the one it was shaken with (OpenSSL copies the certificate into each SSL at SSL_new). */
#ifndef IMSGW_TLSCONF_H
#define IMSGW_TLSCONF_H

#include <stddef.h>

struct tls_listener {
    const char *cert_path; /* PEM: the certificate, then its chain */
    const char *key_path;  /* PEM: the private key, unencrypted */
    void *ssl_ctx;         /* the listener's SSL_CTX, once libwebsockets created it */
};

/* Checks the listener settings of one daemon: cert and key both or neither; a pair that loads
 * and matches; without TLS, a loopback address unless allow_plain. -1 with one line in err. */
int tls_settings_check(const char *listen, const char *cert, const char *key, int allow_plain,
                       char *err, size_t errlen);
/* 1 when addr is a loopback address (127.0.0.0/8, ::1) or the name localhost / lo. */
int tls_addr_is_loopback(const char *addr);
/* Loads and checks a pair without using it: 0, or -1 with one line in err. */
int tls_check_pair(const char *cert, const char *key, char *err, size_t errlen);
/* Checks the IMS-side SIP TLS settings (sofia-sip's layout: dir/agent.pem holds key and
 * certificate, dir/cafile.pem the CAs): both or neither; a sips: URI; a matching pair. */
int sip_tls_settings_check(const char *listen, const char *dir, char *err, size_t errlen);
/* Reloads the pair from its files into l->ssl_ctx: 0, or -1 (the old pair stays) with err. */
int tls_listener_reload(struct tls_listener *l, char *err, size_t errlen);
/* SHA-256 fingerprint (hex with colons) of the certificate in path, for the log; "" if none. */
void tls_fingerprint(const char *path, char *out, size_t outlen);

#endif
