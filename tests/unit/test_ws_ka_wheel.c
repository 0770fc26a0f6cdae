/* ws_ka_wheel: when idle connections are pinged and hung up, that traffic postpones both, that a
 * tick visits only what is due, and that the wheel survives a stalled loop and a removal from
 * inside the callback. Time is supplied by the test (milliseconds). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "ws_ka_wheel.h"

#define NENTRIES 600

static struct ka_entry entries[NENTRIES];
static int pings[NENTRIES], hangups[NENTRIES];
static struct ka_entry *disarm_on_act; /* an entry the callback removes (another's close) */

static void act(struct ka_entry *e, enum ka_action what, void *arg)
{
    (void)arg;
    size_t i = (size_t)(e - entries);
    if (what == KA_PING)
        pings[i]++;
    else
        hangups[i]++;
    if (disarm_on_act) {
        ka_disarm(disarm_on_act);
        disarm_on_act = NULL;
    }
}

static void reset(void)
{
    memset(entries, 0, sizeof(entries));
    memset(pings, 0, sizeof(pings));
    memset(hangups, 0, sizeof(hangups));
    disarm_on_act = NULL;
}

static size_t run(struct ka_wheel *w, int64_t now_ms)
{
    return ka_advance(w, now_ms, act, NULL);
}

/* Ticks every 100 ms from `from` up to `to`, as a running loop would. */
static void step(struct ka_wheel *w, int64_t from, int64_t to)
{
    for (int64_t t = from; t < to; t += 100)
        run(w, t);
    run(w, to);
}

static void test_ping_then_hangup(void **state)
{
    (void)state;
    reset();
    struct ka_wheel w;
    assert_int_equal(ka_wheel_init(&w, 3, 1000), 0);
    ka_arm(&w, &entries[0], 1000);
    run(&w, 3999);
    assert_int_equal(pings[0], 0);
    run(&w, 4000);
    assert_int_equal(pings[0], 1);
    run(&w, 6999);
    assert_int_equal(hangups[0], 0);
    run(&w, 7000);
    assert_int_equal(hangups[0], 1);
    assert_null(entries[0].pprev); /* out of the wheel */
    run(&w, 20000);
    assert_int_equal(pings[0] + hangups[0], 2);
    ka_wheel_free(&w);
}

static void test_traffic_postpones(void **state)
{
    (void)state;
    reset();
    struct ka_wheel w;
    assert_int_equal(ka_wheel_init(&w, 3, 1000), 0);
    ka_arm(&w, &entries[0], 1000);
    ka_seen(&entries[0], 3500);
    step(&w, 1000, 6999); /* idle since 3500: due at 6500, visited when the next second starts */
    assert_int_equal(pings[0], 0);
    run(&w, 7000);
    assert_int_equal(pings[0], 1);
    ka_seen(&entries[0], 7100); /* the pong */
    step(&w, 7100, 10999);
    assert_int_equal(pings[0], 1);
    assert_int_equal(hangups[0], 0);
    run(&w, 11000);
    assert_int_equal(pings[0], 2); /* idle again for one interval: pinged again, not hung up */
    assert_int_equal(hangups[0], 0);
    ka_wheel_free(&w);
}

/* A loop that stalled past the hang-up time still pings first and waits one interval. */
static void test_stall_pings_before_hangup(void **state)
{
    (void)state;
    reset();
    struct ka_wheel w;
    assert_int_equal(ka_wheel_init(&w, 3, 1000), 0);
    ka_arm(&w, &entries[0], 1000);
    ka_arm(&w, &entries[1], 1000);
    assert_int_equal(run(&w, 1000000), 2); /* far past the wheel: one pass, each visited once */
    assert_int_equal(pings[0], 1);
    assert_int_equal(hangups[0], 0);
    run(&w, 1002999);
    assert_int_equal(hangups[0], 0);
    run(&w, 1003000);
    assert_int_equal(hangups[0], 1);
    assert_int_equal(hangups[1], 1);
    ka_wheel_free(&w);
}

/* 600 connections opened 10 per second over a minute, with traffic on all of them all the
 * time: each second's tick visits only the 10 whose slot it is, and none is pinged. */
static void test_tick_visits_only_due(void **state)
{
    (void)state;
    reset();
    struct ka_wheel w;
    assert_int_equal(ka_wheel_init(&w, 60, 1000), 0);
    for (int i = 0; i < NENTRIES; i++)
        ka_arm(&w, &entries[i], 1000 + (i / 10) * 1000);
    size_t max_visits = 0, total = 0;
    for (int64_t t = 2000; t <= 181000; t += 1000) {
        for (int i = 0; i < NENTRIES; i++)
            if (entries[i].pprev)
                ka_seen(&entries[i], t);
        size_t v = run(&w, t);
        total += v;
        if (v > max_visits)
            max_visits = v;
    }
    assert_true(max_visits <= 10);
    assert_true(total <= 3 * NENTRIES); /* about once per interval each, over three intervals */
    for (int i = 0; i < NENTRIES; i++)
        assert_int_equal(pings[i] + hangups[i], 0);
    ka_wheel_free(&w);
    for (int i = 0; i < NENTRIES; i++)
        assert_null(entries[i].pprev);
}

/* A hang-up whose close removes another entry due in the same second. */
static void test_disarm_inside_callback(void **state)
{
    (void)state;
    reset();
    struct ka_wheel w;
    assert_int_equal(ka_wheel_init(&w, 1, 1000), 0);
    for (int i = 0; i < 3; i++)
        ka_arm(&w, &entries[i], 1000);
    ka_disarm(&entries[1]);
    ka_disarm(&entries[1]); /* twice is harmless */
    ka_arm(&w, &entries[1], 1000);
    disarm_on_act = &entries[0]; /* the first acted on removes entry 0 (the last in the slot) */
    run(&w, 2000);
    assert_int_equal(pings[0] + pings[1] + pings[2], 2);
    assert_int_equal(pings[0], 0);
    run(&w, 3000);
    assert_int_equal(hangups[1] + hangups[2], 2);
    assert_int_equal(hangups[0], 0);
    ka_wheel_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ping_then_hangup),
        cmocka_unit_test(test_traffic_postpones),
        cmocka_unit_test(test_stall_pings_before_hangup),
        cmocka_unit_test(test_tick_visits_only_due),
        cmocka_unit_test(test_disarm_inside_callback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
