/* waf_metadata: every endpoint URL is the issuer plus a fixed path, so a client that checks
 * issuer (RFC 8414 §3.3) and then follows these URLs stays on the same server. */
#include "waf_metadata.h"

#include <stdio.h>

#include "waf_token.h"

static json_t *waf_metadata_url(const char *issuer, const char *path)
{
    char url[512];
    snprintf(url, sizeof(url), "%s%s", issuer, path);
    return json_string(url);
}

static json_t *waf_metadata_list(const char *const *items)
{
    json_t *a = json_array();
    for (; a && *items; items++)
        json_array_append_new(a, json_string(*items));
    return a;
}

json_t *waf_metadata_build(const char *issuer)
{
    static const char *const response_types[] = {"code", NULL};
    static const char *const grant_types[] = {"authorization_code", "refresh_token",
                                              "client_credentials",
                                              "urn:ietf:params:oauth:grant-type:device_code", NULL};
    static const char *const pkce_methods[] = {"S256", NULL};
    static const char *const auth_methods[] = {"client_secret_basic", "client_secret_post", "none",
                                               NULL};
    static const char *const confidential[] = {"client_secret_basic", "client_secret_post", NULL};
    json_t *m = json_pack(
        "{s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "issuer", issuer,
        "authorization_endpoint", waf_metadata_url(issuer, WAF_PATH_AUTHORIZE), "token_endpoint",
        waf_metadata_url(issuer, WAF_PATH_TOKEN), "jwks_uri",
        waf_metadata_url(issuer, WAF_PATH_JWKS), "introspection_endpoint",
        waf_metadata_url(issuer, WAF_PATH_INTROSPECT), "revocation_endpoint",
        waf_metadata_url(issuer, WAF_PATH_REVOKE), "response_types_supported",
        waf_metadata_list(response_types), "grant_types_supported", waf_metadata_list(grant_types),
        "code_challenge_methods_supported", waf_metadata_list(pkce_methods),
        "token_endpoint_auth_methods_supported", waf_metadata_list(auth_methods),
        "scopes_supported", waf_metadata_list(waf_scopes_supported));
    if (m) {
        json_object_set_new(m, "device_authorization_endpoint",
                            waf_metadata_url(issuer, WAF_PATH_DEVICE_AUTHZ));
        json_object_set_new(m, "authorization_response_iss_parameter_supported", json_true());
        json_object_set_new(m, "revocation_endpoint_auth_methods_supported",
                            waf_metadata_list(auth_methods));
        json_object_set_new(m, "introspection_endpoint_auth_methods_supported",
                            waf_metadata_list(confidential));
        static const char *const dpop_algs[] = {"ES256", "RS256", NULL}; /* = DPOP_ALGS */
        json_object_set_new(m, "dpop_signing_alg_values_supported", waf_metadata_list(dpop_algs));
    }
    return m;
}
