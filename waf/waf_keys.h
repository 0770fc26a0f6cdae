/* waf_keys: the WAF's ES256 signing key (<data-dir>/signing-key.pem, PKCS#8, mode 0600), its
 * RFC 7638 kid and the public JWKS. The private key never leaves this process. */
#ifndef IMSGW_WAF_KEYS_H
#define IMSGW_WAF_KEYS_H

#include <stddef.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "jws.h"

#define WAF_KEYS_FILE "signing-key.pem"
#define WAF_KID_SIZE 44 /* base64url of a SHA-256 (43 chars) + NUL */

struct waf_signing_key {
    EVP_PKEY *pkey;
    char kid[WAF_KID_SIZE];
    char alg[8]; /* "ES256" or "RS256": bound to the key, never taken from a request */
};

/* Loads <data_dir>/signing-key.pem, creating a new P-256 key there first if there is none.
 * Refuses a file group or others may access. 0, or -1 with one line in err. */
int waf_keys_load_or_create(const char *data_dir, struct waf_signing_key *out, char *err,
                            size_t errlen);
/* Writes the RFC 7638 JWK thumbprint of an EC P-256 or RSA key into out; 0 or -1. */
int waf_keys_thumbprint(EVP_PKEY *key, char out[WAF_KID_SIZE]);
/* The public JWK {kty,kid,use,alg,...} of key; NULL on error. */
json_t *waf_keys_public_jwk(const struct waf_signing_key *key);
/* Signs claims as a compact JWS {alg: key's alg, typ, kid}; malloc'ed, NULL on error. */
char *waf_keys_sign(const struct waf_signing_key *key, const char *typ, const json_t *claims);
/* Verifies a parsed JWS with key (its alg must be the key's); 0 or -1. */
int waf_keys_verify(const struct waf_signing_key *key, const struct jws_parsed *p);
/* Loads an unencrypted PKCS#8 PEM private key for alg (ES256: P-256, RS256: RSA >= 2048). */
int waf_keys_from_pem(const char *pem, const char *alg, struct waf_signing_key *out);
/* Generates a new key for alg (ES256 or RS256 with 2048 bits); its PEM is malloc'ed into *pem. */
int waf_keys_generate(const char *alg, struct waf_signing_key *out, char **pem);
/* The public JWK Set {"keys":[…]} of key; NULL on error. */
json_t *waf_keys_jwks(const struct waf_signing_key *key);
/* Frees the key (the struct itself is the caller's). */
void waf_keys_free(struct waf_signing_key *key);

#endif
