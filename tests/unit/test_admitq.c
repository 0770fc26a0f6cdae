/* admitq: the admission queue type on its own, two instances side by side, driven through the
 * GLib default main context as the gateway's loop drives it: places, the FIFO and its bound, no
 * admission from within leave(), the wait limit (also after a cancel), the two-step ask/wait,
 * and stop. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <glib.h>
#include <string.h>

#include "admitq.h"

static struct admitq_waiter waiter[16];
static int order[16], norder; /* waiter ids in the order done() came */
static int verdict[16];       /* admitted (1) or not (0), by waiter id; -1 none */

static void on_done(struct admitq_waiter *w, int admitted)
{
    int id = (int)(w - waiter);
    order[norder++] = id;
    verdict[id] = admitted;
}

static struct admitq qa = ADMITQ_INIT(1, 1, 0, on_done), qb = ADMITQ_INIT(1, 1, 0, on_done);

static void reset(void)
{
    admitq_clear(&qa);
    admitq_clear(&qb);
    memset(waiter, 0, sizeof(waiter));
    norder = 0;
    for (int i = 0; i < 16; i++)
        verdict[i] = -1;
}

/* Runs the loop until nothing is pending (bounded). */
static void spin(void)
{
    for (int i = 0; i < 100 && g_main_context_iteration(NULL, FALSE); i++)
        ;
}

/* Runs the loop, blocking, until n callbacks came (bounded). */
static void wait_for(int n)
{
    for (int i = 0; i < 200 && norder < n; i++)
        g_main_context_iteration(NULL, TRUE);
}

static void test_places_fifo_bound(void **state)
{
    (void)state;
    reset();
    admitq_configure(&qa, 2, 2, 0, on_done);
    assert_int_equal(admitq_enter(&qa, &waiter[0]), ADMITQ_NOW);
    assert_int_equal(admitq_enter(&qa, &waiter[1]), ADMITQ_NOW);
    assert_int_equal(admitq_enter(&qa, &waiter[2]), ADMITQ_QUEUED);
    assert_int_equal(admitq_enter(&qa, &waiter[3]), ADMITQ_QUEUED);
    assert_int_equal(admitq_enter(&qa, &waiter[4]), ADMITQ_FULL);
    spin();
    assert_int_equal(norder, 0); /* nobody goes while no place came free */
    admitq_leave(&qa);
    assert_int_equal(norder, 0); /* never from within leave() */
    spin();
    assert_int_equal(norder, 1);
    assert_int_equal(order[0], 2); /* the oldest first */
    assert_int_equal(verdict[2], 1);
    /* a place freed while others wait is theirs: a newcomer queues behind them */
    admitq_leave(&qa);
    assert_int_equal(admitq_enter(&qa, &waiter[5]), ADMITQ_QUEUED);
    spin();
    admitq_leave(&qa);
    spin();
    assert_int_equal(norder, 3);
    assert_int_equal(order[1], 3);
    assert_int_equal(order[2], 5);
    struct admitq_stats s;
    admitq_get_stats(&qa, &s);
    assert_int_equal(s.inflight, 2);
    assert_int_equal(s.queued, 0);
    assert_int_equal(s.queued_total, 3);
    assert_int_equal(s.full_total, 1);
    assert_int_equal(s.expired_total, 0);
}

static void test_queues_are_independent(void **state)
{
    (void)state;
    reset();
    admitq_configure(&qa, 1, 4, 0, on_done);
    admitq_configure(&qb, 1, 4, 0, on_done);
    assert_int_equal(admitq_enter(&qa, &waiter[0]), ADMITQ_NOW);
    assert_int_equal(admitq_enter(&qb, &waiter[1]), ADMITQ_NOW); /* qa's place is not qb's */
    assert_int_equal(admitq_enter(&qa, &waiter[2]), ADMITQ_QUEUED);
    assert_int_equal(admitq_enter(&qb, &waiter[3]), ADMITQ_QUEUED);
    admitq_leave(&qb);
    spin();
    assert_int_equal(norder, 1);
    assert_int_equal(order[0], 3); /* qb's waiter, not qa's older one */
    struct admitq_stats s;
    admitq_get_stats(&qa, &s);
    assert_int_equal(s.inflight, 1);
    assert_int_equal(s.queued, 1);
}

