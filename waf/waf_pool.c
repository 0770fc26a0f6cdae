/* waf_pool: one mutex guards both lists; a job carries copies of the hash and password, so the
 * connection that asked may close meanwhile (its result is then dropped by id on the loop). */
#include "waf_pool.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "waf_password.h"

struct waf_job {
    struct waf_job *next;
    uint64_t id;
    int ok;
    char hash[WAF_HASH_MAX];
    char password[WAF_PASSWORD_MAX + 1];
};

struct waf_pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct waf_job *todo, *todo_tail, *done;
    size_t jobs, max_jobs;
    int stopping, n_threads;
    pthread_t threads[8];
    void (*notify)(void *);
    void *arg;
};

static void *waf_pool_main(void *arg)
{
    struct waf_pool *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->todo && !p->stopping)
            pthread_cond_wait(&p->cv, &p->mu);
        if (p->stopping)
            break;
        struct waf_job *j = p->todo;
        p->todo = j->next;
        if (!p->todo)
            p->todo_tail = NULL;
        pthread_mutex_unlock(&p->mu);
        j->ok = waf_password_verify(j->hash, j->password);
        OPENSSL_cleanse(j->password, sizeof(j->password));
        pthread_mutex_lock(&p->mu);
        j->next = p->done;
        p->done = j;
        p->notify(p->arg);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

struct waf_pool *waf_pool_create(int threads, size_t max_jobs, void (*notify)(void *), void *arg)
{
    struct waf_pool *p = calloc(1, sizeof(*p));
    if (!p || threads < 1 || threads > 8)
        goto fail;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->max_jobs = max_jobs;
    p->notify = notify;
    p->arg = arg;
    for (; p->n_threads < threads; p->n_threads++)
        if (pthread_create(&p->threads[p->n_threads], NULL, waf_pool_main, p) != 0) {
            waf_pool_destroy(p);
            return NULL;
        }
    return p;
fail:
    free(p);
    return NULL;
}

int waf_pool_submit(struct waf_pool *p, uint64_t id, const char *hash, const char *password)
{
    if (strlen(hash) >= WAF_HASH_MAX || strlen(password) > WAF_PASSWORD_MAX)
        return -1;
    pthread_mutex_lock(&p->mu);
    struct waf_job *j = p->jobs < p->max_jobs ? calloc(1, sizeof(*j)) : NULL;
    if (j) {
        j->id = id;
        strcpy(j->hash, hash);
        strcpy(j->password, password);
        if (p->todo_tail)
            p->todo_tail->next = j;
        else
            p->todo = j;
        p->todo_tail = j;
        p->jobs++;
        pthread_cond_signal(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
    return j ? 0 : -1;
}

int waf_pool_take(struct waf_pool *p, uint64_t *id, int *ok)
{
    pthread_mutex_lock(&p->mu);
    struct waf_job *j = p->done;
    if (j) {
        p->done = j->next;
        p->jobs--;
    }
    pthread_mutex_unlock(&p->mu);
    if (!j)
        return 0;
    *id = j->id;
    *ok = j->ok;
    free(j);
    return 1;
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
        pthread_join(p->threads[i], NULL);
    for (struct waf_job *lists[] = {p->todo, p->done}, **l = lists; l < lists + 2; l++)
        while (*l) {
            struct waf_job *next = (*l)->next;
            OPENSSL_cleanse((*l)->password, sizeof((*l)->password));
            free(*l);
            *l = next;
        }
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p);
}
