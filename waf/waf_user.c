/* waf_user: identities are checked by whitelist, so a value that reaches SQL, JSON or a log line
 * can never carry quoting, whitespace or control characters the next layer would interpret. */
#include "waf_user.h"

#include <stdio.h>
#include <string.h>

#include "text.h"

int waf_user_name_valid(const char *name)
{
    size_t n = strnlen(name, WAF_NAME_MAX + 1);
    if (n == 0 || n > WAF_NAME_MAX)
        return 0;
    return strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

int waf_user_impu_valid(const char *impu)
{
    if (strncmp(impu, "sip:", 4) != 0 && strncmp(impu, "tel:", 4) != 0)
        return 0;
    return text_visible(impu, WAF_URI_MAX) && impu[4] != '\0';
}

int waf_user_impi_valid(const char *impi)
{
    if (!text_visible(impi, WAF_URI_MAX))
        return 0;
    const char *at = strrchr(impi, '@');
    return at && at != impi && at[1] != '\0';
}

int waf_user_domain_valid(const char *domain)
{
    size_t n = strnlen(domain, WAF_DOMAIN_MAX + 1);
    if (n == 0 || n > WAF_DOMAIN_MAX || domain[0] == '.' || domain[0] == '-')
        return 0;
    return strspn(domain, "abcdefghijklmnopqrstuvwxyz0123456789.-") == n;
}

int waf_user_check(const struct waf_user *u, char *err, size_t errlen)
{
    if (!waf_user_name_valid(u->name)) {
        snprintf(err, errlen, "user names are 1 to %d characters of a-z 0-9 . _ -", WAF_NAME_MAX);
        return -1;
    }
    if (!waf_user_impi_valid(u->impi)) {
        snprintf(err, errlen, "the IMPI must look like user@realm (at most %d characters)",
                 WAF_URI_MAX);
        return -1;
    }
    if (u->n_impu == 0 || u->n_impu > WAF_IMPUS_MAX) {
        snprintf(err, errlen, "a user needs 1 to %d IMPUs", WAF_IMPUS_MAX);
        return -1;
    }
    for (size_t i = 0; i < u->n_impu; i++) {
        if (!waf_user_impu_valid(u->impu[i])) {
            snprintf(err, errlen,
                     "IMPU %zu must start with sip: or tel: and have at most %d characters, "
                     "no spaces",
                     i + 1, WAF_URI_MAX);
            return -1;
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(u->impu[i], u->impu[j]) == 0) {
                snprintf(err, errlen, "IMPU %zu is given twice", i + 1);
                return -1;
            }
    }
    return 0;
}

/* Copies src into a fixed field; a value too long leaves the field empty, so the check that
 * follows names the field that is wrong. */
static void waf_user_copy(char *dst, size_t size, const char *src)
{
    size_t n = strnlen(src, size);
    if (n >= size)
        n = 0;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

int waf_user_build(struct waf_user *u, const char *name, const char *impi, const char *home_domain,
                   const char *const *impus, size_t n_impu, char *err, size_t errlen)
{
    memset(u, 0, sizeof(*u));
    if (n_impu > WAF_IMPUS_MAX) {
        snprintf(err, errlen, "a user needs 1 to %d IMPUs", WAF_IMPUS_MAX);
        return -1;
    }
    waf_user_copy(u->name, sizeof(u->name), name);
    if (impi)
        waf_user_copy(u->impi, sizeof(u->impi), impi);
    else if ((size_t)snprintf(u->impi, sizeof(u->impi), "%s@%s", name, home_domain) >=
             sizeof(u->impi))
        u->impi[0] = '\0';
    for (size_t i = 0; i < n_impu; i++)
        waf_user_copy(u->impu[i], sizeof(u->impu[i]), impus[i]);
    u->n_impu = n_impu;
    return waf_user_check(u, err, errlen);
}
