/*
 * fuzz_schema_compile — compiling a consumer's message schema
 * (common/schema.h) from JSON text, as a plugin declares it. A plugin is
 * trusted code, but its schema is data a developer types by hand: any text
 * must give a schema or an error, never a crash. Whatever compiles is then
 * used once, on a message built from its own first action.
 */
#include "common/schema.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    char err[256] = "";
    cx_schema *schema = cx_schema_new(text, NULL, err, sizeof err);
    if (!schema && !err[0])
        abort();   /* a refusal always says why */
    if (schema) {
        size_t n = cx_schema_action_count(schema);
        for (size_t i = 0; i < n; i++) {
            const char *action = cx_schema_action_name(schema, i);
            char msg[512];
            int len = snprintf(msg, sizeof msg, "{\"action\":\"%.200s\",\"payload\":{\"a\":1,\"b\":[\"x\"]}}", action);
            json_t *message = NULL, *errors = NULL;
            cx_schema_validate(schema, msg, (size_t) len < sizeof msg ? (size_t) len : sizeof msg - 1, &message,
                               &errors);
            json_decref(message);
            json_decref(errors);
        }
        (void) cx_schema_json(schema);
        cx_schema_destroy(&schema);
    }
    free(text);
    return 0;
}
