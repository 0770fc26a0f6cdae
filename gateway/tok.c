/* tok: every check fails closed. The algorithm comes from the key (EC → ES256, RSA → RS256), never
 * from the token header, so alg:none and HMAC-with-a-public-key tokens cannot verify (RFC 8725). */
#include "tok.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "jws.h"

#define TOK_ACCESS_TOKEN_PREFIX "access_token="

/* RFC 6750 §2.1 b64token characters; a table, as every REGISTER's token is scanned. */
static const unsigned char tok_b64token_char[256] = {
    ['A' ... 'Z'] = 1, ['a' ... 'z'] = 1, ['0' ... '9'] = 1, ['-'] = 1, ['.'] = 1,
    ['_'] = 1,         ['~'] = 1,         ['+'] = 1,         ['/'] = 1,
};

static int tok_is_b64token(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && tok_b64token_char[(unsigned char)s[i]])
        i++;
    if (i == 0)
        return 0;
    while (i < n && s[i] == '=')
        i++;
    return i == n;
}

int tok_from_bearer_params(const char *const *params, const char **tok, size_t *len)
{
    if (!params || !params[0] || params[1])
        return -1; /* exactly one credential parameter */
    const char *p = params[0];
    if (strncmp(p, TOK_ACCESS_TOKEN_PREFIX, strlen(TOK_ACCESS_TOKEN_PREFIX)) == 0) {
        p += strlen(TOK_ACCESS_TOKEN_PREFIX);
        size_t n = strlen(p);
        if (n < 2 || p[0] != '"' || p[n - 1] != '"')
            return -1;
        p++;
        n -= 2;
        if (!tok_is_b64token(p, n))
            return -1;
        *tok = p;
        *len = n;
        return 0;
    }
    size_t n = strlen(p);
    if (!tok_is_b64token(p, n))
        return -1;
    *tok = p;
    *len = n;
    return 0;
}

/* Claims end up inside SIP headers (the IMPI in a quoted Digest username): only visible ASCII
 * without quote or backslash is accepted. */
static int tok_safe_text(const char *s, int spaces)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (*s == ' ' && !spaces) || (unsigned char)*s >= 0x7f ||
            *s == '"' || *s == '\\')
            return 0;
    return 1;
}

static int tok_copy_str(json_t *claims, const char *name, char *out, size_t outlen)
{
    const char *v = json_string_value(json_object_get(claims, name));
    /* scope is space-delimited (RFC 6749 §3.3); nothing else may hold a space */
    if (!v || !*v || strlen(v) >= outlen || !tok_safe_text(v, strcmp(name, "scope") == 0))
        return -1;
    memcpy(out, v, strlen(v) + 1);
    return 0;
}

/* aud may be a string or an array of strings (RFC 7519 §4.1.3). */
static int tok_aud_matches(json_t *aud, const char *want)
{
    if (json_is_string(aud))
        return strcmp(json_string_value(aud), want) == 0;
    size_t i;
    json_t *v;
    json_array_foreach(aud, i, v) if (json_is_string(v) &&
                                      strcmp(json_string_value(v), want) == 0) return 1;
    return 0;
}

static int tok_scope_has(const char *scope, const char *want)
{
    size_t wl = strlen(want);
    for (const char *p = scope; (p = strstr(p, want)) != NULL; p += wl)
        if ((p == scope || p[-1] == ' ') && (p[wl] == '\0' || p[wl] == ' '))
            return 1;
    return 0;
}

static int tok_add_impu(struct tok_identity *id, json_t *v)
{
    const char *s = json_string_value(v);
    if (!s || id->nimpu >= TOK_MAX_IMPU || strlen(s) >= TOK_MAX_URI || !tok_safe_text(s, 0) ||
        (strncmp(s, "sip:", 4) != 0 && strncmp(s, "sips:", 5) != 0 && strncmp(s, "tel:", 4) != 0))
        return -1;
    memcpy(id->impu[id->nimpu++], s, strlen(s) + 1);
    return 0;
}

