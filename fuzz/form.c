/* Fuzz target form: the WAF's request parameters (common/form.c): an urlencoded POST body
 * (form_parse, what every WAF endpoint reads), and the same bytes as a query string the way
 * waf_http.c gets it from libwebsockets: split at '&', each fragment percent-decoded, split at
 * the first '=', added with form_add. Then the text the WAF builds from those values: HTML
 * escaping, URL encoding, and the log redaction that guards every log line. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "form.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    struct form f;
    memset(&f, 0, sizeof(f));
    if (form_parse(&f, text, size) == FORM_OK) {
        struct form_buf b;
        memset(&b, 0, sizeof(b));
        for (size_t i = 0; i < f.n; i++) {
            form_buf_html(&b, f.name[i]);
            form_buf_url(&b, f.value[i]);
            form_get(&f, f.name[i]);
        }
        size_t len = 0;
        char *out = form_buf_take(&b, &len);
        if (out && strlen(out) != len)
            abort();
        free(out);
    }
    form_free(&f);

    /* libwebsockets hands the query over decoded, fragment by fragment (WSI_TOKEN_HTTP_URI_ARGS).
     */
    struct form q;
    memset(&q, 0, sizeof(q));
    for (const char *p = text, *end = text + size; p < end;) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        size_t n = (size_t)((amp ? amp : end) - p);
        char *frag = form_decode(p, n);
        if (frag) {
            char *eq = strchr(frag, '=');
            if (eq)
                *eq = '\0';
            int rc = form_add(&q, frag, eq ? eq + 1 : "");
            free(frag);
            if (rc != FORM_OK)
                break;
        }
        if (!amp)
            break;
        p = amp + 1;
    }
    form_free(&q);

    char *line = malloc(size + 1);
    memcpy(line, data, size);
    line[size] = '\0';
    log_redact(line);
    free(line);
    return 0;
}
