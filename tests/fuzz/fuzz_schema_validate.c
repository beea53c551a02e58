/*
 * fuzz_schema_validate — validating a client's text frame against a
 * compiled schema (common/schema.h): every byte a client sends passes
 * here before a consumer sees it. The schema uses every keyword the
 * validator knows; the input is the frame. Valid means a message and no
 * errors, invalid means errors and no message: never both, never neither.
 */
#include "common/schema.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char SCHEMA[] =
    "{\"ping\": null,"
    " \"say\": {\"type\": \"object\", \"additionalProperties\": false, \"required\": [\"text\"],"
    "   \"properties\": {\"text\": {\"type\": \"string\", \"minLength\": 1, \"maxLength\": 8},"
    "                  \"n\": {\"type\": \"integer\", \"minimum\": -5, \"maximum\": 1000},"
    "                  \"x\": {\"type\": [\"number\", \"null\"], \"minimum\": 0.5},"
    "                  \"tags\": {\"type\": \"array\", \"minItems\": 1, \"maxItems\": 3,"
    "                           \"items\": {\"enum\": [\"a\", \"b\", 1, null]}},"
    "                  \"ok\": {\"type\": \"boolean\"}, \"k\": {\"const\": {\"z\": [1, 2]}},"
    "                  \"deep\": {\"type\": \"object\", \"properties\": {\"deeper\": {\"type\": \"object\","
    "                            \"properties\": {\"s\": {\"type\": \"string\"}}, \"required\": [\"s\"]}}}}},"
    " \"any\": {\"description\": \"anything\", \"title\": \"t\", \"examples\": [1]}}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static cx_schema *schema;
    if (!schema) {
        char err[256];
        schema = cx_schema_new(SCHEMA, NULL, err, sizeof err);
        if (!schema)
            abort();
    }
    char *text = malloc(size ? size : 1);   /* not NUL-terminated, exactly as a frame arrives */
    memcpy(text, data, size);
    json_t *message = NULL, *errors = NULL;
    int rc = cx_schema_validate(schema, text, size, &message, &errors);
    if (rc == 0 ? (!message || errors) : (message || !errors || !json_is_array(errors)))
        abort();
    if (errors) {
        char *dump = json_dumps(errors, JSON_COMPACT);   /* what the client is sent back */
        if (!dump)
            abort();
        free(dump);
    }
    json_decref(message);
    json_decref(errors);
    message = errors = NULL;
    rc = cx_schema_parse(text, size, &message, &errors);
    json_decref(message);
    json_decref(errors);
    free(text);
    return 0;
}
