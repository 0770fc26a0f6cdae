/* waf_pages: plain HTML with inline style and no script, so the CSP can forbid everything else. */
#include "waf_pages.h"

#include <string.h>

static void waf_pages_head(struct form_buf *b, const char *title)
{
    form_buf_printf(
        &*b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
             "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>");
    form_buf_html(b, title);
    /* The web phone's look (wwsf-static/style.css): blue bar, white card, large controls. */
    form_buf_printf(b, "</title><style>*{box-sizing:border-box}"
                       "body{margin:0;font:16px/1.5 system-ui,sans-serif;color:#1b1f24;"
                       "background:#f4f6f8}"
                       "header{background:#0b5cad;color:#fff;padding:.75rem 1rem}"
                       "h1{margin:0;font-size:1.25rem}"
                       "main{max-width:26rem;margin:1rem auto;padding:1rem;background:#fff;"
                       "border:1px solid #d0d7de;border-radius:.5rem}"
                       "label{display:block;font-weight:600;margin:.5rem 0 .25rem}"
                       "input,button{display:block;width:100%%;font:inherit;padding:.5rem;"
                       "border-radius:.25rem;border:1px solid #57606a;margin:.25rem 0}"
                       "button{background:#0b5cad;border-color:#0b5cad;color:#fff;"
                       "min-height:2.75rem;margin-top:.75rem;cursor:pointer}"
                       "button[value=deny]{background:#fff;color:#1b1f24;border-color:#57606a}"
                       ":focus-visible{outline:3px solid #f0b400;outline-offset:2px}"
                       ".msg{background:#fdecea;border:1px solid #b42318;color:#b42318;"
                       "padding:.75rem;border-radius:.25rem}"
                       ".big{font-size:2.5em;letter-spacing:.1em}</style>"
                       "</head><body><header><h1>");
    form_buf_html(b, title);
    form_buf_printf(b, "</h1></header><main>\n");
}

static void waf_pages_field(struct form_buf *b, const char *label, const char *name,
                            const char *type, const char *value, const char *extra)
{
    form_buf_printf(b, "<label for=\"%s\">%s</label><input id=\"%s\" name=\"%s\" type=\"%s\" %s",
                    name, label, name, name, type, extra);
    if (value) {
        form_buf_printf(b, " value=\"");
        form_buf_html(b, value);
        form_buf_printf(b, "\"");
    }
    form_buf_printf(b, ">\n");
}

char *waf_pages_login(const struct waf_login_page *p)
{
    struct form_buf b = {0};
    waf_pages_head(&b, p->title);
    if (p->message) {
        form_buf_printf(&b, "<p class=\"msg\" role=\"alert\">");
        form_buf_html(&b, p->message);
        form_buf_printf(&b, "</p>\n");
    }
    form_buf_printf(&b, "<form method=\"post\" action=\"%s\">\n", p->action);
    for (size_t i = 0; p->hidden && i < p->hidden->n; i++) {
        form_buf_printf(&b, "<input type=\"hidden\" name=\"");
        form_buf_html(&b, p->hidden->name[i]);
        form_buf_printf(&b, "\" value=\"");
        form_buf_html(&b, p->hidden->value[i]);
        form_buf_printf(&b, "\">\n");
    }
    form_buf_printf(&b, "<input type=\"hidden\" name=\"csrf\" value=\"%s\">\n", p->csrf);
    if (p->user_code)
        waf_pages_field(&b, "Code shown on your device", "user_code", "text", p->user_code,
                        "autocomplete=\"off\" required");
    waf_pages_field(&b, "User name", "username", "text", p->username,
                    "autocomplete=\"username\" required");
    waf_pages_field(&b, "Password", "password", "password", NULL,
                    "autocomplete=\"current-password\" required");
    form_buf_printf(&b, "<button type=\"submit\" name=\"action\" value=\"allow\">%s</button>\n",
                    p->deny ? "Allow" : "Sign in");
    if (p->deny)
        form_buf_printf(&b,
                        "<button type=\"submit\" name=\"action\" value=\"deny\">Deny</button>\n");
    form_buf_printf(&b, "</form></main></body></html>\n");
    return form_buf_take(&b, NULL);
}

char *waf_pages_message(const char *title, const char *text, const char *big)
{
    struct form_buf b = {0};
    waf_pages_head(&b, title);
    form_buf_printf(&b, "<p>");
    form_buf_html(&b, text);
    form_buf_printf(&b, "</p>\n");
    if (big) {
        form_buf_printf(&b, "<p class=\"big\" data-testid=\"code\">");
        form_buf_html(&b, big);
        form_buf_printf(&b, "</p>\n");
    }
    form_buf_printf(&b, "</main></body></html>\n");
    return form_buf_take(&b, NULL);
}
