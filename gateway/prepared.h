/*
 * prepared.h — authentication queries as prepared statements, one set per
 * database connection (see prepared.c).
 */
#ifndef CX_GATEWAY_PREPARED_H
#define CX_GATEWAY_PREPARED_H

#include <libpq-fe.h>

/* Runs sql with n text params on db as PQexecParams would, and returns its result (owned by the caller,
 * PQclear it). The first run of a text on a connection prepares it (PQprepare) and later runs execute the
 * statement (PQexecPrepared), so PostgreSQL parses and plans it once per connection instead of every time.
 * The statements live with the connection and go with it (PQfinish or a reset). When preparing is off
 * (CHANX_DB_PREPARED_STATEMENTS=0) or the server refuses a statement this connection prepared (a pooler
 * such as PgBouncer before 1.21 in transaction mode switches server connections under it), the text runs
 * unprepared, and that connection prepares nothing more. Called by the thread that owns db. */
PGresult *cx_prepared_exec(PGconn *db, const char *sql, int n, const char *const *params);

#endif
