/*
 * throttle.c — the generic cell rate algorithm behind throttle.h.
 *
 * With T = duration / num (the time one message "costs") and a tolerance of
 * duration - T, a message at now passes when the bucket's theoretical
 * arrival time is at most now + tolerance, and then moves it T later. A
 * refused message leaves it where it was, so a client that keeps sending
 * regains one message per T, as DRF's log regains one per expiring entry.
 */
#include "gateway/throttle.h"

#include <stdio.h>

/* One bucket: 1 when the message fits (and is counted), 0 with *wait_us when it does not. */
static int take(int64_t *tat, const cx_rate *rate, int64_t now_us, int64_t *wait_us)
{
    int64_t window = (int64_t) rate->duration_s * 1000000;
    int64_t cost = window / rate->num;
    int64_t at = *tat > now_us ? *tat : now_us;
    if (at - now_us > window - cost) {
        *wait_us = at - (window - cost) - now_us;
        return 0;
    }
    *tat = at + cost;
    return 1;
}

cx_throttle_verdict cx_throttle_check(cx_throttle *self, const cx_rate *rate, int64_t now_us, long *wait_s)
{
    int64_t wait_us = 0, ignored;
    if (rate->num <= 0 || take(&self->allowed_us, rate, now_us, &wait_us))
        return CX_THROTTLE_PASS;
    if (!take(&self->excess_us, rate, now_us, &ignored))
        return CX_THROTTLE_ABUSE;
    *wait_s = (long) ((wait_us + 999999) / 1000000);   /* math.ceil(wait) */
    if (*wait_s < 1)
        *wait_s = 1;
    return CX_THROTTLE_THROTTLED;
}

void cx_throttle_detail(long wait_s, char *buf, size_t len)
{
    /* rest_framework.exceptions.Throttled: ngettext picks the singular for exactly 1 */
    snprintf(buf, len, "Request was throttled. Expected available in %ld second%s.", wait_s, wait_s == 1 ? "" : "s");
}
