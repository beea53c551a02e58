/*
 * groups.c — group name → members and per-gateway member counts.
 *
 * Groups are in a czmq zhashx keyed by name. Per-gateway counts are a small
 * array: a deployment has a handful of gateways, so a linear scan beats any
 * map and keeps GROUP_SEND's work proportional to gateways, never members.
 *
 * A join hands back the group's record (cx_group), which lives as long as it
 * has members, and a leave takes that record: a connection keeps its groups
 * as records, so a disconnect looks no group up by name (hashing a name
 * and freeing a copy of it were most of a disconnect's cost, and a lost
 * gateway ends its connections by the thousand). The table's key is the
 * record's own name: one copy per group, none per membership.
 */
#include "broker/groups.h"
#include "common/idmap.h"

#include <czmq.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    void *gateway;
    size_t members;
} gateway_count;

struct cx_group {
    char *name;               /* the table's key (not duplicated by it) */
    cx_idmap *members;        /* conn id → gateway */
    gateway_count *gateways;
    size_t ngateways;
};
typedef cx_group group;

struct cx_groups {
    zhashx_t *by_name;
    size_t memberships;   /* members of all groups, for metrics */
};

static void group_free(void **item)
{
    group *g = *item;
    if (!g)
        return;
    cx_idmap_destroy(&g->members);
    free(g->gateways);
    free(g->name);
    free(g);
    *item = NULL;
}

cx_groups *cx_groups_new(void)
{
    cx_groups *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    if (!(self->by_name = zhashx_new())) {
        free(self);
        return NULL;
    }
    zhashx_set_destructor(self->by_name, group_free);
    zhashx_set_key_duplicator(self->by_name, NULL);   /* the key is the record's name */
    zhashx_set_key_destructor(self->by_name, NULL);
    return self;
}

void cx_groups_destroy(cx_groups **self_p)
{
    if (!self_p || !*self_p)
        return;
    zhashx_destroy(&(*self_p)->by_name);
    free(*self_p);
    *self_p = NULL;
}

static gateway_count *find_gateway(group *g, void *gateway)
{
    for (size_t i = 0; i < g->ngateways; i++)
        if (g->gateways[i].gateway == gateway)
            return &g->gateways[i];
    return NULL;
}

static int count_gateway(group *g, void *gateway)
{
    gateway_count *gc = find_gateway(g, gateway);
    if (gc) {
        gc->members++;
        return 0;
    }
    gateway_count *grown = realloc(g->gateways, (g->ngateways + 1) * sizeof *grown);
    if (!grown)
        return -1;
    g->gateways = grown;
    g->gateways[g->ngateways++] = (gateway_count) { gateway, 1 };
    return 0;
}

static void uncount_gateway(group *g, void *gateway)
{
    gateway_count *gc = find_gateway(g, gateway);
    if (gc && --gc->members == 0)
        *gc = g->gateways[--g->ngateways];
}

/* The group's record, created empty when there is none (NULL when out of memory). */
static group *group_of(cx_groups *self, const char *name)
{
    group *g = zhashx_lookup(self->by_name, name);
    if (g)
        return g;
    if (!(g = calloc(1, sizeof *g)) || !(g->members = cx_idmap_new()) || !(g->name = strdup(name))
        || zhashx_insert(self->by_name, g->name, g) != 0) {
        if (g)
            cx_idmap_destroy(&g->members);
        free(g ? g->name : NULL);
        free(g);
        return NULL;
    }
    return g;
}

/* An empty group goes (its name is hashed once more, per group, not per membership). */
static void drop_if_empty(cx_groups *self, group *g)
{
    if (cx_idmap_size(g->members) == 0)
        zhashx_delete(self->by_name, g->name);
}

int cx_groups_add(cx_groups *self, const char *name, uint64_t conn, void *gateway, cx_group **out)
{
    group *g = group_of(self, name);
    if (!g)
        return -1;
    if (cx_idmap_get(g->members, conn)) {
        *out = g;
        return 0;
    }
    if (cx_idmap_put(g->members, conn, gateway) || count_gateway(g, gateway)) {
        cx_idmap_remove(g->members, conn);
        drop_if_empty(self, g);
        return -1;
    }
    self->memberships++;
    *out = g;
    return 1;
}

void cx_groups_leave(cx_groups *self, cx_group *g, uint64_t conn, void *gateway)
{
    if (!cx_idmap_remove(g->members, conn))
        return;
    uncount_gateway(g, gateway);
    self->memberships--;
    drop_if_empty(self, g);
}

const char *cx_group_name(const cx_group *g)
{
    return g->name;
}

void cx_groups_gateways(cx_groups *self, const char *const *names, size_t nnames,
                        void (*fn)(void *gateway, void *arg), void *arg)
{
    void *seen[64];
    size_t nseen = 0;
    for (size_t i = 0; i < nnames; i++) {
        group *g = zhashx_lookup(self->by_name, names[i]);
        for (size_t j = 0; g && j < g->ngateways; j++) {
            void *gw = g->gateways[j].gateway;
            size_t k = 0;
            while (k < nseen && seen[k] != gw)
                k++;
            if (k < nseen)
                continue;
            if (nseen < sizeof seen / sizeof seen[0])
                seen[nseen++] = gw;
            fn(gw, arg);
        }
    }
}

size_t cx_groups_count(const cx_groups *self)
{
    return zhashx_size(self->by_name);
}

size_t cx_groups_memberships(const cx_groups *self)
{
    return self->memberships;
}

size_t cx_groups_members(cx_groups *self, const char *name)
{
    group *g = zhashx_lookup(self->by_name, name);
    return g ? cx_idmap_size(g->members) : 0;
}

static void mark(uint64_t id, void *value, void *arg)
{
    (void) value;
    cx_idmap_put(arg, id, arg);
}

size_t cx_groups_reach(cx_groups *self, const char *const *names, size_t nnames)
{
    if (nnames == 1)
        return cx_groups_members(self, names[0]);
    cx_idmap *seen = cx_idmap_new();
    for (size_t i = 0; seen && i < nnames; i++) {
        group *g = zhashx_lookup(self->by_name, names[i]);
        if (g)
            cx_idmap_foreach(g->members, mark, seen);
    }
    size_t n = seen ? cx_idmap_size(seen) : 0;
    cx_idmap_destroy(&seen);
    return n;
}

typedef struct {
    void (*fn)(uint64_t conn, void *arg);
    void *arg;
} member_visit;

static void visit_member(uint64_t id, void *value, void *arg)
{
    (void) value;
    member_visit *v = arg;
    v->fn(id, v->arg);
}

void cx_groups_each_member(cx_groups *self, const char *name, void (*fn)(uint64_t conn, void *arg), void *arg)
{
    group *g = zhashx_lookup(self->by_name, name);
    member_visit v = { fn, arg };
    if (g)
        cx_idmap_foreach(g->members, visit_member, &v);
}
