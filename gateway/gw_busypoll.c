#include "gw_busypoll.h"

#include <sched.h>
#include <time.h>

#include <ev.h>

#include "log.h"

/* An idle watcher keeps libev from blocking while it is active (epoll_wait with timeout 0), and
 * libev runs it only in a turn in which no other watcher of any priority is pending: a turn in
 * which it did not run had work. The check watcher takes each turn's wake-up time; the prepare
 * watcher, run at the end of each turn (after gw_evloop's, which writes the turn's answers: it has
 * the lower priority), sees a turn with work, adapts the window to the quiet spell that ended
 * there and (re)starts the idle watcher; the idle watcher stops itself once the quiet spell has
 * lasted the window. Times are CLOCK_MONOTONIC: libev's ev_now() follows the wall clock. */
#define BP_GROW_START_NS 10000u

static struct ev_loop *bp_loop;
static ev_idle bp_idle;
static ev_prepare bp_prepare;
static ev_check bp_check;
static uint64_t bp_max_ns;      /* the budget */
static uint64_t bp_window_ns;   /* this spell's window, 0 .. bp_max_ns */
static uint64_t bp_turn_ns;     /* when the turn under way woke up */
static uint64_t bp_work_end_ns; /* when the last turn with work ended; 0: none yet */
static int bp_idle_ran;         /* the idle watcher ran in the turn under way */
static int bp_work_noted;       /* gw_busypoll_note_work() in the turn under way */
static struct gw_busypoll_stats bp_stats;

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* KVM's halt-polling rule: a quiet spell the window covered keeps it; one longer than the budget
 * (sparse traffic, an idle gateway) ends polling; one between the two grows the window. */
static void adapt(uint64_t quiet_ns)
{
    if (quiet_ns <= bp_window_ns)
        return;
    if (quiet_ns > bp_max_ns)
        bp_window_ns = 0;
    else if (bp_window_ns < bp_max_ns)
        bp_window_ns = bp_window_ns ? bp_window_ns * 2 : BP_GROW_START_NS;
    if (bp_window_ns > bp_max_ns)
        bp_window_ns = bp_max_ns;
}

static void on_check(struct ev_loop *loop, ev_check *w, int revents)
{
    (void)loop;
    (void)w;
    (void)revents;
    bp_turn_ns = mono_ns();
}

static void on_idle(struct ev_loop *loop, ev_idle *w, int revents)
{
    (void)revents;
    bp_idle_ran = 1;
    if (bp_turn_ns - bp_work_end_ns >= bp_window_ns) {
        bp_stats.polled_ns += bp_turn_ns - bp_work_end_ns;
        bp_stats.misses++;
        ev_idle_stop(loop, w); /* the next poll blocks */
        return;
    }
    /* another thread of this core that can run gets the CPU now, not at the end of our slice */
    sched_yield();
}

static void on_prepare(struct ev_loop *loop, ev_prepare *w, int revents)
{
    (void)w;
    (void)revents;
    int work = !bp_idle_ran || bp_work_noted;
    bp_idle_ran = bp_work_noted = 0;
    if (!work)
        return; /* a turn without work: polling on, or just stopped for the window */
    if (bp_work_end_ns && bp_turn_ns > bp_work_end_ns) {
        uint64_t quiet = bp_turn_ns - bp_work_end_ns;
        if (ev_is_active(&bp_idle)) { /* the spell was polled until the work came */
            bp_stats.polled_ns += quiet;
            bp_stats.hits++;
        }
        adapt(quiet);
    }
    bp_work_end_ns = mono_ns();
    if (bp_window_ns == 0)
        ev_idle_stop(loop, &bp_idle);
    else if (!ev_is_active(&bp_idle))
        ev_idle_start(loop, &bp_idle);
}

void gw_busypoll_start(struct ev_loop *loop, unsigned budget_us)
{
    if (budget_us == 0 || bp_loop)
        return;
    int policy = sched_getscheduler(0);
    if (policy == SCHED_FIFO || policy == SCHED_RR) {
        /* a real-time thread that polls keeps every normal thread of its core from running,
         * the kernel's softirq thread (which carries loopback and network receive work) too */
        log_warn("busy-poll-us %u ignored: the gateway runs at a real-time priority (%s), where "
                 "polling would starve the kernel's own work on its cores",
                 budget_us, policy == SCHED_FIFO ? "SCHED_FIFO" : "SCHED_RR");
        return;
    }
    bp_loop = loop;
    bp_max_ns = (uint64_t)budget_us * 1000u;
    bp_window_ns = bp_max_ns < BP_GROW_START_NS ? bp_max_ns : BP_GROW_START_NS;
    ev_idle_init(&bp_idle, on_idle);
    ev_set_priority(&bp_idle, EV_MINPRI);
    ev_prepare_init(&bp_prepare, on_prepare);
    ev_set_priority(&bp_prepare, EV_MINPRI);
    ev_prepare_start(loop, &bp_prepare);
    ev_check_init(&bp_check, on_check);
    ev_set_priority(&bp_check, EV_MAXPRI);
    ev_check_start(loop, &bp_check);
}

void gw_busypoll_note_work(void)
{
    bp_work_noted = 1;
}

void gw_busypoll_stop(void)
{
    if (!bp_loop)
        return;
    ev_idle_stop(bp_loop, &bp_idle);
    ev_prepare_stop(bp_loop, &bp_prepare);
    ev_check_stop(bp_loop, &bp_check);
    bp_loop = NULL;
}

void gw_busypoll_get_stats(struct gw_busypoll_stats *s)
{
    *s = bp_stats;
}
