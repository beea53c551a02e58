/*
 * test_schema.c — the incoming-message validator as a client sees it.
 *
 * Clients parse these errors (type, loc, msg) like pydantic's, so each test
 * pins the exact entry. Hostile frames (deep nesting, garbage, huge strings)
 * must come back as errors, never as a crash; the sanitizer build checks the
 * memory side.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "common/schema.h"

static const char *CHAT_SCHEMA =
    "{\"ping\": null,"
    " \"chat\": {\"type\":\"object\", \"properties\": {\"message\": {\"type\":\"string\",\"minLength\":1,"
    "\"maxLength\":4096}}, \"required\":[\"message\"], \"description\": \"say something\"}}";

static cx_schema *compile(const char *text)
{
    char err[256] = "";
    cx_schema *s = cx_schema_new(text, NULL, err, sizeof err);
    cr_assert_not_null(s, "schema failed to compile: %s", err);
    return s;
}

/* Validates a frame that must be invalid; returns the error array. */
static json_t *errors_of(const cx_schema *s, const char *frame)
{
    json_t *message = (json_t *) 1, *errors = NULL;
    int rc = cx_schema_validate(s, frame, strlen(frame), &message, &errors);
    cr_assert_eq(rc, -1, "expected invalid: %s", frame);
    cr_assert_null(message);
    cr_assert(json_is_array(errors) && json_array_size(errors) > 0);
    return errors;
}

static void assert_valid(const cx_schema *s, const char *frame)
{
    json_t *message = NULL, *errors = (json_t *) 1;
    int rc = cx_schema_validate(s, frame, strlen(frame), &message, &errors);
    char *dump = rc ? json_dumps(errors, JSON_COMPACT) : NULL;
    cr_assert_eq(rc, 0, "expected valid: %s, got %s", frame, dump ? dump : "");
    cr_assert_null(errors);
    cr_assert(json_is_object(message));
    json_decref(message);
}

/* Checks entry i: its type, its loc (as JSON text) and its msg; input as JSON text, or NULL for none. */
static void assert_error(json_t *errors, size_t i, const char *type, const char *loc, const char *msg,
                         const char *input)
{
    json_t *e = json_array_get(errors, i);
    char *dump = json_dumps(errors, JSON_COMPACT);
    cr_assert_not_null(e, "no error %zu in %s", i, dump);
    cr_assert_str_eq(json_string_value(json_object_get(e, "type")), type, "in %s", dump);
    json_t *want = json_loads(loc, 0, NULL);
    cr_assert(json_equal(json_object_get(e, "loc"), want), "loc %s expected in %s", loc, dump);
    json_decref(want);
    cr_assert_str_eq(json_string_value(json_object_get(e, "msg")), msg, "in %s", dump);
    if (input) {
        json_t *in = json_loads(input, JSON_DECODE_ANY, NULL);
        cr_assert(json_equal(json_object_get(e, "input"), in), "input %s expected in %s", input, dump);
        json_decref(in);
    } else {
        cr_assert_null(json_object_get(e, "input"), "no input expected in %s", dump);
    }
    free(dump);
}

/* One-error shortcut: schema text, frame, then the expected entry. */
static void expect_one(const char *schema, const char *frame, const char *type, const char *loc, const char *msg,
                       const char *input)
{
    cx_schema *s = compile(schema);
    json_t *errors = errors_of(s, frame);
    cr_assert_eq(json_array_size(errors), 1, "one error expected for %s", frame);
    assert_error(errors, 0, type, loc, msg, input);
    json_decref(errors);
    cx_schema_destroy(&s);
}

static void expect_compile_error(const char *schema, const char *expected)
{
    char err[256] = "";
    cx_schema *s = cx_schema_new(schema, NULL, err, sizeof err);
    cr_assert_null(s, "schema should not compile: %s", schema);
    cr_assert_str_eq(err, expected);
}

#define FIELD(schema) "{\"f\": {\"type\":\"object\",\"properties\":{\"x\":" schema "}}}"

