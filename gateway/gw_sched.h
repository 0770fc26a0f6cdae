/* gw_sched: how the kernel scheduled the event loop's thread, for /metrics. The loop's time on a
 * CPU and the time it was runnable but waited for one (run-queue wait) come from
 * /proc/thread-self/schedstat, read once per metrics publication (a second), never per message.
 * A latency tail with a fast-growing run-queue wait is CPU contention (other processes on the
 * gateway's cores), not the gateway's own work (docs/benchmarks.md, session 11). */
#ifndef IMSGW_GW_SCHED_H
#define IMSGW_GW_SCHED_H

#include <stdint.h>

/* Parses schedstat text "<on-CPU ns> <run-queue wait ns> <timeslices>"; 0, or -1 when malformed. */
int gw_sched_parse(const char *text, uint64_t *cpu_ns, uint64_t *wait_ns);
/* The calling thread's totals since it started; -1 (both left alone) when the kernel has none. */
int gw_sched_read(uint64_t *cpu_ns, uint64_t *wait_ns);

#endif
