/* stub_addr: the registrar keys bindings and the HSS table by canonical AOR strings, so both
 * must produce them the same way. */
#include "stub_addr.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include <sofia-sip/su_string.h>

char *stub_aor(su_home_t *home, const url_t *url)
{
    if (!url)
        return NULL;
    if (url->url_type == url_tel)
        return url->url_user && *url->url_user ? su_sprintf(home, "tel:%s", url->url_user) : NULL;
    if (url->url_type != url_sip && url->url_type != url_sips)
        return NULL;
    if (!url->url_host || !*url->url_host)
        return NULL;
    char *aor =
        su_sprintf(home, "%s:%s%s%s%s%s", url->url_type == url_sips ? "sips" : "sip",
                   url->url_user ? url->url_user : "", url->url_user ? "@" : "", url->url_host,
                   url->url_port ? ":" : "", url->url_port ? url->url_port : "");
    /* Only the host part is case-insensitive; the user part is compared as sent. */
    char *host = aor ? strrchr(aor, '@') : NULL;
    for (char *c = host ? host : (aor ? strchr(aor, ':') : NULL); c && *c; c++)
        *c = (char)tolower((unsigned char)*c);
    return aor;
}

char *stub_aor_text(su_home_t *home, const char *text)
{
    for (const char *c = text; c && *c; c++)
        if ((unsigned char)*c <= ' ' || (unsigned char)*c >= 0x7f || strchr("<>\",", *c))
            return NULL;
    url_t *url = text ? url_make(home, text) : NULL;
    return url ? stub_aor(home, url) : NULL;
}

char *stub_nameaddr(su_home_t *home, const char *display, const url_t *url,
                    const msg_param_t *params, const char *skip)
{
    char *uri = url_as_string(home, url);
    if (!uri)
        return NULL;
    char *out = su_sprintf(home, "%s%s<%s>", display && *display ? display : "",
                           display && *display ? " " : "", uri);
    size_t skiplen = skip ? strlen(skip) : 0;
    for (size_t i = 0; out && params && params[i]; i++) {
        const char *p = params[i];
        if (skip && strncasecmp(p, skip, skiplen) == 0 && (p[skiplen] == '=' || !p[skiplen]))
            continue;
        out = su_sprintf(home, "%s;%s", out, p);
    }
    return out;
}

/* IPv4 addresses become ::ffff:a.b.c.d so both spellings of a peer compare equal. */
static int stub_ip_parse(const char *text, struct in6_addr *out)
{
    struct in_addr v4;
    if (inet_pton(AF_INET, text, &v4) == 1) {
        memset(out, 0, sizeof(*out));
        out->s6_addr[10] = 0xff;
        out->s6_addr[11] = 0xff;
        memcpy(&out->s6_addr[12], &v4, 4);
        return 0;
    }
    return inet_pton(AF_INET6, text, out) == 1 ? 0 : -1;
}

int stub_ip_valid(const char *text)
{
    struct in6_addr a;
    return text && stub_ip_parse(text, &a) == 0;
}

int stub_ip_in_list(const char *ip, char *const *list)
{
    struct in6_addr a, b;
    if (!ip || stub_ip_parse(ip, &a) < 0)
        return 0;
    for (char *const *p = list; p && *p; p++)
        if (stub_ip_parse(*p, &b) == 0 && memcmp(&a, &b, sizeof(a)) == 0)
            return 1;
    return 0;
}
