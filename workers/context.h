/*
 * context.h — one connection's consumer instance inside a worker.
 *
 * A chanx_ctx is created on CONNECT, lives while the client is connected,
 * and carries everything the plugin API reads (user, object, request, URL
 * kwargs, query) plus the consumer's state. It is the `self` of a Chanx
 * consumer. The functions here are the framework's side of its lifecycle;
 * the plugin's side is include/chanx/consumer.h. Everything the context
 * needs from the process (the broker, the settings, the database) it gets
 * from the services it is created with (workers/services.h), never from the
 * worker itself.
 */
#ifndef CX_WORKERS_CONTEXT_H
#define CX_WORKERS_CONTEXT_H

#include "chanx/consumer.h"
#include "chanx/timer.h"
#include "proto/envelope.h"
#include "workers/plugins.h"
#include "workers/services.h"

/* From a CONNECT envelope; services (borrowed, outliving the ctx) are the worker's, which the plugin
 * API calls down into (workers/services.h). NULL when out of memory. */
chanx_ctx *cx_ctx_new(const cx_services *services, cx_consumer_entry *consumer, const cx_env *connect);
void cx_ctx_destroy(chanx_ctx **self_p);
/* Runs has_permission, the authentication message, build_groups and post_authentication.
 * Returns 0 when the connection goes on, -1 when it was refused and closed. */
int cx_ctx_start(chanx_ctx *self);
/* Validates and handles one text frame from the client. */
void cx_ctx_receive(chanx_ctx *self, const char *text, size_t len);
/* The client is gone: runs disconnect and leaves every group. */
void cx_ctx_stop(chanx_ctx *self, int close_code);
cx_consumer_entry *cx_ctx_consumer(const chanx_ctx *self);
/* Whether the consumer closed the connection (chanx_close): its later frames are dropped. */
int cx_ctx_closed(const chanx_ctx *self);
/* The gateway's own answer to one of the client's messages (ANSWER, proto/README.md), reached in the
 * mailbox's order: sent back as the frame text (code 0), or as a close with code and text as its
 * reason, after which the consumer's later frames are dropped as after chanx_close (send.c). */
void cx_ctx_answer(chanx_ctx *self, int code, const char *text, size_t len);
/* A timer came due (timer_api.c): runs fn unless the timer was cancelled meanwhile. */
void cx_ctx_fire_timer(chanx_ctx *self, uint64_t id, chanx_timer_fn *fn, void *arg, int repeating);
/* The ids of the connection's live timers, for cancelling them when it ends (borrowed). */
const uint64_t *cx_ctx_timer_ids(const chanx_ctx *self, size_t *n);

#endif
