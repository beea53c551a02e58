/*
 * examples/chat_history end to end, driven by python3-websockets (a client
 * nobody here wrote) and the kit: the last 50 messages on connect, oldest
 * first; history pages back to the first message; a chat message stored and
 * broadcast to the room with its id and ISO 8601 time; a later connection
 * finds it in its history; rooms do not see each other's messages. And the
 * way the compose deployment gets its table: `chanx-admin migrate --examples`.
 */
#include "tests/kit/deploy_helpers.h"

#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static cx_stack *stack;

static void setup(void)
{
    stack = cx_stack_start(&(cx_stack_options) { .env = (const char *const[]) { "CHANX_WORKER_THREADS=4", NULL } });
    cx_db_exec_file(stack, "db/chat_history.sql");
    cx_db_exec(stack, "TRUNCATE chat_history_message RESTART IDENTITY");
}

static void teardown(void) { cx_stack_stop(&stack); }

TestSuite(chat_history, .init = setup, .fini = teardown, .timeout = 60);

static const char PY_CLIENT[] =
    "import asyncio, json, sys\n"
    "import websockets\n"
    "async def main():\n"
    "    async with websockets.connect(sys.argv[1]) as ws:\n"
    "        auth = json.loads(await ws.recv())\n"
    "        print(auth['payload']['status_code'], flush=True)\n"
    "        h = json.loads(await ws.recv())\n"
    "        ms = h['payload']['messages']\n"
    "        print(h['action'], len(ms), ms[0]['id'], ms[-1]['id'], h['payload']['has_more'], flush=True)\n"
    "        while h['payload']['has_more']:\n"
    "            await ws.send(json.dumps({'action': 'history', 'payload': {'before': ms[0]['id']}}))\n"
    "            h = json.loads(await ws.recv())\n"
    "            ms = h['payload']['messages']\n"
    "            ids = [m['id'] for m in ms]\n"
    "            print('page', len(ms), ids[0], ids[-1], ids == sorted(ids), h['payload']['has_more'], flush=True)\n"
    "        await ws.send(json.dumps({'action': 'chat', 'payload': {'message': 'hello from python'}}))\n"
    "        c = json.loads(await ws.recv())\n"
    "        p = c['payload']\n"
    "        print(c['action'], p['id'], p['username'], p['message'], c['is_mine'], c['is_current'],\n"
    "              p['created'][10], p['created'][-1], flush=True)\n"
    "asyncio.run(main())\n";

static void expect_line(FILE *py, const char *expected)
{
    char line[256];
    cx_python_line(py, line, sizeof line, expected);
    cr_assert_str_eq(line, expected);
}

Test(chat_history, history_on_connect_paging_and_a_stored_broadcast)
{
    int64_t alice = cx_db_create_user(stack, "alice", 0), bob = cx_db_create_user(stack, "bob", 0);
    char sql[400];
    snprintf(sql, sizeof sql,
             "INSERT INTO chat_history_message (room, user_id, username, message)"
             " SELECT 'lobby', %lld, 'alice', 'message ' || n FROM generate_series(1, 120) n;"
             "INSERT INTO chat_history_message (room, user_id, username, message) VALUES ('other', %lld, 'bob', 'elsewhere')",
             (long long) alice, (long long) bob);
    cx_db_exec(stack, sql);

    cx_communicator *listener = cx_communicator_new(stack, "/ws/chat_history/lobby/", cx_db_token_header(stack, bob));
    cx_assert_authenticated_status_ok(listener);
    json_t *first = cx_receive_until_action(listener, "history", 5000);
    json_t *messages = json_object_get(json_object_get(first, "payload"), "messages");
    cr_assert_eq(json_array_size(messages), 50);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(messages, 49), "message")), "message 120");
    json_decref(first);

    FILE *py = cx_python_client(stack, 0, "/ws/chat_history/lobby/", cx_db_token(stack, alice), PY_CLIENT);
    expect_line(py, "200");
    expect_line(py, "history 50 71 120 True");   /* lobby's ids are 1..120; 'other' has 121 */
    expect_line(py, "page 50 21 70 True True");
    expect_line(py, "page 20 1 20 True False");
    expect_line(py, "chat 122 alice hello from python True True T Z");
    pclose(py);

    json_t *heard = cx_receive_until_action(listener, "chat", 5000);
    json_t *p = json_object_get(heard, "payload");
    cr_assert_eq(json_integer_value(json_object_get(p, "id")), 122);
    cr_assert_str_eq(json_string_value(json_object_get(p, "message")), "hello from python");
    cr_assert(json_is_false(json_object_get(heard, "is_mine")));
    json_decref(heard);

    cx_communicator *later = cx_communicator_new(stack, "/ws/chat_history/lobby/", cx_db_token_header(stack, bob));
    cx_assert_authenticated_status_ok(later);
    json_t *h = cx_receive_until_action(later, "history", 5000);
    messages = json_object_get(json_object_get(h, "payload"), "messages");
    cr_assert_eq(json_array_size(messages), 50);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(messages, 49), "message")), "hello from python");
    json_decref(h);

    cx_communicator *other = cx_communicator_new(stack, "/ws/chat_history/other/", cx_db_token_header(stack, bob));
    cx_assert_authenticated_status_ok(other);
    h = cx_receive_until_action(other, "history", 5000);
    json_t *payload = json_object_get(h, "payload");
    cr_assert_eq(json_array_size(json_object_get(payload, "messages")), 1, "rooms leaked into each other");
    cr_assert(json_is_false(json_object_get(payload, "has_more")));
    json_decref(h);
}

