/* regevent_pace: an admitq of SUBSCRIBEs (admitq.h) whose waiters are the subscriptions
 * themselves: no allocation per wait, no wait limit, no bound beyond their number. */
#include "regevent_pace.h"

#include <limits.h>
#include <stddef.h>

_Static_assert(offsetof(struct regevent_pace_waiter, w) == 0, "a waiter is its subscription's");

static regevent_pace_go pace_go;

static void pace_done(struct admitq_waiter *w, int admitted)
{
    if (admitted) /* else regevent_pace_clear(): their owner frees them */
        pace_go(((struct regevent_pace_waiter *)w)->arg);
}

static struct admitq pace_queue = ADMITQ_INIT(128, UINT_MAX, 0, pace_done);

void regevent_pace_configure(unsigned max_inflight, regevent_pace_go go)
{
    pace_go = go;
    admitq_configure(&pace_queue, max_inflight, UINT_MAX, 0, pace_done);
}

int regevent_pace_enter(struct regevent_pace_waiter *w, void *arg)
{
    w->arg = arg;
    return admitq_enter(&pace_queue, &w->w) == ADMITQ_NOW; /* never full */
}

void regevent_pace_cancel(struct regevent_pace_waiter *w)
{
    admitq_cancel(&pace_queue, &w->w);
}

void regevent_pace_leave(void)
{
    admitq_leave(&pace_queue);
}

void regevent_pace_get_stats(struct regevent_pace_stats *s)
{
    struct admitq_stats q;
    admitq_get_stats(&pace_queue, &q);
    s->inflight = q.inflight;
    s->queued = q.queued;
    s->queued_total = q.queued_total;
}

void regevent_pace_clear(void)
{
    admitq_clear(&pace_queue);
}
