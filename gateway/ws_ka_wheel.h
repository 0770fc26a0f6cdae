/* ws_ka_wheel: the keepalive timer wheel. One slot per second, each an intrusive list of the
 * connections whose next check falls in that second. Arming, noting traffic and removing are
 * O(1) (noting traffic only stores a time: the entry moves when its slot comes round), and a
 * tick visits only the slot(s) that fell due. Pure bookkeeping: the caller supplies the time
 * and performs the ping or the hang-up the wheel asks for. */
#ifndef IMSGW_WS_KA_WHEEL_H
#define IMSGW_WS_KA_WHEEL_H

#include <stddef.h>
#include <stdint.h>

/* Embedded in each connection; zero-initialised = not armed. */
struct ka_entry {
    struct ka_entry *next, **pprev; /* pprev == NULL: not in the wheel */
    int64_t last_rx_ms;             /* when something last arrived (or the flow opened) */
    int64_t pinged_ms;              /* when a ping went out since last_rx_ms; 0: none */
};

enum ka_action {
    KA_PING,   /* idle for one interval: send a ping (the entry stays armed) */
    KA_HANGUP, /* idle for two intervals, and one since the ping: close it (the entry is already
                  out of the wheel) */
};

struct ka_wheel {
    struct ka_entry **slots;
    size_t nslots;       /* > 2 * interval + 1: no deadline wraps onto a slot still to come */
    int64_t interval_ms; /* idle time before a ping; twice that before a hang-up */
    int64_t done_s;      /* the last second whose slot was visited */
};

/* Sizes the wheel for interval_s (>= 1) seconds; 0, or -1 if out of memory. */
int ka_wheel_init(struct ka_wheel *w, long interval_s, int64_t now_ms);
void ka_wheel_free(struct ka_wheel *w);
/* Starts watching e, idle from now_ms. */
void ka_arm(struct ka_wheel *w, struct ka_entry *e, int64_t now_ms);
/* Stops watching e (no-op when it is not armed). */
void ka_disarm(struct ka_entry *e);
/* Something arrived on e's connection: it is not idle any more. */
static inline void ka_seen(struct ka_entry *e, int64_t now_ms)
{
    e->last_rx_ms = now_ms;
    e->pinged_ms = 0;
}
/* Visits the slots of every second up to now_ms and calls act for each entry that fell due.
 * act may disarm any entry. Returns the number of entries visited. */
size_t ka_advance(struct ka_wheel *w, int64_t now_ms,
                  void (*act)(struct ka_entry *e, enum ka_action what, void *arg), void *arg);

#endif
