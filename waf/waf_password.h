/* waf_password: argon2id password hashes (PHC strings from libargon2) and generated passwords. */
#ifndef IMSGW_WAF_PASSWORD_H
#define IMSGW_WAF_PASSWORD_H

#include <stddef.h>
#include <stdint.h>

#define WAF_PASSWORD_MIN 8
#define WAF_PASSWORD_MAX 1024
#define WAF_PASSWORD_GEN_SIZE 17 /* 12 random bytes in base64url + NUL */
#define WAF_HASH_MAX 256         /* an encoded argon2id hash always fits */

struct waf_argon2 {
    uint32_t t_cost;
    uint32_t m_cost_kib;
    uint32_t parallelism;
};

/* Hashes password with argon2id and a fresh 16-byte salt into out (a NUL-terminated
 * "$argon2id$v=19$m=…" string); 0, or -1 with a reason in err. */
int waf_password_hash(const struct waf_argon2 *params, const char *password, char *out,
                      size_t outlen, char *err, size_t errlen);
/* 1 if password matches the encoded argon2id hash, else 0 (also for a malformed hash). */
int waf_password_verify(const char *encoded, const char *password);
/* 0 if password is acceptable (WAF_PASSWORD_MIN..MAX bytes), else -1 with a reason in err. */
int waf_password_policy(const char *password, char *err, size_t errlen);
/* Writes a fresh random password (96 bits, base64url) into out. */
void waf_password_generate(char out[WAF_PASSWORD_GEN_SIZE]);

#endif
