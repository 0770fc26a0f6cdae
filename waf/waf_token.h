/* waf_token: RFC 9068 access tokens (JWS ES256, typ at+jwt) with the IMS claims impi and impu. */
#ifndef IMSGW_WAF_TOKEN_H
#define IMSGW_WAF_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "waf_keys.h"
#include "waf_user.h"

#define WAF_SCOPE_DEFAULT "ims:register ims:call ims:message"
#define WAF_CLIENT_ID_MAX 128
#define WAF_JTI_BYTES 16

/* The scopes this WAF grants, NULL-terminated (also published in the metadata). */
extern const char *const waf_scopes_supported[];

struct waf_token_request {
    const char *issuer;
    const char *audience;
    const char *client_id;
    const char *scope;
    int64_t issued_at;
    long lifetime;   /* seconds */
    const char *jkt; /* DPoP key thumbprint for cnf.jkt (RFC 9449 §6.1); NULL or "": none */
};

/* 1 if scope is one or more distinct supported scopes separated by single spaces. */
int waf_token_scope_valid(const char *scope);
/* 1 if client_id is 1..128 printable ASCII characters without spaces. */
int waf_token_client_id_valid(const char *client_id);
/* The claims of an access token for user: iss sub aud client_id iat exp jti scope impi impu.
 * user NULL (client_credentials): sub is the client id and there are no IMS claims. */
json_t *waf_token_claims(const struct waf_token_request *req, const struct waf_user *user);
/* Signs an access token for user (NULL: the client itself) with key's algorithm; the malloc'ed
 * compact JWS, or NULL with a reason in err. */
char *waf_token_issue(const struct waf_signing_key *key, const struct waf_token_request *req,
                      const struct waf_user *user, char *err, size_t errlen);
/* The same with a given jti (the caller records it for introspection and revocation). */
char *waf_token_issue_jti(const struct waf_signing_key *key, const struct waf_token_request *req,
                          const struct waf_user *user, const char *jti, char *err, size_t errlen);

#endif
