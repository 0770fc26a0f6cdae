/* reg_admit: the in-flight bound towards the IMS core, its FIFO, expiry and stop, driven through
 * the GLib default main context as the gateway's loop drives it. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <glib.h>

#include "reg_admit.h"

static int order[16], norder; /* waiter ids in the order their callbacks came */
static int verdict[16];       /* admitted (1) or refused (0), by waiter id */
static int leave_in_callback; /* a waiter gives its place back at once (a failed send) */

static void on_admit(void *arg, int admitted)
{
    int id = GPOINTER_TO_INT(arg);
    order[norder++] = id;
    verdict[id] = admitted;
    if (admitted && leave_in_callback)
        reg_admit_leave();
}

static void reset(unsigned inflight, unsigned queue, unsigned ms)
{
    reg_admit_clear();
    reg_admit_configure(inflight, queue, ms);
    norder = 0;
    leave_in_callback = 0;
    for (int i = 0; i < 16; i++)
        verdict[i] = -1;
}

/* Runs the loop until nothing is pending (bounded). */
static void spin(void)
{
    for (int i = 0; i < 100 && g_main_context_iteration(NULL, FALSE); i++)
        ;
}

static void test_bound_queue_and_surplus(void **state)
{
    (void)state;
    reset(2, 2, 60000);
    assert_int_equal(reg_admit_enter(on_admit, GINT_TO_POINTER(0)), REG_ADMIT_NOW);
    assert_int_equal(reg_admit_enter(on_admit, GINT_TO_POINTER(1)), REG_ADMIT_NOW);
    assert_int_equal(reg_admit_enter(on_admit, GINT_TO_POINTER(2)), REG_ADMIT_QUEUED);
    assert_int_equal(reg_admit_enter(on_admit, GINT_TO_POINTER(3)), REG_ADMIT_QUEUED);
    assert_int_equal(reg_admit_enter(on_admit, GINT_TO_POINTER(4)), REG_ADMIT_FULL);
    struct reg_admit_stats s;
    reg_admit_get_stats(&s);
    assert_int_equal(s.inflight, 2);
    assert_int_equal(s.queued, 2);
    assert_int_equal(s.shed_total, 1);
    spin();
    assert_int_equal(norder, 0); /* nobody admitted while no place came free */
    reg_admit_leave();
    assert_int_equal(norder, 0); /* never from within leave() */
    spin();
    assert_int_equal(norder, 1);
    assert_int_equal(order[0], 2); /* the oldest first */
    assert_int_equal(verdict[2], 1);
    /* A place freed while others wait is theirs: a newcomer queues behind them. */
    reg_admit_leave();
    assert_int_equal(reg_admit_enter(on_admit, GINT_TO_POINTER(5)), REG_ADMIT_QUEUED);
    spin();
    assert_int_equal(norder, 2);
    assert_int_equal(order[1], 3);
    reg_admit_leave();
    spin();
    assert_int_equal(order[2], 5);
    reg_admit_get_stats(&s);
    assert_int_equal(s.inflight, 2);
    assert_int_equal(s.queued, 0);
    assert_int_equal(s.queued_total, 3);
}

static void test_wait_runs_out(void **state)
{
    (void)state;
    reset(1, 4, 30);
    assert_int_equal(reg_admit_enter(on_admit, GINT_TO_POINTER(0)), REG_ADMIT_NOW);
    assert_int_equal(reg_admit_enter(on_admit, GINT_TO_POINTER(1)), REG_ADMIT_QUEUED);
    assert_int_equal(reg_admit_enter(on_admit, GINT_TO_POINTER(2)), REG_ADMIT_QUEUED);
    for (int i = 0; i < 200 && norder < 2; i++)
        g_main_context_iteration(NULL, TRUE); /* blocks until the timer fires */
    assert_int_equal(norder, 2);
    assert_int_equal(verdict[1], 0);
    assert_int_equal(verdict[2], 0);
    struct reg_admit_stats s;
    reg_admit_get_stats(&s);
    assert_int_equal(s.expired_total, 2);
    assert_int_equal(s.inflight, 1); /* the refused ones took no place */
}

static void test_queue_zero_means_no_wait(void **state)
{
    (void)state;
    reset(1, 4, 0);
    assert_int_equal(reg_admit_enter(on_admit, GINT_TO_POINTER(0)), REG_ADMIT_NOW);
    assert_int_equal(reg_admit_enter(on_admit, GINT_TO_POINTER(1)), REG_ADMIT_FULL);
}

static void test_leave_inside_callback_admits_the_next(void **state)
{
    (void)state;
    reset(1, 4, 60000);
    assert_int_equal(reg_admit_enter(on_admit, GINT_TO_POINTER(0)), REG_ADMIT_NOW);
    assert_int_equal(reg_admit_enter(on_admit, GINT_TO_POINTER(1)), REG_ADMIT_QUEUED);
    assert_int_equal(reg_admit_enter(on_admit, GINT_TO_POINTER(2)), REG_ADMIT_QUEUED);
    leave_in_callback = 1;
    reg_admit_leave();
    spin();
    assert_int_equal(norder, 2);
    assert_int_equal(verdict[1], 1);
    assert_int_equal(verdict[2], 1);
}

static void test_clear_refuses_waiters(void **state)
{
    (void)state;
    reset(1, 4, 60000);
    assert_int_equal(reg_admit_enter(on_admit, GINT_TO_POINTER(0)), REG_ADMIT_NOW);
    assert_int_equal(reg_admit_enter(on_admit, GINT_TO_POINTER(1)), REG_ADMIT_QUEUED);
    reg_admit_clear();
    assert_int_equal(norder, 1);
    assert_int_equal(verdict[1], 0);
    struct reg_admit_stats s;
    reg_admit_get_stats(&s);
    assert_int_equal(s.queued, 0);
    assert_int_equal(s.inflight, 0);
}

static void test_retry_after_is_spread(void **state)
{
    (void)state;
    int seen[11] = {0};
    for (int i = 0; i < 1000; i++) {
        unsigned r = reg_admit_retry_after();
        assert_true(r >= 2 && r <= 10);
        seen[r] = 1;
    }
    int distinct = 0;
    for (int i = 0; i < 11; i++)
        distinct += seen[i];
    assert_true(distinct > 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bound_queue_and_surplus),
        cmocka_unit_test(test_wait_runs_out),
        cmocka_unit_test(test_queue_zero_means_no_wait),
        cmocka_unit_test(test_leave_inside_callback_admits_the_next),
        cmocka_unit_test(test_clear_refuses_waiters),
        cmocka_unit_test(test_retry_after_is_spread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
