/* waf_pool: the WAF's only threads. A pool is a fixed few threads and a bounded queue of jobs:
 * one pool verifies argon2id passwords (tens of milliseconds by design), another runs the
 * requests that need the store, each thread with a database connection of its own (waf_work).
 * Either way the event loop never waits: results go back through a queue and a wake-up. */
#ifndef IMSGW_WAF_POOL_H
#define IMSGW_WAF_POOL_H

#include <stddef.h>
#include <stdint.h>

#define WAF_POOL_THREADS_MAX 16

/* The head of every job; the submitter embeds it first in its own job struct. */
struct waf_pool_job {
    struct waf_pool_job *next;
    uint64_t id;
    /* Runs on a pool thread; ctx is that thread's context (waf_pool_create's ctx[i]). */
    void (*run)(struct waf_pool_job *job, void *ctx);
    /* Frees a job nobody will take (the pool stops); also what the taker calls when done. */
    void (*drop)(struct waf_pool_job *job);
};

struct waf_pool;

/* Starts threads (1..WAF_POOL_THREADS_MAX); thread i gets ctx[i] (ctx may be NULL). At most
 * max_jobs wait or run at once. notify(arg) is called from a thread after each result (it must
 * be thread-safe: lws_cancel_service is). NULL on error. */
struct waf_pool *waf_pool_create(int threads, void *const *ctx, size_t max_jobs,
                                 void (*notify)(void *), void *arg);
/* Queues job (the pool owns it from now on); -1 when the pool is full (the caller keeps it). */
int waf_pool_submit(struct waf_pool *p, struct waf_pool_job *job);
/* Takes one finished job (the caller owns it again), or NULL if none. */
struct waf_pool_job *waf_pool_take(struct waf_pool *p);
/* Stops the threads (running jobs finish first), drops every job left and frees p (NULL ok). */
void waf_pool_destroy(struct waf_pool *p);

#endif
