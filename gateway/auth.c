/* auth: a token is copied into its job, so the caller's message may go away while the job waits
 * for the WAF. Introspection results are cached no longer than the token's exp and never longer
 * than introspection-cache-ttl, so a revocation at the WAF takes effect within that TTL. A token
 * the WAF called inactive is remembered (by its hash) for AUTH_NEGATIVE_TTL_S, so one bad token
 * sent again and again costs one introspection, not one per REGISTER. */
#include "auth.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "form.h"
#include "gw.h"
#include "http_client.h"
#include "jwks.h"
#include "log.h"
#include "secretfile.h"
#include "timeutil.h"
#include "tok_cache.h"

#define AUTH_NEGATIVE_TTL_S 10
#define AUTH_NEGATIVE_MAX 4096

struct auth_job {
    auth_done_fn done;
    void *arg;
    uint64_t started_ms;
    struct tok_cache_key key; /* computed once, for the lookups and the put; see auth_token() */
    size_t len;
    char token[]; /* NUL-terminated copy */
};

static struct tok_cache *auth_cache;
static struct tok_cache *auth_negative; /* tokens the WAF called inactive, briefly */
static char *auth_basic;                /* "Basic base64(id:secret)" */

static struct tok_policy auth_policy(void)
{
    const struct gw_settings *cfg = gw->cfg;
    struct tok_policy p = {cfg->authz_server, cfg->audience, cfg->register_scope,
                           cfg->token_leeway};
    return p;
}

