/*
 * topic_decls.h — a consumer's topics, checked and compiled when its plugin loads.
 *
 * include/chanx/consumer.h's chanx_topic is what a plugin declares; this is
 * what the worker keeps of it: the compiled pattern and schema, the dedicated
 * route's consumer key, and the facts the route table's spec carries (the
 * AsyncAPI document's x-topic channels, the passthrough events the gateway
 * delivers). Read-only once loaded, so any thread may use it.
 */
#ifndef CX_WORKERS_TOPIC_DECLS_H
#define CX_WORKERS_TOPIC_DECLS_H

#include <stddef.h>
#include <jansson.h>
#include "chanx/consumer.h"
#include "common/topic_name.h"
#include "proto/envelope.h"
#include "common/schema.h"

/* A dedicated topic route's target is "<plugin>.<consumer>#<topic name>" (Topic.as_consumer()). */
#define CX_TOPIC_ROUTE_MARK '#'

typedef struct {
    const chanx_topic *desc;
    cx_topic_pattern *pattern;
    cx_schema *schema;          /* NULL: no schema */
    char *route_consumer;       /* "<consumer>#<name>" when desc->route, else NULL */
} cx_topic_decl;

typedef struct cx_topic_decls cx_topic_decls;

/* Checks and compiles topics (NULL-terminated, may be NULL: no topics, *out NULL) of the consumer
 * short_name. 0, or -1 with a reason naming the topic in err. */
int cx_topic_decls_new(cx_topic_decls **out, const chanx_topic *const *topics, const char *short_name,
                       char *err, size_t errlen);
void cx_topic_decls_destroy(cx_topic_decls **self_p);
size_t cx_topic_decls_count(const cx_topic_decls *self);   /* NULL-safe: 0 */
const cx_topic_decl *cx_topic_decls_get(const cx_topic_decls *self, size_t i);
/* The first topic whose pattern matches (Chanx's _match), with its parameters set into params when
 * non-NULL; NULL when none does. */
const cx_topic_decl *cx_topic_decls_match(const cx_topic_decls *self, const char *topic, size_t len, json_t *params);
/* The topic called name (the part after '#' of a dedicated route's target), or NULL. */
const cx_topic_decl *cx_topic_decls_named(const cx_topic_decls *self, const char *name, size_t len);
/* Whether some topic lists action in its passthrough_events. NULL-safe. */
int cx_topic_decls_passes(const cx_topic_decls *self, cx_slice action);
/* Adds the topics to a consumer's route-table spec: "topics" [{name, pattern, parameters,
 * incoming, outgoing, passthrough_events, route}] and the topics' passthrough actions appended
 * to "passthrough_events". */
void cx_topic_decls_describe(const cx_topic_decls *self, json_t *spec);

#endif
