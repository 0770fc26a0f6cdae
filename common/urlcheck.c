/* urlcheck: the one rule for every URL a daemon is configured with that carries tokens or keys:
 * https, or plain http only when the host is this machine (then it cannot cross a network). */
#include "urlcheck.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int url_fail(char *err, size_t errlen, const char *name, const char *url, const char *why)
{
    snprintf(err, errlen, "%s \"%.*s\" %s", name, URL_CHECK_MAX, url, why);
    return -1;
}

/* host is loopback when it names this machine only: then plain http cannot cross a network. */
static int url_host_is_loopback(const char *host, size_t len)
{
    return (len == 9 && strncmp(host, "127.0.0.1", len) == 0) ||
           (len == 9 && strncasecmp(host, "localhost", len) == 0) ||
           (len == 5 && strncmp(host, "[::1]", len) == 0);
}

int url_check_https_or_loopback(const char *name, const char *url, char *err, size_t errlen)
{
    size_t n = strnlen(url, URL_CHECK_MAX + 1);
    if (n == 0 || n > URL_CHECK_MAX)
        return url_fail(err, errlen, name, url, "must be 1 to 200 characters");
    for (const unsigned char *c = (const unsigned char *)url; *c; c++)
        if (*c <= 0x20 || *c >= 0x7f)
            return url_fail(err, errlen, name, url, "has a space or control character");
    if (strpbrk(url, "?#"))
        return url_fail(err, errlen, name, url, "must not have a query or fragment");

    int secure = strncmp(url, "https://", 8) == 0;
    if (!secure && strncmp(url, "http://", 7) != 0)
        return url_fail(err, errlen, name, url, "must be an https:// URL");
    const char *authority = url + (secure ? 8 : 7);
    size_t alen = strcspn(authority, "/");
    const char *path = authority + alen;
    if (memchr(authority, '@', alen))
        return url_fail(err, errlen, name, url, "must not have userinfo");

    /* host, then an optional :port */
    size_t hlen;
    if (authority[0] == '[') {
        const char *close = memchr(authority, ']', alen);
        if (!close)
            return url_fail(err, errlen, name, url, "has an unterminated IPv6 address");
        hlen = (size_t)(close - authority) + 1;
        if (strspn(authority + 1, "0123456789abcdefABCDEF:.") != hlen - 2)
            return url_fail(err, errlen, name, url, "has a bad IPv6 address");
    } else {
        hlen = strcspn(authority, ":/");
        if (strspn(authority, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") <
            hlen)
            return url_fail(err, errlen, name, url, "has a bad host name");
    }
    if (hlen == 0)
        return url_fail(err, errlen, name, url, "has no host");
    if (hlen < alen) {
        const char *port = authority + hlen;
        size_t plen = alen - hlen - 1;
        if (port[0] != ':' || plen == 0 || plen > 5 || strspn(port + 1, "0123456789") < plen ||
            atol(port + 1) < 1 || atol(port + 1) > 65535)
            return url_fail(err, errlen, name, url, "has a bad port");
    }
    if (path[0] && path[strlen(path) - 1] == '/')
        return url_fail(err, errlen, name, url, "must not end with '/'");
    if (!secure && !url_host_is_loopback(authority, hlen))
        return url_fail(err, errlen, name, url,
                        "must use https (plain http only on 127.0.0.1, localhost or [::1])");
    return 0;
}