Test(schema, valid_messages_come_back_parsed)
{
    cx_schema *s = compile(CHAT_SCHEMA);
    json_t *message = NULL, *errors = NULL;
    const char *frame = "{\"action\":\"chat\",\"payload\":{\"message\":\"hi\"},\"id\":7}";
    cr_assert_eq(cx_schema_validate(s, frame, strlen(frame), &message, &errors), 0);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(message, "payload"), "message")), "hi");
    cr_assert_null(errors);
    json_decref(message);
    assert_valid(s, "{\"action\":\"ping\"}");
    assert_valid(s, "{\"action\":\"ping\",\"payload\":null}");
    assert_valid(s, "{\"action\":\"chat\",\"payload\":{\"message\":\"x\",\"extra\":1}}");
    cx_schema_destroy(&s);
    cr_assert_null(s);
    cx_schema_destroy(&s);
    cx_schema_destroy(NULL);
}

Test(schema, frame_length_is_respected_not_the_nul)
{
    cx_schema *s = compile(CHAT_SCHEMA);
    const char *text = "{\"action\":\"ping\"}GARBAGE";
    json_t *message = NULL, *errors = NULL;
    cr_assert_eq(cx_schema_validate(s, text, 17, &message, &errors), 0);
    json_decref(message);
    cx_schema_destroy(&s);
}

Test(schema, json_invalid_and_model_type)
{
    cx_schema *s = compile(CHAT_SCHEMA);
    json_t *errors = errors_of(s, "{\"action\": ");
    assert_error(errors, 0, "json_invalid", "[]", json_string_value(json_object_get(json_array_get(errors, 0), "msg")),
                 NULL);
    cr_assert(strncmp(json_string_value(json_object_get(json_array_get(errors, 0), "msg")), "Invalid JSON: ", 14) == 0);
    json_decref(errors);
    errors = errors_of(s, "");
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(errors, 0), "type")), "json_invalid");
    json_decref(errors);
    errors = errors_of(s, "[1,2]");
    assert_error(errors, 0, "model_type", "[]", "Input should be an object", "[1,2]");
    json_decref(errors);
    errors = errors_of(s, "\"chat\"");
    assert_error(errors, 0, "model_type", "[]", "Input should be an object", "\"chat\"");
    json_decref(errors);
    cx_schema_destroy(&s);
}

Test(schema, union_tag_errors)
{
    expect_one(CHAT_SCHEMA, "{\"action\":\"foo\"}", "union_tag_invalid", "[]",
               "Input tag 'foo' found using 'action' does not match any of the expected tags: 'ping', 'chat'",
               "\"foo\"");
    expect_one(CHAT_SCHEMA, "{\"payload\":{}}", "union_tag_invalid", "[]",
               "Unable to extract tag using discriminator 'action'; expected tags: 'ping', 'chat'", NULL);
    expect_one(CHAT_SCHEMA, "{\"action\":5}", "union_tag_invalid", "[]",
               "Input tag '5' found using 'action' does not match any of the expected tags: 'ping', 'chat'", "5");
    /* the tag is matched whole, not as a prefix */
    expect_one(CHAT_SCHEMA, "{\"action\":\"pin\"}", "union_tag_invalid", "[]",
               "Input tag 'pin' found using 'action' does not match any of the expected tags: 'ping', 'chat'",
               "\"pin\"");
}

Test(schema, union_tag_error_carries_pydantic_ctx)
{
    cx_schema *s = compile(CHAT_SCHEMA);
    json_t *errors = errors_of(s, "{\"action\":\"foo\"}");
    json_t *ctx = json_object_get(json_array_get(errors, 0), "ctx");
    cr_assert_str_eq(json_string_value(json_object_get(ctx, "discriminator")), "'action'");
    cr_assert_str_eq(json_string_value(json_object_get(ctx, "tag")), "foo");
    cr_assert_str_eq(json_string_value(json_object_get(ctx, "expected_tags")), "'ping', 'chat'");
    json_decref(errors);
    cx_schema_destroy(&s);
}

