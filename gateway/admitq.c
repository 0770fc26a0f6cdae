/* admitq: a counter of places and a FIFO of waiters. Waiters join at the tail with the same
 * wait limit, so the head is the first to time out and one timer at its deadline is enough. */
#include "admitq.h"

#include <stddef.h>

#include "timeutil.h"

_Static_assert(offsetof(struct admitq_waiter, link) == 0, "a queued link is its waiter");

void admitq_configure(struct admitq *q, unsigned max_inflight, unsigned max_queue, unsigned wait_ms,
                      admitq_done_fn done)
{
    q->max_inflight = max_inflight ? max_inflight : 1;
    q->max_queue = max_queue;
    q->wait_ms = wait_ms;
    q->done = done;
}

static void admitq_disarm(struct admitq *q)
{
    if (q->timer_source)
        g_source_remove(q->timer_source);
    q->timer_source = 0;
    q->timer_at = 0;
}

static gboolean admitq_on_timer(gpointer data);

/* One timer, at the head's deadline. */
static void admitq_arm(struct admitq *q)
{
    struct admitq_waiter *head = (struct admitq_waiter *)g_queue_peek_head_link(&q->queue);
    if (!head) {
        admitq_disarm(q);
        return;
    }
    if (!q->wait_ms || (q->timer_source && q->timer_at == head->deadline_ms))
        return;
    admitq_disarm(q);
    int64_t wait = head->deadline_ms - (int64_t)time_mono_ms();
    q->timer_at = head->deadline_ms;
    q->timer_source = g_timeout_add(wait > 0 ? (guint)wait : 0, admitq_on_timer, q);
}

static struct admitq_waiter *admitq_pop(struct admitq *q)
{
    struct admitq_waiter *w = (struct admitq_waiter *)g_queue_pop_head_link(&q->queue);
    if (w)
        w->queued = 0;
    return w;
}

static gboolean admitq_on_timer(gpointer data)
{
    struct admitq *q = data;
    q->timer_source = 0;
    q->timer_at = 0;
    int64_t now = (int64_t)time_mono_ms();
    struct admitq_waiter *w;
    while ((w = (struct admitq_waiter *)g_queue_peek_head_link(&q->queue)) &&
           w->deadline_ms <= now) {
        admitq_pop(q);
        q->expired_total++;
        q->done(w, 0);
    }
    admitq_arm(q);
    return G_SOURCE_REMOVE;
}

static gboolean admitq_pump(gpointer data)
{
    struct admitq *q = data;
    q->pump_source = 0;
    struct admitq_waiter *w;
    while (q->inflight < q->max_inflight && (w = admitq_pop(q))) {
        q->inflight++;
        q->done(w, 1); /* may call admitq_leave() at once (a send that failed): fine, we loop */
    }
    admitq_arm(q);
    return G_SOURCE_REMOVE;
}

static void admitq_schedule(struct admitq *q)
{
    if (!g_queue_is_empty(&q->queue) && q->inflight < q->max_inflight && !q->pump_source)
        /* default priority: an idle-priority source would starve while the sockets are busy */
        q->pump_source = g_idle_add_full(G_PRIORITY_DEFAULT, admitq_pump, q, NULL);
}

enum admitq_verdict admitq_ask(struct admitq *q)
{
    /* Nobody overtakes the queue: a place freed while others wait is theirs. */
    if (q->inflight < q->max_inflight && g_queue_is_empty(&q->queue)) {
        q->inflight++;
        return ADMITQ_NOW;
    }
    if (g_queue_get_length(&q->queue) >= q->max_queue) {
        q->full_total++;
        return ADMITQ_FULL;
    }
    return ADMITQ_QUEUED;
}

void admitq_wait(struct admitq *q, struct admitq_waiter *w)
{
    g_assert(!w->queued);
    w->link = (GList){0};
    w->deadline_ms = q->wait_ms ? (int64_t)time_mono_ms() + q->wait_ms : 0;
    g_queue_push_tail_link(&q->queue, &w->link);
    w->queued = 1;
    q->queued_total++;
    admitq_arm(q);
    admitq_schedule(q);
}

enum admitq_verdict admitq_enter(struct admitq *q, struct admitq_waiter *w)
{
    g_assert(!w->queued);
    enum admitq_verdict v = admitq_ask(q);
    if (v == ADMITQ_QUEUED)
        admitq_wait(q, w);
    return v;
}

void admitq_cancel(struct admitq *q, struct admitq_waiter *w)
{
    if (!w->queued)
        return;
    g_queue_unlink(&q->queue, &w->link);
    w->queued = 0;
    admitq_arm(q);
}

void admitq_leave(struct admitq *q)
{
    if (q->inflight > 0)
        q->inflight--;
    admitq_schedule(q);
}

void admitq_get_stats(const struct admitq *q, struct admitq_stats *s)
{
    s->inflight = q->inflight;
    s->queued = q->queue.length;
    s->queued_total = q->queued_total;
    s->full_total = q->full_total;
    s->expired_total = q->expired_total;
}

void admitq_clear(struct admitq *q)
{
    if (q->pump_source)
        g_source_remove(q->pump_source);
    q->pump_source = 0;
    admitq_disarm(q);
    struct admitq_waiter *w;
    while ((w = admitq_pop(q)))
        q->done(w, 0);
    q->inflight = 0;
}
