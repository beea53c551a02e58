/*
 * schema_compile.c — compiling an incoming schema once, when its plugin
 * loads (see schema.h for the subset, schema_internal.h for the tree).
 *
 * Every keyword has a compile function, or is stored at an offset of the
 * node; unknown keywords, values of the wrong kind and contradictions
 * (minLength > maxLength, a required property that additionalProperties
 * false forbids) are errors naming their place ("at chat.properties.
 * message.maxLength: ..."), so a typo refuses the plugin instead of
 * silently accepting everything.
 */
#include "common/schema_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const cx_schema_kind cx_schema_kinds[KIND_COUNT] = {
    { "boolean", "bool_type", "Input should be a valid boolean", "boolean", T_BOOL },
    { "integer", "int_type", "Input should be a valid integer", "integer", T_INT },
    { "number", "float_type", "Input should be a valid number", "number", T_NUM },
    { "string", "string_type", "Input should be a valid string", "string", T_STR },
    { "array", "list_type", "Input should be a valid list", "list", T_ARR },
    { "object", "dict_type", "Input should be a valid dictionary", "dictionary", T_OBJ },
    { "null", "none_required", "Input should be None", "null", T_NULL },
};
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

void cx_schema_format_real(double d, char *out, size_t outlen)
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
            cx_schema_format_real(json_real_value(v), num, sizeof num), fputs(num, f);
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
        while (k < KIND_COUNT && !(json_is_string(name) && strcmp(cx_schema_kinds[k].name, json_string_value(name)) == 0))
            k++;
        if (k == KIND_COUNT)
            return fail(c, "unknown type %s (expected null, boolean, integer, number, string, array or object)",
                        json_is_string(name) ? json_string_value(name) : "(not a string)");
        if (n->types & cx_schema_kinds[k].bit)
            return fail(c, "type '%s' is listed twice", cx_schema_kinds[k].name);
        n->types |= cx_schema_kinds[k].bit;
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
    /* JSON Schema (draft 6 on) takes an integral real for an integer: maxLength 2.0 is 2 */
    double d = json_number_value(v);
    int integral = json_is_integer(v) || (json_is_real(v) && d >= 0 && d < 9007199254740992.0 && d == (double) (long long) d);
    if (!integral || d < 0)
        return fail(c, "expected a non-negative integer");
    *(long long *) ((char *) n + offset) = json_is_integer(v) ? json_integer_value(v) : (long long) d;
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
    if (k == KEYWORD_COUNT)   /* "pattern", "format"...: refused rather than silently not checked */
        return fail(c, "unknown keyword '%s' (not in the JSON Schema subset Chanx validates: docs/consumers.md#validation)",
                    key);
    size_t old = path_push(c, key);
    int rc = keywords[k].compile ? keywords[k].compile(c, n, value)
           : keywords[k].how ? kw_store(c, n, value, keywords[k].how, keywords[k].offset) : 0;
    path_pop(c, old);
    return rc;
}

prop *cx_schema_find_prop(const node *n, const char *name)
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
        prop *p = cx_schema_find_prop(n, json_string_value(name));
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
        remaining += (types & cx_schema_kinds[k].bit) != 0;
    fputs("Input should be ", f);
    for (size_t k = 0, first = 1; k < KIND_COUNT; k++) {
        if (!(types & cx_schema_kinds[k].bit))
            continue;
        remaining--;
        fprintf(f, "%s%s%s", first ? "" : remaining == 0 ? " or " : ", ",
                first && cx_schema_kinds[k].bit != T_NULL ? "a valid " : "", cx_schema_kinds[k].noun);
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
    json_t *doc = json_loads(schema_json, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);   /* "\u0000" is a string */
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
