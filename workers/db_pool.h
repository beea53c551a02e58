/*
 * db_pool.h — the worker's pool of PostgreSQL connections for plugins
 * (chanx_db_query and friends, workers/db_api.c).
 *
 * CHANX_WORKER_DB_POOL connections (default: one per pool thread, so a
 * thread never waits for another's query), opened lazily on first use, each
 * with statement_timeout = CHANX_WORKER_DB_TIMEOUT_MS, DateStyle ISO and
 * TimeZone UTC (see common/pg_json.h). A connection that broke (PostgreSQL
 * restarted) is replaced at its next use: the command that found it broken
 * is retried once on a fresh connection, outside transactions only.
 *
 * Threading: acquire/release/exec from any pool thread; a connection is used
 * by one thread between acquire and release.
 */
#ifndef CX_WORKERS_DB_POOL_H
#define CX_WORKERS_DB_POOL_H

#include <libpq-fe.h>
#include <stddef.h>

typedef struct cx_db_pool cx_db_pool;
typedef struct cx_db_conn cx_db_conn;

/* From CHANX_DATABASE_URL (NULL when unset: chanx_db_* then fail with a log record). */
cx_db_pool *cx_db_pool_new_from_env(int default_size);
void cx_db_pool_destroy(cx_db_pool **self_p);
/* A connection for this thread, waiting at most the statement timeout for one to be free.
 * NULL with the reason in err. */
cx_db_conn *cx_db_pool_acquire(cx_db_pool *self, char *err, size_t errlen);
/* Gives it back; a connection left broken or inside a transaction is closed. */
void cx_db_pool_release(cx_db_pool *self, cx_db_conn *conn);
/* PQexecParams with text parameters. retry: the command may be run again on a fresh connection if
 * this one turns out to be broken. Returns the result (never NULL; check PQresultStatus). */
PGresult *cx_db_conn_exec(cx_db_pool *self, cx_db_conn *conn, const char *sql, int nparams,
                          const char *const *values, int retry);

#endif
