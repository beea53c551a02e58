/*
 * What a consumer sees of its connection, and what it keeps: the user, URL
 * kwargs (an int converter gives an integer), query parameters, headers,
 * cookies, client address and path reach the plugin through the context
 * accessors; per-connection state survives between messages and is private
 * to its connection (and freed: the kit fails a test whose sanitized
 * worker reports a leak); camelized consumers see snake_case keys while
 * their clients send and receive camelCase.
 *
 * Consumer: tests/plugins/cons_probe ("strict" echoes its context and
 * counts in its state; "camel" is camelized).
 */
#include "test_consumer.h"

static cx_stack *stack;

static void setup(void)
{
    stack = cons_stack_start((const char *[]) { "cons_probe", NULL },
                             (const char *[]) { "CHANX_FORWARD_HEADERS=X-Request-Id", NULL });
}
static void teardown(void) { cx_stack_stop(&stack); }

TestSuite(consumer_context, .init = setup, .fini = teardown, .timeout = 60);

/* The payload of the one reply to a message (the consumer sends completion after it). */
static json_t *reply_payload(cx_communicator *c, const char *text, const char *action)
{
    json_t *all = cons_exchange(c, text);
    char *dump = cons_dump(all);
    cr_assert_eq(json_array_size(all), 1, "expected one reply, got %s", dump);
    cr_assert_str_eq(action_of(json_array_get(all, 0)), action, "got %s", dump);
    free(dump);
    json_t *payload = json_incref(json_object_get(json_array_get(all, 0), "payload"));
    json_decref(all);
    return payload;
}

static void assert_json(const json_t *got, const char *expected, const char *what)
{
    json_t *want = json_loads(expected, JSON_DECODE_ANY, NULL);
    char *text = cons_dump(got);
    cr_assert(json_equal(got, want), "%s: got %s, expected %s", what, text, expected);
    free(text);
    json_decref(want);
}

Test(consumer_context, request_user_kwargs_query_headers_and_cookies_reach_the_plugin)
{
    int64_t staff = cx_db_create_user(stack, "ada", CX_USER_STAFF_FLAG);
    char auth[128];
    snprintf(auth, sizeof auth, "Authorization: Token %s", cx_db_token(stack, staff));
    const char *headers[] = { auth, "Accept-Language: fr-CH, fr;q=0.9", "Cookie: flavor=vanilla; other=1",
                              "X-Request-Id: req-7", "X-Not-Forwarded: no", NULL };
    cx_communicator *c = cx_communicator_new(stack, "/ws/cons_probe/ctx/42/my-room/?q=hello+world&q=second&e=%C3%A9",
                                             headers);
    cx_assert_authenticated_status_ok(c);
    json_t *ctx = reply_payload(c, "{\"action\":\"context\"}", "context");
    json_t *user = json_object_get(ctx, "user");
    cr_assert_eq(json_integer_value(json_object_get(user, "id")), staff);
    cr_assert_str_eq(str_of(user, "username"), "ada");
    cr_assert(json_is_true(json_object_get(user, "is_authenticated")));
    cr_assert(json_is_true(json_object_get(user, "is_staff")));
    cr_assert(json_is_false(json_object_get(user, "is_superuser")));
    assert_json(json_object_get(ctx, "kwargs"), "{\"num\": 42, \"name\": \"my-room\"}", "url kwargs");
    cr_assert_str_eq(str_of(ctx, "num_text"), "42");
    assert_json(json_object_get(ctx, "query"), "{\"q\": [\"hello world\", \"second\"], \"e\": [\"\\u00e9\"]}",
                "query params");
    cr_assert_str_eq(str_of(ctx, "q"), "hello world");
    cr_assert_str_eq(str_of(ctx, "header"), "fr-CH, fr;q=0.9");
    cr_assert_str_eq(str_of(ctx, "cookie"), "vanilla");
    cr_assert_str_eq(str_of(ctx, "custom_header"), "req-7", "CHANX_FORWARD_HEADERS names X-Request-Id");
    cr_assert(json_is_null(json_object_get(ctx, "authorization")), "credentials stay at the edge");
    cr_assert(json_is_null(json_object_get(ctx, "unlisted_header")), "custom headers are forwarded only when named");
    cr_assert_str_eq(str_of(ctx, "client"), "127.0.0.1");
    cr_assert_str_eq(str_of(ctx, "path"), "/ws/cons_probe/ctx/42/my-room/");
    cr_assert_str_eq(str_of(ctx, "consumer"), "cons_probe.strict");
    cr_assert_gt(json_integer_value(json_object_get(ctx, "conn")), 0);
    json_decref(ctx);
}

