/* waf_keyring: the signing keys kept in the store (table signing_keys): the current key signs,
 * retired keys stay in the JWKS until every token they signed has expired. */
#ifndef IMSGW_WAF_KEYRING_H
#define IMSGW_WAF_KEYRING_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "waf_keys.h"
#include "waf_store.h"

#define WAF_KEYRING_MAX 8

struct waf_keyring {
    struct waf_signing_key keys[WAF_KEYRING_MAX]; /* keys[0] is the current key */
    size_t n;
    char stamp[64];      /* what the table looked like at the last load */
    uint64_t checked_ms; /* when the table was last looked at */
};

/* Makes sure a current key exists (importing <data_dir>/signing-key.pem, the pre-store key file,
 * or generating one for alg), then loads the keys; 0, or -1 with err. */
int waf_keyring_open(struct waf_keyring *kr, struct waf_store *st, const char *data_dir,
                     const char *alg, char *err, size_t errlen);
/* Reloads the keys when another process (keys rotate) changed them; checks at most every 2 s. */
void waf_keyring_refresh(struct waf_keyring *kr, struct waf_store *st);
/* Retires the current key (public until now + overlap seconds) and makes a new one for alg;
 * the new kid goes to kid_out. 0, or -1 with err. */
int waf_keyring_rotate(struct waf_store *st, const char *alg, long overlap, char *kid_out,
                       char *err, size_t errlen);
/* The key that signs new tokens. */
const struct waf_signing_key *waf_keyring_current(const struct waf_keyring *kr);
/* The key named kid, or NULL (kid is untrusted input: only compared, never used otherwise). */
const struct waf_signing_key *waf_keyring_find(const struct waf_keyring *kr, const char *kid);
/* The public JWK Set of every key still published. */
json_t *waf_keyring_jwks(const struct waf_keyring *kr);
/* Frees the keys. */
void waf_keyring_free(struct waf_keyring *kr);

#endif
