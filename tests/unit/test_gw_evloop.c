/* gw_evloop: GLib's default main context (timeouts, idles, fd and signal sources, as the
 * gateway's modules and sofia-sip's su_glib use them) is driven from the libev loop that
 * libwebsockets runs on, and gw_evloop_stop() ends the run. An alarm fails a test that would
 * otherwise hang (a GLib source never dispatched leaves the loop blocked). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <unistd.h>

#include <ev.h>
#include <glib.h>
#include <glib-unix.h>

#include "gw_evloop.h"

struct gw;
struct gw *gw; /* defined by gw_main.c in the daemon; read() goes through gw_proxyproto.c */

#define NPIPES 40 /* more than the watcher array's first size: it has to grow */

static int fired_timeout, fired_idle, fired_fd, fired_signal, fired_ev;
static gint64 timeout_at;

static void on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "test_gw_evloop: the loop hung\n";
    (void)!write(2, msg, sizeof(msg) - 1);
    _exit(1);
}

static int setup(void **state)
{
    fired_timeout = fired_idle = fired_fd = fired_signal = fired_ev = 0;
    signal(SIGALRM, on_alarm);
    alarm(5);
    *state = gw_evloop_create();
    return *state ? 0 : -1;
}

static gboolean stop_cb(gpointer unused)
{
    (void)unused;
    gw_evloop_stop();
    return G_SOURCE_REMOVE;
}

static int teardown(void **state)
{
    (void)state;
    alarm(0);
    gw_evloop_destroy();
    return 0;
}

static gboolean stop_when_all(void)
{
    if (fired_timeout && fired_idle && fired_fd && fired_signal)
        gw_evloop_stop();
    return G_SOURCE_REMOVE;
}

static gboolean on_timeout(gpointer unused)
{
    (void)unused;
    fired_timeout++;
    timeout_at = g_get_monotonic_time();
    return stop_when_all();
}

static gboolean on_idle(gpointer unused)
{
    (void)unused;
    fired_idle++;
    return stop_when_all();
}

static gboolean on_fd(gint fd, GIOCondition cond, gpointer unused)
{
    (void)unused;
    char c;
    assert_true(cond & G_IO_IN);
    assert_int_equal(read(fd, &c, 1), 1);
    fired_fd++;
    return stop_when_all();
}

static gboolean on_signal(gpointer unused)
{
    (void)unused;
    fired_signal++;
    return stop_when_all();
}

/* Each kind of GLib source the gateway uses is dispatched, the timeout on time. */
static void test_glib_sources_dispatch(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    guint fd_src = g_unix_fd_add(p[0], G_IO_IN, on_fd, NULL);
    guint sig_src = g_unix_signal_add(SIGUSR1, on_signal, NULL);
    gint64 start = g_get_monotonic_time();
    g_timeout_add(80, on_timeout, NULL);
    g_idle_add(on_idle, NULL);
    assert_int_equal(write(p[1], "x", 1), 1);
    raise(SIGUSR1);
    gw_evloop_run();
    assert_int_equal(fired_timeout, 1);
    assert_int_equal(fired_idle, 1);
    assert_int_equal(fired_fd, 1);
    assert_int_equal(fired_signal, 1);
    assert_true(timeout_at - start >= 80 * 1000);
    assert_true(timeout_at - start < 1000 * 1000);
    g_source_remove(fd_src);
    g_source_remove(sig_src);
    close(p[0]);
    close(p[1]);
}

static int pipes[NPIPES][2];
static int fired_pipe[NPIPES];

static gboolean on_pipe(gint fd, GIOCondition cond, gpointer arg)
{
    (void)cond;
    char c;
    int i = GPOINTER_TO_INT(arg);
    assert_int_equal(fd, pipes[i][0]);
    assert_int_equal(read(fd, &c, 1), 1);
    fired_pipe[i]++;
    if (i == NPIPES - 1)
        gw_evloop_stop();
    return G_SOURCE_CONTINUE;
}

/* Many GLib fds (the array grows while watchers are live); only the ready one is dispatched,
 * then a source removed between rounds stops being watched. */
