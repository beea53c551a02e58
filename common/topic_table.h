/*
 * topic_table.h — the deployment's topics, for publishers (Chanx's Topic.broadcast by name).
 *
 * A publisher given {"topic": "room:lobby"} must find the topic's channel
 * group, safe_group_name(topic, namespace=<declared name>) (topic_name.h),
 * and only the consumers' declarations know the name. Workers put them in
 * each route's spec ("topics": [{"name", "pattern", ...}],
 * workers/topic_decls.h); the broker sends the route table to API peers
 * (ROUTES), and this table keeps each (name, pattern) once. One thread.
 */
#ifndef CX_COMMON_TOPIC_TABLE_H
#define CX_COMMON_TOPIC_TABLE_H

#include <stddef.h>
#include "proto/envelope.h"

typedef struct cx_topic_table cx_topic_table;

cx_topic_table *cx_topic_table_new(void);
void cx_topic_table_destroy(cx_topic_table **self_p);
/* Replaces the table with the topics of a ROUTES envelope (read, not kept). */
void cx_topic_table_update(cx_topic_table *self, const cx_env *routes);
/* Whether a route table has arrived at least once. */
int cx_topic_table_known(const cx_topic_table *self);
/* The groups of topic: one per declared (name, pattern) that matches, at most max, written to out
 * as new strings (the caller frees them). Returns how many. */
size_t cx_topic_table_groups(const cx_topic_table *self, const char *topic, const char **out, size_t max);

#endif