Test(consumer_context, absent_request_parts_are_null_not_errors)
{
    cx_communicator *c = cons_connect(stack, "/ws/cons_probe/strict/", "bob");
    json_t *ctx = reply_payload(c, "{\"action\":\"context\"}", "context");
    assert_json(json_object_get(ctx, "kwargs"), "{}", "url kwargs");
    assert_json(json_object_get(ctx, "query"), "{}", "query params");
    cr_assert(json_is_null(json_object_get(ctx, "q")));
    cr_assert(json_is_null(json_object_get(ctx, "num_text")));
    cr_assert(json_is_null(json_object_get(ctx, "header")));
    cr_assert(json_is_null(json_object_get(ctx, "cookie")));
    json_decref(ctx);
}

Test(consumer_context, state_is_kept_across_messages_and_private_to_its_connection)
{
    cx_communicator *first = cons_connect(stack, "/ws/cons_probe/strict/", "alice");
    cx_communicator *second = cons_connect(stack, "/ws/cons_probe/strict/", "bob");
    for (int i = 1; i <= 3; i++) {
        json_t *p = reply_payload(first, "{\"action\":\"count\"}", "count");
        cr_assert_eq(json_integer_value(json_object_get(p, "count")), i);
        json_decref(p);
    }
    json_t *p = reply_payload(second, "{\"action\":\"count\"}", "count");
    assert_json(p, "{\"count\": 1, \"history\": \"a\"}", "the other connection's state");
    json_decref(p);
    /* an invalid message in between changes nothing */
    json_decref(cons_exchange(first, "{\"action\":\"count\",\"payload\":1}"));
    p = reply_payload(first, "{\"action\":\"count\"}", "count");
    assert_json(p, "{\"count\": 4, \"history\": \"abcd\"}", "state after four counts");
    json_decref(p);
    cx_communicator_disconnect(first);   /* the plugin frees its history in disconnect */
}

Test(consumer_context, camelize_converts_keys_both_ways)
{
    cx_communicator *c = cons_connect(stack, "/ws/cons_probe/camel/", "alice");
    json_t *p = reply_payload(c, "{\"action\":\"set_name\",\"payload\":{\"firstName\":\"Ada\",\"lastName\":\"L\"}}",
                              "name_set");
    /* the consumer saw snake_case and replied with snake_case, which left as camelCase */
    assert_json(p, "{\"seenKeys\": [\"first_name\", \"last_name\"], \"firstName\": \"Ada\"}", "reply");
    json_decref(p);

    json_t *all = cons_exchange(c, "{\"action\":\"set_name\",\"payload\":{\"firstName\":\"A\",\"middleName\":\"B\"}}");
    const json_t *err = json_array_get(json_object_get(json_array_get(all, 0), "payload"), 0);
    cr_assert_str_eq(str_of(err, "type"), "extra_forbidden");
    assert_json(json_object_get(err, "loc"), "[\"payload\", \"middle_name\"]", "loc of the extra key");
    json_decref(all);

    cx_send_text(c, "{\"action\":\"shout\",\"payload\":{\"textBody\":\"hey\"}}");
    all = cx_receive_all_json(c, 5000, 1);
    json_t *m = json_array_get(all, 0);
    cr_assert_str_eq(str_of(json_object_get(m, "payload"), "textBody"), "hey");
    cr_assert(json_is_true(json_object_get(m, "isMine")) && json_is_true(json_object_get(m, "isCurrent")),
              "group messages carry isMine/isCurrent when camelized");
    cr_assert_null(json_object_get(m, "is_mine"));
    json_decref(all);
}
