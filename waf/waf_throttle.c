/* waf_throttle: in memory, open addressing over a fixed array; when the table is full the oldest
 * entry in the probe run is replaced, so memory stays bounded whatever an attacker sends (an
 * evicted key only loses its count, never blocks someone else). In the store, one row per key:
 * a failure is one INSERT … ON CONFLICT DO UPDATE, atomic however many replicas count at once;
 * rows whose window has passed are deleted by waf_store_gc. A store that cannot answer fails
 * open (the sign-in itself then fails on the same store) and says so in the log. */
#include "waf_throttle.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "waf_db.h"

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
    struct waf_store *st; /* NULL: the table below */
    char name[16];
    pthread_mutex_t mu;           /* the table below: the store threads share it */
    struct waf_throttle_entry *e; /* WAF_THROTTLE_SLOTS of them, in memory only */
};

/* The row of key (as "name/key"), within its window: 1 with count and last, 0 if none or the
 * store failed. */
static int waf_throttle_row(struct waf_throttle *t, const char *key, int64_t now, long *count,
                            int64_t *last)
{
    struct waf_db *db = waf_store_db(t->st);
    struct waf_stmt *s;
    char k[WAF_THROTTLE_KEY + 20];
    snprintf(k, sizeof(k), "%s/%.*s", t->name, WAF_THROTTLE_KEY - 1, key);
    if (waf_db_prepare(db,
                       "SELECT count, last_at FROM throttles WHERE key = ?1 AND window_start > ?2",
                       &s) != WAF_DB_OK) {
        log_warn("throttle: the store cannot be read (%s); not throttled", waf_db_errmsg(db));
        return 0;
    }
    waf_db_bind_text(s, 1, k);
    waf_db_bind_int64(s, 2, now - t->window); /* (no arithmetic on two untyped parameters) */
    int found = waf_db_step(s) == WAF_DB_ROW;
    if (found) {
        *count = (long)waf_db_column_int64(s, 0);
        *last = waf_db_column_int64(s, 1);
    }
    waf_db_finalize(s);
    return found;
}

/* Runs sql with ?1 = "name/key", and when it has them ?2 = now, ?3 = the oldest window start
 * still open (now - window). */
static void waf_throttle_row_write(struct waf_throttle *t, const char *sql, int n_params,
                                   const char *key, int64_t now)
{
    struct waf_db *db = waf_store_db(t->st);
    struct waf_stmt *s;
    char k[WAF_THROTTLE_KEY + 20];
    snprintf(k, sizeof(k), "%s/%.*s", t->name, WAF_THROTTLE_KEY - 1, key);
    int ok = waf_db_prepare(db, sql, &s) == WAF_DB_OK;
    if (ok) {
        waf_db_bind_text(s, 1, k);
        if (n_params == 3) {
            waf_db_bind_int64(s, 2, now);
            waf_db_bind_int64(s, 3, now - t->window);
        }
        ok = waf_db_step(s) == WAF_DB_DONE;
        waf_db_finalize(s);
    }
    if (!ok)
        log_warn("throttle: the store cannot be written (%s); attempt not counted",
                 waf_db_errmsg(db));
}

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
    if (t && !(t->e = calloc(WAF_THROTTLE_SLOTS, sizeof(*t->e)))) {
        free(t);
        return NULL;
    }
    if (t) {
        t->window = window;
        pthread_mutex_init(&t->mu, NULL);
    }
    return t;
}

int waf_throttle_in_store(const struct waf_throttle *t)
{
    return t->st != NULL;
}

struct waf_throttle *waf_throttle_open(long window, const char *name, struct waf_store *st)
{
    if (!st || !waf_store_db(st)->postgres)
        return waf_throttle_create(window);
    /* no table in memory: the rows live in the store */
    struct waf_throttle *t = calloc(1, sizeof(*t));
    if (t) {
        t->window = window;
        t->st = st;
        snprintf(t->name, sizeof(t->name), "%s", name);
    }
    return t;
}

/* The failures of key within the window and the latest one's time; 0 when none. */
static long waf_throttle_count(struct waf_throttle *t, const char *key, int64_t now, int64_t *last)
{
    if (t->st) {
        long count = 0;
        return waf_throttle_row(t, key, now, &count, last) ? count : 0;
    }
    pthread_mutex_lock(&t->mu);
    struct waf_throttle_entry *e = waf_throttle_find(t, key, 0, now);
    long count = 0;
    if (e) {
        *last = e->last;
        count = e->count;
    }
    pthread_mutex_unlock(&t->mu);
    return count;
}

int waf_throttle_blocked(struct waf_throttle *t, const char *key, long limit, int64_t now)
{
    int64_t last = 0;
    return waf_throttle_count(t, key, now, &last) >= limit;
}

void waf_throttle_fail(struct waf_throttle *t, const char *key, int64_t now)
{
    if (t->st) {
        /* a window that has passed starts again at 1 */
        waf_throttle_row_write(
            t,
            "INSERT INTO throttles (key, window_start, last_at, count) VALUES (?1, ?2, ?2, 1) "
            "ON CONFLICT (key) DO UPDATE SET "
            "count = CASE WHEN throttles.window_start <= ?3 THEN 1 "
            "ELSE throttles.count + 1 END, "
            "window_start = CASE WHEN throttles.window_start <= ?3 THEN ?2 "
            "ELSE throttles.window_start END, last_at = ?2",
            3, key, now);
        return;
    }
    pthread_mutex_lock(&t->mu);
    struct waf_throttle_entry *e = waf_throttle_find(t, key, 1, now);
    e->count++;
    e->last = now;
    pthread_mutex_unlock(&t->mu);
}

long waf_throttle_wait(struct waf_throttle *t, const char *key, long free_failures, int64_t now)
{
    int64_t last = 0;
    long count = waf_throttle_count(t, key, now, &last);
    if (count == 0 || count < free_failures)
        return 0;
    long delay = t->window;
    long over = count - free_failures; /* 0 for the first failure past the free ones */
    if (over < 20 && (2L << over) < delay)
        delay = 2L << over;
    long waited = (long)(now - last);
    return waited >= delay ? 0 : delay - waited;
}

void waf_throttle_clear(struct waf_throttle *t, const char *key)
{
    if (t->st) {
        waf_throttle_row_write(t, "DELETE FROM throttles WHERE key = ?1", 1, key, 0);
        return;
    }
    pthread_mutex_lock(&t->mu);
    struct waf_throttle_entry *e = waf_throttle_find(t, key, 0, 0);
    if (e)
        memset(e, 0, sizeof(*e));
    pthread_mutex_unlock(&t->mu);
}

void waf_throttle_destroy(struct waf_throttle *t)
{
    if (t && !t->st)
        pthread_mutex_destroy(&t->mu);
    if (t)
        free(t->e);
    free(t);
}
