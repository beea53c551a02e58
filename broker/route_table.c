/*
 * route_table.c — rows kept in registration order, each with the workers
 * serving it (see route_table.h).
 *
 * Tables are small (tens of rows) and change only when workers come and go,
 * so plain arrays and linear scans are the clearest choice here.
 */
#include "broker/route_table.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint8_t kind;
    char *pattern, *target, *spec;
    void **workers;
    size_t nworkers;
    int quarantined;    /* its plugin crashed its workers too often: published as CX_ROUTE_QUARANTINED */
} row;

struct cx_route_table {
    row *rows;
    size_t nrows;
    cx_env_route *published;   /* scratch for the ROUTES envelope */
};

cx_route_table *cx_route_table_new(void)
{
    return calloc(1, sizeof(cx_route_table));
}

void cx_route_table_destroy(cx_route_table **self_p)
{
    if (!self_p || !*self_p)
        return;
    cx_route_table *self = *self_p;
    for (size_t i = 0; i < self->nrows; i++) {
        free(self->rows[i].pattern);
        free(self->rows[i].target);
        free(self->rows[i].spec);
        free(self->rows[i].workers);
    }
    free(self->rows);
    free(self->published);
    free(self);
    *self_p = NULL;
}

static int row_has_worker(const row *r, void *worker)
{
    for (size_t i = 0; i < r->nworkers; i++)
        if (r->workers[i] == worker)
            return 1;
    return 0;
}

/* Removes worker from every row; returns 1 if some row lost its last worker. */
static int drop_worker(cx_route_table *self, void *worker)
{
    int changed = 0;
    for (size_t i = 0; i < self->nrows; i++) {
        row *r = &self->rows[i];
        for (size_t j = 0; j < r->nworkers; j++) {
            if (r->workers[j] != worker)
                continue;
            r->workers[j] = r->workers[--r->nworkers];
            changed |= r->nworkers == 0;
            break;
        }
    }
    return changed;
}

static row *find_row(cx_route_table *self, const cx_env_route *in)
{
    for (size_t i = 0; i < self->nrows; i++) {
        row *r = &self->rows[i];
        if (r->kind == in->kind && cx_slice_eq(in->pattern, r->pattern) && cx_slice_eq(in->target, r->target))
            return r;
    }
    return NULL;
}

static row *add_row(cx_route_table *self, const cx_env_route *in)
{
    row *grown = realloc(self->rows, (self->nrows + 1) * sizeof *grown);
    if (!grown)
        return NULL;
    self->rows = grown;
    row *r = &self->rows[self->nrows++];
    *r = (row) { .kind = in->kind, .pattern = cx_slice_dup(in->pattern), .target = cx_slice_dup(in->target),
                 .spec = cx_slice_dup(in->spec) };
    return r;
}

/* Newer registrations win the spec: a worker with a newer plugin version
 * brings its newer authentication settings. Returns 1 if the spec changed. */
static int update_spec(row *r, cx_slice spec)
{
    if (cx_slice_eq(spec, r->spec))
        return 0;
    free(r->spec);
    r->spec = cx_slice_dup(spec);
    return 1;
}

int cx_route_table_set_worker(cx_route_table *self, void *worker, const cx_env_route *rows, size_t nrows)
{
    int changed = drop_worker(self, worker);
    for (size_t i = 0; i < nrows; i++) {
        row *r = find_row(self, &rows[i]);
        if (!r) {
            if (!(r = add_row(self, &rows[i])))
                return -1;
            changed = 1;
        } else {
            changed |= update_spec(r, rows[i].spec);
        }
        if (row_has_worker(r, worker))
            continue;
        void **grown = realloc(r->workers, (r->nworkers + 1) * sizeof *grown);
        if (!grown)
            return -1;
        r->workers = grown;
        r->workers[r->nworkers++] = worker;
        changed |= r->nworkers == 1;
        r->quarantined = 0;   /* served again: a new version of the plugin was deployed */
    }
    return changed;
}

/* Whether the row's target is one of plugin's consumers: "plugin.consumer". */
static int of_plugin(const row *r, const char *plugin)
{
    size_t len = strlen(plugin);
    return strncmp(r->target, plugin, len) == 0 && r->target[len] == '.';
}

int cx_route_table_has_plugin(const cx_route_table *self, const char *plugin)
{
    for (size_t i = 0; i < self->nrows; i++)
        if (of_plugin(&self->rows[i], plugin))
            return 1;
    return 0;
}

size_t cx_route_table_quarantine(cx_route_table *self, const char *plugin)
{
    size_t n = 0;
    for (size_t i = 0; i < self->nrows; i++) {
        row *r = &self->rows[i];
        if (of_plugin(r, plugin) && !r->quarantined) {
            r->quarantined = 1;
            n++;
        }
    }
    return n;
}

/* Whether rows i and j are of one plugin: the same text before the first '.' of their targets. */
static int same_plugin(const row *a, const row *b)
{
    size_t n = strcspn(a->target, ".");
    return n == strcspn(b->target, ".") && strncmp(a->target, b->target, n) == 0;
}

void cx_route_table_each_plugin(const cx_route_table *self, void (*fn)(const char *plugin, int quarantined))
{
    for (size_t i = 0; i < self->nrows; i++) {
        size_t first = 0;
        while (!same_plugin(&self->rows[first], &self->rows[i]))
            first++;
        if (first < i)
            continue;   /* told at its first row */
        int quarantined = 0;
        for (size_t j = i; j < self->nrows; j++)
            quarantined |= same_plugin(&self->rows[i], &self->rows[j]) && self->rows[j].quarantined;
        char plugin[256];
        snprintf(plugin, sizeof plugin, "%.*s", (int) strcspn(self->rows[i].target, "."), self->rows[i].target);
        fn(plugin, quarantined);
    }
}

int cx_route_table_remove_worker(cx_route_table *self, void *worker)
{
    return drop_worker(self, worker);
}

size_t cx_route_table_workers(const cx_route_table *self, cx_slice target, void **out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < self->nrows; i++) {
        const row *r = &self->rows[i];
        if (!cx_slice_eq(target, r->target))
            continue;
        for (size_t j = 0; j < r->nworkers && n < max; j++) {
            size_t k = 0;
            while (k < n && out[k] != r->workers[j])
                k++;
            if (k == n)
                out[n++] = r->workers[j];
        }
    }
    return n;
}

int cx_route_table_quarantined(const cx_route_table *self, cx_slice target)
{
    for (size_t i = 0; i < self->nrows; i++)
        if (self->rows[i].quarantined && cx_slice_eq(target, self->rows[i].target))
            return 1;
    return 0;
}

size_t cx_route_table_size(const cx_route_table *self)
{
    return self->nrows;
}

void cx_route_table_envelope(cx_route_table *self, cx_env *env)
{
    free(self->published);
    self->published = calloc(self->nrows + 1, sizeof(cx_env_route));
    size_t n = self->published ? self->nrows : 0;
    if (n > CX_PROTO_MAX_ROUTES)
        n = CX_PROTO_MAX_ROUTES;
    for (size_t i = 0; i < n; i++) {
        const row *r = &self->rows[i];
        self->published[i] = (cx_env_route) {
            .kind = r->kind, .pattern = cx_slice_of(r->pattern), .target = cx_slice_of(r->target),
            .spec = cx_slice_of(r->spec), .available = r->nworkers > 0 ? 1 : r->quarantined ? CX_ROUTE_QUARANTINED : 0,
        };
    }
    *env = (cx_env) { .type = CX_ENV_ROUTES, .routes = self->published, .nroutes = (uint32_t) n };
}
