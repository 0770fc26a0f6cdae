#include "admin_auth.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <libwebsockets.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "secretfile.h"

static unsigned char admin_hash[SHA256_DIGEST_LENGTH];
static int admin_loaded;

int admin_auth_load(const char *path, char *err, size_t errlen)
{
    char buf[ADMIN_MAX_PASSWORD + 2], pair[sizeof(ADMIN_USER) + sizeof(buf)];
    int fd = secretfile_open("admin-credential-file", path, err, errlen);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n < 0)
        n = 0;
    buf[n] = '\0';
    size_t len = strcspn(buf, "\r\n");
    buf[len] = '\0';
    int rc = -1;
    if (len < ADMIN_MIN_PASSWORD || len > ADMIN_MAX_PASSWORD)
        snprintf(err, errlen,
                 "admin-credential-file %s: the password must be one line of %d to %d "
                 "characters",
                 path, ADMIN_MIN_PASSWORD, ADMIN_MAX_PASSWORD);
    else {
        int plen = snprintf(pair, sizeof(pair), "%s:%s", ADMIN_USER, buf);
        SHA256((const unsigned char *)pair, (size_t)plen, admin_hash);
        admin_loaded = 1;
        rc = 0;
    }
    OPENSSL_cleanse(buf, sizeof(buf));
    OPENSSL_cleanse(pair, sizeof(pair));
    return rc;
}

int admin_auth_enabled(void)
{
    return admin_loaded;
}

int admin_auth_check(const char *authorization)
{
    char pair[ADMIN_MAX_PASSWORD + sizeof(ADMIN_USER) + 8];
    unsigned char hash[SHA256_DIGEST_LENGTH];
    if (!admin_loaded || !authorization || strncasecmp(authorization, "Basic ", 6) != 0)
        return 0;
    const char *b64 = authorization + 6;
    b64 += strspn(b64, " ");
    /* base64 of the longest acceptable pair fits in 4/3 of it; longer is refused unread */
    if (strlen(b64) > (sizeof(pair) - 1) / 3 * 4)
        return 0;
    int n = lws_b64_decode_string(b64, pair, (int)sizeof(pair));
    if (n <= 0)
        return 0;
    SHA256((const unsigned char *)pair, (size_t)n, hash);
    OPENSSL_cleanse(pair, sizeof(pair));
    return CRYPTO_memcmp(hash, admin_hash, sizeof(hash)) == 0;
}
