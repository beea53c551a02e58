/*
 * event_catalog.c — see event_catalog.h.
 *
 * One entry per consumer (routes of one consumer share it), keeping the
 * spec text it was built from: an update whose text for that consumer is
 * unchanged moves the compiled schema over instead of compiling again, so a
 * route table that changes because a worker came or went costs a few
 * string comparisons.
 */
#include "common/event_catalog.h"
#include "common/log.h"
#include "common/schema.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *target;          /* "plugin.consumer" */
    char *spec;            /* the spec text this entry was built from */
    cx_schema *events;     /* NULL: the consumer takes no events of its own */
    json_t *passthrough;   /* array of actions, or NULL */
} consumer;

struct cx_event_catalog {
    consumer *consumers;
    size_t n;
    int known;             /* a route table has arrived */
};

cx_event_catalog *cx_event_catalog_new(void)
{
    return calloc(1, sizeof(cx_event_catalog));
}

static void consumer_free(consumer *c)
{
    free(c->target);
    free(c->spec);
    cx_schema_destroy(&c->events);
    json_decref(c->passthrough);
    memset(c, 0, sizeof *c);
}

void cx_event_catalog_destroy(cx_event_catalog **self_p)
{
    if (!self_p || !*self_p)
        return;
    for (size_t i = 0; i < (*self_p)->n; i++)
        consumer_free(&(*self_p)->consumers[i]);
    free((*self_p)->consumers);
    free(*self_p);
    *self_p = NULL;
}

/* Compiles what a consumer's spec says about events; a schema the worker accepted compiles here too. */
static int consumer_build(consumer *c, const cx_env_route *row)
{
    c->target = cx_slice_dup(row->target);
    c->spec = cx_slice_dup(row->spec);
    json_t *spec = c->spec ? json_loads(c->spec, JSON_ALLOW_NUL, NULL) : NULL;
    json_t *events = json_object_get(spec, "events");
    if (json_is_object(events)) {
        char *text = json_dumps(events, JSON_COMPACT);
        char why[256];
        if (!text || !(c->events = cx_schema_new(text, "action", why, sizeof why)))
            cx_warn("events schema of %s not compiled: %s", c->target ? c->target : "?", text ? why : "out of memory");
        free(text);
    }
    json_t *passthrough = json_object_get(spec, "passthrough_events");
    c->passthrough = json_is_array(passthrough) ? json_incref(passthrough) : NULL;
    json_decref(spec);
    return c->target && c->spec ? 0 : -1;
}

static consumer *find(consumer *list, size_t n, cx_slice target)
{
    for (size_t i = 0; i < n; i++)
        if (list[i].target && cx_slice_eq(target, list[i].target))
            return &list[i];
    return NULL;
}

void cx_event_catalog_update(cx_event_catalog *self, const cx_env *routes)
{
    consumer *fresh = calloc(routes->nroutes + 1, sizeof *fresh);
    if (!fresh)
        return;
    size_t n = 0;
    for (uint32_t i = 0; i < routes->nroutes; i++) {
        const cx_env_route *row = &routes->routes[i];
        if (!row->spec.len || find(fresh, n, row->target))
            continue;
        consumer *old = find(self->consumers, self->n, row->target);
        if (old && cx_slice_eq(row->spec, old->spec)) {
            fresh[n++] = *old;   /* unchanged: keep what was compiled */
            memset(old, 0, sizeof *old);
        } else if (consumer_build(&fresh[n], row) == 0) {
            n++;
        } else {
            consumer_free(&fresh[n]);
        }
    }
    for (size_t i = 0; i < self->n; i++)
        consumer_free(&self->consumers[i]);
    free(self->consumers);
    self->consumers = fresh;
    self->n = n;
    self->known = 1;
}

static int passes_through(const consumer *c, const char *action)
{
    size_t i;
    json_t *a;
    json_array_foreach(c->passthrough, i, a)
        if (json_is_string(a) && strcmp(json_string_value(a), action) == 0)
            return 1;
    return 0;
}

static int declares(const consumer *c, const char *action)
{
    for (size_t i = 0; i < cx_schema_action_count(c->events); i++)
        if (strcmp(cx_schema_action_name(c->events, i), action) == 0)
            return 1;
    return 0;
}

/* Appends 'name' to the list in out unless it is there already (two consumers may take one action). */
static void list_action(char *out, size_t len, size_t *used, const char *name)
{
    char quoted[160];
    snprintf(quoted, sizeof quoted, "'%s'", name);
    if (*used >= len || strstr(out, quoted))
        return;
    *used += (size_t) snprintf(out + *used, len - *used, "%s%s", *used ? ", " : "", quoted);
}

/* "'a', 'b', 'c'": every action some consumer takes, each once, for the message. */
static void known_actions(const cx_event_catalog *self, char *out, size_t len)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < self->n && used < len; i++) {
        const consumer *c = &self->consumers[i];
        for (size_t k = 0; k < cx_schema_action_count(c->events); k++)
            list_action(out, len, &used, cx_schema_action_name(c->events, k));
        size_t j;
        json_t *a;
        json_array_foreach(c->passthrough, j, a)
            list_action(out, len, &used, json_string_value(a));
    }
}

int cx_event_catalog_check(const cx_event_catalog *self, const char *action, const json_t *payload, char *message,
                           size_t len, json_t **errors)
{
    *errors = NULL;
    if (!self || !self->known || !self->n)   /* no table yet, or no worker registered: nothing to judge by */
        return 0;
    json_t *event = NULL;
    const char *first = NULL;   /* the first consumer that declares the action and refused the payload */
    int taken = 0;
    for (size_t i = 0; i < self->n && !taken; i++) {
        const consumer *c = &self->consumers[i];
        if (passes_through(c, action)) {
            taken = 1;
            break;
        }
        if (!c->events || !declares(c, action))
            continue;
        if (!event && !(event = json_pack("{s:s, s:O}", "action", action,   /* what a worker validates */
                                          "payload", payload ? (json_t *) payload : json_null())))
            return 0;   /* out of memory: not a reason to refuse the event */
        json_t *found = NULL;
        if (cx_schema_validate_object(c->events, event, &found) == 0) {
            taken = 1;
        } else if (!first) {
            first = c->target;
            *errors = found;
            found = NULL;
        }
        json_decref(found);
    }
    json_decref(event);   /* the errors hold their own references to the inputs they name */
    if (taken) {
        json_decref(*errors);
        *errors = NULL;
        return 0;
    }
    if (first) {
        snprintf(message, len, "event.payload: fits the events schema of no consumer that takes '%s' (errors: %s's)",
                 action, first);
        return -1;
    }
    char known[200];
    known_actions(self, known, sizeof known);
    snprintf(message, len, "event.action: no consumer takes '%s' (.events or .passthrough_events); taken: %s", action,
             known[0] ? known : "none");
    return -1;
}
