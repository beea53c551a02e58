/*
 * services.h — what the worker hands each connection at creation.
 *
 * The plugin API (context.c, send.c, events.c, timer_api.c, db_api.c,
 * presence_api.c) needs a way to the broker, the deployment's settings, the
 * database pool and the broker's answers. It
 * gets them from this struct, filled once by the worker (worker.c) and
 * passed down to cx_ctx_new, as libuv passes its loop to every handle: the
 * API calls down into the services and never names the worker, so the
 * worker's layers (scheduler → actor → context → send → outbox) hold and a
 * new process shape (a supervisor, a test harness) can hand its own.
 *
 * The services outlive every connection they were handed to (the worker
 * waits for every actor before it destroys them); connections only read
 * them. Any thread.
 */
#ifndef CX_WORKERS_SERVICES_H
#define CX_WORKERS_SERVICES_H

#include "workers/answers.h"
#include "workers/db_pool.h"
#include "workers/outbox.h"
#include "workers/settings.h"

typedef struct cx_services {
    cx_outbox *outbox;            /* envelopes to the broker, commands to the link thread */
    const cx_settings *settings;  /* the deployment's CHANX_* settings */
    cx_db_pool *db;               /* the database pool (workers/db_pool.h), NULL without CHANX_DATABASE_URL */
    cx_answers *answers;          /* the broker's answers to what a pool thread waits for (answers.h) */
} cx_services;

#endif
