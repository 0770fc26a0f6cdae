/* regevent_pace: a counter of places and a FIFO of waiters linked through the subscriptions
 * themselves (no allocation per wait, O(1) cancel). The next waiter always goes from an idle
 * source: leave() is called while a transaction is torn down inside an nta callback, and sending
 * from there would re-enter nta. */
#include "regevent_pace.h"

#include <stddef.h>

/* A queued link is its waiter. */
_Static_assert(offsetof(struct regevent_pace_waiter, link) == 0, "link first");

static unsigned pace_max_inflight = 128;
static regevent_pace_go pace_go;
static unsigned pace_inflight;
static GQueue pace_queue = G_QUEUE_INIT;
static guint pace_pump_source;
static uint64_t pace_queued_total;

void regevent_pace_configure(unsigned max_inflight, regevent_pace_go go)
{
    pace_max_inflight = max_inflight ? max_inflight : 1;
    pace_go = go;
}

static gboolean pace_pump(gpointer unused)
{
    (void)unused;
    pace_pump_source = 0;
    GList *l;
    while (pace_inflight < pace_max_inflight && (l = g_queue_pop_head_link(&pace_queue))) {
        struct regevent_pace_waiter *w = (struct regevent_pace_waiter *)l;
        w->queued = 0;
        pace_inflight++;
        pace_go(l->data); /* may call regevent_pace_leave() at once (a failed send): fine */
    }
    return G_SOURCE_REMOVE;
}

static void pace_schedule(void)
{
    if (!g_queue_is_empty(&pace_queue) && pace_inflight < pace_max_inflight && !pace_pump_source)
        /* default priority: an idle-priority source would starve while the sockets are busy */
        pace_pump_source = g_idle_add_full(G_PRIORITY_DEFAULT, pace_pump, NULL, NULL);
}

int regevent_pace_enter(struct regevent_pace_waiter *w, void *arg)
{
    g_assert(!w->queued);
    /* Nobody overtakes the queue: a place freed while others wait is theirs. */
    if (pace_inflight < pace_max_inflight && g_queue_is_empty(&pace_queue)) {
        pace_inflight++;
        return 1;
    }
    w->link.data = arg;
    w->link.prev = w->link.next = NULL;
    g_queue_push_tail_link(&pace_queue, &w->link);
    w->queued = 1;
    pace_queued_total++;
    pace_schedule();
    return 0;
}

void regevent_pace_cancel(struct regevent_pace_waiter *w)
{
    if (!w->queued)
        return;
    g_queue_unlink(&pace_queue, &w->link);
    w->queued = 0;
}

void regevent_pace_leave(void)
{
    if (pace_inflight > 0)
        pace_inflight--;
    pace_schedule();
}

void regevent_pace_get_stats(struct regevent_pace_stats *s)
{
    s->inflight = pace_inflight;
    s->queued = g_queue_get_length(&pace_queue);
    s->queued_total = pace_queued_total;
}

void regevent_pace_clear(void)
{
    if (pace_pump_source)
        g_source_remove(pace_pump_source);
    pace_pump_source = 0;
    GList *l;
    while ((l = g_queue_pop_head_link(&pace_queue)))
        ((struct regevent_pace_waiter *)l)->queued = 0;
    pace_inflight = 0;
}
