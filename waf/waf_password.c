/* waf_password: argon2id (RFC 9106) so a stolen database costs an attacker memory-hard work per
 * guess; the parameters travel inside each hash, so raising them later keeps old hashes valid. */
#include "waf_password.h"

#include <stdio.h>
#include <string.h>

#include <argon2.h>

#include "rnd.h"

#define WAF_SALT_LEN 16
#define WAF_HASH_LEN 32

int waf_password_hash(const struct waf_argon2 *params, const char *password, char *out,
                      size_t outlen, char *err, size_t errlen)
{
    uint8_t salt[WAF_SALT_LEN];
    size_t need = argon2_encodedlen(params->t_cost, params->m_cost_kib, params->parallelism,
                                    WAF_SALT_LEN, WAF_HASH_LEN, Argon2_id);
    if (need > outlen) {
        snprintf(err, errlen, "the password hash does not fit (%zu bytes)", need);
        return -1;
    }
    rnd_bytes(salt, sizeof(salt));
    int rc =
        argon2id_hash_encoded(params->t_cost, params->m_cost_kib, params->parallelism, password,
                              strlen(password), salt, sizeof(salt), WAF_HASH_LEN, out, outlen);
    if (rc != ARGON2_OK) {
        snprintf(err, errlen, "argon2id failed: %s", argon2_error_message(rc));
        return -1;
    }
    return 0;
}

int waf_password_verify(const char *encoded, const char *password)
{
    return argon2id_verify(encoded, password, strlen(password)) == ARGON2_OK;
}

int waf_password_policy(const char *password, char *err, size_t errlen)
{
    size_t n = strnlen(password, WAF_PASSWORD_MAX + 1);
    if (n < WAF_PASSWORD_MIN || n > WAF_PASSWORD_MAX) {
        snprintf(err, errlen, "a password must have %d to %d characters", WAF_PASSWORD_MIN,
                 WAF_PASSWORD_MAX);
        return -1;
    }
    return 0;
}

void waf_password_generate(char out[WAF_PASSWORD_GEN_SIZE])
{
    rnd_token(out, 12);
}
