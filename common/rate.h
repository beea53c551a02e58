/*
 * rate.h — DRF's throttle rate syntax, "<number>/<period>" ("20/s",
 * "600/min", "1000/day"), as SimpleRateThrottle.parse_rate reads it: the
 * number of requests, then a period of which only the first letter counts
 * (s, m, h, d: a second, minute, hour, day). Shared by the worker, which
 * refuses a plugin whose consumer declares a bad rate, and the gateway,
 * which enforces it (gateway/throttle.h).
 */
#ifndef CX_COMMON_RATE_H
#define CX_COMMON_RATE_H

#include <stddef.h>

typedef struct {
    long num;          /* requests allowed per duration; 0: not throttled */
    long duration_s;   /* 1, 60, 3600 or 86400 */
} cx_rate;

/* Parses text into *out. NULL, "" and "none" (DRF's rate None) mean not throttled. Returns 0, or -1
 * with err saying what is wrong ("bad throttle rate '0/s': expected <count>/<s|m|h|d>, a count from 1
 * to 999999999, ..."; err needs 160 bytes). */
int cx_rate_parse(const char *text, cx_rate *out, char *err, size_t errlen);

#endif
