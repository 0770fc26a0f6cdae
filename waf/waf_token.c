/* waf_token: the claims follow RFC 9068 §2.2; sub is "user-<id>", an opaque handle that stays the
 * same when a user's name or identities change and is never given to another user. */
#include "waf_token.h"

#include <stdio.h>
#include <string.h>

#include "rnd.h"

const char *const waf_scopes_supported[] = {"ims:register", "ims:call", "ims:message", NULL};

static int waf_token_scope_known(const char *s, size_t len)
{
    for (const char *const *k = waf_scopes_supported; *k; k++)
        if (strlen(*k) == len && strncmp(*k, s, len) == 0)
            return 1;
    return 0;
}

int waf_token_scope_valid(const char *scope)
{
    size_t n = strnlen(scope, 256);
    if (n == 0 || n >= 256 || scope[n - 1] == ' ')
        return 0;
    for (const char *tok = scope; *tok;) {
        size_t len = strcspn(tok, " ");
        if (!waf_token_scope_known(tok, len))
            return 0;
        /* a repeated scope is a malformed request, not a wider grant */
        for (const char *prev = scope; prev < tok; prev += strcspn(prev, " ") + 1)
            if (strcspn(prev, " ") == len && strncmp(prev, tok, len) == 0)
                return 0;
        tok += len;
        if (*tok == ' ')
            tok++;
    }
    return 1;
}

int waf_token_client_id_valid(const char *client_id)
{
    size_t n = strnlen(client_id, WAF_CLIENT_ID_MAX + 1);
    if (n == 0 || n > WAF_CLIENT_ID_MAX)
        return 0;
    for (const unsigned char *c = (const unsigned char *)client_id; *c; c++)
        if (*c <= 0x20 || *c >= 0x7f)
            return 0;
    return 1;
}

static json_t *waf_token_claims_jti(const struct waf_token_request *req,
                                    const struct waf_user *user, const char *jti)
{
    char sub[32];
    if (!user)
        return json_pack(
            "{s:s, s:s, s:s, s:s, s:I, s:I, s:s, s:s}", "iss", req->issuer, "sub", req->client_id,
            "aud", req->audience, "client_id", req->client_id, "iat", (json_int_t)req->issued_at,
            "exp", (json_int_t)(req->issued_at + req->lifetime), "jti", jti, "scope", req->scope);
    snprintf(sub, sizeof(sub), "user-%lld", (long long)user->id);
    json_t *impu = json_array();
    for (size_t i = 0; impu && i < user->n_impu; i++)
        json_array_append_new(impu, json_string(user->impu[i]));
    if (!impu)
        return NULL;
    return json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:s, s:s, s:s, s:o}", "iss", req->issuer,
                     "sub", sub, "aud", req->audience, "client_id", req->client_id, "iat",
                     (json_int_t)req->issued_at, "exp",
                     (json_int_t)(req->issued_at + req->lifetime), "jti", jti, "scope", req->scope,
                     "impi", user->impi, "impu", impu);
}

/* The claims, with cnf.jkt when the token is DPoP-bound. */
static json_t *waf_token_claims_bound(const struct waf_token_request *req,
                                      const struct waf_user *user, const char *jti)
{
    json_t *c = waf_token_claims_jti(req, user, jti);
    if (c && req->jkt && req->jkt[0] &&
        json_object_set_new(c, "cnf", json_pack("{s:s}", "jkt", req->jkt)) < 0) {
        json_decref(c);
        return NULL;
    }
    return c;
}

json_t *waf_token_claims(const struct waf_token_request *req, const struct waf_user *user)
{
    char jti[2 * WAF_JTI_BYTES];
    rnd_token(jti, WAF_JTI_BYTES);
    return waf_token_claims_bound(req, user, jti);
}

char *waf_token_issue(const struct waf_signing_key *key, const struct waf_token_request *req,
                      const struct waf_user *user, char *err, size_t errlen)
{
    char jti[2 * WAF_JTI_BYTES];
    rnd_token(jti, WAF_JTI_BYTES);
    return waf_token_issue_jti(key, req, user, jti, err, errlen);
}

char *waf_token_issue_jti(const struct waf_signing_key *key, const struct waf_token_request *req,
                          const struct waf_user *user, const char *jti, char *err, size_t errlen)
{
    if (!waf_token_scope_valid(req->scope)) {
        snprintf(err, errlen,
                 "the scope must be one or more of: ims:register ims:call ims:message");
        return NULL;
    }
    if (!waf_token_client_id_valid(req->client_id)) {
        snprintf(err, errlen, "the client id must be 1 to %d printable characters",
                 WAF_CLIENT_ID_MAX);
        return NULL;
    }
    json_t *claims = waf_token_claims_bound(req, user, jti);
    char *token = claims ? waf_keys_sign(key, "at+jwt", claims) : NULL;
    json_decref(claims);
    if (!token)
        snprintf(err, errlen, "signing the token failed");
    return token;
}
