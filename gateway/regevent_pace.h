/* regevent_pace: paces the reg-event SUBSCRIBE transactions (initial, refresh, un-SUBSCRIBE).
 * At most regevent-inflight-max of this worker are with the core at once; the others wait in
 * arrival order. Without it a registration burst sent one SUBSCRIBE per REGISTER at once: each
 * client transaction (≈ 2.3 KB with its message) lived until answered, thousands at a time, and
 * the heap they fragmented stayed resident after the burst (docs/benchmarks.md, "Idle memory").
 * A single registration still subscribes at once. The module knows nothing of SIP. */
#ifndef IMSGW_REGEVENT_PACE_H
#define IMSGW_REGEVENT_PACE_H

#include <stdint.h>

#include "admitq.h"

/* Embedded in what waits (one per subscription, so the queue is bounded by them). */
struct regevent_pace_waiter {
    struct admitq_waiter w; /* first */
    void *arg;              /* for the go callback */
};

/* A place was taken for arg: send now; give the place back with regevent_pace_leave() once the
 * transaction is over (or at once when the send failed). Called from the loop only. */
typedef void (*regevent_pace_go)(void *arg);

struct regevent_pace_stats {
    uint64_t inflight;     /* SUBSCRIBE transactions with the core now */
    uint64_t queued;       /* SUBSCRIBEs waiting for a place now */
    uint64_t queued_total; /* SUBSCRIBEs that had to wait */
};

/* The bound (setting regevent-inflight-max) and the callback for waiters given a place. */
void regevent_pace_configure(unsigned max_inflight, regevent_pace_go go);
/* Asks for a place for w (w->arg = arg). 1: taken, send now. 0: queued; go(arg) comes
 * later from the loop, never from within this call. */
int regevent_pace_enter(struct regevent_pace_waiter *w, void *arg);
/* 1 while w waits for its turn. */
static inline int regevent_pace_waiting(const struct regevent_pace_waiter *w)
{
    return w->w.queued;
}
/* Takes w out of the queue (its subscription ended before its turn); nothing if not queued. */
void regevent_pace_cancel(struct regevent_pace_waiter *w);
/* Gives a place back; the next waiter goes from an idle source, not from within this call. */
void regevent_pace_leave(void);
void regevent_pace_get_stats(struct regevent_pace_stats *s);
/* At stop: the queue is forgotten (its waiters are freed by their owner), places reset. */
void regevent_pace_clear(void);

#endif