enum tok_result tok_validate_claims(json_t *c, enum tok_source src, const struct tok_policy *pol,
                                    int64_t now, struct tok_identity *id, char *why, size_t whylen)
{
    memset(id, 0, sizeof(*id));
    if (src == TOK_FROM_INTROSPECTION && !json_is_true(json_object_get(c, "active"))) {
        snprintf(why, whylen, "token is not active");
        return TOK_INVALID;
    }
    /* RFC 7662 §2.2: token_type is the RFC 6749 §5.1 type of an access token ("Bearer"); the WAF
     * reports a refresh token as "refresh_token", and one without a type proves nothing. */
    const char *type = json_string_value(json_object_get(c, "token_type"));
    if (src == TOK_FROM_INTROSPECTION &&
        (!type || (strcasecmp(type, "Bearer") != 0 && strcasecmp(type, "DPoP") != 0))) {
        snprintf(why, whylen, "not an access token (token_type %.20s)", type ? type : "missing");
        return TOK_INVALID;
    }
    /* RFC 9449 §6: a bound token names its key; a cnf we cannot read binds to nothing we could
     * check, so the token is refused rather than taken for a bearer one. */
    json_t *cnf = json_object_get(c, "cnf");
    if (cnf) {
        const char *jkt = json_string_value(json_object_get(cnf, "jkt"));
        if (!jkt || strlen(jkt) != TOK_JKT_SIZE - 1) {
            snprintf(why, whylen, "cnf without a usable jkt");
            return TOK_INVALID;
        }
        memcpy(id->jkt, jkt, TOK_JKT_SIZE);
    }
    const char *iss = json_string_value(json_object_get(c, "iss"));
    json_t *exp = json_object_get(c, "exp"), *iat = json_object_get(c, "iat");
    json_t *nbf = json_object_get(c, "nbf"), *impu = json_object_get(c, "impu");
    if (!iss || strcmp(iss, pol->issuer) != 0) {
        snprintf(why, whylen, "wrong or missing iss");
        return TOK_INVALID;
    }
    if (!tok_aud_matches(json_object_get(c, "aud"), pol->audience)) {
        snprintf(why, whylen, "aud does not name this gateway");
        return TOK_INVALID;
    }
    /* RFC 9068 requires iat and jti in a JWT; RFC 7662 makes them optional. */
    int jwt = src == TOK_FROM_JWT;
    if (!json_is_integer(exp) || (iat && !json_is_integer(iat)) || (jwt && !iat) ||
        (nbf && !json_is_integer(nbf))) {
        snprintf(why, whylen, "exp or iat missing or not an integer");
        return TOK_INVALID;
    }
    if (json_integer_value(exp) + pol->leeway < now) {
        snprintf(why, whylen, "token expired");
        return TOK_INVALID;
    }
    if ((iat && json_integer_value(iat) - pol->leeway > now) ||
        (nbf && json_integer_value(nbf) - pol->leeway > now)) {
        snprintf(why, whylen, "token not yet valid");
        return TOK_INVALID;
    }
    id->exp = json_integer_value(exp);
    if (tok_copy_str(c, "sub", id->sub, sizeof(id->sub)) < 0 ||
        tok_copy_str(c, "client_id", id->client_id, sizeof(id->client_id)) < 0 ||
        (jwt && !json_is_string(json_object_get(c, "jti")))) {
        snprintf(why, whylen, "sub, client_id or jti missing");
        return TOK_INVALID;
    }
    if (tok_copy_str(c, "impi", id->impi, sizeof(id->impi)) < 0) {
        snprintf(why, whylen, "impi missing");
        return TOK_INVALID;
    }
    id->nimpu = 0;
    if (json_is_array(impu)) {
        size_t i;
        json_t *v;
        json_array_foreach(impu, i, v) if (tok_add_impu(id, v) < 0) goto bad_impu;
    } else if (tok_add_impu(id, impu) < 0) {
        goto bad_impu;
    }
    if (id->nimpu == 0)
        goto bad_impu;
    if (tok_copy_str(c, "scope", id->scope, sizeof(id->scope)) < 0 ||
        !tok_scope_has(id->scope, pol->required_scope)) {
        snprintf(why, whylen, "scope lacks %s", pol->required_scope);
        return TOK_INVALID_SCOPE;
    }
    return TOK_OK;
bad_impu:
    snprintf(why, whylen, "impu missing or not SIP/tel URIs");
    return TOK_INVALID;
}

enum tok_result tok_validate(const char *token, size_t len, const struct tok_policy *policy,
                             tok_key_lookup lookup, void *lookup_ctx, int64_t now,
                             struct tok_identity *id, char *why, size_t whylen)
{
    struct jws_parsed p;
    memset(id, 0, sizeof(*id));
    if (jws_parse(token, len, &p, why, whylen) < 0)
        return TOK_INVALID;
    enum tok_result r = TOK_INVALID;
    if (!p.typ || (strcmp(p.typ, "at+jwt") != 0 && strcmp(p.typ, "application/at+jwt") != 0)) {
        snprintf(why, whylen, "typ is not at+jwt");
        goto out;
    }
    if (strcmp(p.alg, "ES256") != 0 && strcmp(p.alg, "RS256") != 0) {
        snprintf(why, whylen, "algorithm not allowed");
        goto out;
    }
    if (!p.kid) {
        snprintf(why, whylen, "no kid");
        goto out;
    }
    struct jws_verifier *key = lookup(lookup_ctx, p.kid);
    if (!key) {
        snprintf(why, whylen, "unknown kid");
        r = TOK_UNKNOWN_KID;
        goto out;
    }
    if (jws_verify_with(&p, key, why, whylen) < 0)
        goto out;
    r = tok_validate_claims(p.claims, TOK_FROM_JWT, policy, now, id, why, whylen);
out:
    jws_parsed_free(&p);
    return r;
}

int tok_is_jws(const char *token, size_t len)
{
    size_t dots = 0;
    for (size_t i = 0; i < len; i++)
        dots += token[i] == '.';
    return dots == 2 && len > 3 && memcmp(token, "eyJ", 3) == 0;
}

int tok_has_impu(const struct tok_identity *id, const char *uri)
{
    for (size_t i = 0; i < id->nimpu; i++)
        if (strcmp(id->impu[i], uri) == 0)
            return 1;
    return 0;
}
