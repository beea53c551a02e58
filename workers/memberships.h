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
 * Threading: link thread only. Group names are copied.
 */
#ifndef CX_WORKERS_MEMBERSHIPS_H
#define CX_WORKERS_MEMBERSHIPS_H

#include <stddef.h>
#include <stdint.h>
#include "proto/envelope.h"

typedef struct cx_memberships cx_memberships;

cx_memberships *cx_memberships_new(void);
void cx_memberships_destroy(cx_memberships **self_p);
/* conn joined group (len bytes, not NUL-terminated). -1 when out of memory (the join is not noted). */
int cx_memberships_join(cx_memberships *self, const char *group, size_t len, uint64_t conn);
void cx_memberships_leave(cx_memberships *self, const char *group, size_t len, uint64_t conn);
/* The connection ended: it leaves every group. */
void cx_memberships_forget(cx_memberships *self, uint64_t conn);
/* Calls fn once for each connection in any of the groups (once even when in several). fn must not
 * change the index. */
void cx_memberships_each(cx_memberships *self, const cx_slice *groups, size_t ngroups,
                         void (*fn)(uint64_t conn, void *arg), void *arg);
/* The groups conn is in (borrowed until the index changes); returns how many (RESUME lists them). */
size_t cx_memberships_names_of(const cx_memberships *self, uint64_t conn, char *const **names);

#endif
