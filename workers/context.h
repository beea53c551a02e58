/*
 * context.h — one connection's consumer instance inside a worker.
 *
 * A chanx_ctx is created on CONNECT, lives while the client is connected,
 * and carries everything the plugin API reads (user, object, request, URL
 * kwargs, query) plus the consumer's state. It is the `self` of a Chanx
 * consumer. The functions here are the framework's side of its lifecycle;
 * the plugin's side is include/chanx/consumer.h.
 */
#ifndef CX_WORKERS_CONTEXT_H
#define CX_WORKERS_CONTEXT_H

#include "chanx/consumer.h"
#include "chanx/timer.h"
#include "proto/envelope.h"
#include "workers/plugins.h"

typedef struct cx_worker cx_worker;
struct cx_lq_item;
struct cx_db_pool;

/* Worker-wide settings: Chanx's CHANX settings, from the environment. */
typedef struct {
    int send_completion;
    int send_authentication_message;
    int log_received_message;
    int log_sent_message;
    int camelize;
    json_t *log_ignored_actions;   /* array of strings */
} cx_settings;

void cx_settings_load(cx_settings *settings);
void cx_settings_free(cx_settings *settings);

/* Sends an envelope to the broker (implemented by worker.c). From a pool thread it is encoded
 * there and queued to the link thread, behind everything the thread queued before. */
int cx_worker_send(cx_worker *worker, const cx_env *env);
const cx_settings *cx_worker_settings(const cx_worker *worker);
/* Queues a command to the link thread (workers/link_queue.h); takes item. */
void cx_worker_post(cx_worker *worker, struct cx_lq_item *item);
/* The worker's database pool (workers/db_pool.h), NULL when CHANX_DATABASE_URL is unset. */
struct cx_db_pool *cx_worker_db(cx_worker *worker);

/* From a CONNECT envelope; NULL when out of memory. */
chanx_ctx *cx_ctx_new(cx_worker *worker, cx_consumer_entry *consumer, const cx_env *connect);
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
/* A timer came due (timer_api.c): runs fn unless the timer was cancelled meanwhile. */
void cx_ctx_fire_timer(chanx_ctx *self, uint64_t id, chanx_timer_fn *fn, void *arg, int repeating);
/* The ids of the connection's live timers, for cancelling them when it ends (borrowed). */
const uint64_t *cx_ctx_timer_ids(const chanx_ctx *self, size_t *n);

#endif
