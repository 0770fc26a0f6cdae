/* ev_timer_fix: libwebsockets-evlib-ev 4.1.6 re-arms its one timer (every lws timer: pings,
 * timeouts, retries, lws_sul) with ev_timer_set() + ev_timer_start() while it may still be
 * active, and libev ignores the start of an active watcher: an earlier lws deadline waited for the
 * older, later one (a silent connection outlived its ping-pong timeout; a load tool's 1 ms tick
 * waited for a 50 ms one). This definition, exported to the dlopen'ed plugin by the link of each
 * program that uses it (--export-dynamic-symbol=ev_timer_start: the gateway, bench/reg_load),
 * restarts an active timer at the time just set. Every start of an active timer in those programs
 * comes right after its ev_timer_set(). No logging module here: reg_load links none. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

#include <ev.h>

void ev_timer_start(struct ev_loop *loop, ev_timer *w)
{
    static void (*real_start)(struct ev_loop *, ev_timer *);
    if (!real_start) {
        *(void **)&real_start = dlsym(RTLD_NEXT, "ev_timer_start");
        if (!real_start) {
            fprintf(stderr, "libev's ev_timer_start is not found\n");
            abort();
        }
    }
    if (ev_is_active(w)) {
        ev_tstamp after = w->at, repeat = w->repeat; /* what ev_timer_set() just wrote */
        ev_timer_stop(loop, w);
        ev_timer_set(w, after, repeat);
    }
    real_start(loop, w);
}
