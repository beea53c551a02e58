/*
 * routing_file.c — parses the routing file into one flat router (format in
 * routing_file.h).
 *
 * Mounts are composed at load time, not at match time: every include is
 * flattened into full routes (cx_route_join), so the gateway matches one
 * ordered list and never walks a tree. Flattening is also what makes the
 * errors useful: each composed route remembers the file and line that
 * produced it, so a route hidden by another is reported where it was written.
 *
 * Nested files are identified by realpath(), which is what cycle detection
 * compares; messages show them relative to the file that included them, so a
 * person can open them from the same folder the top file was named from.
 */
#include "workers/routing_file.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_DEPTH = 16, MAX_FIELDS = 3 };

typedef struct {
    const cx_plugin_routes *plugins;
    size_t nplugins;
    cx_router *router;
    char **origins;              /* "file:line" of each router entry (default mounts: "plugin 'p' consumer 'c'") */
    size_t norigins;
    const char *real[MAX_DEPTH]; /* the files being read, outermost first */
    const char *name[MAX_DEPTH];
    int depth;
    char *err;
    size_t errlen;
} loader;

/* Where the current line is, for messages. */
typedef struct {
    const char *file;
    int line;
} place;

static int fail(loader *L, place at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(loader *L, place at, const char *fmt, ...)
{
    if (!L->err || !L->errlen)
        return -1;
    int n = at.file ? snprintf(L->err, L->errlen, "%s:%d: ", at.file, at.line) : 0;
    if (n < 0 || (size_t) n >= L->errlen)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(L->err + n, L->errlen - (size_t) n, fmt, ap);
    va_end(ap);
    return -1;
}

static int add_route(loader *L, place at, cx_route *route, const char *plugin, const char *consumer)
{
    char *target = NULL, *origin = NULL;
    char **origins = realloc(L->origins, (L->norigins + 1) * sizeof *origins);
    if (origins)
        L->origins = origins;
    int ok = origins && asprintf(&target, "%s.%s", plugin, consumer) >= 0
          && (at.file ? asprintf(&origin, "%s:%d", at.file, at.line)
                      : asprintf(&origin, "plugin '%s' consumer '%s'", plugin, consumer)) >= 0;
    if (!ok || cx_router_add(L->router, route, target) < 0) {
        if (!ok)
            cx_route_destroy(&route);
        free(target);
        free(origin);
        return fail(L, at, "out of memory");
    }
    free(target);
    L->origins[L->norigins++] = origin;
    return 0;
}

static const cx_plugin_routes *find_plugin(const loader *L, const char *name, size_t len)
{
    for (size_t i = 0; i < L->nplugins; i++)
        if (strlen(L->plugins[i].name) == len && strncmp(L->plugins[i].name, name, len) == 0)
            return &L->plugins[i];
    return NULL;
}

static int include_plugin(loader *L, place at, const cx_route *prefix, const cx_plugin_routes *p)
{
    char msg[512];
    if (p->elsewhere)
        return 0;
    for (size_t i = 0; i < p->nroutes; i++) {
        const cx_plugin_route *r = &p->routes[i];
        cx_route *rel = cx_route_new(r->kind, r->pattern, msg, sizeof msg);
        if (!rel)
            return fail(L, at, "plugin '%s' consumer '%s': %s", p->name, r->consumer, msg);
        cx_route *full = cx_route_join(prefix, rel, msg, sizeof msg);
        cx_route_destroy(&rel);
        if (!full)
            return fail(L, at, "plugin '%s' consumer '%s': %s", p->name, r->consumer, msg);
        if (add_route(L, at, full, p->name, r->consumer) < 0)
            return -1;
    }
    return 0;
}

static int mount_consumer(loader *L, place at, const cx_route *route, const char *what)
{
    const char *dot = strchr(what, '.');
    if (!dot)
        return fail(L, at, "expected <plugin>.<consumer>, got '%s'", what);
    const cx_plugin_routes *p = find_plugin(L, what, (size_t) (dot - what));
    if (!p)
        return fail(L, at, "unknown plugin '%.*s'", (int) (dot - what), what);
    if (p->elsewhere)
        return 0;
    for (size_t i = 0; i < p->nroutes; i++) {
        if (strcmp(p->routes[i].consumer, dot + 1) != 0)
            continue;
        char msg[512];
        cx_route *copy = cx_route_new(cx_route_kind_of(route), cx_route_pattern(route), msg, sizeof msg);
        if (!copy)
            return fail(L, at, "%s", msg);
        return add_route(L, at, copy, p->name, p->routes[i].consumer);
    }
    return fail(L, at, "unknown consumer '%s'", what);
}

static int load_stream(loader *L, const char *name, const char *real, FILE *fp, const cx_route *outer);

/* "file:<path>": relative to the including file's folder. */
static int include_file(loader *L, place at, const cx_route *prefix, const char *arg)
{
    const char *slash = strrchr(at.file, '/');
    char *name = NULL, *real = NULL;
    int rc = -1, dir_len = arg[0] == '/' || !slash ? 0 : (int) (slash - at.file + 1);
    if (asprintf(&name, "%.*s%s", dir_len, at.file, arg) < 0)
        return fail(L, at, "out of memory");
    if (!(real = realpath(name, NULL))) {
        fail(L, at, "cannot open '%s': %s", arg, strerror(errno));
        goto done;
    }
    for (int d = 0; d < L->depth; d++)
        if (strcmp(L->real[d], real) == 0) {
            fail(L, at, "include cycle through %s", L->name[d]);
            goto done;
        }
    if (L->depth == MAX_DEPTH) {
        fail(L, at, "includes nested deeper than %d files", MAX_DEPTH);
        goto done;
    }
    FILE *fp = fopen(real, "r");
    if (!fp) {
        fail(L, at, "cannot open '%s': %s", arg, strerror(errno));
        goto done;
    }
    rc = load_stream(L, name, real, fp, prefix);
    fclose(fp);
done:
    free(real);
    free(name);
    return rc;
}

/* The first field: a path pattern, "re:<regex>" or "" for the empty prefix. */
static cx_route *parse_prefix(loader *L, place at, const char *text, const cx_route *outer)
{
    char msg[512];
    cx_route *own;
    if (strncmp(text, "re:", 3) == 0)
        own = cx_route_new(CX_ROUTE_REGEX, text + 3, msg, sizeof msg);
    else
        own = cx_route_new(CX_ROUTE_PATH, strcmp(text, "\"\"") == 0 ? "" : text, msg, sizeof msg);
    if (!own || !outer) {
        if (!own)
            fail(L, at, "%s", msg);
        return own;
    }
    cx_route *full = cx_route_join(outer, own, msg, sizeof msg);
    cx_route_destroy(&own);
    if (!full)
        fail(L, at, "%s", msg);
    return full;
}

static int do_line(loader *L, place at, char **f, int n, const cx_route *outer)
{
    if (n != MAX_FIELDS || (strcmp(f[1], "include") != 0 && strcmp(f[1], "consumer") != 0))
        return fail(L, at, "expected '<prefix> include <plugin>', '<prefix> include file:<path>'"
                           " or '<pattern> consumer <plugin>.<consumer>'");
    cx_route *prefix = parse_prefix(L, at, f[0], outer);
    if (!prefix)
        return -1;
    int rc;
    if (strcmp(f[1], "consumer") == 0) {
        rc = mount_consumer(L, at, prefix, f[2]);
    } else if (strncmp(f[2], "file:", 5) == 0) {
        rc = include_file(L, at, prefix, f[2] + 5);
    } else {
        const cx_plugin_routes *p = find_plugin(L, f[2], strlen(f[2]));
        rc = p ? include_plugin(L, at, prefix, p) : fail(L, at, "unknown plugin '%s'", f[2]);
    }
    cx_route_destroy(&prefix);
    return rc;
}

/* Splits on blanks up to a field starting with '#'; returns the field count,
 * MAX_FIELDS + 1 when there are more. */
static int split_fields(char *line, char **f)
{
    int n = 0;
    char *save = NULL;
    for (char *p = strtok_r(line, " \t\r\n", &save); p && *p != '#'; p = strtok_r(NULL, " \t\r\n", &save)) {
        if (n == MAX_FIELDS)
            return MAX_FIELDS + 1;
        f[n++] = p;
    }
    return n;
}

static int load_stream(loader *L, const char *name, const char *real, FILE *fp, const cx_route *outer)
{
    L->real[L->depth] = real;
    L->name[L->depth] = name;
    L->depth++;
    char *line = NULL;
    size_t cap = 0;
    int rc = 0;
    place at = {name, 0};
    while (rc == 0 && getline(&line, &cap, fp) >= 0) {
        char *f[MAX_FIELDS];
        at.line++;
        int n = split_fields(line, f);
        if (n > 0)
            rc = do_line(L, at, f, n, outer);
    }
    if (rc == 0 && ferror(fp))
        rc = fail(L, at, "read error: %s", strerror(errno));
    free(line);
    L->depth--;
    return rc;
}

/* After composing: a route hidden by an earlier one can never be reached. */
static int check_hidden(loader *L)
{
    for (size_t i = 1; i < cx_router_size(L->router); i++) {
        long by = cx_router_hidden_by(L->router, i);
        if (by >= 0)
            return fail(L, (place) {NULL, 0}, "%s: route '%s' is hidden by '%s' (%s)", L->origins[i],
                        cx_route_pattern(cx_router_route(L->router, i)),
                        cx_route_pattern(cx_router_route(L->router, (size_t) by)), L->origins[by]);
    }
    return 0;
}

static cx_router *finish(loader *L, int rc)
{
    if (rc == 0)
        rc = check_hidden(L);
    for (size_t i = 0; i < L->norigins; i++)
        free(L->origins[i]);
    free(L->origins);
    if (rc < 0)
        cx_router_destroy(&L->router);
    return L->router;
}

static int start(loader *L, const cx_plugin_routes *plugins, size_t nplugins, char *err, size_t errlen)
{
    *L = (loader) {.plugins = plugins, .nplugins = nplugins, .err = err, .errlen = errlen};
    if (err && errlen)
        err[0] = '\0';
    L->router = cx_router_new();
    return L->router ? 0 : fail(L, (place) {NULL, 0}, "out of memory");
}

cx_router *cx_routing_file_load(const char *path, const cx_plugin_routes *plugins, size_t nplugins,
                                char *err, size_t errlen)
{
    loader L;
    if (start(&L, plugins, nplugins, err, errlen) < 0)
        return NULL;
    char *real = path ? realpath(path, NULL) : NULL;
    FILE *fp = real ? fopen(real, "r") : NULL;
    int rc;
    if (!fp)
        rc = fail(&L, (place) {NULL, 0}, "cannot open routing file '%s': %s", path ? path : "(null)",
                  strerror(path ? errno : EINVAL));
    else
        rc = load_stream(&L, path, real, fp, NULL);
    if (fp)
        fclose(fp);
    free(real);
    return finish(&L, rc);
}

cx_router *cx_routing_default(const cx_plugin_routes *plugins, size_t nplugins, char *err, size_t errlen)
{
    loader L;
    if (start(&L, plugins, nplugins, err, errlen) < 0)
        return NULL;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < nplugins; i++) {
        char *text = NULL, msg[512];
        if (asprintf(&text, "ws/%s/", plugins[i].name) < 0)
            return finish(&L, fail(&L, (place) {NULL, 0}, "out of memory"));
        cx_route *prefix = cx_route_new(CX_ROUTE_PATH, text, msg, sizeof msg);
        free(text);
        rc = prefix ? include_plugin(&L, (place) {NULL, 0}, prefix, &plugins[i])
                    : fail(&L, (place) {NULL, 0}, "plugin '%s': %s", plugins[i].name, msg);
        cx_route_destroy(&prefix);
    }
    return finish(&L, rc);
}
