/* waf_metadata: the RFC 8414 authorization server metadata document. */
#ifndef IMSGW_WAF_METADATA_H
#define IMSGW_WAF_METADATA_H

#include <jansson.h>

#define WAF_PATH_METADATA "/.well-known/oauth-authorization-server"
#define WAF_PATH_JWKS "/jwks.json"
#define WAF_PATH_AUTHORIZE "/authorize"
#define WAF_PATH_TOKEN "/token"
#define WAF_PATH_INTROSPECT "/introspect"
#define WAF_PATH_REVOKE "/revoke"
#define WAF_PATH_HEALTHZ "/healthz"
#define WAF_PATH_METRICS "/metrics"
#define WAF_PATH_DEVICE_AUTHZ "/device_authorization"
#define WAF_PATH_DEVICE "/device"
#define WAF_PATH_CODE "/code"

/* The metadata of the WAF whose issuer identifier is issuer (a checked URL); NULL on error. */
json_t *waf_metadata_build(const char *issuer);

#endif
