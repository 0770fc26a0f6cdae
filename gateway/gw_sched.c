#include "gw_sched.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

static int gw_sched_digit(char c)
{
    return c >= '0' && c <= '9'; /* strtoull would take a sign or spaces too */
}

int gw_sched_parse(const char *text, uint64_t *cpu_ns, uint64_t *wait_ns)
{
    char *end;
    if (!gw_sched_digit(text[0]))
        return -1;
    errno = 0;
    unsigned long long cpu = strtoull(text, &end, 10);
    if (end == text || *end != ' ' || errno)
        return -1;
    const char *p = end + 1;
    if (!gw_sched_digit(p[0]))
        return -1;
    unsigned long long wait = strtoull(p, &end, 10);
    if (end == p || (*end != ' ' && *end != '\n' && *end != '\0') || errno)
        return -1;
    *cpu_ns = cpu;
    *wait_ns = wait;
    return 0;
}

int gw_sched_read(uint64_t *cpu_ns, uint64_t *wait_ns)
{
    /* procfs text made on read: no disk, so no blocking on the loop */
    int fd = open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    char buf[96];
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0); /* not read(): gw_proxyproto wraps it */
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    return gw_sched_parse(buf, cpu_ns, wait_ns);
}
