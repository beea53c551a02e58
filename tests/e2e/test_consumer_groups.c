/*
 * Groups, completion signals and ordering through real processes, as a
 * Chanx client sees them: every recipient of a group message gets is_mine
 * (same user) and is_current (same connection) and then group_complete;
 * the sender is excluded unless it asks; explicit groups reach connections
 * the sender does not share a group with; membership changes at any time
 * and ends with the connection, whose disconnect callback sees the close
 * code; and one connection's messages arrive in send order, group messages
 * included, under a burst of 1,000.
 *
 * Consumer: tests/plugins/cons_groups (ws/cons_groups/<room>/ joins
 * "room_<room>", send_completion on).
 */
#include "test_consumer.h"

static cx_stack *stack;

static void setup(void) { stack = cons_stack_start((const char *[]) { "cons_groups", NULL }, NULL); }
static void teardown(void) { cx_stack_stop(&stack); }

TestSuite(consumer_groups, .init = setup, .fini = teardown, .timeout = 90);

static cx_communicator *connect_as(int64_t user, const char *room)
{
    char path[128];
    snprintf(path, sizeof path, "/ws/cons_groups/%s/", room);
    cx_communicator *c = cx_communicator_new(stack, path, cx_db_token_header(stack, user));
    cx_assert_authenticated_status_ok(c);
    return c;
}

static void send_action(cx_communicator *c, const char *action, const char *payload_json)
{
    json_t *payload = json_loads(payload_json, JSON_DECODE_ANY, NULL);
    cr_assert_not_null(payload, "bad test payload %s", payload_json);
    cx_send_message(c, action, payload);
    json_decref(payload);
}

/* The one group message a recipient gets before group_complete. */
static json_t *one_group_message(cx_communicator *c, const char *action)
{
    json_t *all = cx_receive_all_json(c, 5000, 1);
    char *text = cons_dump(all);
    cr_assert_eq(json_array_size(all), 1, "expected one '%s' before group_complete, got %s", action, text);
    json_t *m = json_incref(json_array_get(all, 0));
    cr_assert_str_eq(action_of(m), action, "got %s", text);
    free(text);
    json_decref(all);
    return m;
}

static void assert_ownership(const json_t *m, int mine, int current, const char *who)
{
    cr_assert(json_is_boolean(json_object_get(m, "is_mine")) && json_is_boolean(json_object_get(m, "is_current")),
              "%s: no is_mine/is_current", who);
    cr_assert_eq(json_is_true(json_object_get(m, "is_mine")), mine, "%s: is_mine", who);
    cr_assert_eq(json_is_true(json_object_get(m, "is_current")), current, "%s: is_current", who);
}

/* Sender's side of a handled message: nothing but {"action":"complete"} (after its own copies, if any). */
static void assert_completed_with(cx_communicator *c, size_t count)
{
    json_t *all = cx_receive_all_json(c, 5000, 0);
    char *text = cons_dump(all);
    cr_assert_eq(json_array_size(all), count, "before complete: %s", text);
    free(text);
    json_decref(all);
}

Test(consumer_groups, is_mine_and_is_current_for_two_users_and_two_connections_of_one_user)
{
    int64_t alice = cx_db_create_user(stack, "alice", 0), bob = cx_db_create_user(stack, "bob", 0);
    cx_communicator *a1 = connect_as(alice, "lobby"), *a2 = connect_as(alice, "lobby"), *b = connect_as(bob, "lobby");
    send_action(a1, "say", "{\"text\":\"hi\",\"include\":true}");

    json_t *own = one_group_message(a1, "say"), *twin = one_group_message(a2, "say"),
           *other = one_group_message(b, "say");
    assert_ownership(own, 1, 1, "sender");
    assert_ownership(twin, 1, 0, "same user, other connection");
    assert_ownership(other, 0, 0, "other user");
    cr_assert_str_eq(str_of(json_object_get(other, "payload"), "text"), "hi");
    assert_completed_with(a1, 0);   /* group_complete came first, then the sender's complete */
    json_decref(own);
    json_decref(twin);
    json_decref(other);
}

