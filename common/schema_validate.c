/*
 * schema_validate.c — validating received frames against a compiled schema
 * (see schema.h for the error types, schema_internal.h for the tree).
 *
 * The valid path allocates nothing: the location of the value being checked
 * is a chain of stack frames (struct loc) that is turned into a JSON "loc"
 * array only when an error is reported, and the error array itself is
 * created lazily. Messages are formatted only on the error path.
 *
 * Recursion follows the schema, never the input alone, so its depth is
 * bounded by the schema the plugin author wrote; jansson caps the nesting of
 * what it parses (JSON_PARSER_MAX_DEPTH) so a 10,000-level frame is a
 * json_invalid error, not a stack overflow.
 */
#include "common/schema_internal.h"
#include "common/json_parse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const action *find_action(const cx_schema *self, const char *name, size_t len)
{
    json_t *index = json_object_getn(self->index, name, len);
    return index ? &self->actions[json_integer_value(index)] : NULL;
}

/* Where the value under check sits: a chain of stack frames, root first when walked up. */
typedef struct loc {
    const struct loc *up;
    const char *key;     /* NULL: an array index */
    size_t index;
} loc;

typedef struct {
    json_t *errors;
    int failed;
} checker;

static void loc_append(json_t *array, const loc *l)
{
    if (!l)
        return;
    loc_append(array, l->up);
    json_array_append_new(array, l->key ? json_string(l->key) : json_integer((json_int_t) l->index));
}

static int full(const checker *v)
{
    return json_array_size(v->errors) >= CX_SCHEMA_MAX_ERRORS;
}

/* Records one error; input (borrowed) is omitted when NULL, ctx is stolen. */
static void report(checker *v, const loc *l, const char *type, const char *msg, json_t *input, json_t *ctx)
{
    v->failed = 1;
    if (!v->errors)
        v->errors = json_array();
    json_t *where = json_array();
    loc_append(where, l);
    json_t *e = json_pack("{s:s, s:o, s:s}", "type", type, "loc", where, "msg", msg);
    if (e && input)
        json_object_set(e, "input", input);
    if (e && ctx)
        json_object_set(e, "ctx", ctx);
    json_decref(ctx);
    if (e && !full(v))
        json_array_append(v->errors, e);
    json_decref(e);
}

/* The kinds a value satisfies; an integral real (1.0) counts as an integer. */
static unsigned kind_of(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return T_OBJ;
    case JSON_ARRAY: return T_ARR;
    case JSON_STRING: return T_STR;
    case JSON_INTEGER: return T_INT | T_NUM;
    case JSON_TRUE:
    case JSON_FALSE: return T_BOOL;
    case JSON_NULL: return T_NULL;
    case JSON_REAL: break;
    }
    double d = json_real_value(v);
    int integral = d > 9007199254740992.0 || d < -9007199254740992.0 || (double) (long long) d == d;
    return T_NUM | (integral ? T_INT : 0);
}

static int compare_numbers(const json_t *a, const json_t *b)
{
    if (json_is_integer(a) && json_is_integer(b))
        return (json_integer_value(a) > json_integer_value(b)) - (json_integer_value(a) < json_integer_value(b));
    double x = json_number_value(a), y = json_number_value(b);
    return (x > y) - (x < y);
}

static void type_error(checker *v, const node *n, json_t *value, const loc *l)
{
    if (n->union_msg) {
        report(v, l, "union_type", n->union_msg, value, NULL);
        return;
    }
    size_t k = 0;
    while (cx_schema_kinds[k].bit != n->types)
        k++;
    if (n->types == T_INT && json_is_real(value))
        report(v, l, "int_from_float", "Input should be a valid integer, got a number with a fractional part",
               value, NULL);
    else
        report(v, l, cx_schema_kinds[k].error, cx_schema_kinds[k].msg, value, NULL);
}

