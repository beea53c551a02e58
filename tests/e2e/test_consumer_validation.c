/*
 * Validation and processing errors through a real socket, as a client of a
 * Chanx consumer sees them: every invalid frame is answered with
 * {"action":"error","payload":[{"type","loc","msg",...}]}, one entry per
 * problem, receive_message never sees it, completion still follows, and the
 * connection stays open and answers ping afterwards. A callback that fails
 * gives Chanx's {"detail":"Failed to process message for <action>"} and an error log line.
 *
 * Consumers: tests/plugins/cons_probe (strict: schema with one field per
 * error type and send_completion on; free: no schema; camel: camelized).
 */
#include "test_consumer.h"

static cx_stack *stack;

static void setup(void) { stack = cons_stack_start((const char *[]) { "cons_probe", NULL }, NULL); }
static void teardown(void) { cx_stack_stop(&stack); }

TestSuite(consumer_validation, .init = setup, .fini = teardown, .timeout = 60);

#define STRICT "/ws/cons_probe/strict/"

static void assert_still_answers_ping(cx_communicator *c)
{
    json_t *got = cons_exchange(c, "{\"action\":\"ping\"}");
    cr_assert_eq(json_array_size(got), 1);
    cr_assert_str_eq(action_of(json_array_get(got, 0)), "pong", "the connection did not survive the error");
    json_decref(got);
}

/* The error entry of that type in an error reply; fails unless the reply is a validation error. */
static const json_t *error_entry(const json_t *reply, const char *type)
{
    char *text = cons_dump(reply);
    cr_assert_str_eq(action_of(reply), "error", "not an error: %s", text);
    const json_t *payload = json_object_get(reply, "payload");
    cr_assert(json_is_array(payload) && json_array_size(payload) > 0, "error payload is not a list: %s", text);
    size_t i;
    const json_t *e;
    json_array_foreach(payload, i, e) {
        cr_assert(json_is_string(json_object_get(e, "msg")) && json_is_array(json_object_get(e, "loc")),
                  "entry without msg or loc: %s", text);
        if (strcmp(str_of(e, "type"), type) == 0) {
            free(text);
            return e;
        }
    }
    cr_assert_fail("no '%s' entry in %s", type, text);
    return NULL;
}

/* Sends text on a fresh connection and checks the one error it gets, then ping. */
static void expect_error(const char *path, const char *text, const char *type, const char *loc, const char *msg_part)
{
    cx_communicator *c = cons_connect(stack, path, "alice");
    json_t *got = cons_exchange(c, text);
    char *all = cons_dump(got);
    cr_assert_eq(json_array_size(got), 1, "expected one error reply before complete, got %s", all);
    const json_t *e = error_entry(json_array_get(got, 0), type);
    json_t *want = json_loads(loc, 0, NULL);
    cr_assert(json_equal(json_object_get(e, "loc"), want), "loc of %s in %s, expected %s", type, all, loc);
    cr_assert(strstr(str_of(e, "msg"), msg_part), "msg of %s in %s lacks \"%s\"", type, all, msg_part);
    json_decref(want);
    json_decref(got);
    free(all);
    assert_still_answers_ping(c);
}

static void expect_typed_error(const char *payload, const char *type, const char *loc, const char *msg_part)
{
    char text[512];
    snprintf(text, sizeof text, "{\"action\":\"typed\",\"payload\":%s}", payload);
    expect_error(STRICT, text, type, loc, msg_part);
}

Test(consumer_validation, not_json_is_json_invalid)
{
    expect_error(STRICT, "{not json", "json_invalid", "[]", "Invalid JSON");
}

Test(consumer_validation, array_number_and_string_are_model_type)
{
    expect_error(STRICT, "[1, 2]", "model_type", "[]", "Input should be an object");
    expect_error(STRICT, "42", "model_type", "[]", "Input should be an object");
    expect_error(STRICT, "\"hello\"", "model_type", "[]", "Input should be an object");
}