Test(schema, custom_action_key)
{
    char err[128];
    cx_schema *s = cx_schema_new("{\"a\":null,\"b\":null}", "type", err, sizeof err);
    cr_assert_not_null(s, "%s", err);
    assert_valid(s, "{\"type\":\"b\",\"action\":\"zzz\"}");
    json_t *errors = errors_of(s, "{\"action\":\"a\"}");
    assert_error(errors, 0, "union_tag_invalid", "[]",
                 "Unable to extract tag using discriminator 'type'; expected tags: 'a', 'b'", NULL);
    json_decref(errors);
    cx_schema_destroy(&s);
    cr_assert_null(cx_schema_new("{\"a\":null}", "payload", err, sizeof err));
}

Test(schema, payload_presence)
{
    expect_one(CHAT_SCHEMA, "{\"action\":\"chat\"}", "missing", "[\"payload\"]", "Field required", NULL);
    expect_one(CHAT_SCHEMA, "{\"action\":\"chat\",\"payload\":{}}", "missing", "[\"payload\",\"message\"]",
               "Field required", NULL);
    expect_one(CHAT_SCHEMA, "{\"action\":\"ping\",\"payload\":{}}", "none_required", "[\"payload\"]",
               "Input should be None", "{}");
    expect_one(CHAT_SCHEMA, "{\"action\":\"chat\",\"payload\":null}", "dict_type", "[\"payload\"]",
               "Input should be a valid dictionary", "null");
}

Test(schema, type_errors)
{
    expect_one(FIELD("{\"type\":\"string\"}"), "{\"action\":\"f\",\"payload\":{\"x\":1}}", "string_type",
               "[\"payload\",\"x\"]", "Input should be a valid string", "1");
    expect_one(FIELD("{\"type\":\"integer\"}"), "{\"action\":\"f\",\"payload\":{\"x\":\"1\"}}", "int_type",
               "[\"payload\",\"x\"]", "Input should be a valid integer", "\"1\"");
    expect_one(FIELD("{\"type\":\"integer\"}"), "{\"action\":\"f\",\"payload\":{\"x\":true}}", "int_type",
               "[\"payload\",\"x\"]", "Input should be a valid integer", "true");
    expect_one(FIELD("{\"type\":\"integer\"}"), "{\"action\":\"f\",\"payload\":{\"x\":1.5}}", "int_from_float",
               "[\"payload\",\"x\"]", "Input should be a valid integer, got a number with a fractional part", "1.5");
    expect_one(FIELD("{\"type\":\"number\"}"), "{\"action\":\"f\",\"payload\":{\"x\":false}}", "float_type",
               "[\"payload\",\"x\"]", "Input should be a valid number", "false");
    expect_one(FIELD("{\"type\":\"boolean\"}"), "{\"action\":\"f\",\"payload\":{\"x\":0}}", "bool_type",
               "[\"payload\",\"x\"]", "Input should be a valid boolean", "0");
    expect_one(FIELD("{\"type\":\"object\"}"), "{\"action\":\"f\",\"payload\":{\"x\":[]}}", "dict_type",
               "[\"payload\",\"x\"]", "Input should be a valid dictionary", "[]");
    expect_one(FIELD("{\"type\":\"array\"}"), "{\"action\":\"f\",\"payload\":{\"x\":{}}}", "list_type",
               "[\"payload\",\"x\"]", "Input should be a valid list", "{}");
    expect_one(FIELD("{\"type\":\"null\"}"), "{\"action\":\"f\",\"payload\":{\"x\":\"\"}}", "none_required",
               "[\"payload\",\"x\"]", "Input should be None", "\"\"");
}

Test(schema, numbers_follow_pydantic)
{
    cx_schema *s = compile(FIELD("{\"type\":\"integer\"}"));
    assert_valid(s, "{\"action\":\"f\",\"payload\":{\"x\":1.0}}");
    /* and the consumer reads it as an integer, as pydantic would hand it an int */
    json_t *message = NULL, *errors = NULL;
    const char *frame = "{\"action\":\"f\",\"payload\":{\"x\":42.0}}";
    cr_assert_eq(cx_schema_validate(s, frame, strlen(frame), &message, &errors), 0);
    json_t *x = json_object_get(json_object_get(message, "payload"), "x");
    cr_assert(json_is_integer(x));
    cr_assert_eq(json_integer_value(x), 42);
    json_decref(message);
    assert_valid(s, "{\"action\":\"f\",\"payload\":{\"x\":-9223372036854775807}}");
    cx_schema_destroy(&s);
    s = compile(FIELD("{\"type\":\"number\"}"));
    assert_valid(s, "{\"action\":\"f\",\"payload\":{\"x\":3}}");
    assert_valid(s, "{\"action\":\"f\",\"payload\":{\"x\":3.25e10}}");
    cx_schema_destroy(&s);
}