Test(chat_history, an_empty_room_has_an_empty_history)
{
    int64_t alice = cx_db_create_user(stack, "alice", 0);
    cx_communicator *c = cx_communicator_new(stack, "/ws/chat_history/empty/", cx_db_token_header(stack, alice));
    cx_assert_authenticated_status_ok(c);
    json_t *h = cx_receive_until_action(c, "history", 5000);
    cx_assert_json_eq(json_object_get(h, "payload"), "{\"messages\": [], \"has_more\": false}");
    json_decref(h);
}

/* ---------------------------------------------------------------- deployed as compose does */

/* The compose deployment's way to a working example: a database with nothing in it, `chanx-admin
 * migrate --examples` with the schema where the image keeps it (CHANX_SCHEMA_FILE, the examples'
 * SQL beside it, as docker/Dockerfile copies every db/NAME.sql), a user made with chanx-admin; then
 * examples/chat_history stores and serves from that database. Plain `migrate` leaves the example
 * table out: a site's own database gets only what Chanx reads. */
static char fresh_name[64], fresh_url[1024], image_dir[256];

static void quiet(void *arg, const char *message)
{
    (void) arg;
    (void) message;   /* "does not exist, skipping": expected */
}

static PGconn *test_db(void)
{
    PGconn *db = PQconnectdb(getenv("CHANX_TEST_DATABASE_URL"));
    cr_assert_eq(PQstatus(db), CONNECTION_OK, "%s", PQerrorMessage(db));
    PQsetNoticeProcessor(db, quiet, NULL);
    return db;
}

static void exec_on(PGconn *db, const char *sql)
{
    PGresult *r = PQexec(db, sql);
    cr_assert(PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", sql,
              PQerrorMessage(db));
    PQclear(r);
}

/* The test database's conninfo with another dbname. */
static void conninfo_for(const char *dbname, char *out, size_t cap)
{
    PQconninfoOption *opts = PQconninfoParse(getenv("CHANX_TEST_DATABASE_URL"), NULL);
    cr_assert_not_null(opts);
    size_t o = 0;
    for (PQconninfoOption *k = opts; k->keyword; k++) {
        const char *v = strcmp(k->keyword, "dbname") ? k->val : dbname;
        if (v && *v)
            o += (size_t) snprintf(out + o, o < cap ? cap - o : 0, "%s%s='%s'", o ? " " : "", k->keyword, v);
    }
    PQconninfoFree(opts);
    cr_assert_lt(o, cap);
}

/* Runs chanx-admin against the fresh database with the image's schema location; its stdout (owned). */
static char *admin_fresh(const char *args)
{
    char cmd[2400];
    snprintf(cmd, sizeof cmd, "CHANX_SCHEMA_FILE=%s/schema.sql %s/chanx-admin --database \"%s\" %s", image_dir,
             cx_test_bin(), fresh_url, args);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    static char out[2048];
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    cr_assert_eq(pclose(p), 0, "chanx-admin %s failed:\n%s", args, out);
    return strdup(out);
}

