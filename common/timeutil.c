/* Conversions from the integer milliseconds and microseconds our configs
 * and clocks count in to the struct timeval libevent wants. */
#include "timeutil.h"

struct timeval tv_from_ms(uint64_t ms)
{
    struct timeval tv = {(time_t)(ms / 1000u), (suseconds_t)(ms % 1000u) * 1000};
    return tv;
}

struct timeval tv_from_us(uint64_t us)
{
    struct timeval tv = {(time_t)(us / 1000000u), (suseconds_t)(us % 1000000u)};
    return tv;
}
