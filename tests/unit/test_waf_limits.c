/* waf_limits and waf_throttle: sign-in back-off per (user, source), per-source limit, per-user
 * pace, and the /device_authorization rate (issue 9 item 8). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "waf_limits.h"

struct fx {
    struct waf_settings s;
    struct waf_app app;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    waf_settings_defaults(&f->s);
    f->s.login_max_failures_user = 3;
    f->s.login_max_failures_ip = 10;
    f->s.login_user_pace_after = 6;
    f->s.throttle_window = 900;
    f->s.device_authz_per_source = 2;
    f->s.device_authz_per_client = 3;
    f->app.s = &f->s;
    f->app.throttle = waf_throttle_create(f->s.throttle_window);
    assert_int_equal(waf_limits_open(&f->app), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    waf_limits_close(&f->app);
    waf_throttle_destroy(f->app.throttle);
    waf_settings_free(&f->s);
    free(f);
    return 0;
}

static long attempt(struct fx *f, const char *user, const char *src, int64_t now)
{
    const char *why = NULL;
    long wait = waf_limits_signin(&f->app, user, src, now, &why);
    if (wait)
        assert_non_null(why);
    return wait;
}

static void test_backoff_per_user_and_source(void **state)
{
    struct fx *f = *state;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(attempt(f, "alice", "192.0.2.66", 1000), 0);
        waf_limits_signin_failed(&f->app, "alice", "192.0.2.66", 1000);
    }
    /* the stranger backs off: 2 s, then 4 s after the next failure, … */
    assert_int_equal(attempt(f, "alice", "192.0.2.66", 1000), 2);
    assert_int_equal(attempt(f, "alice", "192.0.2.66", 1001), 1);
    assert_int_equal(attempt(f, "alice", "192.0.2.66", 1002), 0);
    waf_limits_signin_failed(&f->app, "alice", "192.0.2.66", 1002);
    assert_int_equal(attempt(f, "alice", "192.0.2.66", 1003), 3);
    /* alice from her own address is not affected */
    assert_int_equal(attempt(f, "alice", "198.51.100.7", 1003), 0);
    /* nor is bob from the stranger's address */
    assert_int_equal(attempt(f, "bob", "192.0.2.66", 1003), 0);
    /* a success forgets the back-off of that pair only */
    waf_limits_signin_ok(&f->app, "alice", "192.0.2.66");
    assert_int_equal(attempt(f, "alice", "192.0.2.66", 1003), 0);
}

static void test_backoff_is_capped_by_the_window(void **state)
{
    struct fx *f = *state;
    for (int i = 0; i < 40; i++)
        waf_limits_signin_failed(&f->app, "carol", "2001:db8:1:2::1", 5000);
    /* per-source limit (10) reached first: the whole /64 is paused for the window */
    long wait = attempt(f, "dave", "2001:db8:1:2::99", 5000);
    assert_int_equal(wait, 900);
    assert_int_equal(attempt(f, "dave", "2001:db8:1:3::1", 5000), 0); /* another /64 */
    /* back-off never exceeds the window */
    assert_true(waf_throttle_wait(f->app.throttle, "us:carol|2001:db8:1:2::/64", 3, 5000) <= 900);
}

static void test_distributed_guessing_is_paced_not_locked(void **state)
{
    struct fx *f = *state;
    char src[32];
    for (int i = 0; i < 6; i++) { /* one failure each from six addresses */
        snprintf(src, sizeof(src), "203.0.113.%d", i + 1);
        waf_limits_signin_failed(&f->app, "erin", src, 7000);
    }
    /* erin is paced: one attempt a second, from anywhere, her own address included */
    assert_int_equal(attempt(f, "erin", "198.51.100.1", 7001), 0);
    assert_int_equal(attempt(f, "erin", "203.0.113.99", 7001), 1);
    assert_int_equal(attempt(f, "erin", "198.51.100.1", 7002), 0);
    /* others are not paced */
    assert_int_equal(attempt(f, "frank", "203.0.113.99", 7002), 0);
    assert_int_equal(attempt(f, "frank", "203.0.113.99", 7002), 0);
}

static void test_device_authorization_rate(void **state)
{
    struct fx *f = *state;
    struct waf_resp resp;
    memset(&resp, 0, sizeof(resp));
    assert_int_equal(waf_limits_device(&f->app, "192.0.2.1", NULL, 100, &resp), 0);
    assert_int_equal(waf_limits_device(&f->app, "192.0.2.1", NULL, 100, &resp), 0);
    assert_int_equal(waf_limits_device(&f->app, "192.0.2.1", NULL, 100, &resp), 1);
    assert_int_equal(resp.status, 429);
    assert_non_null(strstr(resp.body, "\"slow_down\""));
    assert_true(resp.retry_after > 0);
    free(resp.body);
    memset(&resp, 0, sizeof(resp));
    assert_int_equal(waf_limits_device(&f->app, "192.0.2.2", NULL, 100, &resp), 0);
    assert_int_equal(waf_limits_device(&f->app, "192.0.2.1", NULL, 160, &resp), 0); /* a minute */
    for (int i = 0; i < 3; i++)
        assert_int_equal(waf_limits_device(&f->app, NULL, "tv", 200, &resp), 0);
    assert_int_equal(waf_limits_device(&f->app, NULL, "tv", 200, &resp), 1);
    free(resp.body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_backoff_per_user_and_source, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backoff_is_capped_by_the_window, setup, teardown),
        cmocka_unit_test_setup_teardown(test_distributed_guessing_is_paced_not_locked, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_device_authorization_rate, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
