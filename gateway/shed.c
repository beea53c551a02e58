/*
 * shed.c — closing the clients that hold the most when the gateway's
 * buffered bytes pass their bound (shed.h).
 *
 * Shedding is rare by design (a bound well above what readers need), so it
 * may sort every session: the cost is paid by the overload, not the steady
 * state. Down to three quarters of the bound, so that a gateway at its bound
 * does not sort again for every message that follows.
 */
#include "gateway/shed.h"
#include "gateway/gateway_internal.h"
#include "common/log.h"
#include "gateway/metrics.h"
#include "common/memory_limit.h"

#include <stdio.h>
#include <stdlib.h>

#define MIN_DEFAULT ((size_t) 64 << 20)

size_t cx_shed_default_total(void)
{
    return cx_memory_quarter(MIN_DEFAULT);
}

static size_t held(const cx_session *s)
{
    return s->out.bytes + s->pending.bytes;
}

static int by_held_descending(const void *a, const void *b)
{
    size_t x = held(*(cx_session *const *) a), y = held(*(cx_session *const *) b);
    return x < y ? 1 : x > y ? -1 : 0;
}

/* Drops what s holds and closes it with 1013 (its close frame goes once lws has written what it
 * still holds); a client that never reads again is disconnected after CX_SHED_CLOSE_SECS. */
static void shed(cx_session *s)
{
    cx_frame_queue_clear(&s->out);
    cx_frame_queue_clear(&s->pending);
    cx_session_close(s, 1013, "server overloaded");
    lws_callback_on_writable(s->wsi);
    lws_set_timeout(s->wsi, PENDING_TIMEOUT_CLOSE_SEND, CX_SHED_CLOSE_SECS);
}

void cx_gw_shed_if_over(cx_gateway *gw)
{
    if (gw->buffered > gw->buffered_peak)
        gw->buffered_peak = gw->buffered;
    size_t bound = gw->config->max_buffered_total;
    if (gw->buffered <= bound)
        return;
    size_t n, before = gw->buffered, closed = 0;
    cx_session **all = cx_session_snapshot(gw->sessions, &n);
    qsort(all, n, sizeof *all, by_held_descending);
    for (size_t i = 0; i < n && gw->buffered > bound / 4 * 3 && held(all[i]) > 0; i++, closed++)
        shed(all[i]);
    free(all);
    cx_gw_count_shed(closed);
    cx_log_fields(CX_LOG_WARNING, "gateway over its buffered bytes bound: closing the clients holding the most",
                  json_pack("{s:I, s:I, s:I, s:I}", "bound", (json_int_t) bound, "buffered", (json_int_t) before,
                            "after", (json_int_t) gw->buffered, "closed", (json_int_t) closed));
}
