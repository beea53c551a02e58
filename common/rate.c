/*
 * rate.c — DRF's SimpleRateThrottle.parse_rate (see rate.h). DRF splits on
 * "/", takes int() of the left side and the first letter of the right side
 * as the period; anything else raises. Here anything else is an error with
 * the offending text, and a count must be a positive integer that fits.
 */
#include "common/rate.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cx_rate_parse(const char *text, cx_rate *out, char *err, size_t errlen)
{
    *out = (cx_rate) { 0, 0 };
    if (!text || !*text || strcmp(text, "none") == 0)
        return 0;
    char *end = NULL;
    errno = 0;
    long num = isdigit((unsigned char) text[0]) ? strtol(text, &end, 10) : 0;
    const char *period = end && *end == '/' ? end + 1 : NULL;
    static const struct { char letter; long seconds; } periods[] = { { 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 } };
    for (size_t i = 0; period && num > 0 && errno == 0 && num < 1000000000L && i < sizeof periods / sizeof *periods; i++) {
        if (*period == periods[i].letter) {
            *out = (cx_rate) { num, periods[i].seconds };
            return 0;
        }
    }
    snprintf(err, errlen, "bad throttle rate '%.40s': expected <count>/<s|m|h|d>, a count from 1 to 999999999, "
                          "as DRF's (20/s, 600/min)", text);
    return -1;
}
