/*
 * conn_groups.h — the groups each connection of this worker is in, as the
 * broker was told (GROUP_ADD / GROUP_DISCARD sent to the link), for RESUME.
 *
 * Link thread only: updated from the envelopes as they are handed to the
 * link (never from a chanx_ctx, which its pool thread may be changing), so
 * what a RESUME carries is exactly what was sent before it.
 */
#ifndef CX_WORKERS_CONN_GROUPS_H
#define CX_WORKERS_CONN_GROUPS_H

#include "proto/envelope.h"

#include <stddef.h>
#include <stdint.h>

typedef struct cx_conn_groups cx_conn_groups;

cx_conn_groups *cx_conn_groups_new(void);
void cx_conn_groups_destroy(cx_conn_groups **self_p);

/* A GROUP_ADD or GROUP_DISCARD on its way to the broker (any other type is ignored). */
void cx_conn_groups_apply(cx_conn_groups *self, const cx_env *env);
/* The same, from the encoded envelope (what a pool thread queued). */
void cx_conn_groups_apply_encoded(cx_conn_groups *self, const void *data, size_t len);
/* The connection ended. */
void cx_conn_groups_forget(cx_conn_groups *self, uint64_t conn);
/* Its groups (borrowed until the next call that changes them); returns how many. */
size_t cx_conn_groups_of(const cx_conn_groups *self, uint64_t conn, char *const **names);

#endif
