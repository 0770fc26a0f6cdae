/* gw_fdgen: a generation number per file descriptor, moved on by every close() in the process.
 * State a module keeps per descriptor behind libraries' backs (ws_mask's frame parser, gw_latency's
 * "asked for timestamps") notes the generation beside it; when the generation has moved, the
 * descriptor was closed and its number may belong to a new socket. The gateway defines close()
 * (gw_fdgen.c), so libwebsockets', sofia-sip's and GLib's calls all come through it. */
#ifndef IMSGW_GW_FDGEN_H
#define IMSGW_GW_FDGEN_H

#include <stdint.h>

/* Descriptors tracked: the largest table libwebsockets is given (gw_fds.c). */
#define GW_FDGEN_MAX (1u << 20)
/* What gw_fdgen() returns for a descriptor it does not track (negative, or >= GW_FDGEN_MAX). */
#define GW_FDGEN_UNKNOWN UINT32_MAX

/* fd's generation: how many times fd was closed since start (wraps before GW_FDGEN_UNKNOWN). */
uint32_t gw_fdgen(int fd);

#endif
