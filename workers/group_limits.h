/*
 * group_limits.h — which group names a consumer may use, and how many
 * groups one connection may join.
 *
 * Names follow Django Channels' rule (ASCII letters, digits, hyphens,
 * underscores and periods, under 100 characters): Channels refuses others,
 * and nothing bounded them here, so 500 KB names cost the broker, the worker
 * and the gateway hundreds of MB. One connection joins at most
 * CHANX_MAX_GROUPS_PER_CONNECTION groups (default 1000): each membership
 * costs all three processes memory, and a connection in a thousand groups
 * is already a design to reconsider. Both refusals make the API call
 * return CHANX_ERROR and leave a warning record naming the connection.
 */
#ifndef CX_WORKERS_GROUP_LIMITS_H
#define CX_WORKERS_GROUP_LIMITS_H

#include <chanx/consumer.h>

/* Whether ctx may join group (already a member or not: the caller checks that first). */
int cx_group_join_allowed(const chanx_ctx *ctx, const char *group);
/* Whether every name of a NULL-terminated list is a valid group name. */
int cx_group_names_ok(const chanx_ctx *ctx, const char *const *groups);

#endif
