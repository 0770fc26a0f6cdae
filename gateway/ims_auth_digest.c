/* ims_auth_digest: the gateway picks qop=auth and a fresh cnonce, asks the WAF (POST
 * /ims-digest, as the authenticated gateway client) for the response to exactly this
 * challenge, and builds the header. Nonces and responses are never logged. */
#include "ims_auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <sofia-sip/msg_header.h>
#include <sofia-sip/sip_header.h>

#include "auth.h"
#include "form.h"
#include "gw.h"
#include "http_client.h"
#include "log.h"
#include "rnd.h"

#define DIGEST_FIELD_MAX 256

struct digest_job {
    ims_auth_done_fn done;
    void *arg;
    int proxy; /* 407: Proxy-Authorization */
    char impi[DIGEST_FIELD_MAX], realm[DIGEST_FIELD_MAX], nonce[DIGEST_FIELD_MAX],
        opaque[DIGEST_FIELD_MAX], uri[DIGEST_FIELD_MAX], cnonce[32];
    int qop_auth;
};

static void digest_initial(char *out, size_t outlen, const char *impi, const char *realm,
                           const char *uri)
{
    /* algorithm=MD5 now, so that a core letting the HSS choose does not pick AKA (research
     * ims-core.md §2.3). */
    snprintf(out, outlen,
             "Digest username=\"%s\", realm=\"%s\", nonce=\"\", uri=\"%s\", response=\"\", "
             "algorithm=MD5",
             impi, realm, uri);
}

/* A challenge parameter, unquoted, into out; 0, or -1 when absent, too long or unsafe. */
static int digest_param(msg_param_t const *params, const char *name, char *out, size_t outlen)
{
    const char *v = msg_params_find(params, name);
    if (!v)
        return -1;
    size_t n = strlen(v);
    if (n >= 2 && v[0] == '"' && v[n - 1] == '"')
        v++, n -= 2;
    if (n >= outlen)
        return -1;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)v[i] < 0x20 || v[i] == '"' || v[i] == '\\')
            return -1;
    memcpy(out, v, n);
    out[n] = '\0';
    return 0;
}

static void digest_finish(struct digest_job *j, const struct ims_auth_answer *a)
{
    j->done(j->arg, a);
    OPENSSL_cleanse(j, sizeof(*j));
    free(j);
}

static void digest_on_waf(void *arg, int status, const char *body, size_t len)
{
    struct digest_job *j = arg;
    struct ims_auth_answer a = {.header_name = j->proxy ? "Proxy-Authorization" : "Authorization"};
    json_t *doc = status == 200 ? json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL) : NULL;
    const char *resp = json_string_value(json_object_get(doc, "response"));
    char header[IMS_AUTH_HEADER_MAX];
    if (status == 200 && resp && strlen(resp) == 32 && strspn(resp, "0123456789abcdef") == 32) {
        int n = snprintf(header, sizeof(header),
                         "Digest username=\"%s\", realm=\"%s\", nonce=\"%s\", uri=\"%s\", "
                         "response=\"%s\", algorithm=MD5%s%s%s%s%s%s",
                         j->impi, j->realm, j->nonce, j->uri, resp,
                         j->qop_auth ? ", qop=auth, nc=00000001, cnonce=\"" : "",
                         j->qop_auth ? j->cnonce : "", j->qop_auth ? "\"" : "",
                         *j->opaque ? ", opaque=\"" : "", j->opaque, *j->opaque ? "\"" : "");
        a.ok = n > 0 && (size_t)n < sizeof(header);
        a.header = header;
        a.unavailable = !a.ok;
        a.why = a.ok ? "" : "answer too long";
    } else if (status == 404 || status == 400) {
        a.refused = 1;
        a.why = status == 404 ? "the WAF holds no IMS credentials for this user and realm"
                              : "the WAF refused the challenge parameters";
    } else {
        a.unavailable = 1;
        a.why = "the WAF did not compute the Digest response";
    }
    digest_finish(j, &a);
    OPENSSL_cleanse(header, sizeof(header));
    json_decref(doc);
}

