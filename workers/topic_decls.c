/*
 * topic_decls.c — checking and compiling a consumer's chanx_topic list.
 *
 * Everything a topic declares is checked before any client can reach it, as
 * the consumer's own fields are (plugins.c): a bad topic refuses the plugin
 * with a reason naming the consumer and the topic. A dedicated route must
 * provide every parameter of the pattern (Chanx raises the same complaint
 * at connect time, in _resolve_default_topic; here it is a load error).
 */
#include "workers/topic_decls.h"
#include "common/route.h"
#include "workers/camel.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cx_topic_decls {
    size_t n;
    cx_topic_decl *items;
};

static int name_ok(const char *name)
{
    if (!name || !*name)
        return 0;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_'
              || *p == '-'))
            return 0;
    return 1;
}

/* Whether the route (relative, "re:" for re_path) names the URL kwarg param. */
static int route_provides(const char *route, const char *param)
{
    char a[80], b[80], c[80];
    snprintf(a, sizeof a, ":%s>", param);
    snprintf(b, sizeof b, "<%s>", param);
    snprintf(c, sizeof c, "(?P<%s>", param);
    return strstr(route, a) || strstr(route, b) || strstr(route, c);
}

static const char *check_route(cx_topic_decl *d, const char *consumer)
{
    static __thread char why[200];
    const char *route = d->desc->route;
    int regex = strncmp(route, "re:", 3) == 0;
    cx_route *r = cx_route_new(regex ? CX_ROUTE_REGEX : CX_ROUTE_PATH, regex ? route + 3 : route, why, sizeof why);
    if (!r)
        return why;
    cx_route_destroy(&r);
    for (size_t i = 0; i < cx_topic_pattern_nparams(d->pattern); i++)
        if (!route_provides(route, cx_topic_pattern_param(d->pattern, i))) {
            snprintf(why, sizeof why, "route '%s' gives no URL parameter '%s' for the pattern", route,
                     cx_topic_pattern_param(d->pattern, i));
            return why;
        }
    if (asprintf(&d->route_consumer, "%s%c%s", consumer, CX_TOPIC_ROUTE_MARK, d->desc->name) < 0)
        return d->route_consumer = NULL, "out of memory";
    return NULL;
}

/* Compiles one topic; NULL or the reason. */
static const char *compile(cx_topic_decls *self, cx_topic_decl *d, const char *consumer, char *why, size_t cap)
{
    const chanx_topic *t = d->desc;
    if (!name_ok(t->name))
        return "a topic needs a .name of letters, digits, '_' and '-' (Chanx's class name)";
    for (size_t i = 0; i < self->n; i++)
        if (strcmp(self->items[i].desc->name, t->name) == 0)
            return "two topics share this name (their groups would collide)";
    if (!t->receive_message)
        return "no receive_message";
    if (!(d->pattern = cx_topic_pattern_new(t->pattern, why, cap)))
        return why;
    if (t->incoming && !(d->schema = cx_schema_new(t->incoming, "action", why, cap)))
        return why;
    if (t->outgoing) {
        cx_schema *out = cx_schema_new(t->outgoing, "action", why, cap);
        if (!out)
            return why;
        cx_schema_destroy(&out);
    }
    return t->route ? check_route(d, consumer) : NULL;
}

int cx_topic_decls_new(cx_topic_decls **out, const chanx_topic *const *topics, const char *short_name,
                       char *err, size_t errlen)
{
    *out = NULL;
    size_t n = 0;
    while (topics && topics[n])
        n++;
    if (n == 0)
        return 0;
    cx_topic_decls *self = calloc(1, sizeof *self);
    if (!self || !(self->items = calloc(n, sizeof *self->items))) {
        free(self);
        return snprintf(err, errlen, "out of memory"), -1;
    }
    for (size_t i = 0; i < n; i++) {
        char why[256];
        cx_topic_decl *d = &self->items[i];
        d->desc = topics[i];
        const char *problem = compile(self, d, short_name, why, sizeof why);
        self->n = i + 1;
        if (problem) {
            snprintf(err, errlen, "consumer '%s': topic '%s': %s", short_name,
                     topics[i]->name ? topics[i]->name : "(no name)", problem);
            cx_topic_decls_destroy(&self);
            return -1;
        }
    }
    *out = self;
    return 0;
}

