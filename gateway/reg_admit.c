/* reg_admit: an admitq of REGISTERs (admitq.h). A REGISTER that must wait gets its waiter
 * allocated here; one that goes at once, or is refused, costs no allocation. */
#include "reg_admit.h"

#include <stddef.h>

#include <glib.h>

#include "admitq.h"

struct reg_admit_waiter {
    struct admitq_waiter w;
    reg_admit_cb cb;
    void *arg;
};
_Static_assert(offsetof(struct reg_admit_waiter, w) == 0, "admitq hands back the waiter");

static void admit_done(struct admitq_waiter *w, int admitted);

/* Until reg_admit_configure(): the settings' defaults. */
static struct admitq admit_queue = ADMITQ_INIT(256, 4096, 5000, admit_done);

static void admit_done(struct admitq_waiter *w, int admitted)
{
    struct reg_admit_waiter *rw = (struct reg_admit_waiter *)w;
    reg_admit_cb cb = rw->cb;
    void *arg = rw->arg;
    g_free(rw);
    cb(arg, admitted);
}

void reg_admit_configure(unsigned max_inflight, unsigned max_queue, unsigned queue_ms)
{
    /* register-queue-ms 0: nobody waits */
    admitq_configure(&admit_queue, max_inflight, queue_ms ? max_queue : 0, queue_ms, admit_done);
}

enum reg_admit_verdict reg_admit_enter(reg_admit_cb cb, void *arg)
{
    switch (admitq_ask(&admit_queue)) {
    case ADMITQ_NOW:
        return REG_ADMIT_NOW;
    case ADMITQ_FULL:
        return REG_ADMIT_FULL;
    case ADMITQ_QUEUED:
        break;
    }
    struct reg_admit_waiter *rw = g_new0(struct reg_admit_waiter, 1);
    rw->cb = cb;
    rw->arg = arg;
    admitq_wait(&admit_queue, &rw->w); /* resumes in admit_done() */
    return REG_ADMIT_QUEUED;
}

void reg_admit_leave(void)
{
    admitq_leave(&admit_queue);
}

unsigned reg_admit_retry_after(void)
{
    return (unsigned)g_random_int_range(2, 11);
}

void reg_admit_get_stats(struct reg_admit_stats *s)
{
    struct admitq_stats q;
    admitq_get_stats(&admit_queue, &q);
    s->inflight = q.inflight;
    s->queued = q.queued;
    s->queued_total = q.queued_total;
    s->shed_total = q.full_total + q.expired_total;
    s->expired_total = q.expired_total;
}

void reg_admit_clear(void)
{
    admitq_clear(&admit_queue); /* each waiter: cb(arg, 0) */
}
