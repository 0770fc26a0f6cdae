/* auth: turns a Bearer token into a validated identity: from the cache, by local JWT validation
 * (with at most one JWKS refresh for an unknown kid), or by RFC 7662 introspection at the WAF
 * for opaque tokens. Asynchronous; the answer may also come before auth_token() returns. */
#ifndef IMSGW_AUTH_H
#define IMSGW_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "tok.h"

/* id is valid only during the call; why is a loggable reason when r != TOK_OK. */
typedef void (*auth_done_fn)(void *arg, enum tok_result r, const struct tok_identity *id,
                             const char *why);

/* Prepares the cache and the introspection credentials; -1 with err when they cannot be read. */
int auth_init(char *err, size_t errlen);
void auth_shutdown(void);
/* Validates token for the REGISTER scope; done(arg, …) runs exactly once. */
void auth_token(const char *token, size_t len, auth_done_fn done, void *arg);
/* The HTTP Basic credentials of the gateway as a confidential client of the WAF ("Basic …"),
 * or NULL when none are configured. */
const char *auth_client_basic(void);

#endif
