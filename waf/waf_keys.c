/* waf_keys: the key file is created under a temporary name with O_EXCL and mode 0600, then linked
 * into place, so it is never readable by others, not even for a moment, and a daemon and a CLI
 * starting together never read half a key: the first link wins and the other loads it. */
#include "waf_keys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "b64url.h"
#include "jws.h"
#include "jwk.h"
#include "log.h"
#include "rnd.h"
#include "secretfile.h"

/* An encrypted key file would make OpenSSL prompt on the terminal; refuse it instead. */
static int waf_keys_no_passphrase(char *buf, int size, int rwflag, void *u)
{
    return -1;
}

static int waf_keys_is_p256(EVP_PKEY *key)
{
    char group[32];
    return EVP_PKEY_is_a(key, "EC") &&
           EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                          NULL) &&
           strcmp(group, "prime256v1") == 0;
}

static json_t *waf_keys_rsa_jwk(EVP_PKEY *key, const char *kid)
{
    BIGNUM *n = NULL, *e = NULL;
    json_t *jwk = NULL;
    if (EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &n) &&
        EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_E, &e)) {
        int nl = BN_num_bytes(n), el = BN_num_bytes(e);
        unsigned char nb[1024], eb[16];
        char ns[1400], es[24];
        if (nl <= (int)sizeof(nb) && el <= (int)sizeof(eb) && BN_bn2bin(n, nb) == nl &&
            BN_bn2bin(e, eb) == el) {
            b64url_encode(nb, (size_t)nl, ns);
            b64url_encode(eb, (size_t)el, es);
            jwk = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "kty", "RSA", "kid", kid, "use",
                            "sig", "alg", "RS256", "n", ns, "e", es);
        }
    }
    BN_free(n);
    BN_free(e);
    return jwk;
}

int waf_keys_thumbprint(EVP_PKEY *key, char out[WAF_KID_SIZE])
{
    return jwk_thumbprint(key, out);
}

static int waf_keys_load(const char *path, struct waf_signing_key *out, char *err, size_t errlen)
{
    int fd = secretfile_open("signing key", path, err, errlen);
    if (fd < 0)
        return -1;
    FILE *f = fdopen(fd, "r");
    if (!f) {
        close(fd);
        snprintf(err, errlen, "cannot read signing key %s", path);
        return -1;
    }
    EVP_PKEY *key = PEM_read_PrivateKey(f, NULL, waf_keys_no_passphrase, NULL);
    fclose(f);
    if (!key || !waf_keys_is_p256(key)) {
        EVP_PKEY_free(key);
        snprintf(err, errlen, "signing key %s is not an unencrypted EC P-256 private key", path);
        return -1;
    }
    out->pkey = key;
    snprintf(out->alg, sizeof(out->alg), "ES256");
    if (waf_keys_thumbprint(key, out->kid) < 0) {
        waf_keys_free(out);
        snprintf(err, errlen, "cannot compute the kid of %s", path);
        return -1;
    }
    return 0;
}

static int waf_keys_write_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        data += n;
        len -= (size_t)n;
    }
    return fsync(fd);
}

/* Returns 1 when our new key is at path, 0 when a concurrent creator's is, -1 on error. */
static int waf_keys_create(const char *dir, const char *path, char *err, size_t errlen)
{
    char tmp[4200], suffix[12];
    rnd_token(suffix, 6);
    snprintf(tmp, sizeof(tmp), "%s/.%s.%s", dir, WAF_KEYS_FILE, suffix);
    EVP_PKEY *key = EVP_EC_gen("P-256");
    char *pem = key ? jwk_private_pem(key) : NULL;
    EVP_PKEY_free(key);
    if (!pem) {
        snprintf(err, errlen, "cannot generate a P-256 signing key");
        return -1;
    }
    int rc = -1;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
    } else if (waf_keys_write_all(fd, pem, strlen(pem)) < 0) {
        snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
    } else if (link(tmp, path) == 0) {
        rc = 1;
    } else if (errno == EEXIST) {
        rc = 0;
    } else {
        snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
    }
    if (fd >= 0) {
        close(fd);
        unlink(tmp);
    }
    OPENSSL_cleanse(pem, strlen(pem));
    free(pem);
    return rc;
}

int waf_keys_load_or_create(const char *data_dir, struct waf_signing_key *out, char *err,
                            size_t errlen)
{
    char path[4096];
    memset(out, 0, sizeof(*out));
    if ((size_t)snprintf(path, sizeof(path), "%s/%s", data_dir, WAF_KEYS_FILE) >= sizeof(path)) {
        snprintf(err, errlen, "the data directory path is too long");
        return -1;
    }
    if (access(path, F_OK) < 0) {
        if (errno != ENOENT) {
            snprintf(err, errlen, "cannot access %s: %s", path, strerror(errno));
            return -1;
        }
        int created = waf_keys_create(data_dir, path, err, errlen);
        if (created < 0 || waf_keys_load(path, out, err, errlen) < 0)
            return -1;
        if (created)
            log_info("created signing key %s (kid %s)", path, out->kid);
        return 0;
    }
    return waf_keys_load(path, out, err, errlen);
}

