/* tok_cache: first-in first-out eviction is enough: every entry dies at its token's exp anyway,
 * and a flood of distinct tokens can only push out other cached tokens, never grow memory. */
#include "tok_cache.h"

#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <openssl/evp.h>

#define TOK_CACHE_KEY_LEN sizeof(struct tok_cache_key)

/* Entries hold the identity packed (its strings back to back), not a struct tok_identity with
 * its fixed-size arrays: a cache of 10,000 tokens then costs ~2 MB instead of ~35 MB. */
struct tok_cache_entry {
    uint8_t key[TOK_CACHE_KEY_LEN];
    int64_t valid_until;
    int64_t exp;
    uint8_t nimpu;
    uint16_t len;
    char jkt[TOK_JKT_SIZE]; /* the DPoP binding must survive the cache, or a bound token would
                               pass as a bearer one from its second use on */
    char packed[];          /* sub, impi, client_id, scope, impu[0..nimpu), each NUL-terminated */
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

/* SHA-256 fetched once: EVP_sha256() makes OpenSSL 3 look the algorithm up on every digest,
 * which cost more than hashing the token itself (docs/benchmarks.md). */
void tok_cache_key(const char *token, size_t len, struct tok_cache_key *key)
{
    static EVP_MD *sha256;
    unsigned int n = 0;
    if (!sha256)
        sha256 = EVP_MD_fetch(NULL, "SHA2-256", NULL);
    EVP_Digest(token, len, key->b, &n, sha256 ? sha256 : EVP_sha256(), NULL);
}

struct tok_cache *tok_cache_new(size_t max_entries)
{
    struct tok_cache *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
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

static const char *tok_cache_unpack_one(const char *p, char *out, size_t outlen)
{
    size_t n = strlen(p);
    snprintf(out, outlen, "%s", p);
    return p + n + 1;
}

int tok_cache_get(struct tok_cache *c, const struct tok_cache_key *key, int64_t now,
                  struct tok_identity *id)
{
    struct tok_cache_entry *e = g_hash_table_lookup(c->map, key->b);
    if (!e || now > e->valid_until)
        return 0;
    memset(id, 0, sizeof(*id));
    id->exp = e->exp;
    memcpy(id->jkt, e->jkt, sizeof(id->jkt));
    const char *p = e->packed;
    p = tok_cache_unpack_one(p, id->sub, sizeof(id->sub));
    p = tok_cache_unpack_one(p, id->impi, sizeof(id->impi));
    p = tok_cache_unpack_one(p, id->client_id, sizeof(id->client_id));
    p = tok_cache_unpack_one(p, id->scope, sizeof(id->scope));
    for (id->nimpu = 0; id->nimpu < e->nimpu; id->nimpu++)
        p = tok_cache_unpack_one(p, id->impu[id->nimpu], sizeof(id->impu[0]));
    return 1;
}

static struct tok_cache_entry *tok_cache_pack(const struct tok_identity *id)
{
    const char *parts[4 + TOK_MAX_IMPU] = {id->sub, id->impi, id->client_id, id->scope};
    size_t n = 4, len = 0;
    for (size_t i = 0; i < id->nimpu && i < TOK_MAX_IMPU; i++)
        parts[n++] = id->impu[i];
    for (size_t i = 0; i < n; i++)
        len += strlen(parts[i]) + 1;
    struct tok_cache_entry *e = calloc(1, sizeof(*e) + len);
    if (!e)
        return NULL;
    char *p = e->packed;
    for (size_t i = 0; i < n; i++)
        p = stpcpy(p, parts[i]) + 1;
    e->exp = id->exp;
    memcpy(e->jkt, id->jkt, sizeof(e->jkt));
    e->nimpu = (uint8_t)(n - 4);
    e->len = (uint16_t)len;
    return e;
}

static void tok_cache_drop_oldest(struct tok_cache *c)
{
    struct tok_cache_entry *e = g_queue_pop_head(&c->order);
    if (e) {
        g_hash_table_remove(c->map, e->key);
        free(e);
    }
}

void tok_cache_put(struct tok_cache *c, const struct tok_cache_key *key,
                   const struct tok_identity *id, int64_t valid_until)
{
    if (c->max == 0)
        return;
    struct tok_cache_entry *old = g_hash_table_lookup(c->map, key->b);
    if (old) { /* seen again after it lapsed: replace it, oldest-first order kept simple */
        g_queue_remove(&c->order, old);
        g_hash_table_remove(c->map, old->key);
        free(old);
    }
    while (g_hash_table_size(c->map) >= c->max)
        tok_cache_drop_oldest(c);
    struct tok_cache_entry *e = tok_cache_pack(id);
    if (!e)
        return; /* not cached: the token is validated again next time */
    memcpy(e->key, key->b, sizeof(e->key));
    e->valid_until = valid_until;
    g_hash_table_insert(c->map, e->key, e);
    g_queue_push_tail(&c->order, e);
}

size_t tok_cache_size(const struct tok_cache *c)
{
    return g_hash_table_size(c->map);
}

size_t tok_cache_capacity(const struct tok_cache *c)
{
    return c->max;
}
