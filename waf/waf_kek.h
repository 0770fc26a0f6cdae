/* waf_kek: the key-encryption key that protects the signing keys at rest. With it, a private key
 * is stored as "enc:v1:" + base64url(nonce | AES-256-GCM ciphertext | tag), its kid bound as
 * associated data (a sealed key cannot be moved to another kid). The key comes from a secret file
 * (key-encryption-key-file, checked like every secret file) or the environment variable
 * IMSGW_WAF_KEY_ENCRYPTION_KEY, as 64 hex digits (openssl rand -hex 32). */
#ifndef IMSGW_WAF_KEK_H
#define IMSGW_WAF_KEK_H

#include <stddef.h>

#define WAF_KEK_ENV "IMSGW_WAF_KEY_ENCRYPTION_KEY"
#define WAF_KEK_PREFIX "enc:v1:"

struct waf_kek {
    int set;
    unsigned char key[32];
};

/* Loads the key from path (when non-empty) or the environment; no key at all leaves k->set 0.
 * 0, or -1 with err (a file that is not a secret file, or text that is not 64 hex digits). */
int waf_kek_load(struct waf_kek *k, const char *path, char *err, size_t errlen);
/* Seals pem for kid; a malloc'd string, NULL on failure. */
char *waf_kek_seal(const struct waf_kek *k, const char *kid, const char *pem);
/* The PEM of a stored value: sealed ones are opened (the kid must match), a clear PEM is copied.
 * A malloc'd string the caller cleanses; NULL with err on failure. */
char *waf_kek_unseal(const struct waf_kek *k, const char *kid, const char *stored, char *err,
                     size_t errlen);
/* A 32-byte key for another purpose, derived under label (HMAC-SHA256): the same on every
 * replica that shares the key-encryption key. 0, or -1 when no key is set. */
int waf_kek_derive(const struct waf_kek *k, const char *label, unsigned char out[32]);
/* Wipes the key. */
void waf_kek_clear(struct waf_kek *k);

#endif