/* JSON Schema's equality (enum, const): numbers by value at any depth ([0] is [0.0], {"a": 1} is
 * {"a": 1.0}), everything else as jansson compares it; true is never 1. Recursion follows the
 * literal, which the schema's author wrote. */
static int same_value(const json_t *lit, const json_t *value)
{
    if (json_is_number(lit) && json_is_number(value))
        return compare_numbers(lit, value) == 0;
    if (json_typeof(lit) != json_typeof(value))
        return 0;
    if (json_is_array(lit)) {
        size_t n = json_array_size(lit);
        if (json_array_size(value) != n)
            return 0;
        for (size_t i = 0; i < n; i++)
            if (!same_value(json_array_get(lit, i), json_array_get(value, i)))
                return 0;
        return 1;
    }
    if (json_is_object(lit)) {
        if (json_object_size(value) != json_object_size(lit))
            return 0;
        const char *key;
        json_t *member;
        json_object_foreach((json_t *) lit, key, member) {
            const json_t *other = json_object_get(value, key);
            if (!other || !same_value(member, other))
                return 0;
        }
        return 1;
    }
    return json_equal(lit, value);
}

static int literal_matches(const node *n, const json_t *value)
{
    size_t count = json_array_size(n->literals);
    for (size_t i = 0; i < count; i++)
        if (same_value(json_array_get(n->literals, i), value))
            return 1;
    return 0;
}

static size_t code_points(const char *s, size_t bytes)
{
    size_t count = 0;
    for (size_t i = 0; i < bytes; i++)
        count += ((unsigned char) s[i] & 0xC0) != 0x80;
    return count;
}

size_t cx_schema_string_length(const json_t *string)
{
    return json_is_string(string) ? code_points(json_string_value(string), json_string_length(string)) : 0;
}

static void check_string(checker *v, const node *n, json_t *value, const loc *l)
{
    size_t bytes = json_string_length(value);
    /* A code point is 1 to 4 bytes: most lengths are decided without counting. */
    if ((n->min_len <= 0 || bytes / 4 >= (size_t) n->min_len) && (n->max_len < 0 || bytes <= (size_t) n->max_len))
        return;
    size_t length = code_points(json_string_value(value), bytes);
    char msg[96];
    if (n->min_len > 0 && length < (size_t) n->min_len) {
        snprintf(msg, sizeof msg, "String should have at least %lld character%s", n->min_len, n->min_len == 1 ? "" : "s");
        report(v, l, "string_too_short", msg, value, json_pack("{s:I}", "min_length", (json_int_t) n->min_len));
    }
    if (n->max_len >= 0 && length > (size_t) n->max_len) {
        snprintf(msg, sizeof msg, "String should have at most %lld character%s", n->max_len, n->max_len == 1 ? "" : "s");
        report(v, l, "string_too_long", msg, value, json_pack("{s:I}", "max_length", (json_int_t) n->max_len));
    }
}

static void bound_error(checker *v, const loc *l, json_t *value, const json_t *bound, int is_min)
{
    char num[48], msg[128];
    if (json_is_integer(bound))
        snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(bound));
    else
        cx_schema_format_real(json_real_value(bound), num, sizeof num);
    snprintf(msg, sizeof msg, "Input should be %s than or equal to %s", is_min ? "greater" : "less", num);
    report(v, l, is_min ? "greater_than_equal" : "less_than_equal", msg, value,
           json_pack("{s:O}", is_min ? "ge" : "le", (json_t *) bound));
}

static void check_number(checker *v, const node *n, json_t *value, const loc *l)
{
    if (n->minimum && compare_numbers(value, n->minimum) < 0)
        bound_error(v, l, value, n->minimum, 1);
    if (n->maximum && compare_numbers(value, n->maximum) > 0)
        bound_error(v, l, value, n->maximum, 0);
}

static void check_node(checker *v, const node *n, json_t *value, const loc *l);

