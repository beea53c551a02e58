/*
 * plugin_set.c — the plugins a worker serves, their routes, and the folder
 * they are dropped into.
 *
 * Current plugins are found by name; a plugin replaced on disk moves to the
 * retired list, where it stays loaded until its last connection ends, so
 * existing connections finish on the old code while new ones get the new.
 * The folder is watched with inotify for files closed after writing or moved
 * in (deploy tools rename a finished file into place); only *.so names count.
 *
 * Routes: each consumer's relative routes are mounted at "ws/<plugin>/", or
 * where the deployment routing file says (workers/routing_file.h).
 *
 * Under CHANX_ISOLATE=plugin a worker process serves one plugin file
 * (`only`): it loads and reloads that name alone, and the routing file's
 * mounts of the folder's other plugins are left to their own processes.
 */
#include "workers/worker.h"
#include "common/log.h"
#include "common/route.h"
#include "workers/routing_file.h"

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#define MAX_PLUGINS 128

struct cx_plugin_set {
    char *dir;
    char *routing_file;
    char *only;            /* the one file name served (CHANX_ISOLATE=plugin), or NULL: every *.so */
    cx_plugin *current[MAX_PLUGINS];
    size_t ncurrent;
    cx_plugin *retired[MAX_PLUGINS];
    size_t nretired;
    cx_router *router;     /* composed routes: target "plugin.consumer" */
    int watch_fd;
};

static int has_so_suffix(const char *name)
{
    size_t n = strlen(name);
    return n > 3 && strcmp(name + n - 3, ".so") == 0 && name[0] != '.';
}

/* Whether this process loads the file called name. */
static int serves_file(const cx_plugin_set *self, const char *name)
{
    return has_so_suffix(name) && (!self->only || strcmp(name, self->only) == 0);
}

static void retire(cx_plugin_set *self, size_t index)
{
    cx_plugin *old = self->current[index];
    self->current[index] = self->current[--self->ncurrent];
    if (cx_plugin_refs(old) == 0 || self->nretired == MAX_PLUGINS)
        cx_plugin_destroy(&old);
    else
        self->retired[self->nretired++] = old;
}

/* What the routing file needs to know of one plugin: each consumer's relative routes, "re:" marking
 * re_path(). The routes array is owned by the caller (NULL when out of memory). */
static cx_plugin_routes describe_plugin(cx_plugin *p)
{
    size_t n = 0;
    for (size_t j = 0; j < cx_plugin_consumer_count(p); j++) {
        const char *const *r = cx_plugin_consumer(p, j)->desc->routes;
        n += (r && *r ? 0 : 1) + cx_topic_decls_count(cx_plugin_consumer(p, j)->topics);
        for (; r && *r; r++)
            n++;
    }
    cx_plugin_route *routes = calloc(n + 1, sizeof *routes);
    cx_plugin_routes out = { .name = cx_plugin_name(p), .routes = routes };
    for (size_t j = 0; routes && j < cx_plugin_consumer_count(p); j++) {
        cx_consumer_entry *e = cx_plugin_consumer(p, j);
        const char *const *r = e->desc->routes;
        if (!r || !*r)
            routes[out.nroutes++] = (cx_plugin_route) { e->short_name, CX_ROUTE_PATH, "" };
        for (; r && *r; r++) {
            int regex = strncmp(*r, "re:", 3) == 0;
            routes[out.nroutes++] = (cx_plugin_route) { e->short_name, regex ? CX_ROUTE_REGEX : CX_ROUTE_PATH,
                                                        regex ? *r + 3 : *r };
        }
        /* A topic's own route (Topic.as_consumer()) is the consumer "<consumer>#<topic>". */
        for (size_t k = 0; k < cx_topic_decls_count(e->topics); k++) {
            const cx_topic_decl *t = cx_topic_decls_get(e->topics, k);
            if (!t->route_consumer)
                continue;
            int regex = strncmp(t->desc->route, "re:", 3) == 0;
            routes[out.nroutes++] = (cx_plugin_route) { t->route_consumer, regex ? CX_ROUTE_REGEX : CX_ROUTE_PATH,
                                                        t->desc->route + (regex ? 3 : 0) };
        }
    }
    return out;
}

static cx_plugin_routes *describe_plugins(cx_plugin_set *self)
{
    cx_plugin_routes *out = calloc(self->ncurrent + 1, sizeof *out);
    for (size_t i = 0; out && i < self->ncurrent; i++)
        out[i] = describe_plugin(self->current[i]);
    return out;
}

/* Without a routing file every plugin has a mount of its own (ws/<plugin>/), so only its own routes can
 * clash: two consumers without .routes, a route another of its routes hides. Such a plugin could
 * never be served whole, and taken in it would block every later change of the folder's routes and
 * stop the worker at its next start; it is refused like any broken file instead. 0 when it mounts. */
