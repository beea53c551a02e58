/*
 * examples/chat_history end to end, driven by python3-websockets (a client
 * nobody here wrote) and the kit: the last 50 messages on connect, oldest
 * first; history pages back to the first message; a chat message stored and
 * broadcast to the room with its id and ISO 8601 time; a later connection
 * finds it in its history; rooms do not see each other's messages.
 */
#include "tests/kit/deploy_helpers.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
