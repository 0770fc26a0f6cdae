/* form: application/x-www-form-urlencoded parsing (bounded, duplicates refused as RFC 6749
 * §3.1 requires), and a growable text buffer that escapes for HTML and URLs. */
#ifndef IMSGW_FORM_H
#define IMSGW_FORM_H

#include <stddef.h>

#define FORM_FIELDS_MAX 32
#define FORM_VALUE_MAX 4096

enum form_rc {
    FORM_OK = 0,
    FORM_MALFORMED = -1, /* bad %-escape, control character, empty name, too many fields */
    FORM_DUPLICATE = -2, /* a parameter given twice */
};

struct form {
    size_t n;
    char *name[FORM_FIELDS_MAX];
    char *value[FORM_FIELDS_MAX];
};

struct form_buf {
    char *p;
    size_t len, cap;
    int failed; /* out of memory or over the bound: the content is unusable */
};

/* Parses len bytes of an urlencoded body into f (f must be zeroed or freed before). */
int form_parse(struct form *f, const char *text, size_t len);
/* Adds one already-decoded pair (from libwebsockets' query fragments). */
int form_add(struct form *f, const char *name, const char *value);
/* Percent-decodes len bytes (+ is a space) into a new string; NULL if malformed. */
char *form_decode(const char *s, size_t len);
/* The value of name, or NULL. */
const char *form_get(const struct form *f, const char *name);
/* Frees the pairs; f can be reused. */
void form_free(struct form *f);
/* Appends formatted text. */
void form_buf_printf(struct form_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Appends s with & < > " ' escaped for HTML text and attribute values. */
void form_buf_html(struct form_buf *b, const char *s);
/* Appends s percent-encoded for a URL query value (RFC 3986 unreserved kept). */
void form_buf_url(struct form_buf *b, const char *s);
/* Hands the text over (malloc'ed, NUL-terminated) and resets b; NULL if b failed. */
char *form_buf_take(struct form_buf *b, size_t *len);

#endif
