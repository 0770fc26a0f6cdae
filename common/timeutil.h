/* timeutil: wall-clock seconds (replaceable in tests) and a monotonic millisecond clock. */
#ifndef IMSGW_TIMEUTIL_H
#define IMSGW_TIMEUTIL_H

#include <stdint.h>

/* Seconds since the epoch, or the fixed value set by time_set_fake(). */
int64_t time_now_s(void);
/* Fixes time_now_s() to t (tests, vectors); 0 returns to the real clock. */
void time_set_fake(int64_t t);
/* Milliseconds on a clock that never jumps, for timeouts and latencies. */
uint64_t time_mono_ms(void);

#endif