Test(consumer_groups, exclude_current_is_the_default_and_include_current_reaches_the_sender)
{
    int64_t alice = cx_db_create_user(stack, "alice", 0), bob = cx_db_create_user(stack, "bob", 0);
    cx_communicator *a = connect_as(alice, "lobby"), *b = connect_as(bob, "lobby");

    send_action(a, "say", "{\"text\":\"excluded\"}");
    json_t *m = one_group_message(b, "say");
    cr_assert_str_eq(str_of(json_object_get(m, "payload"), "text"), "excluded");
    json_decref(m);
    assert_completed_with(a, 0);   /* no copy, no group_complete: just complete */

    send_action(a, "say", "{\"text\":\"included\",\"include\":true}");
    m = one_group_message(a, "say");
    cr_assert_str_eq(str_of(json_object_get(m, "payload"), "text"), "included");
    json_decref(m);
    m = one_group_message(b, "say");
    json_decref(m);
}

Test(consumer_groups, group_complete_follows_each_group_message_and_complete_each_handled_message)
{
    int64_t alice = cx_db_create_user(stack, "alice", 0), bob = cx_db_create_user(stack, "bob", 0);
    cx_communicator *a = connect_as(alice, "lobby"), *b = connect_as(bob, "lobby");
    send_action(a, "say", "{\"text\":\"one\"}");
    send_action(a, "say", "{\"text\":\"two\"}");
    const char *want[] = { "say", "group_complete", "say", "group_complete" };
    for (size_t i = 0; i < 4; i++) {
        json_t *m = cx_receive_json(b, 5000);
        cr_assert_not_null(m, "message %zu (%s) missing", i, want[i]);
        cr_assert_str_eq(action_of(m), want[i], "message %zu", i);
        json_decref(m);
    }
    for (size_t i = 0; i < 2; i++) {
        json_t *m = cx_receive_json(a, 5000);
        cr_assert_not_null(m);
        cr_assert_str_eq(action_of(m), "complete");
        cr_assert(json_is_null(json_object_get(m, "payload")));
        json_decref(m);
    }
}

Test(consumer_groups, explicit_groups_reach_a_group_the_sender_is_not_in)
{
    int64_t alice = cx_db_create_user(stack, "alice", 0), bob = cx_db_create_user(stack, "bob", 0),
            carol = cx_db_create_user(stack, "carol", 0);
    cx_communicator *a = connect_as(alice, "red"), *b = connect_as(bob, "blue"), *c = connect_as(carol, "red");
    send_action(a, "to", "{\"group\":\"room_blue\",\"text\":\"to blue\"}");
    json_t *m = one_group_message(b, "to");
    assert_ownership(m, 0, 0, "blue member");
    cr_assert_str_eq(str_of(json_object_get(m, "payload"), "text"), "to blue");
    json_decref(m);
    assert_completed_with(a, 0);
    /* carol, in the sender's own room, got nothing: her next message is the marker */
    send_action(a, "say", "{\"text\":\"marker\"}");
    m = one_group_message(c, "say");
    cr_assert_str_eq(str_of(json_object_get(m, "payload"), "text"), "marker");
    json_decref(m);
}

Test(consumer_groups, groups_joined_and_left_at_any_time)
{
    int64_t alice = cx_db_create_user(stack, "alice", 0), bob = cx_db_create_user(stack, "bob", 0);
    cx_communicator *a = connect_as(alice, "red"), *b = connect_as(bob, "blue");
    send_action(b, "join", "{\"group\":\"extra\"}");
    json_t *all = cx_receive_all_json(b, 5000, 0);
    cr_assert_str_eq(action_of(json_array_get(all, 0)), "joined");
    json_decref(all);

    send_action(a, "to", "{\"group\":\"extra\",\"text\":\"while joined\"}");
    json_t *m = one_group_message(b, "to");
    cr_assert_str_eq(str_of(json_object_get(m, "payload"), "text"), "while joined");
    json_decref(m);

    send_action(b, "leave", "{\"group\":\"extra\"}");
    all = cx_receive_all_json(b, 5000, 0);
    cr_assert_str_eq(action_of(json_array_get(all, 0)), "left");
    json_decref(all);
    send_action(a, "to", "{\"group\":\"extra\",\"text\":\"after leaving\"}");
    send_action(a, "to", "{\"group\":\"room_blue\",\"text\":\"marker\"}");
    m = one_group_message(b, "to");
    cr_assert_str_eq(str_of(json_object_get(m, "payload"), "text"), "marker", "a left group still reached bob");
    json_decref(m);
}

