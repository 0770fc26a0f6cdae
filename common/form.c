/* form: every value is bounded and may not carry control characters, so what reaches the
 * store, a page or a log line is printable text of known size. */
#include "form.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FORM_BUF_MAX (256 * 1024)

static int form_hex(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

char *form_decode(const char *s, size_t len)
{
    if (len > 3 * FORM_VALUE_MAX)
        return NULL;
    char *out = malloc(len + 1);
    size_t n = 0;
    for (size_t i = 0; out && i < len; i++) {
        int c = (unsigned char)s[i];
        if (c == '+')
            c = ' ';
        else if (c == '%') {
            int hi = i + 2 < len ? form_hex(s[i + 1]) : -1;
            int lo = i + 2 < len ? form_hex(s[i + 2]) : -1;
            if (hi < 0 || lo < 0)
                goto bad;
            c = hi * 16 + lo;
            i += 2;
        }
        if (c < 0x20 || c == 0x7f)
            goto bad;
        out[n++] = (char)c;
    }
    if (!out || n > FORM_VALUE_MAX)
        goto bad;
    out[n] = '\0';
    return out;
bad:
    free(out);
    return NULL;
}

static int form_insert(struct form *f, char *name, char *value)
{
    int rc = FORM_OK;
    if (!name || !value || !name[0] || f->n == FORM_FIELDS_MAX)
        rc = FORM_MALFORMED;
    else if (form_get(f, name))
        rc = FORM_DUPLICATE;
    if (rc != FORM_OK) {
        free(name);
        free(value);
        return rc;
    }
    f->name[f->n] = name;
    f->value[f->n++] = value;
    return FORM_OK;
}

int form_parse(struct form *f, const char *text, size_t len)
{
    size_t i = 0;
    while (i < len) {
        size_t end = i;
        while (end < len && text[end] != '&')
            end++;
        if (end > i) {
            const char *eq = memchr(text + i, '=', end - i);
            size_t nl = eq ? (size_t)(eq - (text + i)) : end - i;
            char *name = form_decode(text + i, nl);
            char *value = eq ? form_decode(eq + 1, end - nl - i - 1) : strdup("");
            int rc = form_insert(f, name, value);
            if (rc != FORM_OK)
                return rc;
        }
        i = end + 1;
    }
    return FORM_OK;
}

int form_add(struct form *f, const char *name, const char *value)
{
    for (const unsigned char *c = (const unsigned char *)value; *c; c++)
        if (*c < 0x20 || *c == 0x7f)
            return FORM_MALFORMED;
    if (strlen(value) > FORM_VALUE_MAX)
        return FORM_MALFORMED;
    return form_insert(f, strdup(name), strdup(value));
}

const char *form_get(const struct form *f, const char *name)
{
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->name[i], name) == 0)
            return f->value[i];
    return NULL;
}

void form_free(struct form *f)
{
    for (size_t i = 0; i < f->n; i++) {
        free(f->name[i]);
        free(f->value[i]);
    }
    f->n = 0;
}

static void form_buf_append(struct form_buf *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = cap <= FORM_BUF_MAX ? realloc(b->p, cap) : NULL;
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

void form_buf_printf(struct form_buf *b, const char *fmt, ...)
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
    form_buf_append(b, small, (size_t)n);
}

void form_buf_html(struct form_buf *b, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&':
            form_buf_append(b, "&amp;", 5);
            break;
        case '<':
            form_buf_append(b, "&lt;", 4);
            break;
        case '>':
            form_buf_append(b, "&gt;", 4);
            break;
        case '"':
            form_buf_append(b, "&quot;", 6);
            break;
        case '\'':
            form_buf_append(b, "&#39;", 5);
            break;
        default:
            form_buf_append(b, s, 1);
        }
    }
}

void form_buf_url(struct form_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *c = (const unsigned char *)s; c && *c; c++) {
        if ((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
            strchr("-._~", *c))
            form_buf_append(b, (const char *)c, 1);
        else {
            char e[3] = {'%', hex[*c >> 4], hex[*c & 15]};
            form_buf_append(b, e, 3);
        }
    }
}

char *form_buf_take(struct form_buf *b, size_t *len)
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
