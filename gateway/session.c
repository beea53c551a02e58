/*
 * session.c — a client's queues, groups and close (see session.h).
 *
 * Frames are allocated with LWS_PRE bytes of headroom so lws_write can add
 * the WebSocket header in place without another copy.
 *
 * The bottom of the gateway's layers: closing a session and listing the
 * sessions are here, not in clients.c, because every file that moves frames
 * (outbox.c, upstream.c, clients.c) must be able to close a client, and a
 * file below clients.c calling up into it made the gateway's files a circle.
 */
#include "gateway/session.h"
#include "gateway/consumer_spec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

cx_session *cx_session_new(uint64_t id, struct lws *wsi)
{
    cx_session *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->id = id;
    self->wsi = wsi;
    self->idle.slot = -1;   /* not in a keepalive wheel */
    cx_expiry_entry_init(&self->expiry);
    return self;
}

void cx_session_destroy(cx_session **self_p)
{
    if (!self_p || !*self_p)
        return;
    cx_session *self = *self_p;
    cx_frame_queue_clear(&self->out);
    cx_frame_queue_clear(&self->pending);
    for (size_t i = 0; i < self->ngroups; i++)
        free(self->groups[i]);
    free(self->groups);
    free(self->rx);
    free(self->target);
    cx_consumer_spec_unref(&self->spec);
    cx_session_forget_request(self);
    free(self->connect_again);
    free(self);
    *self_p = NULL;
}

void cx_session_close(cx_session *self, int code, const char *reason)
{
    self->state = SESSION_CLOSING;
    if (self->close_code)
        return;
    self->close_code = code;
    snprintf(self->close_reason, sizeof self->close_reason, "%s", reason ? reason : "");
    lws_callback_on_writable(self->wsi);
}

cx_session **cx_session_snapshot(const cx_idmap *map, size_t *n)
{
    *n = cx_idmap_size(map);
    cx_session **all = malloc((*n + 1) * sizeof *all);
    *n = all ? cx_idmap_values(map, (void **) all, *n) : 0;
    return all;
}

void cx_session_forget_request(cx_session *self)
{
    free(self->path);
    free(self->query);
    free(self->client);
    free(self->headers);
    json_decref(self->kwargs);
    self->path = self->query = self->client = self->headers = NULL;
    self->kwargs = NULL;
}

int cx_frame_queue_push2(cx_frame_queue *q, const void *a, size_t alen, const void *b, size_t blen)
{
    cx_frame *f = malloc(sizeof *f + LWS_PRE + alen + blen);
    if (!f)
        return -1;
    f->next = NULL;
    f->rsv1 = 0;
    f->len = alen + blen;
    memcpy(f->data + LWS_PRE, a, alen);
    if (blen)
        memcpy(f->data + LWS_PRE + alen, b, blen);
    if (q->tail)
        q->tail->next = f;
    else
        q->head = f;
    q->tail = f;
    q->bytes += f->len;
    q->count++;
    if (q->total)
        *q->total += f->len;
    return 0;
}

int cx_frame_queue_push(cx_frame_queue *q, const void *data, size_t len)
{
    return cx_frame_queue_push2(q, data, len, NULL, 0);
}

cx_frame *cx_frame_queue_pop(cx_frame_queue *q)
{
    cx_frame *f = q->head;
    if (!f)
        return NULL;
    if (!(q->head = f->next))
        q->tail = NULL;
    q->bytes -= f->len;
    q->count--;
    if (q->total)
        *q->total -= f->len;
    return f;
}

void cx_frame_queue_clear(cx_frame_queue *q)
{
    for (cx_frame *f; (f = cx_frame_queue_pop(q));)
        free(f);
}

int cx_session_join(cx_session *self, const char *group, size_t len)
{
    for (size_t i = 0; i < self->ngroups; i++)
        if (strlen(self->groups[i]) == len && memcmp(self->groups[i], group, len) == 0)
            return 0;
    char **grown = realloc(self->groups, (self->ngroups + 1) * sizeof *grown);
    if (!grown)
        return -1;
    self->groups = grown;
    if (!(self->groups[self->ngroups] = strndup(group, len)))
        return -1;
    self->ngroups++;
    return 1;
}

int cx_session_leave(cx_session *self, const char *group, size_t len)
{
    for (size_t i = 0; i < self->ngroups; i++) {
        if (strlen(self->groups[i]) != len || memcmp(self->groups[i], group, len) != 0)
            continue;
        free(self->groups[i]);
        self->groups[i] = self->groups[--self->ngroups];
        return 1;
    }
    return 0;
}
