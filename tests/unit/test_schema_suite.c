/*
 * test_schema_suite.c — the validator against cases of the official
 * JSON-Schema-Test-Suite (json-schema-org/JSON-Schema-Test-Suite, draft
 * 2020-12 folder) that a plugin author meets in practice, next to what
 * pydantic does with the same input.
 *
 *   enum.json "enum with [0] does not match [false]" / "[0] matches [0.0]":
 *       numbers are equal by value at any depth, not only at the top.
 *   const.json "const with {"a": 1} matches {"a": 1.0}": the same for objects.
 *   maxLength.json / minItems.json "float with zero fractional part is an
 *       integer" (draft 6 on): 2.0 is a length.
 *   Strings holding U+0000 (pydantic accepts them) in a frame and in a schema.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "common/schema.h"

/* A schema with one action "f" whose payload has one field "x" of the given schema. */
#define FIELD(x) "{\"f\":{\"type\":\"object\",\"properties\":{\"x\":" x "}}}"

static cx_schema *compile(const char *text)
{
    char err[256] = "";
    cx_schema *s = cx_schema_new(text, NULL, err, sizeof err);
    cr_assert_not_null(s, "schema refused: %s (%s)", err, text);
    return s;
}

/* 0 when frame (len bytes, may hold NULs) is valid; else the first error's type in type_out. */
static int validate(const cx_schema *s, const char *frame, size_t len, char *type_out, size_t type_len)
{
    json_t *message = NULL, *errors = NULL;
    int rc = cx_schema_validate(s, frame, len, &message, &errors);
    if (rc && type_out)
        snprintf(type_out, type_len, "%s", json_string_value(json_object_get(json_array_get(errors, 0), "type")));
    json_decref(message);
    json_decref(errors);
    return rc;
}

static void assert_valid(const cx_schema *s, const char *frame)
{
    char type[64] = "";
    cr_assert_eq(validate(s, frame, strlen(frame), type, sizeof type), 0, "%s refused (%s)", frame, type);
}

static void assert_refused(const cx_schema *s, const char *frame, const char *type)
{
    char got[64] = "";
    cr_assert_eq(validate(s, frame, strlen(frame), got, sizeof got), -1, "%s accepted", frame);
    cr_assert_str_eq(got, type, "%s", frame);
}

Test(schema_suite, enum_compares_nested_numbers_by_value)
{
    cx_schema *s = compile(FIELD("{\"enum\":[[0]]}"));
    assert_valid(s, "{\"action\":\"f\",\"payload\":{\"x\":[0.0]}}");
    assert_valid(s, "{\"action\":\"f\",\"payload\":{\"x\":[0]}}");
    assert_refused(s, "{\"action\":\"f\",\"payload\":{\"x\":[false]}}", "literal_error");
    assert_refused(s, "{\"action\":\"f\",\"payload\":{\"x\":[0.5]}}", "literal_error");
    assert_refused(s, "{\"action\":\"f\",\"payload\":{\"x\":[0, 0]}}", "literal_error");
    cx_schema_destroy(&s);
    s = compile(FIELD("{\"enum\":[[1.0], {\"n\": [2]}]}"));
    assert_valid(s, "{\"action\":\"f\",\"payload\":{\"x\":[1]}}");
    assert_valid(s, "{\"action\":\"f\",\"payload\":{\"x\":{\"n\":[2.0]}}}");
    assert_refused(s, "{\"action\":\"f\",\"payload\":{\"x\":{\"n\":[2.0], \"m\": 1}}}", "literal_error");
    assert_refused(s, "{\"action\":\"f\",\"payload\":{\"x\":[true]}}", "literal_error");
    cx_schema_destroy(&s);
}

Test(schema_suite, const_compares_nested_numbers_by_value)
{
    cx_schema *s = compile(FIELD("{\"const\":{\"a\":1}}"));
    assert_valid(s, "{\"action\":\"f\",\"payload\":{\"x\":{\"a\":1.0}}}");
    assert_valid(s, "{\"action\":\"f\",\"payload\":{\"x\":{\"a\":1}}}");
    assert_refused(s, "{\"action\":\"f\",\"payload\":{\"x\":{\"a\":true}}}", "literal_error");
    assert_refused(s, "{\"action\":\"f\",\"payload\":{\"x\":{\"a\":1.5}}}", "literal_error");
    assert_refused(s, "{\"action\":\"f\",\"payload\":{\"x\":{\"b\":1}}}", "literal_error");
    cx_schema_destroy(&s);
}

Test(schema_suite, counts_written_as_integral_reals_are_integers)
{
    cx_schema *s = compile(FIELD("{\"maxLength\":2.0, \"minLength\": 1.0}"));
    assert_valid(s, "{\"action\":\"f\",\"payload\":{\"x\":\"ab\"}}");
    assert_refused(s, "{\"action\":\"f\",\"payload\":{\"x\":\"abc\"}}", "string_too_long");
    assert_refused(s, "{\"action\":\"f\",\"payload\":{\"x\":\"\"}}", "string_too_short");
    cx_schema_destroy(&s);
    s = compile(FIELD("{\"minItems\":2.0, \"maxItems\": 3.0}"));
    assert_valid(s, "{\"action\":\"f\",\"payload\":{\"x\":[1, 2]}}");
    assert_refused(s, "{\"action\":\"f\",\"payload\":{\"x\":[1]}}", "too_short");
    assert_refused(s, "{\"action\":\"f\",\"payload\":{\"x\":[1, 2, 3, 4]}}", "too_long");
    cx_schema_destroy(&s);
    /* a fractional or negative count is still a mistake in the schema */
    char err[256];
    cr_assert_null(cx_schema_new(FIELD("{\"maxLength\":2.5}"), NULL, err, sizeof err));
    cr_assert(strstr(err, "maxLength"), "%s", err);
    cr_assert_null(cx_schema_new(FIELD("{\"minItems\":-1.0}"), NULL, err, sizeof err));
}

Test(schema_suite, strings_with_nul_are_strings)
{
    cx_schema *s = compile(FIELD("{\"type\":\"string\", \"maxLength\": 3}"));
    assert_valid(s, "{\"action\":\"f\",\"payload\":{\"x\":\"a\\u0000b\"}}");
    assert_refused(s, "{\"action\":\"f\",\"payload\":{\"x\":\"a\\u0000bc\"}}", "string_too_long");
    json_t *message = NULL, *errors = NULL;
    const char frame[] = "{\"action\":\"f\",\"payload\":{\"x\":\"a\\u0000b\"}}";
    cr_assert_eq(cx_schema_validate(s, frame, sizeof frame - 1, &message, &errors), 0);
    json_t *x = json_object_get(json_object_get(message, "payload"), "x");
    cr_assert_eq(json_string_length(x), 3, "the NUL is kept, not cut");
    cr_assert_eq(memcmp(json_string_value(x), "a\0b", 3), 0);
    json_decref(message);
    cx_schema_destroy(&s);

    s = compile(FIELD("{\"const\":\"a\\u0000b\"}"));
    assert_valid(s, "{\"action\":\"f\",\"payload\":{\"x\":\"a\\u0000b\"}}");
    assert_refused(s, "{\"action\":\"f\",\"payload\":{\"x\":\"a\"}}", "literal_error");
    cx_schema_destroy(&s);

    message = NULL, errors = NULL;
    cr_assert_eq(cx_schema_parse(frame, sizeof frame - 1, &message, &errors), 0, "schemaless consumers too");
    json_decref(message);
}