Test(schema, type_unions)
{
    const char *schema = FIELD("{\"type\":[\"string\",\"null\"]}");
    cx_schema *s = compile(schema);
    assert_valid(s, "{\"action\":\"f\",\"payload\":{\"x\":null}}");
    assert_valid(s, "{\"action\":\"f\",\"payload\":{\"x\":\"a\"}}");
    cx_schema_destroy(&s);
    expect_one(schema, "{\"action\":\"f\",\"payload\":{\"x\":5}}", "union_type", "[\"payload\",\"x\"]",
               "Input should be a valid string or null", "5");
    expect_one(FIELD("{\"type\":[\"null\",\"object\",\"integer\"]}"), "{\"action\":\"f\",\"payload\":{\"x\":\"s\"}}",
               "union_type", "[\"payload\",\"x\"]", "Input should be a valid integer, dictionary or null", "\"s\"");
}

Test(schema, string_lengths)
{
    expect_one(CHAT_SCHEMA, "{\"action\":\"chat\",\"payload\":{\"message\":\"\"}}", "string_too_short",
               "[\"payload\",\"message\"]", "String should have at least 1 character", "\"\"");
    expect_one(FIELD("{\"minLength\":3}"), "{\"action\":\"f\",\"payload\":{\"x\":\"ab\"}}", "string_too_short",
               "[\"payload\",\"x\"]", "String should have at least 3 characters", "\"ab\"");
    expect_one(FIELD("{\"maxLength\":1}"), "{\"action\":\"f\",\"payload\":{\"x\":\"ab\"}}", "string_too_long",
               "[\"payload\",\"x\"]", "String should have at most 1 character", "\"ab\"");
    cx_schema *s = compile(CHAT_SCHEMA);
    size_t n = 4097;
    char *frame = malloc(n + 64);
    int len = sprintf(frame, "{\"action\":\"chat\",\"payload\":{\"message\":\"");
    memset(frame + len, 'a', n);
    strcpy(frame + len + n, "\"}}");
    json_t *errors = errors_of(s, frame);
    char *input = strndup(frame + len - 1, n + 2);          /* the string with its quotes */
    assert_error(errors, 0, "string_too_long", "[\"payload\",\"message\"]", "String should have at most 4096 characters",
                 input);
    free(input);
    json_t *ctx = json_object_get(json_array_get(errors, 0), "ctx");
    cr_assert_eq(json_integer_value(json_object_get(ctx, "max_length")), 4096);
    json_decref(errors);
    frame[len + 4096] = '"', strcpy(frame + len + 4097, "}}");
    assert_valid(s, frame);
    free(frame);
    cx_schema_destroy(&s);
}

Test(schema, string_length_counts_code_points)
{
    cx_schema *s = compile(FIELD("{\"minLength\":2,\"maxLength\":5}"));
    assert_valid(s, "{\"action\":\"f\",\"payload\":{\"x\":\"h\u00e9llo\"}}");            /* 6 bytes, 5 chars */
    assert_valid(s, "{\"action\":\"f\",\"payload\":{\"x\":\"\\u65e5\\u672c\\u8a9e\"}}");  /* 9 bytes, 3 chars */
    assert_valid(s, "{\"action\":\"f\",\"payload\":{\"x\":\"\\ud83d\\ude00\\ud83d\\ude00\"}}"); /* 2 emoji */
    json_t *errors = errors_of(s, "{\"action\":\"f\",\"payload\":{\"x\":\"\\ud83d\\ude00\"}}");  /* 4 bytes, 1 char */
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(errors, 0), "type")), "string_too_short");
    json_decref(errors);
    errors = errors_of(s, "{\"action\":\"f\",\"payload\":{\"x\":\"\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\"}}");
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(errors, 0), "type")), "string_too_long");
    json_decref(errors);
    cx_schema_destroy(&s);
}