Test(consumer_validation, unknown_action_is_union_tag_invalid_naming_the_expected_actions)
{
    expect_error(STRICT, "{\"action\":\"dance\",\"payload\":null}", "union_tag_invalid", "[]", "'dance'");
    cx_communicator *c = cons_connect(stack, STRICT, "bob");
    json_t *got = cons_exchange(c, "{\"action\":\"dance\"}");
    const char *msg = str_of(error_entry(json_array_get(got, 0), "union_tag_invalid"), "msg");
    const char *actions[] = { "'ping'", "'fail'", "'count'", "'context'", "'typed'" };
    for (size_t i = 0; i < sizeof actions / sizeof *actions; i++)
        cr_assert(strstr(msg, actions[i]), "\"%s\" does not name %s", msg, actions[i]);
    json_decref(got);
}

Test(consumer_validation, missing_action_is_union_tag_invalid)
{
    expect_error(STRICT, "{\"payload\":{\"name\":\"x\"}}", "union_tag_invalid", "[]",
                 "Unable to extract tag using discriminator 'action'");
}

Test(consumer_validation, field_errors_have_pydantic_types_and_locations)
{
    expect_typed_error("{}", "missing", "[\"payload\",\"name\"]", "Field required");
    expect_typed_error("{\"name\":5}", "string_type", "[\"payload\",\"name\"]", "valid string");
    expect_typed_error("{\"name\":\"a\",\"age\":\"old\"}", "int_type", "[\"payload\",\"age\"]", "valid integer");
    expect_typed_error("{\"name\":\"a\",\"admin\":\"yes\"}", "bool_type", "[\"payload\",\"admin\"]", "valid boolean");
    expect_typed_error("{\"name\":\"abcdef\"}", "string_too_long", "[\"payload\",\"name\"]", "at most 5 characters");
    expect_typed_error("{\"name\":\"a\",\"extra\":1}", "extra_forbidden", "[\"payload\",\"extra\"]",
                       "Extra inputs are not permitted");
}

Test(consumer_validation, enum_bounds_and_items_errors)
{
    expect_typed_error("{\"name\":\"a\",\"color\":\"blue\"}", "literal_error", "[\"payload\",\"color\"]",
                       "'red' or 'green'");
    expect_typed_error("{\"name\":\"a\",\"age\":-1}", "greater_than_equal", "[\"payload\",\"age\"]",
                       "greater than or equal to 0");
    expect_typed_error("{\"name\":\"a\",\"age\":151}", "less_than_equal", "[\"payload\",\"age\"]",
                       "less than or equal to 150");
    expect_typed_error("{\"name\":\"a\",\"tags\":[\"x\",2]}", "string_type", "[\"payload\",\"tags\",1]",
                       "valid string");
    expect_error(STRICT, "{\"action\":\"typed\"}", "missing", "[\"payload\"]", "Field required");
}

Test(consumer_validation, every_problem_of_one_message_is_listed)
{
    cx_communicator *c = cons_connect(stack, STRICT, "alice");
    json_t *got = cons_exchange(c, "{\"action\":\"typed\",\"payload\":{\"age\":\"x\",\"extra\":true}}");
    const json_t *reply = json_array_get(got, 0);
    cr_assert_eq(json_array_size(json_object_get(reply, "payload")), 3);
    error_entry(reply, "missing");
    error_entry(reply, "int_type");
    error_entry(reply, "extra_forbidden");
    json_decref(got);
}

Test(consumer_validation, a_valid_message_reaches_the_consumer_and_is_completed)
{
    cx_communicator *c = cons_connect(stack, STRICT, "alice");
    json_t *got = cons_exchange(c, "{\"action\":\"typed\",\"payload\":{\"name\":\"ada\",\"age\":36.0,"
                                   "\"admin\":true,\"color\":\"red\",\"tags\":[\"x\"]}}");
    cr_assert_eq(json_array_size(got), 1);
    const json_t *typed = json_array_get(got, 0);
    cr_assert_str_eq(action_of(typed), "typed");
    /* an integral real in an integer field reaches the consumer as an integer, as with pydantic */
    cr_assert(json_is_integer(json_object_get(json_object_get(typed, "payload"), "age")));
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(typed, "payload"), "age")), 36);
    json_decref(got);
}

