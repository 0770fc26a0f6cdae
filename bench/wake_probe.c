/* wake_probe: how late a sleeping thread on this machine runs again after its timer fires, the
 * floor under any latency measured here (latency-bench prints it beside the gateway's figures).
 *
 *   wake_probe [--seconds S] [--interval-us U]
 *
 * Sleeps to absolute times U microseconds apart (clock_nanosleep, TIMER_ABSTIME) for S seconds
 * at normal priority, as an event loop waiting for its next message does, and prints the
 * lateness of each wake-up: p50, p99, max and how many were over 0.5 and 1 ms. On an idle core
 * of a virtual machine most of it is the host's: a halted vCPU runs again only when the host
 * schedules it (docs/benchmarks.md, session 14). Run it under taskset for one core. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"

#define PROBE_MAX 1000000

int main(int argc, char **argv)
{
    double seconds = 3, interval_us = 250;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
            seconds = atof(argv[++i]);
        else if (!strcmp(argv[i], "--interval-us") && i + 1 < argc)
            interval_us = atof(argv[++i]);
        else {
            fprintf(stderr, "usage: wake_probe [--seconds 0.1..60] [--interval-us 10..1000000]\n"
                            "  prints how late a sleeping thread wakes after its timer\n");
            return strcmp(argv[i], "--help") ? 2 : 0;
        }
    }
    if (!(seconds >= 0.1 && seconds <= 60 && interval_us >= 10 && interval_us <= 1e6)) {
        fprintf(stderr, "wake_probe: --seconds 0.1..60, --interval-us 10..1000000\n");
        return 2;
    }
    uint64_t step = (uint64_t)(interval_us * 1000), *late = malloc(PROBE_MAX * sizeof(*late));
    if (!late)
        return 1;
    size_t n = 0, over_half = 0, over_one = 0;
    uint64_t t0 = now_ns(), end = t0 + (uint64_t)(seconds * 1e9), next = t0;
    while (n < PROBE_MAX) {
        next += step;
        if (next >= end)
            break;
        struct timespec ts = {(time_t)(next / 1000000000ull), (long)(next % 1000000000ull)};
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) != 0)
            ;
        uint64_t t = now_ns();
        late[n++] = t - next;
        over_half += t - next > 500000;
        over_one += t - next > 1000000;
        if (t > next + step) /* a long stall: the next ones count from now, not as a backlog */
            next = t;
    }
    if (!n)
        return 1;
    qsort(late, n, sizeof(*late), cmp_u64);
    printf("wake-ups=%zu late_p50_ms=%.3f late_p99_ms=%.3f late_max_ms=%.3f over_0.5ms=%.2f%% "
           "over_1ms=%.2f%%\n",
           n, late[n / 2] / 1e6, late[(size_t)((double)(n - 1) * 0.99)] / 1e6, late[n - 1] / 1e6,
           100.0 * (double)over_half / (double)n, 100.0 * (double)over_one / (double)n);
    free(late);
    return 0;
}
