/*
 * json_text.h — compact JSON text of a jansson value, as json_dumps writes
 * it, without json_dumps' fixed cost per call (see json_text.c). For the
 * message path: each message a process writes goes through here.
 */
#ifndef CX_COMMON_JSON_TEXT_H
#define CX_COMMON_JSON_TEXT_H

#include <jansson.h>
#include <stddef.h>

/* Deeper than this is refused, as a cycle would be (a container put inside itself). Above what
 * jansson parses (JSON_PARSER_MAX_DEPTH, 2048) with room for the envelopes a reply wraps around a
 * client's value (a validation error's "input"): whatever a client sent can be answered. */
#define CX_JSON_TEXT_MAX_DEPTH 4096

/* The text json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY) gives, NUL-terminated (owned by the
 * caller: free()); its length in *len when len is not NULL. NULL for a NULL value, a value nested
 * deeper than CX_JSON_TEXT_MAX_DEPTH (a cycle included), or when out of memory. Reads value only:
 * safe on one value from several threads while nobody changes it. */
char *cx_json_text(const json_t *value, size_t *len);

/* The text cx_json_text gives for the object {"action": action, "payload": payload} (null when payload is
 * NULL), written without building that object: Chanx's message shape, on every reply a consumer sends.
 * NULL for a NULL action, a payload refused as above, or when out of memory. */
char *cx_json_text_action(const char *action, const json_t *payload, size_t *len);

#endif
