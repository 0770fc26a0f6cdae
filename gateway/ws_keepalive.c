/* ws_keepalive: the wheel asks, this module acts: a ping is only flagged and written from the
 * connection's writeable callback (libwebsockets' rule); a hang-up kills the connection at once
 * without a close frame (the peer is not reading: a close frame would wait behind its unread
 * bytes, and an asynchronous kill from outside lws' service waits for lws' next wake-up, which
 * an idle gateway may not have for minutes). Times are the monotonic clock's, in ms. */
#include "ws_keepalive.h"

#include <stddef.h>
#include <string.h>

#include "gw.h"
#include "log.h"
#include "timeutil.h"
#include "ws_ka_wheel.h"

#define WS_KA_PING_PAYLOAD "imsgw"

static struct ka_wheel ka_wheel;
static guint ka_timer; /* 0: not started (no connection yet, or ws-ping-interval 0) */

static struct gw_conn *ka_conn(struct ka_entry *e)
{
    return (struct gw_conn *)((char *)e - offsetof(struct gw_conn, ka));
}

static void ka_act(struct ka_entry *e, enum ka_action what, void *arg)
{
    (void)arg;
    struct gw_conn *c = ka_conn(e);
    if (what == KA_PING) {
        c->ka_ping_due = 1;
        lws_callback_on_writable(c->wsi);
        return;
    }
    log_info("ws: connection %llu from %s sent nothing for %ld s or more, not even a pong; closing",
             (unsigned long long)c->id, c->peer, 2 * gw->cfg->ws_ping_interval);
    gw->metrics.ws_unresponsive_closed_total++;
    lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_SYNC); /* frees c */
}

/* Just after the next second of the monotonic clock starts, when that second's slot is due:
 * a free-running 1 s timer would visit each slot up to a second late. */
static guint ka_next_tick_ms(void)
{
    return (guint)(1000 - time_mono_ms() % 1000) + 1;
}

static gboolean ka_tick(gpointer unused)
{
    (void)unused;
    ka_advance(&ka_wheel, (int64_t)time_mono_ms(), ka_act, NULL);
    ka_timer = g_timeout_add(ka_next_tick_ms(), ka_tick, NULL);
    return G_SOURCE_REMOVE;
}

void ws_keepalive_open(struct gw_conn *c)
{
    if (gw->cfg->ws_ping_interval <= 0)
        return;
    int64_t now = (int64_t)time_mono_ms();
    if (!ka_timer) {
        if (ka_wheel_init(&ka_wheel, gw->cfg->ws_ping_interval, now) < 0) {
            log_error("ws: out of memory for the keepalive wheel; connections are not pinged");
            return;
        }
        ka_timer = g_timeout_add(ka_next_tick_ms(), ka_tick, NULL);
    }
    ka_arm(&ka_wheel, &c->ka, now);
}

void ws_keepalive_seen(struct gw_conn *c)
{
    if (c->ka.pprev)
        ka_seen(&c->ka, (int64_t)time_mono_ms());
}

int ws_keepalive_write(struct gw_conn *c, struct lws *wsi)
{
    if (!c->ka_ping_due)
        return 0;
    c->ka_ping_due = 0;
    /* Not empty: lws 4.1.6 does not pass an empty pong up (ops-ws.c), so it would not count. */
    unsigned char buf[LWS_PRE + sizeof(WS_KA_PING_PAYLOAD)];
    memcpy(buf + LWS_PRE, WS_KA_PING_PAYLOAD, sizeof(WS_KA_PING_PAYLOAD) - 1);
    if (lws_write(wsi, buf + LWS_PRE, sizeof(WS_KA_PING_PAYLOAD) - 1, LWS_WRITE_PING) < 0)
        return -1;
    gw->metrics.ws_pings_sent_total++;
    return 1;
}

void ws_keepalive_close(struct gw_conn *c)
{
    ka_disarm(&c->ka);
}

void ws_keepalive_shutdown(void)
{
    if (ka_timer)
        g_source_remove(ka_timer);
    ka_timer = 0;
    ka_wheel_free(&ka_wheel);
}
