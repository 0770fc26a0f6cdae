/* waf_form: every value is bounded and may not carry control characters, so what reaches the
 * store, a page or a log line is printable text of known size. */
#include "waf_form.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WAF_BUF_MAX (256 * 1024)

static int waf_form_hex(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

char *waf_form_decode(const char *s, size_t len)
{
    if (len > 3 * WAF_FORM_VALUE_MAX)
        return NULL;
    char *out = malloc(len + 1);
    size_t n = 0;
    for (size_t i = 0; out && i < len; i++) {
        int c = (unsigned char)s[i];
        if (c == '+')
            c = ' ';
        else if (c == '%') {
            int hi = i + 2 < len ? waf_form_hex(s[i + 1]) : -1;
            int lo = i + 2 < len ? waf_form_hex(s[i + 2]) : -1;
            if (hi < 0 || lo < 0)
                goto bad;
            c = hi * 16 + lo;
            i += 2;
        }
        if (c < 0x20 || c == 0x7f)
            goto bad;
        out[n++] = (char)c;
    }
    if (!out || n > WAF_FORM_VALUE_MAX)
        goto bad;
    out[n] = '\0';
    return out;
bad:
    free(out);
    return NULL;
}

static int waf_form_insert(struct waf_form *f, char *name, char *value)
{
    int rc = WAF_FORM_OK;
    if (!name || !value || !name[0] || f->n == WAF_FORM_FIELDS_MAX)
        rc = WAF_FORM_MALFORMED;
    else if (waf_form_get(f, name))
        rc = WAF_FORM_DUPLICATE;
    if (rc != WAF_FORM_OK) {
        free(name);
        free(value);
        return rc;
    }
    f->name[f->n] = name;
    f->value[f->n++] = value;
    return WAF_FORM_OK;
}

int waf_form_parse(struct waf_form *f, const char *text, size_t len)
{
    size_t i = 0;
    while (i < len) {
        size_t end = i;
        while (end < len && text[end] != '&')
            end++;
        if (end > i) {
            const char *eq = memchr(text + i, '=', end - i);
            size_t nl = eq ? (size_t)(eq - (text + i)) : end - i;
            char *name = waf_form_decode(text + i, nl);
            char *value = eq ? waf_form_decode(eq + 1, end - nl - i - 1) : strdup("");
            int rc = waf_form_insert(f, name, value);
            if (rc != WAF_FORM_OK)
                return rc;
        }
        i = end + 1;
    }
    return WAF_FORM_OK;
}

int waf_form_add(struct waf_form *f, const char *name, const char *value)
{
    for (const unsigned char *c = (const unsigned char *)value; *c; c++)
        if (*c < 0x20 || *c == 0x7f)
            return WAF_FORM_MALFORMED;
    if (strlen(value) > WAF_FORM_VALUE_MAX)
        return WAF_FORM_MALFORMED;
    return waf_form_insert(f, strdup(name), strdup(value));
}

const char *waf_form_get(const struct waf_form *f, const char *name)
{
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->name[i], name) == 0)
            return f->value[i];
    return NULL;
}

void waf_form_free(struct waf_form *f)
{
    for (size_t i = 0; i < f->n; i++) {
        free(f->name[i]);
        free(f->value[i]);
    }
    f->n = 0;
}

static void waf_buf_append(struct waf_buf *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = cap <= WAF_BUF_MAX ? realloc(b->p, cap) : NULL;
        if (!p) {
            b->failed = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void waf_buf_printf(struct waf_buf *b, const char *fmt, ...)
{
    char small[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(small)) {
        b->failed = 1; /* callers format short fixed text; long values go through _html/_url */
        return;
    }
    waf_buf_append(b, small, (size_t)n);
}

void waf_buf_html(struct waf_buf *b, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&':
            waf_buf_append(b, "&amp;", 5);
            break;
        case '<':
            waf_buf_append(b, "&lt;", 4);
            break;
        case '>':
            waf_buf_append(b, "&gt;", 4);
            break;
        case '"':
            waf_buf_append(b, "&quot;", 6);
            break;
        case '\'':
            waf_buf_append(b, "&#39;", 5);
            break;
        default:
            waf_buf_append(b, s, 1);
        }
    }
}

void waf_buf_url(struct waf_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *c = (const unsigned char *)s; c && *c; c++) {
        if ((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
            strchr("-._~", *c))
            waf_buf_append(b, (const char *)c, 1);
        else {
            char e[3] = {'%', hex[*c >> 4], hex[*c & 15]};
            waf_buf_append(b, e, 3);
        }
    }
}

char *waf_buf_take(struct waf_buf *b, size_t *len)
{
    char *p = b->failed ? NULL : b->p;
    if (!p && !b->failed)
        p = strdup("");
    if (b->failed)
        free(b->p);
    if (len)
        *len = p ? strlen(p) : 0;
    memset(b, 0, sizeof(*b));
    return p;
}