/* pydantic hands the consumer an int for 1.0, so an integer field holding an integral real is
 * replaced in place: json_integer_value() in the consumer must not read 0. Rare, so the
 * allocation is off the usual valid path. NULL when value is to be kept. */
static json_t *as_integer(const node *n, json_t *value)
{
    if (!n || !json_is_real(value) || !(n->types & T_INT) || (n->types & T_NUM))
        return NULL;
    double d = json_real_value(value);
    return d >= -9.2e18 && d <= 9.2e18 && (kind_of(value) & T_INT) ? json_integer((json_int_t) d) : NULL;
}

static void list_length_error(checker *v, const loc *l, json_t *value, long long limit, int too_short)
{
    char msg[128];
    size_t size = json_array_size(value);
    snprintf(msg, sizeof msg, "List should have at %s %lld item%s after validation, not %zu",
             too_short ? "least" : "most", limit, limit == 1 ? "" : "s", size);
    report(v, l, too_short ? "too_short" : "too_long", msg, value,
           json_pack("{s:s, s:I, s:I}", "field_type", "List", too_short ? "min_length" : "max_length",
                     (json_int_t) limit, "actual_length", (json_int_t) size));
}

static void check_array(checker *v, const node *n, json_t *value, const loc *l)
{
    size_t size = json_array_size(value);
    for (size_t i = 0; n->items && i < size && !full(v); i++) {
        loc here = { l, NULL, i };
        json_t *item = json_array_get(value, i), *integer = as_integer(n->items, item);
        check_node(v, n->items, item, &here);
        if (integer)
            json_array_set_new(value, i, integer);
    }
    if (n->min_items >= 0 && size < (size_t) n->min_items)
        list_length_error(v, l, value, n->min_items, 1);
    if (n->max_items >= 0 && size > (size_t) n->max_items)
        list_length_error(v, l, value, n->max_items, 0);
}

static void check_object(checker *v, const node *n, json_t *value, const loc *l)
{
    size_t present = 0;
    for (size_t i = 0; i < n->nprops && !full(v); i++) {
        const prop *p = &n->props[i];
        loc here = { l, p->name, 0 };
        json_t *member = json_object_get(value, p->name);
        if (member) {
            present++;
            json_t *integer = as_integer(p->schema, member);
            if (p->schema)
                check_node(v, p->schema, member, &here);
            if (integer)
                json_object_set_new(value, p->name, integer);
        } else if (p->required)
            report(v, &here, "missing", "Field required", NULL, NULL);
    }
    /* Every key was a declared property: no need to look for extra ones. */
    if (!n->closed || json_object_size(value) == present)
        return;
    const char *key;
    json_t *member;
    json_object_foreach(value, key, member) {
        if (full(v))
            break;
        loc here = { l, key, 0 };
        if (!cx_schema_find_prop(n, key))
            report(v, &here, "extra_forbidden", "Extra inputs are not permitted", member, NULL);
    }
}

static void check_node(checker *v, const node *n, json_t *value, const loc *l)
{
    if (n->types && !(n->types & kind_of(value))) {
        type_error(v, n, value, l);
        return;
    }
    if (n->literals && !literal_matches(n, value)) {
        char *msg = NULL;
        if (asprintf(&msg, "Input should be %s", n->expected) < 0)
            msg = NULL;
        report(v, l, "literal_error", msg ? msg : "Input should be one of the allowed values", value,
               json_pack("{s:s}", "expected", n->expected));
        free(msg);
        return;
    }
    switch (json_typeof(value)) {
    case JSON_STRING: check_string(v, n, value, l); break;
    case JSON_INTEGER:
    case JSON_REAL: check_number(v, n, value, l); break;
    case JSON_ARRAY: check_array(v, n, value, l); break;
    case JSON_OBJECT: check_object(v, n, value, l); break;
    default: break;
    }
}

