/* dpop_seen: see dpop_seen.h. A robust mutex because a worker can die at any instruction (a
 * crash, SIGKILL at the stop deadline): the next locker is told (EOWNERDEAD), marks the lock
 * consistent and goes on; the dead worker's entry is at worst half written, which can only make
 * one proof look replayed, never let one through twice. */
#include "dpop_seen.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>

#include "log.h"

struct dpop_seen_map {
    pthread_mutex_t lock;
    size_t bytes; /* of the whole mapping */
    _Alignas(16) unsigned char cache[];
};

static struct dpop_seen_map *dpop_seen;

int dpop_seen_start(size_t capacity, size_t key_max)
{
    if (dpop_seen)
        return 0;
    size_t bytes = sizeof(struct dpop_seen_map) + dpop_replay_size(capacity);
    struct dpop_seen_map *m =
        mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
        log_error("dpop: cannot map the shared replay cache: %s", strerror(errno));
        return -1;
    }
    pthread_mutexattr_t a;
    int rc = pthread_mutexattr_init(&a);
    if (!rc)
        rc = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    if (!rc)
        rc = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    if (!rc)
        rc = pthread_mutex_init(&m->lock, &a);
    pthread_mutexattr_destroy(&a);
    if (rc) {
        log_error("dpop: cannot make the replay cache's lock: %s", strerror(rc));
        munmap(m, bytes);
        return -1;
    }
    m->bytes = bytes;
    dpop_replay_share(dpop_replay_init(m->cache, capacity), key_max);
    dpop_seen = m;
    return 0;
}

int dpop_seen_add(const struct dpop_proof *p, int64_t now, int64_t expires_at)
{
    if (!dpop_seen)
        return -1;
    int rc = pthread_mutex_lock(&dpop_seen->lock);
    if (rc == EOWNERDEAD) {
        log_warn("dpop: a worker died while recording a proof; the replay cache goes on");
        pthread_mutex_consistent(&dpop_seen->lock);
    } else if (rc) {
        log_error("dpop: cannot lock the replay cache: %s", strerror(rc));
        return -1;
    }
    int seen = dpop_replay_add((struct dpop_replay *)dpop_seen->cache, p, now, expires_at);
    pthread_mutex_unlock(&dpop_seen->lock);
    return seen;
}

void dpop_seen_stop(void)
{
    if (dpop_seen)
        munmap(dpop_seen, dpop_seen->bytes);
    dpop_seen = NULL;
}
