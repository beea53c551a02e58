/*
 * json_parse.h — a client message's JSON text into jansson values, as
 * json_loadb(JSON_DECODE_ANY | JSON_ALLOW_NUL) reads it, at a fraction of
 * its cost on the messages clients usually send (see json_parse.c).
 */
#ifndef CX_COMMON_JSON_PARSE_H
#define CX_COMMON_JSON_PARSE_H

#include <jansson.h>
#include <stddef.h>

/* The value of text[0..len) (a new reference), exactly as json_loadb(text, len, JSON_DECODE_ANY |
 * JSON_ALLOW_NUL, error) gives it: the same types, members in the same order, the last of a repeated key.
 * NULL on invalid JSON, with jansson's own error in *error (json_loadb is what reports it). */
json_t *cx_json_parse(const char *text, size_t len, json_error_t *error);

#endif
