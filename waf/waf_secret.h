/* waf_secret: generated secrets (tokens, codes, client secrets), their stored SHA-256 form and
 * constant-time comparison. */
#ifndef IMSGW_WAF_SECRET_H
#define IMSGW_WAF_SECRET_H

#include <stddef.h>

#define WAF_SECRET_BYTES 32  /* 256 bits for every non-typed secret */
#define WAF_SECRET_LEN 44    /* base64url of 32 bytes + NUL */
#define WAF_HASH_HEX 65      /* hex SHA-256 + NUL */
#define WAF_NUMERIC_DIGITS 9 /* /code codes: 10^9 ≈ 2^29.9, guarded by attempts */
#define WAF_USER_CODE_ALPHABET "BCDFGHJKLMNPQRSTVWXZ" /* RFC 8628 §6.1 */
#define WAF_USER_CODE_LEN 8

/* A fresh 256-bit secret in base64url (43 characters) into out. */
void waf_secret_new(char out[WAF_SECRET_LEN]);
/* The hex SHA-256 of value, as the store keeps secrets. */
void waf_secret_hash(const char *value, char out[WAF_HASH_HEX]);
/* The same of len bytes at data (which may hold NULs). */
void waf_secret_hash_bytes(const void *data, size_t len, char out[WAF_HASH_HEX]);
/* 1 if a and b are equal; the time depends only on their lengths. */
int waf_secret_equal(const char *a, const char *b);
/* n uniformly random decimal digits (no modulo bias) into out (n + 1 bytes). */
void waf_secret_digits(char *out, size_t n);
/* An 8-letter RFC 8628 user code from WAF_USER_CODE_ALPHABET into out (9 bytes). */
void waf_secret_user_code(char out[WAF_USER_CODE_LEN + 1]);
/* Normalises a typed user code (drops dashes and spaces, upper-cases); 0, or -1 if it cannot be
 * one of ours. */
int waf_secret_user_code_norm(const char *typed, char out[WAF_USER_CODE_LEN + 1]);
/* 1 if s is exactly WAF_NUMERIC_DIGITS decimal digits (the /code shape). */
int waf_secret_is_numeric(const char *s);

#endif