static void test_many_glib_fds(void **state)
{
    (void)state;
    guint src[NPIPES];
    for (int i = 0; i < NPIPES; i++) {
        assert_int_equal(pipe(pipes[i]), 0);
        fired_pipe[i] = 0;
        src[i] = g_unix_fd_add(pipes[i][0], G_IO_IN, on_pipe, GINT_TO_POINTER(i));
    }
    assert_int_equal(write(pipes[NPIPES - 1][1], "x", 1), 1);
    gw_evloop_run();
    for (int i = 0; i < NPIPES - 1; i++)
        assert_int_equal(fired_pipe[i], 0);
    assert_int_equal(fired_pipe[NPIPES - 1], 1);

    g_source_remove(src[NPIPES - 1]);
    assert_int_equal(write(pipes[NPIPES - 1][1], "x", 1), 1); /* nobody listens any more */
    assert_int_equal(write(pipes[3][1], "x", 1), 1);
    g_timeout_add(100, stop_cb, NULL);
    gw_evloop_run();
    assert_int_equal(fired_pipe[3], 1);
    assert_int_equal(fired_pipe[NPIPES - 1], 1);

    /* An fd closed and another opened with the same number at the same place in GLib's list
     * (a trunk reconnecting) is watched afresh: epoll forgot the closed one. */
    const int k = NPIPES - 2; /* the last in GLib's list: a new source takes its place */
    g_source_remove(src[k]);
    close(pipes[k][0]);
    close(pipes[k][1]);
    int again[2];
    assert_int_equal(pipe(again), 0);
    assert_int_equal(again[0], pipes[k][0]);
    pipes[k][0] = again[0];
    pipes[k][1] = again[1];
    src[k] = g_unix_fd_add(pipes[k][0], G_IO_IN, on_pipe, GINT_TO_POINTER(k));
    assert_int_equal(write(pipes[k][1], "x", 1), 1);
    g_timeout_add(300, stop_cb, NULL);
    gw_evloop_run();
    assert_int_equal(fired_pipe[k], 1);
    for (int i = 0; i < NPIPES; i++) {
        if (i != NPIPES - 1)
            g_source_remove(src[i]);
        close(pipes[i][0]);
        close(pipes[i][1]);
    }
}

static gboolean on_idle_from_ev(gpointer unused)
{
    (void)unused;
    fired_idle++;
    gw_evloop_stop();
    return G_SOURCE_REMOVE;
}

static void on_ev_io(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)revents;
    char c;
    assert_int_equal(read(w->fd, &c, 1), 1);
    fired_ev++;
    ev_io_stop(loop, w);
    g_idle_add(on_idle_from_ev, NULL); /* as a WebSocket callback queues GLib work */
}

/* A libev watcher (a WebSocket connection's) is served on the same loop, and GLib work it queues
 * runs without waiting for another event. */
static void test_ev_watcher_queues_glib_work(void **state)
{
    struct ev_loop *loop = *state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    ev_io w;
    ev_io_init(&w, on_ev_io, p[0], EV_READ);
    ev_io_start(loop, &w);
    assert_int_equal(write(p[1], "x", 1), 1);
    gw_evloop_run();
    assert_int_equal(fired_ev, 1);
    assert_int_equal(fired_idle, 1);
    close(p[0]);
    close(p[1]);
}

static ev_tstamp timer_fired_at;

static void on_lws_like_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)w;
    (void)revents;
    timer_fired_at = ev_now(loop);
    gw_evloop_stop();
}

/* libwebsockets-evlib-ev re-arms its active timer with ev_timer_set() + ev_timer_start(): the
 * earlier time set last counts (not the first, 3 s away: the alarm would end the test). */
static void test_active_timer_rearmed_earlier(void **state)
{
    struct ev_loop *loop = *state;
    ev_timer t;
    ev_timer_init(&t, on_lws_like_timer, 3., 0.);
    ev_timer_start(loop, &t);
    ev_timer_set(&t, 0.05, 0.);
    ev_timer_start(loop, &t);
    ev_tstamp start = ev_now(loop);
    gw_evloop_run();
    assert_true(timer_fired_at - start < 1.0);
    assert_false(ev_is_active(&t));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_glib_sources_dispatch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_glib_fds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ev_watcher_queues_glib_work, setup, teardown),
        cmocka_unit_test_setup_teardown(test_active_timer_rearmed_earlier, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
