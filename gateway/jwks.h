/* jwks: the WAF's public keys, parsed once and kept by kid, refreshed over HTTP without blocking
 * the loop. A refetch on an unknown kid happens at most once per interval (RFC 8725 §3.10:
 * keys come only from the configured jwks_uri, never from a token header). */
#ifndef IMSGW_JWKS_H
#define IMSGW_JWKS_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

struct jwks;
struct jws_verifier;
struct lws_context;

/* Called once when a fetch ends; ok = 1 when new keys were loaded. */
typedef void (*jwks_done_fn)(void *arg, int ok);

#define JWKS_MAX_KEYS 16

/* NULL when out of memory. */
struct jwks *jwks_new(const char *uri, long refetch_interval_s);
void jwks_free(struct jwks *j);
/* Replaces the key set from a JWKS document; keys of unknown type are skipped (RFC 7517 §5).
 * Returns the number of usable keys, or -1 (and keeps the old set) with a reason in err. */
int jwks_load(struct jwks *j, const char *text, size_t len, char *err, size_t errlen);
/* The prepared key for kid or NULL; matches tok_key_lookup. */
struct jws_verifier *jwks_lookup(void *j, const char *kid);
/* Asks for a fetch; done(arg, ok) runs when it ends. Returns -1 (done never runs) when the
 * interval forbids another fetch now or too many callers already wait. */
int jwks_refresh(struct jwks *j, struct lws_context *ctx, int64_t now_ms, jwks_done_fn done,
                 void *arg);

#endif
