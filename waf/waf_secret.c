/* waf_secret: secrets are stored hashed, so the comparisons that matter run on hashes of equal
 * length; CRYPTO_memcmp keeps even those free of early exits. */
#include "waf_secret.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "rnd.h"

void waf_secret_new(char out[WAF_SECRET_LEN])
{
    rnd_token(out, WAF_SECRET_BYTES);
}

void waf_secret_hash(const char *value, char out[WAF_HASH_HEX])
{
    waf_secret_hash_bytes(value, strlen(value), out);
}

void waf_secret_hash_bytes(const void *data, size_t len, char out[WAF_HASH_HEX])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char d[SHA256_DIGEST_LENGTH];
    SHA256(data, len, d);
    for (size_t i = 0; i < sizeof(d); i++) {
        out[2 * i] = hex[d[i] >> 4];
        out[2 * i + 1] = hex[d[i] & 15];
    }
    out[2 * sizeof(d)] = '\0';
}

int waf_secret_equal(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    return la == lb && CRYPTO_memcmp(a, b, la) == 0;
}

/* A byte below the largest multiple of n, so every residue is equally likely. */
static unsigned waf_secret_uniform(unsigned n)
{
    unsigned limit = 256 - 256 % n;
    unsigned char b;
    do
        rnd_bytes(&b, 1);
    while (b >= limit);
    return b % n;
}

void waf_secret_digits(char *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = (char)('0' + waf_secret_uniform(10));
    out[n] = '\0';
}

void waf_secret_user_code(char out[WAF_USER_CODE_LEN + 1])
{
    static const char alphabet[] = WAF_USER_CODE_ALPHABET;
    for (size_t i = 0; i < WAF_USER_CODE_LEN; i++)
        out[i] = alphabet[waf_secret_uniform(sizeof(alphabet) - 1)];
    out[WAF_USER_CODE_LEN] = '\0';
}

int waf_secret_user_code_norm(const char *typed, char out[WAF_USER_CODE_LEN + 1])
{
    size_t n = 0;
    for (const char *c = typed; *c; c++) {
        if (*c == '-' || *c == ' ')
            continue;
        char u = *c >= 'a' && *c <= 'z' ? (char)(*c - 'a' + 'A') : *c;
        if (n == WAF_USER_CODE_LEN || !strchr(WAF_USER_CODE_ALPHABET, u) || u == '\0')
            return -1;
        out[n++] = u;
    }
    out[n] = '\0';
    return n == WAF_USER_CODE_LEN ? 0 : -1;
}

int waf_secret_is_numeric(const char *s)
{
    size_t n = strspn(s, "0123456789");
    return n == WAF_NUMERIC_DIGITS && s[n] == '\0';
}