Test(schema, list_lengths_and_item_locs)
{
    const char *schema = FIELD("{\"type\":\"array\",\"minItems\":2,\"maxItems\":3,\"items\":{\"type\":\"integer\"}}");
    cx_schema *s = compile(schema);
    json_t *message = NULL, *errors = NULL;
    const char *frame = "{\"action\":\"f\",\"payload\":{\"x\":[1,2.0]}}";
    cr_assert_eq(cx_schema_validate(s, frame, strlen(frame), &message, &errors), 0);
    cr_assert(json_is_integer(json_array_get(json_object_get(json_object_get(message, "payload"), "x"), 1)));
    json_decref(message);
    cx_schema_destroy(&s);
    expect_one(schema, "{\"action\":\"f\",\"payload\":{\"x\":[1]}}", "too_short", "[\"payload\",\"x\"]",
               "List should have at least 2 items after validation, not 1", "[1]");
    expect_one(schema, "{\"action\":\"f\",\"payload\":{\"x\":[1,2,3,4]}}", "too_long", "[\"payload\",\"x\"]",
               "List should have at most 3 items after validation, not 4", "[1,2,3,4]");
    expect_one(schema, "{\"action\":\"f\",\"payload\":{\"x\":[1,\"b\"]}}", "int_type", "[\"payload\",\"x\",1]",
               "Input should be a valid integer", "\"b\"");
    expect_one(FIELD("{\"minItems\":1}"), "{\"action\":\"f\",\"payload\":{\"x\":[]}}", "too_short",
               "[\"payload\",\"x\"]", "List should have at least 1 item after validation, not 0", "[]");
}

Test(schema, numeric_bounds)
{
    const char *schema = FIELD("{\"type\":\"integer\",\"minimum\":5,\"maximum\":10}");
    expect_one(schema, "{\"action\":\"f\",\"payload\":{\"x\":4}}", "greater_than_equal", "[\"payload\",\"x\"]",
               "Input should be greater than or equal to 5", "4");
    expect_one(schema, "{\"action\":\"f\",\"payload\":{\"x\":11}}", "less_than_equal", "[\"payload\",\"x\"]",
               "Input should be less than or equal to 10", "11");
    cx_schema *s = compile(schema);
    assert_valid(s, "{\"action\":\"f\",\"payload\":{\"x\":5}}");
    assert_valid(s, "{\"action\":\"f\",\"payload\":{\"x\":10.0}}");
    cx_schema_destroy(&s);
    expect_one(FIELD("{\"minimum\":2.5,\"maximum\":1e20}"), "{\"action\":\"f\",\"payload\":{\"x\":2}}",
               "greater_than_equal", "[\"payload\",\"x\"]", "Input should be greater than or equal to 2.5", "2");
    expect_one(FIELD("{\"maximum\":-3.0}"), "{\"action\":\"f\",\"payload\":{\"x\":-2.9}}", "less_than_equal",
               "[\"payload\",\"x\"]", "Input should be less than or equal to -3.0", "-2.9");
}

