/*
 * ctx_log.c — the fields that name a connection in a log record: its id,
 * consumer, path, client and user, and the message being handled.
 *
 * At the bottom of the connection's layers (context -> send -> outbox, and
 * the helpers they share, such as group_limits.c) so that any of them can
 * log about a connection without calling up into another.
 */
#include "workers/ctx_log.h"
#include "workers/context_internal.h"

json_t *cx_ctx_log_identity(const chanx_ctx *self)
{
    json_t *f = json_pack("{s:I, s:s, s:s, s:s}", "conn", (json_int_t) self->conn, "consumer",
                          self->consumer->name, "path", self->path, "client", self->client);
    if (self->user.is_authenticated)
        json_object_set_new(f, "user_id", json_integer(self->user.id));
    return f;
}

json_t *cx_ctx_log_fields(const chanx_ctx *self)
{
    json_t *f = cx_ctx_log_identity(self);
    if (self->message_id[0])
        json_object_set_new(f, "message_id", json_string(self->message_id));
    return f;
}
