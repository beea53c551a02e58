/*
 * abi_symbols — tells a client which names the worker lets a plugin
 * resolve at run time: "lookup" with {"names": [...]} answers "found" with
 * {"<name>": true|false}, from dlsym(RTLD_DEFAULT), the widest lookup a
 * plugin has (the worker's global scope). The plugin API's functions must
 * be found and the framework's internals (cx_*) must not.
 */
#include <chanx/consumer.h>

#include <dlfcn.h>

static int receive_message(chanx_ctx *ctx, const chanx_msg *msg)
{
    json_t *found = json_object();
    size_t i;
    const json_t *name;
    json_array_foreach(json_object_get(chanx_msg_payload(msg), "names"), i, name)
        json_object_set_new(found, json_string_value(name),
                            json_boolean(dlsym(RTLD_DEFAULT, json_string_value(name)) != NULL));
    int rc = chanx_send_message(ctx, "found", found);
    json_decref(found);
    return rc;
}

CHANX_CONSUMER(symbols) {
    .incoming = "{\"lookup\": {\"type\": \"object\", \"required\": [\"names\"],"
                " \"properties\": {\"names\": {\"type\": \"array\", \"items\": {\"type\": \"string\"}}}}}",
    .receive_message = receive_message,
};
