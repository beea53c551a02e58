/*
 * work — the benchmark's consumer that does real work: each {"action":"work",
 * "payload":{"ms":N}} waits N ms inside PostgreSQL (pg_sleep through
 * chanx_db_query, a blocking call) and answers {"action":"done"}. The same
 * route and protocol as the Django Channels peer's WorkConsumer, which awaits
 * the same pg_sleep through database_sync_to_async. How many of these a
 * worker overlaps is set by CHANX_WORKER_THREADS (scripts/bench runs 1, 4, 16).
 *
 * {"action":"crash"} dereferences NULL: the repin scenario (bench/repin.c)
 * crashes the worker process with it and times how long the other
 * connections wait for their consumers to start again elsewhere.
 */
#include <chanx/consumer.h>
#include <chanx/db.h>

static int *volatile nowhere;   /* volatile: the compiler may not prove the dereference away */

/* Not instrumented by the sanitizers (make test's ASan+UBSan build runs the bench's smoke tests), so
 * the fault is a real signal there too, as in production, not a UBSan report. */
__attribute__((noinline, no_sanitize("address", "undefined"))) static int crash_null(void)
{
    return *nowhere;
}

static int receive_message(chanx_ctx *ctx, const chanx_msg *msg)
{
    if (chanx_msg_is(msg, "crash"))
        return crash_null();
    if (chanx_msg_is(msg, "ping"))
        return chanx_send_message(ctx, "pong", NULL);
    json_t *params = json_pack("[O]", json_object_get(chanx_msg_payload(msg), "ms"));
    json_t *rows = chanx_db_query(ctx, "SELECT pg_sleep($1::float8 / 1000)", params);
    json_decref(params);
    if (!rows)
        return CHANX_ERROR;
    json_decref(rows);
    return chanx_send_message(ctx, "done", NULL);
}

CHANX_CONSUMER(work) {
    .incoming = "{\"ping\": null, \"crash\": null,"
                " \"work\": {\"type\": \"object\", \"properties\": {\"ms\": {\"type\": \"number\", \"minimum\": 0,"
                "           \"maximum\": 1000}}, \"required\": [\"ms\"]}}",
    .log_received_message = CHANX_OFF,
    .log_sent_message = CHANX_OFF,
    .receive_message = receive_message,
};
