/*
 * db_probe — the database API on demand, for tests/e2e/test_db.c:
 *   query {sql, params?}   chanx_db_query → rows {rows} or db_error
 *   exec {sql, params?}    chanx_db_exec → affected {n} (n is -1 on error)
 *   transaction {statements: [sql...], fail: bool}
 *                          runs the statements in chanx_db_transaction; fail makes the function
 *                          return CHANX_ERROR after them → transaction {committed: bool}
 *   query_nul {sql}        chanx_db_query with one parameter "a\0b" (a client cannot send a NUL:
 *                          the worker's JSON parser refuses it) → rows or db_error
 *   ping                   → pong
 * A failed query answers db_error with no detail: what went wrong is in the worker's log only.
 */
#include <chanx/consumer.h>
#include <chanx/db.h>

typedef struct {
    const json_t *statements;
    int fail;
} tx_args;

static int run_statements(chanx_ctx *ctx, void *arg)
{
    tx_args *a = arg;
    size_t i;
    const json_t *sql;
    json_array_foreach(a->statements, i, sql)
        if (chanx_db_exec(ctx, json_string_value(sql), NULL) < 0)
            return CHANX_ERROR;
    return a->fail ? CHANX_ERROR : CHANX_OK;
}

static int receive_message(chanx_ctx *ctx, const chanx_msg *msg)
{
    const json_t *p = chanx_msg_payload(msg);
    const char *sql = json_string_value(json_object_get(p, "sql"));
    const json_t *params = json_object_get(p, "params");
    if (chanx_msg_is(msg, "ping"))
        return chanx_send_message(ctx, "pong", NULL);
    json_t *nul = chanx_msg_is(msg, "query_nul") ? json_pack("[s#]", "a\0b", (size_t) 3) : NULL;
    if (nul)
        params = nul;
    if (chanx_msg_is(msg, "query") || nul) {
        json_t *rows = chanx_db_query(ctx, sql, params);
        json_decref(nul);
        if (!rows)
            return chanx_send_message(ctx, "db_error", NULL);
        json_t *reply = json_pack("{s:o}", "rows", rows);
        int rc = chanx_send_message(ctx, "rows", reply);
        json_decref(reply);
        return rc;
    }
    if (chanx_msg_is(msg, "exec")) {
        json_t *reply = json_pack("{s:I}", "n", (json_int_t) chanx_db_exec(ctx, sql, params));
        int rc = chanx_send_message(ctx, "affected", reply);
        json_decref(reply);
        return rc;
    }
    if (chanx_msg_is(msg, "transaction")) {
        tx_args a = { json_object_get(p, "statements"), json_is_true(json_object_get(p, "fail")) };
        json_t *reply = json_pack("{s:b}", "committed", chanx_db_transaction(ctx, run_statements, &a) == CHANX_OK);
        int rc = chanx_send_message(ctx, "transaction", reply);
        json_decref(reply);
        return rc;
    }
    return CHANX_ERROR;
}

CHANX_CONSUMER(probe) {
    .incoming = "{\"ping\": null,"
                " \"query\": {\"type\": \"object\", \"properties\": {\"sql\": {\"type\": \"string\"},"
                "            \"params\": {\"type\": [\"array\", \"null\", \"string\"]}}, \"required\": [\"sql\"]},"
                " \"query_nul\": {\"type\": \"object\", \"properties\": {\"sql\": {\"type\": \"string\"}}, \"required\": [\"sql\"]},"
                " \"exec\": {\"type\": \"object\", \"properties\": {\"sql\": {\"type\": \"string\"},"
                "            \"params\": {\"type\": [\"array\", \"null\"]}}, \"required\": [\"sql\"]},"
                " \"transaction\": {\"type\": \"object\", \"properties\": {\"statements\": {\"type\": \"array\","
                "            \"items\": {\"type\": \"string\"}}, \"fail\": {\"type\": \"boolean\"}},"
                "            \"required\": [\"statements\"]}}",
    .log_received_message = CHANX_OFF,
    .log_sent_message = CHANX_OFF,
    .receive_message = receive_message,
};
