/*
 * group_limits.c — group names and groups per connection (group_limits.h).
 * The name rule is the publish API's (common/publish.h), so a group a
 * consumer can join is a group the application can publish to.
 */
#include "workers/group_limits.h"
#include "common/log.h"
#include "common/publish.h"
#include "workers/context_internal.h"
#include "workers/ctx_log.h"
#include "workers/services.h"

#include <string.h>

static void refuse(const chanx_ctx *ctx, const char *group, const char *why)
{
    json_t *fields = cx_ctx_log_fields(ctx);
    json_object_set_new(fields, "group", json_stringn(group, strnlen(group, 120)));   /* the start of a huge one */
    json_object_set_new(fields, "why", json_string(why));
    cx_log_fields(CX_LOG_WARNING, "group refused", fields);
}

static int name_ok(const chanx_ctx *ctx, const char *group)
{
    if (cx_publish_group_name_ok(group))
        return 1;
    refuse(ctx, group, "a group name is ASCII letters, digits, hyphens, underscores and periods, under 100 "
                       "characters (Django Channels)");
    return 0;
}

int cx_group_join_allowed(const chanx_ctx *ctx, const char *group)
{
    if (!name_ok(ctx, group))
        return 0;
    if (ctx->ngroups < ctx->services->settings->max_groups_per_connection)
        return 1;
    refuse(ctx, group, "the connection is in CHANX_MAX_GROUPS_PER_CONNECTION groups already");
    return 0;
}

int cx_group_names_ok(const chanx_ctx *ctx, const char *const *groups)
{
    for (; groups && *groups; groups++)
        if (!name_ok(ctx, *groups))
            return 0;
    return 1;
}
