/* tok_cache: identities of tokens already validated, keyed by SHA-256 of the token text, kept
 * until the token expires (or a shorter TTL for introspected tokens), bounded in count. A
 * re-REGISTER or a reconnecting client then costs a hash lookup, not a signature check. */
#ifndef IMSGW_TOK_CACHE_H
#define IMSGW_TOK_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "tok.h"

struct tok_cache;

/* A token's cache key (SHA-256 of its text): computed once per token by the caller, who skips it
 * when no cache could hold the token (a cache of size 0 means every REGISTER verifies, and a
 * hash per REGISTER would then be pure overhead). */
struct tok_cache_key {
    uint8_t b[32];
};
void tok_cache_key(const char *token, size_t len, struct tok_cache_key *key);

/* max_entries 0: a cache that holds nothing. */
struct tok_cache *tok_cache_new(size_t max_entries);
void tok_cache_free(struct tok_cache *c);
/* 1 with *id filled when the token is cached and still valid at now; else 0. */
int tok_cache_get(struct tok_cache *c, const struct tok_cache_key *key, int64_t now,
                  struct tok_identity *id);
/* Remembers id for the token until valid_until (epoch seconds); the oldest entry goes when full. */
void tok_cache_put(struct tok_cache *c, const struct tok_cache_key *key,
                   const struct tok_identity *id, int64_t valid_until);
/* Entries held now. */
size_t tok_cache_size(const struct tok_cache *c);
/* Entries it may hold (0: switched off). */
size_t tok_cache_capacity(const struct tok_cache *c);

#endif
