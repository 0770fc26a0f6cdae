/* waf_throttle: failed-attempt counters per key ("user:alice", "ip:127.0.0.1", "impu:…"); a key
 * over its limit is refused until its window has passed. Kept in a fixed-size table in memory,
 * or, when the store is PostgreSQL, in its table throttles, so every WAF replica on that database
 * counts the same attempts (an attacker spreading over replicas gets no more tries). */
#ifndef IMSGW_WAF_THROTTLE_H
#define IMSGW_WAF_THROTTLE_H

#include <stdint.h>

#include "waf_store.h"

#define WAF_THROTTLE_SLOTS 4096

struct waf_throttle;

/* A table in memory whose entries count failures for window seconds. NULL on error. */
struct waf_throttle *waf_throttle_create(long window);
/* The same in the store when st is on PostgreSQL (keys prefixed with name, which must be unique
 * per table), else in memory. A table in memory may be used from any thread (it locks); one in
 * the store only on st's thread. NULL on error. */
struct waf_throttle *waf_throttle_open(long window, const char *name, struct waf_store *st);
/* 1 when t keeps its counts in the store. */
int waf_throttle_in_store(const struct waf_throttle *t);
/* 1 if key has reached limit failures within the window (the caller refuses the attempt). */
int waf_throttle_blocked(struct waf_throttle *t, const char *key, long limit, int64_t now);
/* Seconds key must still wait: 0 while it has fewer than free_failures failures in the window,
 * then 2, 4, 8 … seconds after its latest failure (at most the window): an exponential
 * back-off rather than a lock. */
long waf_throttle_wait(struct waf_throttle *t, const char *key, long free_failures, int64_t now);
/* Counts one failure for key. */
void waf_throttle_fail(struct waf_throttle *t, const char *key, int64_t now);
/* Forgets key (after a success). */
void waf_throttle_clear(struct waf_throttle *t, const char *key);
/* Frees t. */
void waf_throttle_destroy(struct waf_throttle *t);

#endif