Test(schema, literals)
{
    expect_one(FIELD("{\"enum\":[\"a\",\"b\"]}"), "{\"action\":\"f\",\"payload\":{\"x\":\"c\"}}", "literal_error",
               "[\"payload\",\"x\"]", "Input should be 'a' or 'b'", "\"c\"");
    expect_one(FIELD("{\"enum\":[\"a\",\"b\",\"c\"]}"), "{\"action\":\"f\",\"payload\":{\"x\":1}}", "literal_error",
               "[\"payload\",\"x\"]", "Input should be 'a', 'b' or 'c'", "1");
    expect_one(FIELD("{\"enum\":[1, 2.5, true, null]}"), "{\"action\":\"f\",\"payload\":{\"x\":false}}",
               "literal_error", "[\"payload\",\"x\"]", "Input should be 1, 2.5, True or None", "false");
    expect_one(FIELD("{\"const\":\"v1\"}"), "{\"action\":\"f\",\"payload\":{\"x\":\"v2\"}}", "literal_error",
               "[\"payload\",\"x\"]", "Input should be 'v1'", "\"v2\"");
    cx_schema *s = compile(FIELD("{\"enum\":[1, \"a\", {\"k\":[1]}]}"));
    assert_valid(s, "{\"action\":\"f\",\"payload\":{\"x\":1.0}}");
    assert_valid(s, "{\"action\":\"f\",\"payload\":{\"x\":{\"k\":[1]}}}");
    json_t *errors = errors_of(s, "{\"action\":\"f\",\"payload\":{\"x\":true}}");   /* true is not 1 */
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(errors, 0), "type")), "literal_error");
    json_decref(errors);
    cx_schema_destroy(&s);
}

Test(schema, extra_forbidden_and_required_only_fields)
{
    const char *closed = "{\"f\":{\"type\":\"object\",\"properties\":{\"a\":{}},\"additionalProperties\":false}}";
    expect_one(closed, "{\"action\":\"f\",\"payload\":{\"a\":1,\"b\":2}}", "extra_forbidden", "[\"payload\",\"b\"]",
               "Extra inputs are not permitted", "2");
    /* required but not described: must be present, any value */
    const char *open = "{\"f\":{\"type\":\"object\",\"required\":[\"token\"]}}";
    expect_one(open, "{\"action\":\"f\",\"payload\":{}}", "missing", "[\"payload\",\"token\"]", "Field required", NULL);
    cx_schema *s = compile(open);
    assert_valid(s, "{\"action\":\"f\",\"payload\":{\"token\":[1,{}]}}");
    cx_schema_destroy(&s);
}

Test(schema, all_problems_are_reported_in_order)
{
    cx_schema *s = compile(
        "{\"order\": {\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"id\",\"lines\",\"note\"],"
        " \"properties\": {\"id\": {\"type\":\"integer\",\"minimum\":1}, \"note\": {\"type\":\"string\"},"
        "  \"lines\": {\"type\":\"array\", \"items\": {\"type\":\"object\", \"required\":[\"sku\",\"qty\"],"
        "    \"properties\": {\"sku\": {\"type\":\"string\",\"minLength\":3}, \"qty\": {\"type\":\"integer\"}}}}}}}");
    json_t *errors = errors_of(s, "{\"action\":\"order\",\"payload\":{\"id\":0,\"lines\":[{\"sku\":\"abc\",\"qty\":1},"
                                  "{\"sku\":\"x\"},7],\"bogus\":true}}");
    cr_assert_eq(json_array_size(errors), 6, "%s", json_dumps(errors, 0));
    assert_error(errors, 0, "greater_than_equal", "[\"payload\",\"id\"]", "Input should be greater than or equal to 1", "0");
    /* in the order the properties are declared, as pydantic reports fields */
    assert_error(errors, 1, "missing", "[\"payload\",\"note\"]", "Field required", NULL);
    assert_error(errors, 2, "string_too_short", "[\"payload\",\"lines\",1,\"sku\"]",
                 "String should have at least 3 characters", "\"x\"");
    assert_error(errors, 3, "missing", "[\"payload\",\"lines\",1,\"qty\"]", "Field required", NULL);
    assert_error(errors, 4, "dict_type", "[\"payload\",\"lines\",2]", "Input should be a valid dictionary", "7");
    assert_error(errors, 5, "extra_forbidden", "[\"payload\",\"bogus\"]", "Extra inputs are not permitted", "true");
    json_decref(errors);
    cx_schema_destroy(&s);
}

Test(schema, validate_object_after_conversion)
{
    cx_schema *s = compile(CHAT_SCHEMA);
    json_t *ok = json_pack("{s:s, s:{s:s}}", "action", "chat", "payload", "message", "hi");
    json_t *errors = (json_t *) 1;
    cr_assert_eq(cx_schema_validate_object(s, ok, &errors), 0);
    cr_assert_null(errors);
    json_t *bad = json_pack("[]");
    cr_assert_eq(cx_schema_validate_object(s, bad, &errors), -1);
    assert_error(errors, 0, "model_type", "[]", "Input should be an object", "[]");
    json_decref(errors);
    json_decref(ok);
    json_decref(bad);
    cx_schema_destroy(&s);
}

