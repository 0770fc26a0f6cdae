/* waf_client: OAuth clients (RFC 6749 §2): public ones with exact redirect URIs and PKCE,
 * confidential ones with a hashed 256-bit secret; each issues JWT or opaque access tokens. */
#ifndef IMSGW_WAF_CLIENT_H
#define IMSGW_WAF_CLIENT_H

#include <stddef.h>

#include "waf_secret.h"
#include "waf_store.h"
#include "waf_token.h"

#define WAF_CLIENT_REDIRECTS_MAX 8
#define WAF_SCOPE_MAX 255

enum waf_client_type { WAF_CLIENT_PUBLIC, WAF_CLIENT_CONFIDENTIAL };
enum waf_token_format { WAF_FORMAT_JWT, WAF_FORMAT_OPAQUE };

struct waf_client {
    char id[WAF_CLIENT_ID_MAX + 1];
    enum waf_client_type type;
    enum waf_token_format format;
    char scope[WAF_SCOPE_MAX + 1];  /* the most this client may ask for */
    char secret_hash[WAF_HASH_HEX]; /* confidential clients only */
    char redirect[WAF_CLIENT_REDIRECTS_MAX][WAF_URI_MAX + 1];
    size_t n_redirect;
};

typedef int (*waf_client_fn)(const struct waf_client *c, void *arg);

/* 1 if uri may be registered: https, or http on a loopback host; no fragment, no spaces. */
int waf_client_redirect_valid(const char *uri);
/* Writes scheme://authority of uri into out (size bytes); 0 or -1. */
int waf_client_origin_of(const char *uri, char *out, size_t size);
/* Adds c (all or nothing); 0, WAF_STORE_EXISTS, WAF_STORE_INVALID or WAF_STORE_ERROR with err. */
int waf_client_add(struct waf_store *st, const struct waf_client *c, char *err, size_t errlen);
/* Loads client id; 0, WAF_STORE_NOT_FOUND or WAF_STORE_ERROR. */
int waf_client_get(struct waf_store *st, const char *id, struct waf_client *out);
/* Deletes client id and everything issued to it. */
int waf_client_del(struct waf_store *st, const char *id, char *err, size_t errlen);
/* Calls fn for every client, ordered by id. */
int waf_client_list(struct waf_store *st, waf_client_fn fn, void *arg, char *err, size_t errlen);
/* 1 if uri is one of c's redirect URIs, compared exactly (RFC 9700 §4.1.3). */
int waf_client_redirect_ok(const struct waf_client *c, const char *uri);
/* 1 if secret is c's secret (constant time; 0 for a public client). */
int waf_client_secret_ok(const struct waf_client *c, const char *secret);
/* 1 if origin is the origin of a public client's redirect URI (CORS allow-list). */
int waf_client_origin_allowed(struct waf_store *st, const char *origin);
/* 1 if every scope in want is in the client's allowed scope. */
int waf_client_scope_ok(const struct waf_client *c, const char *want);

#endif
