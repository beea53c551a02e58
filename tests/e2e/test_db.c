/*
 * Database access for consumers (include/chanx/db.h), end to end with
 * tests/plugins/db_probe against the suite's PostgreSQL:
 *
 *   - rows come back as JSON with PostgreSQL's types mapped (integers,
 *     numerics exact or as strings, booleans, null, ISO 8601 timestamps,
 *     json/jsonb as JSON, text);
 *   - parameters are only ever values: SQL in them is stored as text;
 *   - errors, a statement over CHANX_WORKER_DB_TIMEOUT_MS and bad parameters
 *     fail the call with PostgreSQL's message in the worker's log, never in
 *     what the client receives, and the connection goes on;
 *   - transactions commit or roll back as a whole;
 *   - a PostgreSQL restart is survived without restarting the worker (on a
 *     private cluster, as in test_auth_edge.c, so stopping it disturbs
 *     nothing else).
 */
#include "tests/kit/deploy_helpers.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

static cx_stack *stack;
static char *folder;
static char outage_dir[400];

static void teardown(void)
{
    cx_stack_stop(&stack);
    cx_plugin_folder_remove(&folder);
    if (outage_dir[0]) {
        char cmd[500];
        snprintf(cmd, sizeof cmd, "scripts/pg-cluster stop %s", outage_dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not stop %s\n", outage_dir);
    }
}

TestSuite(db, .fini = teardown, .timeout = 120);

static void start(const char *const *env)
{
    folder = cx_plugin_folder_new((const char *const[]) { "test-plugins/db_probe.so", NULL });
    stack = cx_stack_start(&(cx_stack_options) { .plugins = folder, .env = env });
}

static cx_communicator *connect_probe(void)
{
    int64_t id = cx_db_create_user(stack, "alice", 0);
    cx_communicator *c = cx_communicator_new(stack, "/ws/db_probe/", cx_db_token_header(stack, id));
    cx_assert_authenticated_status_ok(c);
    return c;
}

/* Sends query {sql, params}; returns the rows (owned), or NULL when the consumer got an error. */
static json_t *query_as(cx_communicator *c, const char *verb, const char *sql, json_t *params)
{
    json_t *p = json_pack("{s:s}", "sql", sql);
    if (params)
        json_object_set_new(p, "params", params);
    cx_send_message(c, verb, p);
    json_decref(p);
    json_t *m = cx_receive_json(c, 15000);
    cr_assert_not_null(m, "no answer to %s", sql);
    const char *action = json_string_value(json_object_get(m, "action"));
    json_t *rows = NULL;
    if (strcmp(action, "rows") == 0)
        rows = json_incref(json_object_get(json_object_get(m, "payload"), "rows"));
    else
        cr_assert_str_eq(action, "db_error", "unexpected answer to %s: %s", sql, json_dumps(m, JSON_COMPACT));
    if (!rows)   /* the client learns nothing of the cause */
        cr_assert(json_is_null(json_object_get(m, "payload")), "an error reply carried details");
    json_decref(m);
    return rows;
}

static json_t *query(cx_communicator *c, const char *sql, json_t *params)
{
    return query_as(c, "query", sql, params);
}

static json_int_t exec(cx_communicator *c, const char *sql, json_t *params)
{
    json_t *p = json_pack("{s:s}", "sql", sql);
    if (params)
        json_object_set_new(p, "params", params);
    json_t *reply = cx_request(c, "exec", p, "affected", 15000);
    json_int_t n = json_integer_value(json_object_get(reply, "n"));
    json_decref(p);
    json_decref(reply);
    return n;
}

static void assert_worker_logged(const char *needle)
{
    char *log = cx_stack_log(stack, "worker0", needle, 5000);
    cr_assert_not_null(log, "the worker's log lacks %s", needle);
    free(log);
}

Test(db, rows_come_back_with_postgresql_types_mapped_to_json)
{
    start(NULL);
    cx_communicator *c = connect_probe();
    json_t *rows = query(c,
        "SELECT 1::int2 AS i2, 2::int4 AS i4, 9007199254740993::int8 AS i8, 1.50::numeric AS num,"
        " 42::numeric AS num_int, 12345678901234567890.123456789::numeric AS num_big, 'NaN'::numeric AS num_nan,"
        " 0.25::float8 AS f8, 'Infinity'::float8 AS f8_inf, true AS yes, false AS no, NULL::int AS nothing,"
        " '2026-11-30 23:58:05.123456+02'::timestamptz AS at, '2026-11-30 23:58:05'::timestamp AS local,"
        " '2026-11-30'::date AS day, '{\"k\": [1, 2], \"n\": null}'::jsonb AS doc, '\"s\"'::json AS scalar,"
        " 'héllo \"quoted\"'::text AS txt, ARRAY[1,2] AS arr", NULL);
    cr_assert_not_null(rows);
    cx_assert_json_eq(rows,
        "[{\"i2\": 1, \"i4\": 2, \"i8\": 9007199254740993, \"num\": 1.5, \"num_int\": 42,"
        " \"num_big\": \"12345678901234567890.123456789\", \"num_nan\": \"NaN\", \"f8\": 0.25, \"f8_inf\": \"Infinity\","
        " \"yes\": true, \"no\": false, \"nothing\": null, \"at\": \"2026-11-30T21:58:05.123456Z\","
        " \"local\": \"2026-11-30T23:58:05\", \"day\": \"2026-11-30\", \"doc\": {\"k\": [1, 2], \"n\": null},"
        " \"scalar\": \"s\", \"txt\": \"héllo \\\"quoted\\\"\", \"arr\": \"{1,2}\"}]");
    json_decref(rows);
    rows = query(c, "SELECT 1 WHERE false", NULL);
    cx_assert_json_eq(rows, "[]");
    json_decref(rows);
}

Test(db, parameters_are_only_ever_values)
{
    start(NULL);
    cx_communicator *c = connect_probe();
    cx_db_exec(stack, "DROP TABLE IF EXISTS db_probe_note; CREATE TABLE db_probe_note (id serial PRIMARY KEY, body text, n int, doc jsonb)");
    const char *hostile[] = {
        "'); DROP TABLE db_probe_note; --", "$1", "\\x00 \\\\ ' \" ;", "ünïcødé ✓", "' OR '1'='1",
    };
    for (size_t i = 0; i < sizeof hostile / sizeof *hostile; i++)
        cr_assert_eq(exec(c, "INSERT INTO db_probe_note (body, n, doc) VALUES ($1, $2, $3)",
                          json_pack("[s, i, {s:s}]", hostile[i], (int) i, "text", hostile[i])), 1);
    for (size_t i = 0; i < sizeof hostile / sizeof *hostile; i++) {
        json_t *rows = query(c, "SELECT body, n, doc->>'text' AS echoed FROM db_probe_note WHERE body = $1",
                             json_pack("[s]", hostile[i]));
        cr_assert_eq(json_array_size(rows), 1, "%s did not round-trip", hostile[i]);
        json_t *row = json_array_get(rows, 0);
        cr_assert_str_eq(json_string_value(json_object_get(row, "body")), hostile[i]);
        cr_assert_str_eq(json_string_value(json_object_get(row, "echoed")), hostile[i]);
        cr_assert_eq(json_integer_value(json_object_get(row, "n")), (json_int_t) i);
        json_decref(rows);
    }
    /* null, booleans and numbers bind too; the table survived every one of the texts above */
    json_t *rows = query(c, "SELECT $1::int IS NULL AS is_null, $2::bool AS b, $3::float8 AS f, count(*) AS notes"
                            " FROM db_probe_note", json_pack("[n, b, f]", 1, 2.5));
    cx_assert_json_eq(rows, "[{\"is_null\": true, \"b\": true, \"f\": 2.5, \"notes\": 5}]");
    json_decref(rows);
    /* params that are not an array, and a string with a NUL byte: refused before PostgreSQL */
    cr_assert_null(query(c, "SELECT $1::text", json_string("not an array")));
    assert_worker_logged("params must be a JSON array or NULL");
    cr_assert_null(query_as(c, "query_nul", "SELECT $1::text", NULL));
    assert_worker_logged("param $1 contains a NUL byte");
}

Test(db, errors_and_timeouts_are_logged_for_the_operator_and_the_connection_goes_on)
{
    start((const char *const[]) { "CHANX_WORKER_DB_TIMEOUT_MS=500", NULL });
    cx_communicator *c = connect_probe();
    cr_assert_null(query(c, "SELEC nonsense", NULL));
    assert_worker_logged("\"sqlstate\":\"42601\"");
    assert_worker_logged("syntax error at or near \\\"SELEC\\\"");
    cr_assert_null(query(c, "SELECT $1::int", NULL));   /* a placeholder without its value */
    assert_worker_logged("\"sqlstate\":\"08P01\"");
    cr_assert_eq(exec(c, "INSERT INTO no_such_table VALUES (1)", NULL), -1);
    assert_worker_logged("relation \\\"no_such_table\\\" does not exist");

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    cr_assert_null(query(c, "SELECT pg_sleep(5)", NULL));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double took = (double) (t1.tv_sec - t0.tv_sec) + (double) (t1.tv_nsec - t0.tv_nsec) / 1e9;
    cr_assert_lt(took, 4.0, "a 5 s query was not cut at the 500 ms statement timeout (%.1f s)", took);
    assert_worker_logged("\"sqlstate\":\"57014\"");
    json_t *rows = query(c, "SELECT 1 AS one", NULL);
    cx_assert_json_eq(rows, "[{\"one\": 1}]");
    json_decref(rows);
}

static json_t *transaction(cx_communicator *c, int fail, const char *first, const char *second)
{
    json_t *p = json_pack("{s:[s,s], s:b}", "statements", first, second, "fail", fail);
    json_t *reply = cx_request(c, "transaction", p, "transaction", 10000);
    json_decref(p);
    return reply;
}

Test(db, a_transaction_commits_or_rolls_back_as_a_whole)
{
    start(NULL);
    cx_communicator *c = connect_probe();
    cx_db_exec(stack, "DROP TABLE IF EXISTS db_probe_account;"
                      "CREATE TABLE db_probe_account (name text PRIMARY KEY, balance int CHECK (balance >= 0));"
                      "INSERT INTO db_probe_account VALUES ('a', 10), ('b', 0)");
    const char *debit = "UPDATE db_probe_account SET balance = balance - 7 WHERE name = 'a'";
    const char *credit = "UPDATE db_probe_account SET balance = balance + 7 WHERE name = 'b'";
    json_t *r = transaction(c, 0, debit, credit);
    cx_assert_json_eq(r, "{\"committed\": true}");
    json_decref(r);
    r = transaction(c, 1, debit, credit);   /* the function says no: rolled back */
    cx_assert_json_eq(r, "{\"committed\": false}");
    json_decref(r);
    r = transaction(c, 0, credit, debit);   /* the second statement breaks the CHECK: the first is undone */
    cx_assert_json_eq(r, "{\"committed\": false}");
    json_decref(r);
    json_t *rows = query(c, "SELECT name, balance FROM db_probe_account ORDER BY name", NULL);
    cx_assert_json_eq(rows, "[{\"name\": \"a\", \"balance\": 3}, {\"name\": \"b\", \"balance\": 7}]");
    json_decref(rows);
    cr_assert_eq(exec(c, "UPDATE db_probe_account SET balance = 0", NULL), 2, "rows affected");
}

static void cluster(const char *verb, int port)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "scripts/pg-cluster %s %s %d >/dev/null 2>&1", verb, outage_dir, port);
    cr_assert_eq(system(cmd), 0, "%s failed", cmd);
}

