/* waf_throttle: open addressing over a fixed array; when the table is full the oldest entry in
 * the probe run is replaced, so memory stays bounded whatever an attacker sends (an evicted key
 * only loses its count, never blocks someone else). */
#include "waf_throttle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WAF_THROTTLE_KEY 128 /* "us:" + a 64-character user + "|" + an IPv6 /64 fits */
#define WAF_THROTTLE_PROBE 16

struct waf_throttle_entry {
    char key[WAF_THROTTLE_KEY];
    int64_t first; /* start of the current window */
    int64_t last;  /* the latest failure */
    long count;
};

struct waf_throttle {
    long window;
    struct waf_throttle_entry e[WAF_THROTTLE_SLOTS];
};

static uint32_t waf_throttle_hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static struct waf_throttle_entry *waf_throttle_find(struct waf_throttle *t, const char *key,
                                                    int create, int64_t now)
{
    char k[WAF_THROTTLE_KEY];
    snprintf(k, sizeof(k), "%s", key);
    uint32_t h = waf_throttle_hash(k);
    struct waf_throttle_entry *victim = NULL;
    for (uint32_t i = 0; i < WAF_THROTTLE_PROBE; i++) {
        struct waf_throttle_entry *e = &t->e[(h + i) % WAF_THROTTLE_SLOTS];
        if (e->key[0] && strcmp(e->key, k) == 0) {
            if (now - e->first >= t->window) {
                e->first = now;
                e->count = 0;
            }
            return e;
        }
        int free_slot = !e->key[0] || now - e->first >= t->window;
        int victim_free = victim && (!victim->key[0] || now - victim->first >= t->window);
        if (!victim || (!victim_free && (free_slot || e->first < victim->first)))
            victim = e;
    }
    if (!create)
        return NULL;
    snprintf(victim->key, sizeof(victim->key), "%s", k);
    victim->first = now;
    victim->count = 0;
    return victim;
}

struct waf_throttle *waf_throttle_create(long window)
{
    struct waf_throttle *t = calloc(1, sizeof(*t));
    if (t)
        t->window = window;
    return t;
}

int waf_throttle_blocked(struct waf_throttle *t, const char *key, long limit, int64_t now)
{
    struct waf_throttle_entry *e = waf_throttle_find(t, key, 0, now);
    return e && e->count >= limit;
}

void waf_throttle_fail(struct waf_throttle *t, const char *key, int64_t now)
{
    struct waf_throttle_entry *e = waf_throttle_find(t, key, 1, now);
    e->count++;
    e->last = now;
}

long waf_throttle_wait(struct waf_throttle *t, const char *key, long free_failures, int64_t now)
{
    struct waf_throttle_entry *e = waf_throttle_find(t, key, 0, now);
    if (!e || e->count < free_failures)
        return 0;
    long delay = t->window;
    long over = e->count - free_failures; /* 0 for the first failure past the free ones */
    if (over < 20 && (2L << over) < delay)
        delay = 2L << over;
    long waited = (long)(now - e->last);
    return waited >= delay ? 0 : delay - waited;
}

void waf_throttle_clear(struct waf_throttle *t, const char *key)
{
    struct waf_throttle_entry *e = waf_throttle_find(t, key, 0, 0);
    if (e)
        memset(e, 0, sizeof(*e));
}

void waf_throttle_destroy(struct waf_throttle *t)
{
    free(t);
}
