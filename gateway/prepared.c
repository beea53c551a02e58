/*
 * prepared.c — authentication queries as prepared statements, one set per
 * database connection.
 *
 * A connect authenticates with one or two short queries (a token's user, a
 * session and its user). Sent with PQexecParams, each is parsed, analysed
 * and planned by PostgreSQL every time, which costs it more than running
 * the query: pgbench on this project's token query gives 166 µs per round
 * trip unprepared against 89 µs prepared. The texts are few (one per
 * authentication class and user model, one per consumer's queryset), so
 * each connection prepares each text on its first run and executes the
 * statement afterwards, as psycopg does past its prepare_threshold.
 *
 * The set hangs on the PGconn itself (PQsetInstanceData with an event
 * procedure), so it cannot outlive the connection or be taken for another
 * one's: PQfinish frees it and a reset empties it (the server forgot the
 * statements). No signature between the pool and the classes changes.
 *
 * A pooler that switches server connections under us (PgBouncer before
 * 1.21 in transaction mode) loses statements between prepare and execute;
 * the server says so (26000, or 42P05 for a name taken on the server
 * connection we were given), the text runs unprepared, and that connection
 * prepares nothing more. So does a statement whose result type a migration
 * changed (0A000). CHANX_DB_PREPARED_STATEMENTS=0 turns preparing off.
 */
#include "gateway/prepared.h"
#include "common/env.h"
#include "common/log.h"

#include <libpq-events.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_STATEMENTS 64   /* past this, texts run unprepared: a set this large is no working set */

typedef struct {
    char *sql;
    char name[24];
} statement;

typedef struct {
    statement items[MAX_STATEMENTS];
    int n;
    unsigned next_name;
    int off;   /* the server refused our statements: run everything unprepared */
} statements;

static void forget_all(statements *s)
{
    for (int i = 0; i < s->n; i++)
        free(s->items[i].sql);
    s->n = 0;
}

static int on_event(PGEventId id, void *info, void *pass)
{
    (void) pass;
    if (id == PGEVT_CONNRESET) {
        statements *s = PQinstanceData(((PGEventConnReset *) info)->conn, on_event);
        if (s) {
            forget_all(s);
            s->off = 0;
        }
    } else if (id == PGEVT_CONNDESTROY) {
        statements *s = PQinstanceData(((PGEventConnDestroy *) info)->conn, on_event);
        if (s) {
            forget_all(s);
            free(s);
        }
    }
    return 1;
}

/* db's set, made on first use; NULL when preparing is off or memory is short. */
static statements *set_of(PGconn *db)
{
    statements *s = PQinstanceData(db, on_event);
    if (s || !cx_env_long("CHANX_DB_PREPARED_STATEMENTS", 1, 0, 1))
        return s;
    if (!(s = calloc(1, sizeof *s)))
        return NULL;
    if (!PQregisterEventProc(db, on_event, "chanx-prepared", NULL) || !PQsetInstanceData(db, on_event, s)) {
        free(s);
        return NULL;
    }
    return s;
}

static const statement *find(const statements *s, const char *sql)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->items[i].sql, sql) == 0)
            return &s->items[i];
    return NULL;
}

static int refused(const PGresult *res)
{
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    return state && (strcmp(state, "26000") == 0 || strcmp(state, "42P05") == 0 || strcmp(state, "0A000") == 0);
}

/* The server refused our statements: from now on this connection runs texts unprepared. */
static void turn_off(statements *s, const PGresult *res)
{
    cx_warn("database connection runs queries unprepared from now on: SQLSTATE %s (a pooler switching "
            "server connections? CHANX_DB_PREPARED_STATEMENTS=0 turns preparing off)",
            PQresultErrorField(res, PG_DIAG_SQLSTATE));
    forget_all(s);
    s->off = 1;
}

/* Prepares sql on db and remembers it; NULL with *error set to the server's answer when it refused. */
static const statement *prepare(statements *s, PGconn *db, const char *sql, int n, PGresult **error)
{
    if (s->n == MAX_STATEMENTS)
        return NULL;
    statement *st = &s->items[s->n];
    snprintf(st->name, sizeof st->name, "chanx_%u", s->next_name++);
    PGresult *res = PQprepare(db, st->name, sql, n, NULL);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        *error = res;
        return NULL;
    }
    PQclear(res);
    if (!(st->sql = strdup(sql)))
        return NULL;   /* the statement stays unused on the server until the connection goes */
    s->n++;
    return st;
}

static PGresult *unprepared(PGconn *db, const char *sql, int n, const char *const *params)
{
    return PQexecParams(db, sql, n, NULL, params, NULL, NULL, 0);
}

PGresult *cx_prepared_exec(PGconn *db, const char *sql, int n, const char *const *params)
{
    statements *s = set_of(db);
    if (!s || s->off)
        return unprepared(db, sql, n, params);
    PGresult *error = NULL;
    const statement *st = find(s, sql);
    if (!st && !(st = prepare(s, db, sql, n, &error))) {
        if (error && refused(error)) {   /* run unprepared, from now on */
            turn_off(s, error);
            PQclear(error);
            error = NULL;
        }
        return error ? error : unprepared(db, sql, n, params);   /* the server's own error stands */
    }
    PGresult *res = PQexecPrepared(db, st->name, n, params, NULL, NULL, 0);
    if (PQresultStatus(res) == PGRES_FATAL_ERROR && refused(res)) {
        turn_off(s, res);
        PQclear(res);
        return unprepared(db, sql, n, params);
    }
    return res;
}
