/*
 * worker.h — a worker process's main object (see worker.c) and the set of
 * plugins it serves (see plugin_set.c).
 */
#ifndef CX_WORKERS_WORKER_H
#define CX_WORKERS_WORKER_H

#include "proto/envelope.h"
#include "workers/plugins.h"

/* ------------------------------------------------------------ plugin set */

typedef struct cx_plugin_set cx_plugin_set;

/* Loads every *.so in dir, or only the file named only ("chat.so", CHANX_ISOLATE=plugin; NULL: all);
 * routing_file (may be NULL) mounts them. NULL with err when the routing file is wrong (a plugin that
 * fails to load is logged and skipped, not fatal). */
cx_plugin_set *cx_plugin_set_new(const char *dir, const char *routing_file, const char *only, char *err,
                                 size_t errlen);
void cx_plugin_set_destroy(cx_plugin_set **self_p);
size_t cx_plugin_set_count(const cx_plugin_set *self);
/* The current consumer called name ("plugin.consumer"), or NULL. */
cx_consumer_entry *cx_plugin_set_find(cx_plugin_set *self, cx_slice name);
/* The route rows for REGISTER; *rows and each (*texts)[i] are malloc'd for the caller to free. */
size_t cx_plugin_set_routes(cx_plugin_set *self, cx_env_route **rows, char ***texts);
/* inotify fd on the plugin folder, -1 when not watching. */
int cx_plugin_set_watch_fd(const cx_plugin_set *self);
/* Handles folder events: loads new and replaced plugins. Returns 1 if the routes changed. */
int cx_plugin_set_rescan(cx_plugin_set *self);
/* A connection on plugin ended: unloads a replaced plugin once nothing uses it. */
void cx_plugin_set_release(cx_plugin_set *self, cx_plugin *plugin);

/* ---------------------------------------------------------------- worker */

typedef struct cx_worker cx_worker;

/* node: the link's name (proto/README.md), NULL for worker-<host>-<pid>. */
cx_worker *cx_worker_new(const char *endpoint, const char *node, cx_plugin_set *plugins);
void cx_worker_destroy(cx_worker **self_p);
/* Runs until *stop; then closes its connections with 1012 so clients reconnect elsewhere. */
int cx_worker_run(cx_worker *self, volatile int *stop);

#endif
