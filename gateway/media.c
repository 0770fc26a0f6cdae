/* media: the one place the relay backend is chosen (as Redis picks ae_epoll or ae_select);
 * the proxy calls these functions and never asks which backend runs. */
#include "media.h"

#include <stdio.h>
#include <string.h>

#include "gw.h"

static const struct media_backend *media_be = &media_off;

int media_start(char *err, size_t errlen)
{
    const struct media_backend *all[] = {&media_off, &media_rtpengine};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        if (strcmp(gw->cfg->media, all[i]->name) == 0) {
            media_be = all[i];
            return media_be->start(err, errlen);
        }
    snprintf(err, errlen, "media must be off or rtpengine");
    return -1;
}

void media_stop(void)
{
    media_be->stop();
}

void media_sdp(uint64_t conn_id, msg_t *msg, enum media_to to, media_done_fn done, void *arg)
{
    media_be->sdp(conn_id, msg, to, done, arg);
}

void media_end(uint64_t conn_id, const char *call_id)
{
    if (call_id)
        media_be->end(conn_id, call_id);
}

void media_flow_closed(uint64_t conn_id)
{
    media_be->flow_closed(conn_id);
}

void media_rebind(uint64_t from, uint64_t to)
{
    media_be->rebind(from, to);
}

void media_get_stats(struct media_stats *st)
{
    memset(st, 0, sizeof(*st));
    media_be->stats(st);
}
