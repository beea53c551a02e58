/*
 * api_names.h — the names of the plugin API (include/chanx/), every level, so that a plugin the
 * worker refuses for an undefined symbol is told plainly whether it misspelt an API call.
 *
 * dlopen's "undefined symbol: chanx_send_mesage" alone reads like a plugin built for a newer
 * worker; a name one or two edits away from a real one is a typo, and the refusal says which name
 * was meant (workers/plugins.c). The list is checked against the headers and the worker's exports
 * by tests/unit/test_api_names.c, so a function added to the API without its name here fails there.
 */
#ifndef CX_WORKERS_API_NAMES_H
#define CX_WORKERS_API_NAMES_H

#include <stddef.h>

/* The plugin API's function names, NULL-terminated; static. */
const char *const *cx_api_names(void);

/* The API name closest to name[0..len) within two edits (insert, delete, replace, swap of two
 * neighbours), or NULL when none is that close; static. An exact API name returns itself. */
const char *cx_api_name_nearest(const char *name, size_t len);

#endif
