/* jwk: EC P-256 public keys between OpenSSL, JWK (RFC 7517) and PEM (what libjwt 1.10 takes). */
#ifndef IMSGW_JWK_H
#define IMSGW_JWK_H

#include <stddef.h>

#include <jansson.h>
#include <openssl/evp.h>

/* Builds the public JWK {kty,crv,kid,use,alg,x,y} of an EC P-256 key; NULL on error. */
json_t *jwk_from_ec_key(EVP_PKEY *key, const char *kid);
/* Parses one EC P-256 public JWK (requires kty=EC, crv=P-256, 32-byte x and y on the curve, and
 * alg ES256 if alg is present). Returns the key or NULL with a reason in err. */
EVP_PKEY *jwk_to_ec_key(const json_t *jwk, char *err, size_t errlen);
/* Parses one public JWK of a kind the gateway verifies: EC P-256 (ES256) or RSA of at least
 * 2048 bits (RS256; alg must be RS256 if present). NULL with a reason for anything else. */
EVP_PKEY *jwk_to_public_key(const json_t *jwk, char *err, size_t errlen);
#define JWK_THUMBPRINT_SIZE 44 /* base64url of a SHA-256 (43 chars) + NUL */

/* Writes the RFC 7638 JWK thumbprint of an EC P-256 or RSA public key into out; 0 or -1. It is
 * both the WAF's kid and the cnf.jkt of a DPoP-bound token (RFC 9449 §6). */
int jwk_thumbprint(EVP_PKEY *key, char out[JWK_THUMBPRINT_SIZE]);
/* PEM text (SubjectPublicKeyInfo) of a public key, malloc'ed; NULL on error. */
char *jwk_public_pem(EVP_PKEY *key);
/* PEM text (PKCS#8) of a private key, malloc'ed; NULL on error. */
char *jwk_private_pem(EVP_PKEY *key);

#endif