void cx_topic_decls_destroy(cx_topic_decls **self_p)
{
    cx_topic_decls *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->n; i++) {
        cx_topic_pattern_destroy(&self->items[i].pattern);
        cx_schema_destroy(&self->items[i].schema);
        free(self->items[i].route_consumer);
    }
    free(self->items);
    free(self);
    *self_p = NULL;
}

size_t cx_topic_decls_count(const cx_topic_decls *self)
{
    return self ? self->n : 0;
}

const cx_topic_decl *cx_topic_decls_get(const cx_topic_decls *self, size_t i)
{
    return self && i < self->n ? &self->items[i] : NULL;
}

const cx_topic_decl *cx_topic_decls_match(const cx_topic_decls *self, const char *topic, size_t len, json_t *params)
{
    for (size_t i = 0; i < cx_topic_decls_count(self); i++)
        if (cx_topic_pattern_match(self->items[i].pattern, topic, len, params))
            return &self->items[i];
    return NULL;
}

const cx_topic_decl *cx_topic_decls_named(const cx_topic_decls *self, const char *name, size_t len)
{
    for (size_t i = 0; i < cx_topic_decls_count(self); i++)
        if (strlen(self->items[i].desc->name) == len && !memcmp(self->items[i].desc->name, name, len))
            return &self->items[i];
    return NULL;
}

int cx_topic_decls_passes(const cx_topic_decls *self, cx_slice action)
{
    for (size_t i = 0; i < cx_topic_decls_count(self); i++)
        for (const char *const *a = self->items[i].desc->passthrough_events; a && *a; a++)
            if (cx_slice_eq(action, *a))
                return 1;
    return 0;
}

static json_t *strings(const char *const *list)
{
    json_t *out = json_array();
    for (; list && *list; list++)
        json_array_append_new(out, json_string(*list));
    return out;
}

static json_t *describe_one(const cx_topic_decl *d)
{
    json_t *params = json_array();
    for (size_t i = 0; i < cx_topic_pattern_nparams(d->pattern); i++)
        json_array_append_new(params, json_string(cx_topic_pattern_param(d->pattern, i)));
    json_t *t = json_pack("{s:s, s:s, s:o, s:o}", "name", d->desc->name, "pattern", d->desc->pattern,
                          "parameters", params, "passthrough_events", strings(d->desc->passthrough_events));
    size_t cap = 2 * strlen(d->desc->name) + 1;   /* at most one '_' per character */
    char *snake = malloc(cap);                       /* Chanx's Topic.snake_name: x-topic's "name" */
    if (snake && cx_snakeize_key(d->desc->name, snake, cap) >= 0)
        json_object_set_new(t, "snake_name", json_string(snake));
    free(snake);
    if (d->desc->incoming)
        json_object_set_new(t, "incoming", json_loads(d->desc->incoming, 0, NULL));
    if (d->desc->outgoing)
        json_object_set_new(t, "outgoing", json_loads(d->desc->outgoing, 0, NULL));
    if (d->desc->route)
        json_object_set_new(t, "route", json_string(d->desc->route));
    if (d->desc->history_size)   /* for /asyncapi.json: subscribe's since, subscribed's epoch and seq */
        json_object_set_new(t, "history", json_pack("{s:i, s:i}", "size", d->desc->history_size, "ttl",
                                                    d->desc->history_ttl));
    return t;
}

void cx_topic_decls_describe(const cx_topic_decls *self, json_t *spec)
{
    if (!cx_topic_decls_count(self))
        return;
    json_t *list = json_array(), *passthrough = json_object_get(spec, "passthrough_events");
    if (!passthrough)
        json_object_set_new(spec, "passthrough_events", passthrough = json_array());
    for (size_t i = 0; i < self->n; i++) {
        json_array_append_new(list, describe_one(&self->items[i]));
        for (const char *const *a = self->items[i].desc->passthrough_events; a && *a; a++)
            json_array_append_new(passthrough, json_string(*a));
    }
    json_object_set_new(spec, "topics", list);
}