Test(schema, actions_and_document_are_exposed)
{
    cx_schema *s = compile(CHAT_SCHEMA);
    cr_assert_eq(cx_schema_action_count(s), 2);
    cr_assert_str_eq(cx_schema_action_name(s, 0), "ping");
    cr_assert_str_eq(cx_schema_action_name(s, 1), "chat");
    cr_assert_null(cx_schema_action_name(s, 2));
    json_t *given = json_loads(CHAT_SCHEMA, 0, NULL);
    cr_assert(json_equal((json_t *) cx_schema_json(s), given));
    json_decref(given);
    cx_schema_destroy(&s);
}

Test(schema, many_actions_are_all_found)
{
    char text[8192] = "{", frame[64];
    for (int i = 0; i < 300; i++)
        sprintf(text + strlen(text), "%s\"act%d\":null", i ? "," : "", i);
    strcat(text, "}");
    cx_schema *s = compile(text);
    for (int i = 0; i < 300; i++) {
        sprintf(frame, "{\"action\":\"act%d\"}", i);
        assert_valid(s, frame);
    }
    json_decref(errors_of(s, "{\"action\":\"act300\"}"));
    cx_schema_destroy(&s);
}

Test(schema, compile_errors_name_the_place)
{
    expect_compile_error("{\"chat\": {\"properties\": {\"message\": {\"minLength\": -1}}}}",
                         "at chat.properties.message.minLength: expected a non-negative integer");
    expect_compile_error("{\"chat\": {\"properties\": {\"x\": {\"patern\": \"a\"}}}}",
                         "at chat.properties.x: unknown keyword 'patern' (not in the JSON Schema subset Chanx "
                         "validates: docs/consumers.md#validation)");
    expect_compile_error("{\"chat\": {\"type\": \"strin\"}}",
                         "at chat.type: unknown type strin (expected null, boolean, integer, number, string, array "
                         "or object)");
    expect_compile_error("{\"chat\": {\"minLength\": 3, \"maxLength\": 2}}", "at chat: minLength is greater than maxLength");
    expect_compile_error("{\"chat\": {\"minItems\": 3, \"maxItems\": 2}}", "at chat: minItems is greater than maxItems");
    expect_compile_error("{\"chat\": {\"minimum\": 3, \"maximum\": 2.5}}", "at chat: minimum is greater than maximum");
    expect_compile_error("{\"chat\": {\"additionalProperties\": false, \"properties\": {\"a\": {}}, \"required\": [\"b\"]}}",
                         "at chat.required: 'b' is not in properties and additionalProperties is false");
    expect_compile_error("{\"chat\": {\"additionalProperties\": {}}}",
                         "at chat.additionalProperties: expected true or false (schemas for additional properties are "
                         "not supported)");
    expect_compile_error("{\"chat\": {\"items\": [{}]}}", "at chat.items: expected one schema object for all items");
    expect_compile_error("{\"chat\": {\"items\": {\"maxItems\": true}}}", "at chat.items.maxItems: expected a non-negative integer");
    expect_compile_error("{\"chat\": {\"enum\": []}}", "at chat.enum: expected a non-empty array");
    expect_compile_error("{\"chat\": {\"minimum\": \"1\"}}", "at chat.minimum: expected a number");
    expect_compile_error("{\"chat\": {\"required\": [\"a\", \"a\"]}}", "at chat.required: 'a' is listed twice");
    expect_compile_error("{\"chat\": \"string\"}", "at chat: expected a schema object");
    expect_compile_error("[]", "at (root): expected an object mapping each action to its payload schema or null");
    expect_compile_error("{}", "at (root): no action is declared");
    expect_compile_error("{\"a\":null,\"a\":null}",
                         "not valid JSON: line 1 column 13: duplicate object key near '\"a\"'");
}

