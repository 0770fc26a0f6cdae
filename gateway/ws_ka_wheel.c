/* ws_ka_wheel: an entry sits in the slot of a second at or before its next possible action
 * (ping at last_rx + interval, hang-up at last_rx + 2 * interval but never sooner than one
 * interval after the ping, which a busy loop may have sent late). Traffic only moves
 * last_rx_ms later, so the slot is never late; when it comes round, the entry either acts or
 * moves to the slot its newer deadline falls in. Each entry is visited about once per interval
 * however much traffic it has, and traffic costs a store. */
#include "ws_ka_wheel.h"

#include <stdlib.h>

int ka_wheel_init(struct ka_wheel *w, long interval_s, int64_t now_ms)
{
    /* A deadline is at most 2 * interval (rounded up to the next second) past the slot being
     * visited, so this many slots never put it back into one the current pass still visits. */
    w->nslots = 2 * (size_t)interval_s + 2;
    w->slots = calloc(w->nslots, sizeof(*w->slots));
    w->interval_ms = (int64_t)interval_s * 1000;
    w->done_s = now_ms / 1000;
    return w->slots ? 0 : -1;
}

void ka_wheel_free(struct ka_wheel *w)
{
    for (size_t i = 0; w->slots && i < w->nslots; i++)
        while (w->slots[i])
            ka_disarm(w->slots[i]);
    free(w->slots);
    w->slots = NULL;
}

static void ka_link(struct ka_entry **head, struct ka_entry *e)
{
    e->next = *head;
    if (e->next)
        e->next->pprev = &e->next;
    e->pprev = head;
    *head = e;
}

void ka_disarm(struct ka_entry *e)
{
    if (!e->pprev)
        return;
    *e->pprev = e->next;
    if (e->next)
        e->next->pprev = e->pprev;
    e->next = NULL;
    e->pprev = NULL;
}

/* The slot of the first second at or after deadline_ms, never one already visited. */
static void ka_place(struct ka_wheel *w, struct ka_entry *e, int64_t deadline_ms)
{
    int64_t s = (deadline_ms + 999) / 1000;
    if (s <= w->done_s)
        s = w->done_s + 1;
    ka_link(&w->slots[(size_t)s % w->nslots], e);
}

static int64_t ka_deadline(const struct ka_wheel *w, const struct ka_entry *e)
{
    if (!e->pinged_ms)
        return e->last_rx_ms + w->interval_ms;
    int64_t hangup = e->last_rx_ms + 2 * w->interval_ms, answer = e->pinged_ms + w->interval_ms;
    return hangup > answer ? hangup : answer;
}

void ka_arm(struct ka_wheel *w, struct ka_entry *e, int64_t now_ms)
{
    ka_disarm(e);
    ka_seen(e, now_ms);
    ka_place(w, e, ka_deadline(w, e));
}

size_t ka_advance(struct ka_wheel *w, int64_t now_ms,
                  void (*act)(struct ka_entry *e, enum ka_action what, void *arg), void *arg)
{
    int64_t now_s = now_ms / 1000;
    size_t visited = 0;
    /* After a stall longer than the wheel, one pass over every slot catches up. */
    if (now_s - w->done_s > (int64_t)w->nslots)
        w->done_s = now_s - (int64_t)w->nslots;
    while (w->done_s < now_s) {
        int64_t s = ++w->done_s;
        /* Detach the slot first: entries placed back (even into this slot index) wait for the
         * next pass, and act() may disarm any entry, which stays a well-formed list. */
        struct ka_entry *pending = NULL, **slot = &w->slots[(size_t)s % w->nslots];
        if (*slot) {
            pending = *slot;
            pending->pprev = &pending;
            *slot = NULL;
        }
        while (pending) {
            struct ka_entry *e = pending;
            ka_disarm(e);
            visited++;
            if (ka_deadline(w, e) > now_ms) { /* traffic since it was placed: not due */
                ka_place(w, e, ka_deadline(w, e));
            } else if (e->pinged_ms) {
                act(e, KA_HANGUP, arg);
            } else {
                e->pinged_ms = now_ms;
                ka_place(w, e, ka_deadline(w, e));
                act(e, KA_PING, arg);
            }
        }
    }
    return visited;
}