static int digest_answer(sip_t const *rsp, const char *impi, const char *method, const char *uri,
                         ims_auth_done_fn done, void *arg)
{
    int proxy = rsp->sip_status->st_status == 407;
    msg_auth_t const *ch = proxy ? (msg_auth_t const *)rsp->sip_proxy_authenticate
                                 : (msg_auth_t const *)rsp->sip_www_authenticate;
    for (; ch; ch = ch->au_next) /* the first MD5 Digest challenge */
        if (ch->au_scheme && strcasecmp(ch->au_scheme, "Digest") == 0) {
            const char *alg = msg_params_find(ch->au_params, "algorithm=");
            if (!alg || strcasecmp(alg, "MD5") == 0 || strcasecmp(alg, "\"MD5\"") == 0)
                break;
        }
    struct digest_job *j = ch ? calloc(1, sizeof(*j)) : NULL;
    char qop[64] = "";
    if (!j || digest_param(ch->au_params, "realm=", j->realm, sizeof(j->realm)) < 0 ||
        digest_param(ch->au_params, "nonce=", j->nonce, sizeof(j->nonce)) < 0 ||
        snprintf(j->impi, sizeof(j->impi), "%s", impi) >= (int)sizeof(j->impi) ||
        snprintf(j->uri, sizeof(j->uri), "%s", uri) >= (int)sizeof(j->uri)) {
        log_warn("ims-auth: the core's challenge is not an MD5 Digest we can answer");
        free(j);
        struct ims_auth_answer a = {.refused = 1, .why = "no usable MD5 Digest challenge"};
        done(arg, &a);
        return 0;
    }
    j->done = done;
    j->arg = arg;
    j->proxy = proxy;
    digest_param(ch->au_params, "opaque=", j->opaque, sizeof(j->opaque));
    if (digest_param(ch->au_params, "qop=", qop, sizeof(qop)) == 0) {
        /* "auth,auth-int": auth (no body to protect in a REGISTER or a relayed request) */
        for (char *t = strtok(qop, ", "); t; t = strtok(NULL, ", "))
            j->qop_auth |= strcmp(t, "auth") == 0;
        if (!j->qop_auth) {
            struct ims_auth_answer a = {.refused = 1, .why = "the core offers no qop=auth"};
            digest_finish(j, &a);
            return 0;
        }
        rnd_token(j->cnonce, 12);
    }
    struct form_buf b;
    memset(&b, 0, sizeof(b));
    const char *names[] = {"impi", "realm", "method", "uri", "nonce", "qop", "nc", "cnonce"};
    const char *values[] = {j->impi,
                            j->realm,
                            method,
                            j->uri,
                            j->nonce,
                            j->qop_auth ? "auth" : NULL,
                            j->qop_auth ? "00000001" : NULL,
                            j->qop_auth ? j->cnonce : NULL};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (values[i]) {
            form_buf_printf(&b, "%s%s=", b.len ? "&" : "", names[i]);
            form_buf_url(&b, values[i]);
        }
    size_t len = 0;
    char *body = form_buf_take(&b, &len);
    char url[600];
    snprintf(url, sizeof(url), "%s/ims-digest", gw->cfg->authz_server);
    struct hc_request req = {.method = "POST",
                             .url = url,
                             .content_type = "application/x-www-form-urlencoded",
                             .body = body,
                             .body_len = len,
                             .authorization = auth_client_basic()};
    int rc = body && auth_client_basic() ? hc_start(gw->lws, &req, digest_on_waf, j) : -1;
    if (body)
        OPENSSL_cleanse(body, len);
    free(body);
    if (rc < 0) {
        struct ims_auth_answer a = {.unavailable = 1,
                                    .why = auth_client_basic()
                                               ? "cannot reach the WAF"
                                               : "no WAF client credentials configured"};
        digest_finish(j, &a);
    }
    return 0;
}

const struct ims_auth_ops ims_auth_digest = {"digest", digest_initial, digest_answer, 2};
