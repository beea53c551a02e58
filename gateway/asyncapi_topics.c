/*
 * asyncapi_topics.c — a topic as a channel spec and its x-topic extension (see asyncapi_topics.h).
 *
 * What the host consumer's spec says about who may connect (authentication,
 * permissions, flags) applies to its topics too; the messages are the
 * topic's own, plus the protocol's: a client sends subscribe and
 * unsubscribe, and gets subscribed, unsubscribed, and error with a reason;
 * on a topic with a history, subscribe's since and subscribed's epoch, seq
 * and recovered are described too (docs/consumers.md, "History").
 * Topic frames always use "action" (Chanx's topic messages do).
 */
#include "gateway/asyncapi_topics.h"

#include <string.h>

const json_t *cx_asyncapi_topic_named(const json_t *spec, const char *name, size_t len)
{
    size_t i;
    const json_t *t;
    json_array_foreach(json_object_get(spec, "topics"), i, t) {
        const char *n = json_string_value(json_object_get(t, "name"));
        if (n && strlen(n) == len && !memcmp(n, name, len))
            return t;
    }
    return NULL;
}

/* schemas (an object, may be NULL) with the protocol's actions (payload null) added. */
static json_t *with_protocol(const json_t *schemas, const char *first, const char *second)
{
    json_t *out = json_is_object(schemas) ? json_deep_copy(schemas) : json_object();
    json_object_set_new(out, first, json_null());
    json_object_set_new(out, second, json_null());
    return out;
}

/* A topic with a history (issue 25): subscribe may carry {"since": {"epoch", "seq"}}, subscribed says
 * {"epoch", "seq", "recovered"}, and each push carries "seq" beside the action (Chanx's envelope). */
static void with_history(json_t *spec)
{
    json_object_set_new(json_object_get(spec, "incoming"), "subscribe",
                        json_pack("{s:s, s:{s:{s:s, s:{s:{s:s, s:i, s:i}, s:{s:s, s:i}}, s:[ss]}}}", "type", "object",
                                  "properties", "since", "type", "object", "properties", "epoch", "type", "string",
                                  "minLength", 1, "maxLength", 64, "seq", "type", "integer", "minimum", 0, "required",
                                  "epoch", "seq"));
    json_object_set_new(json_object_get(spec, "outgoing"), "subscribed",
                        json_pack("{s:s, s:{s:{s:s}, s:{s:s, s:i}, s:{s:s}}, s:[ss]}", "type", "object",
                                  "properties", "epoch", "type", "string", "seq", "type", "integer", "minimum", 0,
                                  "recovered", "type", "boolean", "required", "epoch", "seq"));
}

json_t *cx_asyncapi_topic_spec(const json_t *spec, const json_t *topic)
{
    static const char *const HOST[] = { "authentication", "permissions", "send_authentication_message",
                                        "send_completion", "camelize", NULL };
    json_t *out = json_object();
    for (const char *const *k = HOST; *k; k++)
        if (json_object_get(spec, *k))
            json_object_set(out, *k, json_object_get(spec, *k));
    json_object_set_new(out, "action_key", json_string("action"));
    json_object_set_new(out, "incoming", with_protocol(json_object_get(topic, "incoming"), "subscribe", "unsubscribe"));
    json_object_set_new(out, "outgoing", with_protocol(json_object_get(topic, "outgoing"), "subscribed", "unsubscribed"));
    if (json_object_get(topic, "history"))
        with_history(out);
    if (json_object_get(topic, "passthrough_events"))
        json_object_set(out, "passthrough_events", json_object_get(topic, "passthrough_events"));
    return out;
}

static int listed_by_a_topic(const json_t *spec, const char *action)
{
    size_t i, j;
    const json_t *t, *a;
    json_array_foreach(json_object_get(spec, "topics"), i, t)
        json_array_foreach(json_object_get(t, "passthrough_events"), j, a)
            if (json_is_string(a) && strcmp(json_string_value(a), action) == 0)
                return 1;
    return 0;
}

json_t *cx_asyncapi_consumer_spec(const json_t *spec)
{
    json_t *out = json_copy((json_t *) spec), *own = json_array();
    size_t i;
    const json_t *a;
    json_array_foreach(json_object_get(spec, "passthrough_events"), i, a)
        if (json_is_string(a) && !listed_by_a_topic(spec, json_string_value(a)))
            json_array_append(own, (json_t *) a);
    json_object_set_new(out, "passthrough_events", own);
    return out;
}

/* Chanx names a topic in x-topic by its class's snake_name ("RoomTopic" is "room_topic": what its
 * client generator makes the handle's method of); a worker from before that was described sends
 * only the declared name. */
json_t *cx_asyncapi_topic_extension(const json_t *topic)
{
    json_t *params = json_object_get(topic, "parameters");
    json_t *name = json_object_get(topic, "snake_name") ? json_object_get(topic, "snake_name")
                                                        : json_object_get(topic, "name");
    return json_pack("{s:O?, s:O?, s:o}", "name", name, "pattern", json_object_get(topic, "pattern"), "parameters",
                     params ? json_incref(params) : json_array());
}
