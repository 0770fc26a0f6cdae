/* gw_busypoll: after the loop has had work, it polls for more without sleeping for up to a
 * budget of microseconds (`busy-poll-us`) before it blocks in epoll_wait again. On a virtual
 * machine a vCPU that halts when its last thread sleeps can take from tens of microseconds to
 * milliseconds to be run again once a packet wakes it (the host must schedule it: the steal and
 * wake-up figures of docs/benchmarks.md, session 14); under steady load the next message comes
 * within the budget and the loop is still running. The price is CPU: at most the budget per
 * quiet spell, spent yielding to any other runnable thread on the core. Off (0) by default. */
#ifndef IMSGW_GW_BUSYPOLL_H
#define IMSGW_GW_BUSYPOLL_H

#include <stdint.h>

struct ev_loop;

/* Starts the polling on loop with budget_us (0: does nothing). Once, after gw_evloop_create(). */
void gw_busypoll_start(struct ev_loop *loop, unsigned budget_us);
/* Stops it (before the loop is destroyed). */
void gw_busypoll_stop(void);
/* Nanoseconds spent polling without work so far (the metric's source). */
uint64_t gw_busypoll_spent_ns(void);

#endif
