/* waf_form: application/x-www-form-urlencoded parsing (bounded, duplicates refused as RFC 6749
 * §3.1 requires), and a growable text buffer that escapes for HTML and URLs. */
#ifndef IMSGW_WAF_FORM_H
#define IMSGW_WAF_FORM_H

#include <stddef.h>

#define WAF_FORM_FIELDS_MAX 32
#define WAF_FORM_VALUE_MAX 4096

enum waf_form_rc {
    WAF_FORM_OK = 0,
    WAF_FORM_MALFORMED = -1, /* bad %-escape, control character, empty name, too many fields */
    WAF_FORM_DUPLICATE = -2, /* a parameter given twice */
};

struct waf_form {
    size_t n;
    char *name[WAF_FORM_FIELDS_MAX];
    char *value[WAF_FORM_FIELDS_MAX];
};

struct waf_buf {
    char *p;
    size_t len, cap;
    int failed; /* out of memory or over the bound: the content is unusable */
};

/* Parses len bytes of an urlencoded body into f (f must be zeroed or freed before). */
int waf_form_parse(struct waf_form *f, const char *text, size_t len);
/* Adds one already-decoded pair (from libwebsockets' query fragments). */
int waf_form_add(struct waf_form *f, const char *name, const char *value);
/* Percent-decodes len bytes (+ is a space) into a new string; NULL if malformed. */
char *waf_form_decode(const char *s, size_t len);
/* The value of name, or NULL. */
const char *waf_form_get(const struct waf_form *f, const char *name);
/* Frees the pairs; f can be reused. */
void waf_form_free(struct waf_form *f);
/* Appends formatted text. */
void waf_buf_printf(struct waf_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s with & < > " ' escaped for HTML text and attribute values. */
void waf_buf_html(struct waf_buf *b, const char *s);
/* Appends s percent-encoded for a URL query value (RFC 3986 unreserved kept). */
void waf_buf_url(struct waf_buf *b, const char *s);
/* Hands the text over (malloc'ed, NUL-terminated) and resets b; NULL if b failed. */
char *waf_buf_take(struct waf_buf *b, size_t *len);

#endif
