/* stub_bindings: a fixed hash on the AOR, so the per-REGISTER work is one short chain and the
 * only full walk is the periodic expiry sweep. */
#include "stub_bindings.h"

#include <stdlib.h>
#include <string.h>

#define STUB_BUCKETS 65536 /* short chains up to the bench's 60,000 users (512 KiB) */

struct stub_bindings {
    struct stub_binding *bucket[STUB_BUCKETS];
    size_t count, max;
};

/* FNV-1a: the keys are AORs from trusted peers, so a simple hash is enough. */
static size_t stub_bindings_hash(const char *aor)
{
    uint32_t h = 2166136261u;
    for (const unsigned char *c = (const unsigned char *)aor; *c; c++)
        h = (h ^ *c) * 16777619u;
    return h % STUB_BUCKETS;
}

static int stub_streq(const char *a, const char *b)
{
    return a && b ? strcmp(a, b) == 0 : a == b;
}

static void stub_binding_free(struct stub_binding *b)
{
    free(b->aor);
    free(b->instance);
    free(b->uri);
    free(b->contact);
    free(b->path);
    free(b->call_id);
    free(b);
}

struct stub_bindings *stub_bindings_new(size_t max)
{
    struct stub_bindings *s = calloc(1, sizeof(*s));
    if (s)
        s->max = max;
    return s;
}

void stub_bindings_free(struct stub_bindings *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < STUB_BUCKETS; i++) {
        for (struct stub_binding *b = s->bucket[i], *next; b; b = next) {
            next = b->next;
            stub_binding_free(b);
        }
    }
    free(s);
}

struct stub_binding *stub_bindings_find(struct stub_bindings *s, const char *aor,
                                        const char *instance, long reg_id, const char *uri)
{
    for (struct stub_binding *b = stub_bindings_first(s, aor); b; b = stub_bindings_next(b)) {
        if (instance ? stub_streq(b->instance, instance) && b->reg_id == reg_id
                     : !b->instance && stub_streq(b->uri, uri))
            return b;
    }
    return NULL;
}

struct stub_binding *stub_bindings_first(struct stub_bindings *s, const char *aor)
{
    for (struct stub_binding *b = s->bucket[stub_bindings_hash(aor)]; b; b = b->next)
        if (strcmp(b->aor, aor) == 0)
            return b;
    return NULL;
}

struct stub_binding *stub_bindings_next(struct stub_binding *b)
{
    for (struct stub_binding *n = b->next; n; n = n->next)
        if (strcmp(n->aor, b->aor) == 0)
            return n;
    return NULL;
}

/* Copies src into *dst (NULL stays NULL); -1 when memory ran out. */
static int stub_dup(char **dst, const char *src)
{
    char *copy = src ? strdup(src) : NULL;
    if (src && !copy)
        return -1;
    free(*dst);
    *dst = copy;
    return 0;
}

int stub_bindings_update(struct stub_binding *b, const struct stub_binding_data *d)
{
    char *contact = NULL, *path = NULL, *call_id = NULL;
    if (stub_dup(&contact, d->contact) < 0 || stub_dup(&path, d->path) < 0 ||
        stub_dup(&call_id, d->call_id) < 0) {
        free(contact);
        free(path);
        free(call_id);
        return -1;
    }
    free(b->contact);
    free(b->path);
    free(b->call_id);
    b->contact = contact;
    b->path = path;
    b->call_id = call_id;
    b->cseq = d->cseq;
    b->expires_at = d->expires_at;
    return 0;
}

struct stub_binding *stub_bindings_add(struct stub_bindings *s, const char *aor,
                                       const char *instance, long reg_id, const char *uri,
                                       const struct stub_binding_data *d)
{
    if (s->count >= s->max)
        return NULL;
    struct stub_binding *b = calloc(1, sizeof(*b));
    if (!b)
        return NULL;
    if (stub_dup(&b->aor, aor) < 0 || stub_dup(&b->instance, instance) < 0 ||
        stub_dup(&b->uri, uri) < 0 || stub_bindings_update(b, d) < 0) {
        stub_binding_free(b);
        return NULL;
    }
    b->reg_id = reg_id;
    size_t h = stub_bindings_hash(aor);
    b->next = s->bucket[h];
    s->bucket[h] = b;
    s->count++;
    return b;
}

void stub_bindings_remove(struct stub_bindings *s, struct stub_binding *b)
{
    for (struct stub_binding **p = &s->bucket[stub_bindings_hash(b->aor)]; *p; p = &(*p)->next) {
        if (*p == b) {
            *p = b->next;
            stub_binding_free(b);
            s->count--;
            return;
        }
    }
}

size_t stub_bindings_expire(struct stub_bindings *s, const char *aor, int64_t now)
{
    size_t removed = 0;
    size_t from = aor ? stub_bindings_hash(aor) : 0, to = aor ? from + 1 : STUB_BUCKETS;
    for (size_t i = from; i < to; i++) {
        for (struct stub_binding **p = &s->bucket[i]; *p;) {
            struct stub_binding *b = *p;
            if (b->expires_at <= now && (!aor || strcmp(b->aor, aor) == 0)) {
                *p = b->next;
                stub_binding_free(b);
                s->count--;
                removed++;
            } else {
                p = &b->next;
            }
        }
    }
    return removed;
}

size_t stub_bindings_count(const struct stub_bindings *s)
{
    return s->count;
}

size_t stub_bindings_max(const struct stub_bindings *s)
{
    return s->max;
}