/* RFC 6749 §2.3.1: client id and secret are form-urlencoded before Basic encoding. */
static int auth_form_encode(const char *in, char *out, size_t outlen)
{
    size_t o = 0;
    for (const unsigned char *c = (const unsigned char *)in; *c; c++) {
        if (o + 4 >= outlen)
            return -1;
        if ((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
            *c == '-' || *c == '.' || *c == '_' || *c == '~')
            out[o++] = (char)*c;
        else
            o += (size_t)snprintf(out + o, outlen - o, "%%%02X", *c);
    }
    out[o] = '\0';
    return 0;
}

static int auth_read_secret(const char *path, char *out, size_t outlen, char *err, size_t errlen)
{
    int fd = secretfile_open("waf-client-secret-file", path, err, errlen);
    FILE *f = fd < 0 ? NULL : fdopen(fd, "r");
    if (!f) {
        if (fd >= 0) {
            snprintf(err, errlen, "waf-client-secret-file %s: %s", path, strerror(errno));
            close(fd);
        }
        return -1;
    }
    size_t n = fread(out, 1, outlen - 1, f);
    fclose(f);
    out[n] = '\0';
    out[strcspn(out, "\r\n")] = '\0';
    if (!out[0]) {
        snprintf(err, errlen, "waf-client-secret-file %s is empty", path);
        return -1;
    }
    return 0;
}

int auth_init(char *err, size_t errlen)
{
    const struct gw_settings *cfg = gw->cfg;
    auth_cache = tok_cache_new((size_t)cfg->token_cache_size);
    auth_negative = tok_cache_new(AUTH_NEGATIVE_MAX);
    if (!auth_cache || !auth_negative) {
        snprintf(err, errlen, "out of memory for the token caches");
        return -1;
    }
    if (!cfg->waf_client_secret_file || !cfg->waf_client_secret_file[0])
        return 0;
    char secret[256], id_enc[256], secret_enc[768], pair[1100];
    unsigned char b64[1600];
    if (auth_read_secret(cfg->waf_client_secret_file, secret, sizeof(secret), err, errlen) < 0)
        return -1;
    if (auth_form_encode(cfg->waf_client_id, id_enc, sizeof(id_enc)) < 0 ||
        auth_form_encode(secret, secret_enc, sizeof(secret_enc)) < 0) {
        snprintf(err, errlen, "waf-client-id or its secret is too long");
        return -1;
    }
    int n = snprintf(pair, sizeof(pair), "%s:%s", id_enc, secret_enc);
    EVP_EncodeBlock(b64, (unsigned char *)pair, n);
    size_t len = strlen("Basic ") + strlen((char *)b64) + 1;
    auth_basic = malloc(len);
    if (auth_basic)
        snprintf(auth_basic, len, "Basic %s", b64);
    OPENSSL_cleanse(secret, sizeof(secret));
    OPENSSL_cleanse(pair, sizeof(pair));
    if (!auth_basic) {
        snprintf(err, errlen, "out of memory for the WAF client credentials");
        return -1;
    }
    return 0;
}

void auth_shutdown(void)
{
    tok_cache_free(auth_cache);
    tok_cache_free(auth_negative);
    auth_cache = auth_negative = NULL;
    free(auth_basic);
    auth_basic = NULL;
}

const char *auth_client_basic(void)
{
    return auth_basic;
}

static void auth_finish(struct auth_job *j, enum tok_result r, const struct tok_identity *id,
                        const char *why)
{
    j->done(j->arg, r, id, why);
    OPENSSL_cleanse(j->token, j->len);
    free(j);
}

static void auth_jwt(struct auth_job *j, int may_refetch);

static void auth_keys_ready(void *arg, int ok)
{
    auth_jwt(arg, 0);
}

static void auth_jwt(struct auth_job *j, int may_refetch)
{
    struct tok_policy pol = auth_policy();
    struct tok_identity id;
    char why[160] = "";
    enum tok_result r = tok_validate(j->token, j->len, &pol, jwks_lookup, gw->jwks, time_now_s(),
                                     &id, why, sizeof(why));
    if (r == TOK_UNKNOWN_KID && may_refetch &&
        jwks_refresh(gw->jwks, gw->lws, (int64_t)time_mono_ms(), auth_keys_ready, j) == 0)
        return; /* resumes in auth_keys_ready() */
    if (r == TOK_OK)
        tok_cache_put(auth_cache, &j->key, &id, id.exp + gw->cfg->token_leeway);
    auth_finish(j, r == TOK_UNKNOWN_KID ? TOK_INVALID : r, &id, why);
}

static void auth_on_introspection(void *arg, int status, const char *body, size_t len)
{
    struct auth_job *j = arg;
    gw->metrics.introspection_ms_total += time_mono_ms() - j->started_ms;
    struct tok_identity id;
    memset(&id, 0, sizeof(id));
    if (status != 200) {
        gw->metrics.introspection_fail_total++;
        log_warn("auth: introspection failed (%s %d)", status < 0 ? "no response" : "HTTP", status);
        /* The token may be fine; the WAF is not. Fail closed, but say "try again" (503), not
         * "your token is bad" (401). */
        auth_finish(j, TOK_UNAVAILABLE, &id, "introspection unavailable");
        return;
    }
    json_t *doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
    char why[160] = "introspection response is not a JSON object";
    enum tok_result r = TOK_INVALID;
    if (json_is_object(doc)) {
        struct tok_policy pol = auth_policy();
        r = tok_validate_claims(doc, TOK_FROM_INTROSPECTION, &pol, time_now_s(), &id, why,
                                sizeof(why));
    }
    json_decref(doc);
    if (r == TOK_OK) {
        int64_t until = time_now_s() + gw->cfg->introspection_cache_ttl;
        tok_cache_put(auth_cache, &j->key, &id, id.exp < until ? id.exp : until);
    } else {
        struct tok_identity none;
        memset(&none, 0, sizeof(none));
        none.exp = r; /* the refusal to repeat */
        tok_cache_put(auth_negative, &j->key, &none, time_now_s() + AUTH_NEGATIVE_TTL_S);
    }
    auth_finish(j, r, &id, why);
}

static void auth_introspect(struct auth_job *j)
{
    struct tok_identity none;
    memset(&none, 0, sizeof(none));
    if (!auth_basic) {
        auth_finish(j, TOK_INVALID, &none, "opaque token but no WAF client credentials set");
        return;
    }
    struct form_buf b;
    memset(&b, 0, sizeof(b));
    form_buf_printf(&b, "token_type_hint=access_token&token=");
    form_buf_url(&b, j->token);
    size_t o = 0;
    char *full = form_buf_take(&b, &o);
    if (!full) {
        auth_finish(j, TOK_INVALID, &none, "token too large to introspect");
        return;
    }
    struct hc_request req = {.method = "POST",
                             .url = gw->cfg->introspection_endpoint,
                             .content_type = "application/x-www-form-urlencoded",
                             .body = full,
                             .body_len = o,
                             .authorization = auth_basic};
    j->started_ms = time_mono_ms();
    gw->metrics.introspection_total++;
    int rc = hc_start(gw->lws, &req, auth_on_introspection, j);
    OPENSSL_cleanse(full, o);
    free(full);
    if (rc < 0) {
        gw->metrics.introspection_fail_total++;
        auth_finish(j, TOK_UNAVAILABLE, &none, "no free slot or bad URL for introspection");
    }
}

void auth_token(const char *token, size_t len, auth_done_fn done, void *arg)
{
    struct tok_identity hit;
    /* The cache key is a SHA-256 of the token, so it is computed only when a cache can use it:
     * the token cache when it is on, the negative cache for opaque tokens (it holds only
     * introspection refusals). A JWS with the cache off goes straight to its signature check. */
    int jws = tok_is_jws(token, len), use_cache = tok_cache_capacity(auth_cache) > 0;
    struct tok_cache_key key = {{0}};
    if (use_cache || !jws)
        tok_cache_key(token, len, &key);
    /* Entries live no longer than exp + leeway, so a hit is a token valid now. */
    if (use_cache && tok_cache_get(auth_cache, &key, time_now_s(), &hit)) {
        gw->metrics.token_cache_hits_total++;
        done(arg, TOK_OK, &hit, "");
        return;
    }
    if (!jws && tok_cache_get(auth_negative, &key, time_now_s(), &hit)) {
        done(arg, (enum tok_result)hit.exp, &hit, "refused by the WAF a moment ago");
        return;
    }
    struct auth_job *j = malloc(sizeof(*j) + len + 1);
    if (!j) {
        memset(&hit, 0, sizeof(hit));
        done(arg, TOK_UNAVAILABLE, &hit, "out of memory");
        return;
    }
    j->done = done;
    j->arg = arg;
    j->key = key;
    j->len = len;
    memcpy(j->token, token, len);
    j->token[len] = '\0';
    if (jws) {
        gw->metrics.token_signature_checks_total++;
        auth_jwt(j, 1);
    } else {
        auth_introspect(j);
    }
}