static void test_wait_limit_and_cancel(void **state)
{
    (void)state;
    reset();
    admitq_configure(&qa, 1, 8, 40, on_done);
    assert_int_equal(admitq_enter(&qa, &waiter[0]), ADMITQ_NOW);
    assert_int_equal(admitq_enter(&qa, &waiter[1]), ADMITQ_QUEUED);
    assert_int_equal(admitq_enter(&qa, &waiter[2]), ADMITQ_QUEUED);
    admitq_cancel(&qa, &waiter[1]); /* the head leaves before its turn */
    admitq_cancel(&qa, &waiter[1]); /* twice is harmless */
    admitq_cancel(&qa, &waiter[0]); /* not queued: nothing */
    wait_for(1);
    assert_int_equal(norder, 1);
    assert_int_equal(order[0], 2);
    assert_int_equal(verdict[2], 0);  /* ran out, no place */
    assert_int_equal(verdict[1], -1); /* a cancelled waiter hears nothing */
    struct admitq_stats s;
    admitq_get_stats(&qa, &s);
    assert_int_equal(s.expired_total, 1);
    assert_int_equal(s.inflight, 1);
    assert_int_equal(s.queued, 0);
    /* a cancelled waiter may queue again */
    assert_int_equal(admitq_enter(&qa, &waiter[1]), ADMITQ_QUEUED);
    admitq_leave(&qa);
    spin();
    assert_int_equal(verdict[1], 1);
}

static void test_ask_then_wait(void **state)
{
    (void)state;
    reset();
    admitq_configure(&qa, 1, 1, 0, on_done);
    assert_int_equal(admitq_ask(&qa), ADMITQ_NOW);
    assert_int_equal(admitq_ask(&qa), ADMITQ_QUEUED); /* room to wait: the caller waits now */
    admitq_wait(&qa, &waiter[0]);
    assert_int_equal(admitq_ask(&qa), ADMITQ_FULL);
    admitq_leave(&qa);
    spin();
    assert_int_equal(verdict[0], 1);
    admitq_configure(&qa, 1, 0, 0, on_done); /* max_queue 0: nobody waits */
    assert_int_equal(admitq_ask(&qa), ADMITQ_FULL);
}

static void test_clear_refuses_waiters(void **state)
{
    (void)state;
    reset();
    admitq_configure(&qa, 1, 4, 60000, on_done);
    assert_int_equal(admitq_enter(&qa, &waiter[0]), ADMITQ_NOW);
    assert_int_equal(admitq_enter(&qa, &waiter[1]), ADMITQ_QUEUED);
    admitq_leave(&qa); /* a pump is pending */
    assert_int_equal(admitq_enter(&qa, &waiter[2]), ADMITQ_QUEUED);
    admitq_clear(&qa);
    assert_int_equal(norder, 2);
    assert_int_equal(verdict[1], 0);
    assert_int_equal(verdict[2], 0);
    spin();
    assert_int_equal(norder, 2); /* the pending pump and the timer went with it */
    struct admitq_stats s;
    admitq_get_stats(&qa, &s);
    assert_int_equal(s.queued, 0);
    assert_int_equal(s.inflight, 0);
    assert_int_equal(admitq_enter(&qa, &waiter[3]), ADMITQ_NOW);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_places_fifo_bound),     cmocka_unit_test(test_queues_are_independent),
        cmocka_unit_test(test_wait_limit_and_cancel), cmocka_unit_test(test_ask_then_wait),
        cmocka_unit_test(test_clear_refuses_waiters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
