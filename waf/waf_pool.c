/* waf_pool: one mutex guards both lists. A job is owned by the pool from submit to take, so the
 * connection that asked may close meanwhile: its result is then dropped by id on the loop. */
#include "waf_pool.h"

#include <pthread.h>
#include <stdlib.h>

struct waf_pool;

struct waf_pool_thread {
    struct waf_pool *pool;
    void *ctx;
    pthread_t tid;
};

struct waf_pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct waf_pool_job *todo, *todo_tail, *done;
    size_t jobs, max_jobs;
    int stopping, n_threads;
    struct waf_pool_thread threads[WAF_POOL_THREADS_MAX];
    void (*notify)(void *);
    void *arg;
};

static void *waf_pool_main(void *arg)
{
    struct waf_pool_thread *t = arg;
    struct waf_pool *p = t->pool;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->todo && !p->stopping)
            pthread_cond_wait(&p->cv, &p->mu);
        if (p->stopping)
            break;
        struct waf_pool_job *j = p->todo;
        p->todo = j->next;
        if (!p->todo)
            p->todo_tail = NULL;
        pthread_mutex_unlock(&p->mu);
        j->run(j, t->ctx);
        pthread_mutex_lock(&p->mu);
        j->next = p->done;
        p->done = j;
        p->notify(p->arg);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

struct waf_pool *waf_pool_create(int threads, void *const *ctx, size_t max_jobs,
                                 void (*notify)(void *), void *arg)
{
    if (threads < 1 || threads > WAF_POOL_THREADS_MAX)
        return NULL;
    struct waf_pool *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->max_jobs = max_jobs;
    p->notify = notify;
    p->arg = arg;
    for (; p->n_threads < threads; p->n_threads++) {
        struct waf_pool_thread *t = &p->threads[p->n_threads];
        t->pool = p;
        t->ctx = ctx ? ctx[p->n_threads] : NULL;
        if (pthread_create(&t->tid, NULL, waf_pool_main, t) != 0) {
            waf_pool_destroy(p);
            return NULL;
        }
    }
    return p;
}

int waf_pool_submit(struct waf_pool *p, struct waf_pool_job *job)
{
    pthread_mutex_lock(&p->mu);
    int ok = p->jobs < p->max_jobs;
    if (ok) {
        job->next = NULL;
        if (p->todo_tail)
            p->todo_tail->next = job;
        else
            p->todo = job;
        p->todo_tail = job;
        p->jobs++;
        pthread_cond_signal(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
    return ok ? 0 : -1;
}

struct waf_pool_job *waf_pool_take(struct waf_pool *p)
{
    pthread_mutex_lock(&p->mu);
    struct waf_pool_job *j = p->done;
    if (j) {
        p->done = j->next;
        p->jobs--;
    }
    pthread_mutex_unlock(&p->mu);
    return j;
}

void waf_pool_destroy(struct waf_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stopping = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->n_threads; i++)
        pthread_join(p->threads[i].tid, NULL);
    for (struct waf_pool_job *lists[] = {p->todo, p->done}, **l = lists; l < lists + 2; l++)
        while (*l) {
            struct waf_pool_job *next = (*l)->next;
            (*l)->drop(*l);
            *l = next;
        }
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p);
}
