/*
 * events.c — server-side events the gateway delivers itself (passthrough).
 *
 * An EVENT from the application names groups or one connection. A consumer
 * that lists the event's action in .passthrough_events wants it sent to its
 * clients as it is, so the gateway does that here, exactly as it fans out a
 * group message: one envelope from the broker, the per-member work spread
 * over gateways, no worker hop. Recipients whose consumer does not pass the
 * action through are the worker's business (receive_event, or a logged drop),
 * which gets the same EVENT from the broker; the gateway skips them.
 *
 * On a group with a history the broker stamps the EVENT with the group's
 * seq (broker/recovery.c): it goes out as the event's "seq" member, the
 * publisher's own seq (a topic broadcast's) replaced. A joiner's replay of a
 * held event (HISTORY with an action, upstream.c) is delivered here too, to
 * the same connections live delivery reaches.
 *
 * Which actions pass through comes from the consumer's spec in the route
 * table, held by each session, so a route table update never changes what
 * an existing connection's consumer does.
 */
#include "gateway/gateway_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    cx_gateway *gw;
    const cx_env *env;
} event_fanout;

/* The length of text (a JSON object) before its closing brace, without a last member "seq" the
 * publisher stamped (common/publish.c writes a topic broadcast's own seq last): on a group with a
 * history the broker's seq replaces it, so a client never reads two. */
static size_t body_without_caller_seq(const char *text, size_t len)
{
    static const char KEY[] = ",\"seq\":";
    size_t close = len - 1, start = close;
    while (start > 0 && text[start - 1] >= '0' && text[start - 1] <= '9')
        start--;
    if (start > 0 && text[start - 1] == '-')
        start--;
    if (start == close || start < sizeof KEY - 1 || memcmp(text + start - (sizeof KEY - 1), KEY, sizeof KEY - 1) != 0)
        return close;
    return start - (sizeof KEY - 1);
}

void cx_gw_deliver_event(cx_gateway *gw, cx_session *s, const cx_env *env)
{
    if (s->state != SESSION_CONNECTED || !cx_consumer_spec_passes(s->spec, env->action.ptr, env->action.len))
        return;
    if (!env->seq) {
        cx_gw_queue(gw, s, env->text.ptr, env->text.len, NULL, 0);
        return;
    }
    char suffix[40];
    int n = snprintf(suffix, sizeof suffix, ",\"seq\":%llu}", (unsigned long long) env->seq);
    cx_gw_queue(gw, s, env->text.ptr, body_without_caller_seq(env->text.ptr, env->text.len), suffix, (size_t) n);
}

static void deliver_member(uint64_t id, void *value, void *arg)
{
    event_fanout *f = arg;
    cx_session *s = value;
    (void) id;
    if (s->fanout_stamp == f->gw->fanout_stamp)
        return;   /* a member of two of the groups gets it once */
    s->fanout_stamp = f->gw->fanout_stamp;
    cx_gw_deliver_event(f->gw, s, f->env);
}

void cx_gw_on_event(cx_gateway *gw, const cx_env *env)
{
    if (env->text.len < 2 || env->text.ptr[0] != '{' || env->text.ptr[env->text.len - 1] != '}')
        return;   /* chanx-api sends only JSON objects; anything else is not for clients */
    if (env->target == CX_TARGET_CONNECTION) {
        cx_session *s = cx_idmap_get(gw->sessions, env->conn);
        if (s)
            cx_gw_deliver_event(gw, s, env);
        return;
    }
    event_fanout f = { gw, env };
    gw->fanout_stamp++;
    for (uint32_t i = 0; i < env->ngroups; i++) {
        char *key = cx_slice_dup(env->groups[i]);
        cx_idmap *members = key ? zhashx_lookup(gw->groups, key) : NULL;
        if (members)
            cx_idmap_foreach(members, deliver_member, &f);
        free(key);
    }
}
