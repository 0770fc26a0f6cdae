/* gw_fdgen: every close() moves the descriptor's generation on, so state kept per descriptor
 * (ws_mask's parser, gw_latency's "asked") is seen as stale once the number is reused. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/socket.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "gw_fdgen.h"

static void test_close_moves_generation(void **state)
{
    (void)state;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    uint32_t noted = gw_fdgen(fd);
    assert_int_equal(gw_fdgen(fd), noted); /* reading does not move it */
    assert_int_equal(close(fd), 0);
    int again = socket(AF_INET, SOCK_STREAM, 0); /* the lowest free number: the same one */
    assert_int_equal(again, fd);
    assert_int_not_equal(gw_fdgen(again), noted);
    assert_int_equal(gw_fdgen(again), noted + 1);
    assert_int_equal(close(again), 0);
}

/* Libraries' close() calls reach the interposer too (GLib's g_close() stands for lws's and
 * sofia-sip's): a build that bound them elsewhere would turn the reuse checks off silently. */
static void test_library_close_counted(void **state)
{
    (void)state;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    uint32_t noted = gw_fdgen(fd);
    assert_true(g_close(fd, NULL));
    assert_int_equal(gw_fdgen(fd), noted + 1);
}

static void test_close_result_kept(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    assert_int_equal(close(fds[0]), 0);
    assert_int_equal(close(fds[1]), 0);
    assert_int_equal(close(fds[1]), -1); /* the system call's own answer: EBADF */
}

static void test_untracked(void **state)
{
    (void)state;
    assert_int_equal(gw_fdgen(-1), GW_FDGEN_UNKNOWN);
    assert_int_equal(gw_fdgen((int)GW_FDGEN_MAX), GW_FDGEN_UNKNOWN);
    assert_int_equal(close(-1), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_close_moves_generation),
        cmocka_unit_test(test_library_close_counted),
        cmocka_unit_test(test_close_result_kept),
        cmocka_unit_test(test_untracked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
