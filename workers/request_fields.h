/*
 * request_fields.h — the parts of a client's request a consumer reads by
 * name: query parameters (chanx_query_param) and cookies (chanx_cookie), as
 * Django's QueryDict and request.COOKIES hold them.
 *
 * Pure functions on client input (fuzzed: tests/fuzz/fuzz_request_fields.c).
 */
#ifndef CX_WORKERS_REQUEST_FIELDS_H
#define CX_WORKERS_REQUEST_FIELDS_H

#include <stddef.h>
#include <jansson.h>

/* "a=1; b=2" → {"a": "1", "b": "2"}; NULL header → {}. Values that are not
 * UTF-8 are dropped. Owned by the caller. */
json_t *cx_cookies_parse(const char *header);
/* A form-encoded query string ('+' a space, %XX a byte) → {"name": ["v1", "v2"]},
 * repeated names kept in order as QueryDict does; pairs whose name is empty or
 * whose text is not UTF-8 are dropped. Owned by the caller. */
json_t *cx_query_parse(const char *query, size_t len);

#endif
