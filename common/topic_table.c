/*
 * topic_table.c — (name, pattern) of every declared topic, from ROUTES (see topic_table.h).
 */
#include "common/topic_table.h"
#include "common/topic_name.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* A topic some consumer of the deployment declares, learnt from the route table's specs. */
typedef struct {
    char *name;
    cx_topic_pattern *pattern;
} known_topic;

struct cx_topic_table {
    int known;              /* a route table arrived at least once */
    known_topic *topics;
    size_t ntopics;
};

static void forget(cx_topic_table *self)
{
    for (size_t i = 0; i < self->ntopics; i++) {
        free(self->topics[i].name);
        cx_topic_pattern_destroy(&self->topics[i].pattern);
    }
    free(self->topics);
    self->topics = NULL;
    self->ntopics = 0;
}

static int has(const cx_topic_table *self, const char *name, const char *pattern)
{
    for (size_t i = 0; i < self->ntopics; i++)
        if (!strcmp(self->topics[i].name, name) && !strcmp(cx_topic_pattern_text(self->topics[i].pattern), pattern))
            return 1;
    return 0;
}

/* The "topics" of every route's spec (workers/topic_decls.h), each (name, pattern) once. */
void cx_topic_table_update(cx_topic_table *self, const cx_env *routes)
{
    forget(self);
    self->known = 1;
    for (uint32_t r = 0; r < routes->nroutes; r++) {
        json_t *spec = json_loadb(routes->routes[r].spec.ptr, routes->routes[r].spec.len, 0, NULL);
        size_t i;
        json_t *t;
        json_array_foreach(json_object_get(spec, "topics"), i, t) {
            const char *name = json_string_value(json_object_get(t, "name"));
            const char *pattern = json_string_value(json_object_get(t, "pattern"));
            char err[160];
            known_topic k = { NULL, NULL };
            if (!name || !pattern || has(self, name, pattern))
                continue;
            known_topic *grown = realloc(self->topics, (self->ntopics + 1) * sizeof *grown);
            if (!grown || !(k.name = strdup(name)) || !(k.pattern = cx_topic_pattern_new(pattern, err, sizeof err))) {
                free(k.name);
                if (grown)
                    self->topics = grown;
                continue;
            }
            self->topics = grown;
            self->topics[self->ntopics++] = k;
        }
        json_decref(spec);
    }
}

cx_topic_table *cx_topic_table_new(void)
{
    return calloc(1, sizeof(cx_topic_table));
}

void cx_topic_table_destroy(cx_topic_table **self_p)
{
    if (!*self_p)
        return;
    forget(*self_p);
    free(*self_p);
    *self_p = NULL;
}

int cx_topic_table_known(const cx_topic_table *self)
{
    return self->known;
}

size_t cx_topic_table_groups(const cx_topic_table *self, const char *topic, const char **out, size_t max)
{
    size_t n = 0, len = strlen(topic);
    for (size_t i = 0; i < self->ntopics && n < max; i++) {
        char group[CX_TOPIC_MAX_GROUP + 1];
        if (!cx_topic_pattern_match(self->topics[i].pattern, topic, len, NULL)
            || cx_topic_group_of(self->topics[i].pattern, topic, len, self->topics[i].name, group) != 0)
            continue;
        int seen = 0;   /* two declarations may name one group (a name shared by two consumers) */
        for (size_t j = 0; j < n; j++)
            seen |= strcmp(out[j], group) == 0;
        if (!seen && (out[n] = strdup(group)))
            n++;
    }
    return n;
}
