/* gw_sched: the loop thread's CPU and run-queue wait from /proc/thread-self/schedstat. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdint.h>
#include <time.h>

#include "gw_sched.h"

static void test_parse(void **state)
{
    (void)state;
    uint64_t cpu = 7, wait = 7;
    assert_int_equal(gw_sched_parse("123456789 42 17\n", &cpu, &wait), 0);
    assert_int_equal(cpu, 123456789);
    assert_int_equal(wait, 42);
    assert_int_equal(gw_sched_parse("18446744073709551615 0 1\n", &cpu, &wait), 0);
    assert_true(cpu == UINT64_MAX && wait == 0);
    cpu = wait = 7;
    assert_int_equal(gw_sched_parse("", &cpu, &wait), -1);
    assert_int_equal(gw_sched_parse("12\n", &cpu, &wait), -1);
    assert_int_equal(gw_sched_parse("12 x 1\n", &cpu, &wait), -1);
    assert_int_equal(gw_sched_parse("-1 2 3\n", &cpu, &wait), -1);
    assert_int_equal(gw_sched_parse("99999999999999999999999 2 3\n", &cpu, &wait), -1);
    assert_true(cpu == 7 && wait == 7); /* left alone when malformed */
}

/* The thread's own CPU time grows while it computes (Linux always has schedstat's run time). */
static void test_read_grows(void **state)
{
    (void)state;
    uint64_t cpu0, wait0, cpu1, wait1;
    assert_int_equal(gw_sched_read(&cpu0, &wait0), 0);
    struct timespec t0, t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
    volatile uint64_t x = 0;
    do {
        for (int i = 0; i < 100000; i++)
            x += (uint64_t)i;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    } while ((t.tv_sec - t0.tv_sec) * 1000000000L + (t.tv_nsec - t0.tv_nsec) < 20000000L);
    assert_int_equal(gw_sched_read(&cpu1, &wait1), 0);
    assert_true(cpu1 >= cpu0 + 10000000); /* at least half the 20 ms spun (tick accounting) */
    assert_true(wait1 >= wait0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_read_grows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
