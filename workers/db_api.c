/*
 * db_api.c — chanx_db_query, chanx_db_exec, chanx_db_transaction
 * (include/chanx/db.h) over the worker's pool (workers/db_pool.h).
 *
 * Parameters are converted from JSON to PostgreSQL's text format and bound
 * with PQexecParams; the SQL text is never touched. Outside a transaction
 * each call takes a pooled connection for the one statement; inside
 * chanx_db_transaction the connection is held by the ctx (ctx->tx) until
 * COMMIT or ROLLBACK. Errors go to the worker's log with the connection's
 * fields, never to the client.
 */
#include "workers/context_internal.h"
#include "chanx/db.h"
#include "common/log.h"
#include "common/pg_json.h"
#include "workers/db_pool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PARAMS 65535

static void log_db_error(const chanx_ctx *ctx, const char *sql, const char *sqlstate, const char *message)
{
    json_t *fields = cx_ctx_log_fields(ctx);
    if (sqlstate)
        json_object_set_new(fields, "sqlstate", json_string(sqlstate));
    json_t *m = json_string(message ? message : "unknown error");
    json_object_set_new(fields, "error", m ? m : json_string("(not UTF-8)"));
    if (sql) {
        json_t *s = json_string(sql);
        json_object_set_new(fields, "sql", s ? s : json_string("(not UTF-8)"));
    }
    cx_log_fields(CX_LOG_ERROR, "Database error", fields);
}

typedef struct {
    int n;
    char **values;   /* NULL entries are SQL NULL */
} params_t;

static void params_free(params_t *p)
{
    for (int i = 0; i < p->n; i++)
        free(p->values[i]);
    free(p->values);
}

/* JSON array → text parameters. Returns 0, or -1 with why filled. */
static int params_from_json(const json_t *params, params_t *out, char *why, size_t whylen)
{
    *out = (params_t) { 0, NULL };
    if (!params || json_is_null(params))
        return 0;
    if (!json_is_array(params))
        return snprintf(why, whylen, "params must be a JSON array or NULL"), -1;
    size_t n = json_array_size(params);
    if (n > MAX_PARAMS)
        return snprintf(why, whylen, "more than %d params", MAX_PARAMS), -1;
    out->values = calloc(n + 1, sizeof *out->values);
    if (!out->values)
        return snprintf(why, whylen, "out of memory"), -1;
    out->n = (int) n;
    for (size_t i = 0; i < n; i++) {
        const json_t *v = json_array_get(params, i);
        char buf[64], *text = NULL;
        switch (json_typeof(v)) {
        case JSON_NULL:
            continue;
        case JSON_STRING:
            if (strlen(json_string_value(v)) != json_string_length(v)) {
                snprintf(why, whylen, "param $%zu contains a NUL byte", i + 1);
                params_free(out);
                return -1;
            }
            text = strdup(json_string_value(v));
            break;
        case JSON_INTEGER:
            snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
            text = strdup(buf);
            break;
        case JSON_REAL:
            snprintf(buf, sizeof buf, "%.17g", json_real_value(v));
            text = strdup(buf);
            break;
        case JSON_TRUE:
            text = strdup("true");
            break;
        case JSON_FALSE:
            text = strdup("false");
            break;
        default:   /* object, array: for json/jsonb */
            text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
            break;
        }
        if (!text) {
            snprintf(why, whylen, "out of memory");
            params_free(out);
            return -1;
        }
        out->values[i] = text;
    }
    return 0;
}

/* Runs one statement on the transaction's connection or a pooled one. Returns the result when it
 * succeeded (PGRES_TUPLES_OK or PGRES_COMMAND_OK), NULL after logging why not. */
static PGresult *run(chanx_ctx *ctx, const char *sql, const json_t *params)
{
    char why[512];
    params_t p;
    if (!ctx || !sql) {
        if (ctx)
            log_db_error(ctx, NULL, NULL, "no SQL");
        return NULL;
    }
    if (params_from_json(params, &p, why, sizeof why) != 0) {
        log_db_error(ctx, sql, NULL, why);
        return NULL;
    }
    cx_db_pool *pool = ctx->services->db;
    cx_db_conn *conn = ctx->tx ? ctx->tx : cx_db_pool_acquire(pool, why, sizeof why);
    if (!conn) {
        log_db_error(ctx, sql, NULL, why);
        params_free(&p);
        return NULL;
    }
    PGresult *res = cx_db_conn_exec(pool, conn, sql, p.n, (const char *const *) p.values, ctx->tx == NULL);
    params_free(&p);
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
        const char *message = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
        if (st == PGRES_EMPTY_QUERY)
            message = "empty query";
        else if (!message)
            message = res ? PQresultErrorMessage(res) : "out of memory";
        log_db_error(ctx, sql, res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL, message);
        PQclear(res);
        res = NULL;
    }
    if (!ctx->tx)
        cx_db_pool_release(pool, conn);
    return res;
}

json_t *chanx_db_query(chanx_ctx *ctx, const char *sql, const json_t *params)
{
    PGresult *res = run(ctx, sql, params);
    if (!res)
        return NULL;
    json_t *rows = cx_pg_rows_json(res);
    PQclear(res);
    return rows;
}

int64_t chanx_db_exec(chanx_ctx *ctx, const char *sql, const json_t *params)
{
    PGresult *res = run(ctx, sql, params);
    if (!res)
        return -1;
    const char *tuples = PQcmdTuples(res);
    int64_t n = tuples && *tuples ? strtoll(tuples, NULL, 10) : 0;
    PQclear(res);
    return n;
}

/* BEGIN, COMMIT or ROLLBACK on the transaction's connection; 0 when PostgreSQL said expect. */
static int control(chanx_ctx *ctx, const char *sql, const char *expect)
{
    PGresult *res = run(ctx, sql, NULL);
    int ok = res && strcmp(PQcmdStatus(res), expect) == 0;
    PQclear(res);
    return ok ? 0 : -1;
}

int chanx_db_transaction(chanx_ctx *ctx, chanx_db_transaction_fn *fn, void *arg)
{
    if (!ctx || !fn)
        return CHANX_ERROR;
    if (ctx->tx) {
        log_db_error(ctx, NULL, NULL, "chanx_db_transaction inside a transaction (no nesting)");
        return CHANX_ERROR;
    }
    char why[512];
    cx_db_pool *pool = ctx->services->db;
    cx_db_conn *conn = cx_db_pool_acquire(pool, why, sizeof why);
    if (!conn) {
        log_db_error(ctx, "BEGIN", NULL, why);
        return CHANX_ERROR;
    }
    ctx->tx = conn;
    int rc = CHANX_ERROR;
    if (control(ctx, "BEGIN", "BEGIN") == 0) {
        rc = fn(ctx, arg);
        /* A failed statement aborted the transaction: PostgreSQL answers COMMIT with ROLLBACK. */
        if (rc == CHANX_OK && control(ctx, "COMMIT", "COMMIT") != 0)
            rc = CHANX_ERROR;
        else if (rc != CHANX_OK)
            control(ctx, "ROLLBACK", "ROLLBACK");
    }
    ctx->tx = NULL;
    cx_db_pool_release(pool, conn);   /* closed if still inside a transaction (a broken link) */
    return rc == CHANX_OK ? CHANX_OK : CHANX_ERROR;
}