static int check_own_routes(const cx_plugin_set *self, cx_plugin *plugin, char *err, size_t errlen)
{
    if (self->routing_file)
        return 0;   /* the deployment's file decides the mounts: its errors are reported as the file's */
    cx_plugin_routes one = describe_plugin(plugin);
    cx_router *router = one.routes ? cx_routing_default(&one, 1, err, errlen) : NULL;
    if (!one.routes)
        snprintf(err, errlen, "out of memory");
    free((void *) one.routes);
    if (!router)
        return -1;
    cx_router_destroy(&router);
    return 0;
}

/* Loads path, replacing a current plugin of the same name. Returns 1 if loaded. */
static int load_one(cx_plugin_set *self, const char *path)
{
    char err[768], why[512];
    cx_plugin *plugin = cx_plugin_load(path, err, sizeof err);
    if (plugin && check_own_routes(self, plugin, why, sizeof why) != 0) {   /* a good version it replaces stays */
        snprintf(err, sizeof err, "plugin %s: %s", cx_plugin_name(plugin), why);
        cx_plugin_destroy(&plugin);
    }
    cx_worker_count_plugin(plugin != NULL);
    if (!plugin) {   /* the deployed file named beside the reason, which may name only the private copy */
        char event[800];
        snprintf(event, sizeof event, "refused %s", err);
        cx_log_fields(CX_LOG_ERROR, event, json_pack("{s:s}", "plugin_file", path));
        return 0;
    }
    for (size_t i = 0; i < self->ncurrent; i++)
        if (strcmp(cx_plugin_name(self->current[i]), cx_plugin_name(plugin)) == 0) {
            retire(self, i);
            break;
        }
    if (self->ncurrent == MAX_PLUGINS) {
        cx_error("refused %s: more than %d plugins", path, MAX_PLUGINS);
        cx_plugin_destroy(&plugin);
        return 0;
    }
    self->current[self->ncurrent++] = plugin;
    cx_info("loaded plugin %s (%zu consumers) from %s", cx_plugin_name(plugin),
            cx_plugin_consumer_count(plugin), path);
    return 1;
}

static int load_dir(cx_plugin_set *self)
{
    DIR *d = opendir(self->dir);
    if (!d) {
        cx_error("cannot open plugin folder %s: %m", self->dir);
        return -1;
    }
    for (struct dirent *e; (e = readdir(d));) {
        if (!serves_file(self, e->d_name))
            continue;
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", self->dir, e->d_name);
        load_one(self, path);
    }
    closedir(d);
    return 0;
}

/* Under CHANX_ISOLATE=plugin, the folder's other plugin files, named for the routing file (their mounts
 * are other processes' routes, not unknown plugins), after the n described in plugins. Returns the count. */
static size_t describe_elsewhere(cx_plugin_set *self, cx_plugin_routes **plugins, size_t n, char ***names)
{
    DIR *d = self->only ? opendir(self->dir) : NULL;
    size_t nnames = 0;
    for (struct dirent *e; d && (e = readdir(d));) {
        char name[128];
        if (!has_so_suffix(e->d_name) || (serves_file(self, e->d_name) && self->ncurrent > 0)
            || cx_plugin_name_of(e->d_name, name, sizeof name))
            continue;
        cx_plugin_routes *grown = realloc(*plugins, (n + nnames + 1) * sizeof *grown);
        char **grown_names = realloc(*names, (nnames + 1) * sizeof *grown_names);
        if (grown)
            *plugins = grown;
        if (grown_names)
            *names = grown_names;
        if (!grown || !grown_names || !((*names)[nnames] = strdup(name)))
            break;
        (*plugins)[n + nnames] = (cx_plugin_routes) { .name = (*names)[nnames], .elsewhere = 1 };
        nnames++;
    }
    if (d)
        closedir(d);
    return nnames;
}

static int compose_routes(cx_plugin_set *self, char *err, size_t errlen)
{
    cx_plugin_routes *plugins = describe_plugins(self);
    if (!plugins)
        return snprintf(err, errlen, "out of memory"), -1;
    char **names = NULL;
    size_t nelsewhere = describe_elsewhere(self, &plugins, self->ncurrent, &names);
    cx_router *router = self->routing_file
                            ? cx_routing_file_load(self->routing_file, plugins, self->ncurrent + nelsewhere, err, errlen)
                            : cx_routing_default(plugins, self->ncurrent, err, errlen);
    for (size_t i = 0; i < self->ncurrent; i++)
        free((void *) plugins[i].routes);
    for (size_t i = 0; i < nelsewhere; i++)
        free(names[i]);
    free(names);
    free(plugins);
    if (!router)
        return -1;
    cx_router_destroy(&self->router);
    self->router = router;
    return 0;
}

