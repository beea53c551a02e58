/*
 * timer_api.c — chanx_call_later, chanx_call_every, chanx_timer_cancel
 * (include/chanx/timer.h): the connection's side of its timers.
 *
 * Called on the connection's pool thread. The connection keeps the ids of
 * its live timers (ctx->timers, touched only by its own callbacks); the
 * timer itself is queued to the link thread, which owns the heap
 * (workers/timers.c) and posts a CX_MAIL_TIMER when it is due. A tick is
 * run only if its id is still live when the mail is handled, so a cancel
 * wins even over a tick already in the mailbox, and nothing fires after
 * disconnect: the actor handles no mail after DISCONNECT, and the link
 * thread cancels the connection's remaining ids when the actor is done.
 */
#include "workers/context_internal.h"
#include "workers/link_queue.h"
#include "workers/timers.h"
#include "common/log.h"

#include <stdatomic.h>
#include <stdlib.h>

#define MAX_DELAY_MS 86400000

static atomic_uint_fast64_t last_id;

static int track(chanx_ctx *ctx, uint64_t id)
{
    if (ctx->ntimers == ctx->timers_cap) {
        size_t cap = ctx->timers_cap ? ctx->timers_cap * 2 : 4;
        uint64_t *grown = realloc(ctx->timers, cap * sizeof *grown);
        if (!grown)
            return -1;
        ctx->timers = grown;
        ctx->timers_cap = cap;
    }
    ctx->timers[ctx->ntimers++] = id;
    return 0;
}

/* Forgets id; returns 1 if it was live. Order of the rest does not matter. */
static int untrack(chanx_ctx *ctx, uint64_t id)
{
    for (size_t i = 0; i < ctx->ntimers; i++)
        if (ctx->timers[i] == id) {
            ctx->timers[i] = ctx->timers[--ctx->ntimers];
            return 1;
        }
    return 0;
}

static uint64_t start_timer(chanx_ctx *ctx, int64_t ms, int repeating, chanx_timer_fn *fn, void *arg)
{
    if (!ctx || !fn || ctx->ending || ms < (repeating ? 1 : 0) || ms > MAX_DELAY_MS)
        return 0;
    cx_timer *t = malloc(sizeof *t);
    uint64_t id = atomic_fetch_add(&last_id, 1) + 1;
    cx_lq_item *item = t ? cx_lq_item_new(CX_LQ_TIMER_ADD, t, id, NULL, 0) : NULL;
    if (!item || track(ctx, id) != 0) {
        free(t);
        free(item);
        return 0;
    }
    *t = (cx_timer) { .id = id, .conn = ctx->conn, .due_ms = cx_timer_now_ms() + ms,
                      .period_ms = repeating ? ms : 0, .fn = fn, .arg = arg };
    cx_outbox_post(ctx->services->outbox, item);
    return id;
}

uint64_t chanx_call_later(chanx_ctx *ctx, int64_t ms, chanx_timer_fn *fn, void *arg)
{
    return start_timer(ctx, ms, 0, fn, arg);
}

uint64_t chanx_call_every(chanx_ctx *ctx, int64_t ms, chanx_timer_fn *fn, void *arg)
{
    return start_timer(ctx, ms, 1, fn, arg);
}

int chanx_timer_cancel(chanx_ctx *ctx, uint64_t id)
{
    if (!ctx || !untrack(ctx, id))
        return CHANX_ERROR;
    cx_lq_item *item = cx_lq_item_new(CX_LQ_TIMER_CANCEL, NULL, id, NULL, 0);
    if (item)   /* without it the link thread's tick finds the id dead and is dropped here anyway */
        cx_outbox_post(ctx->services->outbox, item);
    return CHANX_OK;
}

void cx_ctx_fire_timer(chanx_ctx *self, uint64_t id, chanx_timer_fn *fn, void *arg, int repeating)
{
    if (self->ending)
        return;
    if (repeating) {
        size_t i = 0;
        while (i < self->ntimers && self->timers[i] != id)
            i++;
        if (i == self->ntimers)
            return;   /* cancelled after this tick was posted */
    } else if (!untrack(self, id)) {
        return;
    }
    cx_ctx_crash_enter(self, "timer", NULL);
    int rc = fn(self, arg);
    cx_crash_leave();
    if (rc != CHANX_OK) {
        json_t *fields = cx_ctx_log_fields(self);
        json_object_set_new(fields, "timer", json_integer((json_int_t) id));
        cx_log_fields(CX_LOG_ERROR, "Timer callback failed", fields);
    }
}

const uint64_t *cx_ctx_timer_ids(const chanx_ctx *self, size_t *n)
{
    *n = self->ntimers;
    return self->timers;
}