Test(db, a_postgresql_restart_is_survived_without_restarting_the_worker)
{
    const char *base = getenv("CHANX_TEST_PG_DIR") ? getenv("CHANX_TEST_PG_DIR") : "var/test-pg";
    snprintf(outage_dir, sizeof outage_dir, "%s-db-restart", base);
    int port = cx_test_free_port();
    cluster("stop", port);   /* one left by an interrupted run would keep its old port */
    char cmd[600], url[600];
    snprintf(cmd, sizeof cmd, "scripts/pg-cluster url %s %d", outage_dir, port);
    FILE *p = popen(cmd, "r");
    cr_assert(p && fgets(url, sizeof url, p) && pclose(p) == 0, "%s failed", cmd);
    url[strcspn(url, "\n")] = '\0';
    cluster("start", port);
    setenv("CHANX_TEST_DATABASE_URL", url, 1);
    start((const char *const[]) { "CHANX_WORKER_DB_POOL=1", "CHANX_WORKER_DB_TIMEOUT_MS=2000", NULL });
    cx_communicator *c = connect_probe();
    json_t *rows = query(c, "SELECT 1 AS one", NULL);   /* the pool's connection is open and idle */
    cx_assert_json_eq(rows, "[{\"one\": 1}]");
    json_decref(rows);

    cluster("stop", port);
    cr_assert_null(query(c, "SELECT 1 AS one", NULL), "a query succeeded with PostgreSQL down");
    json_decref(cx_request(c, "ping", NULL, "pong", 5000));   /* the worker itself is fine */
    cluster("start", port);
    rows = query(c, "SELECT 2 AS two", NULL);
    cx_assert_json_eq(rows, "[{\"two\": 2}]");
    json_decref(rows);

    cluster("stop", port);   /* a restart the worker does not see: its connection broke while idle */
    cluster("start", port);
    /* Its one pooled connection died while idle and only finds out now: the statement is retried
     * on a fresh connection instead of failing this first client after the restart. */
    rows = query(c, "SELECT 3 AS three", NULL);
    cx_assert_json_eq(rows, "[{\"three\": 3}]");
    json_decref(rows);
}
