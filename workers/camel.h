/*
 * camel.h — camelCase on the wire, snake_case inside (Chanx's camelize option).
 *
 * Consumers and their schemas use snake_case field names; JavaScript clients
 * send and expect camelCase. The worker converts keys of whole messages at
 * the boundary so neither side has to know about the other's convention.
 * Only keys change, recursively through objects and arrays; values never do.
 */
#ifndef CX_WORKERS_CAMEL_H
#define CX_WORKERS_CAMEL_H

#include <stddef.h>
#include <jansson.h>

/* Deep copies with every object key converted ("is_mine" <-> "isMine").
 * NULL if value is NULL, memory runs out, or nesting exceeds
 * CX_CAMEL_MAX_DEPTH (which only a value built in code, or a cycle, can do:
 * parsed JSON is shallower). Two keys converting to the same name: the last
 * one wins, as with a Python dict comprehension. */
#define CX_CAMEL_MAX_DEPTH 4096
json_t *cx_json_camelize(const json_t *value);
json_t *cx_json_snakeize(const json_t *value);

/* The key conversions alone, into a caller buffer: the length written (out
 * is NUL-terminated), or -1 if it would not fit. */
int cx_camelize_key(const char *key, char *out, size_t outlen);
int cx_snakeize_key(const char *key, char *out, size_t outlen);

#endif
