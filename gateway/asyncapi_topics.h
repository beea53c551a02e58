/*
 * asyncapi_topics.h — Chanx's topics in the AsyncAPI document (asyncapi.c).
 *
 * Chanx 2.10 documents each topic as its own channel at its route's address
 * (topics share their host's connection), with an "x-topic" extension
 * {name, pattern, parameters} telling a client which stream the channel is
 * and how to address it (chanx/asyncapi/generator.py, and the round trip in
 * tests/core/asyncapi/test_topic_extension.py). The worker puts its
 * consumers' topics in the route spec ("topics", workers/topic_decls.h);
 * these functions turn one into what asyncapi.c builds a channel from: a
 * spec of the topic's own messages, the protocol's subscribe/unsubscribe
 * and their replies included, with the host's authentication.
 */
#ifndef CX_GATEWAY_ASYNCAPI_TOPICS_H
#define CX_GATEWAY_ASYNCAPI_TOPICS_H

#include <stddef.h>
#include <jansson.h>

/* The topic of spec named name (len bytes), borrowed, or NULL. */
const json_t *cx_asyncapi_topic_named(const json_t *spec, const char *name, size_t len);
/* A channel spec for topic, hosted by the consumer of spec (new object). */
json_t *cx_asyncapi_topic_spec(const json_t *spec, const json_t *topic);
/* The consumer's own channel spec (new object): spec without the passthrough events its topics
 * added to "passthrough_events" (workers/topic_decls.c merges them there for the gateways' fan-out;
 * they belong to the topics' channels). */
json_t *cx_asyncapi_consumer_spec(const json_t *spec);
/* The x-topic extension: {"name", "pattern", "parameters"} (new object); "name" is Chanx's
 * snake_name of the topic's declared name ("RoomTopic": "room_topic"). */
json_t *cx_asyncapi_topic_extension(const json_t *topic);

#endif
