/* jws: JWS compact serialisation (RFC 7515) with ES256, signed and verified with OpenSSL.
 * libjwt 1.10 (Debian 12) cannot be used for RFC 9068 access tokens: its decoder refuses any
 * typ other than "JWT" and its encoder overwrites typ (see docs/architecture.md). */
#ifndef IMSGW_JWS_H
#define IMSGW_JWS_H

#include <stddef.h>

#include <jansson.h>
#include <openssl/evp.h>

#define JWS_MAX_TOKEN 8192 /* longer credentials are refused before any parsing */
#define JWS_MAX_KID 128

/* A token split and decoded, not yet verified: nothing in it may be trusted yet. */
struct jws_parsed {
    json_t *header;            /* JSON object */
    json_t *claims;            /* JSON object */
    const char *alg;           /* points into header */
    const char *kid;           /* points into header; NULL when absent */
    const char *typ;           /* points into header; NULL when absent */
    const char *signing_input; /* header.payload, points into the caller's token */
    size_t signing_input_len;
    unsigned char sig[512];
    size_t sig_len;
};

/* Splits and decodes a compact JWS. Refuses: other than 3 parts, oversize, bad base64url, header
 * or payload not a JSON object, a missing or non-string alg, alg "none", any "crit" header.
 * Returns 0, or -1 with a reason in err (safe to log: it never quotes the token). */
int jws_parse(const char *token, size_t len, struct jws_parsed *out, char *err, size_t errlen);
/* Verifies the signature with key, which must be an EC P-256 key: the header alg must be ES256
 * (the algorithm is pinned by the key type, never chosen by the token). Returns 0 or -1. */
int jws_verify_es256(const struct jws_parsed *p, EVP_PKEY *key, char *err, size_t errlen);
/* Verifies with key, whose type pins the algorithm: an EC P-256 key needs header alg ES256, an
 * RSA key RS256 (PKCS#1 v1.5, SHA-256). Anything else fails. Returns 0 or -1. */
int jws_verify(const struct jws_parsed *p, EVP_PKEY *key, char *err, size_t errlen);

/* A public key made ready once for verifying many tokens (the gateway's JWKS keys): its OpenSSL
 * verify context is set up when it is made, so a token costs a SHA-256 and the signature check,
 * not a context set-up. Same rules as jws_verify(). Not for use by two threads at once. */
struct jws_verifier;
/* NULL for a key that is neither EC P-256 nor RSA, or out of memory; takes its own reference. */
struct jws_verifier *jws_verifier_new(EVP_PKEY *key);
void jws_verifier_free(struct jws_verifier *v);
EVP_PKEY *jws_verifier_key(const struct jws_verifier *v);
int jws_verify_with(const struct jws_parsed *p, struct jws_verifier *v, char *err, size_t errlen);
/* R‖S (2 × 32 octets) as a DER ECDSA-Sig-Value, the form OpenSSL verifies; out holds
 * JWS_ES256_DER_MAX octets. Returns its length. */
#define JWS_ES256_DER_MAX 72
size_t jws_es256_raw_to_der(const unsigned char raw[64], unsigned char out[JWS_ES256_DER_MAX]);
/* Frees what jws_parse() allocated. */
void jws_parsed_free(struct jws_parsed *p);
/* Signs claims as {"alg":"ES256","typ":typ,"kid":kid}; returns the malloc'ed compact token. */
char *jws_sign_es256(EVP_PKEY *key, const char *kid, const char *typ, const json_t *claims);
/* Signs claims under the given header as is (its alg should say ES256): DPoP proofs in tests. */
char *jws_sign_es256_header(EVP_PKEY *key, const json_t *header, const json_t *claims);

#endif
