/* tok_cache: first-in first-out eviction is enough: every entry dies at its token's exp anyway,
 * and a flood of distinct tokens can only push out other cached tokens, never grow memory. */
#include "tok_cache.h"

#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <openssl/evp.h>

#define TOK_CACHE_KEY_LEN 32

struct tok_cache_entry {
    uint8_t key[TOK_CACHE_KEY_LEN];
    int64_t valid_until;
    struct tok_identity id;
};

struct tok_cache {
    GHashTable *map; /* key → entry */
    GQueue order;    /* oldest first */
    size_t max;
};

static guint tok_cache_hash(gconstpointer k)
{
    guint h;
    memcpy(&h, k, sizeof(h)); /* a SHA-256 prefix is already uniform */
    return h;
}

static gboolean tok_cache_equal(gconstpointer a, gconstpointer b)
{
    return memcmp(a, b, TOK_CACHE_KEY_LEN) == 0;
}

static void tok_cache_key(const char *token, size_t len, uint8_t key[TOK_CACHE_KEY_LEN])
{
    unsigned int n = 0;
    EVP_Digest(token, len, key, &n, EVP_sha256(), NULL);
}

struct tok_cache *tok_cache_new(size_t max_entries)
{
    struct tok_cache *c = calloc(1, sizeof(*c));
    c->map = g_hash_table_new(tok_cache_hash, tok_cache_equal);
    g_queue_init(&c->order);
    c->max = max_entries;
    return c;
}

void tok_cache_free(struct tok_cache *c)
{
    if (!c)
        return;
    g_queue_clear_full(&c->order, free);
    g_hash_table_destroy(c->map);
    free(c);
}

const struct tok_identity *tok_cache_get(struct tok_cache *c, const char *token, size_t len,
                                         int64_t now)
{
    uint8_t key[TOK_CACHE_KEY_LEN];
    tok_cache_key(token, len, key);
    struct tok_cache_entry *e = g_hash_table_lookup(c->map, key);
    return e && now <= e->valid_until ? &e->id : NULL;
}

static void tok_cache_drop_oldest(struct tok_cache *c)
{
    struct tok_cache_entry *e = g_queue_pop_head(&c->order);
    if (e) {
        g_hash_table_remove(c->map, e->key);
        free(e);
    }
}

void tok_cache_put(struct tok_cache *c, const char *token, size_t len,
                   const struct tok_identity *id, int64_t valid_until)
{
    if (c->max == 0)
        return;
    uint8_t key[TOK_CACHE_KEY_LEN];
    tok_cache_key(token, len, key);
    struct tok_cache_entry *e = g_hash_table_lookup(c->map, key);
    if (e) { /* seen again after it lapsed: refresh in place, keep its place in the queue */
        e->valid_until = valid_until;
        e->id = *id;
        return;
    }
    e = calloc(1, sizeof(*e));
    memcpy(e->key, key, sizeof(key));
    while (g_hash_table_size(c->map) >= c->max)
        tok_cache_drop_oldest(c);
    e->valid_until = valid_until;
    e->id = *id;
    g_hash_table_insert(c->map, e->key, e);
    g_queue_push_tail(&c->order, e);
}

size_t tok_cache_size(const struct tok_cache *c)
{
    return g_hash_table_size(c->map);
}
