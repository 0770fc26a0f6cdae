/* reg_admit: a counter of places and a FIFO of waiters. Admission of a waiter always happens
 * from an idle source, never inside reg_admit_leave(): leave() is called while a transaction is
 * being torn down, and sending the next REGISTER from within that would re-enter nta. The FIFO
 * makes the head the first to time out, so one timer at its deadline is enough. */
#include "reg_admit.h"

#include <glib.h>

#include "timeutil.h"

struct reg_admit_waiter {
    reg_admit_cb cb;
    void *arg;
    int64_t deadline_ms; /* monotonic */
};

static unsigned admit_max_inflight = 256, admit_max_queue = 4096, admit_queue_ms = 5000;
static unsigned admit_inflight;
static GQueue admit_queue = G_QUEUE_INIT;
static guint admit_pump_source, admit_timer_source;
static int64_t admit_timer_at; /* deadline the timer is armed for; 0 = none */
static uint64_t admit_queued_total, admit_shed_total, admit_expired_total;

void reg_admit_configure(unsigned max_inflight, unsigned max_queue, unsigned queue_ms)
{
    admit_max_inflight = max_inflight ? max_inflight : 1;
    admit_max_queue = max_queue;
    admit_queue_ms = queue_ms;
}

static gboolean admit_on_timer(gpointer unused);

/* One timer, at the head's deadline (the earliest, since waiters are queued in order). */
static void admit_arm_timer(void)
{
    struct reg_admit_waiter *head = g_queue_peek_head(&admit_queue);
    if (!head || (admit_timer_source && admit_timer_at == head->deadline_ms))
        return;
    if (admit_timer_source)
        g_source_remove(admit_timer_source);
    int64_t wait = head->deadline_ms - (int64_t)time_mono_ms();
    admit_timer_at = head->deadline_ms;
    admit_timer_source = g_timeout_add(wait > 0 ? (guint)wait : 0, admit_on_timer, NULL);
}

static gboolean admit_on_timer(gpointer unused)
{
    (void)unused;
    admit_timer_source = 0;
    admit_timer_at = 0;
    int64_t now = (int64_t)time_mono_ms();
    struct reg_admit_waiter *w;
    while ((w = g_queue_peek_head(&admit_queue)) && w->deadline_ms <= now) {
        g_queue_pop_head(&admit_queue);
        admit_shed_total++;
        admit_expired_total++;
        reg_admit_cb cb = w->cb;
        void *arg = w->arg;
        g_free(w);
        cb(arg, 0);
    }
    admit_arm_timer();
    return G_SOURCE_REMOVE;
}

static gboolean admit_pump(gpointer unused)
{
    (void)unused;
    admit_pump_source = 0;
    struct reg_admit_waiter *w;
    while (admit_inflight < admit_max_inflight && (w = g_queue_pop_head(&admit_queue))) {
        admit_inflight++;
        reg_admit_cb cb = w->cb;
        void *arg = w->arg;
        g_free(w);
        cb(arg, 1); /* may call reg_admit_leave() at once (a send that failed): fine, we loop */
    }
    if (g_queue_is_empty(&admit_queue) && admit_timer_source) {
        g_source_remove(admit_timer_source);
        admit_timer_source = 0;
        admit_timer_at = 0;
    } else {
        admit_arm_timer();
    }
    return G_SOURCE_REMOVE;
}

enum reg_admit_verdict reg_admit_enter(reg_admit_cb cb, void *arg)
{
    /* Nobody may overtake the queue: a place freed while others wait is theirs. */
    if (admit_inflight < admit_max_inflight && g_queue_is_empty(&admit_queue)) {
        admit_inflight++;
        return REG_ADMIT_NOW;
    }
    if (g_queue_get_length(&admit_queue) >= admit_max_queue || admit_queue_ms == 0) {
        admit_shed_total++;
        return REG_ADMIT_FULL;
    }
    struct reg_admit_waiter *w = g_new(struct reg_admit_waiter, 1);
    w->cb = cb;
    w->arg = arg;
    w->deadline_ms = (int64_t)time_mono_ms() + admit_queue_ms;
    g_queue_push_tail(&admit_queue, w);
    admit_queued_total++;
    admit_arm_timer();
    return REG_ADMIT_QUEUED;
}

void reg_admit_leave(void)
{
    if (admit_inflight > 0)
        admit_inflight--;
    if (!g_queue_is_empty(&admit_queue) && !admit_pump_source)
        /* default priority: an idle-priority source would starve while the sockets are busy */
        admit_pump_source = g_idle_add_full(G_PRIORITY_DEFAULT, admit_pump, NULL, NULL);
}

unsigned reg_admit_retry_after(void)
{
    return (unsigned)g_random_int_range(2, 11);
}

void reg_admit_get_stats(struct reg_admit_stats *s)
{
    s->inflight = admit_inflight;
    s->queued = g_queue_get_length(&admit_queue);
    s->queued_total = admit_queued_total;
    s->shed_total = admit_shed_total;
    s->expired_total = admit_expired_total;
}

void reg_admit_clear(void)
{
    if (admit_pump_source)
        g_source_remove(admit_pump_source);
    if (admit_timer_source)
        g_source_remove(admit_timer_source);
    admit_pump_source = admit_timer_source = 0;
    admit_timer_at = 0;
    struct reg_admit_waiter *w;
    while ((w = g_queue_pop_head(&admit_queue))) {
        reg_admit_cb cb = w->cb;
        void *arg = w->arg;
        g_free(w);
        cb(arg, 0);
    }
    admit_inflight = 0;
}