json_t *waf_keys_public_jwk(const struct waf_signing_key *key)
{
    return strcmp(key->alg, "RS256") == 0 ? waf_keys_rsa_jwk(key->pkey, key->kid)
                                          : jwk_from_ec_key(key->pkey, key->kid);
}

json_t *waf_keys_jwks(const struct waf_signing_key *key)
{
    json_t *jwk = waf_keys_public_jwk(key);
    return jwk ? json_pack("{s:[o]}", "keys", jwk) : NULL;
}

/* RS256 (RSASSA-PKCS1-v1_5 with SHA-256): common/jws.c only does ES256, which the gateway needs. */
static char *waf_keys_sign_rs256(const struct waf_signing_key *key, const char *typ,
                                 const json_t *claims)
{
    json_t *hdr = json_pack("{s:s, s:s, s:s}", "alg", "RS256", "typ", typ, "kid", key->kid);
    char *h = hdr ? json_dumps(hdr, JSON_COMPACT) : NULL;
    char *c = json_dumps(claims, JSON_COMPACT);
    json_decref(hdr);
    char *out = NULL;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (h && c && md) {
        size_t hl = strlen(h), cl = strlen(c);
        size_t cap = B64URL_ENCODED_LEN(hl) + B64URL_ENCODED_LEN(cl) + 2 + 700;
        out = malloc(cap);
        if (out) {
            size_t n = b64url_encode((const uint8_t *)h, hl, out);
            out[n++] = '.';
            n += b64url_encode((const uint8_t *)c, cl, out + n);
            unsigned char sig[512];
            size_t sl = sizeof(sig);
            if (EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key->pkey) == 1 &&
                EVP_DigestSign(md, sig, &sl, (const unsigned char *)out, n) == 1 &&
                B64URL_ENCODED_LEN(sl) + n + 2 <= cap) {
                out[n++] = '.';
                b64url_encode(sig, sl, out + n);
            } else {
                free(out);
                out = NULL;
            }
        }
    }
    EVP_MD_CTX_free(md);
    free(h);
    free(c);
    return out;
}

char *waf_keys_sign(const struct waf_signing_key *key, const char *typ, const json_t *claims)
{
    if (strcmp(key->alg, "RS256") == 0)
        return waf_keys_sign_rs256(key, typ, claims);
    return jws_sign_es256(key->pkey, key->kid, typ, claims);
}

static int waf_keys_fits(EVP_PKEY *key, const char *alg)
{
    if (strcmp(alg, "RS256") == 0)
        return EVP_PKEY_is_a(key, "RSA") && EVP_PKEY_get_bits(key) >= 2048;
    return strcmp(alg, "ES256") == 0 && waf_keys_is_p256(key);
}

int waf_keys_from_pem(const char *pem, const char *alg, struct waf_signing_key *out)
{
    memset(out, 0, sizeof(*out));
    BIO *b = BIO_new_mem_buf(pem, -1);
    EVP_PKEY *key = b ? PEM_read_bio_PrivateKey(b, NULL, waf_keys_no_passphrase, NULL) : NULL;
    BIO_free(b);
    if (!key || !waf_keys_fits(key, alg) || waf_keys_thumbprint(key, out->kid) < 0) {
        EVP_PKEY_free(key);
        return -1;
    }
    out->pkey = key;
    snprintf(out->alg, sizeof(out->alg), "%s", alg);
    return 0;
}

int waf_keys_generate(const char *alg, struct waf_signing_key *out, char **pem)
{
    memset(out, 0, sizeof(*out));
    EVP_PKEY *key = strcmp(alg, "RS256") == 0 ? EVP_RSA_gen(2048) : EVP_EC_gen("P-256");
    *pem = key ? jwk_private_pem(key) : NULL;
    if (!*pem || waf_keys_thumbprint(key, out->kid) < 0) {
        EVP_PKEY_free(key);
        free(*pem);
        *pem = NULL;
        return -1;
    }
    out->pkey = key;
    snprintf(out->alg, sizeof(out->alg), "%s", alg);
    return 0;
}

void waf_keys_free(struct waf_signing_key *key)
{
    EVP_PKEY_free(key->pkey);
    key->pkey = NULL;
}

int waf_keys_verify(const struct waf_signing_key *key, const struct jws_parsed *p)
{
    char err[128];
    if (strcmp(p->alg, key->alg) != 0)
        return -1;
    if (strcmp(key->alg, "ES256") == 0)
        return jws_verify_es256(p, key->pkey, err, sizeof(err));
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok = md && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key->pkey) == 1 &&
             EVP_DigestVerify(md, p->sig, p->sig_len, (const unsigned char *)p->signing_input,
                              p->signing_input_len) == 1;
    EVP_MD_CTX_free(md);
    return ok ? 0 : -1;
}
