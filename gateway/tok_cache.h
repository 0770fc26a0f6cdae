/* tok_cache: identities of tokens already validated, keyed by SHA-256 of the token text, kept
 * until the token expires (or a shorter TTL for introspected tokens), bounded in count. A
 * re-REGISTER or a reconnecting client then costs a hash lookup, not a signature check. */
#ifndef IMSGW_TOK_CACHE_H
#define IMSGW_TOK_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "tok.h"

struct tok_cache;

struct tok_cache *tok_cache_new(size_t max_entries);
void tok_cache_free(struct tok_cache *c);
/* 1 with *id filled when token is cached and still valid at now; else 0. */
int tok_cache_get(struct tok_cache *c, const char *token, size_t len, int64_t now,
                  struct tok_identity *id);
/* Remembers id for token until valid_until (epoch seconds); the oldest entry goes when full. */
void tok_cache_put(struct tok_cache *c, const char *token, size_t len,
                   const struct tok_identity *id, int64_t valid_until);
/* Entries held now. */
size_t tok_cache_size(const struct tok_cache *c);

#endif
