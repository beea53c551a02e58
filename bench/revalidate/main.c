/*
 * chanx-bench-revalidate — what revocation checks cost PostgreSQL at
 * 100,000 connections (docs/benchmarks.md, "Revalidation").
 *
 * Opening 100,000 sockets would measure the client machine; the database's
 * cost does not depend on sockets, only on what a round asks. So this runs
 * the gateway's own code (gateway/revalidate.c on gateway/auth.c's pool)
 * against real PostgreSQL with the rows 100,000 connections would have:
 * 100,000 users, a third connected by DRF token, a third by Django session,
 * a third by JWT (user checked only), 1% of them revoked between rounds.
 * The tables are Django's, in a schema of their own (chanx_bench_revalidate,
 * dropped at the end) so a shared database is not disturbed.
 *
 *   scripts/run-tests --with-db build/bench/chanx-bench-revalidate [connections] [rounds]
 *
 * Prints, per round, its time from start to answer (one pool connection,
 * the gateway's client side included), the statements it ran and what it
 * revoked; then PostgreSQL's own execution time of one full chunk of each
 * statement (EXPLAIN ANALYZE), the database's share.
 */
#include "gateway/auth.h"
#include "gateway/revalidate.h"
#include "gateway/user_model.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SCHEMA "chanx_bench_revalidate"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + ts.tv_nsec / 1e9;
}

static void exec_or_die(PGconn *db, const char *sql)
{
    PGresult *res = PQexec(db, sql);
    if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK) {
        fprintf(stderr, "%s\n%s", sql, PQerrorMessage(db));
        exit(1);
    }
    PQclear(res);
}

/* Django's three tables, as migrate makes them (the columns a round reads, and their keys). */
static void make_rows(PGconn *db, long n)
{
    char sql[2048];
    exec_or_die(db, "DROP SCHEMA IF EXISTS " SCHEMA " CASCADE");
    exec_or_die(db, "CREATE SCHEMA " SCHEMA);
    exec_or_die(db, "SET search_path = " SCHEMA);
    exec_or_die(db, "CREATE TABLE auth_user (id serial PRIMARY KEY, password varchar(128) NOT NULL DEFAULT '', "
                    "username varchar(150) UNIQUE NOT NULL, is_active boolean NOT NULL DEFAULT true, "
                    "is_staff boolean NOT NULL DEFAULT false, is_superuser boolean NOT NULL DEFAULT false)");
    exec_or_die(db, "CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, created timestamptz NOT NULL, "
                    "user_id integer UNIQUE NOT NULL REFERENCES auth_user(id))");
    exec_or_die(db, "CREATE TABLE django_session (session_key varchar(40) PRIMARY KEY, session_data text NOT NULL, "
                    "expire_date timestamptz NOT NULL)");
    exec_or_die(db, "CREATE INDEX ON django_session (expire_date)");
    snprintf(sql, sizeof sql, "INSERT INTO auth_user (username) SELECT 'user' || i FROM generate_series(1, %ld) i", n);
    exec_or_die(db, sql);
    snprintf(sql, sizeof sql, "INSERT INTO authtoken_token SELECT md5('t' || i) || 'abcdefgh', now(), i "
                              "FROM generate_series(1, %ld) i WHERE i %% 3 = 0", n);
    exec_or_die(db, sql);
    snprintf(sql, sizeof sql, "INSERT INTO django_session SELECT substr(md5('s' || i), 1, 32), 'x', "
                              "now() + interval '1 day' FROM generate_series(1, %ld) i WHERE i %% 3 = 1", n);
    exec_or_die(db, sql);
    exec_or_die(db, "ANALYZE auth_user; ANALYZE authtoken_token; ANALYZE django_session");
}

/* What the gateway would track for connection i (user i). */
static void track_all(PGconn *db, cx_revalidate *rv, long n)
{
    PGresult *res = PQexec(db, "SELECT i, CASE WHEN i % 3 = 0 THEN md5('t' || i) || 'abcdefgh' "
                               "WHEN i % 3 = 1 THEN substr(md5('s' || i), 1, 32) ELSE '' END "
                               "FROM generate_series(1, (SELECT count(*) FROM auth_user)) i");
    for (int row = 0; row < PQntuples(res) && row < n; row++) {
        long i = atol(PQgetvalue(res, row, 0));
        int decided_by = 1 + (i % 3 == 0 ? CX_AUTH_TOKEN : i % 3 == 1 ? CX_AUTH_SESSION : CX_AUTH_JWT);
        cx_revalidate_track(rv, (uint64_t) i, i, decided_by, PQgetvalue(res, row, 1));
    }
    PQclear(res);
}

static void count_revoked(uint64_t conn, void *arg)
{
    (void) conn;
    ++*(long *) arg;
}

/* PostgreSQL's own execution time of one full chunk of each statement (EXPLAIN ANALYZE of the
 * statement the round runs, prepared, with a CX_REVALIDATE_CHUNK-key array): the database's share
 * of a round, without the client side and the socket. */
