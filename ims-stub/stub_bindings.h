/* stub_bindings: the registrar's location store, bounded, keyed by (AOR, +sip.instance, reg-id)
 * or by (AOR, contact URI) when the UA sent no instance. Plain memory, one process. */
#ifndef IMSGW_STUB_BINDINGS_H
#define IMSGW_STUB_BINDINGS_H

#include <stddef.h>
#include <stdint.h>

struct stub_binding {
    struct stub_binding *next; /* in its hash bucket */
    char *aor;                 /* canonical AOR (stub_aor) */
    char *instance;            /* +sip.instance value as sent, or NULL */
    long reg_id;               /* honoured reg-id, 0 when none */
    char *uri;                 /* contact URI, the key when instance is NULL */
    char *contact;             /* Contact value without expires, for the 200 and for routing */
    char *path;                /* Path vector as one header value, or NULL */
    char *call_id;
    uint32_t cseq;
    int64_t expires_at; /* time_now_s() seconds */
};

/* What a REGISTER writes into a binding (strings are copied). */
struct stub_binding_data {
    const char *contact, *path, *call_id;
    uint32_t cseq;
    int64_t expires_at;
};

struct stub_bindings;

/* A store that holds at most max bindings; NULL when out of memory. */
struct stub_bindings *stub_bindings_new(size_t max);
/* Frees the store and every binding. */
void stub_bindings_free(struct stub_bindings *s);
/* The binding with this key: instance + reg_id when instance is set, else uri. */
struct stub_binding *stub_bindings_find(struct stub_bindings *s, const char *aor,
                                        const char *instance, long reg_id, const char *uri);
/* The first binding of aor, then the next one after b (NULL at the end). */
struct stub_binding *stub_bindings_first(struct stub_bindings *s, const char *aor);
struct stub_binding *stub_bindings_next(struct stub_binding *b);
/* Adds a binding; NULL when the store is full or memory ran out. */
struct stub_binding *stub_bindings_add(struct stub_bindings *s, const char *aor,
                                       const char *instance, long reg_id, const char *uri,
                                       const struct stub_binding_data *d);
/* Replaces the contact, Path, Call-ID, CSeq and expiry of b; -1 when memory ran out. */
int stub_bindings_update(struct stub_binding *b, const struct stub_binding_data *d);
/* Removes and frees b. */
void stub_bindings_remove(struct stub_bindings *s, struct stub_binding *b);
/* Removes every binding whose expiry is <= now (only those of aor when aor is set). Returns
 * how many were removed. */
size_t stub_bindings_expire(struct stub_bindings *s, const char *aor, int64_t now);
/* Number of bindings held, and the bound. */
size_t stub_bindings_count(const struct stub_bindings *s);
size_t stub_bindings_max(const struct stub_bindings *s);

#endif
