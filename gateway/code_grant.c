/* code_grant: the code never reaches the IMS side or a log line; it travels once, from the
 * REGISTER body to the WAF over the gateway's own client-authenticated request. */
#include "code_grant.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "auth.h"
#include "form.h"
#include "gw.h"
#include "http_client.h"
#include "log.h"

struct grant_job {
    grant_done_fn done;
    void *arg;
};

static int grant_parse_body(sip_t const *sip, struct form *f)
{
    const sip_payload_t *pl = sip->sip_payload;
    const sip_content_type_t *ct = sip->sip_content_type;
    if (!pl || !pl->pl_len || !ct || !ct->c_type ||
        strcasecmp(ct->c_type, "application/x-www-form-urlencoded") != 0)
        return 0;
    if (pl->pl_len > GRANT_MAX_BODY || form_parse(f, pl->pl_data, pl->pl_len) != FORM_OK)
        return -1;
    const char *gt = form_get(f, "grant_type"), *code = form_get(f, "code");
    if (!gt || strcmp(gt, "authorization_code") != 0 || !code || !*code || strlen(code) > 512)
        return -1;
    return 1;
}

int grant_body_is_code(sip_t const *sip)
{
    struct form f;
    memset(&f, 0, sizeof(f));
    int rc = grant_parse_body(sip, &f);
    form_free(&f);
    return rc;
}

static void grant_fail(struct grant_job *j, int unavailable, const char *why)
{
    struct grant_result r = {.ok = 0, .unavailable = unavailable, .why = why};
    j->done(j->arg, &r);
    free(j);
}

static void grant_on_response(void *arg, int status, const char *body, size_t len)
{
    struct grant_job *j = arg;
    json_t *doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
    const char *access = json_string_value(json_object_get(doc, "access_token"));
    const char *refresh = json_string_value(json_object_get(doc, "refresh_token"));
    const char *error = json_string_value(json_object_get(doc, "error"));
    json_t *exp = json_object_get(doc, "expires_in");
    char why[128];
    /* A lifetime that is not positive, or so large that adding it to the clock overflows, is
     * as wrong as none at all. */
    if (status != 200 || !access || !json_is_integer(exp) || json_integer_value(exp) < 1 ||
        json_integer_value(exp) > GRANT_MAX_EXPIRES_IN) {
        snprintf(why, sizeof(why), "token endpoint answered %d %.40s", status,
                 error ? error
                       : (status == 200 ? "without access_token or a valid expires_in" : ""));
        grant_fail(j, status < 0 || status >= 500, why);
    } else {
        struct grant_result r = {1, 0, access, refresh, json_integer_value(exp), ""};
        j->done(j->arg, &r);
        free(j);
    }
    json_decref(doc);
}

/* reserved: a refresh may use the HTTP slots kept from code redemption and introspection. */
static void grant_post(struct form_buf *b, int reserved, grant_done_fn done, void *arg)
{
    struct grant_job *j = calloc(1, sizeof(*j));
    size_t len = 0;
    char *body = form_buf_take(b, &len);
    if (!j) {
        struct grant_result r = {.ok = 0, .unavailable = 1, .why = "out of memory"};
        free(body);
        done(arg, &r);
        return;
    }
    j->done = done;
    j->arg = arg;
    if (!auth_client_basic() || !body) {
        free(body);
        grant_fail(j, 0,
                   auth_client_basic() ? "request too large"
                                       : "no WAF client credentials configured");
        return;
    }
    struct hc_request req = {.method = "POST",
                             .url = gw->cfg->token_endpoint,
                             .content_type = "application/x-www-form-urlencoded",
                             .body = body,
                             .body_len = len,
                             .authorization = auth_client_basic(),
                             .reserved = reserved};
    int rc = hc_start(gw->lws, &req, grant_on_response, j);
    OPENSSL_cleanse(body, len);
    free(body);
    if (rc < 0)
        grant_fail(j, 1, "cannot start a request to the token endpoint");
}

/* Appends &name=value (value percent-encoded) when value is set. */
static void grant_param(struct form_buf *b, const char *name, const char *value)
{
    if (!value)
        return;
    form_buf_printf(b, "%s%s=", b->len ? "&" : "", name);
    form_buf_url(b, value);
}

void grant_redeem(sip_t const *sip, const char *impu, grant_done_fn done, void *arg)
{
    struct form f;
    memset(&f, 0, sizeof(f));
    struct form_buf b;
    memset(&b, 0, sizeof(b));
    grant_parse_body(sip, &f);
    const char *code = form_get(&f, "code");
    grant_param(&b, "grant_type", "authorization_code");
    grant_param(&b, "code", code);
    grant_param(&b, "redirect_uri", form_get(&f, "redirect_uri"));
    grant_param(&b, "code_verifier", form_get(&f, "code_verifier"));
    /* A numeric code (limited-UI flow) is bound to the IMPU being registered. */
    if (code && strspn(code, "0123456789") == strlen(code))
        grant_param(&b, "impu", impu);
    form_free(&f);
    grant_post(&b, 0, done, arg);
}

void grant_refresh(const char *refresh_token, grant_done_fn done, void *arg)
{
    struct form_buf b;
    memset(&b, 0, sizeof(b));
    grant_param(&b, "grant_type", "refresh_token");
    grant_param(&b, "refresh_token", refresh_token);
    grant_post(&b, 1, done, arg);
}
