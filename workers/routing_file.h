/*
 * routing_file.h — the deployment's routing file: which plugin is mounted where.
 *
 * A plugin declares routes relative to wherever it is mounted, like a Django
 * app's routing.py; the deployment decides the mounts, like the project's
 * include() calls. Keeping the mounts in a plain text file (one mount a line)
 * lets operators read, diff and review them without rebuilding any plugin.
 * Without a file every plugin is mounted at "ws/<plugin name>/".
 *
 * Format (paste-able into the README):
 *
 *     # <prefix>                  <verb>    <argument>
 *     ws/chat/                      include   chat
 *     ws/<str:tenant>/chat/         include   chat             # a plugin may be mounted twice
 *     re:^ws/v(?P<version>[0-9]+)/  include   file:v2.routes   # nested file, relative to this one
 *     ws/legacy/echo/               consumer  echo.echo        # one consumer, at exactly this path
 *
 *  - One mount a line: three fields separated by spaces or tabs. Blank lines
 *    are ignored; a field starting with '#' starts a comment to the end of the
 *    line (so '#' inside a pattern is fine). Patterns cannot contain spaces;
 *    write \x20 in a regex if a path really needs one.
 *  - <prefix> is a path() pattern (converters allowed, kwargs merged with the
 *    consumer's), "re:" followed by a re_path() regex, or "" for the empty
 *    prefix. Matching rules are those of common/route.h.
 *  - include <plugin>: every route the plugin declares, prefix + relative
 *    route, in the plugin's order, targets "<plugin>.<consumer>".
 *  - include file:<path>: the mounts of another routing file, each under this
 *    prefix; <path> is relative to the including file's folder. Include
 *    cycles and nesting deeper than 16 files are errors.
 *  - consumer <plugin>.<consumer>: the prefix is the consumer's whole route,
 *    as path("ws/legacy/echo/", EchoConsumer.as_asgi()) would be; the
 *    plugin's own relative route is not used.
 *  - Order matters: the first matching route wins, as in Django. A route that
 *    an earlier one hides entirely is an error, reported at its own line.
 *
 * Errors name the file (as given, nested files relative to it) and the line:
 *   "routing.conf:3: unknown plugin 'chta'"
 *   "routing.conf:5: bad converter 'itn' in '<itn:x>/'"
 *   "v2.routes:2: include cycle through routing.conf"
 *   "routing.conf:4: route 'ws/chat/<str:room>/' is hidden by 'ws/chat/<path:rest>' (routing.conf:2)"
 */
#ifndef CX_WORKERS_ROUTING_FILE_H
#define CX_WORKERS_ROUTING_FILE_H

#include "common/route.h"

#include <stddef.h>

/* One consumer's route, relative to its plugin's mount point. */
typedef struct {
    const char *consumer;   /* "room" */
    cx_route_kind kind;
    const char *pattern;    /* "<str:room_id>/" */
} cx_plugin_route;

/* What the worker knows about one loaded plugin. */
typedef struct {
    const char *name;       /* "chat" */
    const cx_plugin_route *routes;
    size_t nroutes;
    int elsewhere;          /* in the folder but served by other worker processes (CHANX_ISOLATE=plugin):
                             * its mounts are accepted and left out of this process's routes */
} cx_plugin_routes;

/* Loads a routing file into the full route list, (joined route, "plugin.consumer")
 * in order. NULL with a "file:line: message" in err on any error. */
cx_router *cx_routing_file_load(const char *path, const cx_plugin_routes *plugins, size_t nplugins,
                                char *err, size_t errlen);
/* Every plugin at "ws/<name>/", with the same checks. */
cx_router *cx_routing_default(const cx_plugin_routes *plugins, size_t nplugins, char *err, size_t errlen);

#endif
