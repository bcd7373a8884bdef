/* Milliseconds and microseconds to the struct timeval libevent's timers and
 * bufferevent timeouts take: written once here, because a hand-written
 * {ms / 1000, 0} silently drops the sub-second part (500 ms became 0 s). */
#ifndef PP_TIMEUTIL_H
#define PP_TIMEUTIL_H

#include <stdint.h>
#include <sys/time.h>

/* 1500 -> {1, 500000}. Exact for any value a uint64_t holds. */
struct timeval tv_from_ms(uint64_t ms);
/* 1500000 -> {1, 500000}. */
struct timeval tv_from_us(uint64_t us);

#endif