Test(schema, invalid_schema_json_names_line_and_column)
{
    char err[256];
    cr_assert_null(cx_schema_new("{\"a\" null}", NULL, err, sizeof err));
    cr_assert(strncmp(err, "not valid JSON: line 1 column ", 30) == 0, "%s", err);
    cr_assert_null(cx_schema_new(NULL, NULL, err, sizeof err));
    cr_assert_null(cx_schema_new("{\"a\":{\"title\":1}}", NULL, NULL, 0));   /* no error buffer: still refused */
}

Test(schema, deeply_nested_frame_is_an_error_not_a_crash)
{
    cx_schema *s = compile("{\"f\": {}}");
    size_t depth = 10000;
    char *frame = malloc(2 * depth + 64);
    size_t len = (size_t) sprintf(frame, "{\"action\":\"f\",\"payload\":");
    memset(frame + len, '[', depth);
    memset(frame + len + depth, ']', depth);
    strcpy(frame + len + 2 * depth, "}");
    json_t *errors = errors_of(s, frame);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(errors, 0), "type")), "json_invalid");
    json_decref(errors);
    free(frame);
    cx_schema_destroy(&s);
}

Test(schema, garbage_bytes_are_json_invalid)
{
    cx_schema *s = compile(CHAT_SCHEMA);
    unsigned char junk[4096];
    srand(42);
    for (int round = 0; round < 50; round++) {
        for (size_t i = 0; i < sizeof junk; i++)
            junk[i] = (unsigned char) rand();
        json_t *message = NULL, *errors = NULL;
        cr_assert_eq(cx_schema_validate(s, (const char *) junk, sizeof junk, &message, &errors), -1);
        cr_assert_null(message);
        cr_assert_str_eq(json_string_value(json_object_get(json_array_get(errors, 0), "type")), "json_invalid");
        json_decref(errors);
    }
    const char bad_utf8[] = "{\"action\":\"\xff\xfe\"}";
    json_t *errors = errors_of(s, bad_utf8);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(errors, 0), "type")), "json_invalid");
    json_decref(errors);
    json_t *message = NULL;
    cr_assert_eq(cx_schema_validate(s, NULL, 0, &message, &errors), -1);
    json_decref(errors);
    cx_schema_destroy(&s);
}

Test(schema, one_mebibyte_string)
{
    cx_schema *s = compile("{\"chat\": {\"properties\": {\"message\": {\"type\":\"string\",\"maxLength\":4096}}},"
                           " \"blob\": {\"properties\": {\"message\": {\"type\":\"string\"}}}}");
    size_t n = 1 << 20;
    char *frame = malloc(n + 64);
    int len = sprintf(frame, "{\"action\":\"chat\",\"payload\":{\"message\":\"");
    memset(frame + len, 'z', n);
    strcpy(frame + len + n, "\"}}");
    json_t *errors = errors_of(s, frame);
    cr_assert_eq(json_array_size(errors), 1);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(errors, 0), "type")), "string_too_long");
    cr_assert_eq(json_string_length(json_object_get(json_array_get(errors, 0), "input")), n);
    json_decref(errors);
    memcpy(frame + 11, "blob", 4);
    assert_valid(s, frame);
    free(frame);
    cx_schema_destroy(&s);
}

Test(schema, error_count_is_capped)
{
    cx_schema *s = compile(FIELD("{\"items\":{\"type\":\"string\"}}"));
    size_t n = 5000;
    char *frame = malloc(2 * n + 64);
    size_t len = (size_t) sprintf(frame, "{\"action\":\"f\",\"payload\":{\"x\":[");
    for (size_t i = 0; i < n; i++)
        frame[len++] = '1', frame[len++] = ',';
    strcpy(frame + len - 1, "]}}");
    json_t *errors = errors_of(s, frame);
    cr_assert_eq(json_array_size(errors), CX_SCHEMA_MAX_ERRORS);
    assert_error(errors, 99, "string_type", "[\"payload\",\"x\",99]", "Input should be a valid string", "1");
    json_decref(errors);
    free(frame);
    cx_schema_destroy(&s);
}