static double chunk_execution_ms(PGconn *db, const char *kind_sql, const char *array_sql)
{
    exec_or_die(db, "DEALLOCATE ALL");
    char *prepare = malloc(strlen(kind_sql) + 64);
    sprintf(prepare, "PREPARE q(text) AS %s", kind_sql);
    exec_or_die(db, prepare);
    free(prepare);
    PGresult *array = PQexec(db, array_sql);   /* the literal the round would send, made by SQL */
    char *literal = PQescapeLiteral(db, PQgetvalue(array, 0, 0), strlen(PQgetvalue(array, 0, 0)));
    PQclear(array);
    char *sql = malloc(strlen(literal) + 64);
    sprintf(sql, "EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE q(%s)", literal);
    PQfreemem(literal);
    PGresult *res = PQexec(db, sql);
    free(sql);
    double ms = 0;
    const char *text = PQresultStatus(res) == PGRES_TUPLES_OK ? PQgetvalue(res, 0, 0) : "";
    const char *at = strstr(text, "\"Execution Time\": ");
    if (at)
        ms = atof(at + strlen("\"Execution Time\": "));
    else
        fprintf(stderr, "EXPLAIN failed: %s", PQerrorMessage(db));
    PQclear(res);
    return ms;
}

static void explain_chunks(PGconn *db)
{
    char chunk[64];
    snprintf(chunk, sizeof chunk, "%d", CX_REVALIDATE_CHUNK);
    struct { const char *name, *sql, *array; } kinds[] = {
        { "users", "SELECT i FROM unnest($1::bigint[]) AS i WHERE NOT EXISTS (SELECT 1 FROM auth_user u "
                   "WHERE u.id = i AND u.is_active)",
          "SELECT array_agg(i)::text FROM generate_series(1, %s) i" },
        { "tokens", "SELECT k FROM unnest($1::text[]) AS k WHERE NOT EXISTS (SELECT 1 FROM authtoken_token t "
                    "WHERE t.key = k)",
          "SELECT array_agg(md5('t' || i) || 'abcdefgh')::text FROM generate_series(3, 3 * %s, 3) i" },
        { "sessions", "SELECT k FROM unnest($1::text[]) AS k WHERE NOT EXISTS (SELECT 1 FROM django_session s "
                      "WHERE s.session_key = k AND s.expire_date > now())",
          "SELECT array_agg(substr(md5('s' || i), 1, 32))::text FROM generate_series(1, 3 * %s, 3) i" },
    };
    for (size_t k = 0; k < 3; k++) {
        char array[512];
        snprintf(array, sizeof array, kinds[k].array, chunk);
        double best = 1e9;
        for (int i = 0; i < 5; i++) {
            double ms = chunk_execution_ms(db, kinds[k].sql, array);
            best = ms < best ? ms : best;
        }
        printf("one %s statement of %d keys: %.2f ms executing in PostgreSQL (best of 5)\n", kinds[k].name,
               CX_REVALIDATE_CHUNK, best);
    }
}

static void wake(void *arg)
{
    (void) arg;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 100000;
    int rounds = argc > 2 ? atoi(argv[2]) : 5;
    const char *url = getenv("CHANX_TEST_DATABASE_URL") ? getenv("CHANX_TEST_DATABASE_URL") : getenv("CHANX_DATABASE_URL");
    if (!url || n <= 0 || cx_user_model_check() != 0) {
        fprintf(stderr, "usage: scripts/run-tests --with-db %s [connections] [rounds]\n", argv[0]);
        return 2;
    }
    PGconn *db = PQconnectdb(url);
    if (PQstatus(db) != CONNECTION_OK) {
        fprintf(stderr, "%s", PQerrorMessage(db));
        return 1;
    }
    double t0 = now_s();
    make_rows(db, n);
    printf("rows for %ld connections made in %.1f s\n", n, now_s() - t0);
    char conninfo[1024];
    snprintf(conninfo, sizeof conninfo, "%s options='-c search_path=" SCHEMA "'", url);
    cx_auth *pool = cx_auth_new(conninfo, 1, wake, NULL);
    cx_revalidate *rv = cx_revalidate_new(pool, 1);
    track_all(db, rv, n);
    int64_t clock_ms = 0;
    for (int r = 0; r < rounds; r++) {
        /* 1% revoked since the last round: a third of them by each kind of change */
        char sql[512];
        snprintf(sql, sizeof sql, "UPDATE auth_user SET is_active = false WHERE id %% 100 = %d AND id %% 3 = 2; "
                 "DELETE FROM authtoken_token WHERE user_id %% 100 = %d; "
                 "DELETE FROM django_session WHERE session_key IN (SELECT substr(md5('s' || i), 1, 32) "
                 "FROM generate_series(1, %ld) i WHERE i %% 100 = %d)", r, r, n, r);
        exec_or_die(db, sql);
        double started = now_s();
        cx_revalidate_tick(rv, clock_ms += 2);
        long revoked = 0;
        while (cx_revalidate_running(rv)) {
            cx_revalidate_collect(rv, count_revoked, &revoked);
            usleep(100);
        }
        double wall = now_s() - started;
        printf("round %d: %ld connections, %ld revoked, %.1f ms from start to answer, "
               "%ld statements of at most %d keys\n", r + 1, n, revoked, wall * 1000,
               3 * ((n + CX_REVALIDATE_CHUNK - 1) / CX_REVALIDATE_CHUNK), CX_REVALIDATE_CHUNK);
        for (uint64_t i = 1; i <= (uint64_t) n; i++)
            if ((long) (i % 100) == r)
                cx_revalidate_forget(rv, i);   /* the gateway closed them */
    }
    cx_auth_destroy(&pool);
    cx_revalidate_destroy(&rv);
    explain_chunks(db);
    exec_or_die(db, "DROP SCHEMA " SCHEMA " CASCADE");
    PQfinish(db);
    return 0;
}
