/*
 * memberships.h — which of this worker's connections are in which groups,
 * as the link thread knows it.
 *
 * A consumer joins and leaves groups on its actor's thread (chanx_group_add,
 * chanx_group_discard, build_groups), and each change leaves for the broker
 * through the link thread as GROUP_ADD or GROUP_DISCARD. The link thread
 * notes each one here as it passes, so when the broker sends an EVENT for
 * groups the link thread posts mail only to their members instead of to
 * every actor. The index follows what the broker was told, in the same
 * order, so it is the broker's view of this worker's members: an event the
 * broker routed here because of a membership finds that membership here.
 * The actor still checks its own list when the mail runs (a leave it made
 * meanwhile wins).
 *
 * Each membership keeps the terms its GROUP_ADD carried (the group's history
 * and presence pushes: a topic's own, or the consumer's), so that a RESUME
 * to a restarted broker re-declares each group's history as it was joined
 * and a topic keeps recording from the restart, not from its next subscribe.
 *
 * Threading: link thread only. Group names are copied.
 */
#ifndef CX_WORKERS_MEMBERSHIPS_H
#define CX_WORKERS_MEMBERSHIPS_H

#include <stddef.h>
#include <stdint.h>
#include "proto/envelope.h"

typedef struct cx_memberships cx_memberships;

/* What a GROUP_ADD declared for its group: history_size, history_ttl_ms and flags as in proto/envelope.h
 * (0: no history; CX_HISTORY_DEFAULT: the broker's defaults; CX_GROUP_ADD_PRESENCE). */
typedef struct {
    uint32_t history_size, history_ttl_ms, flags;
} cx_membership_terms;

cx_memberships *cx_memberships_new(void);
void cx_memberships_destroy(cx_memberships **self_p);
/* conn joined group (len bytes, not NUL-terminated) on terms (copied; NULL: none; joined again: the new
 * terms). -1 when out of memory (the join is not noted). */
int cx_memberships_join(cx_memberships *self, const char *group, size_t len, uint64_t conn,
                        const cx_membership_terms *terms);
void cx_memberships_leave(cx_memberships *self, const char *group, size_t len, uint64_t conn);
/* The connection ended: it leaves every group. */
void cx_memberships_forget(cx_memberships *self, uint64_t conn);
/* Calls fn once for each connection in any of the groups (once even when in several). fn must not
 * change the index. */
void cx_memberships_each(cx_memberships *self, const cx_slice *groups, size_t ngroups,
                         void (*fn)(uint64_t conn, void *arg), void *arg);
/* The groups conn is in and the terms of each (both borrowed until the index changes); returns how many
 * (RESUME lists them). terms may be NULL. */
size_t cx_memberships_names_of(const cx_memberships *self, uint64_t conn, char *const **names,
                               const cx_membership_terms **terms);

#endif
