/*
 * throttle.h — DRF-style throttling of the messages a client sends, at the
 * gateway, before a worker is involved.
 *
 * The rate is DRF's ("20/s", "600/min": common/rate.h), from the consumer
 * (.throttle_rate) or the deployment (CHANX_THROTTLE_RATE). A message over
 * the rate is answered with DRF's Throttled text and dropped; a client whose
 * excess itself goes over the rate is abusive and is closed (1008). Both
 * answers leave through the worker, behind the consumer's answers to the
 * earlier messages (clients.c, ANSWER in proto/README.md).
 *
 * Design: DRF's SimpleRateThrottle keeps a log of request times per client
 * (num timestamps in its cache). Per connection that would cost up to num
 * times 8 bytes (600/min: 4.8 KB, 480 MB at 100,000 connections), so this
 * is the generic cell rate algorithm instead (a token bucket kept as one
 * time): num messages may come at once, then one every duration/num. Over
 * a whole window both allow num messages; the difference is that after a
 * burst DRF waits for the whole window to slide, this for one slot. The
 * excess is counted with a second bucket of the same rate, so a client is
 * closed only after sending twice its allowance. 16 bytes per connection,
 * no allocation, no timer.
 */
#ifndef CX_GATEWAY_THROTTLE_H
#define CX_GATEWAY_THROTTLE_H

#include <stddef.h>
#include <stdint.h>
#include "common/rate.h"

/* Embedded in a session; all zero is a fresh client. */
typedef struct {
    int64_t allowed_us;   /* theoretical arrival time of the next allowed message */
    int64_t excess_us;    /* the same for throttled messages */
} cx_throttle;

typedef enum { CX_THROTTLE_PASS, CX_THROTTLE_THROTTLED, CX_THROTTLE_ABUSE } cx_throttle_verdict;

/* Counts one message at now_us (a monotonic clock, microseconds). THROTTLED sets *wait_s to DRF's
 * wait, rounded up to whole seconds as Throttled does. A rate with num 0 always passes. */
cx_throttle_verdict cx_throttle_check(cx_throttle *self, const cx_rate *rate, int64_t now_us, long *wait_s);
/* DRF's Throttled detail: "Request was throttled. Expected available in N seconds." ("1 second."). */
void cx_throttle_detail(long wait_s, char *buf, size_t len);

#endif
