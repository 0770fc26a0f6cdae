/* tlsconf: read, check and swap a listener's certificate and key (OpenSSL only; the daemons hand
 * the SSL_CTX over from libwebsockets). */
#include "tlsconf.h"

#include "secretfile.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

struct tls_pair {
    X509 *cert;
    STACK_OF(X509) * chain;
    EVP_PKEY *key;
};

static void tls_pair_free(struct tls_pair *p)
{
    X509_free(p->cert);
    sk_X509_pop_free(p->chain, X509_free);
    EVP_PKEY_free(p->key);
    memset(p, 0, sizeof(*p));
}

/* An encrypted key would make OpenSSL ask for a passphrase on the terminal: refuse instead. */
static int tls_no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf, (void)size, (void)rwflag, (void)u;
    return -1;
}

static FILE *tls_open(const char *what, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f)
        snprintf(err, errlen, "cannot read %s %s: %s", what, path, strerror(errno));
    return f;
}

/* what_cert, what_key: the settings' names for the error lines. */
static int tls_pair_load(struct tls_pair *p, const char *what_cert, const char *cert,
                         const char *what_key, const char *key, char *err, size_t errlen)
{
    memset(p, 0, sizeof(*p));
    FILE *f = tls_open(what_cert, cert, err, errlen);
    if (!f)
        return -1;
    p->cert = PEM_read_X509_AUX(f, NULL, tls_no_passphrase, NULL);
    p->chain = sk_X509_new_null();
    X509 *extra;
    while (p->cert && p->chain && (extra = PEM_read_X509(f, NULL, tls_no_passphrase, NULL)))
        sk_X509_push(p->chain, extra);
    fclose(f);
    ERR_clear_error(); /* the chain loop ends on "no start line" */
    if (!p->cert || !p->chain) {
        snprintf(err, errlen, "%s %s holds no PEM certificate", what_cert, cert);
        goto fail;
    }
    /* The key is a secret: a regular file of this user, closed to group and others. */
    int fd = secretfile_open(what_key, key, err, errlen);
    if (fd < 0 || !(f = fdopen(fd, "r"))) {
        if (fd >= 0) {
            close(fd);
            snprintf(err, errlen, "cannot read %s %s: %s", what_key, key, strerror(errno));
        }
        goto fail;
    }
    p->key = PEM_read_PrivateKey(f, NULL, tls_no_passphrase, NULL);
    fclose(f);
    ERR_clear_error();
    if (!p->key) {
        snprintf(err, errlen, "%s %s holds no unencrypted PEM private key", what_key, key);
        goto fail;
    }
    if (X509_check_private_key(p->cert, p->key) != 1) {
        ERR_clear_error();
        snprintf(err, errlen, "%s %s does not match the certificate in %s %s", what_key, key,
                 what_cert, cert);
        goto fail;
    }
    return 0;
fail:
    tls_pair_free(p);
    return -1;
}

int tls_check_pair(const char *cert, const char *key, char *err, size_t errlen)
{
    struct tls_pair p;
    if (tls_pair_load(&p, "tls-cert", cert, "tls-key", key, err, errlen) < 0)
        return -1;
    tls_pair_free(&p);
    return 0;
}

int tls_addr_is_loopback(const char *addr)
{
    struct in_addr a4;
    struct in6_addr a6;
    if (strcmp(addr, "localhost") == 0 || strcmp(addr, "lo") == 0)
        return 1;
    if (inet_pton(AF_INET, addr, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, addr, &a6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&a6) || (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
    return 0; /* another interface name or address: reachable from elsewhere */
}

int tls_settings_check(const char *listen, const char *cert, const char *key, int allow_plain,
                       char *err, size_t errlen)
{
    int has_cert = cert && *cert, has_key = key && *key;
    if (has_cert != has_key) {
        snprintf(err, errlen, "tls-cert and tls-key go together: set both or neither");
        return -1;
    }
    if (has_cert)
        return tls_check_pair(cert, key, err, errlen);
    if (!allow_plain && !tls_addr_is_loopback(listen)) {
        snprintf(err, errlen,
                 "refusing plain http/ws on non-loopback address %s: set tls-cert and tls-key, "
                 "or allow-plain-http true when a TLS-terminating proxy is in front",
                 listen);
        return -1;
    }
    return 0;
}

int sip_tls_settings_check(const char *listen, const char *dir, char *err, size_t errlen)
{
    int has_listen = listen && *listen, has_dir = dir && *dir;
    char agent[4096];
    if (has_listen != has_dir) {
        snprintf(err, errlen, "sip-tls-listen and sip-tls-dir go together: set both or neither");
        return -1;
    }
    if (!has_listen)
        return 0;
    if (strncmp(listen, "sips:", 5) != 0) { /* sofia binds TLS only for a sips: URI */
        snprintf(err, errlen, "sip-tls-listen must be a sips: URI (e.g. sips:0.0.0.0:5061)");
        return -1;
    }
    if ((size_t)snprintf(agent, sizeof(agent), "%s/agent.pem", dir) >= sizeof(agent)) {
        snprintf(err, errlen, "sip-tls-dir is too long");
        return -1;
    }
    struct tls_pair p; /* one file holds both, as sofia-sip reads it */
    if (tls_pair_load(&p, "sip-tls-dir certificate", agent, "sip-tls-dir key", agent, err, errlen) <
        0)
        return -1;
    tls_pair_free(&p);
    return 0;
}

int tls_listener_reload(struct tls_listener *l, char *err, size_t errlen)
{
    struct tls_pair p;
    if (!l->ssl_ctx) {
        snprintf(err, errlen, "no TLS listener to reload");
        return -1;
    }
    if (tls_pair_load(&p, "tls-cert", l->cert_path, "tls-key", l->key_path, err, errlen) < 0)
        return -1;
    /* One call replaces certificate, key and chain together (override = 1). */
    int ok = SSL_CTX_use_cert_and_key(l->ssl_ctx, p.cert, p.key, p.chain, 1) == 1;
    tls_pair_free(&p);
    if (!ok) {
        unsigned long e = ERR_get_error();
        ERR_clear_error();
        snprintf(err, errlen, "the new certificate was not taken: %s",
                 ERR_reason_error_string(e) ? ERR_reason_error_string(e) : "unknown reason");
        return -1;
    }
    return 0;
}

void tls_fingerprint(const char *path, char *out, size_t outlen)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    FILE *f = fopen(path, "r");
    X509 *c = f ? PEM_read_X509(f, NULL, tls_no_passphrase, NULL) : NULL;
    if (f)
        fclose(f);
    out[0] = '\0';
    if (c && X509_digest(c, EVP_sha256(), md, &mdlen) == 1)
        for (unsigned i = 0; i < mdlen && 3 * i + 3 <= outlen; i++)
            snprintf(out + 3 * i, outlen - 3 * i, i + 1 < mdlen ? "%02X:" : "%02X", md[i]);
    X509_free(c);
    ERR_clear_error();
}
