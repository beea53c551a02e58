/*
 * schema.h — validating incoming client messages against a consumer's schema.
 *
 * Chanx validates every received frame with pydantic before the consumer sees
 * it, and answers invalid frames with pydantic's error list. Clients (and the
 * Python tests they were written against) read those errors, so this module
 * reproduces pydantic v2's error shape: {"type", "loc", "msg", "input", "ctx"}.
 *
 * The schema is a small, documented JSON Schema subset rather than the whole
 * specification: each keyword here is one a consumer really needs, is checked
 * at compile time (a typo is an error, not a silently ignored keyword) and maps
 * to exactly one pydantic error type. The schema is compiled once, when the
 * plugin loads; validating a valid message allocates nothing beyond jansson's
 * parse.
 *
 * The code is in two halves: schema_compile.c (text to a tree, once per
 * plugin load) and schema_validate.c (tree and frame to errors, per message).
 * It lives in common/ because two processes validate: workers (client frames,
 * and events against .events) and the publish API (an event nobody could
 * take is refused with these errors, common/event_catalog.h).
 *
 * Supported keywords: type (a name or an array of names: null, boolean,
 * integer, number, string, array, object), properties, required,
 * additionalProperties (boolean, default true), enum, const, minLength,
 * maxLength (Unicode code points), minimum, maximum, items, minItems,
 * maxItems; description, title (strings) and examples (array) are ignored.
 * Constraints apply only to values of their kind (minLength to strings, ...),
 * as in JSON Schema; a value of the wrong type gets a type error and nothing
 * else. An integral real (1.0) satisfies "integer" and, as pydantic would, is
 * replaced in the message by the integer, so consumers can json_integer_value().
 *
 * Error types (loc starts at "payload" for payload problems; "input" is the
 * offending value, absent for missing and json_invalid):
 *   json_invalid       []  Invalid JSON: <jansson's text>
 *   model_type         []  Input should be an object
 *   union_tag_invalid  []  Input tag 'foo' found using 'action' does not match any of the expected tags: 'a', 'b'
 *                          Unable to extract tag using discriminator 'action'; expected tags: 'a', 'b'  (no tag)
 *   missing, none_required, string_type, int_type, int_from_float, float_type,
 *   bool_type, dict_type, list_type, union_type ("Input should be a valid string
 *   or null"), string_too_short, string_too_long, too_short, too_long,
 *   greater_than_equal, less_than_equal, literal_error, extra_forbidden:
 *   pydantic v2's messages, with pydantic's "ctx" where it has one.
 */
#ifndef CX_COMMON_SCHEMA_H
#define CX_COMMON_SCHEMA_H

#include <stddef.h>
#include <jansson.h>

/* A hostile frame (a million wrong items) must not make a million error
 * objects: validation stops collecting after this many. */
#define CX_SCHEMA_MAX_ERRORS 100

typedef struct cx_schema cx_schema;

/* Compiles the schema text once (action_key NULL means "action"). On error
 * returns NULL and writes into err a message naming the place, e.g.
 * "at chat.properties.message.minLength: expected a non-negative integer". */
cx_schema *cx_schema_new(const char *schema_json, const char *action_key, char *err, size_t errlen);
/* Nulls *self_p; NULL-safe. */
void cx_schema_destroy(cx_schema **self_p);

/* Validates one received text frame (not NUL-terminated: len bytes).
 * Valid: returns 0, *message = the parsed object (new reference), *errors = NULL.
 * Invalid: returns -1, *message = NULL, *errors = a new JSON array of error
 * objects (the caller owns it). */
int cx_schema_validate(const cx_schema *self, const char *text, size_t len, json_t **message, json_t **errors);
/* Parses one frame and checks it is an object, reporting json_invalid or model_type exactly as
 * cx_schema_validate does; for consumers without a schema, or that convert keys before validating.
 * Same contract as cx_schema_validate. */
int cx_schema_parse(const char *text, size_t len, json_t **message, json_t **errors);
/* Validates an already parsed value; same contract, no message out. Error
 * "input" members are references into object, not copies; integral reals in
 * integer fields are replaced in object as described above. */
int cx_schema_validate_object(const cx_schema *self, json_t *object, json_t **errors);

/* A JSON string's length as pydantic's min_length / max_length count it: Unicode code points, not
 * UTF-8 bytes (jansson's json_string_length). 0 for a value that is not a string. */
size_t cx_schema_string_length(const json_t *string);

/* The accepted actions in declaration order. */
size_t cx_schema_action_count(const cx_schema *self);
const char *cx_schema_action_name(const cx_schema *self, size_t index);
/* The schema as given (borrowed), kept for documentation. */
const json_t *cx_schema_json(const cx_schema *self);

#endif
