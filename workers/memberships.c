/*
 * memberships.c — see memberships.h.
 *
 * Two maps: group name → the members' records (a czmq zhashx of cx_idmaps),
 * and conn id → its record, which lists the connection's groups so that its
 * end leaves them all. A group with no member left is freed at once, as is a
 * connection in no group, so the index never outgrows what is joined. Each
 * walk stamps the records it visits: a connection in several of an event's
 * groups gets one mail, without a set built per event.
 */
#include "workers/memberships.h"
#include "common/idmap.h"

#include <czmq.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint64_t conn;
    uint64_t stamp;    /* the last walk that visited it */
    char **groups;
    cx_membership_terms *terms;   /* each group's, in the same order */
    size_t ngroups;
} member;

struct cx_memberships {
    zhashx_t *groups;      /* name → cx_idmap (conn id → member) */
    cx_idmap *members;     /* conn id → member */
    uint64_t stamp;
};

static void group_free(void **item)
{
    cx_idmap_destroy((cx_idmap **) item);
}

cx_memberships *cx_memberships_new(void)
{
    cx_memberships *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->groups = zhashx_new();
    self->members = cx_idmap_new();
    if (!self->groups || !self->members) {
        cx_memberships_destroy(&self);
        return NULL;
    }
    zhashx_set_destructor(self->groups, group_free);
    return self;
}

static void member_free(member *m)
{
    for (size_t i = 0; i < m->ngroups; i++)
        free(m->groups[i]);
    free(m->groups);
    free(m->terms);
    free(m);
}

static void free_member(uint64_t id, void *value, void *arg)
{
    (void) id;
    (void) arg;
    member_free(value);
}

void cx_memberships_destroy(cx_memberships **self_p)
{
    if (!self_p || !*self_p)
        return;
    cx_memberships *self = *self_p;
    if (self->members)
        cx_idmap_foreach(self->members, free_member, NULL);
    cx_idmap_destroy(&self->members);
    zhashx_destroy(&self->groups);
    free(self);
    *self_p = NULL;
}

/* Takes conn out of the group's member map, freeing the map when it empties. */
static void group_remove(cx_memberships *self, const char *name, uint64_t conn)
{
    cx_idmap *members = zhashx_lookup(self->groups, name);
    if (members && cx_idmap_remove(members, conn) && cx_idmap_size(members) == 0)
        zhashx_delete(self->groups, name);
}

int cx_memberships_join(cx_memberships *self, const char *group, size_t len, uint64_t conn,
                        const cx_membership_terms *terms)
{
    static const cx_membership_terms NONE;
    char *name = cx_slice_dup(cx_slice_n(group, len));
    if (!name)
        return -1;
    member *m = cx_idmap_get(self->members, conn);
    for (size_t i = 0; m && i < m->ngroups; i++)
        if (strcmp(m->groups[i], name) == 0) {
            m->terms[i] = terms ? *terms : NONE;
            free(name);
            return 0;
        }
    if (!m) {
        if (!(m = calloc(1, sizeof *m)) || cx_idmap_put(self->members, conn, m) != 0) {
            free(m);
            free(name);
            return -1;
        }
        m->conn = conn;
    }
    cx_idmap *members = zhashx_lookup(self->groups, name);
    if (!members && (members = cx_idmap_new()) && zhashx_insert(self->groups, name, members) != 0)
        cx_idmap_destroy(&members);
    char **grown = members ? realloc(m->groups, (m->ngroups + 1) * sizeof *grown) : NULL;
    if (grown)
        m->groups = grown;
    cx_membership_terms *more = grown ? realloc(m->terms, (m->ngroups + 1) * sizeof *more) : NULL;
    if (more)
        m->terms = more;
    if (!more || cx_idmap_put(members, conn, m) != 0) {
        if (members && cx_idmap_size(members) == 0)
            zhashx_delete(self->groups, name);
        if (m->ngroups == 0) {
            cx_idmap_remove(self->members, conn);
            member_free(m);
        }
        free(name);
        return -1;
    }
    m->terms[m->ngroups] = terms ? *terms : NONE;
    m->groups[m->ngroups++] = name;
    return 0;
}

void cx_memberships_leave(cx_memberships *self, const char *group, size_t len, uint64_t conn)
{
    member *m = cx_idmap_get(self->members, conn);
    for (size_t i = 0; m && i < m->ngroups; i++) {
        if (!cx_slice_eq(cx_slice_n(group, len), m->groups[i]))
            continue;
        group_remove(self, m->groups[i], conn);
        free(m->groups[i]);
        m->terms[i] = m->terms[m->ngroups - 1];
        m->groups[i] = m->groups[--m->ngroups];
        if (m->ngroups == 0) {
            cx_idmap_remove(self->members, conn);
            member_free(m);
        }
        return;
    }
}

void cx_memberships_forget(cx_memberships *self, uint64_t conn)
{
    member *m = cx_idmap_remove(self->members, conn);
    if (!m)
        return;
    for (size_t i = 0; i < m->ngroups; i++)
        group_remove(self, m->groups[i], conn);
    member_free(m);
}

typedef struct {
    uint64_t stamp;
    void (*fn)(uint64_t conn, void *arg);
    void *arg;
} walk;

static void visit(uint64_t id, void *value, void *arg)
{
    walk *w = arg;
    member *m = value;
    if (m->stamp == w->stamp)
        return;   /* already reached through another of the event's groups */
    m->stamp = w->stamp;
    w->fn(id, w->arg);
}

void cx_memberships_each(cx_memberships *self, const cx_slice *groups, size_t ngroups,
                         void (*fn)(uint64_t conn, void *arg), void *arg)
{
    walk w = { ++self->stamp, fn, arg };
    for (size_t i = 0; i < ngroups; i++) {
        char *name = cx_slice_dup(groups[i]);
        cx_idmap *members = name ? zhashx_lookup(self->groups, name) : NULL;
        if (members)
            cx_idmap_foreach(members, visit, &w);
        free(name);
    }
}

size_t cx_memberships_names_of(const cx_memberships *self, uint64_t conn, char *const **names,
                               const cx_membership_terms **terms)
{
    member *m = cx_idmap_get(self->members, conn);
    *names = m ? m->groups : NULL;
    if (terms)
        *terms = m ? m->terms : NULL;
    return m ? m->ngroups : 0;
}
