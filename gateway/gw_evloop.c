/* gw_evloop: libev drives GLib's default main context (the EV::Glib pattern). Before libev
 * blocks (an ev_prepare), GLib prepares and names its fds and timeout: the fds get ev_io watchers
 * and the timeout an ev_timer. After libev wakes (an ev_check), the GLib fds that libev saw ready
 * are polled once more without waiting, for GLib's exact revents, and GLib checks and dispatches.
 * GLib holds few fds (sofia-sip's SIP sockets, the per-worker listen sockets, rtpengine's ng
 * socket, its own wakeup fd): the WebSocket connections are libev's alone. */
#include "gw_evloop.h"

#include <stdlib.h>

#include <ev.h>
#include <glib.h>

#include "gw_busypoll.h"
#include "gw_fdgen.h"
#include "log.h"

static struct ev_loop *evl;
static GMainContext *gctx;
static ev_prepare gprepare;
static ev_check gcheck;
static ev_timer gtimer;

/* GLib's fds for this iteration, and one watcher each (same index), with the close generation
 * (gw_fdgen) of the descriptor when its watcher was last set. */
static GPollFD *gfds;
static ev_io *gios;
static uint32_t *ggens;
static int gfds_len, gfds_cap;
static int gfds_woken; /* a watcher saw one of them ready since the last prepare */
static gint gmax_prio;
static void (*flush)(void);

static void on_gfd(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    (void)w;
    (void)revents;
    gfds_woken = 1;
}

static void on_gtimer(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)w;
    (void)revents; /* only wakes the loop: the check below does GLib's work */
}

static int ev_events_of(gushort gevents)
{
    int e = 0;
    if (gevents & (G_IO_IN | G_IO_PRI))
        e |= EV_READ;
    if (gevents & G_IO_OUT)
        e |= EV_WRITE;
    return e ? e : EV_READ; /* errors and hang-ups alone: epoll reports them as readable */
}

/* The array only grows with every watcher stopped (libev holds pointers into it). */
static void gfds_fit(int n)
{
    if (n <= gfds_cap)
        return;
    for (int i = 0; i < gfds_cap; i++)
        ev_io_stop(evl, &gios[i]);
    int cap = n + 8;
    gfds = g_renew(GPollFD, gfds, cap);
    gios = g_renew(ev_io, gios, cap);
    ggens = g_renew(uint32_t, ggens, cap);
    for (int i = 0; i < cap; i++) {
        ev_io_init(&gios[i], on_gfd, -1, 0);
        ev_set_priority(&gios[i], EV_MINPRI);
    }
    gfds_cap = cap;
}

static void on_prepare(struct ev_loop *loop, ev_prepare *w, int revents)
{
    (void)w;
    (void)revents;
    if (flush)
        flush();
    g_main_context_prepare(gctx, &gmax_prio);
    gint timeout = 0;
    int n;
    while ((n = g_main_context_query(gctx, gmax_prio, &timeout, gfds, gfds_cap)) > gfds_cap)
        gfds_fit(n);
    /* A watcher is set again only when its fd, its events or the fd's close generation changed:
     * GLib may have closed an fd and opened another with the same number (sofia-sip's trunk
     * reconnecting), which epoll forgot, and the generation tells (sofia-sip's, GLib's and the
     * gateway's close() calls go through gw_fdgen; only glibc's internal ones, e.g. fclose(),
     * do not, and those never close a GLib fd). Setting each one every round cost an epoll_ctl per
     * GLib fd per loop turn, several per SIP message at moderate load. */
    for (int i = 0; i < n; i++) {
        int events = ev_events_of(gfds[i].events);
        uint32_t gen = gw_fdgen(gfds[i].fd);
        if (ev_is_active(&gios[i]) && gios[i].fd == gfds[i].fd &&
            (gios[i].events & (EV_READ | EV_WRITE)) == events && ggens[i] == gen &&
            gen != GW_FDGEN_UNKNOWN)
            continue;
        ev_io_stop(loop, &gios[i]);
        ev_io_set(&gios[i], gfds[i].fd, events);
        ev_io_start(loop, &gios[i]);
        ggens[i] = gen;
    }
    for (int i = n; i < gfds_len; i++)
        ev_io_stop(loop, &gios[i]);
    gfds_len = n;
    gfds_woken = 0;
    ev_timer_stop(loop, &gtimer);
    if (timeout >= 0) {
        ev_now_update(loop); /* GLib counted from now, not from the last wake-up */
        ev_timer_set(&gtimer, timeout / 1000.0, 0.);
        ev_timer_start(loop, &gtimer);
    }
}

static void on_check(struct ev_loop *loop, ev_check *w, int revents)
{
    (void)loop;
    (void)w;
    (void)revents;
    /* libev may have run a GLib watcher's callback before this one or not yet: both are seen. */
    for (int i = 0; i < gfds_len; i++)
        if (ev_clear_pending(loop, &gios[i]))
            gfds_woken = 1;
    if (gfds_woken && gfds_len > 0 && g_poll(gfds, (guint)gfds_len, 0) < 0)
        for (int i = 0; i < gfds_len; i++)
            gfds[i].revents = 0; /* EINTR: seen on the next round */
    if (g_main_context_check(gctx, gmax_prio, gfds, gfds_len)) {
        gw_busypoll_note_work(); /* e.g. a timeout due by GLib's clock, no watcher of libev's */
        g_main_context_dispatch(gctx);
        /* the core's answers just handled go out now, not after the rest of a long turn (libev
         * runs this check before the turn's WebSocket reads of the same priority) */
        if (flush)
            flush();
    }
}

struct ev_loop *gw_evloop_create(void)
{
    evl = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOSIGMASK);
    if (!evl) {
        log_error("cannot create the event loop");
        return NULL;
    }
    gctx = g_main_context_default();
    if (!g_main_context_acquire(gctx)) {
        log_error("GLib's main context is owned by another thread");
        ev_loop_destroy(evl);
        evl = NULL;
        return NULL;
    }
    ev_prepare_init(&gprepare, on_prepare);
    ev_check_init(&gcheck, on_check);
    ev_timer_init(&gtimer, on_gtimer, 0., 0.);
    /* GLib's watchers below libwebsockets' priority: libev runs lws's idle watcher (its forced
     * service, e.g. TLS data already read) only while nothing of its priority or higher is
     * pending, and a busy SIP trunk must not hold that back. */
    ev_set_priority(&gtimer, EV_MINPRI);
    ev_prepare_start(evl, &gprepare);
    ev_check_start(evl, &gcheck);
    gfds_fit(16);
    return evl;
}

void gw_evloop_set_flush(void (*fn)(void))
{
    flush = fn;
}

void gw_evloop_run(void)
{
    ev_run(evl, 0);
}

void gw_evloop_stop(void)
{
    if (evl)
        ev_break(evl, EVBREAK_ALL);
}

void gw_evloop_destroy(void)
{
    if (!evl)
        return;
    for (int i = 0; i < gfds_cap; i++)
        ev_io_stop(evl, &gios[i]);
    ev_timer_stop(evl, &gtimer);
    ev_prepare_stop(evl, &gprepare);
    ev_check_stop(evl, &gcheck);
    g_free(gfds);
    g_free(gios);
    g_free(ggens);
    gfds = NULL;
    gios = NULL;
    ggens = NULL;
    gfds_len = gfds_cap = 0;
    g_main_context_release(gctx);
    ev_loop_destroy(evl);
    evl = NULL;
}
