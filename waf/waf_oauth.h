/* waf_oauth: issuing access and refresh tokens with their records, refresh-token families,
 * introspection (RFC 7662) and revocation (RFC 7009). Callers hold the write transaction. */
#ifndef IMSGW_WAF_OAUTH_H
#define IMSGW_WAF_OAUTH_H

#include <stdint.h>

#include <jansson.h>

#include "waf_app.h"
#include "waf_client.h"

struct waf_issue {
    const struct waf_client *client;
    const struct waf_user *user; /* NULL for client_credentials */
    const char *scope;
    int64_t family;  /* refresh family the tokens belong to; 0: none */
    int refresh;     /* also issue a refresh token in family */
    const char *jkt; /* DPoP key the access token is bound to (cnf.jkt); NULL or "": none */
};

/* Creates a refresh-token family, its refresh tokens bound to dpop_jkt unless NULL; its id, or
 * -1. */
int64_t waf_oauth_family_new(struct waf_app *app, const char *client_id, int64_t user_id,
                             const char *scope, const char *dpop_jkt);
/* Marks a family revoked and every access token issued in it; 0 or -1. */
int waf_oauth_family_revoke(struct waf_app *app, int64_t family);
/* Issues the tokens of in and records them; the RFC 6749 §5.1 response JSON or NULL. */
json_t *waf_oauth_issue(struct waf_app *app, const struct waf_issue *in);
/* The RFC 7662 answer for token: {"active":false} for anything unknown, expired or revoked. */
json_t *waf_oauth_introspect(struct waf_app *app, const char *token);
/* Revokes token if client issued it (a refresh token takes its family's access tokens along);
 * unknown tokens are ignored, as RFC 7009 §2.2 wants. */
void waf_oauth_revoke(struct waf_app *app, const struct waf_client *client, const char *token);

#endif
