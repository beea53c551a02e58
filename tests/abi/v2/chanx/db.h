/*
 * chanx/db.h — the database for consumers: what a Channels consumer does with
 * the Django ORM through database_sync_to_async.
 *
 *     json_t *params = json_pack("[s, i]", room, 50);
 *     json_t *rows = chanx_db_query(ctx,
 *         "SELECT id, body, created FROM chat_message WHERE room = $1 ORDER BY id DESC LIMIT $2", params);
 *     json_decref(params);                 (params is borrowed; rows is yours)
 *     if (!rows)
 *         return CHANX_ERROR;              (the reason is in the worker's log)
 *     chanx_send_message(ctx, "history", rows);
 *     json_decref(rows);
 *
 * The worker keeps a pool of PostgreSQL connections (CHANX_DATABASE_URL, the
 * database the gateway authenticates against; CHANX_WORKER_DB_POOL
 * connections, default one per worker thread). Every call blocks the calling
 * thread until PostgreSQL answers, and only that thread: the connection's
 * other messages wait (its callbacks never overlap), other connections run
 * on the other threads (CHANX_WORKER_THREADS). Each statement is bounded by
 * CHANX_WORKER_DB_TIMEOUT_MS (statement_timeout, default 5000 ms).
 *
 * Parameters: sql uses $1..$n placeholders, and params is a JSON array whose
 * n-th value binds $n, or NULL for none. Values are always sent separately
 * from the SQL text (PQexecParams), never spliced in, so any text is safe:
 *   string  as is; integer and number as their decimal text; true/false;
 *   null    SQL NULL; object/array: its JSON text (for json/jsonb columns).
 * PostgreSQL infers each parameter's type from the statement; cast where it
 * cannot ($1::int). A string containing a NUL byte is refused (error).
 *
 * Rows: a JSON array of objects, one per row, column names as keys (name
 * columns uniquely: a repeated name keeps the last). Types map as
 *   int2, int4, int8            integers
 *   numeric                     an integer when integral and within int64, a number when it has at
 *                               most 15 significant digits, else the exact decimal as a string
 *   float4, float8              numbers (NaN, Infinity: strings)
 *   bool                        true/false
 *   NULL                        null
 *   timestamptz                 ISO 8601 in UTC: "2026-11-30T23:58:05.123456Z"
 *   timestamp                   ISO 8601 without zone: "2026-11-30T23:58:05.123456"
 *   json, jsonb                 the JSON value
 *   text and everything else    PostgreSQL's text form as a string (date "2026-11-30", uuid,
 *                               arrays "{1,2}", bytea "\x00ff")
 *
 * Errors: functions return NULL / -1 / CHANX_ERROR and log an error record
 * "Database error" in the worker's log with the connection's fields, the
 * SQLSTATE, PostgreSQL's message and the statement (never the parameters).
 * Nothing reaches the client: answer it yourself, or return CHANX_ERROR from
 * receive_message for Chanx's {"action":"error","payload":{"detail":"Failed
 * to process message"}}. Errors include: no CHANX_DATABASE_URL, PostgreSQL
 * unreachable, no pool connection free within the timeout, SQL errors,
 * statement_timeout (SQLSTATE 57014), params not an array or with a NUL.
 *
 * PostgreSQL restarts: a pooled connection that broke is replaced at its
 * next use; a statement that found its connection broken is run once more on
 * a fresh one (outside transactions). While PostgreSQL is down, calls fail.
 *
 * Threading: call these only from the callbacks of ctx's connection (its
 * thread). Values returned are the caller's; they may be kept after the
 * callback returns and sent to other connections.
 */
#ifndef CHANX_DB_H
#define CHANX_DB_H

#include <stdint.h>
#include <jansson.h>
#include "chanx/consumer.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Runs a query. Returns its rows (a new reference the caller json_decref's; [] when none, also for
 * commands that return no rows), or NULL on error. */
json_t *chanx_db_query(chanx_ctx *ctx, const char *sql, const json_t *params);

/* Runs a command (INSERT, UPDATE, DELETE...). Returns the rows it affected (0 for commands that do
 * not count), or -1 on error. */
int64_t chanx_db_exec(chanx_ctx *ctx, const char *sql, const json_t *params);

/* fn(ctx, arg) inside one transaction: every chanx_db_query/chanx_db_exec of ctx made inside fn runs
 * in it, on one connection. fn returns CHANX_OK to commit, anything else to roll back. Returns
 * CHANX_OK when the transaction committed; CHANX_ERROR when fn failed, a statement inside failed (the
 * whole transaction is then rolled back, as PostgreSQL does), the commit failed, or a transaction of
 * ctx is already running (no nesting). Django's transaction.atomic(), without savepoints. */
typedef int (chanx_db_transaction_fn)(chanx_ctx *ctx, void *arg);
int chanx_db_transaction(chanx_ctx *ctx, chanx_db_transaction_fn *fn, void *arg);

#ifdef __cplusplus
}
#endif

#endif
