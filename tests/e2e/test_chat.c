/*
 * The chat example, tested the way its Chanx original is
 * (WebsocketTestCase: connect, assert_authenticated_status_ok,
 * send_message, receive_all_json until the completion signal): ping answers
 * pong, a chat message reaches the whole room with is_mine / is_current
 * telling each copy apart, and anonymous clients are refused.
 */
#include <chanx/testing.h>
#include <criterion/criterion.h>

static const char *const settings[] = { "CHANX_SEND_COMPLETION=on", NULL };

CX_STACK_SUITE(chat, .env = settings);

Test(chat, connect_successfully_and_ping_gets_pong)
{
    int64_t alice = cx_db_create_user(stack, "alice", 0);
    cx_communicator *c = cx_communicator_new(stack, "/ws/chat/lobby/", cx_db_token_header(stack, alice));
    cx_assert_authenticated_status_ok(c);

    cx_send_message(c, "ping", NULL);
    json_t *replies = cx_receive_all_json(c, 3000, 0);
    cx_assert_json_eq(replies, "[{\"action\": \"pong\", \"payload\": null}]");
    json_decref(replies);
}

Test(chat, message_reaches_the_whole_room_marked_mine_and_current)
{
    int64_t alice = cx_db_create_user(stack, "alice", 0), bob = cx_db_create_user(stack, "bob", 0);
    cx_communicator *a = cx_communicator_new(stack, "/ws/chat/lobby/", cx_db_token_header(stack, alice));
    cx_communicator *b = cx_communicator_new(stack, "/ws/chat/lobby/", cx_db_token_header(stack, bob));
    cx_assert_authenticated_status_ok(a);
    cx_assert_authenticated_status_ok(b);

    json_t *payload = json_pack("{s:s}", "message", "hello room");
    cx_send_message(a, "chat", payload);
    json_decref(payload);

    json_t *mine = cx_receive_until_action(a, "chat", 3000);
    json_t *theirs = cx_receive_until_action(b, "chat", 3000);
    cx_assert_json_eq(mine, "{\"action\": \"chat\", \"payload\": {\"message\": \"hello room\"},"
                            " \"is_mine\": true, \"is_current\": true}");
    cx_assert_json_eq(theirs, "{\"action\": \"chat\", \"payload\": {\"message\": \"hello room\"},"
                              " \"is_mine\": false, \"is_current\": false}");
    json_decref(mine);
    json_decref(theirs);
}

Test(chat, other_rooms_hear_nothing)
{
    int64_t alice = cx_db_create_user(stack, "alice", 0), bob = cx_db_create_user(stack, "bob", 0);
    cx_communicator *a = cx_communicator_new(stack, "/ws/chat/lobby/", cx_db_token_header(stack, alice));
    cx_communicator *b = cx_communicator_new(stack, "/ws/chat/kitchen/", cx_db_token_header(stack, bob));
    cx_assert_authenticated_status_ok(a);
    cx_assert_authenticated_status_ok(b);

    json_t *payload = json_pack("{s:s}", "message", "lobby only");
    cx_send_message(a, "chat", payload);
    json_decref(payload);
    json_t *mine = cx_receive_until_action(a, "chat", 3000);
    json_decref(mine);
    cx_receive_nothing(b, 500);
}

Test(chat, anonymous_client_is_refused_with_4401)
{
    cx_communicator *c = cx_communicator_new(stack, "/ws/chat/lobby/", NULL);
    json_t *auth = cx_wait_for_auth(c, 3000);
    cr_assert_eq(json_integer_value(json_object_get(auth, "status_code")), 401);
    json_decref(auth);
    cx_assert_closed(c, 4401, 3000);
}
