/*
 * schema.c — compiling the incoming schema and validating frames (see schema.h).
 *
 * Compilation turns the JSON text into a tree of small structs so that the
 * hot path never looks keywords up by name: each node holds a type bitmask and
 * its constraints as plain numbers (-1 meaning "none"). Actions are found by a
 * hash of the tag, properties by jansson's own hash of the incoming object.
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
#include "workers/schema.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { T_NULL = 1, T_BOOL = 2, T_INT = 4, T_NUM = 8, T_STR = 16, T_ARR = 32, T_OBJ = 64 };

/* Canonical order, used to name the members of a type union in messages. */
static const struct {
    const char *name, *error, *msg, *noun;
    unsigned bit;
} kinds[] = {
    { "boolean", "bool_type", "Input should be a valid boolean", "boolean", T_BOOL },
    { "integer", "int_type", "Input should be a valid integer", "integer", T_INT },
    { "number", "float_type", "Input should be a valid number", "number", T_NUM },
    { "string", "string_type", "Input should be a valid string", "string", T_STR },
    { "array", "list_type", "Input should be a valid list", "list", T_ARR },
    { "object", "dict_type", "Input should be a valid dictionary", "dictionary", T_OBJ },
    { "null", "none_required", "Input should be None", "null", T_NULL },
};
#define KIND_COUNT (sizeof kinds / sizeof kinds[0])

typedef struct node node;

typedef struct {
    const char *name;   /* borrowed from the schema document */
    node *schema;       /* NULL: any value (required but not described) */
    int required;
} prop;

struct node {
    unsigned types;                 /* 0: any type */
    char *union_msg;                /* when types names several kinds */
    json_t *literals;               /* enum, or const as a one-element array */
    char *expected;                 /* literals in pydantic's words: "'a', 'b' or 'c'" */
    long long min_len, max_len, min_items, max_items;   /* -1: none */
    const json_t *minimum, *maximum;                    /* borrowed; NULL: none */
    prop *props;
    size_t nprops;
    int closed;                     /* additionalProperties: false */
    node *items;
};

typedef struct {
    const char *name;
    node *schema;       /* NULL with no_payload */
    int no_payload;
} action;

struct cx_schema {
    json_t *doc;
    char *action_key;
    char *expected_tags;            /* "'ping', 'chat'" */
    action *actions;
    size_t nactions;
    json_t *index;                  /* action name -> position in actions: jansson's hash table */
};

/* ---------------------------------------------------------------- compiling */

typedef struct {
    char path[512];
    size_t len;
    char *err;
    size_t errlen;
} compiler;

static size_t path_push(compiler *c, const char *segment)
{
    size_t old = c->len;
    int n = snprintf(c->path + c->len, sizeof c->path - c->len, "%s%s", c->len ? "." : "", segment);
    if (n > 0)
        c->len = c->len + (size_t) n < sizeof c->path ? c->len + (size_t) n : sizeof c->path - 1;
    return old;
}

static void path_pop(compiler *c, size_t old)
{
    c->len = old;
    c->path[old] = '\0';
}

static int fail(compiler *c, const char *fmt, ...)
{
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (c->err && c->errlen)
        snprintf(c->err, c->errlen, "at %s: %s", c->len ? c->path : "(root)", what);
    return -1;
}

static void node_destroy(node *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->nprops; i++)
        node_destroy(n->props[i].schema);
    free(n->props);
    node_destroy(n->items);
    json_decref(n->literals);
    free(n->expected);
    free(n->union_msg);
    free(n);
}

static node *compile_node(compiler *c, const json_t *schema);

/* Python's repr of a float: the shortest text that reads back the same, with ".0" if integral. */
static void format_real(double d, char *out, size_t outlen)
{
    for (int precision = 15; precision <= 17; precision++) {
        snprintf(out, outlen, "%.*g", precision, d);
        if (strtod(out, NULL) == d)
            break;
    }
    if (!strpbrk(out, ".eni"))
        strncat(out, ".0", outlen - strlen(out) - 1);
}