static int fresh_has_table(const char *table)
{
    PGconn *db = PQconnectdb(fresh_url);
    cr_assert_eq(PQstatus(db), CONNECTION_OK, "%s", PQerrorMessage(db));
    const char *params[1] = { table };
    PGresult *r = PQexecParams(db, "SELECT to_regclass($1) IS NOT NULL", 1, NULL, params, NULL, NULL, 0);
    int has = PQresultStatus(r) == PGRES_TUPLES_OK && !strcmp(PQgetvalue(r, 0, 0), "t");
    PQclear(r);
    PQfinish(db);
    return has;
}

static void deploy_setup(void)
{
    snprintf(fresh_name, sizeof fresh_name, "chanx_deploy_%d", (int) getpid());
    conninfo_for(fresh_name, fresh_url, sizeof fresh_url);
    PGconn *db = test_db();
    char sql[200];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s", fresh_name);
    exec_on(db, sql);
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", fresh_name);
    exec_on(db, sql);
    PQfinish(db);
    snprintf(image_dir, sizeof image_dir, "/tmp/chanx-share-XXXXXX");   /* as /usr/share/chanx in the image */
    cr_assert_not_null(mkdtemp(image_dir));
    char cmd[600];
    snprintf(cmd, sizeof cmd, "cp db/*.sql %s/", image_dir);
    cr_assert_eq(system(cmd), 0);
}

static void deploy_teardown(void)
{
    cx_stack_stop(&stack);
    PGconn *db = test_db();
    char sql[200];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", fresh_name);
    exec_on(db, sql);
    PQfinish(db);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", image_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", image_dir);
}

TestSuite(chat_history_deploy, .init = deploy_setup, .fini = deploy_teardown, .timeout = 60);

Test(chat_history_deploy, migrate_examples_makes_the_examples_table_and_the_example_works)
{
    free(admin_fresh("migrate"));
    cr_assert(fresh_has_table("auth_user"), "migrate creates what the gateway reads");
    cr_assert(!fresh_has_table("chat_history_message"), "plain migrate gives a site's database no example table");
    char *out = admin_fresh("migrate --examples");
    cr_assert(strstr(out, "example tables applied from") && strstr(out, "/chat_history.sql"), "%s", out);
    free(out);
    cr_assert(fresh_has_table("chat_history_message"));
    free(admin_fresh("migrate --examples"));   /* again, as every `up` does: nothing changes, no error */

    free(admin_fresh("createuser carol"));
    char *token = admin_fresh("token carol"), header[200];
    token[strcspn(token, "\n")] = '\0';
    snprintf(header, sizeof header, "Authorization: Token %s", token);
    free(token);
    char database[1100];
    snprintf(database, sizeof database, "CHANX_DATABASE_URL=%s", fresh_url);
    const char *env[] = { database, NULL };
    stack = cx_stack_start(&(cx_stack_options) { .env = env, .keep_tables = 1 });
    const char *headers[] = { header, NULL };
    cx_communicator *c = cx_communicator_new(stack, "/ws/chat_history/lobby/", headers);
    cx_assert_authenticated_status_ok(c);
    json_t *h = cx_receive_until_action(c, "history", 5000);
    cx_assert_json_eq(json_object_get(h, "payload"), "{\"messages\": [], \"has_more\": false}");
    json_decref(h);
    json_t *said = json_pack("{s:s}", "message", "stored in the deployed table");
    json_t *chat = cx_request(c, "chat", said, "chat", 5000);   /* the broadcast's payload */
    json_decref(said);
    cr_assert_eq(json_integer_value(json_object_get(chat, "id")), 1, "the first row of the deployed table");
    cr_assert_str_eq(json_string_value(json_object_get(chat, "username")), "carol");
    json_decref(chat);
    cx_communicator *later = cx_communicator_new(stack, "/ws/chat_history/lobby/", headers);
    cx_assert_authenticated_status_ok(later);
    h = cx_receive_until_action(later, "history", 5000);
    json_t *messages = json_object_get(json_object_get(h, "payload"), "messages");
    cr_assert_eq(json_array_size(messages), 1);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(messages, 0), "message")),
                     "stored in the deployed table");
    json_decref(h);
}
