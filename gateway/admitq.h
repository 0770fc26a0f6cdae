/* admitq: a bounded admission queue. At most max_inflight places are taken at once; whoever finds
 * none waits in arrival order (nobody overtakes the queue), up to max_queue waiters, for at most
 * wait_ms when that is set. The waiters are linked through themselves (embedded in what waits: no
 * allocation per wait, O(1) cancel). A place that comes free goes to the next waiter from a GLib
 * source, never from within admitq_leave(): leave() is called while a transaction is torn down
 * inside an nta callback, and sending the next one from there would re-enter nta. Knows nothing of
 * SIP; reg_admit (REGISTERs) and regevent_pace (reg-event SUBSCRIBEs) are its two users. */
#ifndef IMSGW_ADMITQ_H
#define IMSGW_ADMITQ_H

#include <glib.h>
#include <stdint.h>

struct admitq_waiter {
    GList link; /* first: a queued link is its waiter */
    int queued;
    int64_t deadline_ms; /* monotonic; only with a wait limit */
};

/* w is out of the queue: admitted 1, a place is taken (give it back with admitq_leave());
 * admitted 0, its wait ran out or admitq_clear() dropped it, no place taken. From the loop only. */
typedef void (*admitq_done_fn)(struct admitq_waiter *w, int admitted);

enum admitq_verdict {
    ADMITQ_NOW,    /* a place was taken: go now, admitq_leave() when done */
    ADMITQ_QUEUED, /* done(w, ...) comes later, from the loop, never from within this call */
    ADMITQ_FULL,   /* no place and no room to wait */
};

struct admitq_stats {
    uint64_t inflight;     /* places taken now */
    uint64_t queued;       /* waiters now */
    uint64_t queued_total; /* entries that had to wait */
    uint64_t full_total;   /* entries refused: no place and the queue full */
    uint64_t expired_total;
};

/* One queue, statically ADMITQ_INIT(...) (the arguments of admitq_configure()); only admitq.c
 * touches its fields. */
struct admitq {
    unsigned max_inflight, max_queue, wait_ms;
    admitq_done_fn done;
    unsigned inflight;
    GQueue queue;
    guint pump_source, timer_source;
    int64_t timer_at; /* the deadline the timer is armed for; 0 = none */
    uint64_t queued_total, full_total, expired_total;
};

#define ADMITQ_INIT(max_inflight_, max_queue_, wait_ms_, done_)                                    \
    {                                                                                              \
        .max_inflight = (max_inflight_), .max_queue = (max_queue_), .wait_ms = (wait_ms_),         \
        .done = (done_), .queue = G_QUEUE_INIT                                                     \
    }

/* max_inflight 0 counts as 1; max_queue 0: nobody waits; wait_ms 0: a waiter waits as long as it
 * takes. */
void admitq_configure(struct admitq *q, unsigned max_inflight, unsigned max_queue, unsigned wait_ms,
                      admitq_done_fn done);
/* Asks for a place for w (not queued now). */
enum admitq_verdict admitq_enter(struct admitq *q, struct admitq_waiter *w);
/* The same in two steps, for a caller that allocates its waiter only when it must wait:
 * ADMITQ_QUEUED here means "room to wait": admitq_wait(q, w) must follow before the loop runs. */
enum admitq_verdict admitq_ask(struct admitq *q);
void admitq_wait(struct admitq *q, struct admitq_waiter *w);
/* Takes w out of the queue without a call of done; nothing if it is not queued. */
void admitq_cancel(struct admitq *q, struct admitq_waiter *w);
/* Gives a place back; the next waiter goes from the loop. */
void admitq_leave(struct admitq *q);
void admitq_get_stats(const struct admitq *q, struct admitq_stats *s);
/* At stop: each waiter gets done(w, 0); the places taken are forgotten, the sources removed. */
void admitq_clear(struct admitq *q);

#endif