Test(consumer_groups, disconnect_sees_the_close_code_and_leaves_every_group)
{
    int64_t watcher = cx_db_create_user(stack, "watcher", 0), bob = cx_db_create_user(stack, "bob", 0),
            alice = cx_db_create_user(stack, "alice", 0);
    cx_communicator *w = connect_as(watcher, "hall");
    send_action(w, "observe", "null");
    json_t *all = cx_receive_all_json(w, 5000, 0);
    cr_assert_str_eq(action_of(json_array_get(all, 0)), "observing");
    json_decref(all);

    cx_communicator *b = connect_as(bob, "lobby"), *a = connect_as(alice, "lobby");
    send_action(b, "join", "{\"group\":\"extra\"}");
    json_decref(cx_receive_all_json(b, 5000, 0));
    cx_communicator_disconnect(b);

    json_t *gone = one_group_message(w, "disconnected");
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(gone, "payload"), "code")), 1000);
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(gone, "payload"), "user")), bob);
    json_decref(gone);

    /* the room and the dynamic group go on without bob */
    send_action(a, "say", "{\"text\":\"still here\",\"include\":true}");
    json_t *m = one_group_message(a, "say");
    json_decref(m);
    assert_completed_with(a, 0);
    send_action(a, "to", "{\"group\":\"extra\",\"text\":\"nobody\"}");
    assert_completed_with(a, 0);
}

Test(consumer_groups, raw_group_json_has_no_ownership_fields)
{
    int64_t alice = cx_db_create_user(stack, "alice", 0);
    cx_communicator *a = connect_as(alice, "lobby");
    send_action(a, "raw", "{\"x\":1}");
    json_t *all = cx_receive_all_json(a, 5000, 1);
    char *text = cons_dump(all);
    cr_assert_str_eq(text, "[{\"kind\":\"raw\",\"body\":{\"x\":1}}]");
    free(text);
    json_decref(all);
}

Test(consumer_groups, a_burst_of_1000_messages_is_answered_in_order)
{
    int64_t alice = cx_db_create_user(stack, "alice", 0);
    cx_communicator *a = connect_as(alice, "lobby");
    enum { N = 1000 };
    for (int i = 0; i < N; i++) {
        char text[64];
        snprintf(text, sizeof text, "{\"action\":\"direct\",\"payload\":{\"i\":%d}}", i);
        cx_send_text(a, text);
    }
    for (int i = 0; i < N; i++) {
        json_t *m = cx_receive_json(a, 10000);
        cr_assert_not_null(m, "reply %d missing", i);
        cr_assert_str_eq(action_of(m), "direct", "reply %d", i);
        cr_assert_eq(json_integer_value(json_object_get(json_object_get(m, "payload"), "i")), i, "reply out of order");
        json_decref(m);
        m = cx_receive_json(a, 10000);
        cr_assert(m && strcmp(action_of(m), "complete") == 0, "complete %d missing", i);
        json_decref(m);
    }
}

Test(consumer_groups, group_and_direct_messages_to_one_connection_arrive_in_send_order)
{
    int64_t alice = cx_db_create_user(stack, "alice", 0);
    cx_communicator *a = connect_as(alice, "lobby");
    enum { N = 400 };
    char text[64];
    snprintf(text, sizeof text, "{\"count\":%d}", N);
    send_action(a, "mixed", text);
    int next = 0;
    for (;;) {
        json_t *m = cx_receive_json(a, 10000);
        cr_assert_not_null(m, "stopped after seq %d", next - 1);
        const char *action = action_of(m);
        int done = strcmp(action, "complete") == 0;
        if (strcmp(action, "seq") == 0) {
            json_int_t i = json_integer_value(json_object_get(json_object_get(m, "payload"), "i"));
            cr_assert_eq(i, next, "seq %d arrived where %d was due", (int) i, next);
            cr_assert_eq(json_is_object(m) && json_object_get(m, "is_current") != NULL, i % 2 == 0,
                         "seq %d: group messages are the even ones", (int) i);
            next++;
        } else
            cr_assert(done || strcmp(action, "group_complete") == 0, "unexpected %s", action);
        json_decref(m);
        if (done)
            break;
    }
    cr_assert_eq(next, N);
}
