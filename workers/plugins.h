/*
 * plugins.h — loading consumer plugins (*.so) into a worker.
 *
 * A plugin is a shared object whose constructors call
 * chanx_register_consumer() once per CHANX_CONSUMER. Loading one checks
 * everything a consumer declares before any client can reach it: the API
 * version, the incoming schema (compiled once here), the permission
 * expressions and the routes. A plugin with any error is refused whole, with
 * a log line naming the plugin and the place; the worker keeps the rest.
 */
#ifndef CX_WORKERS_PLUGINS_H
#define CX_WORKERS_PLUGINS_H

#include <stddef.h>
#include <jansson.h>
#include "chanx/consumer.h"
#include "workers/metrics.h"
#include "common/schema.h"
#include "workers/topic_decls.h"

typedef struct cx_plugin cx_plugin;

/* One consumer of a loaded plugin, with everything compiled from its descriptor. */
typedef struct {
    char *name;                        /* "plugin.consumer" */
    const char *short_name;            /* "consumer" */
    const chanx_consumer *desc;        /* the worker's full-size copy: fields the plugin lacks are zero */
    int api_version;                   /* the plugin API level the plugin was built for */
    cx_schema *schema;                 /* NULL when the consumer declares no incoming schema */
    cx_schema *event_schema;           /* .events compiled; NULL when it declares none */
    cx_topic_decls *topics;            /* .topics compiled; NULL when it declares none */
    json_t *spec;                      /* what the gateway needs: authentication, permissions, SQL */
    cx_plugin *plugin;
    cx_consumer_metrics *metrics;      /* its Prometheus series (workers/metrics.h) */
} cx_consumer_entry;

/* Loads path (a .so); NULL with the reason in err when refused. */
cx_plugin *cx_plugin_load(const char *path, char *err, size_t errlen);
/* Unloads when no connection uses it any more (see cx_plugin_ref). */
void cx_plugin_destroy(cx_plugin **self_p);
const char *cx_plugin_name(const cx_plugin *self);
/* The file it was loaded from, as deployed (not its private copy): what crash reports name. */
const char *cx_plugin_file(const cx_plugin *self);
size_t cx_plugin_consumer_count(const cx_plugin *self);
cx_consumer_entry *cx_plugin_consumer(cx_plugin *self, size_t index);
/* Connections hold a reference so a replaced plugin stays loaded until its last connection ends. */
void cx_plugin_ref(cx_plugin *self);
void cx_plugin_unref(cx_plugin *self);
int cx_plugin_refs(const cx_plugin *self);

/* Refuses to load a plugin file whose bytes have this digest (common/file_digest.h, 64 hex digits):
 * that version crashed its worker processes too often (workers/quarantine.c). A new version (other
 * bytes) loads: that lifts the quarantine; the same bytes renamed into place again do not. At most 16. */
void cx_plugin_quarantine(const char *digest);

/* sizeof(chanx_consumer) at plugin API 1, what an API 1 plugin's descriptor holds. */
size_t cx_plugin_api1_descriptor_size(void);
/* sizeof(chanx_consumer) at plugin API 2 (before .topics): the most an API 2 plugin may declare. */
size_t cx_plugin_api2_descriptor_size(void);

/* The plugin name for a file: "path/to/chat.so" → "chat" (also strips a "lib" prefix). */
int cx_plugin_name_of(const char *path, char *out, size_t outlen);

#endif