static void tag_error(checker *v, const cx_schema *self, json_t *tag)
{
    char *msg = NULL, *text = NULL;
    int rc;
    if (!tag) {
        rc = asprintf(&msg, "Unable to extract tag using discriminator '%s'; expected tags: %s", self->action_key,
                      self->expected_tags);
    } else {
        text = json_is_string(tag) ? strdup(json_string_value(tag)) : json_dumps(tag, JSON_COMPACT | JSON_ENCODE_ANY);
        rc = asprintf(&msg, "Input tag '%s' found using '%s' does not match any of the expected tags: %s",
                      text ? text : "?", self->action_key, self->expected_tags);
    }
    if (rc < 0)
        msg = NULL;
    char discriminator[256];
    snprintf(discriminator, sizeof discriminator, "'%s'", self->action_key);
    json_t *ctx = tag ? json_pack("{s:s, s:s, s:s}", "discriminator", discriminator, "tag", text ? text : "?",
                                  "expected_tags", self->expected_tags)
                      : json_pack("{s:s}", "discriminator", discriminator);
    report(v, NULL, "union_tag_invalid", msg ? msg : "Input tag does not match any of the expected tags", tag, ctx);
    free(msg);
    free(text);
}

static void check_message(checker *v, const cx_schema *self, json_t *object)
{
    if (!json_is_object(object)) {
        report(v, NULL, "model_type", "Input should be an object", object, NULL);
        return;
    }
    json_t *tag = json_object_get(object, self->action_key);
    const action *a = json_is_string(tag) ? find_action(self, json_string_value(tag), json_string_length(tag)) : NULL;
    if (!a) {
        tag_error(v, self, tag);
        return;
    }
    json_t *payload = json_object_get(object, "payload");
    loc here = { NULL, "payload", 0 };
    if (a->no_payload) {
        if (payload && !json_is_null(payload))
            report(v, &here, "none_required", "Input should be None", payload, NULL);
    } else if (!payload)
        report(v, &here, "missing", "Field required", NULL, NULL);
    else {
        json_t *integer = as_integer(a->schema, payload);
        check_node(v, a->schema, payload, &here);
        if (integer)
            json_object_set_new(object, "payload", integer);
    }
}

int cx_schema_validate_object(const cx_schema *self, json_t *object, json_t **errors)
{
    checker v = { NULL, 0 };
    check_message(&v, self, object);
    if (!v.failed) {
        *errors = NULL;
        return 0;
    }
    *errors = v.errors ? v.errors : json_array();
    return -1;
}

/* model_type is checked here and again in check_message: cx_schema_validate_object may be handed any value. */
int cx_schema_parse(const char *text, size_t len, json_t **message, json_t **errors)
{
    json_error_t jerr;
    checker v = { NULL, 0 };
    *message = NULL;
    *errors = NULL;
    /* as json_loadb(JSON_DECODE_ANY | JSON_ALLOW_NUL): "\u0000" in a string is valid JSON, and pydantic
     * takes it */
    json_t *parsed = cx_json_parse(text, len, &jerr);
    if (json_is_object(parsed)) {
        *message = parsed;
        return 0;
    }
    if (!parsed) {
        char msg[JSON_ERROR_TEXT_LENGTH + 32];
        snprintf(msg, sizeof msg, "Invalid JSON: %s", jerr.text);
        report(&v, NULL, "json_invalid", msg, NULL, NULL);
    } else {
        report(&v, NULL, "model_type", "Input should be an object", parsed, NULL);
        json_decref(parsed);
    }
    *errors = v.errors ? v.errors : json_array();
    return -1;
}

int cx_schema_validate(const cx_schema *self, const char *text, size_t len, json_t **message, json_t **errors)
{
    json_t *parsed;
    if (cx_schema_parse(text, len, &parsed, errors) != 0) {
        *message = NULL;
        return -1;
    }
    if (cx_schema_validate_object(self, parsed, errors) != 0) {
        json_decref(parsed);
        *message = NULL;
        return -1;
    }
    *message = parsed;
    return 0;
}
