/*
 * outbox.c — envelopes and commands out of a connection's callbacks (see
 * outbox.h).
 *
 * Whether the caller is on a pool thread is a thread-local flag set by the
 * scheduler's thread hook, so a send costs no lookup. Each pool thread
 * encodes with its own encoder (the link's encoder belongs to the link
 * thread) into a queue item that the link thread sends as it is.
 */
#include "workers/outbox.h"
#include "common/log.h"

#include <stdlib.h>
#include <string.h>

struct cx_outbox {
    cx_link *link;              /* the link thread's */
    cx_link_queue *queue;       /* pool threads → link thread */
    cx_memberships *members;    /* the link thread's */
};

static __thread cx_encoder *thread_encoder;
static __thread int on_pool_thread;

void cx_outbox_thread_hook(int starting)
{
    on_pool_thread = starting;
    if (starting)
        thread_encoder = cx_encoder_new();
    else
        cx_encoder_destroy(&thread_encoder);
}

cx_outbox *cx_outbox_new(cx_link *link, cx_link_queue *queue, cx_memberships *members)
{
    cx_outbox *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->link = link;
    self->queue = queue;
    self->members = members;
    return self;
}

void cx_outbox_destroy(cx_outbox **self_p)
{
    if (!self_p || !*self_p)
        return;
    free(*self_p);
    *self_p = NULL;
}

void cx_outbox_post(cx_outbox *self, cx_lq_item *item)
{
    cx_link_queue_push(self->queue, item);
}

/* On the link thread, straight into the index; from a pool thread, queued ahead of the envelope. */
static void note_membership(cx_outbox *self, const cx_env *env)
{
    int join = env->type == CX_ENV_GROUP_ADD;
    cx_membership_terms terms = { env->history_size, env->history_ttl_ms, env->flags };
    if (!on_pool_thread) {
        if (join)
            cx_memberships_join(self->members, env->group.ptr, env->group.len, env->conn, &terms);
        else
            cx_memberships_leave(self->members, env->group.ptr, env->group.len, env->conn);
        return;
    }
    /* a join's item: its terms, then the group's name (workers/worker.c reads it back) */
    size_t prefix = join ? sizeof terms : 0;
    cx_lq_item *item = cx_lq_item_new(join ? CX_LQ_GROUP_JOIN : CX_LQ_GROUP_LEAVE, NULL, env->conn, NULL,
                                      prefix + env->group.len);
    if (item) {
        memcpy(item->data, &terms, prefix);
        memcpy(item->data + prefix, env->group.ptr, env->group.len);
        cx_link_queue_push(self->queue, item);
    }
    else
        cx_error("out of memory: events to group %.*s may miss connection %llu", (int) env->group.len,
                 env->group.ptr, (unsigned long long) env->conn);
}

int cx_outbox_on_pool_thread(void)
{
    return on_pool_thread;
}

int cx_outbox_send(cx_outbox *self, const cx_env *env)
{
    if (env->type == CX_ENV_GROUP_ADD || env->type == CX_ENV_GROUP_DISCARD)
        note_membership(self, env);
    if (!on_pool_thread)
        return cx_link_send(self->link, env);
    const char *data;
    size_t len;
    if (!thread_encoder || cx_encoder_encode(thread_encoder, env, &data, &len) != 0)
        return -1;
    cx_lq_item *item = cx_lq_item_new(CX_LQ_ENVELOPE, NULL, 0, data, len);
    if (!item)
        return -1;
    cx_link_queue_push(self->queue, item);
    return 0;
}
