/*
 * groups.h — group membership, as the broker keeps it.
 *
 * A group send must cost the broker one envelope per gateway holding
 * members, not one per member, so each group counts its members per gateway
 * alongside the member set: GROUP_SEND looks only at the counts. The same
 * record counts them per worker too (an event to a group runs receive_event
 * once per worker holding members). The member set exists so that a
 * connection's groups can be left when it goes away, and for presence (each
 * connection also lists its groups, as the records a join returned, see
 * conns.c: a leave then looks nothing up by name).
 */
#ifndef CX_BROKER_GROUPS_H
#define CX_BROKER_GROUPS_H

#include <stddef.h>
#include <stdint.h>

typedef struct cx_groups cx_groups;
typedef struct cx_group cx_group;   /* one group's record: valid while it has members */

cx_groups *cx_groups_new(void);
void cx_groups_destroy(cx_groups **self_p);
/* Adds conn (living on gateway) to group; returns 1 if added, 0 if already a member, -1 on error (out of
 * memory, or conn 0). On 1 and 0, *out is the group's record, for the calls below: it stays valid while
 * conn is a member. */
int cx_groups_add(cx_groups *self, const char *group, uint64_t conn, void *gateway, cx_group **out);
/* Counts one member of g for worker (where receive_event runs): 0, or -1 when out of memory. The caller
 * keeps which of its members it counted (a member counts for one worker at most), and uncounts it, or
 * names the worker to cx_groups_leave. */
int cx_groups_count_worker(cx_group *g, void *worker);
void cx_groups_uncount_worker(cx_group *g, void *worker);
/* Removes conn (counted on gateway, and on worker unless NULL) from the group a join returned; nothing
 * when it is not a member. The group is freed when it has no member left: g is then invalid. */
void cx_groups_leave(cx_groups *self, cx_group *g, uint64_t conn, void *gateway, void *worker);
/* Hints for a caller about to leave several groups: load g's record, then (once it is loaded) conn's
 * slot in its member set, so that the cache misses of many leaves overlap. No effect on anything else. */
void cx_group_prefetch(const cx_group *g);
void cx_group_prefetch_member(const cx_group *g, uint64_t conn);
/* The group's name, owned by the record. */
const char *cx_group_name(const cx_group *g);
/* Calls fn once for each gateway holding members of any of the groups (deduplicated). */
void cx_groups_gateways(cx_groups *self, const char *const *groups, size_t ngroups,
                        void (*fn)(void *gateway, void *arg), void *arg);
/* The same for the workers the groups' members are counted on. */
void cx_groups_workers(cx_groups *self, const char *const *groups, size_t ngroups,
                       void (*fn)(void *worker, void *arg), void *arg);
size_t cx_groups_count(const cx_groups *self);
/* Distinct members of any of the groups (a connection in two of them counts once). */
size_t cx_groups_reach(cx_groups *self, const char *const *groups, size_t ngroups);
size_t cx_groups_members(cx_groups *self, const char *group);
/* Calls fn with each member's connection id (presence); nothing when the group has none. */
void cx_groups_each_member(cx_groups *self, const char *group, void (*fn)(uint64_t conn, void *arg), void *arg);
/* Members of all groups together (a connection in two groups counts twice). */
size_t cx_groups_memberships(const cx_groups *self);

#endif
