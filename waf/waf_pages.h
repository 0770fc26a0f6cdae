/* waf_pages: the WAF's HTML (sign-in forms, messages, error pages); every value is escaped. */
#ifndef IMSGW_WAF_PAGES_H
#define IMSGW_WAF_PAGES_H

#include "form.h"

struct waf_login_page {
    const char *title;         /* e.g. "Sign in" */
    const char *action;        /* the form's path */
    const char *message;       /* an error or hint shown above the form, or NULL */
    const struct form *hidden; /* request parameters carried through the form, or NULL */
    const char *csrf;          /* the form's anti-CSRF value */
    const char *username;      /* prefilled user name, or NULL */
    const char *user_code;     /* non-NULL: show the device user-code field prefilled with it */
    int deny;                  /* show a "Deny" button (device page) */
};

/* The sign-in form (name="username", name="password"); malloc'ed HTML or NULL. */
char *waf_pages_login(const struct waf_login_page *p);
/* A page with a title, a sentence and optionally a large value (a numeric code). */
char *waf_pages_message(const char *title, const char *text, const char *big);

#endif
