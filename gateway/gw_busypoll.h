/* gw_busypoll: after the loop has had work, it polls for more without sleeping for a while
 * before it blocks in epoll_wait again (`busy-poll-us`). On a virtual machine a vCPU that halts
 * when its last thread sleeps can take from tens of microseconds to milliseconds to be run again
 * once a packet wakes it (the host must schedule it: docs/benchmarks.md, sessions 14 and 15);
 * under steady load the next message comes while the loop is still polling. The window adapts
 * as KVM's halt polling does: it grows (from 10 us, doubling, up to the budget) while quiet spells
 * are shorter than the budget, and drops to nothing after one that is longer, so sparse traffic
 * and an idle gateway do not pay for it. The price is CPU on a core that would otherwise be idle
 * (the loop yields to any other runnable thread while it polls): with events less than the
 * budget apart — real load, or a peer sending more than 1/budget packets a second — a worker
 * polls in every gap. Off (0) by default. */
#ifndef IMSGW_GW_BUSYPOLL_H
#define IMSGW_GW_BUSYPOLL_H

#include <stdint.h>

struct ev_loop;

/* Starts polling on loop with a budget of budget_us (0: does nothing). Once, after
 * gw_evloop_create(). Not under a real-time scheduling policy (SCHED_FIFO/RR, e.g. systemd's
 * CPUSchedulingPolicy): there it warns and does nothing. */
void gw_busypoll_start(struct ev_loop *loop, unsigned budget_us);
/* The turn under way did work libev did not see as a pending watcher (GLib's sources dispatched
 * from gw_evloop's check: a timeout GLib found due on its own clock). */
void gw_busypoll_note_work(void);
/* Stops it (before the loop is destroyed). */
void gw_busypoll_stop(void);

struct gw_busypoll_stats {
    uint64_t polled_ns; /* time spent polling without work (wall time; yielded time included) */
    uint64_t hits;      /* spells of polling that work ended */
    uint64_t misses;    /* spells that ran out of window, after which the loop slept */
};
void gw_busypoll_get_stats(struct gw_busypoll_stats *s);

#endif
