/*
 * ctx_log.h — the fields that name a connection in a log record (ctx_log.c).
 * The caller owns the object returned and usually hands it to cx_log_fields
 * (common/log.h).
 */
#ifndef CX_WORKERS_CTX_LOG_H
#define CX_WORKERS_CTX_LOG_H

#include <jansson.h>
#include "chanx/consumer.h"

/* Fields every log record of a connection carries. New object. Only on the connection's own thread:
 * message_id changes as it handles messages. */
json_t *cx_ctx_log_fields(const chanx_ctx *self);
/* The fields that never change after CONNECT (no message_id): safe from the link thread while the
 * connection's callbacks run elsewhere. New object. */
json_t *cx_ctx_log_identity(const chanx_ctx *self);

#endif
