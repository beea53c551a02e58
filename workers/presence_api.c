/*
 * presence_api.c — chanx_group_presence and chanx_topic_presence: who is in
 * a group (or the running topic's group), asked from a consumer's callback
 * (include/chanx/consumer.h).
 *
 * The broker keeps presence (broker/presence.c), so the call sends PRESENCE
 * through the outbox and waits, on the connection's pool thread, for the
 * PRESENCE_RESULT the link thread hands to the answers table (answers.h),
 * like a database query waits for PostgreSQL. The answer is the one
 * POST /api/presence gives. Pool threads only: on the link thread the
 * answer could never arrive while it waits, so the call refuses (NULL).
 */
#include "workers/answers.h"
#include "workers/context_internal.h"
#include "workers/topics.h"
#include "common/log.h"

#include <string.h>

#define PRESENCE_TIMEOUT_MS 2000

json_t *chanx_group_presence(chanx_ctx *ctx, const char *group, int stats)
{
    cx_answers *answers = ctx ? ctx->services->answers : NULL;
    if (!answers || !group || !*group || strlen(group) > 255 || !cx_outbox_on_pool_thread())
        return NULL;
    uint64_t id = cx_answers_expect(answers);
    cx_env env = { .type = CX_ENV_PRESENCE, .request = id, .conn = ctx->conn, .group = cx_slice_of(group),
                   .target = stats ? CX_PRESENCE_STATS : CX_PRESENCE_USERS };
    if (!id || cx_outbox_send(ctx->services->outbox, &env) != 0) {
        json_decref(id ? cx_answers_wait(answers, id, 0) : NULL);
        return NULL;
    }
    json_t *answer = cx_answers_wait(answers, id, PRESENCE_TIMEOUT_MS);
    if (!answer)
        cx_warn("presence of %s: the broker did not answer within %d ms", group, PRESENCE_TIMEOUT_MS);
    return answer;
}

json_t *chanx_topic_presence(chanx_ctx *ctx, int stats)
{
    const char *group = ctx ? cx_topics_group_of(ctx, ctx->topic) : NULL;
    return group ? chanx_group_presence(ctx, group, stats) : NULL;
}