cx_plugin_set *cx_plugin_set_new(const char *dir, const char *routing_file, const char *only, char *err,
                                 size_t errlen)
{
    cx_plugin_set *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->dir = strdup(dir);
    self->only = only ? strdup(only) : NULL;
    self->routing_file = routing_file ? strdup(routing_file) : NULL;
    self->watch_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (self->watch_fd >= 0 && inotify_add_watch(self->watch_fd, dir, IN_CLOSE_WRITE | IN_MOVED_TO) < 0) {
        close(self->watch_fd);
        self->watch_fd = -1;
    }
    if (load_dir(self) != 0) {
        snprintf(err, errlen, "cannot open plugin folder %s", dir);
        cx_plugin_set_destroy(&self);
        return NULL;
    }
    if (compose_routes(self, err, errlen) != 0)
        cx_plugin_set_destroy(&self);
    return self;
}

void cx_plugin_set_destroy(cx_plugin_set **self_p)
{
    if (!self_p || !*self_p)
        return;
    cx_plugin_set *self = *self_p;
    while (self->ncurrent)
        cx_plugin_destroy(&self->current[--self->ncurrent]);
    while (self->nretired)
        cx_plugin_destroy(&self->retired[--self->nretired]);
    cx_router_destroy(&self->router);
    if (self->watch_fd >= 0)
        close(self->watch_fd);
    free(self->dir);
    free(self->routing_file);
    free(self->only);
    free(self);
    *self_p = NULL;
}

size_t cx_plugin_set_count(const cx_plugin_set *self)
{
    return self->ncurrent;
}

cx_consumer_entry *cx_plugin_set_find(cx_plugin_set *self, cx_slice name)
{
    const char *mark = memchr(name.ptr, CX_TOPIC_ROUTE_MARK, name.len);   /* a topic's own route */
    if (mark)
        name.len = (uint32_t) (mark - name.ptr);
    for (size_t i = 0; i < self->ncurrent; i++)
        for (size_t j = 0; j < cx_plugin_consumer_count(self->current[i]); j++) {
            cx_consumer_entry *e = cx_plugin_consumer(self->current[i], j);
            if (cx_slice_eq(name, e->name))
                return e;
        }
    return NULL;
}

size_t cx_plugin_set_routes(cx_plugin_set *self, cx_env_route **rows, char ***texts)
{
    size_t n = self->router ? cx_router_size(self->router) : 0;
    *rows = calloc(n + 1, sizeof **rows);
    *texts = calloc(n + 1, sizeof **texts);
    if (!*rows || !*texts)
        return 0;
    size_t out = 0;
    for (size_t i = 0; i < n; i++) {
        const char *target = cx_router_target(self->router, i);
        cx_consumer_entry *e = cx_plugin_set_find(self, cx_slice_of(target));
        if (!e)
            continue;
        char *spec = json_dumps(e->spec, JSON_COMPACT);
        (*texts)[out] = spec;
        (*rows)[out] = (cx_env_route) {
            .kind = cx_route_kind_of(cx_router_route(self->router, i)) == CX_ROUTE_REGEX,
            .pattern = cx_slice_of(cx_route_pattern(cx_router_route(self->router, i))),
            .target = cx_slice_of(target), .spec = cx_slice_of(spec), .available = 1,
        };
        out++;
    }
    return out;
}

int cx_plugin_set_watch_fd(const cx_plugin_set *self)
{
    return self->watch_fd;
}

int cx_plugin_set_rescan(cx_plugin_set *self)
{
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    int loaded = 0;
    ssize_t n;
    while (self->watch_fd >= 0 && (n = read(self->watch_fd, buf, sizeof buf)) > 0) {
        for (char *p = buf; p < buf + n;) {
            struct inotify_event *ev = (struct inotify_event *) p;
            p += sizeof *ev + ev->len;
            if (ev->len == 0 || !serves_file(self, ev->name))
                continue;
            char path[PATH_MAX];
            snprintf(path, sizeof path, "%s/%s", self->dir, ev->name);
            loaded += load_one(self, path);
        }
    }
    if (!loaded)
        return 0;
    char err[512];
    if (compose_routes(self, err, sizeof err) != 0) {
        cx_error("routes unchanged: %s", err);
        return 0;
    }
    return 1;
}

void cx_plugin_set_release(cx_plugin_set *self, cx_plugin *plugin)
{
    if (cx_plugin_refs(plugin) > 0)
        return;
    for (size_t i = 0; i < self->nretired; i++)
        if (self->retired[i] == plugin) {
            cx_info("unloaded replaced plugin %s: its last connection ended", cx_plugin_name(plugin));
            cx_plugin_destroy(&self->retired[i]);
            self->retired[i] = self->retired[--self->nretired];
            return;
        }
}
