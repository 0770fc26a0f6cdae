/* gw_fdgen: see gw_fdgen.h. One 32-bit counter per descriptor, 4 MiB of zero pages of which only
 * those holding descriptors in use are ever touched. Atomic (relaxed): helper threads close
 * sockets too; a reader only needs to see a change made before the number was reused, which the
 * kernel's own ordering of close() and the next socket()/accept() returning that number gives. */
#include "gw_fdgen.h"

#include <sys/syscall.h>
#include <unistd.h>

static uint32_t gw_fdgen_counts[GW_FDGEN_MAX];

uint32_t gw_fdgen(int fd)
{
    if (fd < 0 || (unsigned)fd >= GW_FDGEN_MAX)
        return GW_FDGEN_UNKNOWN;
    return __atomic_load_n(&gw_fdgen_counts[fd], __ATOMIC_RELAXED);
}

/* Every close() of the process; the system call itself as glibc makes it. */
int close(int fd)
{
    if (fd >= 0 && (unsigned)fd < GW_FDGEN_MAX) {
        uint32_t *g = &gw_fdgen_counts[fd];
        if (__atomic_add_fetch(g, 1, __ATOMIC_RELAXED) == GW_FDGEN_UNKNOWN)
            __atomic_store_n(g, 0, __ATOMIC_RELAXED); /* never the "untracked" value */
    }
    return (int)syscall(SYS_close, fd);
}