Test(consumer_validation, failing_callback_gives_detail_then_complete_and_an_error_log)
{
    cx_communicator *c = cons_connect(stack, STRICT, "alice");
    json_t *got = cons_exchange(c, "{\"action\":\"fail\"}");
    char *text = cons_dump(got);
    cr_assert_str_eq(text, "[{\"action\":\"error\",\"payload\":{\"detail\":\"Failed to process message for fail\"}}]");
    free(text);
    json_decref(got);
    char *log = cx_stack_log(stack, "worker0", "\"event\":\"Failed to process message\"", 5000);
    cr_assert_not_null(log, "no error log line for the failed callback");
    const char *line = strstr(log, "\"event\":\"Failed to process message\"");
    cr_assert(strstr(line, "\"level\":\"error\"") || strstr(log, "\"level\":\"error\""));
    cr_assert(strstr(line, "\"action\":\"fail\""), "the log line does not name the action");
    free(log);
    assert_still_answers_ping(c);
}

Test(consumer_validation, consumer_without_schema_still_refuses_non_objects)
{
    cx_communicator *c = cons_connect(stack, "/ws/cons_probe/free/", "alice");
    const char *frames[][2] = { { "42", "model_type" }, { "[1]", "model_type" }, { "null", "model_type" },
                                { "{oops", "json_invalid" } };
    for (size_t i = 0; i < sizeof frames / sizeof *frames; i++) {
        cx_send_text(c, frames[i][0]);
        json_t *reply = cx_receive_json(c, 5000);
        cr_assert_not_null(reply, "no reply to %s", frames[i][0]);
        error_entry(reply, frames[i][1]);
        json_decref(reply);
    }
    cx_send_text(c, "{\"anything\":[1,2]}");
    json_t *echo = cx_receive_json(c, 5000);
    cr_assert_not_null(echo);
    cr_assert_str_eq(action_of(echo), "echo");
    cr_assert_eq(json_integer_value(json_array_get(json_object_get(json_object_get(echo, "payload"), "anything"), 1)), 2);
    json_decref(echo);
}

Test(consumer_validation, camelized_consumer_reports_a_bare_number_as_model_type)
{
    expect_error("/ws/cons_probe/camel/", "42", "model_type", "[]", "Input should be an object");
    expect_error("/ws/cons_probe/camel/", "{nope", "json_invalid", "[]", "Invalid JSON");
    expect_error("/ws/cons_probe/camel/", "{\"action\":\"set_name\",\"payload\":{\"lastName\":\"L\"}}", "missing",
                 "[\"payload\",\"first_name\"]", "Field required");
}

/* Anything the parser accepts (jansson nests up to 2,048 levels) can be answered: a payload 1,500
 * levels deep comes back inside its validation error. The reply writer used to refuse values past
 * 512 levels, so this client got no answer at all and the error was lost without a log line. */
Test(consumer_validation, a_deeply_nested_payload_still_gets_its_error)
{
    enum { DEPTH = 1500 };
    char *text = malloc(2 * DEPTH + 64);
    int n = sprintf(text, "{\"action\":\"ping\",\"payload\":");
    memset(text + n, '[', DEPTH);
    memset(text + n + DEPTH, ']', DEPTH);
    strcpy(text + n + 2 * DEPTH, "}");
    cx_communicator *c = cons_connect(stack, STRICT, "alice");
    json_t *got = cons_exchange(c, text);
    free(text);
    cr_assert_eq(json_array_size(got), 1, "the nested payload got no answer");
    cr_assert_str_eq(action_of(json_array_get(got, 0)), "error");
    json_decref(got);
    assert_still_answers_ping(c);
}