/* pydantic's enumeration of literals: 'a', 1, 1.5, True, None, 'b' or 'c'. */
static char *literal_list(const json_t *values)
{
    char *s = NULL, num[48];
    size_t size = 0, n = json_array_size(values);
    FILE *f = open_memstream(&s, &size);
    for (size_t i = 0; f && i < n; i++) {
        const json_t *v = json_array_get(values, i);
        fputs(i == 0 ? "" : i + 1 == n ? " or " : ", ", f);
        if (json_is_string(v))
            fprintf(f, "'%s'", json_string_value(v));
        else if (json_is_integer(v))
            fprintf(f, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        else if (json_is_real(v))
            format_real(json_real_value(v), num, sizeof num), fputs(num, f);
        else if (!json_is_object(v) && !json_is_array(v))
            fputs(json_is_true(v) ? "True" : json_is_false(v) ? "False" : "None", f);
        else
            json_dumpf(v, f, JSON_COMPACT);
    }
    if (f)
        fclose(f);
    return s;
}

static int kw_type(compiler *c, node *n, const json_t *v)
{
    size_t count = json_is_array(v) ? json_array_size(v) : 1;
    if (!json_is_string(v) && !(json_is_array(v) && count > 0))
        return fail(c, "expected a type name or a non-empty array of type names");
    for (size_t i = 0; i < count; i++) {
        const json_t *name = json_is_array(v) ? json_array_get(v, i) : v;
        size_t k = 0;
        while (k < KIND_COUNT && !(json_is_string(name) && strcmp(kinds[k].name, json_string_value(name)) == 0))
            k++;
        if (k == KIND_COUNT)
            return fail(c, "unknown type %s (expected null, boolean, integer, number, string, array or object)",
                        json_is_string(name) ? json_string_value(name) : "(not a string)");
        if (n->types & kinds[k].bit)
            return fail(c, "type '%s' is listed twice", kinds[k].name);
        n->types |= kinds[k].bit;
    }
    return 0;
}

static int kw_properties(compiler *c, node *n, const json_t *v)
{
    if (!json_is_object(v))
        return fail(c, "expected an object of property schemas");
    n->props = calloc(json_object_size(v) + 1, sizeof *n->props);
    if (!n->props)
        return fail(c, "out of memory");
    const char *key;
    const json_t *sub;
    json_object_foreach((json_t *) v, key, sub) {
        size_t old = path_push(c, key);
        node *child = compile_node(c, sub);
        path_pop(c, old);
        if (!child)
            return -1;
        n->props[n->nprops++] = (prop) { key, child, 0 };
    }
    return 0;
}

static int kw_additional(compiler *c, node *n, const json_t *v)
{
    if (!json_is_boolean(v))
        return fail(c, "expected true or false (schemas for additional properties are not supported)");
    n->closed = json_is_false(v);
    return 0;
}

static int kw_literals(compiler *c, node *n, const json_t *v, int is_enum)
{
    if (n->literals)
        return fail(c, "enum and const cannot be used together");
    if (is_enum && (!json_is_array(v) || json_array_size(v) == 0))
        return fail(c, "expected a non-empty array");
    n->literals = is_enum ? json_incref((json_t *) v) : json_pack("[O]", (json_t *) v);
    n->expected = literal_list(n->literals);
    return n->literals && n->expected ? 0 : fail(c, "out of memory");
}

static int kw_enum(compiler *c, node *n, const json_t *v) { return kw_literals(c, n, v, 1); }
static int kw_const(compiler *c, node *n, const json_t *v) { return kw_literals(c, n, v, 0); }

static int kw_items(compiler *c, node *n, const json_t *v)
{
    if (!json_is_object(v))
        return fail(c, "expected one schema object for all items");
    return (n->items = compile_node(c, v)) ? 0 : -1;
}

/* Keywords that only store their value: how it is checked, and where it goes (by offset). */
enum { STORE_COUNT = 1, STORE_BOUND, IGNORE_STRING, IGNORE_ARRAY };

static int kw_store(compiler *c, node *n, const json_t *v, int how, size_t offset)
{
    if (how == IGNORE_STRING || how == IGNORE_ARRAY)
        return (how == IGNORE_STRING ? json_is_string(v) : json_is_array(v)) ? 0
               : fail(c, how == IGNORE_STRING ? "expected a string" : "expected an array");
    if (how == STORE_BOUND) {
        if (!json_is_number(v))
            return fail(c, "expected a number");
        *(const json_t **) ((char *) n + offset) = v;
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return fail(c, "expected a non-negative integer");
    *(long long *) ((char *) n + offset) = json_integer_value(v);
    return 0;
}

static const struct {
    const char *name;
    int (*compile)(compiler *, node *, const json_t *);   /* or NULL and: */
    int how;
    size_t offset;
} keywords[] = {
    { "type", kw_type, 0, 0 },
    { "properties", kw_properties, 0, 0 },
    { "required", NULL, 0, 0 },                 /* after properties, see apply_required */
    { "additionalProperties", kw_additional, 0, 0 },
    { "enum", kw_enum, 0, 0 },
    { "const", kw_const, 0, 0 },
    { "items", kw_items, 0, 0 },
    { "minLength", NULL, STORE_COUNT, offsetof(node, min_len) },
    { "maxLength", NULL, STORE_COUNT, offsetof(node, max_len) },
    { "minItems", NULL, STORE_COUNT, offsetof(node, min_items) },
    { "maxItems", NULL, STORE_COUNT, offsetof(node, max_items) },
    { "minimum", NULL, STORE_BOUND, offsetof(node, minimum) },
    { "maximum", NULL, STORE_BOUND, offsetof(node, maximum) },
    { "description", NULL, IGNORE_STRING, 0 },
    { "title", NULL, IGNORE_STRING, 0 },
    { "examples", NULL, IGNORE_ARRAY, 0 },
};
#define KEYWORD_COUNT (sizeof keywords / sizeof keywords[0])

static int compile_keyword(compiler *c, node *n, const char *key, const json_t *value)
{
    size_t k = 0;
    while (k < KEYWORD_COUNT && strcmp(keywords[k].name, key) != 0)
        k++;
    if (k == KEYWORD_COUNT) {
        if (c->err && c->errlen)
            snprintf(c->err, c->errlen, "unknown keyword '%s' at %s", key, c->len ? c->path : "(root)");
        return -1;
    }
    size_t old = path_push(c, key);
    int rc = keywords[k].compile ? keywords[k].compile(c, n, value)
           : keywords[k].how ? kw_store(c, n, value, keywords[k].how, keywords[k].offset) : 0;
    path_pop(c, old);
    return rc;
}

static prop *find_prop(const node *n, const char *name)
{
    for (size_t i = 0; i < n->nprops; i++)
        if (strcmp(n->props[i].name, name) == 0)
            return &n->props[i];
    return NULL;
}

/* Marks required properties; one that properties does not describe accepts any value. */
static int apply_required(compiler *c, node *n, const json_t *required)
{
    if (!json_is_array(required))
        return fail(c, "expected an array of property names");
    prop *grown = realloc(n->props, (n->nprops + json_array_size(required) + 1) * sizeof *n->props);
    if (!grown)
        return fail(c, "out of memory");
    n->props = grown;
    for (size_t i = 0; i < json_array_size(required); i++) {
        const json_t *name = json_array_get(required, i);
        if (!json_is_string(name))
            return fail(c, "expected an array of property names");
        prop *p = find_prop(n, json_string_value(name));
        if (p && p->required)
            return fail(c, "'%s' is listed twice", json_string_value(name));
        if (!p && n->closed)
            return fail(c, "'%s' is not in properties and additionalProperties is false", json_string_value(name));
        if (p)
            p->required = 1;
        else
            n->props[n->nprops++] = (prop) { json_string_value(name), NULL, 1 };
    }
    return 0;
}

/* "Input should be a valid string, integer or null" for type unions. */
static char *union_message(unsigned types)
{
    char *s = NULL;
    size_t size = 0, remaining = 0;
    FILE *f = open_memstream(&s, &size);
    if (!f)
        return NULL;
    for (size_t k = 0; k < KIND_COUNT; k++)
        remaining += (types & kinds[k].bit) != 0;
    fputs("Input should be ", f);
    for (size_t k = 0, first = 1; k < KIND_COUNT; k++) {
        if (!(types & kinds[k].bit))
            continue;
        remaining--;
        fprintf(f, "%s%s%s", first ? "" : remaining == 0 ? " or " : ", ",
                first && kinds[k].bit != T_NULL ? "a valid " : "", kinds[k].noun);
        first = 0;
    }
    fclose(f);
    return s;
}

static int check_limits(compiler *c, node *n)
{
    if (n->min_len >= 0 && n->max_len >= 0 && n->min_len > n->max_len)
        return fail(c, "minLength is greater than maxLength");
    if (n->min_items >= 0 && n->max_items >= 0 && n->min_items > n->max_items)
        return fail(c, "minItems is greater than maxItems");
    if (n->minimum && n->maximum && json_number_value(n->minimum) > json_number_value(n->maximum))
        return fail(c, "minimum is greater than maximum");
    if ((n->types & (n->types - 1)) && !(n->union_msg = union_message(n->types)))
        return fail(c, "out of memory");
    return 0;
}

static node *compile_node(compiler *c, const json_t *schema)
{
    if (!json_is_object(schema)) {
        fail(c, "expected a schema object");
        return NULL;
    }
    node *n = calloc(1, sizeof *n);
    if (!n) {
        fail(c, "out of memory");
        return NULL;
    }
    n->min_len = n->max_len = n->min_items = n->max_items = -1;
    const char *key;
    const json_t *value;
    int rc = 0;
    json_object_foreach((json_t *) schema, key, value) {
        if ((rc = compile_keyword(c, n, key, value)) != 0)
            break;
    }
    const json_t *required = json_object_get(schema, "required");
    if (rc == 0 && required) {
        size_t old = path_push(c, "required");
        rc = apply_required(c, n, required);
        path_pop(c, old);
    }
    if (rc == 0)
        rc = check_limits(c, n);
    if (rc != 0) {
        node_destroy(n);
        return NULL;
    }
    return n;
}

static const action *find_action(const cx_schema *self, const char *name, size_t len)
{
    json_t *index = json_object_getn(self->index, name, len);
    return index ? &self->actions[json_integer_value(index)] : NULL;
}

static int compile_actions(compiler *c, cx_schema *self)
{
    if (!json_is_object(self->doc))
        return fail(c, "expected an object mapping each action to its payload schema or null");
    if (json_object_size(self->doc) == 0)
        return fail(c, "no action is declared");
    self->actions = calloc(json_object_size(self->doc), sizeof *self->actions);
    self->index = json_object();
    if (!self->actions || !self->index)
        return fail(c, "out of memory");
    const char *name;
    json_t *schema;
    json_object_foreach(self->doc, name, schema) {
        if (!*name)
            return fail(c, "an action name is empty");
        json_object_set_new(self->index, name, json_integer((json_int_t) self->nactions));
        action *a = &self->actions[self->nactions++];
        *a = (action) { name, NULL, json_is_null(schema) };
        if (a->no_payload)
            continue;
        size_t old = path_push(c, name);
        a->schema = compile_node(c, schema);
        path_pop(c, old);
        if (!a->schema)
            return -1;
    }
    size_t size = 0;
    FILE *f = open_memstream(&self->expected_tags, &size);
    for (size_t i = 0; f && i < self->nactions; i++)
        fprintf(f, "%s'%s'", i ? ", " : "", self->actions[i].name);
    if (f)
        fclose(f);
    return self->expected_tags && json_object_size(self->index) == self->nactions ? 0 : fail(c, "out of memory");
}

cx_schema *cx_schema_new(const char *schema_json, const char *action_key, char *err, size_t errlen)
{
    compiler c = { .err = err, .errlen = errlen };
    if (err && errlen)
        err[0] = '\0';
    if (!action_key)
        action_key = "action";
    if (!schema_json) {
        fail(&c, "no schema given");
        return NULL;
    }
    if (!*action_key || strcmp(action_key, "payload") == 0) {
        fail(&c, "the action key must be a non-empty name other than 'payload'");
        return NULL;
    }
    json_error_t jerr;
    json_t *doc = json_loads(schema_json, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc) {
        if (err && errlen)
            snprintf(err, errlen, "not valid JSON: line %d column %d: %s", jerr.line, jerr.column, jerr.text);
        return NULL;
    }
    cx_schema *self = calloc(1, sizeof *self);
    if (!self || !(self->action_key = strdup(action_key))) {
        free(self);
        json_decref(doc);
        fail(&c, "out of memory");
        return NULL;
    }
    self->doc = doc;
    if (compile_actions(&c, self) != 0)
        cx_schema_destroy(&self);
    return self;
}

void cx_schema_destroy(cx_schema **self_p)
{
    if (!self_p || !*self_p)
        return;
    cx_schema *self = *self_p;
    for (size_t i = 0; i < self->nactions; i++)
        node_destroy(self->actions[i].schema);
    free(self->actions);
    json_decref(self->index);
    free(self->expected_tags);
    free(self->action_key);
    json_decref(self->doc);
    free(self);
    *self_p = NULL;
}

size_t cx_schema_action_count(const cx_schema *self) { return self ? self->nactions : 0; }

const char *cx_schema_action_name(const cx_schema *self, size_t index)
{
    return self && index < self->nactions ? self->actions[index].name : NULL;
}

const json_t *cx_schema_json(const cx_schema *self) { return self ? self->doc : NULL; }

/* --------------------------------------------------------------- validating */

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
    while (kinds[k].bit != n->types)
        k++;
    if (n->types == T_INT && json_is_real(value))
        report(v, l, "int_from_float", "Input should be a valid integer, got a number with a fractional part",
               value, NULL);
    else
        report(v, l, kinds[k].error, kinds[k].msg, value, NULL);
}

static int literal_matches(const node *n, const json_t *value)
{
    size_t count = json_array_size(n->literals);
    for (size_t i = 0; i < count; i++) {
        const json_t *lit = json_array_get(n->literals, i);
        if (json_is_number(lit) && json_is_number(value) ? compare_numbers(lit, value) == 0 : json_equal(lit, value))
            return 1;
    }
    return 0;
}

static size_t code_points(const char *s, size_t bytes)
{
    size_t count = 0;
    for (size_t i = 0; i < bytes; i++)
        count += ((unsigned char) s[i] & 0xC0) != 0x80;
    return count;
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
        format_real(json_real_value(bound), num, sizeof num);
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
        if (!find_prop(n, key))
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

int cx_schema_validate(const cx_schema *self, const char *text, size_t len, json_t **message, json_t **errors)
{
    json_error_t jerr;
    *message = NULL;
    json_t *parsed = json_loadb(text ? text : "", text ? len : 0, JSON_DECODE_ANY, &jerr);
    if (!parsed) {
        char msg[JSON_ERROR_TEXT_LENGTH + 32];
        snprintf(msg, sizeof msg, "Invalid JSON: %s", jerr.text);
        checker v = { NULL, 0 };
        report(&v, NULL, "json_invalid", msg, NULL, NULL);
        *errors = v.errors ? v.errors : json_array();
        return -1;
    }
    if (cx_schema_validate_object(self, parsed, errors) != 0) {
        json_decref(parsed);
        return -1;
    }
    *message = parsed;
    return 0;
}
