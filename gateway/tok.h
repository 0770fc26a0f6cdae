/* tok: the Bearer credential of a REGISTER (RFC 8898 / RFC 6750, and the TS 24.371
 * access_token="…" form) and the validation of RFC 9068 JWT access tokens. */
#ifndef IMSGW_TOK_H
#define IMSGW_TOK_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/evp.h>

#define TOK_MAX_IMPU 8
#define TOK_MAX_URI 256
#define TOK_JKT_SIZE 44 /* an RFC 7638 SHA-256 thumbprint in base64url + NUL */

enum tok_result {
    TOK_OK,
    TOK_INVALID,       /* → 401 error="invalid_token" */
    TOK_UNKNOWN_KID,   /* the caller may refresh its keys once and try again */
    TOK_INVALID_SCOPE, /* → 401 error="invalid_scope" */
    TOK_UNAVAILABLE,   /* the WAF could not answer (down, slow, busy): → 503 + Retry-After */
};

/* Longest Bearer token a REGISTER may carry; a longer one is a malformed request (→ 400). */
#define TOK_MAX_LEN 8192

/* Where the claims come from: a verified JWT, or an RFC 7662 introspection response. */
enum tok_source { TOK_FROM_JWT, TOK_FROM_INTROSPECTION };

/* What the gateway checks a token against. */
struct tok_policy {
    const char *issuer;
    const char *audience;
    const char *required_scope;
    long leeway; /* seconds of clock skew accepted on exp/nbf/iat (≤ 60) */
};

/* The identity a valid token grants. */
struct tok_identity {
    int64_t exp;
    char sub[TOK_MAX_URI];
    char impi[TOK_MAX_URI];
    char client_id[TOK_MAX_URI];
    char scope[512];
    size_t nimpu;
    char impu[TOK_MAX_IMPU][TOK_MAX_URI];
    char jkt[TOK_JKT_SIZE]; /* cnf.jkt: the DPoP key the token is bound to; "" for a bearer token */
};

struct jws_verifier;
/* Returns the prepared key for kid (ownership stays with the caller), or NULL. */
typedef struct jws_verifier *(*tok_key_lookup)(void *ctx, const char *kid);

/* Finds the token in the parameters of one Bearer credential: either the RFC 6750 b64token or
 * access_token="…". Returns 0 with *tok and *len pointing into params, or -1 if malformed. */
int tok_from_bearer_params(const char *const *params, const char **tok, size_t *len);
/* Validates a JWS access token: alg pinned by the key, signature, typ at+jwt, iss, aud,
 * exp, nbf and iat with leeway, sub, client_id, the required scope, impu. why gets a loggable
 * reason (never the token). */
enum tok_result tok_validate(const char *token, size_t len, const struct tok_policy *policy,
                             tok_key_lookup lookup, void *lookup_ctx, int64_t now,
                             struct tok_identity *id, char *why, size_t whylen);
/* Checks claims (a JWT payload or an introspection response): active and token_type "Bearer" or
 * "DPoP" (introspection: a refresh token is never an access token), cnf.jkt if any, iss, aud,
 * exp, nbf and iat with leeway, sub, client_id, jti (JWT), impi, impu, the required scope. */
enum tok_result tok_validate_claims(json_t *claims, enum tok_source src,
                                    const struct tok_policy *policy, int64_t now,
                                    struct tok_identity *id, char *why, size_t whylen);
/* 1 when the token has the shape of a JWS compact serialisation (else it is opaque). */
int tok_is_jws(const char *token, size_t len);
/* 1 when uri is one of the identities' IMPUs. */
int tok_has_impu(const struct tok_identity *id, const char *uri);

#endif
