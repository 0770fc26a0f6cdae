#include "timeutil.h"

#include <time.h>

static int64_t time_fake;

int64_t time_now_s(void)
{
    return time_fake ? time_fake : (int64_t)time(NULL);
}

void time_set_fake(int64_t t)
{
    time_fake = t;
}

uint64_t time_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}
