/* gw_fds: see gw_fds.h. Checked once at start; the per-handshake check is ws_conn's. */
#include "gw_fds.h"

#include <sys/resource.h>

#include <libwebsockets.h>

#include "log.h"

int gw_fds_budget(long *max_connections)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return -1;
    rlim_t want = (rlim_t)*max_connections + GW_FDS_CORE_RESERVE + GW_FDS_LWS_RESERVE;
    if (rl.rlim_cur < want && rl.rlim_cur < rl.rlim_max) {
        /* Like most servers: the soft limit is a default for interactive shells, the hard limit
         * is the operator's real bound. */
        struct rlimit raised = {want < rl.rlim_max ? want : rl.rlim_max, rl.rlim_max};
        if (setrlimit(RLIMIT_NOFILE, &raised) == 0)
            rl = raised;
    }
    if (rl.rlim_cur < (rlim_t)GW_FDS_CORE_RESERVE + GW_FDS_LWS_RESERVE + 1) {
        log_error("the file-descriptor limit (%llu) leaves no room for a connection after the "
                  "%d kept for the core, the WAF and the listen sockets",
                  (unsigned long long)rl.rlim_cur, GW_FDS_CORE_RESERVE + GW_FDS_LWS_RESERVE);
        return -1;
    }
    rlim_t lws_fds = rl.rlim_cur - GW_FDS_CORE_RESERVE;
    if (lws_fds > 1000000)
        lws_fds = 1000000; /* libwebsockets allocates a table of this many entries */
    long room = (long)(lws_fds - GW_FDS_LWS_RESERVE);
    if (*max_connections > room) {
        log_warn("max-connections %ld is more than the file-descriptor limit (%llu, ulimit -n) "
                 "allows: using %ld (%d descriptors are kept for the core, the WAF and the listen "
                 "sockets)",
                 *max_connections, (unsigned long long)rl.rlim_cur, room,
                 GW_FDS_CORE_RESERVE + GW_FDS_LWS_RESERVE);
        *max_connections = room;
    }
    return (int)lws_fds;
}

struct lws_context *gw_fds_create_context(struct lws_context_creation_info *info, int lws_fds)
{
    struct rlimit rl, held;
    int lowered = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur > (rlim_t)lws_fds;
    if (lowered) {
        held = (struct rlimit){(rlim_t)lws_fds, rl.rlim_max};
        lowered = setrlimit(RLIMIT_NOFILE, &held) == 0;
    }
    if (!lowered)
        info->fd_limit_per_thread = (unsigned)lws_fds; /* correct, only slower */
    struct lws_context *ctx = lws_create_context(info);
    if (lowered && setrlimit(RLIMIT_NOFILE, &rl) < 0) {
        log_error("cannot restore the file-descriptor limit after starting libwebsockets");
        if (ctx)
            lws_context_destroy(ctx);
        return NULL;
    }
    return ctx;
}
