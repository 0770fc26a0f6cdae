/* media_off: no relay; SDP passes unchanged (browser-to-browser media only). */
#include "media.h"

static int off_start(char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    return 0;
}

static void off_stop(void) {}

static void off_sdp(uint64_t conn_id, msg_t *msg, enum media_to to, media_done_fn done, void *arg)
{
    (void)conn_id;
    (void)to;
    done(arg, msg, 0, NULL);
}

static void off_end(uint64_t conn_id, const char *call_id)
{
    (void)conn_id;
    (void)call_id;
}

static void off_flow_closed(uint64_t conn_id)
{
    (void)conn_id;
}

static void off_rebind(uint64_t from, uint64_t to)
{
    (void)from;
    (void)to;
}

static void off_stats(struct media_stats *st)
{
    (void)st;
}

const struct media_backend media_off = {
    "off", off_start, off_stop, off_sdp, off_end, off_flow_closed, off_rebind, off_stats,
};
