/* regevent_pace: the bound on reg-event SUBSCRIBEs in flight, its FIFO, cancelling a waiter whose
 * subscription ended, and stop, driven through the GLib default main context as the gateway's
 * loop drives it. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <glib.h>
#include <string.h>

#include "regevent_pace.h"

static struct regevent_pace_waiter waiter[16];
static int order[16], norder; /* waiter ids in the order they were given a place */
static int fail_send;         /* the go callback gives its place back at once (a failed send) */

static void on_go(void *arg)
{
    order[norder++] = GPOINTER_TO_INT(arg);
    if (fail_send)
        regevent_pace_leave();
}

static void reset(unsigned max)
{
    regevent_pace_clear();
    regevent_pace_configure(max, on_go);
    memset(waiter, 0, sizeof(waiter));
    norder = 0;
    fail_send = 0;
}

static int enter(int id)
{
    return regevent_pace_enter(&waiter[id], GINT_TO_POINTER(id));
}

/* Runs the loop until nothing is pending (bounded). */
static void spin(void)
{
    for (int i = 0; i < 100 && g_main_context_iteration(NULL, FALSE); i++)
        ;
}

static void test_alone_at_once_burst_paced(void **state)
{
    (void)state;
    reset(2);
    assert_int_equal(enter(0), 1); /* one registration: its SUBSCRIBE goes at once */
    assert_int_equal(enter(1), 1);
    for (int id = 2; id < 8; id++)
        assert_int_equal(enter(id), 0);
    struct regevent_pace_stats s;
    regevent_pace_get_stats(&s);
    assert_int_equal(s.inflight, 2);
    assert_int_equal(s.queued, 6);
    assert_int_equal(s.queued_total, 6);
    spin();
    assert_int_equal(norder, 0); /* nobody goes while no place came free */
    regevent_pace_leave();
    assert_int_equal(norder, 0); /* never from within leave() */
    spin();
    assert_int_equal(norder, 1);
    assert_int_equal(order[0], 2); /* the oldest first */
    /* A place freed while others wait is theirs: a newcomer queues behind them. */
    assert_int_equal(enter(8), 0);
    for (int k = 0; k < 6; k++) {
        regevent_pace_leave();
        spin();
    }
    assert_int_equal(norder, 7);
    for (int k = 0; k < 7; k++)
        assert_int_equal(order[k], k + 2);
    regevent_pace_get_stats(&s);
    assert_int_equal(s.inflight, 2);
    assert_int_equal(s.queued, 0);
    regevent_pace_leave();
    regevent_pace_leave();
    regevent_pace_get_stats(&s);
    assert_int_equal(s.inflight, 0);
    assert_int_equal(enter(9), 1); /* idle again: at once */
}

static void test_cancel_gives_the_turn_to_the_next(void **state)
{
    (void)state;
    reset(1);
    assert_int_equal(enter(0), 1);
    assert_int_equal(enter(1), 0);
    assert_int_equal(enter(2), 0);
    assert_int_equal(enter(3), 0);
    regevent_pace_cancel(&waiter[2]); /* its registration ended before its turn */
    regevent_pace_cancel(&waiter[2]); /* twice is harmless */
    regevent_pace_cancel(&waiter[0]); /* not queued: nothing */
    struct regevent_pace_stats s;
    regevent_pace_get_stats(&s);
    assert_int_equal(s.queued, 2);
    regevent_pace_leave();
    spin();
    regevent_pace_leave();
    spin();
    assert_int_equal(norder, 2);
    assert_int_equal(order[0], 1);
    assert_int_equal(order[1], 3);
    /* A cancelled waiter may queue again (an un-SUBSCRIBE after its refresh was dropped). */
    assert_int_equal(enter(2), 0);
    regevent_pace_leave();
    spin();
    assert_int_equal(order[2], 2);
}

static void test_failed_send_passes_the_place_on(void **state)
{
    (void)state;
    reset(1);
    assert_int_equal(enter(0), 1);
    for (int id = 1; id < 5; id++)
        assert_int_equal(enter(id), 0);
    fail_send = 1;
    regevent_pace_leave();
    spin();
    assert_int_equal(norder, 4); /* each failed at once and gave its place to the next */
    struct regevent_pace_stats s;
    regevent_pace_get_stats(&s);
    assert_int_equal(s.inflight, 0);
    assert_int_equal(s.queued, 0);
}

static void test_clear_forgets_the_queue(void **state)
{
    (void)state;
    reset(1);
    assert_int_equal(enter(0), 1);
    assert_int_equal(enter(1), 0);
    regevent_pace_leave(); /* a pump is pending */
    regevent_pace_clear();
    spin();
    assert_int_equal(norder, 0); /* the pending pump went with it */
    assert_false(regevent_pace_waiting(&waiter[1]));
    struct regevent_pace_stats s;
    regevent_pace_get_stats(&s);
    assert_int_equal(s.inflight, 0);
    assert_int_equal(s.queued, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alone_at_once_burst_paced),
        cmocka_unit_test(test_cancel_gives_the_turn_to_the_next),
        cmocka_unit_test(test_failed_send_passes_the_place_on),
        cmocka_unit_test(test_clear_forgets_the_queue),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
