/* reg_admit: back-pressure towards the IMS core. At most register-inflight-max REGISTERs of this
 * worker are with the core at once; up to register-queue-max more wait for a place, in arrival
 * order, for at most register-queue-ms; only the surplus beyond that queue, and a REGISTER that
 * waited too long, is answered 503 + Retry-After (by the caller). Without the bound every
 * REGISTER of a burst went to the core at once: sofia-sip's transport queue on the trunk (64
 * messages by default) overflowed and nta answered the rest 503 itself, and a core that falls
 * behind got them all anyway (docs/benchmarks.md). The module knows nothing of SIP. */
#ifndef IMSGW_REG_ADMIT_H
#define IMSGW_REG_ADMIT_H

#include <stdint.h>

enum reg_admit_verdict {
    REG_ADMIT_NOW,    /* a place was taken: send now, reg_admit_leave() after the final answer */
    REG_ADMIT_QUEUED, /* the callback comes later, from the loop, never from this call */
    REG_ADMIT_FULL,   /* no place and the queue is full: answer 503 + Retry-After now */
};

/* admitted 1: a place is taken (give it back with reg_admit_leave()); 0: the wait ran out or
 * the gateway stops, no place taken. Called from the main loop, once per queued REGISTER. */
typedef void (*reg_admit_cb)(void *arg, int admitted);

struct reg_admit_stats {
    uint64_t inflight;      /* REGISTERs with the core now */
    uint64_t queued;        /* REGISTERs waiting for a place now */
    uint64_t queued_total;  /* REGISTERs that had to wait */
    uint64_t shed_total;    /* REGISTERs refused for the bound (queue full or waited too long) */
    uint64_t expired_total; /* of which: waited register-queue-ms without a place */
};

/* The bounds (settings register-inflight-max, register-queue-max, register-queue-ms). */
void reg_admit_configure(unsigned max_inflight, unsigned max_queue, unsigned queue_ms);
/* Asks for a place for one REGISTER; cb(arg, ...) is called later only for REG_ADMIT_QUEUED. */
enum reg_admit_verdict reg_admit_enter(reg_admit_cb cb, void *arg);
/* Gives a place back; the next waiter is admitted from the loop, not from within this call. */
void reg_admit_leave(void);
/* Seconds for the Retry-After of a refused REGISTER: spread over 2..10 so that the clients of
 * one storm do not all come back in the same second. */
unsigned reg_admit_retry_after(void);
void reg_admit_get_stats(struct reg_admit_stats *s);
/* At stop: every waiter gets cb(arg, 0); the places taken are forgotten. */
void reg_admit_clear(void);

#endif
