/*
 * fuzz_json_parse — cx_json_parse against json_loadb (common/json_parse.h):
 * every text frame a client sends is parsed here, and the fast path must
 * never disagree with jansson, whose values and error messages it promises.
 * Any input: both parse it; they must agree on accepting it, on the error
 * text when refused, and on the compact dump of the value when accepted.
 */
#include "common/json_parse.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size ? size : 1);   /* not NUL-terminated, exactly as a frame arrives */
    memcpy(text, data, size);
    json_error_t ours_error, their_error;
    json_t *ours = cx_json_parse(text, size, &ours_error);
    json_t *theirs = json_loadb(text, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, &their_error);
    if ((ours == NULL) != (theirs == NULL))
        abort();
    if (!theirs && strcmp(ours_error.text, their_error.text) != 0)
        abort();
    if (theirs) {
        char *a = json_dumps(ours, JSON_COMPACT | JSON_ENCODE_ANY), *b = json_dumps(theirs, JSON_COMPACT | JSON_ENCODE_ANY);
        if ((a == NULL) != (b == NULL) || (a && strcmp(a, b) != 0))
            abort();
        free(a);
        free(b);
    }
    json_decref(ours);
    json_decref(theirs);
    free(text);
    return 0;
}
