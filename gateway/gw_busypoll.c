#include "gw_busypoll.h"

#include <sched.h>

#include <ev.h>

/* An idle watcher keeps libev from blocking while it is active (epoll_wait with timeout 0), and
 * libev runs it only in an iteration in which no other watcher of any priority is pending: an
 * iteration without it having run had work. The prepare watcher, run before each poll, sees
 * that and (re)starts the idle watcher; the idle watcher stops itself once the loop has been
 * without work for the budget. */
static struct ev_loop *bp_loop;
static ev_idle bp_idle;
static ev_prepare bp_prepare;
static ev_tstamp bp_budget;
static ev_tstamp bp_last_work;  /* when the loop last had work */
static ev_tstamp bp_spell_from; /* the current spell's first turn without work; 0: not in one */
static int bp_idle_ran;         /* the idle watcher ran in the turn just ended */
static uint64_t bp_spent_ns;

static void spell_end(ev_tstamp now)
{
    if (bp_spell_from > 0 && now > bp_spell_from)
        bp_spent_ns += (uint64_t)((now - bp_spell_from) * 1e9);
    bp_spell_from = 0;
}

static void on_idle(struct ev_loop *loop, ev_idle *w, int revents)
{
    (void)revents;
    bp_idle_ran = 1;
    ev_tstamp now = ev_now(loop);
    if (bp_spell_from == 0)
        bp_spell_from = now;
    if (now - bp_last_work >= bp_budget) {
        spell_end(now);
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
    if (bp_idle_ran) { /* a turn without work: polling on, or just stopped for the budget */
        bp_idle_ran = 0;
        return;
    }
    /* the turn just ended had work (or the loop starts): a new budget from now */
    spell_end(ev_now(loop)); /* the time the work was seen */
    ev_now_update(loop);     /* the budget counts from the work's end */
    bp_last_work = ev_now(loop);
    if (!ev_is_active(&bp_idle))
        ev_idle_start(loop, &bp_idle);
}

void gw_busypoll_start(struct ev_loop *loop, unsigned budget_us)
{
    if (budget_us == 0 || bp_loop)
        return;
    bp_loop = loop;
    bp_budget = budget_us / 1e6;
    ev_idle_init(&bp_idle, on_idle);
    ev_set_priority(&bp_idle, EV_MINPRI);
    ev_prepare_init(&bp_prepare, on_prepare);
    ev_prepare_start(loop, &bp_prepare);
}

void gw_busypoll_stop(void)
{
    if (!bp_loop)
        return;
    ev_idle_stop(bp_loop, &bp_idle);
    ev_prepare_stop(bp_loop, &bp_prepare);
    bp_loop = NULL;
}

uint64_t gw_busypoll_spent_ns(void)
{
    return bp_spent_ns;
}
