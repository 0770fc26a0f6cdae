/* waf_pool: the WAF's only threads — a fixed few that verify argon2id passwords, so a sign-in
 * (tens of milliseconds by design) never stalls the event loop. Results go back through a queue
 * and a wake-up of the loop. */
#ifndef IMSGW_WAF_POOL_H
#define IMSGW_WAF_POOL_H

#include <stddef.h>
#include <stdint.h>

struct waf_pool;

/* Starts threads workers; at most max_jobs wait or run at once. notify(arg) is called from a
 * worker after each result (it must be thread-safe: lws_cancel_service is). NULL on error. */
struct waf_pool *waf_pool_create(int threads, size_t max_jobs, void (*notify)(void *), void *arg);
/* Queues a check of password against the encoded hash; -1 when the pool is full. */
int waf_pool_submit(struct waf_pool *p, uint64_t id, const char *hash, const char *password);
/* Takes one finished job: 1 with *id and *ok (1 = the password matches), 0 if none. */
int waf_pool_take(struct waf_pool *p, uint64_t *id, int *ok);
/* Stops the threads (running jobs finish first) and frees p (NULL is fine). */
void waf_pool_destroy(struct waf_pool *p);

#endif
